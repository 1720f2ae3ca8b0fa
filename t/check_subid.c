/* SPDX-License-Identifier: MIT */
/*
 * check_subid.c: unit tests of lib/subid.c: a range found by its owner
 * (a name or an id), at each edge of the ids asked about; lines newuidmap
 * would not take, skipped; a range reaching past the largest id; the
 * file read from disk, absent and unreadable.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "subid.h"

static int
overlap(const char *text, unsigned long lo, unsigned long hi, struct subid_range *r)
{
	return subid_overlap(text, strlen(text), lo, hi, r);
}

START_TEST(test_ranges)
{
	static const char file[] = "alice:100000:65536\n"
				   "1001:165536:65536\n"
				   "bob:300000:10";
	struct subid_range r;

	ck_assert_int_eq(overlap(file, 70000, 70063, &r), 0);
	ck_assert_int_eq(overlap(file, 70000, 100000, &r), 1);
	ck_assert_str_eq(r.owner, "alice");
	ck_assert_uint_eq(r.first, 100000);
	ck_assert_uint_eq(r.count, 65536);
	/* the last id of alice's, the first of 1001's */
	ck_assert_int_eq(overlap(file, 165535, 165535, &r), 1);
	ck_assert_str_eq(r.owner, "alice");
	ck_assert_int_eq(overlap(file, 165536, 165600, &r), 1);
	ck_assert_str_eq(r.owner, "1001");
	/* the last line, without a newline; and just past it */
	ck_assert_int_eq(overlap(file, 300009, 300100, &r), 1);
	ck_assert_str_eq(r.owner, "bob");
	ck_assert_int_eq(overlap(file, 300010, 300100, &r), 0);
	/* a range reaching past the largest id */
	ck_assert_int_eq(overlap("x:18446744073709551000:100000\n", ULONG_MAX, ULONG_MAX, &r), 1);
	ck_assert_int_eq(overlap("", 0, ULONG_MAX, &r), 0);
}
END_TEST

START_TEST(test_skipped)
{
	struct subid_range r;
	const char *bad[] = {
	    ":100000:10",		    /* no owner */
	    "a:100000",			    /* two fields */
	    "a:100000:0",		    /* no ids */
	    "a:100000:10 ",		    /* trailing white space */
	    "a:-1:10",			    /* a sign */
	    "a:99999999999999999999999:10", /* too large */
	    "a:1e5:10",			    /* not a number */
	};
	/* what newuidmap reads as a number, so do we */
	const char *good[] = {
	    "a: 100000:10", "a:0x186a0:10", "a:0303240:10", "a:100000:\t10",
	    "a:100000:10:x", "a:100000:10:", /* fields after the third ignored */
	    "a:0000000000000000000000000000000000000000303240:10", /* any length (octal) */
	    "a:                                        100000:10",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(overlap(bad[i], 0, ULONG_MAX, &r) == 0, "%s", bad[i]);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(overlap(good[i], 100000, 100000, &r) == 1, "%s", good[i]);
	/* the owner as written ("# a": no comments in the file) */
	ck_assert_int_eq(overlap("# a:100000:10", 100000, 100000, &r), 1);
	ck_assert_str_eq(r.owner, "# a");
	/* a long owner is cut, still found */
	{
		char line[300];

		memset(line, 'u', 200);
		snprintf(line + 200, sizeof(line) - 200, ":5:5\n");
		ck_assert_int_eq(overlap(line, 9, 9, &r), 1);
		ck_assert_uint_eq(strlen(r.owner), sizeof(r.owner) - 1);
	}
}
END_TEST

START_TEST(test_file)
{
	char dir[] = "/tmp/check_subid.XXXXXX", path[64], err[128] = "";
	struct subid_range r;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/subuid", dir);
	/* no file: nobody has subordinate ids */
	ck_assert_int_eq(subid_file_overlap(path, 0, ULONG_MAX, &r, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("dss:200000:65536\n", f);
	fclose(f);
	ck_assert_int_eq(subid_file_overlap(path, 200100, 200200, &r, err, sizeof(err)), 1);
	ck_assert_str_eq(r.owner, "dss");
	ck_assert_int_eq(subid_file_overlap(path, 70000, 70063, &r, err, sizeof(err)), 0);
	/* a directory where the file should be: said */
	unlink(path);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(subid_file_overlap(path, 0, 1, &r, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, path));
	rmdir(path);
	rmdir(dir);
}
END_TEST

CHECK_MAIN(.name = "subid", .tests = CHECK_TESTS(test_ranges, test_skipped, test_file));
