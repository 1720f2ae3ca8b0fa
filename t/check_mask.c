/* SPDX-License-Identifier: MIT */
/*
 * check_mask.c: unit tests of lib/mask.c: a key echoed by a tool is
 * masked however it is printed (PEM lines re-wrapped, a hex dump of the
 * file, of the decoded key with colons, C-style 0x bytes, a fragment in
 * the middle of a line, hex text keys) and ordinary output is left alone.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "check_main.h"
#include "mask.h"

static struct mask *m;
static char *pem;	   /* the key file */
static unsigned char *der; /* its decoded body */
static int derlen;

static void
setup(void)
{
	EVP_PKEY *k = EVP_RSA_gen(1024);
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;

	ck_assert_ptr_nonnull(k);
	ck_assert(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL));
	len = BIO_get_mem_data(b, &data);
	pem = strndup(data, (size_t)len);
	BIO_free(b);
	derlen = i2d_PrivateKey(k, &der);
	ck_assert_int_gt(derlen, 0);
	EVP_PKEY_free(k);
	m = mask_new();
	mask_add_key(m, (const unsigned char *)pem, strlen(pem));
}

static void
teardown(void)
{
	mask_free(m);
	free(pem);
	OPENSSL_free(der);
}

/* Assert that line comes out without any 16-character run of secret. */
static void
assert_masked(const char *line, const char *secret_run)
{
	char *out = mask_apply(m, line);

	ck_assert_msg(strstr(out, "***") != NULL, "not masked: %s", out);
	ck_assert_msg(secret_run == NULL || strstr(out, secret_run) == NULL, "leaked: %s", out);
	free(out);
}

static void
hex_with(const unsigned char *d, size_t n, const char *sep, const char *pre, char *out)
{
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		sprintf(out + strlen(out), "%s%s%02X", i ? sep : "", pre, d[i]);
}

START_TEST(test_pem_lines_rewrapped)
{
	char body[64], line[200];
	const char *p = strchr(pem, '\n') + 1;

	/* a whole line, as before */
	snprintf(line, sizeof(line), "%.64s", p);
	assert_masked(line, line);
	/* a fragment split across the tool's own lines, inside other text */
	memcpy(body, p + 10, 30);
	body[30] = '\0';
	snprintf(line, sizeof(line), "error: bad key data near '%s' (offset 10)", body);
	assert_masked(line, body + 5);
}
END_TEST

START_TEST(test_hex_dumps)
{
	char line[1024], run[40];

	/* the decoded key, openssl-style: "30:82:02:5c:02:01:00:..." */
	hex_with(der + 100, 24, ":", "", line);
	for (char *c = line; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'F' ? *c + 32 : *c);
	assert_masked(line, NULL);
	/* C array of the decoded bytes */
	hex_with(der + 200, 20, ", ", "0x", line);
	assert_masked(line, NULL);
	/* xxd of the file itself: offset, grouped hex, ascii column */
	snprintf(line, sizeof(line), "00000040: ");
	for (int i = 0; i < 16; i += 2)
		sprintf(line + strlen(line), "%02x%02x ", (unsigned char)pem[64 + i],
			(unsigned char)pem[65 + i]);
	strcat(line, " ................");
	assert_masked(line, NULL);
	/* the masked line keeps no 8-byte run of the hex; the words around it
	 * hold no hex digit, which the key's next or previous digit could
	 * extend the masked run over ("dump" and "end" did, now and then) */
	hex_with(der + 300, 16, "", "", run);
	snprintf(line, sizeof(line), "print %s now", run);
	{
		char *out = mask_apply(m, line);

		ck_assert_str_eq(out, "print *** now");
		free(out);
	}
}
END_TEST

START_TEST(test_hex_text_key)
{
	const char sbk[] = "0x12345678 0x9abcdef0 0x0fedcba9 0x87654321\n";
	struct mask *h = mask_new();
	char *out;

	mask_add_key(h, (const unsigned char *)sbk, sizeof(sbk) - 1);
	out = mask_apply(h, "SBK: 123456789ABCDEF00FEDCBA987654321");
	ck_assert_str_eq(out, "SBK: ***");
	free(out);
	out = mask_apply(h, "key=[0x12345678, 0x9abcdef0, 0x0fedcba9]");
	ck_assert_str_eq(out, "key=[***]");
	free(out);
	mask_free(h);
}
END_TEST

START_TEST(test_ordinary_output)
{
	static const char *const lines[] = {
		"tegraflash.py --chip 0x19 --cmd sign",
		"Generating signature for mb1_t194_prod.bin (sha256 "
		"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0)",
		"-----BEGIN PUBLIC KEY-----",
		"",
		"short",
	};

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		char *out = mask_apply(m, lines[i]);

		ck_assert_str_eq(out, lines[i]);
		free(out);
	}
	ck_assert_uint_ge(mask_count(m), 2);
	{
		char *out = mask_apply(NULL, "anything at all, long enough to matter");

		ck_assert_str_eq(out, "anything at all, long enough to matter");
		free(out);
	}
}
END_TEST

static Suite *
mask_suite(void)
{
	Suite *s = suite_create("mask");
	TCase *tc = tcase_create("mask");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pem_lines_rewrapped);
	tcase_add_test(tc, test_hex_dumps);
	tcase_add_test(tc, test_hex_text_key);
	tcase_add_test(tc, test_ordinary_output);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = mask_suite);
