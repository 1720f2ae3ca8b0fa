/* SPDX-License-Identifier: MIT */
/*
 * check_pkey.c: unit tests of lib/pkey.c: every private key form the key
 * store may hold parses to the same key (compared by public-key
 * fingerprint against openssl's own reading), encrypted keys and garbage
 * are refused, certificates load from PEM and DER; raw signatures are
 * openssl's bytes where the scheme is deterministic and verify with
 * openssl where it is not, and a scheme that does not fit is refused.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

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
	static const char *const refused[] = {"enc.pem", "enc8.pem", "junk", "cut.pem"};

	SH_OK("openssl genrsa -aes128 -passout pass:x -out enc.pem 2048 2>/dev/null");
	SH_OK("openssl genrsa -out plain.pem 2048 2>/dev/null && "
	      "openssl pkcs8 -topk8 -v2 aes-128-cbc -passout pass:x -in plain.pem -out enc8.pem");
	SH_OK("printf 'not a key' >junk; head -c 300 plain.pem >cut.pem");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		ck_assert_msg(load(refused[i]) == NULL, "%s loaded", refused[i]);
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

/* The digest md of dir/name into out; its length. */
static size_t
digest_of(const char *name, const EVP_MD *md, unsigned char out[EVP_MAX_MD_SIZE])
{
	char path[512], *buf;
	unsigned int n;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(util_read_file(path, 1 << 20, &buf, &len), 0);
	ck_assert_int_eq(EVP_Digest(buf, len, out, &n, md, NULL), 1);
	free(buf);
	return n;
}

/* sig must be the bytes of dir/name. */
static void
assert_file_is(const char *name, const unsigned char *sig, size_t siglen)
{
	char path[512], *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(util_read_file(path, 1 << 20, &buf, &len), 0);
	ck_assert_uint_eq(len, siglen);
	ck_assert_msg(memcmp(buf, sig, len) == 0, "signature differs from %s", name);
	free(buf);
}

static void
write_sig(const char *name, const unsigned char *sig, size_t siglen)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(util_write_file(path, sig, siglen, 0600), 0);
}

/* Sign dir/msg's md digest with key file kname in scheme; *sig malloc'd. */
static size_t
sign_msg(const char *kname, enum sig_scheme scheme, int saltlen, const EVP_MD *md,
	 unsigned char **sig)
{
	unsigned char dg[EVP_MAX_MD_SIZE];
	size_t dlen = digest_of("msg", md, dg), siglen;
	EVP_PKEY *k = load(kname);

	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(pkey_sign_digest(k, scheme, saltlen, md, dg, dlen, sig, &siglen), 0);
	ck_assert_int_eq(pkey_verify_digest(k, scheme, saltlen, md, dg, dlen, *sig, siglen), 1);
	(*sig)[siglen / 2] ^= 1;
	ck_assert_int_eq(pkey_verify_digest(k, scheme, saltlen, md, dg, dlen, *sig, siglen), 0);
	(*sig)[siglen / 2] ^= 1;
	EVP_PKEY_free(k);
	return siglen;
}

/* PKCS#1 v1.5 is deterministic: openssl dgst -sign's bytes.  PSS with no
 * salt is too; with a digest-long salt, openssl verifies it. */
START_TEST(test_sign_rsa)
{
	unsigned char *sig;
	size_t n;

	SH_OK("openssl genrsa -out srsa.pem 2048 2>/dev/null && head -c 5000 /dev/urandom >msg && "
	      "openssl pkey -in srsa.pem -pubout -out srsa.pub && "
	      "openssl dgst -sha256 -sign srsa.pem -out pkcs1-256.sig msg && "
	      "openssl dgst -sha512 -sign srsa.pem -out pkcs1-512.sig msg && "
	      "openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:0 "
	      "-sign srsa.pem -out pss0.sig msg");
	n = sign_msg("srsa.pem", SIG_RSA_PKCS1, 0, EVP_sha256(), &sig);
	assert_file_is("pkcs1-256.sig", sig, n);
	free(sig);
	n = sign_msg("srsa.pem", SIG_RSA_PKCS1, 0, EVP_sha512(), &sig);
	assert_file_is("pkcs1-512.sig", sig, n);
	free(sig);
	n = sign_msg("srsa.pem", SIG_RSA_PSS, 0, EVP_sha256(), &sig);
	assert_file_is("pss0.sig", sig, n);
	free(sig);
	n = sign_msg("srsa.pem", SIG_RSA_PSS, RSA_PSS_SALTLEN_DIGEST, EVP_sha256(), &sig);
	write_sig("pss.sig", sig, n);
	free(sig);
	SH_OK("openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 "
	      "-verify srsa.pub -signature pss.sig msg >/dev/null");
}
END_TEST

START_TEST(test_sign_ecdsa)
{
	unsigned char *sig;
	size_t n;

	SH_OK("openssl ecparam -name prime256v1 -genkey -noout -out sec.pem 2>/dev/null && "
	      "head -c 5000 /dev/urandom >msg && openssl pkey -in sec.pem -pubout -out sec.pub");
	n = sign_msg("sec.pem", SIG_ECDSA, 0, EVP_sha256(), &sig);
	write_sig("ec.sig", sig, n);
	free(sig);
	SH_OK("openssl dgst -sha256 -verify sec.pub -signature ec.sig msg >/dev/null");
}
END_TEST

/* Ed25519 signs the message itself (md NULL): openssl pkeyutl -rawin's
 * bytes; given a digest algorithm, it refuses. */
START_TEST(test_sign_ed25519)
{
	unsigned char *sig, dg[EVP_MAX_MD_SIZE];
	char path[512], *msg;
	size_t len, siglen;
	EVP_PKEY *k;

	SH_OK("openssl genpkey -algorithm ed25519 -out sed.pem 2>/dev/null && "
	      "head -c 5000 /dev/urandom >msg && "
	      "openssl pkeyutl -sign -rawin -inkey sed.pem -in msg -out ed.sig");
	snprintf(path, sizeof(path), "%s/msg", dir);
	ck_assert_int_eq(util_read_file(path, 1 << 20, &msg, &len), 0);
	ck_assert_ptr_nonnull(k = load("sed.pem"));
	ck_assert_int_eq(
	    pkey_sign_digest(k, SIG_ED25519, 0, NULL, (unsigned char *)msg, len, &sig, &siglen), 0);
	assert_file_is("ed.sig", sig, siglen);
	ck_assert_int_eq(
	    pkey_verify_digest(k, SIG_ED25519, 0, NULL, (unsigned char *)msg, len, sig, siglen), 1);
	free(sig);
	digest_of("msg", EVP_sha256(), dg);
	ck_assert_int_eq(pkey_sign_digest(k, SIG_ED25519, 0, EVP_sha256(), dg, 32, &sig, &siglen),
			 -1);
	ck_assert_ptr_null(sig);
	ck_assert_uint_ne(ERR_peek_error(), 0);
	ERR_clear_error();
	EVP_PKEY_free(k);
	free(msg);
}
END_TEST

/* A scheme that does not fit the key, or a digest of the wrong length: -1,
 * no signature, a reason on OpenSSL's queue and from pkey_sign_with_key. */
START_TEST(test_sign_refused)
{
	struct pkey_sign_req req = {.scheme = SIG_ECDSA, .md = EVP_sha256(), .len = 32};
	unsigned char dg[EVP_MAX_MD_SIZE] = {0}, *sig = (unsigned char *)"x";
	EVP_PKEY *rsa, *ec;
	enum sig_scheme scheme;
	size_t siglen = 1;
	char err[256];

	SH_OK("openssl genrsa -out rrsa.pem 1024 2>/dev/null && "
	      "openssl ecparam -name prime256v1 -genkey -noout -out rec.pem 2>/dev/null");
	ck_assert_ptr_nonnull(rsa = load("rrsa.pem"));
	ck_assert_ptr_nonnull(ec = load("rec.pem"));
	ck_assert_int_eq(
	    pkey_sign_digest(ec, SIG_RSA_PKCS1, 0, EVP_sha256(), dg, 32, &sig, &siglen), -1);
	ck_assert_ptr_null(sig);
	ck_assert_uint_eq(siglen, 0);
	ck_assert_uint_ne(ERR_peek_error(), 0);
	ERR_clear_error();
	ck_assert_int_eq(pkey_sign_digest(ec, SIG_RSA_PSS, -1, EVP_sha256(), dg, 32, &sig, &siglen),
			 -1);
	ck_assert_int_eq(pkey_sign_digest(rsa, SIG_ECDSA, 0, EVP_sha256(), dg, 32, &sig, &siglen),
			 -1);
	ck_assert_int_eq(pkey_sign_digest(rsa, SIG_ED25519, 0, NULL, dg, 32, &sig, &siglen), -1);
	ck_assert_int_eq(
	    pkey_sign_digest(rsa, SIG_RSA_PKCS1, 0, EVP_sha256(), dg, 31, &sig, &siglen), -1);
	ck_assert_int_eq(pkey_sign_digest(rsa, SIG_RSA_PKCS1, 0, NULL, dg, 32, &sig, &siglen), -1);
	ck_assert_int_eq(
	    pkey_sign_digest(rsa, (enum sig_scheme)99, 0, EVP_sha256(), dg, 32, &sig, &siglen), -1);
	ERR_clear_error();
	req.data = dg;
	ck_assert_int_eq(pkey_sign_with_key(rsa, &req, &sig, &siglen, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "ECDSA signature failed: operation not supported for this keytype: "
			      "ECDSA: the key does not fit");
	ck_assert_uint_eq(ERR_peek_error(), 0);
	ck_assert_int_eq(pkey_default_scheme(rsa, &scheme), 0);
	ck_assert_int_eq(scheme, SIG_RSA_PKCS1);
	ck_assert_int_eq(pkey_default_scheme(ec, &scheme), 0);
	ck_assert_int_eq(scheme, SIG_ECDSA);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
}
END_TEST

/* A signer without a public key to check against is taken at its word;
 * one with none set is an error, not a crash. */
START_TEST(test_signer_sign)
{
	struct pkey_sign_req req = {.scheme = SIG_ECDSA, .md = EVP_sha256(), .len = 32};
	unsigned char dg[32] = {7}, *sig;
	struct pkey_signer s = {0};
	size_t siglen;
	char err[256];
	EVP_PKEY *ec;

	SH_OK("openssl ecparam -name prime256v1 -genkey -noout -out tec.pem 2>/dev/null");
	ck_assert_ptr_nonnull(ec = load("tec.pem"));
	req.data = dg;
	ck_assert_int_eq(pkey_signer_sign(&s, ec, &req, &sig, &siglen, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no signer is set");
	ck_assert_ptr_null(sig);
	s.sign = pkey_sign_with_key;
	s.arg = ec;
	ck_assert_int_eq(pkey_signer_sign(&s, ec, &req, &sig, &siglen, err, sizeof(err)), 0);
	ck_assert_uint_le(siglen, (size_t)EVP_PKEY_get_size(ec));
	free(sig);
	ck_assert_int_eq(pkey_signer_sign(&s, NULL, &req, &sig, &siglen, err, sizeof(err)), 0);
	free(sig);
	ck_assert_str_eq(pkey_scheme_name(SIG_ED25519), "Ed25519");
	EVP_PKEY_free(ec);
}
END_TEST

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

CHECK_MAIN(.name = "pkey", .timeout = 60, .before = make_dir, .after = remove_dir,
	   .tests = CHECK_TESTS(test_rsa_forms, test_ec_forms, test_other_algorithms_fall_back,
				test_refused, test_certificates, test_sign_rsa, test_sign_ecdsa,
				test_sign_ed25519, test_sign_refused, test_signer_sign));
