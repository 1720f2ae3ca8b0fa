/* SPDX-License-Identifier: MIT */
/*
 * pool.c: the worker pool (pool.h).
 *
 * Workers are forked ahead of need, each by proc_spawn (proc.h) in the
 * worker role (roles.c), with a SOCK_SEQPACKET channel whose records
 * (proto.h) are read as they come and checked against the record table
 * (records.h) before anything is done with them: a record outside it
 * gets the worker killed.  A job is handed over with the client socket;
 * the pool keeps its own copy of that socket until the worker says
 * RESPONDING, so that it can still answer 500 (crash) or 504 (timeout).
 * At RESPONSE_TIMEOUT the worker and its process group get SIGKILL; the
 * supervisor is a child subreaper (reaper.h), so whatever the job had
 * started (an external tool, or anything that escaped its process group
 * with setsid) is re-parented to it and killed here too.  No pid or group
 * a worker names is ever signalled.  The job directory of a worker that
 * died in a job is removed here.  A worker that dies before it ever
 * became ready makes the next fork wait (exponential back-off), so a
 * broken setup cannot fork-loop.
 *
 * Calls: records.h, roles.h and lib/ (proc, proto, audit trail through
 * audit.h, reaper, reply, log, util); the supervisor only through its
 * hooks.
 */
#include "pool.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "keyd.h"
#include "keyproc.h"
#include "log.h"
#include "proto.h"
#include "reaper.h"
#include "records.h"
#include "reply.h"
#include "route.h"
#include "roles.h"
#include "spawner.h"
#include "uids.h"
#include "util.h"

struct worker {
	TAILQ_ENTRY(worker) entry;
	pid_t pid;
	int serial; /* the spawner that forked it (spawner.h); -1: our own child */
	uid_t uid;  /* its own user id (uids.h), or 0: the workers' user */
	int cpu;    /* the CPU it is kept on (its spawner's), or -1 */
	int killed; /* SIGKILL asked for */
	int chan;
	struct event *ev_chan;
	struct event *ev_timer;
	struct record_state rec; /* phase, generation, job id, records seen */
	unsigned long jobs;
	uint64_t spawned_ms;
	/* its CPU use at READY and at its last DONE (proto.h) */
	struct proto_cpu at_ready, at_done;
	int ready_seen, done_seen;
	/* the current job */
	int client_fd; /* our copy until RESPONDING, else -1 */
	char peer[PROTO_PEER_MAX];
	char path[256];
	int route;	   /* the signer the supervisor routed the job to (route.h) */
	char routed[32];   /* its name */
	char endpoint[32]; /* the same, once the worker said STARTED */
	char selector[PROTO_TEXT_MAX];
	char identity[PROTO_TEXT_MAX];
	char progress[PROTO_TEXT_MAX];
	uint64_t job_start_ms;
	int aborted; /* the pool answered the job itself (crash, timeout) */
	int audited; /* the job's audit record is written: later key reports get their own */
	/* what the worker reported for the audit trail */
	char key_sha256[65];
	json_t *audit_signed;
	json_t *audit_extra;
	size_t audit_bytes;   /* of records taken for this job */
	size_t audit_omitted; /* records past AUDIT_JOB_MAX, dropped */
};

/* Most audit record bytes kept per job (the rest is counted, not kept). */
#define AUDIT_JOB_MAX (1u << 20)
/* Most key operations listed in one job's record (module signing makes
 * one per module; past this they are counted as omitted). */
#define KEY_OPS_KEPT 10000
/* Time allowed to write the pool's own answer (500, 504). */
#define POOL_WRITE_TIMEOUT_MS 1000

static TAILQ_HEAD(, worker) workers = TAILQ_HEAD_INITIALIZER(workers);
static struct event_base *base;
static const struct config *cfg;
static const struct priv_user *user;
static const struct pool_hooks *hooks;
static uint32_t next_generation = 1;
static uint64_t next_job_id = 1;
static int spawn_failures;	 /* consecutive deaths before READY */
static int pending;		 /* forks asked of the spawner, not answered */
static struct event *ev_respawn; /* deferred pool_fill after failures */
static int respawn_pending;
static int filled_once; /* the first fill is not a respawn */
static int draining;	/* shutting down: workers exit after their job */
static uint64_t stat_jobs, stat_timeouts, stat_crashes, stat_respawns;
static struct status_cpu stat_phase[STATUS_PHASES];
static uint64_t stat_exited, stat_forks, stat_fork_us;

static void chan_cb(evutil_socket_t fd, short what, void *arg);
static const struct spawner_hooks spawner_hooks;
static void job_timer_cb(evutil_socket_t fd, short what, void *arg);

/* Workers in a phase; -1 for every one not exiting.  Forks asked of the
 * spawner and not answered yet count as starting. */
static int
count(int phase)
{
	struct worker *w;
	int n = phase < 0 || phase == RECORD_STARTING ? pending : 0;

	TAILQ_FOREACH(w, &workers, entry)
		if (phase < 0 ? w->rec.phase != RECORD_EXITING : (int)w->rec.phase == phase)
			n++;
	return n;
}

int
pool_idle(void)
{
	return count(RECORD_IDLE);
}

int
pool_busy(void)
{
	struct worker *w;
	int n = 0;

	TAILQ_FOREACH(w, &workers, entry)
		n += record_busy(w->rec.phase);
	return n;
}

/* Take worker generation, forked as pid (by spawner serial, or by us:
 * -1), with its channel. */
static struct worker *
adopt(uint32_t generation, pid_t pid, int chan, int serial)
{
	struct worker *w = xcalloc(1, sizeof(*w));

	w->rec.phase = RECORD_STARTING;
	w->rec.generation = generation;
	w->client_fd = -1;
	w->spawned_ms = util_now_ms();
	stat_forks++;
	w->pid = pid;
	w->serial = serial;
	w->cpu = spawner_cpu(serial);
	w->chan = chan;
	util_set_nonblock(w->chan, 1);
	w->ev_chan = event_new(base, w->chan, EV_READ | EV_PERSIST, chan_cb, w);
	w->ev_timer = evtimer_new(base, job_timer_cb, w);
	if (w->ev_chan == NULL || w->ev_timer == NULL)
		fatalx("event_new failed");
	event_add(w->ev_chan, NULL);
	TAILQ_INSERT_TAIL(&workers, w, entry);
	log_debug("worker %ld forked (generation %u)", (long)pid, generation);
	return w;
}

/* Fork one worker ourselves (no spawner running), as id when not 0. */
static int
spawn_here(uint32_t generation, uid_t id)
{
	struct priv_user own = priv_own_id(user, id);
	struct proc_ctx ctx = {.cfg = cfg, .user = &own, .generation = generation};
	int chan;
	uint64_t t0 = util_thread_cpu_us();
	pid_t pid = proc_spawn(&roles[ROLE_WORKER], &ctx, &chan);

	stat_fork_us += util_thread_cpu_us() - t0;
	if (pid < 0) {
		log_error("forking a worker");
		return -1;
	}
	adopt(generation, pid, chan, -1)->uid = id;
	return 0;
}

/* One more worker, with an id of its own when WORKER_UIDS is set (uids.h):
 * asked of the spawner (spawner.h), else forked here.  -1 also when every
 * id is held: the fork waits for a worker to end (pool_fill then runs). */
static int
spawn(void)
{
	int64_t id = uids_take();
	uint32_t generation;
	int serial;

	if (id < 0) {
		log_debug("every worker id of DIGSIGSERVER_WORKER_UIDS is held: the next fork "
			  "waits for a worker to end");
		return -1;
	}
	generation = next_generation++;
	if ((serial = spawner_fork(generation, (uid_t)id)) >= 0) {
		uids_pending(generation, (uid_t)id, serial);
		pending++;
		return 0;
	}
	if (spawn_here(generation, (uid_t)id) < 0) {
		uids_give((uid_t)id);
		return -1;
	}
	return 0;
}

static void
respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	respawn_pending = 0;
	pool_fill();
}

void
pool_init(struct event_base *b, const struct config *c, const struct priv_user *u,
	  const struct pool_hooks *h)
{
	unsigned long first = 0, n = 0;
	char err[256];

	base = b;
	cfg = c;
	user = u;
	hooks = h;
	/* checked at start (main.c); not started as root, no ids */
	if (user->valid && conf_worker_uids(cfg, &first, &n, err, sizeof(err)) == 0)
		uids_init(first, n);
	/* What a job leaves behind is re-parented to us, never to init. */
	if (reaper_enable() < 0)
		fatal("prctl PR_SET_CHILD_SUBREAPER");
	ev_respawn = evtimer_new(base, respawn_cb, NULL);
	if (ev_respawn == NULL)
		fatalx("evtimer_new failed");
	/* forked now, before the supervisor serves anything: its image is
	 * what a worker needs (spawner.h) */
	spawner_init(base, cfg, user, &spawner_hooks);
	(void)spawner_start();
}

void
pool_fill(void)
{
	int want = hooks->wanted();

	if (want == 0 || respawn_pending)
		return;
	if (spawn_failures > 0 && count(RECORD_STARTING) > 0)
		return; /* one probe at a time while workers keep dying */
	while (count(-1) < want) {
		if (spawn() < 0)
			break;
		if (filled_once)
			stat_respawns++;
		if (spawn_failures > 0)
			break;
	}
	filled_once = 1;
}

/* Schedule a delayed pool_fill after a worker died before READY or could
 * not be forked (what says which). */
static void
throttle_respawn(const char *what)
{
	int shift = spawn_failures < 7 ? spawn_failures : 7;
	uint64_t ms = 100ULL << shift; /* 200 ms ... 12.8 s */
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

	if (respawn_pending)
		return;
	log_warnx("%s (%d in a row); next fork in %llu ms", what, spawn_failures,
		  (unsigned long long)ms);
	respawn_pending = 1;
	evtimer_add(ev_respawn, &tv);
}

/* Remove a job's directory (the worker died before it could). */
static void
remove_job_dir(uint64_t job_id)
{
	char path[PATH_MAX];

	if (conf_job_dir(cfg, job_id, path, sizeof(path)) == 0 && util_rm_rf(path) < 0)
		log_warn("removing %s", path);
}

/* One user for every role: a worker that served one job covered the work
 * directory in its namespaces and could empty its job's directory but
 * not remove it (privdrop.h, priv_cover_work_dir); gone with the worker,
 * the cover leaves the empty directory to us.  One rmdir, after a job
 * whose signer has a directory (ENOENT when it was not covered). */
static void
remove_covered_dir(const struct worker *w)
{
	char path[PATH_MAX];

	if (user->valid || w->jobs == 0 || !route_has_dir(w->route) ||
	    conf_job_dir(cfg, w->rec.job_id, path, sizeof(path)) < 0)
		return;
	if (rmdir(path) < 0 && errno != ENOENT && util_rm_rf(path) < 0)
		log_warn("removing %s", path);
}

/* Kill a worker and the group it leads: through the spawner that forked
 * it, which signals only its own unreaped child; directly when it is our
 * own unreaped child (forked here, or left to us by a spawner that died),
 * so its pid is still its own.  What it started is re-parented to us
 * when it dies and killed by pool_reap. */
static void
kill_worker(struct worker *w)
{
	w->killed = 1;
	if (w->serial >= 0) {
		if (spawner_kill(w->serial, w->pid) < 0)
			log_warnx("worker %ld: the spawner did not take the kill; "
				  "done when it is gone",
				  (long)w->pid);
		return;
	}
	kill(-w->pid, SIGKILL);
	kill(w->pid, SIGKILL);
}

static int
is_worker(pid_t pid, void *arg)
{
	struct worker *w;

	(void)arg;
	if (pid == keyproc_pid() || spawner_is(pid))
		return 1; /* spared too: no job's leftover */
	TAILQ_FOREACH(w, &workers, entry)
		if (w->pid == pid)
			return 1;
	return 0;
}

/* Write the audit record of w's job (if it reached a signer) and forget
 * what the worker reported. */
static void
audit_job_end(struct worker *w, int status, const char *result)
{
	/* the key process reports a signature before the worker has it:
	 * every report of this job is in its channel by now */
	keyproc_drain();
	if (w->audit_omitted > 0) {
		if (w->audit_extra == NULL)
			w->audit_extra = json_object();
		json_object_set_new(w->audit_extra, "records_omitted",
				    json_integer((json_int_t)w->audit_omitted));
	}
	if (w->endpoint[0] != '\0') {
		struct audit_job aj = {
			.job_id = w->rec.job_id,
			.client = w->peer,
			.identity = w->identity,
			.endpoint = w->endpoint,
			.selector = w->selector,
			.key_sha256 = w->key_sha256,
			.signed_items = w->audit_signed,
			.extra = w->audit_extra,
			.status = status,
			.result = result ? result
				  : status < 300 ? "signed"
				  : status < 500 ? "refused"
						 : "failed",
			.duration_ms = util_now_ms() - w->job_start_ms,
		};
		audit_record(&aj);
	}
	w->audited = 1;
	json_decref(w->audit_signed);
	json_decref(w->audit_extra);
	w->audit_signed = w->audit_extra = NULL;
	w->key_sha256[0] = '\0';
	w->audit_bytes = w->audit_omitted = 0;
}

/* Merge one PROTO_AUDIT object from a worker into w's job. */
static void
audit_merge(struct worker *w, const char *text)
{
	json_error_t jerr;
	json_t *o, *v;
	const char *k;

	if (w->audit_bytes > AUDIT_JOB_MAX) {
		/* past the bound: not even parsed, only counted */
		w->audit_omitted++;
		return;
	}
	o = json_loads(text, 0, &jerr);
	if (!json_is_object(o)) {
		log_warnx("worker %ld: audit record is not a JSON object", (long)w->pid);
		json_decref(o);
		return;
	}
	w->audit_bytes += strlen(text);
	json_object_foreach(o, k, v) {
		if (strcmp(k, "key_operations") == 0)
			continue; /* the key process's to say, never the worker's */
		if (strcmp(k, "key_sha256") == 0 && json_is_string(v)) {
			snprintf(w->key_sha256, sizeof(w->key_sha256), "%s", json_string_value(v));
		} else if (strcmp(k, "signed") == 0 && json_is_array(v)) {
			if (w->audit_signed == NULL)
				w->audit_signed = json_array();
			json_array_extend(w->audit_signed, v);
		} else {
			if (w->audit_extra == NULL)
				w->audit_extra = json_object();
			json_object_set(w->audit_extra, k, v);
		}
	}
	json_decref(o);
}

/* Tell the supervisor w's job ended with status (result: NULL for the
 * worker's own answer). */
static void
job_ended(struct worker *w, int status, const char *result)
{
	struct status_job_end e = {
		/* where the supervisor routed it, STARTED or not */
		.endpoint = w->routed[0] ? w->routed : "unknown",
		.selector = w->selector,
		.client = w->peer,
		.identity = w->identity,
		.status = status,
		.seconds = (double)(util_now_ms() - w->job_start_ms) / 1000.0,
		.result = result ? result
			  : status < 300 ? "signed"
			  : status < 500 ? "refused"
					 : "failed",
	};

	hooks->job_end(&e);
}

/* The job on w ends without the worker's answer: answer it ourselves. */
static void
abort_job(struct worker *w, int status, const char *text)
{
	char path[LOG_ESCAPED_SIZE(sizeof(w->path))];
	char selector[LOG_ESCAPED_SIZE(sizeof(w->selector))];

	if (w->aborted)
		return;
	w->aborted = 1;
	if (w->client_fd >= 0) {
		uint64_t out = 0;

		if (w->rec.phase != RECORD_RESPONDING) {
			if (reply_text(w->client_fd, status, text, NULL, POOL_WRITE_TIMEOUT_MS,
				       &out) < 0)
				log_debug("answering %s: %s", w->peer, strerror(errno));
			hooks->linger(w->client_fd, w->peer);
		} else {
			close(w->client_fd);
		}
		w->client_fd = -1;
	}
	job_ended(w, status, status == 504 ? "timeout" : "crashed");
	audit_job_end(w, status, status == 504 ? "timeout" : "crashed");
	log_request("job=%llu client=%s method=POST path=%s endpoint=%s selector=%s status=%d "
		    "in=- out=- ms=%llu",
		    (unsigned long long)w->rec.job_id, w->peer,
		    log_escape(w->path, path, sizeof(path)), w->endpoint[0] ? w->endpoint : "-",
		    log_escape(w->selector[0] ? w->selector : "-", selector, sizeof(selector)),
		    status, (unsigned long long)(util_now_ms() - w->job_start_ms));
}

/* Protocol violation or broken channel: the worker is not trusted any more. */
static void
worker_fail(struct worker *w, const char *why)
{
	log_errorx("worker %ld: %s; killing it", (long)w->pid, why);
	kill_worker(w);
	if (record_busy(w->rec.phase) && !w->aborted) {
		abort_job(w, 500, "Signing error");
		stat_crashes++;
	}
	event_del(w->ev_chan);
}

/* READY: the worker is idle (unless it was told to exit meanwhile). */
static void
on_ready(struct worker *w)
{
	if (w->rec.phase != RECORD_IDLE)
		return;
	if (spawn_failures > 0) {
		spawn_failures = 0;
		pool_fill(); /* the probe worked: the rest of the pool now */
	}
	hooks->idle();
	if (hooks->wanted() == 0)
		shutdown(w->chan, SHUT_WR); /* not needed any more */
}

/* DONE: the job is over; the worker waits for the next or exits. */
static void
on_done(struct worker *w, int status)
{
	evtimer_del(w->ev_timer);
	job_ended(w, status, NULL);
	audit_job_end(w, status, NULL);
	if (w->client_fd >= 0) {
		close(w->client_fd);
		w->client_fd = -1;
	}
	w->jobs++;
	if ((long long)w->jobs >= cfg->jobs_per_worker || draining) {
		w->rec.phase = RECORD_EXITING;
		pool_fill();
	} else {
		hooks->idle();
	}
}

/* Handle one record from w. */
static void
handle_record(struct worker *w, const union proto_msg *m)
{
	char why[96];

	if (w->aborted && m->hdr.generation == w->rec.generation)
		return; /* the job was answered and the worker is being killed */
	if (record_check(&w->rec, &m->hdr, why, sizeof(why)) < 0) {
		worker_fail(w, why);
		return;
	}
	record_taken(&w->rec, m->hdr.type);
	switch (m->hdr.type) {
	case PROTO_READY:
		w->at_ready = m->ready.cpu;
		w->ready_seen = 1;
		on_ready(w);
		break;
	case PROTO_STARTED:
		/* the supervisor's own routing: a worker taken over by its
		 * upload names no other endpoint in the metrics and the audit
		 * trail */
		if (strcmp(m->started.endpoint, w->routed) != 0) {
			worker_fail(w, "STARTED for another endpoint than its job's");
			return;
		}
		snprintf(w->endpoint, sizeof(w->endpoint), "%s", w->routed);
		snprintf(w->selector, sizeof(w->selector), "%s", m->started.selector);
		snprintf(w->identity, sizeof(w->identity), "%s", m->started.identity);
		break;
	case PROTO_PROGRESS:
		snprintf(w->progress, sizeof(w->progress), "%s", m->progress.text);
		break;
	case PROTO_RESPONDING:
		if (w->client_fd >= 0) {
			close(w->client_fd);
			w->client_fd = -1;
		}
		break;
	case PROTO_DONE:
		w->at_done = m->done.cpu;
		w->done_seen = 1;
		on_done(w, m->done.status);
		break;
	case PROTO_AUDIT:
		audit_merge(w, m->audit.json);
		break;
	}
}

static void
chan_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	static union proto_msg *m; /* one, reused: the supervisor is single-threaded */

	if (m == NULL)
		m = xmalloc(sizeof(*m));
	(void)what;
	for (;;) {
		int pfd, r = proto_recv(fd, m, &pfd);

		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			worker_fail(w, errno == EPROTO ? "malformed record" : strerror(errno));
			break;
		}
		if (r == 0) {
			/* The worker closed its end: it is exiting; SIGCHLD will tell. */
			event_del(w->ev_chan);
			break;
		}
		handle_record(w, m);
		if (!event_pending(w->ev_chan, EV_READ, NULL))
			break;
	}
}

static void
job_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	if (!record_busy(w->rec.phase) || w->aborted)
		return;
	log_warnx("job %llu (%s for %s) exceeded RESPONSE_TIMEOUT of %lld s; killing worker %ld",
		  (unsigned long long)w->rec.job_id, w->endpoint[0] ? w->endpoint : "-", w->peer,
		  cfg->response_timeout, (long)w->pid);
	stat_timeouts++;
	kill_worker(w);
	abort_job(w, 504, "Signing timed out");
}

/* w has taken job: start its timer and forget the last job. */
static void
job_begins(struct worker *w, const struct pool_job *job)
{
	struct timeval tv = {(time_t)cfg->response_timeout, 0};

	record_job(&w->rec, next_job_id++);
	w->client_fd = job->fd;
	w->aborted = w->audited = 0;
	w->job_start_ms = util_now_ms();
	w->endpoint[0] = w->selector[0] = w->progress[0] = w->identity[0] = '\0';
	snprintf(w->peer, sizeof(w->peer), "%s", job->peer);
	snprintf(w->path, sizeof(w->path), "%s", job->path);
	snprintf(w->routed, sizeof(w->routed), "%s", job->endpoint);
	w->route = job->route;
	evtimer_add(w->ev_timer, &tv);
	stat_jobs++;
}

/* Right after the JOB: the job's key channel, granted to its endpoint
 * and client (keyproc.h); 0 or -1. */
static int
send_keychan(struct worker *w, const struct pool_job *job)
{
	union proto_msg m;
	int kfd = keyproc_grant(next_job_id, job->endpoint, job->any_selector, job->selectors);
	int r;

	proto_init(&m, PROTO_KEYCHAN, w->rec.generation, next_job_id);
	r = proto_send(w->chan, &m, kfd);
	if (kfd >= 0)
		close(kfd);
	return r;
}

/* Jobs running on w's CPU (0 for a worker kept on none). */
static int
load_of(const struct worker *w, const int *busy)
{
	return w->cpu >= 0 && w->cpu < CPU_SETSIZE ? busy[w->cpu] : 0;
}

/* Between equally loaded CPUs the lowest; a worker kept on none last. */
static int
tie_rank(const struct worker *w)
{
	return w->cpu >= 0 ? w->cpu : CPU_SETSIZE;
}

/*
 * The idle worker to give a job: one on the CPU with the fewest jobs
 * running (workers are kept on their spawner's CPU, spawner.h), the
 * lowest such CPU, the oldest worker there; NULL when none is idle.
 */
static struct worker *
pick_idle(void)
{
	static int busy[CPU_SETSIZE];
	struct worker *w, *best = NULL;

	TAILQ_FOREACH(w, &workers, entry)
		if (w->cpu >= 0 && w->cpu < CPU_SETSIZE)
			busy[w->cpu] = 0;
	TAILQ_FOREACH(w, &workers, entry)
		if (w->cpu >= 0 && w->cpu < CPU_SETSIZE && record_busy(w->rec.phase))
			busy[w->cpu]++;
	TAILQ_FOREACH(w, &workers, entry) {
		if (w->rec.phase != RECORD_IDLE)
			continue;
		if (best == NULL || load_of(w, busy) < load_of(best, busy) ||
		    (load_of(w, busy) == load_of(best, busy) && tie_rank(w) < tie_rank(best)))
			best = w;
	}
	return best;
}

int
pool_dispatch(const struct pool_job *job)
{
	struct worker *w;
	static union proto_msg *m; /* one, reused */

	if (m == NULL)
		m = xmalloc(sizeof(*m));
	if (job->prefix_len > sizeof(m->job.prefix))
		fatalx("a request prefix of %zu bytes", job->prefix_len);
	while ((w = pick_idle()) != NULL) {
		proto_init(m, PROTO_JOB, w->rec.generation, next_job_id);
		snprintf(m->job.peer, sizeof(m->job.peer), "%s", job->peer);
		m->job.route = (uint32_t)job->route;
		m->job.prefix_len = (uint32_t)job->prefix_len;
		memcpy(m->job.prefix, job->prefix, job->prefix_len);
		if (proto_send(w->chan, m, job->fd) < 0 || send_keychan(w, job) < 0) {
			worker_fail(w, "cannot send it a job");
			w->rec.phase = RECORD_EXITING;
			continue;
		}
		explicit_bzero(m->job.prefix, job->prefix_len); /* as conn.c does */
		job_begins(w, job);
		return 1;
	}
	explicit_bzero(m->job.prefix, job->prefix_len);
	return 0;
}

/* Forget a dead worker. */
static void
free_worker(struct worker *w)
{
	TAILQ_REMOVE(&workers, w, entry);
	uids_give(w->uid);
	event_free(w->ev_chan);
	event_free(w->ev_timer);
	close(w->chan);
	if (w->client_fd >= 0)
		close(w->client_fd);
	json_decref(w->audit_signed);
	json_decref(w->audit_extra);
	free(w);
}

/* w died with wait status: answer its job if it had one.  1 when what
 * its job started may be left behind. */
static int
worker_died(struct worker *w, int status)
{
	/* Records sent just before the exit (DONE) come first. */
	if (event_pending(w->ev_chan, EV_READ, NULL))
		chan_cb(w->chan, EV_READ, w);
	if (record_busy(w->rec.phase)) {
		if (!w->aborted) {
			if (WIFSIGNALED(status))
				log_errorx("worker %ld died of signal %d during job %llu",
					   (long)w->pid, WTERMSIG(status),
					   (unsigned long long)w->rec.job_id);
			else
				log_errorx("worker %ld exited (%d) during job %llu", (long)w->pid,
					   WEXITSTATUS(status), (unsigned long long)w->rec.job_id);
			stat_crashes++;
			abort_job(w, 500, "Signing error");
		}
		remove_job_dir(w->rec.job_id);
		return 1;
	}
	if (w->rec.phase == RECORD_STARTING) {
		spawn_failures++;
		log_errorx("worker %ld exited before it was ready (status %d)", (long)w->pid,
			   status);
	}
	return 0;
}

/* Add b - a to the phase's sum (a counter that went back counts 0). */
static void
add_phase(int phase, const struct proto_cpu *a, const struct proto_cpu *b)
{
	struct status_cpu *c = &stat_phase[phase];

	c->user_us += b->user_us > a->user_us ? b->user_us - a->user_us : 0;
	c->sys_us += b->sys_us > a->sys_us ? b->sys_us - a->sys_us : 0;
	c->minflt += b->minflt > a->minflt ? b->minflt - a->minflt : 0;
}

/* A worker ended having used *total: its cost by phase (status.h). */
static void
account_exit(struct worker *w, const struct proto_cpu *total)
{
	static const struct proto_cpu zero;
	const struct proto_cpu *ready = w->ready_seen ? &w->at_ready : total;
	const struct proto_cpu *done = w->done_seen ? &w->at_done : total;

	add_phase(STATUS_PHASE_BIRTH, &zero, ready);
	add_phase(STATUS_PHASE_JOB, ready, done);
	add_phase(STATUS_PHASE_EXIT, done, total);
	stat_exited++;
}

static struct worker *
find_worker(pid_t pid)
{
	struct worker *w;

	TAILQ_FOREACH(w, &workers, entry)
		if (w->pid == pid)
			return w;
	return NULL;
}

/* Worker w ended with wait status, having used *total: answer for its
 * job, forget it, fork its replacement.  1 when what its job started may
 * be left behind. */
static int
worker_gone(struct worker *w, int status, const struct proto_cpu *total)
{
	int orphans;

	account_exit(w, total);
	/* after any job, not only a failed one: what a job started (a
	 * setsid, double-forked child) must not outlive it and watch the
	 * next jobs */
	orphans = worker_died(w, status) | (w->jobs > 0);
	remove_covered_dir(w);
	free_worker(w);
	if (spawn_failures > 0)
		throttle_respawn("worker died before it was ready");
	else
		pool_fill();
	return orphans;
}

/* Every child that is not a worker was left by a job that ended: kill
 * it (each death may re-parent more; SIGCHLD brings us back). */
static void
kill_orphans(void)
{
	if (reaper_kill(is_worker, NULL, 0) > 0)
		log_info("killed processes left behind by a job");
}

void
pool_reap(void)
{
	int status, orphans = 0;
	struct rusage ru;
	pid_t pid;

	while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0) {
		struct worker *w;
		struct proto_cpu total;

		if (keyproc_reaped(pid, status) || spawner_reaped(pid, status))
			continue;
		if ((w = find_worker(pid)) == NULL) {
			orphans = 1; /* something a job started, re-parented to us */
			continue;
		}
		proto_cpu_of(&ru, &total);
		orphans |= worker_gone(w, status, &total);
	}
	if (orphans)
		kill_orphans();
}

/* The spawner's news (spawner.h). */
static void
on_born(uint32_t generation, pid_t pid, int chan, uint64_t fork_us, int serial, int stale)
{
	struct worker *w;

	pending -= pending > 0;
	stat_fork_us += fork_us;
	w = adopt(generation, pid, chan, serial);
	w->uid = uids_born(generation);
	if (stale || hooks->wanted() == 0) {
		/* born with settings from before a SIGHUP, or not needed any
		 * more: it exits at READY */
		shutdown(w->chan, SHUT_WR);
		w->rec.phase = RECORD_EXITING;
		pool_fill();
	}
}

static void
on_fork_failed(uint32_t generation, int err)
{
	pending -= pending > 0;
	uids_failed(generation);
	log_errorx("forking worker %u: %s", generation, strerror(err));
	spawn_failures++;
	throttle_respawn("a worker could not be forked");
}

static void
on_exited(pid_t pid, int status, const struct proto_cpu *cpu)
{
	struct worker *w = find_worker(pid);

	if (w != NULL && worker_gone(w, status, cpu))
		kill_orphans();
}

static void
on_lost(int serial, int npending)
{
	struct worker *w;

	pending = pending > npending ? pending - npending : 0;
	uids_lost(serial);
	TAILQ_FOREACH(w, &workers, entry)
		if (w->serial == serial) {
			w->serial = -1; /* re-parented to us: our child now */
			if (w->killed)
				kill_worker(w);
		}
	pool_fill();
}

static const struct spawner_hooks spawner_hooks = {
	.born = on_born,
	.failed = on_fork_failed,
	.exited = on_exited,
	.lost = on_lost,
};

/* The worker whose job is job_id while that job's audit record is not
 * written yet (its DONE may already be in: the record is written after
 * the reports are drained), or NULL. */
static struct worker *
job_worker(uint64_t job_id)
{
	struct worker *w;

	TAILQ_FOREACH(w, &workers, entry)
		if (w->rec.job_id == job_id && w->rec.phase != RECORD_STARTING && !w->audited)
			return w;
	return NULL;
}

/* A key operation outside any job's record (its job was over): a line
 * of its own, so that no signature goes unrecorded. */
static void
audit_orphan_key_op(const struct keyproto_report *r, json_t *op)
{
	json_t *extra = json_object();
	struct audit_job aj = {
		.job_id = r->hdr.id,
		.key_sha256 = r->key_sha256,
		.extra = extra,
		.status = (int)r->status,
		.result = "key-operation",
	};

	json_object_set_new(extra, "key_operations", json_pack("[O]", op));
	audit_record(&aj);
	json_decref(extra);
}

void
pool_key_report(const struct keyproto_report *r)
{
	struct worker *w = job_worker(r->hdr.id);
	json_t *op, *list;
	char key[sizeof(r->key.selector) + sizeof(r->key.tag) + sizeof(r->key.file) + 2];

	if (r->op == 0) {
		/* the worker broke its key channel's rules: a malformed record
		 * (400), answers it does not read (429) */
		if (w != NULL && record_busy(w->rec.phase) && !w->aborted)
			worker_fail(w, r->status == 429 ? "does not read its key answers"
							 : "malformed record to the key process");
		return;
	}
	snprintf(key, sizeof(key), "%s/%s/%s", r->key.selector, r->key.tag, r->key.file);
	op = json_pack("{s:s, s:s, s:i}", "op", keyproto_type_name(r->op), "key", key, "status",
		       (int)r->status);
	if (r->key_sha256[0])
		json_object_set_new(op, "key_sha256", json_string(r->key_sha256));
	if (r->digest[0])
		json_object_set_new(op, "digest", json_string(r->digest));
	if (r->reason[0])
		json_object_set_new(op, "reason", json_string(r->reason));
	if (w == NULL) {
		audit_orphan_key_op(r, op);
		json_decref(op);
		return;
	}
	if (w->audit_extra == NULL)
		w->audit_extra = json_object();
	if ((list = json_object_get(w->audit_extra, "key_operations")) == NULL)
		json_object_set_new(w->audit_extra, "key_operations", list = json_array());
	if (json_array_size(list) < KEY_OPS_KEPT)
		json_array_append(list, op);
	else
		w->audit_omitted++;
	json_decref(op);
}

void
pool_recycle_idle(void)
{
	struct worker *w;

	/* workers are born with the spawner's settings and tokens: a new
	 * one from the reloaded supervisor; the old one is retired */
	(void)spawner_start();
	TAILQ_FOREACH(w, &workers, entry)
		if (w->rec.phase == RECORD_IDLE || w->rec.phase == RECORD_STARTING) {
			/* Closing our side tells an idle worker to exit. */
			shutdown(w->chan, SHUT_WR);
			w->rec.phase = RECORD_EXITING;
		}
	pool_fill();
}

void
pool_drain(void)
{
	struct worker *w;

	draining = 1;
	if (hooks->wanted() > 0)
		return;
	/* Nothing queued: idle workers are not needed any more.  A request
	 * still arriving on a connection accepted before the signal gets a
	 * worker of its own (the supervisor fills the pool for it). */
	TAILQ_FOREACH(w, &workers, entry)
		if (w->rec.phase == RECORD_IDLE) {
			shutdown(w->chan, SHUT_WR);
			w->rec.phase = RECORD_EXITING;
		}
}

void
pool_shutdown(void)
{
	struct worker *w;
	uint64_t deadline = util_now_ms() + 5000;

	TAILQ_FOREACH(w, &workers, entry)
		shutdown(w->chan, SHUT_WR);
	/* Idle workers exit at once on EOF; wait for them briefly: their
	 * spawner's EXIT records, or our own reaping of those it left us. */
	while (!TAILQ_EMPTY(&workers) && util_now_ms() < deadline) {
		int status;
		pid_t pid;

		spawner_poll();
		if ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (spawner_reaped(pid, status))
				continue;
			if ((w = find_worker(pid)) != NULL)
				free_worker(w);
			continue;
		}
		usleep(10000);
	}
	/* through their spawner while it runs, which signals only its own
	 * children; then the spawners go */
	TAILQ_FOREACH(w, &workers, entry) {
		log_warnx("worker %ld did not exit within 5 s of the shutdown; killing it",
			  (long)w->pid);
		kill_worker(w);
	}
	spawner_stop();
}

void
pool_snapshot(struct status_pool *p)
{
	p->size = cfg->workers;
	p->jobs_per_worker = cfg->jobs_per_worker;
	p->timeout_seconds = cfg->response_timeout;
	p->idle = count(RECORD_IDLE);
	p->busy = pool_busy();
	p->starting = count(RECORD_STARTING); /* with the forks asked for */
	p->exiting = count(RECORD_EXITING);
	p->jobs = stat_jobs;
	p->timeouts = stat_timeouts;
	p->crashes = stat_crashes;
	p->respawns = stat_respawns;
	memcpy(p->phase, stat_phase, sizeof(p->phase));
	p->exited = stat_exited;
	p->forks = stat_forks;
	p->fork_us = stat_fork_us;
}

/* The phase's name in /status. */
static const char *
state_name(enum record_phase phase)
{
	if (record_busy(phase))
		return "busy";
	return phase == RECORD_STARTING ? "starting" : phase == RECORD_IDLE ? "idle" : "exiting";
}

struct status_worker *
pool_workers(size_t *n)
{
	struct worker *w;
	struct status_worker *v;
	uint64_t now = util_now_ms();
	size_t i = 0;

	TAILQ_FOREACH(w, &workers, entry)
		i++;
	v = xcalloc(i + 1, sizeof(*v));
	i = 0;
	TAILQ_FOREACH(w, &workers, entry) {
		struct status_worker *s = &v[i++];

		s->pid = (long)w->pid;
		s->state = state_name(w->rec.phase);
		s->generation = w->rec.generation;
		s->jobs_served = w->jobs;
		s->age_seconds = (now - w->spawned_ms) / 1000;
		s->cpu = w->cpu;
		s->uid = w->uid != 0 ? (long)w->uid : -1;
		if (!(s->busy = record_busy(w->rec.phase)))
			continue;
		s->job_id = w->rec.job_id;
		s->endpoint = w->endpoint;
		s->path = w->path;
		s->selector = w->selector;
		s->client = w->peer;
		s->identity = w->identity;
		s->progress = w->progress;
		s->elapsed_seconds = (double)(now - w->job_start_ms) / 1000.0;
		s->responding = w->rec.phase == RECORD_RESPONDING;
	}
	*n = i;
	return v;
}
