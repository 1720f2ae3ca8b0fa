/* SPDX-License-Identifier: MIT */
/*
 * keyproc.c: the supervisor's side of the key process (keyproc.h).
 *
 * Calls lib/ (proc, keyproto, log, util) and roles.h; the pool and the
 * audit trail hear of key operations through the report hook.
 */
#include "keyproc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "roles.h"
#include "util.h"

static struct {
	struct event_base *base;
	const struct config *cfg;
	const struct priv_user *user;
	const struct keyproc_hooks *hooks;
	pid_t pid;
	int chan; /* -1 when none */
	int ready;
	int said_ready; /* this process said READY (ready is cleared with its channel) */
	int stopping;
	struct event *ev_chan, *ev_respawn;
	uint32_t generation;
	uint64_t spawned_ms;
	int failures; /* deaths before READY in a row */
	int reading;  /* in chan_cb */
	uint64_t restarts, keys_cached, signatures, errors;
	char token[16];             /* the token's state, as last reported */
	int store_known, store_ok;  /* the key store's last probe */
	char store_reason[KEYPROTO_REASON_MAX];
	uint64_t store_ms;          /* when it came */
	uint64_t token_unavailable; /* as last reported */
	/* the settings it was forked with: a SIGHUP that changes them
	 * replaces it */
	char *keyfile_uri, *keyfile_credentials;
	long long key_cache_ttl, sign_threads;
} kp = {.chan = -1};

static void chan_cb(evutil_socket_t fd, short what, void *arg);

/* Fork the key process. */
static void
spawn(void)
{
	struct proc_ctx ctx = {.cfg = kp.cfg, .user = kp.user, .generation = ++kp.generation};
	int chan;
	pid_t pid = proc_spawn(&roles[ROLE_KEYS], &ctx, &chan);

	if (pid < 0) {
		log_errorx("forking the key process: %s", strerror(errno));
		return;
	}
	kp.pid = pid;
	kp.chan = chan;
	kp.ready = kp.said_ready = 0;
	kp.store_known = 0; /* a new process probes again */
	free(kp.keyfile_uri);
	kp.keyfile_uri = kp.cfg->keyfile_uri ? xstrdup(kp.cfg->keyfile_uri) : NULL;
	free(kp.keyfile_credentials);
	kp.keyfile_credentials =
	    kp.cfg->keyfile_credentials ? xstrdup(kp.cfg->keyfile_credentials) : NULL;
	kp.key_cache_ttl = kp.cfg->key_cache_ttl;
	kp.sign_threads = kp.cfg->sign_threads;
	kp.spawned_ms = util_now_ms();
	util_set_nonblock(chan, 1);
	kp.ev_chan = event_new(kp.base, chan, EV_READ | EV_PERSIST, chan_cb, NULL);
	if (kp.ev_chan == NULL)
		fatalx("event_new failed");
	event_add(kp.ev_chan, NULL);
	log_debug("key process %ld forked", (long)pid);
}

static void
respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!kp.stopping && kp.pid == 0)
		spawn();
}

void
keyproc_start(struct event_base *base, const struct config *cfg, const struct priv_user *user,
	      const struct keyproc_hooks *hooks)
{
	kp.base = base;
	kp.cfg = cfg;
	kp.user = user;
	kp.hooks = hooks;
	if ((kp.ev_respawn = evtimer_new(base, respawn_cb, NULL)) == NULL)
		fatalx("evtimer_new failed");
	if (!user->valid)
		log_info("not started as root: the key process and the workers share uid %u, so "
			 "file permissions do not keep the keys from the workers; each worker "
			 "hides a file:// key store in a mount namespace of its own",
			 (unsigned)getuid());
	spawn();
}

/* Forget the channel of a key process that is gone or going. */
static void
drop_chan(void)
{
	if (kp.ev_chan != NULL) {
		event_free(kp.ev_chan);
		kp.ev_chan = NULL;
	}
	if (kp.chan >= 0) {
		close(kp.chan);
		kp.chan = -1;
	}
	kp.ready = 0;
}

/* Something is wrong with the key process: kill it (SIGCHLD restarts it). */
static void
key_fail(const char *why)
{
	log_errorx("key process %ld: %s; killing it", (long)kp.pid, why);
	if (kp.pid > 0)
		kill(kp.pid, SIGKILL);
	drop_chan();
}

static void
on_record(const union keyproto_msg *m)
{
	switch (m->hdr.type) {
	case KEYPROTO_READY:
		kp.ready = kp.said_ready = 1;
		kp.failures = 0;
		log_debug("key process %ld ready", (long)kp.pid);
		break;
	case KEYPROTO_STORE:
		if (kp.store_known && kp.store_ok != (int)m->store.ok)
			log_info("key store %s%s%s", m->store.ok ? "answers again" : "probe failed",
				 m->store.ok ? "" : ": ", m->store.reason);
		kp.store_known = 1;
		kp.store_ok = (int)m->store.ok;
		snprintf(kp.store_reason, sizeof(kp.store_reason), "%s", m->store.reason);
		kp.store_ms = util_now_ms();
		break;
	case KEYPROTO_REPORT:
		kp.keys_cached = m->report.keys_cached;
		snprintf(kp.token, sizeof(kp.token), "%s", m->report.token);
		kp.token_unavailable = m->report.token_unavailable;
		/* counted here: the key process's own counts restart with it */
		if (m->report.status == 200 && m->report.op == KEYPROTO_SIGN)
			kp.signatures++;
		else if (m->report.status != 200)
			kp.errors++;
		kp.hooks->report(&m->report);
		break;
	default:
		key_fail("sent a record it may not send");
	}
}

static void
chan_cb(evutil_socket_t fd, short what, void *arg)
{
	static union keyproto_msg *m; /* one, reused: the supervisor is single-threaded */
	char why[160];

	(void)what;
	(void)arg;
	if (m == NULL)
		m = xmalloc(sizeof(*m));
	while (kp.chan == fd) {
		int pfd, r = keyproto_recv(fd, m, &pfd, why, sizeof(why));

		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r < 0) {
			key_fail(why);
			break;
		}
		if (r == 0) {
			drop_chan(); /* exiting: SIGCHLD tells the rest */
			break;
		}
		kp.reading = 1;
		on_record(m);
		kp.reading = 0;
	}
}

void
keyproc_drain(void)
{
	/* not from inside a report (a report can end a job, and its record
	 * drains): the outer read goes on with the rest */
	if (kp.chan >= 0 && !kp.reading)
		chan_cb(kp.chan, EV_READ, NULL);
}

/* Send the GRANT with the key process's end; 0 or -1. */
static int
send_grant(uint64_t job_id, const char *endpoint, int any_selector, const char *selectors, int end)
{
	static union keyproto_msg *m;

	if (m == NULL)
		m = xmalloc(sizeof(*m));
	keyproto_init(m, KEYPROTO_GRANT, job_id);
	snprintf(m->grant.endpoint, sizeof(m->grant.endpoint), "%s", endpoint);
	m->grant.any_selector = any_selector ? 1 : 0;
	if (!any_selector && selectors != NULL) {
		if (strlen(selectors) >= sizeof(m->grant.selectors))
			log_warnx("job %llu: the client's selector list is too long for a grant; "
				  "it gets no key",
				  (unsigned long long)job_id);
		else
			snprintf(m->grant.selectors, sizeof(m->grant.selectors), "%s", selectors);
	}
	return keyproto_send(kp.chan, m, end);
}

int
keyproc_grant(uint64_t job_id, const char *endpoint, int any_selector, const char *selectors)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		log_errorx("key channel for job %llu: %s", (unsigned long long)job_id,
			   strerror(errno));
		return -1;
	}
	if (kp.chan < 0)
		log_warnx("job %llu: no key process running: its key requests fail (503)",
			  (unsigned long long)job_id);
	else if (send_grant(job_id, endpoint, any_selector, selectors, sp[0]) < 0)
		log_warnx("job %llu: granting its key channel: %s", (unsigned long long)job_id,
			  strerror(errno));
	close(sp[0]);
	return sp[1];
}

/* Fork it again now, or later when it keeps dying before READY. */
static void
schedule_respawn(int was_ready)
{
	int shift;
	uint64_t ms;
	struct timeval tv;

	if (kp.stopping)
		return;
	kp.restarts++;
	if (was_ready) {
		spawn();
		return;
	}
	kp.failures++;
	shift = kp.failures < 7 ? kp.failures : 7;
	ms = 100ULL << shift; /* 200 ms ... 12.8 s, as the workers' */
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	log_warnx("key process exited before READY (%d in a row); restarting it in %llu ms",
		  kp.failures, (unsigned long long)ms);
	evtimer_add(kp.ev_respawn, &tv);
}

int
keyproc_reaped(pid_t pid, int status)
{
	int was_ready;

	if (pid <= 0 || pid != kp.pid)
		return 0;
	if (kp.chan >= 0)
		keyproc_drain(); /* its last reports */
	/* not kp.ready: its channel's end clears that before the death is
	 * reaped, and a process that served for hours is no start failure */
	was_ready = kp.said_ready;
	if (!kp.stopping) {
		if (WIFSIGNALED(status))
			log_errorx("key process %ld died of signal %d; restarting it", (long)pid,
				   WTERMSIG(status));
		else
			log_errorx("key process %ld exited (%d); restarting it", (long)pid,
				   WEXITSTATUS(status));
	}
	drop_chan();
	kp.pid = 0;
	schedule_respawn(was_ready);
	return 1;
}

pid_t
keyproc_pid(void)
{
	return kp.pid;
}

/* 1 when the settings the key process reads differ from its own. */
static int
same_string(const char *a, const char *b)
{
	return (a == NULL) == (b == NULL) && (a == NULL || strcmp(a, b) == 0);
}

static int
settings_changed(void)
{
	return kp.key_cache_ttl != kp.cfg->key_cache_ttl ||
	       kp.sign_threads != kp.cfg->sign_threads ||
	       !same_string(kp.cfg->keyfile_uri, kp.keyfile_uri) ||
	       !same_string(kp.cfg->keyfile_credentials, kp.keyfile_credentials);
}

void
keyproc_hup(void)
{
	if (kp.pid <= 0)
		return;
	if (settings_changed()) {
		/* forked again with them (its jobs in flight answer 503) */
		log_info("SIGHUP: the key store settings changed: replacing the key process");
		if (kill(kp.pid, SIGTERM) < 0)
			log_warnx("SIGTERM to the key process: %s", strerror(errno));
		return;
	}
	if (kill(kp.pid, SIGHUP) < 0)
		log_warnx("SIGHUP to the key process: %s", strerror(errno));
}

void
keyproc_stop(void)
{
	uint64_t deadline = util_now_ms() + 2000;
	int status;

	kp.stopping = 1;
	drop_chan();
	while (kp.pid > 0 && util_now_ms() < deadline) {
		pid_t r = waitpid(kp.pid, &status, WNOHANG);

		if (r == kp.pid || (r < 0 && errno == ECHILD)) {
			kp.pid = 0;
			return;
		}
		usleep(10000);
	}
	if (kp.pid > 0)
		kill(kp.pid, SIGKILL);
}

void
keyproc_snapshot(struct status_keys *s)
{
	s->pid = (long)kp.pid;
	s->state = kp.pid == 0 ? "down" : kp.ready ? "ready" : "starting";
	s->uptime_seconds = kp.pid ? (util_now_ms() - kp.spawned_ms) / 1000 : 0;
	s->restarts = kp.restarts;
	s->keys_cached = kp.keys_cached;
	s->signatures = kp.signatures;
	s->errors = kp.errors;
	snprintf(s->token, sizeof(s->token), "%s", kp.token);
	s->store_known = kp.store_known;
	s->store_ok = kp.store_ok;
	snprintf(s->store_reason, sizeof(s->store_reason), "%s", kp.store_reason);
	s->store_age_seconds = kp.store_known ? (util_now_ms() - kp.store_ms) / 1000 : 0;
	s->token_unavailable = kp.token_unavailable;
}
