/* SPDX-License-Identifier: MIT */
/*
 * check_rkparams.c: unit tests of lib/rkparams.c: the Rockchip signers'
 * soctype, artifact_type, burn_key_hash (upstream's to_boolean),
 * external_data_offset and .ta names, read as upstream reads them.
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "rkparams.h"

START_TEST(test_soctype)
{
	ck_assert_str_eq(rk_soctype_chip("rk3588"), "3588");
	ck_assert_str_eq(rk_soctype_chip("rk3566"), "3566");
	ck_assert_str_eq(rk_soctype_chip("rk3568"), "3568");
	/* upstream's list is exact: doc/rksign.md's "3588" is refused */
	static const char *const bad[] = {"3588", "RK3588", "rk3399", "rk3588 ",
					  "",     "rk",     "rk35888"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_ptr_null(rk_soctype_chip(bad[i]));
	ck_assert_ptr_null(rk_soctype_chip(NULL));
}
END_TEST

START_TEST(test_artifact_type)
{
	ck_assert_int_eq(rk_artifact_type("fit-image"), RK_FIT_IMAGE);
	ck_assert_int_eq(rk_artifact_type("Fit-Image"), RK_FIT_IMAGE);
	ck_assert_int_eq(rk_artifact_type("idblock"), RK_IDBLOCK);
	ck_assert_int_eq(rk_artifact_type("USBLOADER"), RK_USBLOADER);
	ck_assert_int_eq(rk_artifact_type(NULL), -1); /* upstream: 500; here 400 */
	ck_assert_int_eq(rk_artifact_type(""), -1);
	ck_assert_int_eq(rk_artifact_type("fitimage"), -1);
	ck_assert_int_eq(rk_artifact_type("idblock "), -1);
	ck_assert_int_eq(rk_artifact_type("uboot"), -1);
}
END_TEST

START_TEST(test_boolean)
{
	static const char *const yes[] = {"y", "Y",    "yes",  "YES", "Yes", "1", "t",
					  "T", "true", "TRUE", "on",  "ON",  "oN"};
	static const char *const no[] = {"no",   "n",    "0", "false", "off",  "",
					 " yes", "yes ", "2", "tru",   "yess", "enable"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ck_assert_msg(rk_to_boolean(yes[i]) == 1, "%s", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ck_assert_msg(rk_to_boolean(no[i]) == 0, "%s", no[i]);
	ck_assert_int_eq(rk_to_boolean(NULL), 0); /* the default, "no" */
}
END_TEST

START_TEST(test_hex_offset)
{
	ck_assert_int_eq(rk_hex_offset("0x1000"), 1);
	ck_assert_int_eq(rk_hex_offset("0X1000"), 1);
	ck_assert_int_eq(rk_hex_offset("1000"), 1);
	ck_assert_int_eq(rk_hex_offset("deadBEEF"), 1);
	ck_assert_int_eq(rk_hex_offset("ffffffffffffffff"), 1);
	ck_assert_int_eq(rk_hex_offset("1ffffffffffffffff"), 0);
	ck_assert_int_eq(rk_hex_offset("0x"), 0);
	ck_assert_int_eq(rk_hex_offset(""), 0);
	ck_assert_int_eq(rk_hex_offset("-x"), 0);
	ck_assert_int_eq(rk_hex_offset("0x1000 "), 0);
	ck_assert_int_eq(rk_hex_offset("0x10g"), 0);
	ck_assert_int_eq(rk_hex_offset(NULL), 0);
}
END_TEST

START_TEST(test_ta_name)
{
	ck_assert_int_eq(rk_ta_name("lib/optee_armtz/8aaaf200-2450-11e4-abe2-0002a5d5c51b.ta"), 1);
	ck_assert_int_eq(rk_ta_name("x.ta"), 1);
	ck_assert_int_eq(rk_ta_name(".ta"), 1); /* endswith('.ta') */
	ck_assert_int_eq(rk_ta_name("x.ta.bak"), 0);
	ck_assert_int_eq(rk_ta_name("x.TA"), 0);
	ck_assert_int_eq(rk_ta_name("ta"), 0);
	ck_assert_int_eq(rk_ta_name(""), 0);
	ck_assert_int_eq(rk_ta_name(NULL), 0);
}
END_TEST

static Suite *
rkparams_suite(void)
{
	Suite *s = suite_create("rkparams");
	TCase *tc = tcase_create("fields");

	tcase_add_test(tc, test_soctype);
	tcase_add_test(tc, test_artifact_type);
	tcase_add_test(tc, test_boolean);
	tcase_add_test(tc, test_hex_offset);
	tcase_add_test(tc, test_ta_name);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = rkparams_suite);
