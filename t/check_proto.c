/* SPDX-License-Identifier: MIT */
/*
 * check_proto.c: unit tests of the supervisor <-> worker records: round
 * trips with and without a passed descriptor, and refusal of records of
 * the wrong size, an unknown type, unterminated strings, or a descriptor
 * beside a record that may not carry one.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "proto.h"

static int sp[2];

static void
setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
}

static void
teardown(void)
{
	close(sp[0]);
	close(sp[1]);
}

START_TEST(test_job_with_fd)
{
	union proto_msg out, in;
	int pipefd[2], fd;
	char c;

	ck_assert_int_eq(pipe(pipefd), 0);
	proto_init(&out, PROTO_JOB, 7, 42);
	strcpy(out.job.peer, "127.0.0.1:5555");
	out.job.route = 3;
	out.job.prefix_len = 5;
	memcpy(out.job.prefix, "POST ", 5);
	ck_assert_int_eq(proto_send(sp[0], &out, pipefd[0]), 0);
	ck_assert_int_eq(proto_recv(sp[1], &in, &fd), 1);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_eq(in.hdr.type, PROTO_JOB);
	ck_assert_uint_eq(in.hdr.generation, 7);
	ck_assert_uint_eq(in.hdr.job_id, 42);
	ck_assert_str_eq(in.job.peer, "127.0.0.1:5555");
	ck_assert_uint_eq(in.job.route, 3);
	ck_assert_int_eq(in.job.prefix_len, 5);
	/* the passed descriptor is the pipe's read end */
	ck_assert_int_eq(write(pipefd[1], "x", 1), 1);
	ck_assert_int_eq(read(fd, &c, 1), 1);
	ck_assert_int_eq(c, 'x');
	close(fd);
	close(pipefd[0]);
	close(pipefd[1]);
}
END_TEST

START_TEST(test_every_type_round_trips)
{
	for (uint32_t t = PROTO_READY; proto_size(t) != 0; t++) {
		union proto_msg out, in;
		int fd;

		proto_init(&out, t, 3, 9);
		ck_assert_int_eq(proto_send(sp[0], &out, -1), 0);
		ck_assert_int_eq(proto_recv(sp[1], &in, &fd), 1);
		ck_assert_uint_eq(in.hdr.type, t);
		ck_assert_int_eq(fd, -1);
	}
}
END_TEST

START_TEST(test_wrong_size)
{
	union proto_msg out, in;
	int fd;

	proto_init(&out, PROTO_DONE, 1, 1);
	out.hdr.size = sizeof(struct proto_hdr) + 2;
	ck_assert_int_eq(send(sp[0], &out, out.hdr.size, 0), (ssize_t)out.hdr.size);
	ck_assert_int_eq(proto_recv(sp[1], &in, &fd), -1);
	ck_assert_int_eq(errno, EPROTO);
}
END_TEST

START_TEST(test_unknown_type)
{
	union proto_msg out, in;
	int fd;

	proto_init(&out, PROTO_DONE, 1, 1);
	out.hdr.type = 999;
	ck_assert_int_eq(send(sp[0], &out, sizeof(struct proto_done), 0),
			 (ssize_t)sizeof(struct proto_done));
	ck_assert_int_eq(proto_recv(sp[1], &in, &fd), -1);
}
END_TEST

START_TEST(test_short_header)
{
	union proto_msg in;
	int fd;

	ck_assert_int_eq(send(sp[0], "abc", 3, 0), 3);
	ck_assert_int_eq(proto_recv(sp[1], &in, &fd), -1);
}
END_TEST

START_TEST(test_unterminated_string)
{
	union proto_msg out, in;
	int fd;

	proto_init(&out, PROTO_PROGRESS, 1, 1);
	memset(out.progress.text, 'A', sizeof(out.progress.text));
	ck_assert_int_eq(proto_send(sp[0], &out, -1), 0);
	ck_assert_int_eq(proto_recv(sp[1], &in, &fd), -1);
}
END_TEST

START_TEST(test_audit_length)
{
	union proto_msg out, in;
	int fd;

	size_t fixed = offsetof(struct proto_audit, json);

	/* the sender refuses a length its record cannot hold... */
	proto_init(&out, PROTO_AUDIT, 1, 1);
	out.audit.len = PROTO_AUDIT_MAX;
	ck_assert_int_eq(proto_send(sp[0], &out, -1), -1);
	/* ...and the receiver one that does not match what arrived */
	strcpy(out.audit.json, "{}");
	out.audit.len = 5;
	out.hdr.size = (uint32_t)(fixed + 3);
	ck_assert_int_eq(send(sp[0], &out, fixed + 3, 0), (ssize_t)(fixed + 3));
	ck_assert_int_eq(proto_recv(sp[1], &in, &fd), -1);
	out.audit.len = PROTO_AUDIT_MAX;
	ck_assert_int_eq(send(sp[0], &out, fixed + 3, 0), (ssize_t)(fixed + 3));
	ck_assert_int_eq(proto_recv(sp[1], &in, &fd), -1);
	proto_init(&out, PROTO_AUDIT, 1, 1);
	strcpy(out.audit.json, "{}");
	out.audit.len = 2;
	ck_assert_int_eq(proto_send(sp[0], &out, -1), 0);
	ck_assert_int_eq(proto_recv(sp[1], &in, &fd), 1);
	ck_assert_str_eq(in.audit.json, "{}");
}
END_TEST

/* Only the used part of a job's prefix goes on the wire, and a record
 * whose prefix length disagrees with its size is refused. */
START_TEST(test_job_prefix_length)
{
	union proto_msg out, in;
	size_t fixed = offsetof(struct proto_job, prefix);
	int fd;

	proto_init(&out, PROTO_JOB, 1, 7);
	memcpy(out.job.prefix, "POST / HTTP/1.1\r\n", 17);
	out.job.prefix_len = 17;
	ck_assert_int_eq(proto_send(sp[0], &out, -1), 0);
	ck_assert_int_eq(recv(sp[1], &in, sizeof(in), MSG_PEEK), (ssize_t)(fixed + 17));
	ck_assert_int_eq(proto_recv(sp[1], &in, &fd), 1);
	ck_assert_uint_eq(in.job.prefix_len, 17);
	ck_assert_int_eq(memcmp(in.job.prefix, "POST / HTTP/1.1\r\n", 17), 0);
	ck_assert_uint_eq(in.job.hdr.job_id, 7);
	out.hdr.size = (uint32_t)(fixed + 10);
	ck_assert_int_eq(send(sp[0], &out, fixed + 10, 0), (ssize_t)(fixed + 10));
	ck_assert_int_eq(proto_recv(sp[1], &in, &fd), -1);
	out.job.prefix_len = PROTO_PREFIX_MAX + 1;
	ck_assert_int_eq(proto_send(sp[0], &out, -1), -1);
}
END_TEST

START_TEST(test_fd_on_wrong_type)
{
	union proto_msg out, in;
	int fd, devnull = open("/dev/null", O_RDONLY);

	proto_init(&out, PROTO_DONE, 1, 1);
	ck_assert_int_eq(proto_send(sp[0], &out, devnull), 0);
	ck_assert_int_eq(proto_recv(sp[1], &in, &fd), -1);
	ck_assert_int_eq(fd, -1);
	close(devnull);
}
END_TEST

START_TEST(test_eof)
{
	union proto_msg in;
	int fd;

	close(sp[0]);
	sp[0] = open("/dev/null", O_RDONLY);
	ck_assert_int_eq(proto_recv(sp[1], &in, &fd), 0);
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("proto");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_job_with_fd);
	tcase_add_test(tc, test_every_type_round_trips);
	tcase_add_test(tc, test_wrong_size);
	tcase_add_test(tc, test_unknown_type);
	tcase_add_test(tc, test_short_header);
	tcase_add_test(tc, test_unterminated_string);
	tcase_add_test(tc, test_audit_length);
	tcase_add_test(tc, test_job_prefix_length);
	tcase_add_test(tc, test_fd_on_wrong_type);
	tcase_add_test(tc, test_eof);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = proto_suite);
