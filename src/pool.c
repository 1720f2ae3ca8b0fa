/*
 * pool.c: the worker pool: birth, death, jobs and timeouts.
 *
 * Workers are forked ahead of need up to cfg.workers.  Each has a
 * SOCK_SEQPACKET channel; the supervisor reads its records (proto.h) as
 * they come.  A job is handed over with the client socket; the supervisor
 * keeps its own copy of that socket until the worker says RESPONDING, so
 * that it can still answer 500 (crash) or 504 (timeout).  At
 * RESPONSE_TIMEOUT the worker and its process group get SIGKILL; the
 * supervisor is a child subreaper (reaper.h), so whatever the job had
 * started (an external tool, or anything that escaped its process group
 * with setsid) is re-parented to it and killed here too.  No pid or group
 * a worker names is ever signalled.  The job directory of a worker
 * that died in a job is removed here.  A worker that dies before it ever
 * became ready makes the next fork wait (exponential back-off), so a
 * broken setup cannot fork-loop.
 */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "log.h"
#include "reaper.h"
#include "reply.h"
#include "util.h"
#include "worker.h"

struct worker {
	TAILQ_ENTRY(worker) entry;
	pid_t pid;
	int chan;
	struct event *ev_chan;
	struct event *ev_timer;
	uint32_t generation;
	enum worker_state state;
	unsigned long jobs;
	uint64_t spawned_ms;
	/* the current job */
	uint64_t job_id;
	int client_fd; /* our copy until RESPONDING, else -1 */
	char peer[PROTO_PEER_MAX];
	char path[256];
	char endpoint[32];
	char selector[PROTO_TEXT_MAX];
	char identity[PROTO_TEXT_MAX];
	char progress[PROTO_TEXT_MAX];
	uint64_t job_start_ms;
	int responding;
	int aborted; /* the supervisor answered the job itself (crash, timeout) */
	/* what the worker reported for the audit trail */
	char key_sha256[65];
	json_t *audit_signed;
	json_t *audit_extra;
	size_t audit_bytes;	/* of records taken for this job */
	size_t audit_omitted;	/* records past AUDIT_JOB_MAX, dropped */
};

/* Most audit record bytes kept per job (the rest is counted, not kept). */
#define AUDIT_JOB_MAX (1u << 20)

static TAILQ_HEAD(, worker) workers = TAILQ_HEAD_INITIALIZER(workers);
static uint32_t next_generation = 1;
static int spawn_failures;	  /* consecutive deaths before READY */
static struct event *ev_respawn;  /* deferred pool_fill after failures */
static int respawn_pending;
static int filled_once;	  /* the first fill is not a respawn */

static void chan_cb(evutil_socket_t fd, short what, void *arg);
static void job_timer_cb(evutil_socket_t fd, short what, void *arg);

static const char *const state_names[] = {"starting", "idle", "busy", "exiting"};

int
pool_count(int state)
{
	struct worker *w;
	int n = 0;

	TAILQ_FOREACH(w, &workers, entry)
		if (state < 0 ? w->state != W_EXITING : (int)w->state == state)
			n++;
	return n;
}

int
pool_busy_jobs(void)
{
	return pool_count(W_BUSY);
}

/* The child side of a fork: become a worker. */
static void __attribute__((noreturn))
become_worker(int chan, uint32_t generation)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE, SIGQUIT};
	sigset_t all;
	int devnull;

	setpgid(0, 0);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	signal(SIGPIPE, SIG_IGN); /* a client going away is an error return, not death */
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (chan != 3) {
		if (dup2(chan, 3) < 0)
			_exit(126);
		close(chan);
	}
	/* Nothing of the supervisor's (listener, other clients, other
	 * workers' channels, libevent's fds) stays open in a worker. */
	if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
		for (int fd = 4; fd < 1024; fd++)
			close(fd);
	if ((devnull = open("/dev/null", O_RDONLY)) >= 0 && devnull != 0) {
		dup2(devnull, 0);
		close(devnull);
	}
	fcntl(3, F_SETFD, FD_CLOEXEC);
	worker_main(&sv->cfg, 3, generation, &sv->user);
}

/* Fork one worker. */
static int
spawn(void)
{
	struct worker *w;
	uint32_t generation = next_generation++;
	int sp[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		log_errorx("socketpair: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		log_errorx("fork: %s", strerror(errno));
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (pid == 0) {
		close(sp[0]);
		become_worker(sp[1], generation);
	}
	setpgid(pid, pid); /* also done by the child; whoever runs first wins */
	close(sp[1]);
	w = xcalloc(1, sizeof(*w));
	w->generation = generation;
	w->client_fd = -1;
	w->state = W_STARTING;
	w->spawned_ms = util_now_ms();
	w->pid = pid;
	w->chan = sp[0];
	util_set_nonblock(w->chan, 1);
	w->ev_chan = event_new(sv->base, w->chan, EV_READ | EV_PERSIST, chan_cb, w);
	w->ev_timer = evtimer_new(sv->base, job_timer_cb, w);
	if (w->ev_chan == NULL || w->ev_timer == NULL)
		fatalx("event_new failed");
	event_add(w->ev_chan, NULL);
	TAILQ_INSERT_TAIL(&workers, w, entry);
	log_debug("worker %ld forked (generation %u)", (long)pid, w->generation);
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
pool_init(void)
{
	/* What a job leaves behind is re-parented to us, never to init. */
	if (reaper_enable() < 0)
		fatal("prctl PR_SET_CHILD_SUBREAPER");
	ev_respawn = evtimer_new(sv->base, respawn_cb, NULL);
	if (ev_respawn == NULL)
		fatalx("evtimer_new failed");
}

void
pool_fill(void)
{
	int want = (int)sv->cfg.workers;

	if (sv->stopping && queue_length() == 0)
		return;
	if (respawn_pending)
		return;
	if (spawn_failures > 0 && pool_count(W_STARTING) > 0)
		return; /* one probe at a time while workers keep dying */
	while (pool_count(-1) < want) {
		if (spawn() < 0)
			break;
		if (filled_once)
			sv->count.respawns++;
		if (spawn_failures > 0)
			break;
	}
	filled_once = 1;
}

/* Schedule a delayed pool_fill after a worker died before READY. */
static void
throttle_respawn(void)
{
	int shift = spawn_failures < 7 ? spawn_failures : 7;
	uint64_t ms = 100ULL << shift; /* 200 ms ... 12.8 s */
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};

	if (respawn_pending)
		return;
	log_warnx("worker died before it was ready (%d in a row); next fork in %llu ms",
		  spawn_failures, (unsigned long long)ms);
	respawn_pending = 1;
	evtimer_add(ev_respawn, &tv);
}

/* Remove a job's directory (the worker died before it could). */
static void
remove_job_dir(uint64_t job_id)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/job-%llu", sv->cfg.work_dir, (unsigned long long)job_id);
	if (util_rm_rf(path) < 0)
		log_warnx("removing %s: %s", path, strerror(errno));
}

/* Kill a worker (our own unreaped child, so its pid and the group it
 * leads are still its own); what it started is re-parented to us when it
 * dies and killed by pool_reap. */
static void
kill_worker(struct worker *w)
{
	kill(-w->pid, SIGKILL);
	kill(w->pid, SIGKILL);
}

static int
is_worker(pid_t pid, void *arg)
{
	struct worker *w;

	(void)arg;
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
	if (w->audit_omitted > 0) {
		if (w->audit_extra == NULL)
			w->audit_extra = json_object();
		json_object_set_new(w->audit_extra, "records_omitted",
				    json_integer((json_int_t)w->audit_omitted));
	}
	if (w->endpoint[0] != '\0') {
		struct audit_job aj = {
			.job_id = w->job_id,
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

		if (!w->responding) {
			if (http_reply_text(w->client_fd, status, text, NULL, 1000, &out) < 0)
				log_debug("answering %s: %s", w->peer, strerror(errno));
			conn_adopt_linger(w->client_fd, w->peer);
		} else {
			close(w->client_fd);
		}
		w->client_fd = -1;
	}
	conn_count_status(status);
	metrics_job_done(w->endpoint[0] ? w->endpoint : "unknown", status,
			 (double)(util_now_ms() - w->job_start_ms) / 1000.0);
	audit_job_end(w, status, status == 504 ? "timeout" : "crashed");
	log_request("job=%llu client=%s method=POST path=%s endpoint=%s selector=%s status=%d "
		    "in=- out=- ms=%llu",
		    (unsigned long long)w->job_id, w->peer, log_escape(w->path, path, sizeof(path)),
		    w->endpoint[0] ? w->endpoint : "-",
		    log_escape(w->selector[0] ? w->selector : "-", selector, sizeof(selector)),
		    status, (unsigned long long)(util_now_ms() - w->job_start_ms));
}

/* Protocol violation or broken channel: the worker is not trusted any more. */
static void
worker_fail(struct worker *w, const char *why)
{
	log_errorx("worker %ld: %s; killing it", (long)w->pid, why);
	kill_worker(w);
	if (w->state == W_BUSY && !w->aborted) {
		abort_job(w, 500, "Signing error");
		sv->count.crashes++;
	}
	event_del(w->ev_chan);
}

/* Handle one record from w. */
static void
handle_record(struct worker *w, const union proto_msg *m)
{
	int jobscoped = m->hdr.type != PROTO_READY;

	if (m->hdr.generation != w->generation) {
		worker_fail(w, "record with a wrong generation");
		return;
	}
	if (w->aborted)
		return; /* the job was answered and the worker is being killed */
	if (jobscoped && (w->state != W_BUSY || m->hdr.job_id != w->job_id)) {
		worker_fail(w, "record for a job it does not have");
		return;
	}
	switch (m->hdr.type) {
	case PROTO_READY:
		if (w->state != W_STARTING) {
			worker_fail(w, "READY twice");
			return;
		}
		w->state = W_IDLE;
		if (spawn_failures > 0) {
			spawn_failures = 0;
			pool_fill(); /* the probe worked: the rest of the pool now */
		}
		queue_run();
		if (sv->stopping && queue_length() == 0)
			shutdown(w->chan, SHUT_WR); /* not needed any more */
		break;
	case PROTO_STARTED:
		snprintf(w->endpoint, sizeof(w->endpoint), "%s", m->started.endpoint);
		snprintf(w->selector, sizeof(w->selector), "%s", m->started.selector);
		snprintf(w->identity, sizeof(w->identity), "%s", m->started.identity);
		break;
	case PROTO_PROGRESS:
		snprintf(w->progress, sizeof(w->progress), "%s", m->progress.text);
		break;
	case PROTO_RESPONDING:
		w->responding = 1;
		if (w->client_fd >= 0) {
			close(w->client_fd);
			w->client_fd = -1;
		}
		break;
	case PROTO_DONE:
		evtimer_del(w->ev_timer);
		conn_count_status(m->done.status);
		metrics_job_done(w->endpoint[0] ? w->endpoint : "unknown", m->done.status,
				 (double)(util_now_ms() - w->job_start_ms) / 1000.0);
		audit_job_end(w, m->done.status, NULL);
		if (w->client_fd >= 0) {
			close(w->client_fd);
			w->client_fd = -1;
		}
		w->jobs++;
		w->job_id = 0;
		if ((long long)w->jobs >= sv->cfg.jobs_per_worker || sv->stopping) {
			w->state = W_EXITING;
			pool_fill();
		} else {
			w->state = W_IDLE;
			queue_run();
		}
		break;
	case PROTO_AUDIT:
		audit_merge(w, m->audit.json);
		break;
	default:
		worker_fail(w, "unexpected record type");
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
	if (w->state != W_BUSY || w->aborted)
		return;
	log_warnx("job %llu (%s for %s) exceeded RESPONSE_TIMEOUT of %lld s; killing worker %ld",
		  (unsigned long long)w->job_id, w->endpoint[0] ? w->endpoint : "-", w->peer,
		  sv->cfg.response_timeout, (long)w->pid);
	sv->count.timeouts++;
	kill_worker(w);
	abort_job(w, 504, "Signing timed out");
}

int
pool_dispatch(struct conn *c)
{
	struct worker *w;
	static union proto_msg *m; /* one, reused */

	if (m == NULL)
		m = xmalloc(sizeof(*m));
	TAILQ_FOREACH(w, &workers, entry) {
		struct timeval tv = {(time_t)sv->cfg.response_timeout, 0};

		if (w->state != W_IDLE)
			continue;
		proto_init(m, PROTO_JOB, w->generation, sv->next_job_id);
		snprintf(m->job.peer, sizeof(m->job.peer), "%s", c->peer);
		m->job.route = (uint32_t)c->route;
		m->job.prefix_len = (uint32_t)c->len;
		memcpy(m->job.prefix, c->buf, c->len);
		if (proto_send(w->chan, m, c->fd) < 0) {
			worker_fail(w, "cannot send it a job");
			w->state = W_EXITING;
			continue;
		}
		w->state = W_BUSY;
		w->job_id = sv->next_job_id++;
		w->client_fd = c->fd;
		w->responding = 0;
		w->aborted = 0;
		w->job_start_ms = util_now_ms();
		w->endpoint[0] = w->selector[0] = w->progress[0] = w->identity[0] = '\0';
		snprintf(w->peer, sizeof(w->peer), "%s", c->peer);
		snprintf(w->path, sizeof(w->path), "%s", c->path);
		evtimer_add(w->ev_timer, &tv);
		sv->count.jobs++;
		c->fd = -1; /* now the worker's (and ours in w->client_fd) */
		conn_close(c);
		return 1;
	}
	return 0;
}

void
pool_reap(void)
{
	int status, orphans = 0;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct worker *w;

		TAILQ_FOREACH(w, &workers, entry)
			if (w->pid == pid)
				break;
		if (w == NULL) {
			orphans = 1; /* something a job started, re-parented to us */
			continue;
		}
		/* Records sent just before the exit (DONE) come first. */
		if (event_pending(w->ev_chan, EV_READ, NULL))
			chan_cb(w->chan, EV_READ, w);
		if (w->state == W_BUSY) {
			if (!w->aborted) {
				if (WIFSIGNALED(status))
					log_errorx("worker %ld died of signal %d during job %llu",
						   (long)pid, WTERMSIG(status),
						   (unsigned long long)w->job_id);
				else
					log_errorx("worker %ld exited (%d) during job %llu",
						   (long)pid, WEXITSTATUS(status),
						   (unsigned long long)w->job_id);
				sv->count.crashes++;
				abort_job(w, 500, "Signing error");
			}
			orphans = 1;
			remove_job_dir(w->job_id);
		} else if (w->state == W_STARTING) {
			spawn_failures++;
			log_errorx("worker %ld exited before it was ready (status %d)", (long)pid,
				   status);
		}
		TAILQ_REMOVE(&workers, w, entry);
		event_free(w->ev_chan);
		event_free(w->ev_timer);
		close(w->chan);
		if (w->client_fd >= 0)
			close(w->client_fd);
		json_decref(w->audit_signed);
		json_decref(w->audit_extra);
		free(w);
		if (spawn_failures > 0)
			throttle_respawn();
		else
			pool_fill();
	}
	/* Every child that is not a worker was left by a job that ended:
	 * kill it (each death may re-parent more; SIGCHLD brings us back). */
	if (orphans && reaper_kill(is_worker, NULL, 0) > 0)
		log_info("killed processes left behind by a job");
	if (sv->stopping)
		event_base_loopbreak(sv->base);
}

void
pool_recycle_idle(void)
{
	struct worker *w;

	TAILQ_FOREACH(w, &workers, entry)
		if (w->state == W_IDLE || w->state == W_STARTING) {
			/* Closing our side tells an idle worker to exit. */
			shutdown(w->chan, SHUT_WR);
			w->state = W_EXITING;
		}
	pool_fill();
}

void
pool_shutdown(void)
{
	struct worker *w;
	uint64_t deadline = util_now_ms() + 5000;

	TAILQ_FOREACH(w, &workers, entry)
		shutdown(w->chan, SHUT_WR);
	/* Idle workers exit at once on EOF; wait for them briefly. */
	while (!TAILQ_EMPTY(&workers) && util_now_ms() < deadline) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid > 0) {
			TAILQ_FOREACH(w, &workers, entry)
				if (w->pid == pid)
					break;
			if (w != NULL) {
				TAILQ_REMOVE(&workers, w, entry);
				event_free(w->ev_chan);
				event_free(w->ev_timer);
				close(w->chan);
				free(w);
			}
			continue;
		}
		usleep(10000);
	}
	TAILQ_FOREACH(w, &workers, entry)
		kill_worker(w);
}

/* A client-supplied text for /status: escaped, so that it is valid UTF-8
 * (json_string refuses anything else, and the key would go missing). */
static json_t *
escaped_string(const char *s)
{
	char *e = log_escape_dup(s);
	json_t *v = json_string(e);

	free(e);
	return v;
}

void
pool_status_json(void *array)
{
	json_t *arr = array;
	struct worker *w;
	uint64_t now = util_now_ms();

	TAILQ_FOREACH(w, &workers, entry) {
		json_t *o = json_object();

		json_object_set_new(o, "pid", json_integer(w->pid));
		json_object_set_new(o, "state", json_string(state_names[w->state]));
		json_object_set_new(o, "generation", json_integer(w->generation));
		json_object_set_new(o, "jobs_served", json_integer((json_int_t)w->jobs));
		json_object_set_new(o, "age_seconds",
				    json_integer((json_int_t)((now - w->spawned_ms) / 1000)));
		if (w->state == W_BUSY) {
			json_t *j = json_object();
			char id[24];

			snprintf(id, sizeof(id), "%llu", (unsigned long long)w->job_id);
			json_object_set_new(j, "id", json_string(id));
			json_object_set_new(j, "endpoint",
					    w->endpoint[0] ? json_string(w->endpoint) : json_null());
			json_object_set_new(j, "path", escaped_string(w->path));
			json_object_set_new(j, "selector",
					    w->selector[0] ? escaped_string(w->selector) : json_null());
			json_object_set_new(j, "client", json_string(w->peer));
			json_object_set_new(j, "identity",
					    w->identity[0] ? escaped_string(w->identity) : json_null());
			json_object_set_new(
				j, "elapsed_seconds",
				json_real((double)(now - w->job_start_ms) / 1000.0));
			json_object_set_new(j, "timeout_seconds",
					    json_integer(sv->cfg.response_timeout));
			json_object_set_new(j, "responding", json_boolean(w->responding));
			json_object_set_new(j, "progress",
					    w->progress[0] ? json_string(w->progress) : json_null());
			json_object_set_new(o, "job", j);
		} else {
			json_object_set_new(o, "job", json_null());
		}
		json_array_append_new(arr, o);
	}
}
