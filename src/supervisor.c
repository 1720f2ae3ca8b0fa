/*
 * supervisor.c: the supervisor's event loop.
 *
 * It owns the listening socket and every client connection until a worker
 * takes it.  For each connection it reads the request line (bounded in
 * size and time) and routes on it alone: /status, /healthz and /metrics
 * are answered here; for POST /sign/... it waits, within the same time
 * bound, until the head is complete (without parsing it: the worker does)
 * and hands the connection to an idle worker (pool.c) or the bounded
 * queue (queue.c).  Each read is scanned once (reqline_scan), so a client
 * sending a byte at a time costs no more than one sending its head at once.
 * Everything it answers itself closes with a lingering close,
 * so a client still sending its body sees the answer and not a reset.
 *
 * MAX_CONNECTIONS bounds the connections held.  Past it, a few more
 * (RESERVED_CONNECTIONS) are accepted for the supervisor's own pages
 * only: such a connection has RESERVED_WAIT_MS to send its request line,
 * and anything but /healthz, /status or /metrics gets 503.  So idle or
 * slow connections cannot starve a health check, while a flood of them
 * still costs no more than the limit plus the reserve.  (Closing the
 * oldest held connection instead, as nginx does with idle keep-alive
 * ones, would let a flood push real clients out.)
 *
 * Signals: SIGTERM/SIGINT stop accepting and exit once accepted jobs are
 * done; SIGHUP re-reads the configuration and replaces idle workers;
 * SIGCHLD reaps workers.
 */
#include "supervisor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "audit.h"
#include "lazylib.h"
#include "log.h"
#include "pkey.h"
#include "reply.h"
#include "reqline.h"
#include "s3.h"
#include "route.h"
#include "tokens.h"
#include "util.h"

/* How long, and how much, a lingering close drains before giving up. */
#define LINGER_MS 2000
#define LINGER_MAX (1 << 20)
/* Time allowed to write one of the supervisor's small answers. */
#define SV_WRITE_TIMEOUT_MS 1000
/* Time a connection accepted past MAX_CONNECTIONS has for its request
 * line: a health check sends it at once. */
#define RESERVED_WAIT_MS 1000

struct supervisor *sv;

static struct event *ev_sigterm, *ev_sigint, *ev_sighup, *ev_sigchld, *ev_resume;
extern int supervisor_reload(void);

static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void pause_accepting(int err);
static void head_check(struct conn *c);
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg);

void
conn_count_status(int status)
{
	if (status >= 200 && status < 300)
		sv->count.status_2xx++;
	else if (status >= 400 && status < 500)
		sv->count.status_4xx++;
	else if (status >= 500)
		sv->count.status_5xx++;
}

void
conn_close(struct conn *c)
{
	if (c->queued)
		queue_remove(c);
	if (c->ev_read)
		event_free(c->ev_read);
	if (c->ev_timer)
		event_free(c->ev_timer);
	if (c->fd >= 0)
		close(c->fd);
	if (c->reserved)
		sv->nreserved--;
	sv->nconns--;
	free(c);
	if (sv->stopping)
		event_base_loopbreak(sv->base); /* let the main loop check for the end */
}

void
conn_log(struct conn *c, int status, uint64_t out)
{
	char method[LOG_ESCAPED_SIZE(sizeof(c->method))], path[LOG_ESCAPED_SIZE(sizeof(c->path))];

	log_request("job=- client=%s method=%s path=%s endpoint=- selector=- status=%d in=%zu "
		    "out=%llu ms=%llu",
		    c->peer, log_escape(c->method[0] ? c->method : "-", method, sizeof(method)),
		    log_escape(c->path[0] ? c->path : "-", path, sizeof(path)), status, c->len,
		    (unsigned long long)out, (unsigned long long)(util_now_ms() - c->accepted_ms));
}

/* After an answer: stop sending, drain what the client still sends. */
void
conn_linger(struct conn *c)
{
	struct timeval tv = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000};

	shutdown(c->fd, SHUT_WR);
	c->lingering = 1;
	c->drained = 0;
	if (c->queued)
		queue_remove(c);
	event_del(c->ev_read);
	event_add(c->ev_read, NULL);
	evtimer_add(c->ev_timer, &tv);
}

/* A new connection for fd, its fields zeroed but for buf (see conn). */
static struct conn *
conn_new(int fd)
{
	struct conn *c = xmalloc(sizeof(*c));

	memset(c, 0, offsetof(struct conn, buf));
	c->fd = fd;
	c->accepted_ms = util_now_ms();
	return c;
}

void
conn_adopt_linger(int fd, const char *peer)
{
	struct conn *c = conn_new(fd);

	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	util_set_nonblock(fd, 1);
	c->ev_read = event_new(sv->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->ev_timer = evtimer_new(sv->base, conn_timer_cb, c);
	if (c->ev_read == NULL || c->ev_timer == NULL)
		fatalx("event_new failed");
	sv->nconns++;
	conn_linger(c);
}

void
conn_reply(struct conn *c, int status, const char *text, const char *extra)
{
	uint64_t out = 0;
	int head = strcmp(c->method, "HEAD") == 0;

	conn_count_status(status);
	if (http_reply(c->fd, status, "text/plain; charset=utf-8", text, head ? 0 : strlen(text),
		       extra, SV_WRITE_TIMEOUT_MS, &out) < 0)
		log_debug("answering %s: %s", c->peer, strerror(errno));
	conn_log(c, status, out);
	conn_linger(c);
}

/* The peer's address as text: "1.2.3.4:5" or "[::1]:5". */
static void
format_peer(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(out, outlen, "%s:%d", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(out, outlen, "[%s]:%d", host, port);
	} else {
		snprintf(out, outlen, "unknown");
	}
}

/* 1 for the pages the supervisor answers itself. */
static int
supervisor_page(const char *path)
{
	return strcmp(path, "/healthz") == 0 || strcmp(path, "/status") == 0 ||
	       strcmp(path, "/metrics") == 0;
}

/* Refuse a connection with 503 and Retry-After, counting it. */
static void
refuse_busy(struct conn *c, const char *text)
{
	char extra[128];

	sv->count.rejected++;
	http_retry_after(extra, sizeof(extra), sv->cfg.retry_after);
	conn_reply(c, 503, text, extra);
}

/* The request line is complete: answer it here or send it on. */
static void
route(struct conn *c)
{
	struct reqline rl;
	int st = reqline_parse(c->buf + c->scan.start, c->scan.line_len, &rl);
	int get;
	char extra[128];

	memcpy(c->method, rl.method, sizeof(c->method));
	memcpy(c->path, rl.path, sizeof(c->path));
	get = strcmp(c->method, "GET") == 0 || strcmp(c->method, "HEAD") == 0;
	sv->count.requests++;
	if (st == 404) {
		conn_reply(c, 404, "Not found", NULL);
		return;
	}
	if (st != 0) {
		conn_reply(c, st, st == 505 ? "HTTP version not supported" : "Bad request line",
			   NULL);
		return;
	}
	if (c->reserved && !supervisor_page(c->path)) {
		refuse_busy(c, "Server busy: too many connections");
		return;
	}
	if (supervisor_page(c->path)) {
		if (!get) {
			conn_reply(c, 405, "Method not allowed", "Allow: GET, HEAD\r\n");
			return;
		}
		if (strcmp(c->path, "/healthz") == 0) {
			conn_reply(c, sv->stopping ? 503 : 200, sv->stopping ? "stopping" : "ok",
				   NULL);
			return;
		}
		if (!status_allowed(&c->addr)) {
			conn_reply(c, 403, "Forbidden", NULL);
			return;
		}
		if (strcmp(c->path, "/status") == 0)
			status_answer(c);
		else
			metrics_answer(c);
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
	if (sv->cfg.audit_required && !audit_ready()) {
		http_retry_after(extra, sizeof(extra), sv->cfg.retry_after);
		conn_reply(c, 503, "Audit trail cannot be written", extra);
		return;
	}
	/* A signing request waits here until its whole head is in, so a
	 * client sending its headers slowly never holds a worker. */
	c->want_head = 1;
	head_check(c);
}

/* A signing request with its head complete goes to a worker or the queue. */
static void
head_check(struct conn *c)
{
	if (!c->scan.have_head) {
		if (c->len == sizeof(c->buf))
			conn_reply(c, 431, "Request header fields too large", NULL);
		return; /* more to come, within REQUEST_LINE_TIMEOUT */
	}
	c->want_head = 0;
	event_del(c->ev_read);
	evtimer_del(c->ev_timer);
	if (pool_dispatch(c))
		return;
	if (queue_length() >= sv->cfg.queue_max || queue_push(c) < 0) {
		refuse_busy(c, "Server busy: all workers are busy and the queue is full");
		return;
	}
	if (sv->stopping)
		pool_fill(); /* workers that finished since the signal were not replaced */
	{
		struct timeval tv = {(time_t)sv->cfg.queue_wait, 0};
		evtimer_add(c->ev_timer, &tv);
	}
}

/* The client closed or reset its connection before its request was in:
 * an abort, logged and counted unless it sent nothing at all (a port
 * probe).  why is "closed" or an errno text. */
static void
conn_abort(struct conn *c, const char *why)
{
	if (c->len > 0) {
		sv->count.aborted++;
		log_info("client %s went away (%s) %s (%zu bytes read)", c->peer, why,
			 c->queued ? "while waiting for a worker"
				   : "before its request was complete",
			 c->len);
	} else {
		log_debug("client %s went away (%s) without sending anything", c->peer, why);
	}
	conn_close(c);
}

/* Drain what an answered client still sends; close at its end. */
static void
linger_read(struct conn *c)
{
	char junk[16384];
	ssize_t n = recv(c->fd, junk, sizeof(junk), 0);

	if (n > 0) {
		c->drained += (size_t)n;
		if (c->drained <= LINGER_MAX)
			return;
	} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		return;
	}
	conn_close(c);
}

/*
 * A queued client's socket became readable.  Its head is complete, so
 * what follows is body (left for the worker) or a FIN: a client may
 * half-close once its request is sent (RFC 9112 9.6; nc -N and some
 * proxies do), and it still reads the answer, so a FIN only stops the
 * watch.  A reset or an error is an abort and frees the slot.
 */
static void
queued_read(struct conn *c)
{
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n >= 0) {
		if (n == 0)
			log_debug("client %s half-closed while waiting for a worker", c->peer);
		event_del(c->ev_read); /* the rest is the worker's to read */
		return;
	}
	conn_abort(c, strerror(errno));
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	ssize_t n;

	(void)what;
	if (c->lingering) {
		linger_read(c);
		return;
	}
	if (c->queued) {
		queued_read(c);
		return;
	}
	n = recv(fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_abort(c, n == 0 ? "closed" : strerror(errno));
		return;
	}
	c->len += (size_t)n;
	if (reqline_scan(&c->scan, c->buf, c->len) < 0) {
		conn_reply(c, 400, "Bad request line", NULL);
		return;
	}
	if (c->want_head) {
		head_check(c);
		return;
	}
	if (c->scan.have_line) {
		route(c);
		return;
	}
	if (c->len == sizeof(c->buf))
		conn_reply(c, 414, "Request line too long", NULL);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->lingering) {
		conn_close(c);
	} else if (c->queued) {
		refuse_busy(c, "Server busy: no worker became free in time");
	} else if (c->reserved) {
		refuse_busy(c, "Server busy: too many connections");
	} else {
		conn_reply(c, 408, "Request timeout", NULL);
	}
}

/* Past MAX_CONNECTIONS and the reserve: 503 at once, nothing read. */
static void
refuse_at_once(int fd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
				   "Connection: close\r\nRetry-After: 5\r\n"
				   "Content-Length: 0\r\n\r\n";
	ssize_t w = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);

	(void)w; /* best effort: the client may be gone already */
	sv->count.rejected++;
	close(fd);
}

/* Hold a new connection and wait for its request line. */
static void
conn_start(int fd, const struct sockaddr_storage *ss, int reserved)
{
	struct timeval tv = {(time_t)sv->cfg.request_line_timeout, 0};
	struct conn *c = conn_new(fd);

	c->addr = *ss;
	format_peer(ss, c->peer, sizeof(c->peer));
	c->ev_read = event_new(sv->base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->ev_timer = evtimer_new(sv->base, conn_timer_cb, c);
	if (c->ev_read == NULL || c->ev_timer == NULL)
		fatalx("event_new failed");
	sv->nconns++;
	if (reserved) {
		c->reserved = 1;
		sv->nreserved++;
		tv.tv_sec = RESERVED_WAIT_MS / 1000;
		tv.tv_usec = (RESERVED_WAIT_MS % 1000) * 1000;
	}
	event_add(c->ev_read, NULL);
	evtimer_add(c->ev_timer, &tv);
}

/* Accept up to 64 connections; 1 if the backlog may hold more. */
static int
accept_some(int lfd)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int over;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				pause_accepting(errno);
			else if (errno != EAGAIN)
				log_warnx("accept: %s", strerror(errno));
			return 0;
		}
		over = sv->nconns - sv->nreserved >= (unsigned)sv->cfg.max_connections;
		if (over && sv->nreserved >= (unsigned)sv->cfg.reserved_connections)
			refuse_at_once(fd);
		else
			conn_start(fd, &ss, over);
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

/* (Re-)read DIGSIGSERVER_TOKENS_FILE; on error keep the table in force. */
int
supervisor_load_tokens(void)
{
	struct tokens *t = NULL;
	char err[512];

	if (sv->cfg.tokens_file == NULL) {
		tokens_set_current(NULL);
		return 0;
	}
	if (tokens_load(sv->cfg.tokens_file, &t, err, sizeof(err)) < 0) {
		log_errorx("tokens file not loaded: %s", err);
		return -1;
	}
	tokens_set_current(t);
	log_info("access control: tokens from %s", sv->cfg.tokens_file);
	return 0;
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
			  sv->nconns);
		last_warning = now;
	}
	if (sv->ev_listen != NULL && ev_resume != NULL) {
		event_del(sv->ev_listen);
		evtimer_add(ev_resume, &tv);
	}
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (sv->ev_listen != NULL && !sv->stopping)
		event_add(sv->ev_listen, NULL);
}

/* Stop accepting; the loop ends when no accepted job is left. */
static void
begin_shutdown(void)
{
	if (sv->stopping)
		return;
	log_info("shutting down: no new connections, finishing %d job(s) and %d queued",
		 pool_busy_jobs(), queue_length());
	/* Connections the kernel completed before the signal are accepted
	 * jobs: take them all, as closing the listener would reset them. */
	for (int rounds = 0; rounds < 64 && accept_some(sv->listen_fd); rounds++)
		;
	sv->stopping = 1;
	if (sv->ev_listen) {
		event_free(sv->ev_listen);
		sv->ev_listen = NULL;
	}
	close(sv->listen_fd);
	sv->listen_fd = -1;
	event_base_loopbreak(sv->base);
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

	if (!(cfg->keyfile_uri && strncmp(cfg->keyfile_uri, "s3://", 5) == 0) &&
	    !(cfg->artifact_uri_prefixes && strstr(cfg->artifact_uri_prefixes, "s3://")))
		return 0;
	if (lazylib_curl(err, sizeof(err)) < 0) {
		log_errorx("%s", err);
		return -1;
	}
	s3_global_init();
	return 0;
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		begin_shutdown();
		break;
	case SIGHUP:
		log_info("SIGHUP: re-reading the configuration");
		if (supervisor_reload() == 0) {
			(void)prepare_s3(&sv->cfg);
			supervisor_load_tokens();
			audit_open(sv->cfg.audit_file);
			pool_recycle_idle();
		}
		break;
	case SIGCHLD:
		pool_reap();
		break;
	}
}

/* Create the listening socket for cfg.address:cfg.port; fatal on error. */
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

int
supervisor_init(struct supervisor *s)
{
	sv = s;
	s->start_ms = util_now_ms();
	s->next_job_id = 1;
	if ((s->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	s->listen_fd = listen_on(s->cfg.address, s->cfg.port);
	s->ev_listen = event_new(s->base, s->listen_fd, EV_READ | EV_PERSIST, accept_cb, NULL);
	ev_sigterm = evsignal_new(s->base, SIGTERM, signal_cb, NULL);
	ev_sigint = evsignal_new(s->base, SIGINT, signal_cb, NULL);
	ev_sighup = evsignal_new(s->base, SIGHUP, signal_cb, NULL);
	ev_sigchld = evsignal_new(s->base, SIGCHLD, signal_cb, NULL);
	ev_resume = evtimer_new(s->base, resume_cb, NULL);
	if (!s->ev_listen || !ev_sigterm || !ev_sigint || !ev_sighup || !ev_sigchld || !ev_resume)
		fatalx("event_new failed");
	event_add(s->ev_listen, NULL);
	event_add(ev_sigterm, NULL);
	event_add(ev_sigint, NULL);
	event_add(ev_sighup, NULL);
	event_add(ev_sigchld, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (supervisor_load_tokens() < 0)
		fatalx("cannot start without a valid tokens file");
	if (audit_open(s->cfg.audit_file) < 0 && s->cfg.audit_required)
		fatalx("DIGSIGSERVER_AUDIT_REQUIRED is set and the audit trail cannot be opened");
	/* Libraries initialised once here are ready in every forked worker. */
	pkey_warm_up();
	probe_archive();
	if (prepare_s3(&s->cfg) < 0)
		fatalx("cannot start: the configuration uses s3:// but libcurl cannot be loaded");
	pool_init();
	pool_fill();
	log_info("digsigserver %s listening on %s:%lld with %lld workers", s->version,
		 s->cfg.address, s->cfg.port, s->cfg.workers);
	return 0;
}

int
supervisor_run(struct supervisor *s)
{
	for (;;) {
		if (event_base_loop(s->base, EVLOOP_ONCE) < 0)
			fatalx("event loop failed");
		if (s->stopping && pool_busy_jobs() == 0 && queue_length() == 0 && s->nconns == 0)
			break;
		if (s->stopping)
			queue_run();
	}
	pool_shutdown();
	log_info("stopped");
	return 0;
}
