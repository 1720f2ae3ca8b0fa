/* SPDX-License-Identifier: MIT */
/*
 * pool.h: the worker pool: birth, records, jobs, timeouts, death.
 *
 * The pool forks workers when asked (pool_fill: as many as the
 * supervisor's wanted hook says), hands a job to an idle one
 * (pool_dispatch), and reports upward through its hooks: a worker became
 * idle, a job ended, an answered client socket needs a lingering close.
 * It never looks at the queue or a connection: the supervisor drives both.
 */
#ifndef DSS_POOL_H
#define DSS_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "keyproto.h"
#include "privdrop.h"
#include "status.h"

struct pool_hooks {
	/* A worker is idle: hand it waiting work (pool_dispatch). */
	void (*idle)(void);
	/* How many workers the supervisor wants now (0: shutting down with
	 * nothing waiting). */
	int (*wanted)(void);
	/* A job ended, answered by its worker or by the pool. */
	void (*job_end)(const struct status_job_end *e);
	/* The pool answered a client itself (500, 504): close it lingering. */
	void (*linger)(int fd, const char *peer);
};

/* A request for a worker. */
struct pool_job {
	int fd;		    /* the client; the pool's on success */
	int route;	    /* its signer (route.h) */
	const char *peer;   /* "1.2.3.4:5" */
	const char *path;   /* for /status and the log */
	const char *prefix; /* the bytes read so far: at least the head */
	size_t prefix_len;
	/* the grant of its key channel (keyproc.h) */
	const char *endpoint;	/* the routed signer's name */
	int any_selector;	/* no access control */
	const char *selectors;	/* else the client's globs, or NULL: no key */
};

/* cfg and user must stay valid (a SIGHUP changes *cfg in place). */
void pool_init(struct event_base *base, const struct config *cfg, const struct priv_user *user,
	       const struct pool_hooks *hooks);
/* Hand job to an idle worker: 1 if one took it, 0 if none could. */
int pool_dispatch(const struct pool_job *job);
/* Fork workers up to the number wanted. */
void pool_fill(void);
/* Stop idle workers (SIGHUP: they are replaced with the new settings). */
void pool_recycle_idle(void);
/* Shutting down: every worker exits after its job, idle ones at once when
 * nothing is queued. */
void pool_drain(void);
/* Ask every worker to exit once idle, wait briefly, kill the rest. */
void pool_shutdown(void);
/* A key operation the key process reports: into its job's audit record
 * (op 0: the job's worker sent it a malformed record and is killed). */
void pool_key_report(const struct keyproto_report *r);
/* Collect dead children (SIGCHLD). */
void pool_reap(void);
int pool_idle(void);
int pool_busy(void);
/* The pool's part of a snapshot: its counts, and each worker (malloc'ed
 * array of *n; its texts valid until the pool next runs). */
void pool_snapshot(struct status_pool *p);
struct status_worker *pool_workers(size_t *n);

#endif
