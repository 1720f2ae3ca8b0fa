/* SPDX-License-Identifier: MIT */
/*
 * keyd.c: the key process (the "keys" role of src/roles.c): the only
 * process that reads the key store and holds private keys; it signs for
 * the workers.
 *
 * Its channel to the supervisor (PROTO_CHANNEL_FD) brings a GRANT for
 * each job, with that job's key channel; the worker holding the other end
 * asks SIGN, PUBLIC or MATERIALIZE on it (keyproto.h).  The sign threads
 * (DIGSIGSERVER_SIGN_THREADS) wait on one epoll set holding every
 * channel, each armed for one event at a time (EPOLLONESHOT): the thread
 * that gets a request checks it (keyproto_check) and its grant
 * (keygrant.h), arms the channel again, so that the job's next request
 * can go to another thread, and answers it itself on the job's channel,
 * reporting every signature and refusal to the supervisor (its audit
 * trail).  No request is handed from one thread to another: a request
 * costs one wake-up.  The main thread waits for SIGHUP and the key
 * cache's tick.
 * A channel that sends a malformed record is reported and closed: its
 * worker is then killed by the supervisor, and the key process carries
 * on.  A worker's end closing ends its grant.  The supervisor's channel
 * closing ends the process.  SIGHUP empties the key cache (keycache.h).
 */
#include "keyd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "keycache.h"
#include "keygrant.h"
#include "keypkcs11.h"
#include "keyproto.h"
#include "keysign.h"
#include "keystore.h"
#include "log.h"
#include "proto.h"
#include "s3.h"
#include "util.h"

/* Most job channels at once (more than any pool has jobs). */
#define CHANS_MAX 1024

/* A channel is in one thread's hands at a time between its events (it is
 * armed for one event); a request taken from it holds a reference until
 * it is answered, so requests of one job may be signed on every thread
 * at once, each thread one of them. */
struct chan {
	int fd;
	struct keyproto_grant grant; /* hdr.id: the job */
	int refs;                    /* requests being answered */
	int closed;                  /* no more reading */
	int stalled;                 /* an answer found its socket full */
};

struct task {
	struct chan *ch;
	struct keyproto_sign req; /* PUBLIC and MATERIALIZE use its hdr and key */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* the channels' counts */
static unsigned n_chans;
static int epfd = -1; /* the supervisor's channel (data NULL) and each job's */
static uint64_t n_signatures, n_errors;
static pthread_mutex_t sup_lock = PTHREAD_MUTEX_INITIALIZER; /* the supervisor channel */

/* Drop a reference to ch (lock held); the last one closes it. */
static void
chan_release(struct chan *ch)
{
	if (--ch->refs > 0 || !ch->closed)
		return;
	close(ch->fd); /* leaves the epoll set with it */
	free(ch);
	n_chans--;
	kcache_job_ended();
}

/* Arm fd for its next event (op: EPOLL_CTL_ADD or _MOD); 0 or -1. */
static int
arm(int fd, void *data, int op)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = data};

	return epoll_ctl(epfd, op, fd, &ev);
}

/* Report one operation to the supervisor; fatal when it is gone (it
 * restarts us). */
static void
report(uint64_t job, uint32_t op, uint32_t status, const struct keyproto_keyref *key,
       const char *fpr, const char *digest_hex, const char *reason)
{
	union keyproto_msg *m = xmalloc(sizeof(*m));

	keyproto_init(m, KEYPROTO_REPORT, job);
	m->report.op = op;
	m->report.status = status;
	if (key != NULL)
		m->report.key = *key;
	snprintf(m->report.key_sha256, sizeof(m->report.key_sha256), "%s", fpr ? fpr : "");
	snprintf(m->report.digest, sizeof(m->report.digest), "%s", digest_hex ? digest_hex : "");
	snprintf(m->report.reason, sizeof(m->report.reason), "%s", reason ? reason : "");
	if (pthread_mutex_lock(&sup_lock) != 0)
		fatalx("mutex");
	if (status == 200 && op == KEYPROTO_SIGN)
		n_signatures++;
	else if (status != 200)
		n_errors++;
	m->report.signatures = n_signatures;
	m->report.errors = n_errors;
	m->report.keys_cached = kcache_count();
	snprintf(m->report.token, sizeof(m->report.token), "%s", kp11_state());
	m->report.token_unavailable = kp11_unavailable();
	if (keyproto_send(PROTO_CHANNEL_FD, m, -1) < 0)
		fatal("reporting to the supervisor");
	pthread_mutex_unlock(&sup_lock);
	free(m);
}

/*
 * Send an answer on ch without waiting (its socket is non-blocking): a
 * worker that does not read its answers fills its socket and would hold
 * a thread, or the main thread that every job needs, for as long as it
 * likes.  Its channel is shut then (the worker's requests end) and the
 * supervisor told (429: it kills the worker).  A failed send is the
 * worker's loss.
 */
static void
chan_send(struct chan *ch, const union keyproto_msg *m, int fd)
{
	int first;

	if (keyproto_send(ch->fd, m, fd) == 0)
		return;
	if (errno != EAGAIN && errno != EWOULDBLOCK) {
		log_debug("answering job %llu: %s", (unsigned long long)ch->grant.hdr.id,
			  strerror(errno));
		return;
	}
	if (pthread_mutex_lock(&lock) != 0)
		fatalx("mutex");
	first = !ch->stalled;
	ch->stalled = 1;
	pthread_mutex_unlock(&lock);
	if (!first)
		return;
	log_errorx("job %llu: does not read its key answers; closing its key channel",
		   (unsigned long long)ch->grant.hdr.id);
	report(ch->grant.hdr.id, 0, 429, NULL, NULL, NULL, "does not read its key answers");
	shutdown(ch->fd, SHUT_RDWR);
}

/* Answer request id on ch with an ERROR. */
static void
send_error(struct chan *ch, uint64_t id, int status, const char *reason)
{
	union keyproto_msg m;

	keyproto_init(&m, KEYPROTO_ERROR, id);
	m.error.status = (uint32_t)status;
	snprintf(m.error.reason, sizeof(m.error.reason), "%s", reason);
	chan_send(ch, &m, -1);
}

/*
 * A SIGN that names its key by a client's pkcs11: URI (upstream's
 * swupdate key-uri): allowed only when the store's entry is a reference
 * to a token object that fits it, so that a client signs with the keys
 * the operator assigned to its selector and tag, not with any object on
 * the token.  0, or a status with err.
 */
static int
check_key_uri(const struct task *t, const struct kcache_key *k, char *err, size_t errlen)
{
	const struct keyproto_keyref *r = &t->req.key;
	struct p11uri want;
	char why[160], canon[P11URI_MAX];

	if (t->req.key_uri[0] == '\0')
		return 0;
	if (p11uri_parse(t->req.key_uri, &want, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "Invalid key URI: %s", why);
		return 400;
	}
	if (k->token != NULL && p11uri_matches(&want, k->token))
		return 0;
	if (p11uri_format(&want, canon, sizeof(canon)) < 0)
		snprintf(canon, sizeof(canon), "(too long)");
	log_warnx("job %llu: key URI %s is not the reference %s/%s/%s.pkcs11",
		  (unsigned long long)t->ch->grant.hdr.id, canon, r->selector, r->tag, r->file);
	snprintf(err, errlen,
		 "Not allowed: the key URI names no object the key store assigns to %s/%s "
		 "(%s.pkcs11)",
		 r->selector, r->tag, r->file);
	return 403;
}

/* SIGN: the signature, or a status with err. */
/* 0 when an RSA-PSS request's salt cannot fit the key (RFC 8017 9.1.1:
 * emLen >= hLen + sLen + 2), which a token may answer with an error that
 * looks like a device lost (SoftHSM: CKR_GENERAL_ERROR, and every session
 * would be opened again); 1 otherwise (the negative lengths are chosen to
 * fit). */
static int
pss_salt_fits(EVP_PKEY *key, const struct keyproto_sign *req)
{
	int em;

	if (req->scheme != KEYPROTO_RSA_PSS || req->saltlen < 0 || key == NULL)
		return 1;
	em = (EVP_PKEY_get_bits(key) - 1 + 7) / 8;
	return (long)req->saltlen + (long)req->digest_len + 2 <= (long)em;
}

/* do_sign: the token's signature does not verify with the public key
 * cached for it. */
#define SIGN_UNVERIFIED (-1)

static int
do_sign(const struct task *t, const struct kcache_key *k, union keyproto_msg *m, char *err,
	size_t errlen)
{
	size_t siglen = sizeof(m->signature.sig);
	int st;

	if ((st = check_key_uri(t, k, err, errlen)) != 0)
		return st;
	if (!pss_salt_fits(k->token != NULL ? k->pub : k->pkey, &t->req)) {
		snprintf(err, errlen, "RSA-PSS salt of %d bytes too long for the key",
			 (int)t->req.saltlen);
		return 400;
	}
	if (k->token != NULL) {
		keyproto_init(m, KEYPROTO_SIGNATURE, t->req.hdr.id);
		st = kp11_sign(k->token, k->pub, t->req.scheme, t->req.saltlen, t->req.md,
			       t->req.digest, t->req.digest_len, m->signature.sig, &siglen, err,
			       errlen);
		if (st != 0) {
			log_errorx("job %llu: %s/%s/%s on the token: %s",
				   (unsigned long long)t->ch->grant.hdr.id, t->req.key.selector,
				   t->req.key.tag, t->req.key.file, err);
			if (st == 503)
				snprintf(err, errlen,
					 "Key %s/%s/%s is on a token that cannot be reached now",
					 t->req.key.selector, t->req.key.tag, t->req.key.file);
			else
				snprintf(err, errlen, "Signing error");
			return st;
		}
		/* no token signature leaves here unchecked: a faulty device's
		 * (an RSA-CRT fault gives the key away) or one made by a key
		 * re-provisioned under the same label, which the cached public
		 * key and fingerprint no longer describe */
		if (!keys_verify_digest(k->pub, t->req.scheme, t->req.md, t->req.digest,
					t->req.digest_len, m->signature.sig, siglen))
			return SIGN_UNVERIFIED;
		m->signature.len = (uint32_t)siglen;
		snprintf(m->signature.key_sha256, sizeof(m->signature.key_sha256), "%s",
			 k->fingerprint);
		return 0;
	}
	if (k->pkey == NULL) {
		log_errorx("key %s/%s/%s is not a private key", t->req.key.selector, t->req.key.tag,
			   t->req.key.file);
		snprintf(err, errlen, "Signing error");
		return 500;
	}
	keyproto_init(m, KEYPROTO_SIGNATURE, t->req.hdr.id);
	if (keys_sign_digest(k->pkey, t->req.scheme, t->req.saltlen, t->req.md, t->req.digest,
			     t->req.digest_len, m->signature.sig, &siglen, err, errlen) < 0) {
		log_errorx("job %llu: %s/%s/%s: %s", (unsigned long long)t->ch->grant.hdr.id,
			   t->req.key.selector, t->req.key.tag, t->req.key.file, err);
		snprintf(err, errlen, "Signing error");
		return 500;
	}
	m->signature.len = (uint32_t)siglen;
	snprintf(m->signature.key_sha256, sizeof(m->signature.key_sha256), "%s", k->fingerprint);
	return 0;
}

/* PUBLIC: the public key's DER and the certificate's; 0 or a status. */
static int
do_public(const struct task *t, const struct kcache_key *k, union keyproto_msg *m, char *err,
	  size_t errlen)
{
	size_t n = k->pub_len;

	keyproto_init(m, KEYPROTO_PUBKEY, t->req.hdr.id);
	if (k->pub_der == NULL || n + k->cert_len > sizeof(m->pubkey.data)) {
		log_errorx("key %s/%s/%s has no public key to give", t->req.key.selector,
			   t->req.key.tag, t->req.key.file);
		snprintf(err, errlen, "Signing error");
		return 500;
	}
	memcpy(m->pubkey.data, k->pub_der, n);
	m->pubkey.pub_len = (uint32_t)n;
	if (k->cert_der != NULL)
		memcpy(m->pubkey.data + n, k->cert_der, k->cert_len);
	m->pubkey.cert_len = (uint32_t)k->cert_len;
	return 0;
}

/* MATERIALIZE: a sealed memfd with the key's bytes in *fd; 0 or a status. */
static int
do_materialize(const struct task *t, const struct kcache_key *k, union keyproto_msg *m, int *fd,
	       char *err, size_t errlen)
{
	const unsigned int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

	if (k->token != NULL) { /* a tool cannot read a key that never leaves the token */
		snprintf(err, errlen,
			 "Key %s/%s/%s is on a token (%s.pkcs11); this signer's tool needs a key "
			 "file",
			 t->req.key.selector, t->req.key.tag, t->req.key.file, t->req.key.file);
		return 400;
	}
	keyproto_init(m, KEYPROTO_MATERIAL, t->req.hdr.id);
	*fd = memfd_create("key", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*fd < 0 || util_write_all(*fd, k->bytes, k->len) < 0 ||
	    fcntl(*fd, F_ADD_SEALS, seals) < 0 || lseek(*fd, 0, SEEK_SET) < 0) {
		log_errorx("memfd for %s/%s/%s: %s", t->req.key.selector, t->req.key.tag,
			   t->req.key.file, strerror(errno));
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		snprintf(err, errlen, "Signing error");
		return 500;
	}
	m->material.len = k->len;
	return 0;
}

/*
 * MATERIALIZE of the PIN (keyproto.h KEYPROTO_PIN_FILE; the grant allowed
 * it): a sealed memfd holding the PIN this process holds, never a file of
 * the store; 0 or a status.
 */
static int
do_pin(const struct task *t, union keyproto_msg *m, int *fd, char *err, size_t errlen)
{
	const unsigned int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	char pin[256];
	int n = kp11_pin(pin, sizeof(pin));

	if (n < 0) {
		snprintf(err, errlen,
			 "No PKCS#11 PIN is configured (DIGSIGSERVER_PKCS11_PIN_FILE or "
			 "DIGSIGSERVER_YUBIHSM_PASSWORD)");
		return 500;
	}
	keyproto_init(m, KEYPROTO_MATERIAL, t->req.hdr.id);
	*fd = memfd_create("pin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*fd < 0 || util_write_all(*fd, pin, (size_t)n) < 0 ||
	    fcntl(*fd, F_ADD_SEALS, seals) < 0 || lseek(*fd, 0, SEEK_SET) < 0) {
		log_errorx("memfd for the PIN: %s", strerror(errno));
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		snprintf(err, errlen, "Signing error");
		n = -1;
	}
	OPENSSL_cleanse(pin, sizeof(pin));
	if (n < 0)
		return 500;
	m->material.len = (uint64_t)n;
	return 0;
}

/* Do one PIN task and answer it, reported first as every key request. */
static void
run_pin_task(const struct task *t, union keyproto_msg *m)
{
	char err[KEYPROTO_REASON_MAX];
	int fd = -1, st = do_pin(t, m, &fd, err, sizeof(err));

	report(t->ch->grant.hdr.id, KEYPROTO_MATERIALIZE, (uint32_t)(st ? st : 200), &t->req.key,
	       NULL, NULL, st ? err : NULL);
	if (st != 0)
		send_error(t->ch, t->req.hdr.id, st, err);
	else
		chan_send(t->ch, m, fd);
	if (fd >= 0)
		close(fd);
}

/* SIGN, once more when a token's signature does not verify with the
 * public key cached for it: with the key read again from the token (*k
 * replaced; *got 0 when it cannot be had now). */
static int
sign_task(const struct task *t, struct kcache_key *k, int *got, union keyproto_msg *m, char *err,
	  size_t errlen)
{
	unsigned long long job = (unsigned long long)t->ch->grant.hdr.id;
	const struct keyproto_keyref *r = &t->req.key;
	char was[sizeof(k->fingerprint)];
	int st = do_sign(t, k, m, err, errlen);

	if (st != SIGN_UNVERIFIED)
		return st;
	memcpy(was, k->fingerprint, sizeof(was));
	kcache_put(k);
	kcache_forget(r, was);
	if ((st = kcache_get(r, 0, k, err, errlen)) != 0) {
		*got = 0;
		return st;
	}
	if ((st = do_sign(t, k, m, err, errlen)) == SIGN_UNVERIFIED) {
		log_errorx("job %llu: %s/%s/%s: the token's signature does not verify with its "
			   "public key",
			   job, r->selector, r->tag, r->file);
		snprintf(err, errlen, "Signing error");
		return 500;
	}
	if (st == 0 && strcmp(was, k->fingerprint) == 0)
		/* the same key: the device erred once (never ignore that: an
		 * RSA-CRT fault in a released signature gives the key away) */
		log_errorx("job %llu: %s/%s/%s: the token made a signature that does not verify "
			   "with its own public key (a device fault?); made again, this one "
			   "verifies",
			   job, r->selector, r->tag, r->file);
	else if (st == 0)
		log_warnx("job %llu: %s/%s/%s: the token holds another key than the one cached "
			  "(re-provisioned?): its public key was read again",
			  job, r->selector, r->tag, r->file);
	return st;
}

/* Do one task and answer it. */
static void
run_task(const struct task *t, union keyproto_msg *m)
{
	uint32_t op = t->req.hdr.type;
	struct kcache_key k;
	char err[KEYPROTO_REASON_MAX], dhex[2 * KEYPROTO_DIGEST_MAX + 1] = "";
	int st, got, fd = -1;

	if (op == KEYPROTO_MATERIALIZE && kgrant_is_pin(&t->req.key)) {
		run_pin_task(t, m);
		return;
	}
	st = kcache_get(&t->req.key, op == KEYPROTO_MATERIALIZE, &k, err, sizeof(err));
	got = st == 0;
	if (got) {
		if (op == KEYPROTO_SIGN)
			st = sign_task(t, &k, &got, m, err, sizeof(err));
		else if (op == KEYPROTO_PUBLIC)
			st = do_public(t, &k, m, err, sizeof(err));
		else
			st = do_materialize(t, &k, m, &fd, err, sizeof(err));
	}
	if (op == KEYPROTO_SIGN)
		util_hex(t->req.digest, t->req.digest_len, dhex);
	/* the report goes first: by the time the worker has its answer (and
	 * can end its job) the supervisor's channel holds the report */
	if (st != 0) {
		report(t->ch->grant.hdr.id, op, (uint32_t)st, &t->req.key, k.fingerprint, dhex,
		       err);
		send_error(t->ch, t->req.hdr.id, st, err);
	} else {
		if (op != KEYPROTO_PUBLIC)
			report(t->ch->grant.hdr.id, op, 200, &t->req.key, k.fingerprint, dhex,
			       NULL);
		chan_send(t->ch, m, fd);
	}
	if (fd >= 0)
		close(fd);
	if (got) /* even when the request was refused after all */
		kcache_put(&k);
}

/* A bad record on ch: answer, report (the supervisor kills the worker)
 * and close the channel. */
static void
chan_violation(struct chan *ch, const char *why)
{
	log_errorx("job %llu: malformed key request (%s); closing its key channel",
		   (unsigned long long)ch->grant.hdr.id, why);
	report(ch->grant.hdr.id, 0, 400, NULL, NULL, NULL, why);
	send_error(ch, 0, 400, "malformed key request");
}

/* Close ch for the main thread: no more reading (lock held). */
static void
chan_close(struct chan *ch)
{
	ch->closed = 1;
	ch->refs++;
	chan_release(ch);
}

/* A request outside ch's grant: reported, then refused. */
static void
refuse(struct chan *ch, const union keyproto_msg *m, int status, const char *why)
{
	log_warnx("job %llu: %s refused: %s", (unsigned long long)ch->grant.hdr.id,
		  keyproto_type_name(m->hdr.type), why);
	report(ch->grant.hdr.id, m->hdr.type, (uint32_t)status, &m->sign.key, NULL, NULL, why);
	send_error(ch, m->hdr.id, status, why);
}

static int
is_request(uint32_t type)
{
	return type == KEYPROTO_SIGN || type == KEYPROTO_PUBLIC || type == KEYPROTO_MATERIALIZE;
}

/* Close ch for reading (lock taken here): its last reference frees it. */
static void
chan_close_locked(struct chan *ch)
{
	if (pthread_mutex_lock(&lock) != 0)
		fatalx("mutex");
	chan_close(ch);
	pthread_mutex_unlock(&lock);
}

/*
 * ch's event, in this thread's hands: one record read, then
 *  - an allowed request: ch armed again, the request answered here;
 *  - a request outside the grant: refused, ch armed again;
 *  - its end, or a malformed record: ch closed, not armed again.
 * m is this thread's record.
 */
static void
chan_event(struct chan *ch, union keyproto_msg *m)
{
	struct task t = {0}; /* what a shorter record leaves of req: zeros */
	char why[160];
	int fd, st, r = keyproto_recv(ch->fd, m, &fd, why, sizeof(why));

	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		if (arm(ch->fd, ch, EPOLL_CTL_MOD) < 0)
			chan_close_locked(ch);
		return;
	}
	if (r > 0 && is_request(m->hdr.type)) {
		if ((st = kgrant_check(&ch->grant, m->hdr.type, &m->sign.key, why, sizeof(why))) !=
		    0) {
			refuse(ch, m, st, why);
			if (arm(ch->fd, ch, EPOLL_CTL_MOD) < 0)
				chan_close_locked(ch);
			return;
		}
		t.ch = ch;
		/* PUBLIC and MATERIALIZE are a prefix of SIGN: hdr, key */
		memcpy(&t.req, m, keyproto_size(m->hdr.type));
		if (pthread_mutex_lock(&lock) != 0)
			fatalx("mutex");
		ch->refs++;
		if (arm(ch->fd, ch, EPOLL_CTL_MOD) < 0)
			chan_close(ch);
		pthread_mutex_unlock(&lock);
		run_task(&t, m);
		if (pthread_mutex_lock(&lock) != 0)
			fatalx("mutex");
		chan_release(ch);
		pthread_mutex_unlock(&lock);
		return;
	}
	if (r > 0) {
		snprintf(why, sizeof(why), "%s record from a worker",
			 keyproto_type_name(m->hdr.type));
		chan_violation(ch, why);
	} else if (r < 0 && errno == EPROTO) {
		chan_violation(ch, why);
	}
	chan_close_locked(ch);
}

/* A GRANT from the supervisor: a new job channel, armed. */
static void
grant_taken(const union keyproto_msg *m, int fd)
{
	struct chan *ch;
	unsigned n;

	if (pthread_mutex_lock(&lock) != 0)
		fatalx("mutex");
	n = n_chans;
	pthread_mutex_unlock(&lock);
	/* more channels than any pool has jobs: processes a job left behind
	 * collecting them; a new job's requests then fail (503), the key
	 * process does not */
	if (n >= CHANS_MAX) {
		log_errorx("job %llu: %u key channels open already; refusing its channel",
			   (unsigned long long)m->hdr.id, n);
		close(fd);
		return;
	}
	util_set_nonblock(fd, 1); /* answers never wait (chan_send) */
	ch = xcalloc(1, sizeof(*ch));
	ch->fd = fd;
	ch->grant = m->grant;
	if (pthread_mutex_lock(&lock) != 0)
		fatalx("mutex");
	n_chans++;
	pthread_mutex_unlock(&lock);
	if (arm(fd, ch, EPOLL_CTL_ADD) < 0) {
		log_errorx("job %llu: watching its key channel: %s", (unsigned long long)m->hdr.id,
			   strerror(errno));
		chan_close_locked(ch);
		return;
	}
	log_debug("job %llu: key channel for %s", (unsigned long long)m->hdr.id, m->grant.endpoint);
}

/* The supervisor's channel is readable. */
static void
sup_read(union keyproto_msg *m)
{
	char why[160];
	int fd, r = keyproto_recv(PROTO_CHANNEL_FD, m, &fd, why, sizeof(why));

	if (r == 0) {
		log_debug("the supervisor closed the channel: exiting");
		_exit(0);
	}
	if (r < 0 && errno == EPROTO) {
		/* a GRANT whose channel did not come with it (this process out
		 * of descriptors): that job's requests fail, no other's */
		log_errorx("a record from the supervisor: %s; ignored", why);
		return;
	}
	if (r < 0)
		fatal("reading the supervisor's channel");
	if (m->hdr.type != KEYPROTO_GRANT)
		fatalx("%s record from the supervisor", keyproto_type_name(m->hdr.type));
	grant_taken(m, fd);
}

/* One thread of the signing: every event of the epoll set, in turn. */
static void *
sign_thread(void *arg)
{
	union keyproto_msg *m = xmalloc(sizeof(*m));

	(void)arg;
	for (;;) {
		struct epoll_event ev;
		int n = epoll_wait(epfd, &ev, 1, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fatal("epoll_wait");
		if (n == 0)
			continue;
		if (ev.data.ptr != NULL) {
			chan_event(ev.data.ptr, m);
			continue;
		}
		sup_read(m);
		if (arm(PROTO_CHANNEL_FD, NULL, EPOLL_CTL_MOD) < 0)
			fatal("epoll_ctl");
	}
	return NULL;
}

/* SIGHUP blocked in every thread (they are made after this): the main
 * thread takes it with sigtimedwait. */
static void
block_hup(sigset_t *hup)
{
	sigemptyset(hup);
	sigaddset(hup, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, hup, NULL) < 0)
		fatal("sigprocmask");
}

static void
start_threads(const struct config *cfg)
{
	long n = cfg->sign_threads > 0 ? (long)cfg->sign_threads : sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    arm(PROTO_CHANNEL_FD, NULL, EPOLL_CTL_ADD) < 0)
		fatal("epoll");
	for (long i = 0; i < n; i++) {
		pthread_t th;
		int e = pthread_create(&th, NULL, sign_thread, NULL);

		if (e != 0)
			fatalx("pthread_create: %s", strerror(e));
		pthread_detach(th);
	}
	log_debug("signing on %ld threads", n);
}

/* Every STORE_PROBE_INTERVAL seconds, probe the key store and tell the
 * supervisor (its /healthz): a thread of its own, as an s3:// probe may
 * wait for the network. */
static void *
store_thread(void *arg)
{
	const struct config *cfg = arg;
	union keyproto_msg *m = xmalloc(sizeof(*m));
	int sent;

	for (;;) {
		char why[KEYPROTO_REASON_MAX] = "";
		int ok = ks_probe_store(cfg, why, sizeof(why)) == 0;

		keyproto_init(m, KEYPROTO_STORE, 0);
		m->store.ok = (uint32_t)ok;
		snprintf(m->store.reason, sizeof(m->store.reason), "%s", ok ? "" : why);
		if (pthread_mutex_lock(&sup_lock) != 0)
			fatalx("mutex");
		sent = keyproto_send(PROTO_CHANNEL_FD, m, -1) == 0;
		pthread_mutex_unlock(&sup_lock);
		if (!sent)
			break; /* the supervisor is gone: the main thread ends the process */
		sleep((unsigned)cfg->store_probe_interval);
	}
	free(m);
	return NULL;
}

static void
start_store_probe(const struct config *cfg)
{
	pthread_t th;
	int e;

	if (cfg->store_probe_interval <= 0)
		return;
	if ((e = pthread_create(&th, NULL, store_thread, (void *)cfg)) != 0)
		fatalx("pthread_create: %s", strerror(e));
	pthread_detach(th);
}

/* DIGSIGSERVER_KEYFILE_CREDENTIALS: read here, by the key process alone
 * (checked at start and at each reload), so that no other process holds
 * them; read again at SIGHUP (rotated credentials), keeping the old ones
 * when the file went bad. */
static void
use_store_credentials(const struct config *cfg, int at_start)
{
	char err[512];

	if (cfg->keyfile_credentials == NULL || *cfg->keyfile_credentials == '\0')
		return;
	if (s3_credentials_load(cfg->keyfile_credentials, 1, err, sizeof(err)) == 0)
		return;
	if (at_start)
		fatalx("DIGSIGSERVER_KEYFILE_CREDENTIALS: %s", err);
	log_errorx("DIGSIGSERVER_KEYFILE_CREDENTIALS not read again, keeping the last: %s", err);
}

void
keyd_main(const struct proc_ctx *ctx)
{
	/* static: still reachable when the process exits from below */
	static union keyproto_msg *m;
	struct timespec tick = {1, 0};
	sigset_t hup;

	m = xmalloc(sizeof(*m));
	block_hup(&hup);
	use_store_credentials(ctx->cfg, 1);
	kcache_init(ctx->cfg);
	kp11_init(ctx->cfg);
	/* a module built with an executable stack or text relocations loads
	 * only before the lock */
	proc_lock_memory(ctx, kp11_load());
	start_threads(ctx->cfg);
	keyproto_init(m, KEYPROTO_READY, 0);
	if (keyproto_send(PROTO_CHANNEL_FD, m, -1) < 0)
		fatal("sending READY");
	proc_title("keys");
	kp11_probe(ctx->cfg);
	start_store_probe(ctx->cfg);
	for (;;) {
		/* a tick: s3:// entries expire even when nothing is asked */
		int sig = sigtimedwait(&hup, NULL, &tick);

		if (sig < 0 && errno != EAGAIN && errno != EINTR)
			fatal("sigtimedwait");
		if (sig == SIGHUP) {
			log_info("SIGHUP: key cache emptied");
			kcache_flush();
			kp11_reset();
			use_store_credentials(ctx->cfg, 0);
		}
		kcache_expire();
	}
}

void
keyd_take_env_secrets(void)
{
	kp11_take_env_pin();
}

void
keyd_forget_secrets(void)
{
	kp11_forget_pin();
	log_redact(NULL);
}

int
keyd_check_tokens(const struct config *cfg, FILE *report)
{
	return kp11_check_store(cfg, report);
}
