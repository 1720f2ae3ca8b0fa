/* SPDX-License-Identifier: MIT */
/*
 * check_flashvars.c: unit tests of lib/flashvars.c: real flashvars files
 * of meta-tegra (R32 bare values, R35/R36 quoted ones, comments and a
 * trailing ';') come back as single-quoted assignments; anything a shell
 * would run is refused with a reason naming the line; the MANIFEST
 * allowlist and the ODMDATA and value syntax.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "flashvars.h"

static char *
rewrite(enum flashvars_file which, const char *in, char *err)
{
	char *out = NULL;

	err[0] = '\0';
	if (flashvars_rewrite(which, in, strlen(in), &out, err, 256) < 0) {
		ck_assert_ptr_null(out);
		return NULL;
	}
	return out;
}

START_TEST(test_real_files)
{
	char err[256], *out;

	out = rewrite(FLASHVARS_FLASHVARS,
		      "FLASHVARS=\"BPFDTB_FILE PINMUX_CONFIG\"\n"
		      "BPFDTB_FILE=tegra186-a02-bpmp-quill-p3310-1000-@BPFDTBREV@-00-te770d-ucm2.dtb\n"
		      "# Default FAB:\n\n"
		      "  DEFAULT_FAB=\"A00\";\r\n"
		      "UPHY_CONFIG=\"--uphy tegra234-mb1-bct-uphylane-si.dtsi\"\n"
		      "PLUGIN_MANAGER_OVERLAYS=\"tegra234-p3737-0000+p3701-0000-dynamic.dtbo,b.dtbo\"\n"
		      "CHIP_SKU=\"00:00:00:D0\"\nCHIPID=0x23\nRAMCODE=1\nOVERLAY_DTB_FILE=\"\"\n"
		      "boardcfg_file=board_config_jetson-tx1-devkit.xml\nRAMCODE=4\n",
		      err);
	ck_assert_msg(out != NULL, "%s", err);
	ck_assert_str_eq(out, "FLASHVARS='BPFDTB_FILE PINMUX_CONFIG'\n"
			      "BPFDTB_FILE='tegra186-a02-bpmp-quill-p3310-1000-@BPFDTBREV@-00-te770d-"
			      "ucm2.dtb'\n"
			      "DEFAULT_FAB='A00'\n"
			      "UPHY_CONFIG='--uphy tegra234-mb1-bct-uphylane-si.dtsi'\n"
			      "PLUGIN_MANAGER_OVERLAYS='tegra234-p3737-0000+p3701-0000-dynamic.dtbo,"
			      "b.dtbo'\n"
			      "CHIP_SKU='00:00:00:D0'\nCHIPID='0x23'\nRAMCODE='4'\nOVERLAY_DTB_FILE=''\n"
			      "boardcfg_file='board_config_jetson-tx1-devkit.xml'\n");
	free(out);
	out = rewrite(FLASHVARS_BSP_VERSION,
		      "# R36 (release), REVISION: 4.3\nBSP_BRANCH=36\nBSP_MAJOR=4\nBSP_MINOR=3\n", err);
	ck_assert_msg(out != NULL, "%s", err);
	ck_assert_str_eq(out, "BSP_BRANCH='36'\nBSP_MAJOR='4'\nBSP_MINOR='3'\n");
	free(out);
}
END_TEST

START_TEST(test_hostile)
{
	static const char *const bad[] = {
		"cp \"$keyfile\" ./stolen.pem",
		"BPFDTB_FILE=\"x$(id)\"",
		"BPFDTB_FILE=`id`",
		"BPFDTB_FILE=a.dtb; id",
		"BPFDTB_FILE=a.dtb id",
		"BPFDTB_FILE=\"a.dtb",
		"BPFDTB_FILE='a.dtb\"",
		"BPFDTB_FILE=a>b",
		"BPFDTB_FILE=a|b",
		"BPFDTB_FILE=a&",
		"BPFDTB_FILE=\"a\\nb\"",
		"BPFDTB_FILE=\"one two\"",
		"FLASHVARS=\"BPFDTB_FILE binargs\"",
		"binargs=\"--bins x\"",
		"LD_PRELOAD=./x.so",
		"export BPFDTB_FILE=a",
		"( setsid sleep 25 & )",
		"1X=a",
		"=a",
		"ODMDATA=0x1;id",
	};
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *out = rewrite(FLASHVARS_FLASHVARS, bad[i], err);

		ck_assert_msg(out == NULL, "accepted: %s -> %s", bad[i], out);
		ck_assert_msg(strncmp(err, "flashvars line 1 ", 17) == 0, "reason: %s", err);
	}
	ck_assert_ptr_null(rewrite(FLASHVARS_BSP_VERSION, "BSP_BRANCH=$(id)\n", err));
	ck_assert_str_eq(err, "bsp_version line 1 has characters a shell would interpret");
	ck_assert_ptr_null(rewrite(FLASHVARS_BSP_VERSION, "\n\nPATH=.\n", err));
	ck_assert_str_eq(err, "bsp_version line 3 names a variable the flash helpers do not read");
}
END_TEST

START_TEST(test_env)
{
	ck_assert(flashvars_env_passed("BOARDID"));
	ck_assert(flashvars_env_passed("fuselevel"));
	ck_assert(flashvars_env_passed("BUPGENSPECS"));
	ck_assert(!flashvars_env_passed("TAR_OPTIONS"));
	ck_assert(!flashvars_env_passed("binargs"));
	ck_assert(!flashvars_env_passed("TRIM_BPMP_DTB"));
	ck_assert(!flashvars_env_passed("boardid"));
	ck_assert(flashvars_env_value_ok("fuselevel_production", 0));
	ck_assert(flashvars_env_value_ok("a,b.cfg", 0));
	ck_assert(flashvars_env_value_ok("", 0));
	ck_assert(!flashvars_env_value_ok("a b", 0));
	ck_assert(flashvars_env_value_ok("a b", 1));
	for (const char *p = "$`;&|<>\\()\"'\t"; *p; p++) {
		char v[4] = {'a', *p, 'b', 0};

		ck_assert_msg(!flashvars_env_value_ok(v, 1), "accepted %s", v);
	}
}
END_TEST

START_TEST(test_odmdata)
{
	static const char *const good[] = {
		"0x1090000", "0xB8190000", "0x6009C000", "12345", "",
		"gbe-uphy-config-22,hsstp-lane-map-3,nvhs-uphy-config-0,hsio-uphy-config-0,gbe0-enable-10g",
	};
	static const char *const bad[] = {"0x", "0x1g", "0x1;id", "$(id)", "a,,b", ",a", "a,",
					  "a b", "0x12345678901234567", "a`id`"};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(flashvars_odmdata_ok(good[i]), "refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!flashvars_odmdata_ok(bad[i]), "accepted %s", bad[i]);
}
END_TEST

static Suite *
flashvars_suite(void)
{
	Suite *s = suite_create("flashvars");
	TCase *tc = tcase_create("flashvars");

	tcase_add_test(tc, test_real_files);
	tcase_add_test(tc, test_hostile);
	tcase_add_test(tc, test_env);
	tcase_add_test(tc, test_odmdata);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = flashvars_suite);
