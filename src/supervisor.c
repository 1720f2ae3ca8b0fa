/* SPDX-License-Identifier: MIT */
/*
 * supervisor.c: the supervisor's event loop and its policy.
 *
 * It owns the listening socket and decides what becomes of each
 * connection (conn.c holds it meanwhile): it routes on the request line
 * alone, answers /status, /healthz and /metrics itself (rendered by
 * status.c from a snapshot taken here), and for POST /sign/... waits,
 * within the same time bound, until the head is complete (without
 * parsing it: the worker does) and hands the connection with its route
 * (route.h) to an idle worker (pool.c) or the bounded queue (queue.c).
 * Only the supervisor drives the queue: the pool says when a worker is
 * idle (its idle hook) and the supervisor hands it the oldest waiting
 * request.
 *
 * MAX_CONNECTIONS bounds the connections held.  Past it, a few more
 * (RESERVED_CONNECTIONS) are accepted for the supervisor's own pages
 * only: such a connection has RESERVED_WAIT_MS to send its request (its
 * whole head), and anything but /healthz, /livez, /status or /metrics
 * gets 503.  When the reserve is full, a new connection takes the place
 * of the oldest reserved one that is not being answered (its request not
 * in yet, or answered and lingering), which gets a 503.  So idle or slow
 * connections cannot starve a health check, which asks right after
 * connecting, while a flood of them still costs no more than the limit
 * plus the reserve.  (Closing the oldest held connection instead, as
 * nginx does with idle keep-alive ones, would let a flood push real
 * clients out.)
 *
 * Signals: SIGTERM first drains (DRAIN_GRACE seconds during which
 * /healthz answers 503 "draining" to the load balancer while requests are
 * still accepted and served), then stops accepting and exits once
 * accepted jobs are done; SIGINT or a second SIGTERM stop accepting at
 * once.  SIGHUP re-reads the configuration (options.c) and replaces idle
 * workers; SIGCHLD reaps workers.
 *
 * /healthz is readiness: 200 "ok" only when this instance can sign (a
 * worker in the pool, the key process ready, the audit trail writable
 * when AUDIT_REQUIRED), else 503 and what is wrong; /livez (or
 * /healthz?live) is liveness: 200 whenever the supervisor answers.
 *
 * Calls: conn, pool, queue, status, options, audit (src/), route.h and
 * lib/.  Nothing calls it but main.c: the others report through hooks.
 */
#include "supervisor.h"

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "conn.h"
#include "grant.h"
#include "http.h"
#include "keyproc.h"
#include "lazylib.h"
#include "log.h"
#include "options.h"
#include "pkey.h"
#include "pool.h"
#include "queue.h"
#include "reply.h"
#include "reqline.h"
#include "route.h"
#include "s3.h"
#include "status.h"
#include "tokens.h"
#include "scheme.h"
#include "util.h"

/* Time a connection accepted past MAX_CONNECTIONS has for its request
 * line: a health check sends it at once. */
#define RESERVED_WAIT_MS 1000

static const int watched_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};
#define NSIGNALS (sizeof(watched_signals) / sizeof(watched_signals[0]))

/* Everything the supervisor holds; file-static: the other modules get
 * what they need as arguments and report through their hooks. */
static struct {
	struct config *cfg; /* replaced in place by SIGHUP */
	struct event_base *base;
	int listen_fd;
	struct event *ev_listen;
	struct event *ev_resume;
	struct event *ev_signal[NSIGNALS];
	uint64_t start_ms;
	int stopping; /* SIGTERM: no new connections */
	int draining; /* SIGTERM: /healthz 503 for DRAIN_GRACE, then stopping */
	struct event *ev_drain;
	struct queue waiting;
	struct status_counters count;
	struct status_recent recent; /* for the page: the last jobs */
	struct status_rates rates;   /* and jobs per second */
} sv;

static void pause_accepting(int err);

/* Refuse a connection with 503 and Retry-After, counting it. */
static void
refuse_busy(struct conn *c, const char *text)
{
	char extra[128];

	sv.count.rejected++;
	status_rates_add(&sv.rates, util_now_ms() / 1000, 0, 1);
	reply_retry_after(extra, sizeof(extra), sv.cfg->retry_after);
	conn_reply(c, 503, text, extra);
}

/* The time the oldest queued request has waited, in seconds. */
static double
queue_oldest_seconds(void)
{
	const struct conn *oldest = queue_oldest(&sv.waiting);

	return oldest ? (double)(util_now_ms() - oldest->accepted_ms) / 1000.0 : 0;
}

/* Answer /status (JSON, or the HTML page reading it) or /metrics from a
 * snapshot of the supervisor. */
static void
answer_page(struct conn *c)
{
	struct status_snapshot s = {
		.version = PACKAGE_VERSION,
		.instance = sv.cfg->instance,
		.uptime_seconds = (util_now_ms() - sv.start_ms) / 1000,
		.stopping = sv.stopping,
		.draining = sv.draining,
		.queue_length = queue_length(&sv.waiting),
		.queue_limit = sv.cfg->queue_max,
		.queue_wait_seconds = sv.cfg->queue_wait,
		.count = sv.count,
		.audit_write_failures = audit_write_failures(),
		.queue_oldest_seconds = queue_oldest_seconds(),
		.recent = &sv.recent,
		.rates = &sv.rates,
		.now_s = util_now_ms() / 1000,
	};
	struct status_worker *workers;
	int json = strcmp(c->path, "/status") == 0;
	char *body;
	size_t len;

	if (json && c->scan.have_head &&
	    reqline_accepts_html(c->buf + c->scan.start, c->scan.head_end - c->scan.start)) {
		char extra[700];

		snprintf(extra, sizeof(extra),
			 "Cache-Control: no-store\r\nContent-Security-Policy: %s\r\n"
			 "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n",
			 status_page_csp());
		conn_answer(c, 200, "text/html; charset=utf-8", status_page(&len), extra);
		return;
	}
	status_rates_advance(&sv.rates, s.now_s);
	pool_snapshot(&s.pool);
	keyproc_snapshot(&s.keys);
	s.workers = workers = pool_workers(&s.nworkers);
	body = json ? status_json(&s) : status_metrics(&s);
	conn_answer(c, 200, json ? "application/json" : "text/plain; version=0.0.4; charset=utf-8",
		    body, "Cache-Control: no-store\r\n");
	free(body);
	free(workers);
}

/* 1 for the pages the supervisor answers itself. */
static int
supervisor_page(const char *path)
{
	return strcmp(path, "/healthz") == 0 || strcmp(path, "/livez") == 0 ||
	       strcmp(path, "/status") == 0 || strcmp(path, "/metrics") == 0;
}

/* 1 when the request line's target has the query "live" (/healthz?live). */
static int
asks_liveness(const struct conn *c)
{
	const char *line = c->buf + c->scan.start, *end = line + c->scan.line_len;
	const char *q = memchr(line, '?', (size_t)(end - line));

	return q != NULL && end - q >= 6 && memcmp(q, "?live", 5) == 0 &&
	       (q[5] == ' ' || q[5] == '&' || q[5] == '\r' || q[5] == '\n');
}

/* /healthz: readiness; "ok", or what keeps this instance from signing. */
static void
answer_health(struct conn *c)
{
	struct status_pool pool;
	struct status_keys keys;
	char why[256] = "";

	if (sv.stopping || sv.draining) {
		conn_reply(c, 503, sv.stopping ? "stopping" : "draining", NULL);
		return;
	}
	pool_snapshot(&pool);
	keyproc_snapshot(&keys);
	/* a worker being born counts: with JOBS_PER_WORKER=1 each job's end
	 * replaces its worker, and the check must not flap between jobs */
	if (pool.idle + pool.busy + pool.starting == 0)
		snprintf(why, sizeof(why), "not ready: no worker in the pool");
	else if (strcmp(keys.state, "ready") != 0)
		snprintf(why, sizeof(why), "not ready: the key process is %s", keys.state);
	else if (keys.store_known && !keys.store_ok)
		snprintf(why, sizeof(why), "not ready: key store: %.200s", keys.store_reason);
	else if (sv.cfg->store_probe_interval > 0 && keys.store_known &&
		 keys.store_age_seconds > 3 * (uint64_t)sv.cfg->store_probe_interval + 5)
		snprintf(why, sizeof(why), "not ready: key store not probed for %llu s",
			 (unsigned long long)keys.store_age_seconds);
	else if (sv.cfg->audit_required && !audit_ready())
		snprintf(why, sizeof(why), "not ready: the audit trail cannot be written");
	conn_reply(c, why[0] ? 503 : 200, why[0] ? why : "ok", NULL);
}

/* A request for one of the supervisor's pages. */
static void
serve_page(struct conn *c)
{
	if (strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0) {
		conn_reply(c, 405, "Method not allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	if (strcmp(c->path, "/livez") == 0 ||
	    (strcmp(c->path, "/healthz") == 0 && asks_liveness(c))) {
		conn_reply(c, 200, "alive", NULL);
		return;
	}
	if (strcmp(c->path, "/healthz") == 0) {
		answer_health(c);
		return;
	}
	if (!status_allowed(&c->addr, sv.cfg->status_allow, sv.cfg->trusted_proxies)) {
		conn_reply(c, 403, "Forbidden", NULL);
		return;
	}
	answer_page(c);
}

/* A supervisor page's head is in (/status reads its Accept header): it is
 * checked as a worker checks a signing request's (http.c: Host once, no
 * framing a proxy could read otherwise, no control bytes, no folding),
 * then answered. */
static void
page_head_in(struct conn *c)
{
	struct http_limits lim = {.header_max_size = (size_t)sv.cfg->header_max_size,
				  .header_max_count = (int)sv.cfg->header_max_count};
	struct http_request req;
	char err[256];
	int st = http_parse_head(c->buf + c->scan.start, c->scan.head_end - c->scan.start, &lim,
				 &req, err, sizeof(err));

	http_request_free(&req);
	if (st != 0)
		conn_reply(c, st, err, NULL);
	else
		serve_page(c);
}

/* conn hook: the request line is complete: answer it here or send it on. */
static void
route(struct conn *c)
{
	struct reqline rl;
	int st = reqline_parse(c->buf + c->scan.start, c->scan.line_len, &rl);
	char extra[128];

	memcpy(c->method, rl.method, sizeof(c->method));
	memcpy(c->path, rl.path, sizeof(c->path));
	sv.count.requests++;
	if (st != 0) {
		conn_reply(c, st,
			   st == 404	 ? "Not found"
			   : st == 505 ? "HTTP version not supported"
				       : "Bad request line",
			   NULL);
		return;
	}
	if (c->reserved && !supervisor_page(c->path)) {
		refuse_busy(c, "Server busy: too many connections");
		return;
	}
	if (supervisor_page(c->path)) {
		conn_await_head(c); /* then page_head_in */
		return;
	}
	if ((c->route = route_find(c->path)) < 0) {
		conn_reply(c, 404, "Not found", NULL);
		return;
	}
	if (strcmp(c->method, ROUTE_METHOD) != 0) {
		conn_reply(c, 405, "Method not allowed", "Allow: " ROUTE_METHOD "\r\n");
		return;
	}
	if (sv.cfg->audit_required && !audit_ready()) {
		reply_retry_after(extra, sizeof(extra), sv.cfg->retry_after);
		conn_reply(c, 503, "Audit trail cannot be written", extra);
		return;
	}
	/* A signing request waits here until its whole head is in, so a
	 * client sending its headers slowly never holds a worker. */
	conn_await_head(c);
}

/* Hand c to an idle worker; 1 if one took it (c is gone), else 0. */
static int
dispatch(struct conn *c)
{
	const struct tokens *tk = tokens_current();
	const struct token_client *client =
		grant_client(tk, sv.cfg, c->buf + c->scan.start, c->scan.head_end - c->scan.start,
			     &c->addr);
	struct pool_job job = {
		.fd = c->fd,
		.route = c->route,
		.peer = c->peer,
		.path = c->path,
		.prefix = c->buf,
		.prefix_len = c->len,
		/* every route is /sign/<signer name> (signers.c) */
		.endpoint = strncmp(c->path, "/sign/", 6) == 0 ? c->path + 6 : c->path,
		.any_selector = tk == NULL,
		.selectors = client != NULL ? tokens_selectors(client) : NULL,
	};

	if (!pool_dispatch(&job))
		return 0;
	conn_handed_over(c);
	return 1;
}

/* conn hook: a signing request's head is in: a worker, or the queue. */
static void
head_in(struct conn *c)
{
	if (supervisor_page(c->path)) {
		page_head_in(c);
		return;
	}
	if (dispatch(c))
		return;
	if (queue_push(&sv.waiting, &c->wait, c, (size_t)sv.cfg->queue_max) < 0) {
		refuse_busy(c, "Server busy: all workers are busy and the queue is full");
		return;
	}
	if (sv.stopping)
		pool_fill(); /* workers that finished since the signal were not replaced */
	conn_wait(c, sv.cfg->queue_wait);
}

/* conn hook: a connection's time ran out. */
static void
expired(struct conn *c)
{
	if (queue_queued(&c->wait)) {
		queue_remove(&sv.waiting, &c->wait);
		refuse_busy(c, "Server busy: no worker became free in time");
	} else if (c->reserved) {
		refuse_busy(c, "Server busy: too many connections");
	} else {
		conn_reply(c, 408, "Request timeout", NULL);
	}
}

/* conn hook: the client went away before it was served. */
static void
gone(struct conn *c)
{
	if (c->len > 0)
		sv.count.aborted++;
	queue_remove(&sv.waiting, &c->wait);
}

static void
replied(int status)
{
	status_count_reply(&sv.count, status);
}

/* pool hook: workers are idle: hand them the waiting requests, oldest first. */
static void
queue_run(void)
{
	while (queue_length(&sv.waiting) > 0 && pool_idle() > 0) {
		struct conn *c = queue_pop(&sv.waiting);

		if (!dispatch(c)) {
			/* Every idle worker failed to take it (they are being
			 * replaced); the client retries. */
			refuse_busy(c, "Server busy: no worker could take the job");
		}
	}
}

/* pool hook: the workers wanted: none once stopping with nothing queued. */
static int
wanted(void)
{
	if (sv.stopping && queue_length(&sv.waiting) == 0)
		return 0;
	return (int)sv.cfg->workers;
}

/* pool hook: count a job's end. */
static void
job_end(const struct status_job_end *e)
{
	status_count_reply(&sv.count, e->status);
	status_job_done(e->endpoint, e->status, e->seconds);
	status_recent_add(&sv.recent, e, (int64_t)time(NULL));
	status_rates_add(&sv.rates, util_now_ms() / 1000, 1, e->status >= 400);
}

static const struct conn_hooks conn_hooks = {
	.line = route,
	.head = head_in,
	.expired = expired,
	.gone = gone,
	.replied = replied,
};

static const struct pool_hooks pool_hooks = {
	.idle = queue_run,
	.wanted = wanted,
	.job_end = job_end,
	.linger = conn_adopt_linger,
};

/*
 * Past MAX_CONNECTIONS and the reserve: 503 at once, and no descriptor
 * kept for it.  What the client has sent already is read and dropped
 * first: closing a socket with unread bytes sends a reset, which can
 * reach the client before the 503 does (curl then fails with "connection
 * reset", which --retry does not retry, where a 503 is retried).
 */
static void
refuse_at_once(int fd)
{
	char sink[4096], extra[128];

	/* the answer every other 503 gives (RETRY_AFTER with its spread),
	 * in one write that never waits: best effort, the client may be
	 * gone already */
	reply_retry_after(extra, sizeof(extra), sv.cfg->retry_after);
	(void)reply_text(fd, 503, "Server busy: too many connections", extra, 0, NULL);
	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	sv.count.rejected++;
	close(fd);
}

/* A new connection: held, within MAX_CONNECTIONS or the reserve, or refused. */
static void
take(int fd, const struct sockaddr_storage *ss)
{
	unsigned reserved = conn_held_reserved();
	int over = conn_held() - reserved >= (unsigned)sv.cfg->max_connections;

	/* a full reserve makes room when one of it is idle or answered: a
	 * health check comes and asks at once, idle connections do not */
	if (over && reserved >= (unsigned)sv.cfg->reserved_connections) {
		int old = conn_evict_reserved();

		if (old < 0) {
			refuse_at_once(fd);
			return;
		}
		refuse_at_once(old); /* the one that gives its place: 503, as curl --retry takes it */
	}
	conn_start(fd, ss, over, over ? RESERVED_WAIT_MS : sv.cfg->request_line_timeout * 1000);
}

/* Accept up to 64 connections; 1 if the backlog may hold more. */
static int
accept_some(int lfd)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				pause_accepting(errno);
			else if (errno != EAGAIN)
				log_warn("accept");
			return 0;
		}
		take(fd, &ss);
	}
	return 1;
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	(void)arg;
	accept_some(lfd);
}

/* Out of descriptors or memory: the listener stays readable, so stop
 * watching it for a moment instead of spinning; warn at most every 10 s. */
static void
pause_accepting(int err)
{
	static uint64_t last_warning;
	struct timeval tv = {0, 100000};
	uint64_t now = util_now_ms();

	if (now - last_warning >= 10000) {
		log_warnx("accept: %s; pausing new connections (%u held)", strerror(err),
			  conn_held());
		last_warning = now;
	}
	if (sv.ev_listen != NULL && sv.ev_resume != NULL) {
		event_del(sv.ev_listen);
		evtimer_add(sv.ev_resume, &tv);
	}
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (sv.ev_listen != NULL && !sv.stopping)
		event_add(sv.ev_listen, NULL);
}

/* (Re-)read DIGSIGSERVER_TOKENS_FILE; on error keep the table in force. */
static int
load_tokens(void)
{
	struct tokens *t = NULL;
	char err[512];

	if (sv.cfg->tokens_file == NULL) {
		tokens_set_current(NULL);
		return 0;
	}
	if (tokens_load(sv.cfg->tokens_file, &t, err, sizeof(err)) < 0) {
		log_errorx("tokens file not loaded: %s", err);
		return -1;
	}
	tokens_set_current(t);
	log_info("access control: tokens from %s", sv.cfg->tokens_file);
	return 0;
}

/* Stop accepting; the loop ends when no accepted job is left. */
static void
begin_shutdown(void)
{
	if (sv.stopping)
		return;
	if (sv.ev_drain != NULL) {
		event_free(sv.ev_drain);
		sv.ev_drain = NULL;
	}
	log_info("shutting down: no new connections, finishing %d job(s) and %d queued",
		 pool_busy(), (int)queue_length(&sv.waiting));
	/* Connections the kernel completed before the signal are accepted
	 * jobs: take them all, as closing the listener would reset them. */
	for (int rounds = 0; rounds < 64 && accept_some(sv.listen_fd); rounds++)
		;
	sv.stopping = 1;
	pool_drain();
	if (sv.ev_listen) {
		event_free(sv.ev_listen);
		sv.ev_listen = NULL;
	}
	close(sv.listen_fd);
	sv.listen_fd = -1;
	event_base_loopbreak(sv.base);
}

static void
drain_over(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_info("drain grace over");
	begin_shutdown();
}

/* SIGTERM: /healthz says draining at once; requests are still accepted
 * and served for DRAIN_GRACE seconds, then begin_shutdown.  A second
 * SIGTERM (or none to wait for) stops accepting at once. */
static void
begin_drain(void)
{
	struct timeval tv = {(time_t)sv.cfg->drain_grace, 0};

	if (sv.draining || sv.stopping || sv.cfg->drain_grace == 0) {
		begin_shutdown();
		return;
	}
	sv.draining = 1;
	log_info("draining: /healthz answers 503 draining; requests are still served for "
		 "%lld s, then no new connections",
		 sv.cfg->drain_grace);
	if ((sv.ev_drain = evtimer_new(sv.base, drain_over, NULL)) == NULL ||
	    evtimer_add(sv.ev_drain, &tv) < 0)
		begin_shutdown();
}

/* libarchive is loaded by the workers that need it (lazylib.h): check now,
 * without loading it here, that it can be, rather than on the first job. */
static void
probe_archive(void)
{
	char err[300];

	if (lazylib_probe_archive(err, sizeof(err)) < 0)
		fatalx("cannot start: %s (the modules, Tegra and Mender signers need it)", err);
}

/*
 * When the key store or an artifact prefix is on S3, load and initialise
 * libcurl here, once, so that every forked worker has it ready; otherwise
 * it stays unloaded and the workers' image small (lazylib.h).  0 or -1.
 */
static int
prepare_s3(const struct config *cfg)
{
	char err[300];

	if (uri_scheme(cfg->keyfile_uri, NULL) != URI_S3 &&
	    !(cfg->artifact_uri_prefixes && strstr(cfg->artifact_uri_prefixes, "s3://")))
		return 0;
	if (lazylib_curl(err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		return -1;
	}
	s3_global_init();
	return 0;
}

/* SIGHUP: new settings, tokens and trail; idle workers replaced. */
static void
reload(void)
{
	log_info("SIGHUP: re-reading the configuration");
	if (options_reload(sv.cfg) < 0)
		return;
	log_set_instance(sv.cfg->instance);
	audit_set_instance(sv.cfg->instance);
	(void)prepare_s3(sv.cfg);
	load_tokens();
	audit_open(sv.cfg->audit_file);
	keyproc_hup();
	pool_recycle_idle();
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	switch (sig) {
	case SIGTERM:
		begin_drain();
		break;
	case SIGINT:
		begin_shutdown();
		break;
	case SIGHUP:
		reload();
		break;
	case SIGCHLD:
		pool_reap();
		break;
	}
}

/* Create the listening socket for address:port; fatal on error. */
static int
listen_on(const char *address, long long port)
{
	struct addrinfo hints = {0}, *res, *ai;
	char portstr[16];
	int fd = -1, on = 1, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%lld", port);
	if ((rc = getaddrinfo(address, portstr, &hints, &res)) != 0)
		fatalx("address %s: %s", address, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	freeaddrinfo(res);
	if (fd < 0)
		fatal("listen on %s:%lld", address, port);
	return fd;
}

/* The listener and the signals, watched by a new event base. */
static void
watch_events(void)
{
	if ((sv.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	sv.listen_fd = listen_on(sv.cfg->address, sv.cfg->port);
	sv.ev_listen = event_new(sv.base, sv.listen_fd, EV_READ | EV_PERSIST, accept_cb, NULL);
	sv.ev_resume = evtimer_new(sv.base, resume_cb, NULL);
	if (sv.ev_listen == NULL || sv.ev_resume == NULL)
		fatalx("event_new failed");
	event_add(sv.ev_listen, NULL);
	for (size_t i = 0; i < NSIGNALS; i++) {
		sv.ev_signal[i] = evsignal_new(sv.base, watched_signals[i], signal_cb, NULL);
		if (sv.ev_signal[i] == NULL)
			fatalx("evsignal_new failed");
		event_add(sv.ev_signal[i], NULL);
	}
	signal(SIGPIPE, SIG_IGN);
}

/*
 * jansson's hash seed (4 bytes of /dev/urandom at the first object) and
 * its lazily bound calls into libc (it is not linked with -z now), done
 * once here rather than in every worker's first audit record.
 */
static void
json_warm_up(void)
{
	json_error_t jerr;
	json_t *o;
	char *text;

	json_object_seed(0);
	o = json_pack("{s:s, s:i, s:f, s:b, s:n, s:[s]}", "a", "b", "c", 1, "d", 1.5, "e", 1, "f",
		      "g", "h");
	if (o == NULL)
		return;
	if ((text = json_dumps(o, JSON_COMPACT)) != NULL) {
		/* with an error record, as the workers' audit check reads */
		json_decref(json_loads(text, 0, &jerr));
		free(text);
	}
	json_decref(o);
}

/* Everything before the first worker is forked. */
static const struct keyproc_hooks keyproc_hooks = {
	.report = pool_key_report,
};

static void
start(struct config *cfg, const struct priv_user *user, const struct priv_user *key_user)
{
	sv.cfg = cfg;
	sv.start_ms = util_now_ms();
	log_set_instance(cfg->instance);
	audit_set_instance(cfg->instance);
	queue_init(&sv.waiting);
	watch_events();
	if (load_tokens() < 0)
		fatalx("cannot start without a valid tokens file");
	if (audit_open(cfg->audit_file) < 0 && cfg->audit_required)
		fatalx("DIGSIGSERVER_AUDIT_REQUIRED is set and the audit trail cannot be opened");
	/* Libraries initialised once here are ready in every forked worker. */
	pkey_warm_up();
	json_warm_up();
	probe_archive();
	if (prepare_s3(cfg) < 0)
		fatalx("cannot start: the configuration uses s3:// but libcurl cannot be loaded");
	conn_init(sv.base, &conn_hooks);
	/* before the workers: the key process holds no worker's descriptor */
	keyproc_start(sv.base, cfg, key_user, &keyproc_hooks);
	pool_init(sv.base, cfg, user, &pool_hooks);
	pool_fill();
	log_info("digsigserver %s listening on %s:%lld with %lld workers", PACKAGE_VERSION,
		 cfg->address, cfg->port, cfg->workers);
}

int
supervisor_run(struct config *cfg, const struct priv_user *user, const struct priv_user *key_user)
{
	start(cfg, user, key_user);
	for (;;) {
		/* EVLOOP_ONCE: back here after each round of callbacks, so the
		 * end of the last job or connection is seen at once */
		if (event_base_loop(sv.base, EVLOOP_ONCE) < 0)
			fatalx("event loop failed");
		if (sv.stopping && pool_busy() == 0 && queue_length(&sv.waiting) == 0 &&
		    conn_held() == 0)
			break;
		if (sv.stopping)
			queue_run();
	}
	pool_shutdown();
	keyproc_stop();
	log_info("stopped");
	return 0;
}
