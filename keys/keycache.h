/* SPDX-License-Identifier: MIT */
/*
 * keycache.h: the key process's parsed keys (keys/keyd.c).
 *
 * A key is read with ks_load (keystore.h: file:// or s3://) the first
 * time it is asked for and kept parsed, so OpenSSL's per-key set-up
 * (RSA blinding, EC precomputation) is paid once, not once per job.  A
 * file:// entry is checked on every use against the file's identity
 * (device, inode, size, modification time) and read again when it
 * changed; a removed file is a 404 at once.  An s3:// entry is kept
 * DIGSIGSERVER_KEY_CACHE_TTL seconds.  With a TTL of 0 nothing is kept
 * between jobs (kcache_job_ended empties the cache).  kcache_flush
 * (SIGHUP) empties it; key bytes are cleansed when an entry goes.
 * Where the key file is absent and <file>.pkcs11 exists, that file holds
 * a pkcs11: URI: the entry is then a key on the token (keypkcs11.h),
 * with the public key the token gives.
 * Thread-safe: the sign threads share it.
 */
#ifndef DSS_KEYCACHE_H
#define DSS_KEYCACHE_H

#include <stddef.h>

#include <openssl/evp.h>

#include "keyproto.h"
#include "p11uri.h"

struct config;

/* What a lookup hands out: the caller's own references and copies. */
struct kcache_key {
	EVP_PKEY *pkey;          /* the private key, or NULL (a certificate file, a token key) */
	struct p11uri *token;    /* a key on a token (keypkcs11.h): its URI, else NULL */
	EVP_PKEY *pub;           /* the public key (of the certificate when a cert) */
	unsigned char *cert_der; /* the certificate's DER, or NULL */
	unsigned char *pub_der;	 /* the public key's DER (SubjectPublicKeyInfo), or NULL */
	size_t pub_len;
	size_t cert_len;
	unsigned char *bytes; /* the file's bytes, only when want_bytes */
	size_t len;
	char fingerprint[65]; /* hex SHA-256 of the public key's DER, or "" */
};

void kcache_init(const struct config *cfg);
/*
 * The key named by key: 0, or an HTTP status (404 missing, 503 store
 * unreachable, 500 unreadable or not a key nor a certificate) with a
 * one-line reason.  want_bytes: also a copy of the file's bytes (only for
 * the tags kgrant_materializable_tag names; the cache keeps no others).
 */
int kcache_get(const struct keyproto_keyref *key, int want_bytes, struct kcache_key *out, char *err,
	       size_t errlen);
/* Release what kcache_get handed out, cleansing the bytes. */
void kcache_put(struct kcache_key *k);
/* Drop the entry of key if it still holds the key of that fingerprint
 * (not one another thread has read again since): the next kcache_get
 * loads it again. */
void kcache_forget(const struct keyproto_keyref *key, const char *fingerprint);
/* Empty the cache (SIGHUP). */
void kcache_flush(void);
/* A job's channel closed: with a TTL of 0, forget every key. */
void kcache_job_ended(void);
/* Drop s3:// entries and keys on a token past their TTL. */
void kcache_expire(void);
/* Entries held now. */
size_t kcache_count(void);

#endif
