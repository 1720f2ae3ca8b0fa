/* SPDX-License-Identifier: MIT */
/*
 * check_cmssign.c: unit tests of lib/cmssign.c, the detached CMS
 * SignedData with signed attributes that /sign/swupdate answers.  The
 * oracle is `openssl cms -sign -binary -nosmimecap -outform DER`: with an
 * RSA key and the signing time openssl put in, ours must be the same
 * bytes, whether the signer holds the key or only the certificate and a
 * callback (as with a separate key process).
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/x509.h>

#include "check_main.h"
#include "check_signer.h"
#include "cmssign.h"
#include "pkey.h"
#include "util.h"

static char dir[] = "/tmp/check_cmssign.XXXXXX", err[512];

#define SH_OK(...) CHECK_SH_OK(dir, __VA_ARGS__)

/* The private key (key != NULL) or the certificate in dir/name. */
static void
load(const char *name, EVP_PKEY **key, X509 **cert)
{
	char *buf;
	size_t len;

	check_slurp(dir, name, &buf, &len);
	if (key != NULL)
		ck_assert_ptr_nonnull(*key = pkey_load_private((unsigned char *)buf, len));
	else
		ck_assert_ptr_nonnull(*cert = pkey_load_cert((unsigned char *)buf, len));
	util_cleanse_free(buf, len);
}

static EVP_PKEY *
load_key(const char *name)
{
	EVP_PKEY *key;

	load(name, &key, NULL);
	return key;
}

static X509 *
load_cert(const char *name)
{
	X509 *cert;

	load(name, NULL, &cert);
	return cert;
}

/* The md digest of dir/name. */
static unsigned int
digest_file(const char *name, const EVP_MD *md, unsigned char out[EVP_MAX_MD_SIZE])
{
	unsigned int len;
	char *buf;
	size_t n;

	check_slurp(dir, name, &buf, &n);
	ck_assert_int_eq(EVP_Digest(buf, n, out, &len, md, NULL), 1);
	free(buf);
	return len;
}

/* The signingTime attribute of the DER SignedData in dir/name. */
static time_t
signing_time(const char *name)
{
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	ASN1_TYPE *value;
	ASN1_TIME *epoch;
	const unsigned char *p;
	char *buf;
	size_t len;
	int loc, days, secs;

	check_slurp(dir, name, &buf, &len);
	p = (const unsigned char *)buf;
	ck_assert_ptr_nonnull(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len));
	ck_assert_ptr_nonnull(si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0));
	ck_assert_int_ge(loc = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1), 0);
	value = X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, loc), 0);
	ck_assert_ptr_nonnull(value);
	ck_assert_int_eq(value->type, V_ASN1_UTCTIME);
	ck_assert_ptr_nonnull(epoch = ASN1_TIME_set(NULL, 0));
	ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, epoch, value->value.utctime), 1);
	ASN1_TIME_free(epoch);
	CMS_ContentInfo_free(cms);
	free(buf);
	return (time_t)days * 86400 + secs;
}

/* Ours over dir/content with digest md at time when, compared to dir/ref. */
static void
assert_same_as(const char *ref, const struct pkey_signer *s, const EVP_MD *md)
{
	unsigned char dg[EVP_MAX_MD_SIZE], *der;
	unsigned int dlen = digest_file("content", md, dg);
	size_t derlen, reflen;
	char *want;

	ck_assert_msg(cmssign_detached(s, md, dg, dlen, signing_time(ref), &der, &derlen, err,
				       sizeof(err)) == 0,
		      "%s", err);
	check_slurp(dir, ref, &want, &reflen);
	ck_assert_uint_eq(derlen, reflen);
	ck_assert_msg(memcmp(der, want, derlen) == 0, "differs from openssl cms -sign (%s)", ref);
	free(want);
	free(der);
}

/* With the key, and through a key-less callback: openssl's bytes, for the
 * default SHA-256 and for SHA-512. */
START_TEST(test_like_openssl_cms)
{
	struct check_signer f = {0};
	EVP_PKEY *key = load_key("rsa.key");
	X509 *cert = load_cert("rsa.crt");
	struct pkey_signer local = {cert, pkey_sign_with_key, key};
	struct pkey_signer remote = {cert, check_signer_sign, &f};

	SH_OK("openssl cms -sign -binary -nosmimecap -outform DER -in content -signer rsa.crt "
	      "-inkey rsa.key -out ref256.der");
	SH_OK("openssl cms -sign -binary -nosmimecap -outform DER -md sha512 -in content "
	      "-signer rsa.crt -inkey rsa.key -out ref512.der");
	assert_same_as("ref256.der", &local, EVP_sha256());
	assert_same_as("ref512.der", &local, EVP_sha512());
	f.key = key;
	assert_same_as("ref256.der", &remote, EVP_sha256());
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.last.scheme, SIG_RSA_PKCS1);
	ck_assert_ptr_eq(f.last.md, EVP_sha256());
	ck_assert_uint_eq(f.last.len, 32);
	X509_free(cert);
	EVP_PKEY_free(key);
}
END_TEST

/* A stand-in key process holding keyfile, for the certificate certfile,
 * and the SHA-256 of "content". */
struct remote {
	struct check_signer f;
	X509 *cert;
	struct pkey_signer signer;
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned int dlen;
};

static void
remote_open(struct remote *r, const char *certfile, const char *keyfile)
{
	memset(r, 0, sizeof(*r));
	r->cert = load_cert(certfile);
	r->f.key = load_key(keyfile);
	r->signer = (struct pkey_signer){r->cert, check_signer_sign, &r->f};
	r->dlen = digest_file("content", EVP_sha256(), r->dg);
}

static void
remote_close(struct remote *r)
{
	EVP_PKEY_free(r->f.key);
	X509_free(r->cert);
}

/* With the S/MIME capabilities (/sign/tegra/uefi's signature): the bytes
 * of openssl cms -sign without -nosmimecap. */
START_TEST(test_like_openssl_cms_smimecap)
{
	struct remote r;
	unsigned char *der;
	size_t derlen, reflen;
	char *want;

	remote_open(&r, "rsa.crt", "rsa.key");
	SH_OK("openssl cms -sign -binary -outform der -in content -signer rsa.crt -inkey rsa.key "
	      "-out refcap.der");
	ck_assert_msg(cmssign_detached_opts(&r.signer, EVP_sha256(), r.dg, r.dlen,
					    signing_time("refcap.der"), CMSSIGN_SMIMECAP, &der,
					    &derlen, err, sizeof(err)) == 0,
		      "%s", err);
	check_slurp(dir, "refcap.der", &want, &reflen);
	ck_assert_uint_eq(derlen, reflen);
	ck_assert_msg(memcmp(der, want, derlen) == 0, "differs from openssl cms -sign");
	free(want);
	free(der);
	remote_close(&r);
}
END_TEST

/* An EC certificate: ECDSA is asked for and openssl verifies the result
 * against the content. */
START_TEST(test_ec_verifies)
{
	struct remote r;
	unsigned char *der;
	size_t derlen;
	char path[PATH_MAX];

	remote_open(&r, "ec.crt", "ec.key");
	ck_assert_msg(cmssign_detached(&r.signer, EVP_sha256(), r.dg, r.dlen, 1700000000, &der,
				       &derlen, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(r.f.last.scheme, SIG_ECDSA);
	snprintf(path, sizeof(path), "%s/ec.der", dir);
	ck_assert_int_eq(util_write_file(path, der, derlen, 0600), 0);
	free(der);
	SH_OK("openssl cms -verify -binary -inform DER -in ec.der -content content -CAfile ec.crt "
	      "-purpose any -out /dev/null 2>/dev/null");
	SH_OK("! openssl cms -verify -binary -inform DER -in ec.der -content rsa.crt "
	      "-CAfile ec.crt -purpose any -out /dev/null 2>/dev/null");
	SH_OK("openssl cms -cmsout -print -inform DER -in ec.der | grep -q 'Nov 14 22:13:20 2023'");
	remote_close(&r);
}
END_TEST

/* cmssign_detached over a dummy digest of dlen bytes, expected to fail:
 * then no output is left. */
static void
assert_fails(const struct pkey_signer *s, size_t dlen)
{
	unsigned char dg[EVP_MAX_MD_SIZE] = {1}, *der = (unsigned char *)"x";
	size_t derlen = 1;

	ck_assert_int_eq(
	    cmssign_detached(s, EVP_sha256(), dg, dlen, 0, &der, &derlen, err, sizeof(err)), -1);
	ck_assert_ptr_null(der);
	ck_assert_uint_eq(derlen, 0);
}

/* Each way a signer can let us down gives an error and no output. */
START_TEST(test_signer_failures)
{
	struct remote r;
	struct check_signer *f = &r.f;
	struct pkey_signer *remote = &r.signer;

	remote_open(&r, "rsa.crt", "rsa.key");
	f->mode = 1;
	assert_fails(remote, 32);
	ck_assert_str_eq(err, "key process: no such key");
	f->mode = 2;
	assert_fails(remote, 32);
	ck_assert_str_eq(err, "the signer gave a 255-byte signature; the key makes 256");
	/* the right length, the wrong key */
	f->mode = 0;
	EVP_PKEY_free(f->key);
	f->key = load_key("other.key");
	assert_fails(remote, 32);
	ck_assert_str_eq(err, "the signer's RSA PKCS#1 v1.5 signature does not verify with the "
			      "public key");
	/* a digest that is not the digest's length never reaches the signer */
	f->calls = 0;
	assert_fails(remote, 31);
	ck_assert_str_eq(err, "the content digest is not a SHA256 digest");
	ck_assert_int_eq(f->calls, 0);
	/* no certificate */
	remote->cert = NULL;
	assert_fails(remote, 32);
	ck_assert_str_eq(err, "the certificate's key is not an RSA or EC key");
	remote_close(&r); /* r.cert is still r's to free */
}
END_TEST

/* Ed25519 in CMS (RFC 8419) is not what swupdate verifies: refused. */
START_TEST(test_ed25519_refused)
{
	X509 *cert = load_cert("ed.crt");
	EVP_PKEY *key = load_key("ed.key");
	struct pkey_signer local = {cert, pkey_sign_with_key, key};

	assert_fails(&local, 32);
	ck_assert_str_eq(err, "the certificate's key is not an RSA or EC key");
	EVP_PKEY_free(key);
	X509_free(cert);
}
END_TEST

static Suite *
cmssign_suite(void)
{
	Suite *s = suite_create("cmssign");
	TCase *tc = tcase_create("cmssign");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_like_openssl_cms);
	tcase_add_test(tc, test_like_openssl_cms_smimecap);
	tcase_add_test(tc, test_ec_verifies);
	tcase_add_test(tc, test_signer_failures);
	tcase_add_test(tc, test_ed25519_refused);
	suite_add_tcase(s, tc);
	return s;
}

/* Keys, certificates and the content, once for the run; 0 or -1. */
static int
setup(void)
{
	int rc;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	pkey_warm_up();
	rc = check_sh(dir,
		      "openssl req -new -nodes -batch -x509 -days 30 -subj '/O=test/CN=cms signer' "
		      "-newkey rsa:2048 -keyout rsa.key -out rsa.crt 2>/dev/null && "
		      "openssl req -new -nodes -batch -x509 -days 30 -subj /CN=ec -newkey ec "
		      "-pkeyopt ec_paramgen_curve:P-256 -keyout ec.key -out ec.crt 2>/dev/null && "
		      "openssl req -new -nodes -batch -x509 -days 30 -subj /CN=ed -newkey ed25519 "
		      "-keyout ed.key -out ed.crt 2>/dev/null && "
		      "openssl genrsa -out other.key 2048 2>/dev/null && "
		      "head -c 10000 /dev/urandom >content");
	return rc == 0 ? 0 : -1;
}

static void
teardown(void)
{
	if (check_sh(NULL, "rm -rf '%s'", dir) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

CHECK_MAIN(.suite = cmssign_suite, .before = setup, .after = teardown);
