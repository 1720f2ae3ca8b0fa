/* SPDX-License-Identifier: MIT */
/*
 * check_l4t.c: unit tests of lib/l4t.c: BSP versions read as upstream's
 * int() of the first dot parts reads them (three for the capsule and
 * /sign/tegra, one for EKB), the capsule's version hex as Python's hex()
 * prints it, the BSP tree under L4T_TOOLS_BASE and the GUID syntax.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "l4t.h"

START_TEST(test_version)
{
	static const struct {
		const char *v;
		int n, ok, p[3];
	} cases[] = {
	    {"35.4.1", 3, 1, {35, 4, 1}},
	    {"36.4.3", 3, 1, {36, 4, 3}},
	    {"32.7.4.extra", 3, 1, {32, 7, 4}},
	    {"35.4.1.", 3, 1, {35, 4, 1}},
	    {"036.04.003", 3, 1, {36, 4, 3}},
	    {"999999.0.0", 3, 1, {999999, 0, 0}},
	    {"35.4", 3, 0, {0}},
	    {"35", 3, 0, {0}},
	    {"", 3, 0, {0}},
	    {"35..1", 3, 0, {0}},
	    {".35.4.1", 3, 0, {0}},
	    {"35.4.1x", 3, 0, {0}},
	    {"35.4x.1", 3, 0, {0}},
	    {"35.-4.1", 3, 0, {0}},
	    {" 35.4.1", 3, 0, {0}},
	    {"1000000.0.0", 3, 0, {0}},
	    {"36", 1, 1, {36}},
	    {"36.3", 1, 1, {36}},
	    {"36.x.y", 1, 1, {36}},
	    {"36x", 1, 0, {0}},
	    {"x36", 1, 0, {0}},
	    {"35.4.1", 2, 1, {35, 4}},
	};
	int p[3];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = l4t_version_parse(cases[i].v, cases[i].n, p);

		ck_assert_msg((r == 0) == cases[i].ok, "%s (%d parts): %d", cases[i].v, cases[i].n,
			      r);
		for (int j = 0; cases[i].ok && j < cases[i].n; j++)
			ck_assert_int_eq(p[j], cases[i].p[j]);
	}
	ck_assert_int_eq(l4t_version_parse(NULL, 3, p), -1);
	ck_assert_int_eq(l4t_version_parse("35.4.1", 0, p), -1);
	ck_assert_int_eq(l4t_version_parse("35.4.1", 4, p), -1);
}
END_TEST

START_TEST(test_hex)
{
	char out[32];
	int a[3] = {35, 4, 1}, b[3] = {36, 4, 3}, c[3] = {0, 0, 0}, d[3] = {32, 300, 1};

	l4t_version_hex(a, out, sizeof(out));
	ck_assert_str_eq(out, "0x230401");
	l4t_version_hex(b, out, sizeof(out));
	ck_assert_str_eq(out, "0x240403");
	l4t_version_hex(c, out, sizeof(out));
	ck_assert_str_eq(out, "0x0");
	/* Python ORs the shifted parts: a minor above 255 spills over */
	l4t_version_hex(d, out, sizeof(out));
	ck_assert_str_eq(out, "0x212c01");
}
END_TEST

START_TEST(test_tools_dir)
{
	char base[] = "/tmp/check_l4t.XXXXXX", path[PATH_MAX], out[PATH_MAX];

	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(path, sizeof(path), "%s/L4T-35.4.1-tegra186", base);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	strcat(path, "/Linux_for_Tegra");
	ck_assert_int_eq(mkdir(path, 0700), 0);
	/* tegra194 shares the tegra186 tree */
	ck_assert_int_eq(l4t_tools_dir(base, "35.4.1", "tegra194", out, sizeof(out)), 0);
	ck_assert_str_eq(out, path);
	ck_assert_int_eq(l4t_tools_dir(base, "35.4.1", "tegra186", out, sizeof(out)), 0);
	ck_assert_int_eq(l4t_tools_dir(base, "35.4.1", "tegra234", out, sizeof(out)), -1);
	ck_assert_int_eq(l4t_tools_dir(base, "36.4.3", "tegra194", out, sizeof(out)), -1);
	/* a file is not a tree; a path too long for out is refused */
	snprintf(path, sizeof(path), "%s/L4T-1.0.0-tegra234", base);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	strcat(path, "/Linux_for_Tegra");
	fclose(fopen(path, "w"));
	ck_assert_int_eq(l4t_tools_dir(base, "1.0.0", "tegra234", out, sizeof(out)), -1);
	ck_assert_int_eq(l4t_tools_dir(base, "35.4.1", "tegra194", out, 10), -1);
	ck_assert_int_eq(check_sh(NULL, "rm -rf %s", base), 0);
}
END_TEST

START_TEST(test_guid)
{
	static const char *const good[] = {
	    "be3f5d68-7654-4ed2-838c-2a2faf901a78",   "BE3F5D68-7654-4ED2-838C-2A2FAF901A78",
	    "{be3f5d68-7654-4ed2-838c-2a2faf901a78}", "be3f5d6876544ed2838c2a2faf901a78",
	    "{BE3F5D6876544ED2838C2A2FAF901A78}",
	};
	static const char *const bad[] = {
	    "",
	    "{}",
	    "not-a-guid",
	    "be3f5d68-7654-4ed2-838c-2a2faf901a7",
	    "be3f5d68-7654-4ed2-838c-2a2faf901a789",
	    "be3f5d68-7654-4ed2-838c2a2faf901a78-",
	    "be3f5d687-654-4ed2-838c-2a2faf901a78",
	    "ge3f5d68-7654-4ed2-838c-2a2faf901a78",
	    "{be3f5d68-7654-4ed2-838c-2a2faf901a78",
	    "be3f5d68-7654-4ed2-838c-2a2faf901a78}",
	    "{{be3f5d68-7654-4ed2-838c-2a2faf901a78}}",
	    " be3f5d68-7654-4ed2-838c-2a2faf901a78",
	    "be3f5d68 7654 4ed2 838c 2a2faf901a78",
	    "--help",
	    "be3f5d6876544ed2838c2a2faf901a7",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(l4t_guid_valid(good[i]), "refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!l4t_guid_valid(bad[i]), "accepted %s", bad[i]);
	ck_assert(!l4t_guid_valid(NULL));
}
END_TEST

CHECK_MAIN(.name = "l4t", .tests = CHECK_TESTS(test_version, test_hex, test_tools_dir, test_guid));
