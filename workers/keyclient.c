/* SPDX-License-Identifier: MIT */
/*
 * keyclient.c: asking the key process (keyclient.h).
 *
 * Each request waits in a slot for its answer.  The first thread that
 * needs an answer reads the channel for everyone: it files each answer
 * in the slot with its id and wakes the threads; then a thread whose
 * answer came in takes it, and another one reads.  The channel's end, an
 * error or an answer for no request fails every request still waiting.
 */
#include "keyclient.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>

#include "keystore.h"
#include "log.h"
#include "util.h"

struct slot {
	struct slot *next;
	uint64_t id;
	int done;
	union keyproto_msg *answer; /* filed by the reader */
	int fd;                     /* passed with it, or -1 */
};

struct kc {
	int fd;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	uint64_t next_id;
	struct slot *waiting;
	int reading; /* a thread is reading for everyone */
	int broken;  /* the channel ended or failed: 503 from now on */
	/* kc_set_key_uri */
	char key_uri[KEYPROTO_URI_MAX];
};

int
kc_set_key_uri(struct kc *kc, const char *uri)
{
	if (uri == NULL)
		uri = "";
	if (strlen(uri) >= sizeof(kc->key_uri))
		return -1;
	snprintf(kc->key_uri, sizeof(kc->key_uri), "%s", uri);
	return 0;
}

struct kc *
kc_open(int fd)
{
	struct kc *kc = xcalloc(1, sizeof(*kc));

	kc->fd = fd;
	kc->broken = fd < 0;
	kc->next_id = 1;
	if (pthread_mutex_init(&kc->lock, NULL) != 0 || pthread_cond_init(&kc->cv, NULL) != 0)
		fatalx("keyclient: mutex");
	return kc;
}

void
kc_close(struct kc *kc)
{
	if (kc == NULL)
		return;
	if (kc->fd >= 0)
		close(kc->fd);
	pthread_mutex_destroy(&kc->lock);
	pthread_cond_destroy(&kc->cv);
	free(kc);
}

/* File the answer m (with fd) in its slot (lock held); -1 when no
 * request has its id. */
static int
file_answer(struct kc *kc, union keyproto_msg *m, int fd)
{
	for (struct slot *s = kc->waiting; s != NULL; s = s->next)
		if (s->id == m->hdr.id && !s->done) {
			s->answer = m;
			s->fd = fd;
			s->done = 1;
			return 0;
		}
	return -1;
}

/* Read one answer for whoever asked it (lock held on entry and return;
 * released while reading). */
static void
read_one(struct kc *kc)
{
	union keyproto_msg *m = xmalloc(sizeof(*m));
	char why[160];
	int fd, r;

	kc->reading = 1;
	pthread_mutex_unlock(&kc->lock);
	r = keyproto_recv(kc->fd, m, &fd, why, sizeof(why));
	if (pthread_mutex_lock(&kc->lock) != 0)
		fatalx("keyclient: mutex");
	kc->reading = 0;
	if (r > 0 &&
	    (m->hdr.type == KEYPROTO_SIGNATURE || m->hdr.type == KEYPROTO_PUBKEY ||
	     m->hdr.type == KEYPROTO_MATERIAL || m->hdr.type == KEYPROTO_ERROR) &&
	    file_answer(kc, m, fd) == 0) {
		pthread_cond_broadcast(&kc->cv);
		return;
	}
	if (r > 0)
		log_errorx("key process: unexpected %s record (id %llu)",
			   keyproto_type_name(m->hdr.type), (unsigned long long)m->hdr.id);
	else if (r < 0)
		log_errorx("key channel: %s", why);
	else
		log_warnx("key channel closed: the key process is gone");
	if (fd >= 0)
		close(fd);
	free(m);
	kc->broken = 1;
	pthread_cond_broadcast(&kc->cv);
}

/*
 * Send req (its id set here) and wait for its answer: 0 with *answer
 * (malloc'ed) and *fd, or 503 when the key process is gone.
 */
static int
call(struct kc *kc, union keyproto_msg *req, union keyproto_msg **answer, int *fd, char *err,
     size_t errlen)
{
	struct slot s = {.fd = -1}, **pp;
	int st = 0;

	if (pthread_mutex_lock(&kc->lock) != 0)
		fatalx("keyclient: mutex");
	s.id = req->hdr.id = kc->next_id++;
	if (!kc->broken && keyproto_send(kc->fd, req, -1) < 0) {
		log_warnx("key channel: %s", strerror(errno));
		kc->broken = 1;
	}
	s.next = kc->waiting;
	kc->waiting = &s;
	while (!s.done && !kc->broken) {
		if (!kc->reading)
			read_one(kc);
		else
			pthread_cond_wait(&kc->cv, &kc->lock);
	}
	for (pp = &kc->waiting; *pp != &s; pp = &(*pp)->next)
		;
	*pp = s.next;
	if (!s.done)
		st = util_err(err, errlen, 503, "Key process unavailable");
	pthread_cond_broadcast(&kc->cv); /* another thread may read now */
	pthread_mutex_unlock(&kc->lock);
	*answer = s.answer;
	*fd = s.fd;
	return st;
}

/* Name the key in k: 0, or 400 with err when a name does not fit (cut
 * short it would name another key). */
static int
keyref(struct keyproto_keyref *k, const char *selector, const char *tag, const char *file,
       char *err, size_t errlen)
{
	if (strlen(selector) >= sizeof(k->selector) || strlen(tag) >= sizeof(k->tag) ||
	    strlen(file) >= sizeof(k->file))
		return util_err(err, errlen, 400, "Invalid key name: longer than %zu bytes",
				strlen(selector) >= sizeof(k->selector) ? sizeof(k->selector) - 1
									: sizeof(k->file) - 1);
	snprintf(k->selector, sizeof(k->selector), "%s", selector);
	snprintf(k->tag, sizeof(k->tag), "%s", tag);
	snprintf(k->file, sizeof(k->file), "%s", file);
	return 0;
}

/* Ask req, expecting an answer of type want: 0 with *answer, or a status. */
static int
ask(struct kc *kc, union keyproto_msg *req, uint32_t want, union keyproto_msg **answer, int *fd,
    char *err, size_t errlen)
{
	int st = call(kc, req, answer, fd, err, errlen);

	if (st != 0)
		return st;
	if ((*answer)->hdr.type == KEYPROTO_ERROR) {
		st = (int)(*answer)->error.status;
		snprintf(err, errlen, "%s", (*answer)->error.reason);
	} else if ((*answer)->hdr.type != want) {
		log_errorx("key process answered %s with %s", keyproto_type_name(req->hdr.type),
			   keyproto_type_name((*answer)->hdr.type));
		st = util_err(err, errlen, 500, "Signing error");
	}
	if (st != 0) {
		free(*answer);
		*answer = NULL;
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
	return st;
}

int
kc_sign(struct kc *kc, const char *selector, const char *tag, const char *file, uint32_t scheme,
	int saltlen, uint32_t md, const unsigned char *digest, size_t dlen, unsigned char *sig,
	size_t *siglen, char *key_sha256, char *err, size_t errlen)
{
	union keyproto_msg *req = xmalloc(sizeof(*req)), *ans = NULL;
	int fd, st;

	if (dlen == 0 || dlen > KEYPROTO_DIGEST_MAX) {
		free(req);
		return util_err(err, errlen, 500, "Signing error");
	}
	keyproto_init(req, KEYPROTO_SIGN, 0);
	if ((st = keyref(&req->sign.key, selector, tag, file, err, errlen)) != 0) {
		free(req);
		return st;
	}
	req->sign.scheme = scheme;
	req->sign.md = md;
	req->sign.saltlen = saltlen;
	req->sign.digest_len = (uint32_t)dlen;
	memcpy(req->sign.digest, digest, dlen);
	memcpy(req->sign.key_uri, kc->key_uri, sizeof(req->sign.key_uri));
	st = ask(kc, req, KEYPROTO_SIGNATURE, &ans, &fd, err, errlen);
	free(req);
	if (st != 0)
		return st;
	if (ans->signature.len > *siglen) {
		st = util_err(err, errlen, 500, "Signing error");
	} else {
		memcpy(sig, ans->signature.sig, ans->signature.len);
		*siglen = ans->signature.len;
		if (key_sha256 != NULL)
			memcpy(key_sha256, ans->signature.key_sha256, 65);
	}
	free(ans);
	return st;
}

uint32_t
kc_md(const EVP_MD *md)
{
	if (md == NULL)
		return KEYPROTO_MD_NONE;
	switch (EVP_MD_get_type(md)) {
	case NID_sha1:
		return KEYPROTO_MD_SHA1;
	case NID_sha256:
		return KEYPROTO_MD_SHA256;
	case NID_sha384:
		return KEYPROTO_MD_SHA384;
	case NID_sha512:
		return KEYPROTO_MD_SHA512;
	}
	return KEYPROTO_MD_END;
}

/* A malloc'ed copy of len bytes (NULL for none). */
static unsigned char *
copy(const unsigned char *p, size_t len)
{
	unsigned char *c;

	if (len == 0)
		return NULL;
	c = xmalloc(len);
	memcpy(c, p, len);
	return c;
}

int
kc_public(struct kc *kc, const char *selector, const char *tag, const char *file,
	  unsigned char **pub, size_t *publen, unsigned char **cert, size_t *certlen, char *err,
	  size_t errlen)
{
	union keyproto_msg *req = xmalloc(sizeof(*req)), *ans = NULL;
	int fd, st;

	*pub = *cert = NULL;
	*publen = *certlen = 0;
	keyproto_init(req, KEYPROTO_PUBLIC, 0);
	if ((st = keyref(&req->public_.key, selector, tag, file, err, errlen)) != 0) {
		free(req);
		return st;
	}
	st = ask(kc, req, KEYPROTO_PUBKEY, &ans, &fd, err, errlen);
	free(req);
	if (st != 0)
		return st;
	*pub = copy(ans->pubkey.data, ans->pubkey.pub_len);
	*publen = ans->pubkey.pub_len;
	*cert = copy(ans->pubkey.data + ans->pubkey.pub_len, ans->pubkey.cert_len);
	*certlen = ans->pubkey.cert_len;
	free(ans);
	return 0;
}

/* The bytes of a key's memfd, which must hold exactly len; 0 or -1. */
static int
read_material(int fd, uint64_t len, unsigned char **data, size_t *got)
{
	struct stat st;
	char *buf = NULL;

	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != len || len > KS_MAX_SIZE)
		return -1;
	if (util_read_fd(fd, KS_MAX_SIZE, &buf, got) < 0)
		return -1;
	if (*got != len) {
		util_cleanse_free(buf, *got);
		errno = EPROTO;
		return -1;
	}
	*data = (unsigned char *)buf;
	return 0;
}

int
kc_materialize(struct kc *kc, const char *selector, const char *tag, const char *file,
	       unsigned char **data, size_t *len, char *err, size_t errlen)
{
	union keyproto_msg *req = xmalloc(sizeof(*req)), *ans = NULL;
	int fd = -1, st;

	*data = NULL;
	*len = 0;
	keyproto_init(req, KEYPROTO_MATERIALIZE, 0);
	if ((st = keyref(&req->materialize.key, selector, tag, file, err, errlen)) != 0) {
		free(req);
		return st;
	}
	st = ask(kc, req, KEYPROTO_MATERIAL, &ans, &fd, err, errlen);
	free(req);
	if (st != 0)
		return st;
	if (read_material(fd, ans->material.len, data, len) < 0) {
		log_errorx("reading the key %s/%s/%s the key process sent: %s", selector, tag, file,
			   strerror(errno));
		st = util_err(err, errlen, 500, "Signing error");
	}
	close(fd);
	free(ans);
	return st;
}

void
kc_key_init(struct kc_key *k, struct kc *kc, const char *selector, const char *tag,
	    const char *file)
{
	*k = (struct kc_key){.kc = kc, .selector = selector, .tag = tag, .file = file};
	pthread_mutex_init(&k->lock, NULL);
}

void
kc_key_free(struct kc_key *k)
{
	pthread_mutex_destroy(&k->lock);
}

/* Keep the first failure of k for the answer. */
static void
kc_key_failed(struct kc_key *k, int status, const char *reason)
{
	pthread_mutex_lock(&k->lock);
	if (k->status == 0) {
		k->status = status;
		snprintf(k->reason, sizeof(k->reason), "%s", reason);
	}
	pthread_mutex_unlock(&k->lock);
}

int
kc_key_sign(void *arg, const struct pkey_sign_req *req, unsigned char **sig, size_t *siglen,
	    char *err, size_t errlen)
{
	struct kc_key *k = arg;
	unsigned char *b = xmalloc(KEYPROTO_SIG_MAX);
	size_t n = KEYPROTO_SIG_MAX;
	uint32_t md = kc_md(req->md);
	int st;

	if (md == KEYPROTO_MD_END)
		st = util_err(err, errlen, 500, "Signing error");
	else
		st = kc_sign(k->kc, k->selector, k->tag, k->file, (uint32_t)req->scheme,
			     req->saltlen, md, req->data, req->len, b, &n, NULL, err, errlen);
	if (st != 0) {
		kc_key_failed(k, st, err);
		free(b);
		return -1;
	}
	*sig = b;
	*siglen = n;
	return 0;
}

/* The public key in DER p (n bytes); NULL if it is none. */
static EVP_PKEY *
pub_from_der(const unsigned char *p, size_t n)
{
	return p != NULL ? d2i_PUBKEY(NULL, &p, (long)n) : NULL;
}

int
kc_key_cert(struct kc_key *k, const char *cert_file, X509 **cert, char *err, size_t errlen)
{
	unsigned char *pk = NULL, *c = NULL;
	const unsigned char *cp;
	size_t pklen, clen;
	int st;

	*cert = NULL;
	st = kc_public(k->kc, k->selector, k->tag, cert_file, &pk, &pklen, &c, &clen, err, errlen);
	free(pk);
	if (st != 0)
		return st;
	cp = c;
	if (c == NULL || (*cert = d2i_X509(NULL, &cp, (long)clen)) == NULL) {
		log_errorx("%s/%s/%s is not a certificate", k->selector, k->tag, cert_file);
		st = util_err(err, errlen, 500, "Signing error");
	}
	free(c);
	return st;
}

int
kc_key_pair(const struct kc_key *k, EVP_PKEY *pub, const X509 *cert, char *err, size_t errlen)
{
	if (EVP_PKEY_eq(pub, X509_get0_pubkey(cert)) == 1)
		return 0;
	log_errorx("%s/%s: the certificate does not belong to %s", k->selector, k->tag, k->file);
	return util_err(err, errlen, 500, "Signing error");
}

int
kc_key_public(struct kc_key *k, const X509 *cert, EVP_PKEY **pub, char *err, size_t errlen)
{
	unsigned char *pk = NULL, *c = NULL;
	size_t pklen, clen;
	int st;

	*pub = NULL;
	st = kc_public(k->kc, k->selector, k->tag, k->file, &pk, &pklen, &c, &clen, err, errlen);
	free(c);
	if (st == 0 && (*pub = pub_from_der(pk, pklen)) == NULL) {
		log_errorx("%s/%s/%s: the key process gave no usable public key", k->selector,
			   k->tag, k->file);
		st = util_err(err, errlen, 500, "Signing error");
	}
	if (st == 0 && cert != NULL)
		st = kc_key_pair(k, *pub, cert, err, errlen);
	free(pk);
	if (st != 0) {
		EVP_PKEY_free(*pub);
		*pub = NULL;
	}
	return st;
}
