/* SPDX-License-Identifier: MIT */
/*
 * conn.h: a client connection while the supervisor holds it, from accept
 * until a worker takes it or the supervisor's own answer is sent and a
 * lingering close is over.
 *
 * conn.c reads the request line and, when asked, the rest of the head,
 * and tells the supervisor through the hooks it was given; it never
 * decides where a request goes.  Every answer it writes ends in a
 * lingering close: half-close, drain what the client still sends
 * (bounded in time and bytes), then close, so a client still sending its
 * body sees the answer and not a reset.
 */
#ifndef DSS_CONN_H
#define DSS_CONN_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "proto.h"
#include "queue.h"
#include "reqline.h"

enum conn_phase {
	CONN_LINE,	/* reading the request line */
	CONN_HEAD,	/* reading the rest of the head (conn_await_head) */
	CONN_HELD,	/* head in, handed to the supervisor */
	CONN_WAITING,	/* waiting for a worker (conn_wait) */
	CONN_WRITING,	/* answering a client that reads slowly (conn_answer) */
	CONN_LINGERING, /* answered; draining the client's input before close */
};

struct conn {
	int fd;
	struct event *ev_read;
	struct event *ev_timer;
	struct sockaddr_storage addr;
	char peer[PROTO_PEER_MAX];
	size_t len;	 /* of buf */
	char method[16]; /* from the request line (reqline.h) */
	char path[256];
	int route; /* the signer it goes to (route.h) */
	uint64_t accepted_ms;
	struct reqline_scan scan; /* how far buf has been scanned */
	enum conn_phase phase;
	int reserved; /* accepted past MAX_CONNECTIONS: supervisor pages only */
	TAILQ_ENTRY(conn) reserve; /* the reserved ones, oldest first */
	size_t drained;
	/* the supervisor's own answer, while the client's socket takes it */
	struct event *ev_write;
	char *out;
	size_t out_len, out_off;
	int out_status;
	struct queue_item wait; /* in the supervisor's queue (queue.h); not touched here */
	/* last, and not cleared when a connection is accepted: only the bytes
	 * read are ever touched (every fork of a worker makes each page the
	 * supervisor then writes cost a copy) */
	char buf[PROTO_PREFIX_MAX]; /* bytes read so far (the request line ...) */
};

/* What conn.c tells the supervisor. */
struct conn_hooks {
	void (*line)(struct conn *c);	 /* the request line is in: route it */
	void (*head)(struct conn *c);	 /* the head is in (after conn_await_head) */
	void (*expired)(struct conn *c); /* its timer ran out while reading or waiting */
	/* The client left before it was served (conn_abort); c is closed
	 * right after.  An abort when it had sent something. */
	void (*gone)(struct conn *c);
	void (*replied)(int status); /* an answer was sent: count it */
};

void conn_init(struct event_base *base, const struct conn_hooks *hooks);
/*
 * The reserve is full: let go of the oldest reserved connection that is
 * not being answered (its request, or the rest of its head, not in yet;
 * or answered, lingering), so that a new one (a health check) may have its
 * place: its socket, for the caller to answer and close, or -1 when every
 * reserved connection is being answered.  A health check sends its whole
 * request at once, so a stream of connections that ask slowly or not at
 * all cannot keep the reserve from it.
 */
int conn_evict_reserved(void);
/* Hold a new connection and wait timeout_ms for its request line. */
void conn_start(int fd, const struct sockaddr_storage *ss, int reserved, long long timeout_ms);
/* Wait, within the same time, for the rest of the head (431 when it does
 * not fit): hooks->head once it is in, maybe at once. */
void conn_await_head(struct conn *c);
/* Wait up to timeout_s for a worker, watching for the client going away. */
void conn_wait(struct conn *c, long long timeout_s);
/* The client socket now belongs to a worker: forget c without closing it. */
void conn_handed_over(struct conn *c);
/* Answer with a body of type ctype (none for HEAD) and close lingering;
 * extra holds further header lines or NULL. */
void conn_answer(struct conn *c, int status, const char *ctype, const char *body,
		 const char *extra);
/* Answer with a text body and close lingering. */
void conn_reply(struct conn *c, int status, const char *text, const char *extra);
/* Take over a client socket that was just answered, for a lingering close. */
void conn_adopt_linger(int fd, const char *peer);
/* Connections held: all, and those accepted past MAX_CONNECTIONS. */
unsigned conn_held(void);
unsigned conn_held_reserved(void);

#endif
