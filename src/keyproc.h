/* SPDX-License-Identifier: MIT */
/*
 * keyproc.h: the supervisor's side of the key process (keys/keyd.c):
 * its birth and rebirth, the per-job key channels and their grants, and
 * what it reports.
 *
 * The key process is forked before the workers, in the "keys" role
 * (roles.c), as DIGSIGSERVER_KEY_USER when started as root.  For each job
 * the pool asks keyproc_grant for a key channel: a SOCK_SEQPACKET pair
 * whose one end goes to the key process with the job's grant (endpoint,
 * client's selector globs) and whose other end goes to the worker with
 * the job.  A worker without a job has no channel; a grant cannot
 * outlive its job (the worker's end closes with it); and a restarted key
 * process needs no re-plumbing: jobs in flight see their channel end
 * (their signer answers 503), new jobs get channels to the new process.
 * When the key process dies it is forked again, with the workers'
 * back-off when it dies before it is ready.  Calls lib/ only; reports
 * through its hook.
 */
#ifndef DSS_KEYPROC_H
#define DSS_KEYPROC_H

#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "config.h"
#include "keyproto.h"
#include "privdrop.h"
#include "status.h"

struct keyproc_hooks {
	/* One key operation (or a worker's malformed record: op 0) of a job. */
	void (*report)(const struct keyproto_report *r);
};

/* user must stay valid; forks the key process. */
void keyproc_start(struct event_base *base, const struct config *cfg, const struct priv_user *user,
		   const struct keyproc_hooks *hooks);
/*
 * The worker's end of a new key channel for job_id, granted endpoint and
 * (any_selector, or the comma-separated globs of selectors); -1 only when
 * no socket can be made.  With no key process running the channel is
 * already at its end: the signer answers 503.
 */
int keyproc_grant(uint64_t job_id, const char *endpoint, int any_selector, const char *selectors);
/* Read every report already sent (before a job's record is written). */
void keyproc_drain(void);
/* pid died with status: 1 when it was the key process (then handled). */
int keyproc_reaped(pid_t pid, int status);
/* The key process's pid, or 0. */
pid_t keyproc_pid(void);
/* SIGHUP: the key process empties its cache. */
void keyproc_hup(void);
/* Shutting down: close its channel (it exits), wait briefly, kill it. */
void keyproc_stop(void);
/* Its part of /status and /metrics. */
void keyproc_snapshot(struct status_keys *s);

#endif
