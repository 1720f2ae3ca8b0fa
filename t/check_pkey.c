/* SPDX-License-Identifier: MIT */
/*
 * check_pkey.c: unit tests of lib/pkey.c: every private key form the key
 * store may hold parses to the same key (compared by public-key
 * fingerprint against openssl's own reading), encrypted keys and garbage
 * are refused, certificates load from PEM and DER.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "check_main.h"
#include "pkey.h"
#include "util.h"

static char dir[] = "/tmp/check_pkey.XXXXXX";

/* Run a command in dir; the test fails when it fails. */
#define SH_OK(cmd) ck_assert_msg(check_sh(dir, "%s", cmd) == 0, "failed: %s", cmd)

static EVP_PKEY *
load(const char *name)
{
	char path[512], *buf;
	size_t len;
	EVP_PKEY *k;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(util_read_file(path, 1 << 20, &buf, &len), 0);
	k = pkey_load_private((unsigned char *)buf, len);
	free(buf);
	return k;
}

/* The fingerprint openssl itself computes from the key file's public part. */
static void
expected_fpr(const char *name, char out[65])
{
	char cmd[1024];
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "openssl pkey -in %s/%s -pubout -outform DER 2>/dev/null | sha256sum | cut -c1-64",
		 dir, name);
	ck_assert_ptr_nonnull(p = popen(cmd, "r"));
	ck_assert_ptr_nonnull(fgets(out, 65, p));
	pclose(p);
}

static void
same_key(const char *name)
{
	char want[65], got[65];
	EVP_PKEY *k = load(name);

	ck_assert_msg(k != NULL, "%s did not load", name);
	expected_fpr(name, want);
	ck_assert_int_eq(pkey_fingerprint(k, got), 0);
	ck_assert_str_eq(got, want);
	EVP_PKEY_free(k);
}

START_TEST(test_rsa_forms)
{
	SH_OK("openssl genrsa -traditional -out rsa1.pem 2048 2>/dev/null");
	SH_OK("openssl pkcs8 -topk8 -nocrypt -in rsa1.pem -out rsa8.pem");
	SH_OK("openssl pkey -in rsa1.pem -outform DER -out rsa.der");
	same_key("rsa1.pem");
	same_key("rsa8.pem");
	same_key("rsa.der");
}
END_TEST

START_TEST(test_ec_forms)
{
	SH_OK("openssl ecparam -name prime256v1 -genkey -noout -out ec1.pem 2>/dev/null");
	SH_OK("openssl pkcs8 -topk8 -nocrypt -in ec1.pem -out ec8.pem");
	SH_OK("openssl ecparam -name secp384r1 -genkey -noout -out ec384.pem 2>/dev/null");
	SH_OK("openssl ecparam -name prime256v1 -genkey -out ecparams.pem 2>/dev/null");
	same_key("ec1.pem");
	same_key("ec8.pem");
	same_key("ec384.pem");
	same_key("ecparams.pem"); /* EC PARAMETERS block before the key */
}
END_TEST

START_TEST(test_other_algorithms_fall_back)
{
	SH_OK("openssl genpkey -algorithm ed25519 -out ed.pem 2>/dev/null");
	same_key("ed.pem");
}
END_TEST

START_TEST(test_refused)
{
	SH_OK("openssl genrsa -aes128 -passout pass:x -out enc.pem 2048 2>/dev/null");
	SH_OK("openssl genrsa -out plain.pem 2048 2>/dev/null && "
	   "openssl pkcs8 -topk8 -v2 aes-128-cbc -passout pass:x -in plain.pem -out enc8.pem");
	SH_OK("printf 'not a key' >junk; head -c 300 plain.pem >cut.pem");
	ck_assert_ptr_null(load("enc.pem"));
	ck_assert_ptr_null(load("enc8.pem"));
	ck_assert_ptr_null(load("junk"));
	ck_assert_ptr_null(load("cut.pem"));
}
END_TEST

START_TEST(test_certificates)
{
	char *buf;
	size_t len;
	char path[512];
	X509 *c;

	SH_OK("openssl req -x509 -new -nodes -newkey rsa:2048 -subj /CN=t -keyout k.pem -out c.pem "
	   "2>/dev/null && openssl x509 -in c.pem -outform DER -out c.der");
	snprintf(path, sizeof(path), "%s/c.pem", dir);
	ck_assert_int_eq(util_read_file(path, 1 << 20, &buf, &len), 0);
	ck_assert_ptr_nonnull(c = pkey_load_cert((unsigned char *)buf, len));
	X509_free(c);
	free(buf);
	snprintf(path, sizeof(path), "%s/c.der", dir);
	ck_assert_int_eq(util_read_file(path, 1 << 20, &buf, &len), 0);
	ck_assert_ptr_nonnull(c = pkey_load_cert((unsigned char *)buf, len));
	X509_free(c);
	free(buf);
	ck_assert_ptr_null(pkey_load_cert((const unsigned char *)"junk", 4));
}
END_TEST

static Suite *
pkey_suite(void)
{
	Suite *s = suite_create("pkey");
	TCase *tc = tcase_create("pkey");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rsa_forms);
	tcase_add_test(tc, test_ec_forms);
	tcase_add_test(tc, test_other_algorithms_fall_back);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_certificates);
	suite_add_tcase(s, tc);
	return s;
}

/* One scratch directory for the whole run; 0 or -1. */
static int
make_dir(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	pkey_warm_up();
	return 0;
}

static void
remove_dir(void)
{
	if (check_sh(NULL, "rm -rf '%s'", dir) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

CHECK_MAIN(.suite = pkey_suite, .before = make_dir, .after = remove_dir);
