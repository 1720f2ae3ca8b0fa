/* SPDX-License-Identifier: MIT */
/*
 * mender_key.c: see mender_key.h.
 */
#include "mender_key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "pkey.h"
#include "util.h"

struct mender_key {
	EVP_PKEY *pkey;
	int is_ec;
	size_t sig_len;
	char desc[32];
};

/* Check the key's kind and fill in what its signatures look like; 0, or
 * -1 with a reason (k is freed). */
static int
classify(struct mender_key *k, char *err, size_t errlen)
{
	EVP_PKEY *pkey = k->pkey;

	if (EVP_PKEY_get_id(pkey) == EVP_PKEY_RSA) {
		int bytes = EVP_PKEY_get_size(pkey);

		k->sig_len = 4 * (((size_t)bytes + 2) / 3);
		snprintf(k->desc, sizeof(k->desc), "RSA-%d", EVP_PKEY_get_bits(pkey));
	} else if (EVP_PKEY_get_id(pkey) == EVP_PKEY_EC) {
		char group[64];

		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
						   sizeof(group), NULL) != 1 ||
		    strcmp(group, SN_X9_62_prime256v1) != 0) {
			snprintf(err, errlen, "EC key is not on curve P-256");
			mender_key_free(k);
			return -1;
		}
		k->is_ec = 1;
		k->sig_len = 88; /* base64 of 64 bytes */
		snprintf(k->desc, sizeof(k->desc), "EC-P256");
	} else {
		snprintf(err, errlen, "key type is neither RSA nor EC");
		mender_key_free(k);
		return -1;
	}
	return 0;
}

/* A mender_key for pkey (owned from now on) into *out; 0 or -1. */
static int
adopt(EVP_PKEY *pkey, struct mender_key **out, char *err, size_t errlen)
{
	struct mender_key *k = xcalloc(1, sizeof(*k));

	k->pkey = pkey;
	if (classify(k, err, errlen) < 0)
		return -1;
	*out = k;
	return 0;
}

int
mender_key_load(const void *pem, size_t len, struct mender_key **out, char *err, size_t errlen)
{
	EVP_PKEY *pkey;

	*out = NULL;
	if ((pkey = pkey_load_private(pem, len)) == NULL) {
		snprintf(err, errlen, "key is not an unencrypted private key");
		return -1;
	}
	return adopt(pkey, out, err, errlen);
}

int
mender_key_from_public(const unsigned char *der, size_t len, struct mender_key **out, char *err,
		       size_t errlen)
{
	const unsigned char *p = der;
	EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)len);

	*out = NULL;
	if (pkey == NULL || p != der + len) {
		EVP_PKEY_free(pkey);
		snprintf(err, errlen, "not a DER public key");
		return -1;
	}
	return adopt(pkey, out, err, errlen);
}

void
mender_key_free(struct mender_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

size_t
mender_key_sig_len(const struct mender_key *k)
{
	return k->sig_len;
}

const char *
mender_key_describe(const struct mender_key *k)
{
	return k->desc;
}

int
mender_key_fingerprint(const struct mender_key *k, char out[65])
{
	return pkey_fingerprint(k->pkey, out);
}

/* An ECDSA signature in DER as mender wants it: r||s, each 32 bytes
 * big-endian; 0 or -1. */
static int
ecdsa_raw(const unsigned char *der, size_t derlen, unsigned char raw[64])
{
	const unsigned char *p = der;
	const BIGNUM *br, *bs;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	int rc = -1;

	if (es == NULL)
		return -1;
	ECDSA_SIG_get0(es, &br, &bs);
	if (BN_bn2binpad(br, raw, 32) == 32 && BN_bn2binpad(bs, raw + 32, 32) == 32)
		rc = 0;
	ECDSA_SIG_free(es);
	return rc;
}

/* The signature of msg as OpenSSL gives it (DER for ECDSA) into *der; 0 or -1. */
static int
sign_der(const struct mender_key *k, const void *msg, size_t len, unsigned char **der,
	 size_t *derlen, char *err, size_t errlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	*der = NULL;
	*derlen = 0;
	if (ctx == NULL ||
	    EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, k->pkey, NULL) != 1 ||
	    EVP_DigestSign(ctx, NULL, derlen, msg, len) != 1) {
		snprintf(err, errlen, "cannot sign with this key");
		goto out;
	}
	*der = xmalloc(*derlen);
	if (EVP_DigestSign(ctx, *der, derlen, msg, len) != 1) {
		snprintf(err, errlen, "signing failed");
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* The signature as OpenSSL makes it (DER for ECDSA) as mender wants it
 * into *sig: base64 of the RSA signature or of r||s; 0 or -1. */
static int
encode(const struct mender_key *k, const unsigned char *der, size_t derlen, char **sig,
       size_t *siglen, char *err, size_t errlen)
{
	unsigned char raw[64];
	const unsigned char *bin = der;
	size_t binlen = derlen;

	if (k->is_ec) {
		if (ecdsa_raw(der, derlen, raw) < 0) {
			snprintf(err, errlen, "bad ECDSA signature");
			return -1;
		}
		bin = raw;
		binlen = 64;
	}
	*sig = xmalloc(4 * ((binlen + 2) / 3) + 1);
	*siglen = (size_t)EVP_EncodeBlock((unsigned char *)*sig, bin, (int)binlen);
	if (*siglen != k->sig_len) {
		snprintf(err, errlen, "signature has %zu bytes, expected %zu", *siglen, k->sig_len);
		free(*sig);
		*sig = NULL;
		*siglen = 0;
		return -1;
	}
	return 0;
}

int
mender_sign(const struct mender_key *k, const void *msg, size_t len, char **sig, size_t *siglen,
	    char *err, size_t errlen)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	int rc = -1;

	*sig = NULL;
	*siglen = 0;
	if (sign_der(k, msg, len, &der, &derlen, err, errlen) == 0)
		rc = encode(k, der, derlen, sig, siglen, err, errlen);
	free(der);
	return rc;
}

int
mender_sign_with(const struct mender_key *k, mender_sign_fn fn, void *arg, const void *msg,
		 size_t len, char **sig, size_t *siglen, char *err, size_t errlen)
{
	unsigned char digest[32], der[1024];
	size_t derlen = sizeof(der);

	*sig = NULL;
	*siglen = 0;
	if (SHA256(msg, len, digest) == NULL) {
		snprintf(err, errlen, "SHA-256 failed");
		return -1;
	}
	if (fn(arg, k->is_ec, digest, der, &derlen, err, errlen) != 0)
		return -1;
	/* whoever made it, it goes into the artifact only if the key's own
	 * public half says it is the key's signature of this manifest */
	if (pkey_verify_digest(k->pkey, k->is_ec ? SIG_ECDSA : SIG_RSA_PKCS1, 0, EVP_sha256(),
			       digest, sizeof(digest), der, derlen) != 1) {
		snprintf(err, errlen, "the signature made does not verify with the key");
		return -1;
	}
	return encode(k, der, derlen, sig, siglen, err, errlen);
}
