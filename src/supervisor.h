/*
 * supervisor.h: state shared by the supervisor's files (supervisor.c:
 * listener, connections and signals; pool.c: workers; queue.c: waiting
 * connections; status.c: /status, /healthz, /metrics and the counters).
 */
#ifndef DSS_SUPERVISOR_H
#define DSS_SUPERVISOR_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "config.h"
#include "privdrop.h"
#include "proto.h"
#include "reqline.h"

/* A client connection held by the supervisor before it reaches a worker. */
struct conn {
	int fd;
	struct event *ev_read;
	struct event *ev_timer;
	struct sockaddr_storage addr;
	char peer[PROTO_PEER_MAX];
	size_t len; /* of buf */
	char method[16];	/* from the request line (reqline.h) */
	char path[256];
	int route;		/* the signer it goes to (route.h) */
	uint64_t accepted_ms;
	uint64_t queued_ms;
	struct reqline_scan scan; /* how far buf has been scanned */
	int want_head; /* a signing request waiting for the end of its head */
	int lingering; /* answered; draining the client's input before close */
	int reserved;  /* accepted past MAX_CONNECTIONS: supervisor pages only */
	size_t drained;
	TAILQ_ENTRY(conn) entry; /* in the queue */
	int queued;
	/* last, and not cleared when a connection is accepted: only the bytes
	 * read are ever touched (every fork of a worker makes each page the
	 * supervisor then writes cost a copy) */
	char buf[PROTO_PREFIX_MAX]; /* bytes read so far (the request line ...) */
};

struct counters {
	uint64_t requests;	/* every request line read */
	uint64_t status_2xx, status_4xx, status_5xx;
	uint64_t timeouts;	/* jobs killed at RESPONSE_TIMEOUT */
	uint64_t crashes;	/* workers that died during a job */
	uint64_t respawns;	/* workers forked to replace others */
	uint64_t rejected;	/* 503 from a full queue or a long wait */
	uint64_t aborted;	/* clients gone before their request was complete */
	uint64_t jobs;		/* jobs handed to workers */
};

struct supervisor {
	struct config cfg;
	struct priv_user user;
	struct event_base *base;
	int listen_fd;
	struct event *ev_listen;
	uint64_t start_ms;
	uint64_t next_job_id;
	unsigned nconns;	/* connections held (reading, queued, lingering) */
	unsigned nreserved;	/* of which accepted past MAX_CONNECTIONS */
	int stopping;		/* SIGTERM: no new connections */
	struct counters count;
	char version[32];
};

extern struct supervisor *sv;

/* supervisor.c */
int supervisor_init(struct supervisor *s);
int supervisor_run(struct supervisor *s);
int supervisor_load_tokens(void);
void conn_close(struct conn *c);
/* Answer a connection with a text body and close it (lingering). */
void conn_reply(struct conn *c, int status, const char *text, const char *extra);
void conn_count_status(int status);
/* After the supervisor's own answer: half-close, drain, then close. */
void conn_linger(struct conn *c);
/* Take over a client socket that was just answered, for a lingering close. */
void conn_adopt_linger(int fd, const char *peer);
/* Log the one-line record of a request the supervisor answered itself. */
void conn_log(struct conn *c, int status, uint64_t out);

/* pool.c */
void pool_init(void);
/* Hand c to an idle worker; 1 if taken (c is freed), 0 if none idle. */
int pool_dispatch(struct conn *c);
/* Fork workers up to the configured size. */
void pool_fill(void);
/* Stop idle workers (SIGHUP: they are replaced with the new settings). */
void pool_recycle_idle(void);
/* Ask every worker to exit once idle; used at shutdown. */
void pool_shutdown(void);
/* Number of workers in a state; -1 for all live ones. */
int pool_count(int state);
int pool_busy_jobs(void);
void pool_reap(void);
/* Write the workers' part of /status into a jansson array. */
void pool_status_json(void *array);

enum worker_state { W_STARTING, W_IDLE, W_BUSY, W_EXITING };

/* queue.c */
int queue_push(struct conn *c);
struct conn *queue_pop(void);
void queue_remove(struct conn *c);
int queue_length(void);
/* Dispatch waiting connections to idle workers. */
void queue_run(void);

/* status.c */
void status_answer(struct conn *c);
int status_allowed(const struct sockaddr_storage *ss);
void metrics_answer(struct conn *c);
/* Record a finished job for the metrics (endpoint, status, seconds). */
void metrics_job_done(const char *endpoint, int status, double seconds);

#endif
