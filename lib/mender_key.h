/* SPDX-License-Identifier: MIT */
/*
 * mender_key.h: the keys a Mender artifact is signed with, and the
 * signature mender-artifact 3.x makes and mender verifies: RSA PKCS#1
 * v1.5 or ECDSA P-256, over SHA-256 of the manifest, base64-encoded.
 * lib/mender_artifact.h makes the room for it in the artifact.
 */
#ifndef DSS_MENDER_KEY_H
#define DSS_MENDER_KEY_H

#include <stddef.h>

struct mender_key;

/*
 * Parse a private key (lib/pkey.h: PEM as PKCS#1, SEC1 or PKCS#8, or DER):
 * RSA, or EC on P-256, the two kinds mender can verify.  Encrypted keys
 * are refused, never prompted for.  0, or -1 with a reason.
 */
int mender_key_load(const void *pem, size_t len, struct mender_key **key, char *err, size_t errlen);
/* A key known by its public half only (DER SubjectPublicKeyInfo), of the
 * same two kinds; its signatures are made elsewhere (mender_sign_with). */
int mender_key_from_public(const unsigned char *der, size_t len, struct mender_key **key,
			   char *err, size_t errlen);
void mender_key_free(struct mender_key *key);
/* Length of the base64 manifest.sig this key makes. */
size_t mender_key_sig_len(const struct mender_key *key);
/* "RSA-2048", "EC-P256". */
const char *mender_key_describe(const struct mender_key *key);
/* Hex SHA-256 of the public key (DER SubjectPublicKeyInfo); 0 or -1. */
int mender_key_fingerprint(const struct mender_key *key, char out[65]);
/*
 * Sign msg as mender-artifact 3.x does: base64 (standard alphabet, padded,
 * no newline) of RSA PKCS#1 v1.5 over SHA-256, or of the raw 64-byte r||s
 * of ECDSA P-256 over SHA-256.  *sig is NUL-terminated, mender_key_sig_len
 * bytes long; free it with free().  0 or -1.
 */
int mender_sign(const struct mender_key *key, const void *msg, size_t len, char **sig,
		size_t *siglen, char *err, size_t errlen);

/*
 * Makes the signature of a SHA-256 digest with the private half of a key:
 * RSA PKCS#1 v1.5, or ECDSA (ecdsa set) in DER, into sig (room for
 * *siglen bytes, the length made on return).  0, or nonzero with err.
 */
typedef int (*mender_sign_fn)(void *arg, int ecdsa, const unsigned char digest[32],
			      unsigned char *sig, size_t *siglen, char *err, size_t errlen);
/* mender_sign with the signature made by fn (the key process); the same
 * bytes as mender_sign for the same key (RSA) and format (ECDSA). */
int mender_sign_with(const struct mender_key *key, mender_sign_fn fn, void *arg, const void *msg,
		     size_t len, char **sig, size_t *siglen, char *err, size_t errlen);

#endif
