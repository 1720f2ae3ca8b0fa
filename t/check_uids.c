/* SPDX-License-Identifier: MIT */
/*
 * check_uids.c: unit tests of the workers' own user ids (src/uids.c):
 * none without a range; ids handed out in turn, each held until given
 * back; none when every one is held; a pending fork's id comes back when
 * the fork fails or its spawner is lost, and goes to the worker when it
 * is born.
 */
#include <check.h>

#include "check_main.h"
#include "uids.h"

START_TEST(test_no_range)
{
	uids_init(0, 0);
	ck_assert_int_eq(uids_take(), 0);
	ck_assert_int_eq(uids_take(), 0);
	uids_pending(1, 0, 0);
	ck_assert_uint_eq(uids_born(1), 0);
	ck_assert_uint_eq(uids_held(), 0);
}
END_TEST

START_TEST(test_in_turn)
{
	uids_init(60000, 4);
	ck_assert_int_eq(uids_take(), 60000);
	ck_assert_int_eq(uids_take(), 60001);
	uids_give(60000);
	/* the freed id comes back last, not next */
	ck_assert_int_eq(uids_take(), 60002);
	ck_assert_int_eq(uids_take(), 60003);
	ck_assert_int_eq(uids_take(), 60000);
	ck_assert_uint_eq(uids_held(), 4);
	ck_assert_int_eq(uids_take(), -1); /* every one held */
	uids_give(60002);
	ck_assert_int_eq(uids_take(), 60002);
	/* ids outside the range, 0 and ids not held change nothing */
	uids_give(0);
	uids_give(59999);
	uids_give(60004);
	ck_assert_uint_eq(uids_held(), 4);
	uids_give(60001);
	uids_give(60001);
	ck_assert_uint_eq(uids_held(), 3);
}
END_TEST

START_TEST(test_pending)
{
	int64_t a, b, c;

	uids_init(70000, 8);
	a = uids_take();
	b = uids_take();
	c = uids_take();
	uids_pending(10, (uid_t)a, 1);
	uids_pending(11, (uid_t)b, 2);
	uids_pending(12, (uid_t)c, 2);
	/* born: the worker has the id, still held */
	ck_assert_uint_eq(uids_born(10), (uid_t)a);
	ck_assert_uint_eq(uids_born(10), 0);
	ck_assert_uint_eq(uids_held(), 3);
	/* a failed fork gives its id back */
	uids_failed(11);
	ck_assert_uint_eq(uids_held(), 2);
	uids_failed(11);
	ck_assert_uint_eq(uids_held(), 2);
	/* a lost spawner gives back the ids of its pending forks only */
	uids_lost(1);
	ck_assert_uint_eq(uids_held(), 2);
	uids_lost(2);
	ck_assert_uint_eq(uids_held(), 1);
	ck_assert_uint_eq(uids_born(12), 0);
	uids_give((uid_t)a);
	ck_assert_uint_eq(uids_held(), 0);
}
END_TEST

static Suite *
uids_suite(void)
{
	Suite *s = suite_create("uids");
	TCase *tc = tcase_create("uids");

	tcase_add_test(tc, test_no_range);
	tcase_add_test(tc, test_in_turn);
	tcase_add_test(tc, test_pending);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = uids_suite);
