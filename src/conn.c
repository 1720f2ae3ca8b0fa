/* SPDX-License-Identifier: MIT */
/*
 * conn.c: the client connections the supervisor holds (conn.h).
 *
 * Each read is scanned once (reqline_scan), so a client sending a byte at
 * a time costs no more than one sending its head at once.  What a
 * connection is for (routing, the queue, the pool) is the supervisor's
 * business: this file tells it through its hooks and calls only lib/
 * (reply, reqline, log, util) and queue.h's queue_queued, to check that
 * no connection is freed while it waits in the queue.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "reply.h"
#include "util.h"

/* How long, and how much, a lingering close drains before giving up. */
#define LINGER_MS 2000
#define LINGER_MAX (1 << 20)
/* Time allowed to write one of the supervisor's answers, whole, to a
 * client that reads it slowly (the others are served meanwhile). */
#define SV_ANSWER_TIMEOUT_MS 10000

static struct event_base *base;
static const struct conn_hooks *hooks;
static unsigned held;	       /* connections held (reading, waiting, lingering) */
static unsigned held_reserved; /* of which accepted past MAX_CONNECTIONS */
static TAILQ_HEAD(, conn) reserve_list = TAILQ_HEAD_INITIALIZER(reserve_list); /* those, oldest first */

static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_write_cb(evutil_socket_t fd, short what, void *arg);
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg);
static void head_read(struct conn *c);

void
conn_init(struct event_base *b, const struct conn_hooks *h)
{
	base = b;
	hooks = h;
}

unsigned
conn_held(void)
{
	return held;
}

unsigned
conn_held_reserved(void)
{
	return held_reserved;
}

/* Free c and its events, closing its socket unless it was handed over. */
static void
conn_close(struct conn *c)
{
	if (queue_queued(&c->wait))
		fatalx("connection of %s freed while it waits in the queue", c->peer);
	if (c->ev_read)
		event_free(c->ev_read);
	if (c->ev_timer)
		event_free(c->ev_timer);
	if (c->ev_write)
		event_free(c->ev_write);
	free(c->out);
	if (c->fd >= 0)
		close(c->fd);
	if (c->reserved) {
		TAILQ_REMOVE(&reserve_list, c, reserve);
		held_reserved--;
	}
	held--;
	/* what the client sent (a bearer token, the start of its upload) is
	 * not left in freed memory: a worker forked while the spawner is down
	 * would inherit the supervisor's heap */
	explicit_bzero(c->buf, c->len);
	free(c);
}

void
conn_handed_over(struct conn *c)
{
	c->fd = -1;
	conn_close(c);
}

/* Log the one-line record of a request the supervisor answered itself. */
static void
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
static void
conn_linger(struct conn *c)
{
	struct timeval tv = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000};

	if (queue_queued(&c->wait))
		fatalx("connection of %s answered while it waits in the queue", c->peer);
	shutdown(c->fd, SHUT_WR);
	c->phase = CONN_LINGERING;
	c->drained = 0;
	event_del(c->ev_read);
	event_add(c->ev_read, NULL);
	evtimer_add(c->ev_timer, &tv);
}

/* A new connection for fd with its events, its fields zeroed but for buf
 * (see struct conn). */
static struct conn *
conn_new(int fd)
{
	struct conn *c = xmalloc(sizeof(*c));

	memset(c, 0, offsetof(struct conn, buf));
	c->fd = fd;
	c->route = -1;
	c->accepted_ms = util_now_ms();
	c->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->ev_timer = evtimer_new(base, conn_timer_cb, c);
	if (c->ev_read == NULL || c->ev_timer == NULL)
		fatalx("event_new failed");
	held++;
	return c;
}

void
conn_adopt_linger(int fd, const char *peer)
{
	struct conn *c = conn_new(fd);

	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	util_set_nonblock(fd, 1);
	conn_linger(c);
}

/* Write what is left of c's answer without waiting: 1 when all of it is
 * out, 0 when the socket takes no more for now, -1 on an error. */
static int
answer_send(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		c->out_off += (size_t)w;
	}
	return 1;
}

/* c's answer is out, or cannot be (rc < 0, errno set): logged; linger. */
static void
answer_done(struct conn *c, int rc)
{
	if (rc < 0)
		log_debug("answering %s: %s", c->peer, strerror(errno));
	conn_log(c, c->out_status, c->out_off);
	free(c->out);
	c->out = NULL;
	if (c->ev_write)
		event_del(c->ev_write);
	conn_linger(c);
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int rc = answer_send(c);

	(void)fd;
	(void)what;
	if (rc != 0)
		answer_done(c, rc);
}

void
conn_answer(struct conn *c, int status, const char *ctype, const char *body, const char *extra)
{
	struct timeval tv = {SV_ANSWER_TIMEOUT_MS / 1000, (SV_ANSWER_TIMEOUT_MS % 1000) * 1000};
	int rc;

	hooks->replied(status);
	c->out_status = status;
	c->out_off = 0;
	/* HEAD: the length GET would send, and no body (RFC 9110 9.3.2) */
	c->out = reply_format(status, ctype, body, strlen(body), extra,
			      strcmp(c->method, "HEAD") != 0, &c->out_len);
	if (c->out == NULL) {
		errno = EOVERFLOW;
		answer_done(c, -1);
		return;
	}
	if ((rc = answer_send(c)) != 0) {
		answer_done(c, rc);
		return;
	}
	/* a client that reads slowly (a large /status, a small window) gets
	 * the rest as its socket takes it, and holds up no one meanwhile */
	c->phase = CONN_WRITING;
	event_del(c->ev_read);
	if (c->ev_write == NULL &&
	    (c->ev_write = event_new(base, c->fd, EV_WRITE | EV_PERSIST, conn_write_cb, c)) == NULL)
		fatalx("event_new failed");
	event_add(c->ev_write, NULL);
	evtimer_add(c->ev_timer, &tv);
}

void
conn_reply(struct conn *c, int status, const char *text, const char *extra)
{
	conn_answer(c, status, "text/plain; charset=utf-8", text, extra);
}

/* The peer's address as text: "1.2.3.4:5" or "[::1]:5". */
static void
format_peer(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(out, outlen, "%s:%d", host, ntohs(a->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(out, outlen, "[%s]:%d", host, ntohs(a->sin6_port));
	} else {
		snprintf(out, outlen, "unknown");
	}
}

int
conn_evict_reserved(void)
{
	struct conn *c;
	int fd;

	TAILQ_FOREACH(c, &reserve_list, reserve)
		if (c->phase != CONN_WRITING) {
			log_debug("client %s: its reserved connection closed for a newer one (%s)",
				  c->peer,
				  c->phase == CONN_LINGERING ? "answered" : "its request not in yet");
			fd = c->fd;
			conn_handed_over(c);
			return fd;
		}
	return -1;
}

void
conn_start(int fd, const struct sockaddr_storage *ss, int reserved, long long timeout_ms)
{
	struct timeval tv = {(time_t)(timeout_ms / 1000),
			     (suseconds_t)((timeout_ms % 1000) * 1000)};
	struct conn *c = conn_new(fd);

	c->addr = *ss;
	format_peer(ss, c->peer, sizeof(c->peer));
	if (reserved) {
		c->reserved = 1;
		TAILQ_INSERT_TAIL(&reserve_list, c, reserve);
		held_reserved++;
	}
	event_add(c->ev_read, NULL);
	evtimer_add(c->ev_timer, &tv);
	/* a client sends its request right after the handshake, so it is
	 * usually here already: read it now rather than after another turn
	 * of the event loop (one wake-up less per request); EAGAIN leaves it
	 * to the event */
	head_read(c);
}

void
conn_await_head(struct conn *c)
{
	if (!c->scan.have_head) {
		c->phase = CONN_HEAD;
		if (c->len == sizeof(c->buf))
			conn_reply(c, 431, "Request header fields too large", NULL);
		return; /* more to come, within the request line's time */
	}
	c->phase = CONN_HELD;
	event_del(c->ev_read);
	evtimer_del(c->ev_timer);
	hooks->head(c);
}

void
conn_wait(struct conn *c, long long timeout_s)
{
	struct timeval tv = {(time_t)timeout_s, 0};

	c->phase = CONN_WAITING;
	/* watch for the client giving up while it waits */
	event_add(c->ev_read, NULL);
	evtimer_add(c->ev_timer, &tv);
}

/* The client closed or reset its connection before it was served: an
 * abort, logged unless it sent nothing at all (a port probe).  why is
 * "closed" or an errno text. */
static void
conn_abort(struct conn *c, const char *why)
{
	if (c->len > 0)
		log_info("client %s went away (%s) %s (%zu bytes read)", c->peer, why,
			 c->phase == CONN_WAITING ? "while waiting for a worker"
						  : "before its request was complete",
			 c->len);
	else
		log_debug("client %s went away (%s) without sending anything", c->peer, why);
	hooks->gone(c);
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
 * A waiting client's socket became readable.  Its head is complete, so
 * what follows is body (left for the worker) or a FIN: a client may
 * half-close once its request is sent (RFC 9112 9.6; nc -N and some
 * proxies do), and it still reads the answer, so a FIN only stops the
 * watch.  A reset or an error is an abort and frees the slot.
 */
static void
waiting_read(struct conn *c)
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

/* Read more of the head and pass on what became complete. */
static void
head_read(struct conn *c)
{
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);

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
	if (c->phase == CONN_HEAD) {
		conn_await_head(c);
		return;
	}
	if (c->scan.have_line) {
		c->phase = CONN_HELD;
		hooks->line(c);
		return;
	}
	if (c->len == sizeof(c->buf))
		conn_reply(c, 414, "Request line too long", NULL);
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->phase == CONN_LINGERING)
		linger_read(c);
	else if (c->phase == CONN_WAITING)
		waiting_read(c);
	else
		head_read(c);
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->phase == CONN_WRITING) {
		log_info("client %s did not read its answer in %d s; closing", c->peer,
			 SV_ANSWER_TIMEOUT_MS / 1000);
		conn_log(c, c->out_status, c->out_off);
		conn_close(c);
	} else if (c->phase == CONN_LINGERING) {
		conn_close(c);
	} else {
		hooks->expired(c);
	}
}
