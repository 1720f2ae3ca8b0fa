/* SPDX-License-Identifier: MIT */
/*
 * check_records.c: unit tests of the record table (src/records.c): the
 * sequences a real worker sends are accepted, and each record out of its
 * place is refused (a second READY or RESPONDING, DONE before RESPONDING,
 * STARTED, PROGRESS or AUDIT after it, job records while idle or for
 * another job, a wrong generation, a JOB or unknown type from a worker).
 * Also the route a job record carries (route.h) names the signer of its
 * path.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "proto.h"
#include "records.h"
#include "route.h"
#include "signer.h"

#define GEN 7

static struct record_state st;
static char why[96];

static void
setup(void)
{
	memset(&st, 0, sizeof(st));
	st.phase = RECORD_STARTING;
	st.generation = GEN;
}

static struct proto_hdr
hdr(uint32_t type, uint64_t job_id)
{
	struct proto_hdr h = {.type = type, .generation = GEN, .job_id = job_id};

	return h;
}

/* Send type for job_id: 0 if the table took it (and st moved on), -1 if not. */
static int
send_record(uint32_t type, uint64_t job_id)
{
	struct proto_hdr h = hdr(type, job_id);

	why[0] = '\0';
	if (record_check(&st, &h, why, sizeof(why)) < 0)
		return -1;
	record_taken(&st, type);
	return 0;
}

/* Send each of the types for job_id in turn: each must be taken (want 0)
 * or refused (want -1). */
static void
expect_records(uint64_t job_id, int want, const uint32_t *types, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(send_record(types[i], job_id) == want,
			      "type %u for job %llu: expected %d (%s)", types[i],
			      (unsigned long long)job_id, want, why);
}

#define RECORDS_(job_id, want, ...)                                                                \
	expect_records(job_id, want, (const uint32_t[]){__VA_ARGS__},                              \
		       sizeof((const uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t))
#define TAKES(job_id, ...) RECORDS_(job_id, 0, __VA_ARGS__)
#define REFUSES(job_id, ...) RECORDS_(job_id, -1, __VA_ARGS__)

/* A worker that is ready and has been handed job 5. */
static void
in_job(void)
{
	ck_assert_int_eq(send_record(PROTO_READY, 0), 0);
	ck_assert_int_eq(st.phase, RECORD_IDLE);
	record_job(&st, 5);
	ck_assert_int_eq(st.phase, RECORD_JOB);
}

START_TEST(test_full_job)
{
	in_job();
	ck_assert_int_eq(send_record(PROTO_STARTED, 5), 0);
	ck_assert_int_eq(st.phase, RECORD_STARTED);
	ck_assert_int_eq(send_record(PROTO_STARTED, 5), 0); /* the selector, later */
	TAKES(5, PROTO_PROGRESS, PROTO_AUDIT, PROTO_PROGRESS, PROTO_AUDIT, PROTO_STARTED,
	      PROTO_RESPONDING);
	ck_assert_int_eq(st.phase, RECORD_RESPONDING);
	ck_assert(record_busy(st.phase));
	ck_assert_int_eq(send_record(PROTO_DONE, 5), 0);
	ck_assert_int_eq(st.phase, RECORD_IDLE);
	ck_assert(!record_busy(st.phase));
	/* and the next job, with the same once-per-job records */
	record_job(&st, 6);
	TAKES(6, PROTO_STARTED, PROTO_RESPONDING, PROTO_DONE);
}
END_TEST

/* A request refused before its head was read: no STARTED. */
START_TEST(test_refused_before_started)
{
	in_job();
	TAKES(5, PROTO_RESPONDING, PROTO_DONE);
	ck_assert_int_eq(st.phase, RECORD_IDLE);
}
END_TEST

START_TEST(test_ready_twice)
{
	ck_assert_int_eq(send_record(PROTO_READY, 0), 0);
	ck_assert_int_eq(send_record(PROTO_READY, 0), -1);
	ck_assert_str_eq(why, "READY twice");
	record_job(&st, 5);
	ck_assert_int_eq(send_record(PROTO_READY, 0), -1);
}
END_TEST

/* A worker told to exit while it was starting may still say READY, once;
 * it stays exiting. */
START_TEST(test_ready_while_exiting)
{
	st.phase = RECORD_EXITING;
	ck_assert_int_eq(send_record(PROTO_READY, 0), 0);
	ck_assert_int_eq(st.phase, RECORD_EXITING);
	REFUSES(0, PROTO_READY, PROTO_STARTED);
}
END_TEST

START_TEST(test_responding_twice)
{
	in_job();
	TAKES(5, PROTO_STARTED, PROTO_RESPONDING);
	ck_assert_int_eq(send_record(PROTO_RESPONDING, 5), -1);
	ck_assert_str_eq(why, "RESPONDING twice");
}
END_TEST

START_TEST(test_done_without_responding)
{
	in_job();
	ck_assert_int_eq(send_record(PROTO_DONE, 5), -1);
	ck_assert_int_eq(send_record(PROTO_STARTED, 5), 0);
	ck_assert_int_eq(send_record(PROTO_DONE, 5), -1);
	ck_assert_ptr_nonnull(strstr(why, "DONE while"));
}
END_TEST

START_TEST(test_done_twice)
{
	in_job();
	TAKES(5, PROTO_RESPONDING, PROTO_DONE);
	ck_assert_int_eq(send_record(PROTO_DONE, 5), -1);
}
END_TEST

START_TEST(test_nothing_after_responding)
{
	static const uint32_t late[] = {PROTO_STARTED, PROTO_PROGRESS, PROTO_AUDIT};

	for (size_t i = 0; i < sizeof(late) / sizeof(late[0]); i++) {
		setup();
		in_job();
		ck_assert_int_eq(send_record(PROTO_STARTED, 5), 0);
		ck_assert_int_eq(send_record(PROTO_RESPONDING, 5), 0);
		ck_assert_msg(send_record(late[i], 5) == -1, "type %u after RESPONDING", late[i]);
	}
}
END_TEST

/* PROGRESS and AUDIT come from a signer, which runs after STARTED. */
START_TEST(test_progress_before_started)
{
	in_job();
	REFUSES(5, PROTO_PROGRESS, PROTO_AUDIT);
}
END_TEST

START_TEST(test_job_records_while_idle)
{
	static const uint32_t job[] = {PROTO_STARTED, PROTO_PROGRESS, PROTO_RESPONDING, PROTO_DONE,
				       PROTO_AUDIT};

	ck_assert_int_eq(send_record(PROTO_READY, 0), 0);
	for (size_t i = 0; i < sizeof(job) / sizeof(job[0]); i++) {
		ck_assert_msg(send_record(job[i], 0) == -1, "type %u while idle", job[i]);
		ck_assert_msg(send_record(job[i], 5) == -1, "type %u while idle", job[i]);
	}
	setup();
	for (size_t i = 0; i < sizeof(job) / sizeof(job[0]); i++)
		ck_assert_msg(send_record(job[i], 0) == -1, "type %u while starting", job[i]);
}
END_TEST

START_TEST(test_other_job)
{
	in_job();
	ck_assert_int_eq(send_record(PROTO_STARTED, 4), -1);
	ck_assert_str_eq(why, "record for a job it does not have");
	ck_assert_int_eq(send_record(PROTO_RESPONDING, 6), -1);
}
END_TEST

START_TEST(test_wrong_generation)
{
	struct proto_hdr h = hdr(PROTO_READY, 0);

	h.generation = GEN + 1;
	ck_assert_int_eq(record_check(&st, &h, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "record with a wrong generation");
}
END_TEST

START_TEST(test_not_from_a_worker)
{
	in_job();
	REFUSES(5, PROTO_JOB, 999, 0);
}
END_TEST

/* A refused record changes nothing. */
START_TEST(test_refusal_changes_nothing)
{
	struct record_state before;
	struct proto_hdr h = hdr(PROTO_DONE, 5);

	in_job();
	before = st;
	ck_assert_int_eq(record_check(&st, &h, why, sizeof(why)), -1);
	ck_assert_mem_eq(&st, &before, sizeof(st));
}
END_TEST

/* The supervisor routes on the path; the index it sends is the signer of
 * that path in the worker. */
START_TEST(test_routes_name_their_signer)
{
	static const char *const paths[] = {"/sign/swupdate",	   "/sign/modules",
					    "/sign/mender",	   "/sign/tegra",
					    "/sign/fitimage",	   "/sign/optee",
					    "/sign/tegra/ueficapsule", "/sign/tegra/ekb",
					    "/sign/tegra/uefi",	   "/sign/rk",
					    "/sign/rkoptee-tee",   "/sign/rkoptee-ta",
					    "/sign/imx"};
	const unsigned n = sizeof(paths) / sizeof(paths[0]);

	for (size_t i = 0; i < n; i++) {
		int r = route_find(paths[i]);

		ck_assert_int_ge(r, 0);
		ck_assert_ptr_nonnull(signer_at((unsigned)r));
		ck_assert_str_eq(signer_at((unsigned)r)->path, paths[i]);
	}
	ck_assert_int_eq(route_find("/sign/nothing"), -1);
	ck_assert_int_eq(route_find("/sign/%6Dodules"), -1);
	ck_assert_int_eq(route_find("/status"), -1);
	/* every route is one of these: a new signer is listed here too */
	for (unsigned r = 0; r < n; r++)
		ck_assert_ptr_nonnull(signer_at(r));
	ck_assert_ptr_null(signer_at(n));
	ck_assert_ptr_null(signer_at(~0U));
}
END_TEST

static Suite *
records_suite(void)
{
	Suite *s = suite_create("records");
	TCase *tc = tcase_create("records");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_full_job);
	tcase_add_test(tc, test_refused_before_started);
	tcase_add_test(tc, test_ready_twice);
	tcase_add_test(tc, test_ready_while_exiting);
	tcase_add_test(tc, test_responding_twice);
	tcase_add_test(tc, test_done_without_responding);
	tcase_add_test(tc, test_done_twice);
	tcase_add_test(tc, test_nothing_after_responding);
	tcase_add_test(tc, test_progress_before_started);
	tcase_add_test(tc, test_job_records_while_idle);
	tcase_add_test(tc, test_other_job);
	tcase_add_test(tc, test_wrong_generation);
	tcase_add_test(tc, test_not_from_a_worker);
	tcase_add_test(tc, test_refusal_changes_nothing);
	tcase_add_test(tc, test_routes_name_their_signer);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = records_suite);
