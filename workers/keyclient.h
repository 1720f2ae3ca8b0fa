/*
 * keyclient.h: a worker's side of its job's key channel (keyproto.h).
 *
 * The supervisor hands each job a channel to the key process, granted
 * to the job's endpoint and client; the signers ask it for signatures
 * (kc_sign), public keys and certificates (kc_public), and, for an
 * external tool that reads key files, the bytes of a key (kc_materialize).
 * No signer reads the key store.  Several threads may ask at once (module
 * signing): each request has its own id, and whichever thread is reading
 * hands each answer to the thread that asked.  A channel that ends (the
 * key process died or was restarted) makes every request a 503, which the
 * worker answers with Retry-After.
 *
 * Statuses: 0, or an HTTP status with a one-line reason for the client:
 * 404 no such key, 403 outside the grant, 503 key process unavailable,
 * 500 otherwise.
 */
#ifndef DSS_KEYCLIENT_H
#define DSS_KEYCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "keyproto.h"

struct kc;

/* A client on the channel fd (owned from now on; -1: no key process). */
struct kc *kc_open(int fd);
/* Close the channel: the key process forgets the job's grant. */
void kc_close(struct kc *kc);
/*
 * Sign digest (dlen bytes made with md, a KEYPROTO_MD_*) with the key
 * selector/tag/file under scheme (keyproto.h; saltlen for RSA-PSS) into
 * sig (room for *siglen, the length made on return).
 */
int kc_sign(struct kc *kc, const char *selector, const char *tag, const char *file, uint32_t scheme,
	    int saltlen, uint32_t md, const unsigned char *digest, size_t dlen, unsigned char *sig,
	    size_t *siglen, char *err, size_t errlen);
/*
 * The public key's DER SubjectPublicKeyInfo and, when the file is a
 * certificate, its DER (else *cert NULL); malloc'ed.
 */
int kc_public(struct kc *kc, const char *selector, const char *tag, const char *file,
	      unsigned char **pub, size_t *publen, unsigned char **cert, size_t *certlen, char *err,
	      size_t errlen);
/* The KEYPROTO_MD_* of an OpenSSL digest (NULL: KEYPROTO_MD_NONE, for
 * Ed25519), or KEYPROTO_MD_END for one the key process does not take. */
uint32_t kc_md(const EVP_MD *md);
/* The key file's bytes, malloc'ed (the caller cleanses them). */
int kc_materialize(struct kc *kc, const char *selector, const char *tag, const char *file,
		   unsigned char **data, size_t *len, char *err, size_t errlen);

#endif
