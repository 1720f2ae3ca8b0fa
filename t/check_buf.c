/* SPDX-License-Identifier: MIT */
/*
 * check_buf.c: unit tests of lib/buf.c: a buf keeps its bytes
 * NUL-terminated, never grows past its max (a refused append changes
 * nothing), and hands its data over; a strv stays NULL-terminated, sorts
 * and finds.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "buf.h"

START_TEST(test_append_grows)
{
	struct buf b;
	char chunk[100];

	buf_init(&b, BUF_UNLIMITED, 0);
	ck_assert_ptr_null(b.data);
	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(buf_append(&b, chunk, sizeof(chunk)), 0);
	ck_assert_uint_eq(b.len, 100000);
	ck_assert_uint_ge(b.cap, b.len + 1);
	ck_assert_int_eq(b.data[b.len], '\0');
	ck_assert_int_eq(b.data[0], 'x');
	ck_assert_int_eq(b.data[99999], 'x');
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(test_binary_bytes)
{
	struct buf b;
	static const unsigned char bytes[] = {0, 1, 0, 255, 0};

	buf_init(&b, 16, 1);
	ck_assert_int_eq(buf_append(&b, bytes, sizeof(bytes)), 0);
	ck_assert_int_eq(buf_append(&b, bytes, sizeof(bytes)), 0);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_int_eq(memcmp(b.data + 5, bytes, sizeof(bytes)), 0);
	/* a sensitive buf keeps its bytes across growth */
	ck_assert_int_eq(buf_append(&b, "abcdef", 6), 0);
	ck_assert_int_eq(memcmp(b.data, bytes, sizeof(bytes)), 0);
	ck_assert_str_eq(b.data + 10, "abcdef");
	buf_free(&b);
}
END_TEST

START_TEST(test_max_is_kept)
{
	struct buf b;

	buf_init(&b, 10, 0);
	ck_assert_int_eq(buf_puts(&b, "0123456"), 0);
	ck_assert_uint_eq(buf_room(&b), 3);
	/* past the max: refused whole, nothing appended */
	ck_assert_int_eq(buf_puts(&b, "abcd"), -1);
	ck_assert_str_eq(b.data, "0123456");
	ck_assert_int_eq(buf_printf(&b, "%d", 1234), -1);
	ck_assert_str_eq(b.data, "0123456");
	ck_assert_int_eq(buf_reserve(&b, 4), -1);
	/* up to the max exactly: taken */
	ck_assert_int_eq(buf_printf(&b, "%s", "abc"), 0);
	ck_assert_str_eq(b.data, "0123456abc");
	ck_assert_uint_eq(buf_room(&b), 0);
	ck_assert_uint_le(b.cap, 11);
	ck_assert_int_eq(buf_append(&b, "", 0), 0);
	ck_assert_int_eq(buf_append(&b, "z", 1), -1);
	buf_free(&b);
}
END_TEST

START_TEST(test_printf)
{
	struct buf b;
	char big[300];

	buf_init(&b, 1000, 0);
	ck_assert_int_eq(buf_printf(&b, "<%s>%d</%s>", "n", 42, "n"), 0);
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(buf_printf(&b, "%s", big), 0);
	ck_assert_uint_eq(b.len, strlen("<n>42</n>") + 299);
	ck_assert_int_eq(strncmp(b.data, "<n>42</n>yyy", 12), 0);
	ck_assert_int_eq(b.data[b.len], '\0');
	buf_free(&b);
}
END_TEST

START_TEST(test_reserve_commit)
{
	struct buf b;

	buf_init(&b, 100, 0);
	ck_assert_int_eq(buf_reserve(&b, 0), 0);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_str_eq(b.data, "");
	ck_assert_int_eq(buf_reserve(&b, 5), 0);
	memcpy(b.data + b.len, "hello", 5);
	buf_commit(&b, 5);
	ck_assert_str_eq(b.data, "hello");
	buf_clear(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	ck_assert_int_eq(buf_puts(&b, "again"), 0);
	ck_assert_str_eq(b.data, "again");
	buf_free(&b);
}
END_TEST

START_TEST(test_detach)
{
	struct buf b;
	size_t len = 99;
	char *p;

	buf_init(&b, 50, 0);
	ck_assert_str_eq(buf_str(&b), "");
	p = buf_detach(&b, &len);
	ck_assert_str_eq(p, "");
	ck_assert_uint_eq(len, 0);
	free(p);
	ck_assert_int_eq(buf_puts(&b, "kept"), 0);
	ck_assert_str_eq(buf_str(&b), "kept");
	p = buf_detach(&b, &len);
	ck_assert_str_eq(p, "kept");
	ck_assert_uint_eq(len, 4);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.max, 50);
	free(p);
	buf_free(&b);
}
END_TEST

START_TEST(test_strv)
{
	struct strv s = {0};

	ck_assert_ptr_null(s.v);
	strv_add(&s, "pear");
	strv_addn(&s, "apple pie", 5);
	strv_addf(&s, "fig-%d", 7);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_ptr_null(s.v[3]);
	ck_assert_str_eq(s.v[1], "apple");
	strv_sort(&s);
	ck_assert_str_eq(s.v[0], "apple");
	ck_assert_str_eq(s.v[1], "fig-7");
	ck_assert_str_eq(s.v[2], "pear");
	ck_assert_ptr_null(s.v[3]);
	ck_assert_int_eq(strv_find(&s, "pear"), 2);
	ck_assert_int_eq(strv_find(&s, "pea"), -1);
	for (int i = 0; i < 100; i++)
		strv_addf(&s, "%d", i);
	ck_assert_uint_eq(s.n, 103);
	ck_assert_str_eq(s.v[102], "99");
	ck_assert_ptr_null(s.v[103]);
	strv_free(&s);
	ck_assert_ptr_null(s.v);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_int_eq(strv_find(&s, "x"), -1);
}
END_TEST

static Suite *
buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("buf");

	tcase_add_test(tc, test_append_grows);
	tcase_add_test(tc, test_binary_bytes);
	tcase_add_test(tc, test_max_is_kept);
	tcase_add_test(tc, test_printf);
	tcase_add_test(tc, test_reserve_commit);
	tcase_add_test(tc, test_detach);
	tcase_add_test(tc, test_strv);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = buf_suite);
