/* SPDX-License-Identifier: MIT */
/*
 * check_queue.c: unit tests of the supervisor's queue (src/queue.c),
 * without an event loop: first come first served, the limit, removal
 * from anywhere (a client that left, a wait that expired), and an item
 * never in the queue twice.
 */
#include <check.h>

#include "check_main.h"
#include "queue.h"

static struct queue q;
static struct queue_item items[4];
static int owners[4];

static void
setup(void)
{
	queue_init(&q);
	for (int i = 0; i < 4; i++) {
		items[i] = (struct queue_item){0};
		owners[i] = i;
	}
}

START_TEST(test_empty)
{
	ck_assert_uint_eq(queue_length(&q), 0);
	ck_assert_ptr_null(queue_pop(&q));
	ck_assert(!queue_queued(&items[0]));
	queue_remove(&q, &items[0]); /* not queued: nothing */
	ck_assert_uint_eq(queue_length(&q), 0);
}
END_TEST

START_TEST(test_first_come_first_served)
{
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(queue_push(&q, &items[i], &owners[i], 64), 0);
	ck_assert_uint_eq(queue_length(&q), 4);
	for (int i = 0; i < 4; i++) {
		ck_assert(queue_queued(&items[i]));
		ck_assert_ptr_eq(queue_pop(&q), &owners[i]);
		ck_assert(!queue_queued(&items[i]));
	}
	ck_assert_ptr_null(queue_pop(&q));
	ck_assert_uint_eq(queue_length(&q), 0);
}
END_TEST

START_TEST(test_limit)
{
	ck_assert_int_eq(queue_push(&q, &items[0], &owners[0], 2), 0);
	ck_assert_int_eq(queue_push(&q, &items[1], &owners[1], 2), 0);
	ck_assert_int_eq(queue_push(&q, &items[2], &owners[2], 2), -1);
	ck_assert(!queue_queued(&items[2]));
	ck_assert_uint_eq(queue_length(&q), 2);
	/* a limit of 0 (QUEUE_MAX=0) queues nothing */
	setup();
	ck_assert_int_eq(queue_push(&q, &items[0], &owners[0], 0), -1);
	ck_assert_uint_eq(queue_length(&q), 0);
}
END_TEST

START_TEST(test_remove_anywhere)
{
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(queue_push(&q, &items[i], &owners[i], 64), 0);
	queue_remove(&q, &items[1]); /* the middle */
	queue_remove(&q, &items[3]); /* the tail */
	queue_remove(&q, &items[3]); /* twice: nothing */
	ck_assert_uint_eq(queue_length(&q), 2);
	ck_assert_ptr_eq(queue_pop(&q), &owners[0]);
	ck_assert_ptr_eq(queue_pop(&q), &owners[2]);
	ck_assert_ptr_null(queue_pop(&q));
	/* the head, then push again: it goes to the end */
	setup();
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(queue_push(&q, &items[i], &owners[i], 64), 0);
	queue_remove(&q, &items[0]);
	ck_assert_int_eq(queue_push(&q, &items[0], &owners[0], 64), 0);
	ck_assert_ptr_eq(queue_pop(&q), &owners[1]);
	ck_assert_ptr_eq(queue_pop(&q), &owners[2]);
	ck_assert_ptr_eq(queue_pop(&q), &owners[0]);
}
END_TEST

START_TEST(test_no_double_push)
{
	ck_assert_int_eq(queue_push(&q, &items[0], &owners[0], 64), 0);
	ck_assert_int_eq(queue_push(&q, &items[0], &owners[0], 64), -1);
	ck_assert_uint_eq(queue_length(&q), 1);
	ck_assert_ptr_eq(queue_pop(&q), &owners[0]);
	ck_assert_ptr_null(queue_pop(&q));
}
END_TEST

static Suite *
queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("queue");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_first_come_first_served);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_remove_anywhere);
	tcase_add_test(tc, test_no_double_push);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = queue_suite);
