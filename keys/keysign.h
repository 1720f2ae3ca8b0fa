/* SPDX-License-Identifier: MIT */
/*
 * keysign.h: one signature over a digest with a parsed private key, in
 * the key process: the record's numbers (keyproto.h) turned into
 * lib/pkey.h's terms for pkey_sign_digest.
 */
#ifndef DSS_KEYSIGN_H
#define DSS_KEYSIGN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/*
 * Sign digest (dlen bytes, made with md: a KEYPROTO_MD_*) with key under
 * scheme (KEYPROTO_RSA_PKCS1, _RSA_PSS with saltlen, _ECDSA giving DER,
 * _BY_KEY: PKCS#1 v1.5 for an RSA key, ECDSA for an EC one,
 * _ED25519 over digest as the whole message) into sig (room for *siglen
 * bytes; the length made on return).  0, or -1 with a one-line reason
 * (a key of the wrong kind for the scheme, an OpenSSL failure).
 */
int keys_sign_digest(EVP_PKEY *key, uint32_t scheme, int saltlen, uint32_t md,
		     const unsigned char *digest, size_t dlen, unsigned char *sig, size_t *siglen,
		     char *err, size_t errlen);

/*
 * 1 when sig (siglen bytes) is a signature of digest under scheme, as
 * keys_sign_digest makes it, by the private half of pub; else 0.  An
 * RSA-PSS signature is checked with any salt length.
 */
int keys_verify_digest(EVP_PKEY *pub, uint32_t scheme, uint32_t md, const unsigned char *digest,
		       size_t dlen, const unsigned char *sig, size_t siglen);
#endif
