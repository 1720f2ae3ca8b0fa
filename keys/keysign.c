/* SPDX-License-Identifier: MIT */
/*
 * keysign.c: signing a digest in the key process (keysign.h): the
 * record's numbers turned into OpenSSL's terms, and lib/pkey.c's
 * pkey_sign_digest, the one place a raw signature is made.
 */
#include "keysign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "keyproto.h"
#include "pkey.h"

/* keyproto.h promises its schemes are pkey.h's */
_Static_assert((int)KEYPROTO_RSA_PKCS1 == (int)SIG_RSA_PKCS1 &&
		   (int)KEYPROTO_RSA_PSS == (int)SIG_RSA_PSS &&
		   (int)KEYPROTO_ECDSA == (int)SIG_ECDSA && (int)KEYPROTO_ED25519 == (int)SIG_ED25519,
	       "keyproto_scheme and sig_scheme differ");

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

/* scheme for key, BY_KEY resolved; 0, or -1 when it has none. */
static int
resolve_scheme(EVP_PKEY *key, uint32_t *scheme)
{
	enum sig_scheme by_key;

	if (*scheme >= KEYPROTO_SCHEME_END)
		return -1;
	if (*scheme != KEYPROTO_BY_KEY)
		return 0;
	if (pkey_default_scheme(key, &by_key) < 0 || by_key == SIG_ED25519)
		return -1;
	*scheme = (uint32_t)by_key;
	return 0;
}

int
keys_verify_digest(EVP_PKEY *pub, uint32_t scheme, uint32_t md, const unsigned char *digest,
		   size_t dlen, const unsigned char *sig, size_t siglen)
{
	if (pub == NULL || resolve_scheme(pub, &scheme) < 0)
		return 0;
	return pkey_verify_digest(pub, (enum sig_scheme)scheme, RSA_PSS_SALTLEN_AUTO, md_of(md),
				  digest, dlen, sig, siglen);
}

int
keys_sign_digest(EVP_PKEY *key, uint32_t scheme, int saltlen, uint32_t md,
		 const unsigned char *digest, size_t dlen, unsigned char *sig, size_t *siglen,
		 char *err, size_t errlen)
{
	unsigned char *made = NULL;
	size_t len = 0;
	unsigned long e;

	if (scheme >= KEYPROTO_SCHEME_END) {
		snprintf(err, errlen, "unknown signature scheme %u", scheme);
		return -1;
	}
	if (resolve_scheme(key, &scheme) < 0) {
		snprintf(err, errlen, "the key is not an RSA or EC key");
		return -1;
	}
	if ((size_t)EVP_PKEY_get_size(key) > *siglen) {
		snprintf(err, errlen, "the key's signatures are too large");
		return -1;
	}
	ERR_clear_error();
	if (pkey_sign_digest(key, (enum sig_scheme)scheme, saltlen, md_of(md), digest, dlen, &made,
			     &len) < 0) {
		e = ERR_peek_last_error();
		snprintf(err, errlen, "%s signature: %s", pkey_scheme_name((enum sig_scheme)scheme),
			 e ? ERR_reason_error_string(e) : "the key does not fit the scheme");
		ERR_clear_error();
		return -1;
	}
	if (len > *siglen) { /* cannot be: checked above */
		free(made);
		snprintf(err, errlen, "the key's signatures are too large");
		return -1;
	}
	memcpy(sig, made, len);
	*siglen = len;
	free(made);
	return 0;
}
