/* SPDX-License-Identifier: MIT */
/*
 * check_fit.c: unit tests of lib/fit.c: a FIT compiled by Debian's dtc
 * gives its timestamp and signature nodes (hint, signed or not); every
 * truncation of it, a wrong magic, an old version, a FIT without /images,
 * too many signature nodes and too deep a nesting are refused with a
 * reason; the DTB key-name search finds upstream's first key-<name>,
 * across chunk boundaries.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "fit.h"
#include "util.h"

static char dir[] = "/tmp/check_fit.XXXXXX";

/* Compile dts text with dtc into a malloc'ed blob. */
static unsigned char *
compile(const char *dts, size_t *len)
{
	char src[256], out[256], *buf = NULL;
	FILE *f;

	snprintf(src, sizeof(src), "%s/t.dts", dir);
	snprintf(out, sizeof(out), "%s/t.dtb", dir);
	f = fopen(src, "w");
	ck_assert_ptr_nonnull(f);
	fputs(dts, f);
	fclose(f);
	ck_assert_int_eq(check_sh(dir, "dtc -q -I dts -O dtb -o t.dtb t.dts"), 0);
	ck_assert_int_eq(util_read_file(out, 1 << 20, &buf, len), 0);
	return (unsigned char *)buf;
}

static const char fit_dts[] =
    "/dts-v1/;\n"
    "/ { timestamp = <0x5f5e1000>; description = \"test\";\n"
    "  images { kernel-1 { data = [00 01 02 03]; hash-1 { algo = \"sha256\"; }; };\n"
    "    fdt-1 { data = [04]; signature-1 { key-name-hint = \"img\"; }; }; };\n"
    "  configurations { default = \"conf-1\";\n"
    "    conf-1 { kernel = \"kernel-1\"; fdt = \"fdt-1\";\n"
    "      signature-1 { algo = \"sha256,rsa2048\"; key-name-hint = \"dev\"; value = [0a 0b]; };\n"
    "      signature-2 { key-name-hint = \"other\"; value = []; }; }; }; };\n";

START_TEST(test_scan)
{
	size_t len;
	unsigned char *b = compile(fit_dts, &len);
	struct fit_info fi;
	char err[256];

	ck_assert_int_eq(fit_scan(b, len, &fi, err, sizeof(err)), 0);
	ck_assert(fi.has_timestamp);
	ck_assert_uint_eq(fi.timestamp, 0x5f5e1000);
	ck_assert(fi.has_images);
	ck_assert_uint_eq(fi.nsigs, 3);
	ck_assert_str_eq(fi.sigs[0].node, "/images/fdt-1/signature-1");
	ck_assert_str_eq(fi.sigs[0].hint, "img");
	ck_assert(!fi.sigs[0].has_value);
	ck_assert_str_eq(fi.sigs[1].node, "/configurations/conf-1/signature-1");
	ck_assert_str_eq(fi.sigs[1].hint, "dev");
	ck_assert(fi.sigs[1].has_value);
	ck_assert_str_eq(fi.sigs[2].hint, "other");
	ck_assert(!fi.sigs[2].has_value); /* an empty value is no signature */
	free(b);
}
END_TEST

START_TEST(test_truncated)
{
	size_t len;
	unsigned char *b = compile(fit_dts, &len);
	struct fit_info fi;
	char err[256];

	/* every prefix is refused, with a reason, and read within its bounds */
	for (size_t n = 0; n < len; n++) {
		unsigned char *cut = malloc(n ? n : 1);

		memcpy(cut, b, n);
		ck_assert_int_eq(fit_scan(cut, n, &fi, err, sizeof(err)), -1);
		ck_assert_ptr_nonnull(strstr(err, "not a valid FIT image"));
		free(cut);
	}
	free(b);
}
END_TEST

START_TEST(test_header)
{
	size_t len;
	unsigned char *b = compile(fit_dts, &len);
	struct fit_info fi;
	char err[256];

	b[0] ^= 0xff;
	ck_assert_int_eq(fit_scan(b, len, &fi, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no device tree header"));
	b[0] ^= 0xff;
	b[23] = 16; /* version */
	ck_assert_int_eq(fit_scan(b, len, &fi, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "version"));
	b[23] = 17;
	b[36] = 0x7f; /* size_dt_struct past the blob */
	ck_assert_int_eq(fit_scan(b, len, &fi, err, sizeof(err)), -1);
	free(b);
	b = compile("/dts-v1/;\n/ { compatible = \"x\"; };\n", &len);
	ck_assert_int_eq(fit_scan(b, len, &fi, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no /images node"));
	free(b);
}
END_TEST

START_TEST(test_limits)
{
	char *dts = malloc(1 << 16);
	size_t len, n = 0;
	unsigned char *b;
	struct fit_info fi;
	char err[256];

	n += (size_t)sprintf(dts + n, "/dts-v1/;\n/ { images { i { data = [00]; }; };\n"
				      "configurations { c {\n");
	for (int i = 0; i <= FIT_SIGS_MAX; i++)
		n += (size_t)sprintf(dts + n, "signature-%d { key-name-hint = \"k\"; };\n", i);
	sprintf(dts + n, "}; }; };\n");
	b = compile(dts, &len);
	ck_assert_int_eq(fit_scan(b, len, &fi, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too many signature nodes"));
	free(b);
	n = (size_t)sprintf(dts, "/dts-v1/;\n/ { images { }; ");
	for (int i = 0; i <= FIT_DEPTH_MAX; i++)
		n += (size_t)sprintf(dts + n, "n%d { ", i);
	for (int i = 0; i <= FIT_DEPTH_MAX; i++)
		n += (size_t)sprintf(dts + n, "}; ");
	sprintf(dts + n, "};\n");
	b = compile(dts, &len);
	ck_assert_int_eq(fit_scan(b, len, &fi, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "too deep"));
	free(b);
	/* a hint longer than kept, or not one string, is no hint */
	b = compile("/dts-v1/;\n/ { images { i { signature { key-name-hint = "
		    "\"0123456789012345678901234567890123456789012345678901234567890123456789\"; "
		    "}; }; j { signature { key-name-hint = [41 00 42 00]; }; }; }; };\n",
		    &len);
	ck_assert_int_eq(fit_scan(b, len, &fi, err, sizeof(err)), 0);
	ck_assert_uint_eq(fi.nsigs, 2);
	ck_assert_str_eq(fi.sigs[0].hint, "");
	ck_assert_str_eq(fi.sigs[1].hint, "");
	free(b);
	free(dts);
}
END_TEST

/* The key name found in text fed in chunks of step bytes, or "-". */
static const char *
keyname(const char *text, size_t len, size_t step)
{
	static struct fit_keyname k;

	fit_keyname_init(&k);
	for (size_t i = 0; i < len; i += step)
		fit_keyname_feed(&k, (const unsigned char *)text + i,
				 len - i < step ? len - i : step);
	return fit_keyname_done(&k) ? k.name : "-";
}

START_TEST(test_keyname)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"\x01\x02key-dev\0key-other", "dev"},
	    {"key-+key-abc.1_x-", "abc.1_x-"},
	    {"kkey-a", "a"},
	    {"kekey-b+", "b"},
	    {"no key here", "-"},
	    {"key-", "-"},
	    {"key-0123456789012345678901234567890123456789012345678901234567890123456789", ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in);

		if (i == 0)
			len = 19; /* past the NUL */
		for (size_t step = 1; step <= len + 1; step++)
			ck_assert_str_eq(keyname(cases[i].in, len, step), cases[i].out);
	}
}
END_TEST

static int
before(void)
{
	return mkdtemp(dir) == NULL;
}

static void
after(void)
{
	util_rm_rf(dir);
}

CHECK_MAIN(.name = "fit",
	   .tests = CHECK_TESTS(test_scan, test_truncated, test_header, test_limits, test_keyname),
	   .before = before, .after = after);
