/* SPDX-License-Identifier: MIT */
/*
 * check_manifest.c: unit tests of lib/manifest.c, the Tegra MANIFEST
 * parser: the original's rules (KEY=VALUE, rstrip, universal newlines,
 * last duplicate wins) and every way a file is refused.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "manifest.h"

static struct manifest m;
static char err[256];

static int
parse(const char *text)
{
	return manifest_parse(text, strlen(text), &m, err, sizeof(err));
}

static void
teardown(void)
{
	manifest_free(&m);
}

START_TEST(test_bbclass_manifest)
{
	const char *text = "DTBFILE=tegra186-quill-p3310-1000-c03-00-base.dtb\n"
			   "ODMDATA=0x1090000\n"
			   "LNXFILE=boot.img\n"
			   "BOARDID=3310\n"
			   "FAB=B02\n"
			   "fuselevel=fuselevel_production\n"
			   "localbootfile=boot.img\n"
			   "boardcfg=\n"
			   "CHIPREV=\n"
			   "BOARDSKU=\n"
			   "BOARDREV=\n"
			   "BUPGENSPECS=fab=B01;boardsku=0001;boardrev= fab=C04;boardsku=0001;boardrev=\n";

	ck_assert_int_eq(parse(text), 0);
	ck_assert_uint_eq(m.n, 12);
	ck_assert_str_eq(m.vars[0].name, "DTBFILE");
	ck_assert_str_eq(m.vars[11].name, "BUPGENSPECS");
	ck_assert_str_eq(manifest_get(&m, "ODMDATA"), "0x1090000");
	ck_assert_str_eq(manifest_get(&m, "boardcfg"), "");
	ck_assert_str_eq(manifest_get(&m, "fuselevel"), "fuselevel_production");
	ck_assert_str_eq(manifest_get(&m, "BUPGENSPECS"),
			 "fab=B01;boardsku=0001;boardrev= fab=C04;boardsku=0001;boardrev=");
	ck_assert_ptr_null(manifest_get(&m, "EMMC_BCTS"));
	ck_assert_ptr_null(manifest_get(&m, "dtbfile"));
}
END_TEST

START_TEST(test_values)
{
	/* key = text before the first '=', value = all the rest */
	ck_assert_int_eq(parse("A=b=c\nB==\nC= x y\n D=1\nE F=2"), 0);
	ck_assert_str_eq(manifest_get(&m, "A"), "b=c");
	ck_assert_str_eq(manifest_get(&m, "B"), "=");
	ck_assert_str_eq(manifest_get(&m, "C"), " x y");
	ck_assert_str_eq(manifest_get(&m, " D"), "1"); /* leading blanks kept */
	ck_assert_ptr_null(manifest_get(&m, "D"));
	ck_assert_str_eq(manifest_get(&m, "E F"), "2");
}
END_TEST

START_TEST(test_duplicates)
{
	ck_assert_int_eq(parse("A=1\nB=2\nA=3\n"), 0);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_str_eq(m.vars[0].name, "A");
	ck_assert_str_eq(manifest_get(&m, "A"), "3");
}
END_TEST

START_TEST(test_rstrip)
{
	/* ASCII white space, \x1c-\x1f, and Unicode spaces (U+00A0, U+3000)
	 * are stripped from the end, as str.rstrip() does */
	ck_assert_int_eq(parse("A=1 \t\x0b\x0c\nB=2\x1c\x1f\nC=3\xc2\xa0\nD=4\xe3\x80\x80 \n"
			       "E=x\xe2\x80\x8a\nF=\xc2\xa0y\n"),
			 0);
	ck_assert_str_eq(manifest_get(&m, "A"), "1");
	ck_assert_str_eq(manifest_get(&m, "B"), "2");
	ck_assert_str_eq(manifest_get(&m, "C"), "3");
	ck_assert_str_eq(manifest_get(&m, "D"), "4");
	ck_assert_str_eq(manifest_get(&m, "E"), "x");
	ck_assert_str_eq(manifest_get(&m, "F"), "\xc2\xa0y");
	/* a value of blanks only becomes empty */
	manifest_free(&m);
	ck_assert_int_eq(parse("A=   \n"), 0);
	ck_assert_str_eq(manifest_get(&m, "A"), "");
	/* other non-ASCII text is kept as is */
	manifest_free(&m);
	ck_assert_int_eq(parse("N=\xc3\xa9t\xc3\xa9\n"), 0);
	ck_assert_str_eq(manifest_get(&m, "N"), "\xc3\xa9t\xc3\xa9");
}
END_TEST

START_TEST(test_newlines)
{
	ck_assert_int_eq(parse("A=1\r\nB=2\rC=3\nD=4"), 0);
	ck_assert_uint_eq(m.n, 4);
	ck_assert_str_eq(manifest_get(&m, "A"), "1");
	ck_assert_str_eq(manifest_get(&m, "B"), "2");
	ck_assert_str_eq(manifest_get(&m, "C"), "3");
	ck_assert_str_eq(manifest_get(&m, "D"), "4");
	manifest_free(&m);
	ck_assert_int_eq(parse("A=1\r"), 0);
	ck_assert_uint_eq(m.n, 1);
	manifest_free(&m);
	/* \r\r\n is a line break and then an empty line */
	ck_assert_int_eq(parse("A=1\r\r\nB=2\n"), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 2"));
}
END_TEST

START_TEST(test_empty)
{
	ck_assert_int_eq(parse(""), 0);
	ck_assert_uint_eq(m.n, 0);
}
END_TEST

START_TEST(test_empty_line)
{
	ck_assert_int_eq(parse("A=1\n\nB=2\n"), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 2"));
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	ck_assert_uint_eq(m.n, 0);
	ck_assert_ptr_null(m.vars);
	ck_assert_int_eq(parse("A=1\n\n"), -1);
	ck_assert_int_eq(parse("\n"), -1);
	ck_assert_int_eq(parse("A=1\n  \t\nB=2"), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 2"));
}
END_TEST

START_TEST(test_bad_lines)
{
	ck_assert_int_eq(parse("A=1\nnovalue\n"), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 2"));
	ck_assert_int_eq(parse("=value\n"), -1);
	ck_assert_ptr_nonnull(strstr(err, "line 1"));
	ck_assert_int_eq(parse("# comment\nA=1\n"), -1);
}
END_TEST

START_TEST(test_encoding)
{
	static const char nul[] = "A=1\0B=2\n";

	ck_assert_int_eq(manifest_parse(nul, sizeof(nul) - 1, &m, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "NUL"));
	ck_assert_int_eq(parse("A=\xff\n"), -1);	     /* not UTF-8 */
	ck_assert_ptr_nonnull(strstr(err, "UTF-8"));
	ck_assert_int_eq(parse("A=\xc0\xaf\n"), -1);	     /* overlong '/' */
	ck_assert_int_eq(parse("A=\xed\xa0\x80\n"), -1);    /* surrogate */
	ck_assert_int_eq(parse("A=\xf4\x90\x80\x80\n"), -1); /* past U+10FFFF */
	ck_assert_int_eq(parse("A=\xe2\x82"), -1);	     /* truncated */
	ck_assert_int_eq(parse("A=\xf0\x9f\x98\x80\n"), 0);  /* U+1F600 is fine */
}
END_TEST

static Suite *
manifest_suite(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("parse");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_bbclass_manifest);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_rstrip);
	tcase_add_test(tc, test_newlines);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_empty_line);
	tcase_add_test(tc, test_bad_lines);
	tcase_add_test(tc, test_encoding);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = manifest_suite);
