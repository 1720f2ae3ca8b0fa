/* SPDX-License-Identifier: MIT */
/*
 * pkey.c: see pkey.h.  Parsed keys live in OpenSSL's memory; the blobs
 * they came from are cleansed by their owners (keystore.c), and the DER
 * decoded from them here is cleansed before it is freed.
 */
/* RSA and EC_KEY are deprecated in OpenSSL 3: see load_known() for why. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "pkey.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "log.h"
#include "util.h"

/* Sign once with key through the EVP calls the signers use. */
static void
warm_sign(EVP_PKEY *key)
{
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx != NULL && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1)
		(void)EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)"warm", 4);
	EVP_MD_CTX_free(ctx);
}

/* Make a throw-away key, write it as PKCS#8 PEM, read it back through
 * pkey_load_private and sign with it. */
static void
warm_key(EVP_PKEY *made)
{
	BIO *mem = BIO_new(BIO_s_mem());
	EVP_PKEY *key = NULL;
	char *pem;
	long len;

	if (made == NULL || mem == NULL ||
	    !PEM_write_bio_PrivateKey(mem, made, NULL, NULL, 0, NULL, NULL) ||
	    (len = BIO_get_mem_data(mem, &pem)) <= 0 ||
	    (key = pkey_load_private((const unsigned char *)pem, (size_t)len)) == NULL)
		log_warnx("OpenSSL warm-up: a throw-away key did not round-trip");
	else
		warm_sign(key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(made);
	BIO_free(mem); /* a throw-away key: nothing to cleanse */
}

const EVP_MD *
pkey_sha256(void)
{
	static EVP_MD *md;

	if (md == NULL && (md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
		ERR_clear_error();
		return EVP_sha256();
	}
	return md;
}

void
pkey_warm_up(void)
{
	static const char *const mds[] = {"SHA256", "SHA384", "SHA512", "SHA1"};

	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG | OPENSSL_INIT_ADD_ALL_CIPHERS |
				    OPENSSL_INIT_ADD_ALL_DIGESTS,
			    NULL);
	for (size_t i = 0; i < sizeof(mds) / sizeof(mds[0]); i++)
		EVP_MD_free(EVP_MD_fetch(NULL, mds[i], NULL));
	(void)pkey_sha256();
	/*
	 * The first signature of a process fetches the key management and
	 * signature implementations and sets up the random generators; done
	 * here once, every forked worker inherits them (a fork still reseeds
	 * the generators).  Small keys: only the code paths matter.
	 */
	warm_key(EVP_RSA_gen(1024));
	warm_key(EVP_EC_gen("P-256"));
	ERR_clear_error();
}

/*
 * The common key forms (PKCS#1 RSA, SEC1 EC, PKCS#8 of either) parsed with
 * the ASN.1 templates directly.  OpenSSL 3.0's generic decoder builds a
 * chain of every provider's decoders for each call, which costs more than
 * the signature itself; this path skips that.  NULL: not one of these.
 */
static EVP_PKEY *
load_known(const char *label, const unsigned char *der, long len)
{
	const unsigned char *p = der;
	EVP_PKEY *key = NULL;

	if (strcmp(label, "RSA PRIVATE KEY") == 0) {
		RSA *rsa = d2i_RSAPrivateKey(NULL, &p, len);
		if (rsa && (key = EVP_PKEY_new()) != NULL && EVP_PKEY_assign_RSA(key, rsa) == 1)
			return key;
		RSA_free(rsa);
	} else if (strcmp(label, "EC PRIVATE KEY") == 0) {
		EC_KEY *ec = d2i_ECPrivateKey(NULL, &p, len);
		if (ec && EC_KEY_get0_group(ec) && (key = EVP_PKEY_new()) != NULL &&
		    EVP_PKEY_assign_EC_KEY(key, ec) == 1)
			return key;
		EC_KEY_free(ec);
	} else if (strcmp(label, "PRIVATE KEY") == 0) {
		PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
		const ASN1_OBJECT *oid;
		const X509_ALGOR *alg;
		const unsigned char *inner;
		int innerlen;

		if (p8 == NULL || !PKCS8_pkey_get0(&oid, &inner, &innerlen, &alg, p8)) {
			PKCS8_PRIV_KEY_INFO_free(p8);
			return NULL;
		}
		if (OBJ_obj2nid(oid) == NID_rsaEncryption) {
			RSA *rsa = d2i_RSAPrivateKey(NULL, &inner, innerlen);
			if (rsa && (key = EVP_PKEY_new()) != NULL && EVP_PKEY_assign_RSA(key, rsa) == 1)
				goto done;
			RSA_free(rsa);
		} else if (OBJ_obj2nid(oid) == NID_X9_62_id_ecPublicKey) {
			const ASN1_OBJECT *curve = NULL;
			const void *pval;
			int ptype;
			EC_KEY *ec = NULL;
			EC_GROUP *group = NULL;

			X509_ALGOR_get0(NULL, &ptype, &pval, alg);
			if (ptype == V_ASN1_OBJECT)
				curve = pval;
			if (curve && (group = EC_GROUP_new_by_curve_name(OBJ_obj2nid(curve))) &&
			    (ec = EC_KEY_new()) && EC_KEY_set_group(ec, group) &&
			    d2i_ECPrivateKey(&ec, &inner, innerlen) &&
			    (key = EVP_PKEY_new()) != NULL && EVP_PKEY_assign_EC_KEY(key, ec) == 1) {
				EC_GROUP_free(group);
				goto done;
			}
			EC_GROUP_free(group);
			EC_KEY_free(ec);
		}
		EVP_PKEY_free(key);
		key = NULL;
	done:
		PKCS8_PRIV_KEY_INFO_free(p8);
		return key;
	}
	EVP_PKEY_free(key);
	return NULL;
}

EVP_PKEY *
pkey_load_private(const unsigned char *data, size_t len)
{
	EVP_PKEY *key = NULL;
	char *label = NULL, *header = NULL;
	unsigned char *der = NULL;
	long derlen = 0;
	BIO *bio;

	if (len > INT32_MAX || (bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		return NULL;
	if (PEM_read_bio(bio, &label, &header, &der, &derlen) == 1) {
		/* encrypted PEM (a header) is left to the generic path, which refuses it */
		if (header == NULL || *header == '\0')
			key = load_known(label, der, derlen);
		OPENSSL_clear_free(der, (size_t)derlen);
		OPENSSL_free(label);
		OPENSSL_free(header);
	}
	if (key == NULL) {
		(void)BIO_reset(bio);
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	}
	if (key == NULL) {
		const unsigned char *p = data;
		key = d2i_AutoPrivateKey(NULL, &p, (long)len);
	}
	BIO_free(bio);
	ERR_clear_error();
	return key;
}

X509 *
pkey_load_cert(const unsigned char *data, size_t len)
{
	X509 *cert;
	BIO *bio;

	if (len > INT32_MAX || (bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		return NULL;
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (cert == NULL) {
		const unsigned char *p = data;
		cert = d2i_X509(NULL, &p, (long)len);
	}
	BIO_free(bio);
	ERR_clear_error();
	return cert;
}

int
pkey_fingerprint(const EVP_PKEY *key, char out[65])
{
	unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
	int n = i2d_PUBKEY(key, &der);

	if (n <= 0)
		return -1;
	SHA256(der, (size_t)n, md);
	OPENSSL_free(der);
	util_hex(md, sizeof(md), out);
	return 0;
}

int
pkey_sha256_file(const char *path, char out[65])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc;

	if (fd < 0)
		return -1;
	rc = pkey_sha256_fd(fd, out);
	close(fd);
	return rc;
}

int
pkey_sha256_fd(int fd, char out[65])
{
	unsigned char buf[65536], md[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *ctx;
	int rc = -1;
	ssize_t n;

	if ((ctx = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto done;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto done;
		}
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			goto done;
	}
	if (!EVP_DigestFinal_ex(ctx, md, NULL))
		goto done;
	util_hex(md, sizeof(md), out);
	rc = 0;
done:
	EVP_MD_CTX_free(ctx);
	return rc;
}

#define NOT_FOR_KEY EVP_R_OPERATION_NOT_SUPPORTED_FOR_THIS_KEYTYPE

/* Queue an OpenSSL error saying why a signature was not made; -1. */
static int
refuse(int reason, const char *why, enum sig_scheme scheme)
{
	ERR_raise_data(ERR_LIB_EVP, reason, "%s: %s", pkey_scheme_name(scheme), why);
	return -1;
}

/* Whether scheme can be used with k, and md/dlen fit it; 0 or -1 (queued). */
static int
check_scheme(const EVP_PKEY *k, enum sig_scheme scheme, const EVP_MD *md, size_t dlen)
{
	int fits;

	switch (scheme) {
	case SIG_RSA_PKCS1:
		fits = EVP_PKEY_is_a(k, "RSA");
		break;
	case SIG_RSA_PSS:
		fits = EVP_PKEY_is_a(k, "RSA") || EVP_PKEY_is_a(k, "RSA-PSS");
		break;
	case SIG_ECDSA:
		fits = EVP_PKEY_is_a(k, "EC");
		break;
	case SIG_ED25519:
		if (!EVP_PKEY_is_a(k, "ED25519"))
			return refuse(NOT_FOR_KEY, "the key does not fit", scheme);
		if (md != NULL)
			return refuse(EVP_R_INVALID_DIGEST, "signs the message, not a digest",
				      scheme);
		return 0;
	default:
		return refuse(NOT_FOR_KEY, "unknown scheme", scheme);
	}
	if (!fits)
		return refuse(NOT_FOR_KEY, "the key does not fit", scheme);
	if (md == NULL || EVP_MD_get_size(md) <= 0 || (size_t)EVP_MD_get_size(md) != dlen)
		return refuse(EVP_R_INVALID_DIGEST, "no digest, or not the digest's length",
			      scheme);
	return 0;
}

/* A context for a signature (verify 0) or a check (1) of a digest with k
 * in scheme (not Ed25519); NULL with the reason queued. */
static EVP_PKEY_CTX *
digest_ctx(EVP_PKEY *k, enum sig_scheme scheme, int saltlen, const EVP_MD *md, int verify)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(k, NULL);

	if (pctx == NULL || (verify ? EVP_PKEY_verify_init(pctx) : EVP_PKEY_sign_init(pctx)) != 1)
		goto fail;
	if (scheme == SIG_RSA_PKCS1 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto fail;
	if (scheme == SIG_RSA_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen) != 1))
		goto fail;
	if (EVP_PKEY_CTX_set_signature_md(pctx, md) != 1)
		goto fail;
	return pctx;
fail:
	EVP_PKEY_CTX_free(pctx);
	return NULL;
}

/* Pure Ed25519 over the message msg: a one-shot EVP_DigestSign without a
 * digest. */
static int
sign_ed25519(EVP_PKEY *k, const unsigned char *msg, size_t len, unsigned char **sig, size_t *siglen)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	int rc = -1;

	if (mctx == NULL || EVP_DigestSignInit(mctx, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(mctx, NULL, siglen, msg, len) != 1)
		goto done;
	*sig = xmalloc(*siglen);
	if (EVP_DigestSign(mctx, *sig, siglen, msg, len) == 1)
		rc = 0;
done:
	EVP_MD_CTX_free(mctx);
	return rc;
}

int
pkey_sign_digest(EVP_PKEY *k, enum sig_scheme scheme, int saltlen, const EVP_MD *md,
		 const unsigned char *dg, size_t dlen, unsigned char **sig, size_t *siglen)
{
	EVP_PKEY_CTX *pctx = NULL;
	int rc = -1;

	*sig = NULL;
	*siglen = 0;
	if (check_scheme(k, scheme, md, dlen) < 0)
		return -1;
	if (scheme == SIG_ED25519) {
		rc = sign_ed25519(k, dg, dlen, sig, siglen);
		goto done;
	}
	if ((pctx = digest_ctx(k, scheme, saltlen, md, 0)) == NULL ||
	    EVP_PKEY_sign(pctx, NULL, siglen, dg, dlen) != 1)
		goto done;
	*sig = xmalloc(*siglen);
	if (EVP_PKEY_sign(pctx, *sig, siglen, dg, dlen) == 1)
		rc = 0;
done:
	if (rc < 0) {
		free(*sig);
		*sig = NULL;
		*siglen = 0;
	}
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

int
pkey_verify_digest(EVP_PKEY *k, enum sig_scheme scheme, int saltlen, const EVP_MD *md,
		   const unsigned char *dg, size_t dlen, const unsigned char *sig, size_t siglen)
{
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *mctx = NULL;
	int ok = 0;

	if (check_scheme(k, scheme, md, dlen) < 0)
		goto done;
	if (scheme == SIG_ED25519) {
		ok = (mctx = EVP_MD_CTX_new()) != NULL &&
		     EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, k) == 1 &&
		     EVP_DigestVerify(mctx, sig, siglen, dg, dlen) == 1;
		goto done;
	}
	ok = (pctx = digest_ctx(k, scheme, saltlen, md, 1)) != NULL &&
	     EVP_PKEY_verify(pctx, sig, siglen, dg, dlen) == 1;
done:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_CTX_free(pctx);
	ERR_clear_error();
	return ok;
}

int
pkey_default_scheme(const EVP_PKEY *k, enum sig_scheme *scheme)
{
	if (EVP_PKEY_is_a(k, "RSA"))
		*scheme = SIG_RSA_PKCS1;
	else if (EVP_PKEY_is_a(k, "EC"))
		*scheme = SIG_ECDSA;
	else if (EVP_PKEY_is_a(k, "ED25519"))
		*scheme = SIG_ED25519;
	else
		return -1;
	return 0;
}

const char *
pkey_scheme_name(enum sig_scheme scheme)
{
	switch (scheme) {
	case SIG_RSA_PKCS1:
		return "RSA PKCS#1 v1.5";
	case SIG_RSA_PSS:
		return "RSA-PSS";
	case SIG_ECDSA:
		return "ECDSA";
	case SIG_ED25519:
		return "Ed25519";
	}
	return "unknown scheme";
}

int
pkey_sign_with_key(void *arg, const struct pkey_sign_req *req, unsigned char **sig, size_t *siglen,
		   char *err, size_t errlen)
{
	const char *data = NULL, *reason;
	unsigned long e;
	int flags = 0;

	if (pkey_sign_digest(arg, req->scheme, req->saltlen, req->md, req->data, req->len, sig,
			     siglen) == 0)
		return 0;
	e = ERR_peek_last_error_data(&data, &flags);
	reason = e != 0 ? ERR_reason_error_string(e) : NULL;
	snprintf(err, errlen, "%s signature failed%s%s%s%s", pkey_scheme_name(req->scheme),
		 reason ? ": " : "", reason ? reason : "",
		 data && (flags & ERR_TXT_STRING) && *data ? ": " : "",
		 data && (flags & ERR_TXT_STRING) ? data : "");
	ERR_clear_error();
	return -1;
}

/* The length a signature by pub in scheme must have (exact: 1, at most:
 * 0) into *want; -1 if unknown. */
static int
expected_len(EVP_PKEY *pub, enum sig_scheme scheme, size_t *want)
{
	int size = EVP_PKEY_get_size(pub);

	if (size <= 0)
		return -1;
	*want = (size_t)size;
	return scheme != SIG_ECDSA; /* DER ECDSA signatures vary in length */
}

int
pkey_signer_sign(const struct pkey_signer *s, EVP_PKEY *pub, const struct pkey_sign_req *req,
		 unsigned char **sig, size_t *siglen, char *err, size_t errlen)
{
	size_t want;
	int exact;

	*sig = NULL;
	*siglen = 0;
	err[0] = '\0';
	if (s->sign == NULL) {
		snprintf(err, errlen, "no signer is set");
		return -1;
	}
	if (s->sign(s->arg, req, sig, siglen, err, errlen) < 0 || *sig == NULL) {
		if (err[0] == '\0')
			snprintf(err, errlen, "the signer failed without a reason");
		goto fail;
	}
	if (pub == NULL)
		return 0;
	if ((exact = expected_len(pub, req->scheme, &want)) < 0) {
		snprintf(err, errlen, "the public key's signature size is unknown");
		goto fail;
	}
	if (*siglen == 0 || (exact ? *siglen != want : *siglen > want)) {
		snprintf(err, errlen, "the signer gave a %zu-byte signature; the key makes %s%zu",
			 *siglen, exact ? "" : "at most ", want);
		goto fail;
	}
	if (!pkey_verify_digest(pub, req->scheme, req->saltlen, req->md, req->data, req->len, *sig,
				*siglen)) {
		snprintf(err, errlen,
			 "the signer's %s signature does not verify with the public key",
			 pkey_scheme_name(req->scheme));
		goto fail;
	}
	return 0;
fail:
	free(*sig);
	*sig = NULL;
	*siglen = 0;
	return -1;
}

int
pkey_ossl_fail(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_error();
	char buf[160];

	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(err, errlen, "%s: %s", what, buf);
	} else {
		snprintf(err, errlen, "%s", what);
	}
	ERR_clear_error();
	return -1;
}
