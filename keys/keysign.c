/*
 * keysign.c: signing a digest in the key process (keysign.h).
 */
#include "keysign.h"

#include <stdio.h>

#include <openssl/rsa.h>

#include "keyproto.h"

static const EVP_MD *
md_of(uint32_t md)
{
	switch (md) {
	case KEYPROTO_MD_SHA1:
		return EVP_sha1();
	case KEYPROTO_MD_SHA256:
		return EVP_sha256();
	case KEYPROTO_MD_SHA384:
		return EVP_sha384();
	case KEYPROTO_MD_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

/* 1 when the key is of the kind the scheme signs with. */
static int
kind_fits(EVP_PKEY *key, uint32_t scheme)
{
	switch (scheme) {
	case KEYPROTO_RSA_PKCS1:
	case KEYPROTO_RSA_PSS:
		return EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
	case KEYPROTO_ECDSA:
		return EVP_PKEY_get_base_id(key) == EVP_PKEY_EC;
	case KEYPROTO_ED25519:
		return EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;
	}
	return 0;
}

/* Ed25519 signs the message itself (no pre-hash). */
static int
sign_ed25519(EVP_PKEY *key, const unsigned char *msg, size_t len, unsigned char *sig,
	     size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
		 EVP_DigestSign(ctx, sig, siglen, msg, len) == 1;

	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

int
keys_sign_digest(EVP_PKEY *key, uint32_t scheme, int saltlen, uint32_t md,
		 const unsigned char *digest, size_t dlen, unsigned char *sig, size_t *siglen,
		 char *err, size_t errlen)
{
	EVP_PKEY_CTX *ctx;
	size_t room = *siglen;
	int ok;

	if (!kind_fits(key, scheme)) {
		snprintf(err, errlen, "the key is not of the kind the signature scheme needs");
		return -1;
	}
	if ((size_t)EVP_PKEY_get_size(key) > room) {
		snprintf(err, errlen, "the key's signatures are too large");
		return -1;
	}
	if (scheme == KEYPROTO_ED25519) {
		if (sign_ed25519(key, digest, dlen, sig, siglen) == 0)
			return 0;
		snprintf(err, errlen, "Ed25519 signing failed");
		return -1;
	}
	if ((ctx = EVP_PKEY_CTX_new(key, NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ok = EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_CTX_set_signature_md(ctx, md_of(md)) == 1;
	if (ok && scheme == KEYPROTO_RSA_PKCS1)
		ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1;
	if (ok && scheme == KEYPROTO_RSA_PSS)
		ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, saltlen) == 1;
	ok = ok && EVP_PKEY_sign(ctx, sig, siglen, digest, dlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		snprintf(err, errlen, "signing failed");
	return ok ? 0 : -1;
}
