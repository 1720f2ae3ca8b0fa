/* SPDX-License-Identifier: MIT */
/*
 * keycache.c: the key process's cache of parsed keys (keycache.h).
 */
#include "keycache.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "config.h"
#include "keygrant.h"
#include "keypkcs11.h"
#include "keystore.h"
#include "log.h"
#include "pkey.h"
#include "scheme.h"
#include "util.h"

struct entry {
	struct entry *next;
	struct keyproto_keyref ref;
	char name[KEYPROTO_NAME_MAX + 8]; /* the file read: ref.file, or ref.file + ".pkcs11" */
	struct p11uri *token;             /* a key on a token: its URI (then pkey is NULL) */
	int is_s3;
	struct stat id; /* file://: the identity it was read with */
	uint64_t loaded_ms;
	EVP_PKEY *pkey, *pub;
	unsigned char *cert_der;
	size_t cert_len;
	unsigned char *pub_der; /* the public key's DER, made once (an encoder is slow) */
	size_t pub_len;
	unsigned char *bytes; /* kept only for materializable tags */
	size_t len;
	char fingerprint[65];
};

/*
 * The lock guards the entries, the keys being read and the generation,
 * never a read itself: a key is read (a file, an s3:// GET with its
 * retries, a token's public half) with the lock released, so that a
 * slow store or token holds up only the requests for that key.  A second
 * request for a key being read waits for that read (loaded).
 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t loaded = PTHREAD_COND_INITIALIZER;
static struct entry *entries;
struct reading {
	struct keyproto_keyref ref;
	struct reading *next;
};
static struct reading *readings; /* the keys being read now */
static uint64_t generation;      /* kcache_flush: what was read before is not kept */
static const struct config *cfg;

void
kcache_init(const struct config *c)
{
	cfg = c;
}

static void
entry_free(struct entry *e)
{
	EVP_PKEY_free(e->pkey);
	EVP_PKEY_free(e->pub);
	OPENSSL_free(e->cert_der);
	OPENSSL_free(e->pub_der);
	free(e->token);
	if (e->bytes != NULL) {
		OPENSSL_cleanse(e->bytes, e->len);
		free(e->bytes);
	}
	free(e);
}

/* Unlink and free the entry *pp points to. */
static void
evict(struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->next;
	log_debug("key %s/%s/%s dropped from the cache", e->ref.selector, e->ref.tag, e->ref.file);
	entry_free(e);
}

static int
same_ref(const struct keyproto_keyref *a, const struct keyproto_keyref *b)
{
	return strcmp(a->selector, b->selector) == 0 && strcmp(a->tag, b->tag) == 0 &&
	       strcmp(a->file, b->file) == 0;
}

static int
same_identity(const struct stat *a, const struct stat *b)
{
	/* the change time too: a file rewritten in place with its old size
	 * and mtime (tar --mtime, cp -p, rsync -t --inplace), or made
	 * unreadable by chmod or chown, changes only that */
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The identity of a file:// key's file name now; 0, or -1 when it cannot
 * be seen (then ks_load says why). */
static int
identity(const struct keyproto_keyref *ref, const char *name, struct stat *st)
{
	char *path = NULL, err[256];
	int r = -1;

	if (ks_key_location(cfg->keyfile_uri, ref->selector, ref->tag, name, &path, err,
			    sizeof(err)) == 0 &&
	    stat(path, st) == 0)
		r = 0;
	free(path);
	return r;
}

/* The public key's DER, made once (OpenSSL's encoders are slow): what
 * PUBLIC hands out, and the fingerprint is its SHA-256, as
 * pkey_fingerprint computes it.  0 or -1. */
static int
encode_public(struct entry *e)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	int n;

	if ((n = i2d_PUBKEY(e->pub, &e->pub_der)) <= 0)
		return -1;
	e->pub_len = (size_t)n;
	SHA256(e->pub_der, e->pub_len, md);
	util_hex(md, sizeof(md), e->fingerprint);
	return 0;
}

/* Parse the bytes as a private key or a certificate into e; 0 or -1. */
static int
parse(struct entry *e, const unsigned char *data, size_t len)
{
	X509 *cert;
	int n;

	if ((e->pkey = pkey_load_private(data, len)) != NULL) {
		EVP_PKEY_up_ref(e->pkey);
		e->pub = e->pkey;
	} else if ((cert = pkey_load_cert(data, len)) != NULL) {
		e->pub = X509_get_pubkey(cert);
		n = i2d_X509(cert, &e->cert_der);
		X509_free(cert);
		if (n <= 0 || e->pub == NULL)
			return -1;
		e->cert_len = (size_t)n;
	}
	return e->pub != NULL ? encode_public(e) : 0;
}

/* The one pkcs11: URI of a reference file, without a PIN; 0 or -1 with why. */
static int
ref_uri(const struct ks_blob *b, struct p11uri *u, char *why, size_t whylen)
{
	char text[P11URI_MAX + 1];
	size_t n = b->len;

	while (n > 0 && (b->data[n - 1] == '\n' || b->data[n - 1] == '\r' || b->data[n - 1] == ' '))
		n--;
	if (n > P11URI_MAX || memchr(b->data, '\0', n) != NULL) {
		snprintf(why, whylen, "not one pkcs11: URI");
		return -1;
	}
	memcpy(text, b->data, n);
	text[n] = '\0';
	if (p11uri_parse(text, u, why, whylen) < 0)
		return -1;
	if (u->has_pin) { /* the key process has the PIN; a file in the store must not */
		snprintf(why, whylen, "a reference must not hold a PIN (pin-value, pin-source)");
		return -1;
	}
	return 0;
}

/* A reference <name>.pkcs11 to a key on a token: its URI and the public
 * key the token gives; 0, or a status with err. */
static int
token_ref(struct entry *e, const struct ks_blob *b, char *err, size_t errlen)
{
	const struct keyproto_keyref *r = &e->ref;
	struct p11uri u;
	char why[160];
	int st;

	if (ref_uri(b, &u, why, sizeof(why)) < 0) {
		log_errorx("key %s/%s/%s.pkcs11: %s", r->selector, r->tag, r->file, why);
		snprintf(err, errlen, "Signing error"); /* the operator's problem: logged */
		return 500;
	}
	if ((st = kp11_public(&u, &e->pub, why, sizeof(why))) != 0) {
		log_errorx("key %s/%s/%s on the token: %s", r->selector, r->tag, r->file, why);
		if (st == 503)
			snprintf(err, errlen,
				 "Key %s/%s/%s is on a token that cannot be reached now",
				 r->selector, r->tag, r->file);
		else
			snprintf(err, errlen, "Signing error");
		return st;
	}
	e->token = xmalloc(sizeof(*e->token));
	*e->token = u;
	return encode_public(e) < 0 ? 500 : 0;
}

/* ks_load of the key, or else of its reference <file>.pkcs11 (then
 * e->name says so); 0, or the key's status with err. */
static int
load_file(struct entry *e, struct ks_blob *b, char *err, size_t errlen)
{
	const struct keyproto_keyref *ref = &e->ref;
	char rerr[KEYPROTO_REASON_MAX];
	int st;

	snprintf(e->name, sizeof(e->name), "%s", ref->file);
	if (!e->is_s3 && identity(ref, e->name, &e->id) < 0)
		memset(&e->id, 0, sizeof(e->id));
	if ((st = ks_load(cfg, ref->selector, ref->tag, ref->file, b, err, errlen)) != 404)
		return st;
	snprintf(e->name, sizeof(e->name), "%s.pkcs11", ref->file);
	if (!e->is_s3 && identity(ref, e->name, &e->id) < 0)
		memset(&e->id, 0, sizeof(e->id));
	if ((st = ks_load(cfg, ref->selector, ref->tag, e->name, b, rerr, sizeof(rerr))) == 0)
		return 0;
	if (st != 404) {
		/* a reference there that cannot be read (a directory, too
		 * large, unreadable, a store error) is the server's fault,
		 * not a missing key */
		snprintf(err, errlen, "%s", rerr);
		return st;
	}
	snprintf(e->name, sizeof(e->name), "%s", ref->file);
	return 404; /* the key's reason stands */
}

/* Read and parse the key into a new entry; 0, or a status with err. */
static int
load(const struct keyproto_keyref *ref, struct entry **out, char *err, size_t errlen)
{
	struct entry *e = xcalloc(1, sizeof(*e));
	struct ks_blob b = {0};
	int st;

	e->ref = *ref;
	e->is_s3 = uri_scheme(cfg->keyfile_uri, NULL) == URI_S3;
	if ((st = load_file(e, &b, err, errlen)) != 0) {
		free(e);
		return st;
	}
	if (strcmp(e->name, ref->file) != 0) {
		st = token_ref(e, &b, err, errlen);
		ks_blob_free(&b);
		if (st != 0) {
			entry_free(e);
			return st;
		}
	} else if (parse(e, b.data, b.len) < 0 ||
		   (e->pub == NULL && !kgrant_materializable_tag(ref->tag))) {
		log_errorx("key %s/%s/%s is neither a private key nor a certificate", ref->selector,
			   ref->tag, ref->file);
		snprintf(err, errlen, "Signing error"); /* the operator's problem: logged */
		ks_blob_free(&b);
		entry_free(e);
		return 500;
	} else if (kgrant_materializable_tag(ref->tag)) {
		e->bytes = b.data; /* kept: an external tool reads the file */
		e->len = b.len;
	} else {
		ks_blob_free(&b);
	}
	e->loaded_ms = util_now_ms();
	*out = e;
	return 0;
}

/* 1 while e is younger than KEY_CACHE_TTL. */
static int
young(const struct entry *e)
{
	return util_now_ms() - e->loaded_ms < (uint64_t)cfg->key_cache_ttl * 1000;
}

/* 1 when the entry may still be used: its file unchanged, or its TTL
 * not over; for a key on a token both (the file names the key, the token
 * holds it: re-provisioned under the same label, it is another key). */
static int
fresh(const struct entry *e)
{
	struct stat now;

	/* (a TTL of 0 drops every entry when a job ends, not at each use: a
	 * modules job's thousands of signatures read an s3:// key once) */
	if (e->is_s3)
		return cfg->key_cache_ttl == 0 || young(e);
	if (e->token != NULL && cfg->key_cache_ttl > 0 && !young(e))
		return 0;
	/* a key on a token stands in for a key file that is absent: one
	 * that appears is used from the next request on */
	if (e->token != NULL && identity(&e->ref, e->ref.file, &now) == 0)
		return 0;
	return identity(&e->ref, e->name, &now) == 0 && same_identity(&now, &e->id);
}

/* Hand out the caller's references and copies of e. */
static void
hand_out(const struct entry *e, int want_bytes, struct kcache_key *out)
{
	memset(out, 0, sizeof(*out));
	if ((out->pkey = e->pkey) != NULL)
		EVP_PKEY_up_ref(out->pkey);
	if ((out->pub = e->pub) != NULL)
		EVP_PKEY_up_ref(out->pub);
	if (e->pub_der != NULL) {
		out->pub_der = xmalloc(e->pub_len);
		memcpy(out->pub_der, e->pub_der, e->pub_len);
		out->pub_len = e->pub_len;
	}
	if (e->cert_der != NULL) {
		out->cert_der = xmalloc(e->cert_len);
		memcpy(out->cert_der, e->cert_der, e->cert_len);
		out->cert_len = e->cert_len;
	}
	if (want_bytes && e->bytes != NULL) {
		out->bytes = xmalloc(e->len ? e->len : 1);
		memcpy(out->bytes, e->bytes, e->len);
		out->len = e->len;
	}
	if (e->token != NULL) {
		out->token = xmalloc(sizeof(*out->token));
		*out->token = *e->token;
	}
	memcpy(out->fingerprint, e->fingerprint, sizeof(out->fingerprint));
}

/* 1 when another request is reading key (lock held). */
static int
being_read(const struct keyproto_keyref *key)
{
	for (const struct reading *r = readings; r != NULL; r = r->next)
		if (same_ref(&r->ref, key))
			return 1;
	return 0;
}

int
kcache_get(const struct keyproto_keyref *key, int want_bytes, struct kcache_key *out, char *err,
	   size_t errlen)
{
	struct entry **pp, *e = NULL;
	int st = 0;

	/* nothing of another key, not even its fingerprint, when this one
	 * cannot be had (the caller reports out->fingerprint either way) */
	memset(out, 0, sizeof(*out));
	if (pthread_mutex_lock(&lock) != 0)
		fatalx("kcache: mutex");
	for (;;) {
		struct reading me, **rp;
		uint64_t gen;

		for (pp = &entries; *pp != NULL; pp = &(*pp)->next)
			if (same_ref(&(*pp)->ref, key))
				break;
		/* evict() moves *pp on to the next entry, another key's: this
		 * one is then read again, never that one handed out */
		if (*pp != NULL && fresh(*pp)) {
			e = *pp;
			break;
		}
		if (*pp != NULL)
			evict(pp);
		if (being_read(key)) {
			pthread_cond_wait(&loaded, &lock);
			continue;
		}
		me.ref = *key;
		me.next = readings;
		readings = &me;
		gen = generation;
		pthread_mutex_unlock(&lock);
		st = load(key, &e, err, errlen);
		if (pthread_mutex_lock(&lock) != 0)
			fatalx("kcache: mutex");
		for (rp = &readings; *rp != &me; rp = &(*rp)->next)
			;
		*rp = me.next;
		pthread_cond_broadcast(&loaded);
		if (st == 0 && gen == generation) {
			e->next = entries;
			entries = e;
		} else if (st == 0) {
			/* the cache was flushed meanwhile (new settings): this
			 * request has the key, the cache does not keep it */
			hand_out(e, want_bytes, out);
			pthread_mutex_unlock(&lock);
			entry_free(e);
			return 0;
		}
		break;
	}
	if (st == 0)
		hand_out(e, want_bytes, out);
	pthread_mutex_unlock(&lock);
	return st;
}

void
kcache_put(struct kcache_key *k)
{
	EVP_PKEY_free(k->pkey);
	EVP_PKEY_free(k->pub);
	free(k->cert_der);
	free(k->pub_der);
	free(k->token);
	if (k->bytes != NULL) {
		OPENSSL_cleanse(k->bytes, k->len);
		free(k->bytes);
	}
	memset(k, 0, sizeof(*k));
}

void
kcache_forget(const struct keyproto_keyref *key, const char *fingerprint)
{
	if (pthread_mutex_lock(&lock) != 0)
		fatalx("kcache: mutex");
	for (struct entry **pp = &entries; *pp != NULL; pp = &(*pp)->next)
		if (same_ref(&(*pp)->ref, key)) {
			/* not one another thread has just read again */
			if (strcmp((*pp)->fingerprint, fingerprint) == 0)
				evict(pp);
			break;
		}
	pthread_mutex_unlock(&lock);
}

void
kcache_flush(void)
{
	if (pthread_mutex_lock(&lock) != 0)
		fatalx("kcache: mutex");
	while (entries != NULL)
		evict(&entries);
	generation++;
	pthread_mutex_unlock(&lock);
}

void
kcache_job_ended(void)
{
	if (cfg->key_cache_ttl == 0)
		kcache_flush();
}

void
kcache_expire(void)
{
	if (pthread_mutex_lock(&lock) != 0)
		fatalx("kcache: mutex");
	for (struct entry **pp = &entries; *pp != NULL;)
		if (((*pp)->is_s3 || (*pp)->token != NULL) && !fresh(*pp))
			evict(pp);
		else
			pp = &(*pp)->next;
	pthread_mutex_unlock(&lock);
}

size_t
kcache_count(void)
{
	size_t n = 0;

	if (pthread_mutex_lock(&lock) != 0)
		fatalx("kcache: mutex");
	for (struct entry *e = entries; e != NULL; e = e->next)
		n++;
	pthread_mutex_unlock(&lock);
	return n;
}
