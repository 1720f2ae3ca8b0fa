/* SPDX-License-Identifier: MIT */
/*
 * check_imxcsf.c: unit tests of lib/imxcsf.c: what /sign/imx checks of
 * the CSF text, the artifact's upload name and cstversion, and upstream's
 * PIN placeholder substitution.
 */
#include <check.h>
#include <string.h>

#include "buf.h"
#include "check_main.h"
#include "imxcsf.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int
text_ok(const char *s, size_t len)
{
	char why[128];

	return imx_csf_text_check((const unsigned char *)s, len, why, sizeof(why)) == 0;
}

START_TEST(test_text)
{
	char why[128];

	ck_assert(text_ok("[Header]\n  Version = 4.3\n", 25));
	ck_assert(text_ok("", 0));
	/* UTF-8 beyond ASCII: é, €, U+10FFFF */
	ck_assert(text_ok("caf\xc3\xa9 \xe2\x82\xac \xf4\x8f\xbf\xbf", 14));
	/* Latin-1, a lone continuation, a cut sequence, overlong forms,
	 * a surrogate, past U+10FFFF, 0xff */
	static const char *const bad[] = {
	    "caf\xe9",          "\x80",         "\xe2\x82",         "\xc0\xaf", "\xe0\x80\xaf",
	    "\xf0\x80\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"};
	for (size_t i = 0; i < NELEM(bad); i++)
		ck_assert_msg(!text_ok(bad[i], strlen(bad[i])), "case %zu", i);
	ck_assert_int_eq(imx_csf_text_check((const unsigned char *)"ab\0c", 4, why, sizeof(why)),
			 -1);
	ck_assert_str_eq(why, "a NUL byte at byte 2");
	ck_assert_int_eq(imx_csf_text_check((const unsigned char *)"abc\xe9", 4, why, sizeof(why)),
			 -1);
	ck_assert_str_eq(why, "not UTF-8 text at byte 3");
}
END_TEST

START_TEST(test_name)
{
	static const char *const good[] = {"image.bin", "imx-boot-imx8mm-sd.bin-flash_evk",
					   "u-boot+spl,v2=1@x~", "a", "flash.bin.."};
	static const char *const bad[] = {
	    "",   ".",   "..",   "../x", "a/b",  "/etc/passwd",   ".hidden",
	    "-o", "a b", "a\\b", "a\"b", "a\nb", "csf-input.txt", "caf\xc3\xa9"};
	char why[128], longname[IMX_NAME_MAX + 2];

	for (size_t i = 0; i < NELEM(good); i++)
		ck_assert_msg(imx_name_check(good[i], why, sizeof(why)) == 0, "%s: %s", good[i],
			      why);
	for (size_t i = 0; i < NELEM(bad); i++) {
		why[0] = '\0';
		ck_assert_msg(imx_name_check(bad[i], why, sizeof(why)) == -1, "case %zu", i);
		ck_assert(why[0] != '\0');
	}
	ck_assert_int_eq(imx_name_check(NULL, why, sizeof(why)), -1);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(imx_name_check(longname, why, sizeof(why)), -1);
	longname[IMX_NAME_MAX] = '\0';
	ck_assert_int_eq(imx_name_check(longname, why, sizeof(why)), 0);
}
END_TEST

START_TEST(test_cstversion)
{
	static const char *const good[] = {"3.3.1", "3.3.2", "3.4.0a", "4"};
	static const char *const bad[] = {"",
					  "../x",
					  "3.3.1/../3.3.1",
					  "3..3",
					  ".3",
					  "3.",
					  "3.3.1 ",
					  "3/3",
					  "-3",
					  "3.3.1+dfsg",
					  "123456789012345678901234567890123"};

	for (size_t i = 0; i < NELEM(good); i++)
		ck_assert_msg(imx_cstversion_valid(good[i]), "%s", good[i]);
	for (size_t i = 0; i < NELEM(bad); i++)
		ck_assert_msg(!imx_cstversion_valid(bad[i]), "%s", bad[i]);
	ck_assert(!imx_cstversion_valid(NULL));
}
END_TEST

START_TEST(test_pin)
{
	static const char csf[] = "File = \"pkcs11:token=Y;object=CSF1_1;pin-value=password\"\n"
				  "File = \"pkcs11:token=Y;object=IMG1_1;pin-value=password\"\n"
				  "pin-value=passwor";
	struct buf out;

	ck_assert_uint_eq(imx_pin_count((const unsigned char *)csf, strlen(csf)), 2);
	ck_assert_uint_eq(imx_pin_count((const unsigned char *)"pin-value=passwor", 17), 0);
	ck_assert_uint_eq(imx_pin_count((const unsigned char *)"pin-value=password", 18), 1);
	buf_init(&out, BUF_UNLIMITED, 1);
	ck_assert_int_eq(
	    imx_pin_substitute((const unsigned char *)csf, strlen(csf), "0001secret", &out), 0);
	ck_assert_str_eq(buf_str(&out),
			 "File = \"pkcs11:token=Y;object=CSF1_1;pin-value=0001secret\"\n"
			 "File = \"pkcs11:token=Y;object=IMG1_1;pin-value=0001secret\"\n"
			 "pin-value=passwor");
	buf_free(&out);
	/* a PIN that holds the placeholder is not substituted again */
	buf_init(&out, BUF_UNLIMITED, 1);
	ck_assert_int_eq(imx_pin_substitute((const unsigned char *)"x pin-value=password y", 22,
					    "pin-value=password", &out),
			 0);
	ck_assert_str_eq(buf_str(&out), "x pin-value=pin-value=password y");
	buf_free(&out);
	/* a full buffer is an error */
	buf_init(&out, 10, 1);
	ck_assert_int_eq(
	    imx_pin_substitute((const unsigned char *)csf, strlen(csf), "0001secret", &out), -1);
	buf_free(&out);
}
END_TEST

/* blocks(text): imx_csf_blocks_check of text for the artifact flash.bin */
static int
blocks(const char *text, char *why, size_t whylen)
{
	return imx_csf_blocks_check((const unsigned char *)text, strlen(text), "flash.bin", why,
				    whylen);
}

START_TEST(test_blocks)
{
	static const char *const good[] = {
	    "[Header]\n  Version = 4.3\n[Install SRK]\n  File = \"crts/SRK_1_2_3_4_table.bin\"\n"
	    "[Install CSFK]\n  File = \"pkcs11:token=Y;object=CSF1_1;pin-value=password\"\n"
	    "[Authenticate Data]\n  Verification index = 2\n"
	    "  Blocks = 0x7e1000 0x0 0x2000 \"flash.bin\", \\\n"
	    "           0x7e3000 0x2000 0x100 \"./flash.bin\"\n",
	    /* a comment's quotes are no block; sections in any case */
	    "[ authenticate   DATA ]\r\n Blocks = 0x0 0x0 0x10 \"flash.bin\" # not \"x\"\n",
	    /* a data block of another section than a data section */
	    "[Install Key]\n  File = \"crts/IMG1_1_sha256_2048_65537_v3_usr_crt.pem\"\n",
	    "",
	};
	static const struct {
		const char *text, *why;
	} bad[] = {
	    {"[Authenticate Data]\n  Blocks = 0x0 0x0 0x10 \"flash.bin\", \\\n"
	     "  0x0 0x0 0x10 \"keys/CSF1_1_key.pem\"\n",
	     "a data block names \"keys/CSF1_1_key.pem\", not the artifact"},
	    {"[Authenticate Data]\n  Blocks = 0x0 0x0 0x10 \"csf-input.txt\"\n",
	     "it names csf-input.txt"},
	    {"[Install CSFK]\n  File = \"./csf-input.txt\"\n", "it names csf-input.txt"},
	    {"[Decrypt Data]\n  Blocks = 0x0 0x0 0x10 \"other.bin\"\n",
	     "a data block names \"other.bin\", not the artifact"},
	    /* a quote left open runs to the end of its line */
	    {"[Authenticate Data]\nBlocks = 0x0 0x0 0x10 \"keys/k.pem\n", "a data block names"},
	    {"[Authenticate Data]\nBlocks = 0x0 0x0 0x10 \"flash.bin2\"", "a data block names"},
	};
	char why[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(blocks(good[i], why, sizeof(why)) == 0, "good %zu: %s", i, why);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ck_assert_msg(blocks(bad[i].text, why, sizeof(why)) == -1, "bad %zu accepted", i);
		ck_assert_msg(strncmp(why, bad[i].why, strlen(bad[i].why)) == 0, "bad %zu: %s", i,
			      why);
	}
}
END_TEST

static Suite *
imxcsf_suite(void)
{
	Suite *s = suite_create("imxcsf");
	TCase *tc = tcase_create("input");

	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_name);
	tcase_add_test(tc, test_cstversion);
	tcase_add_test(tc, test_pin);
	tcase_add_test(tc, test_blocks);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = imxcsf_suite);
