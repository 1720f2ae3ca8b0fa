/* SPDX-License-Identifier: MIT */
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

#include <pthread.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "keyproto.h"
#include "pkey.h"

struct kc;

/* A client on the channel fd (owned from now on; -1: no key process). */
struct kc *kc_open(int fd);
/* Every SIGN from now on carries uri, the pkcs11: URI the client named
 * its key by (keyproto_sign.key_uri); "" or NULL: none.  -1 when it is
 * too long. */
int kc_set_key_uri(struct kc *kc, const char *uri);
/* Close the channel: the key process forgets the job's grant. */
void kc_close(struct kc *kc);
/*
 * Sign digest (dlen bytes made with md, a KEYPROTO_MD_*) with the key
 * selector/tag/file under scheme (keyproto.h; saltlen for RSA-PSS) into
 * sig (room for *siglen, the length made on return); key_sha256 (65
 * bytes, or NULL) gets the key's fingerprint.
 */
int kc_sign(struct kc *kc, const char *selector, const char *tag, const char *file, uint32_t scheme,
	    int saltlen, uint32_t md, const unsigned char *digest, size_t dlen, unsigned char *sig,
	    size_t *siglen, char *key_sha256, char *err, size_t errlen);
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

/*
 * One key of the store as a struct pkey_signer (pkey.h) whose raw
 * signatures the key process makes: what lib/modsign.c and lib/cmssign.c
 * sign with.  Threads may sign through one kc_key at once; the first
 * failure's status and reason are kept for the job's answer (a 503 when
 * the key process went away, 403 outside the grant, 404 ...).
 */
struct kc_key {
	struct kc *kc;
	const char *selector, *tag, *file;
	pthread_mutex_t lock;
	int status;			  /* of the first failure; 0: none */
	char reason[KEYPROTO_REASON_MAX]; /* its one-line reason */
};

void kc_key_init(struct kc_key *k, struct kc *kc, const char *selector, const char *tag,
		 const char *file);
void kc_key_free(struct kc_key *k);
/* The pkey_sign_fn: arg is a struct kc_key. */
int kc_key_sign(void *arg, const struct pkey_sign_req *req, unsigned char **sig, size_t *siglen,
		char *err, size_t errlen);
/*
 * The certificate cert_file of k's selector and tag (asked for by the
 * signers that send one), into *cert.  0, or the status with a one-line
 * reason in err (500 for a file that is no certificate: details logged).
 */
int kc_key_cert(struct kc_key *k, const char *cert_file, X509 **cert, char *err, size_t errlen);
/*
 * k's public half as an EVP_PKEY into *pub; when cert is not NULL, also
 * checked to be the certificate's key (500 if not, logged).  0, or the
 * status with a one-line reason in err.
 */
int kc_key_public(struct kc_key *k, const X509 *cert, EVP_PKEY **pub, char *err, size_t errlen);
/* 0 when cert holds pub, k's key; else 500 with a reason (logged). */
int kc_key_pair(const struct kc_key *k, EVP_PKEY *pub, const X509 *cert, char *err, size_t errlen);

#endif
