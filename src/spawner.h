/* SPDX-License-Identifier: MIT */
/*
 * spawner.h: the process that forks the workers.
 *
 * A worker is one fork per job, so whatever the forking process costs to
 * fork is paid on every request.  The supervisor is a poor parent for
 * that: its heap and libevent state grow with connections and the
 * status history, every fork write-protects all of it (each later write
 * the supervisor makes to a page a live worker still shares is a page
 * fault and a copy), and the fork runs on the request path, between an
 * accept and the next.  The spawner is forked from the supervisor once
 * its start-up is done (settings, tokens, libraries initialised) and
 * before it serves anything; it then only forks: on a FORK record it
 * calls proc_spawn for the worker role and sends the supervisor BORN
 * with the worker's pid and the supervisor's end of the worker's channel
 * (SCM_RIGHTS); it reaps its workers and sends EXIT with the wait status
 * and the worker's CPU use (wait4); it kills a worker on KILL, and only
 * while that worker is its own unreaped child, so a pid the kernel may
 * have handed to another process is never signalled.  It stays root when
 * started as root (each worker drops privileges itself, as when the
 * supervisor forked them), holds no client connection, no key and no
 * channel but its own, and reads nothing but the supervisor's records.
 *
 * With PIN_WORKERS (the default) there is one spawner per CPU the daemon
 * may use, at most WORKERS of them, each kept on its CPU with every
 * worker it forks (cpus.h says why); a FORK goes to the one with the
 * fewest workers, and the pool gives a job to an idle worker on the CPU
 * with the fewest jobs.  Otherwise one spawner, placed by the kernel.
 * Each slot's spawner lives and dies on its own.
 *
 * A SIGHUP forks new spawners from the reloaded supervisor (the settings
 * and tokens a worker is born with are the spawner's); the old one is
 * retired: told nothing more, and closed once its last worker is reaped.
 * A spawner that dies leaves its workers to the supervisor (a child
 * subreaper): they become its own children, reaped and killed as before,
 * and a new spawner is forked.  While none is running the pool forks
 * workers itself (spawner_fork returns -1).
 *
 * This is the supervisor's side: spawner_* functions, callbacks through
 * the hooks.  The spawner process itself is spawnd.c.
 */
#ifndef DSS_SPAWNER_H
#define DSS_SPAWNER_H

#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "config.h"
#include "privdrop.h"
#include "proto.h"

struct spawner_hooks {
	/* Worker generation was forked by spawner serial: pid and channel
	 * (now the pool's).  stale: that spawner was retired since (the
	 * worker has the settings from before a SIGHUP). */
	void (*born)(uint32_t generation, pid_t pid, int chan, uint64_t fork_us, int serial,
		     int stale);
	/* The fork of generation failed (errno err). */
	void (*failed)(uint32_t generation, int err);
	/* Worker pid was reaped by its spawner. */
	void (*exited)(pid_t pid, int status, const struct proto_cpu *cpu);
	/* Spawner serial is gone: its workers are the supervisor's children
	 * now, and its pending forks will not come. */
	void (*lost)(int serial, int pending);
};

/* cfg and user (the workers' user) must stay valid. */
void spawner_init(struct event_base *base, const struct config *cfg, const struct priv_user *user,
		  const struct spawner_hooks *hooks);
/* Fork new spawners, retiring the running ones (start-up and SIGHUP);
 * 0, or -1 when none could be forked (logged: the pool then forks its
 * workers itself). */
int spawner_start(void);
/* Ask a running spawner (the one with the fewest workers) for worker
 * generation, to run as uid (a WORKER_UIDS id, or 0: the workers' user):
 * its serial, or -1 when none is running (the caller forks the worker
 * itself). */
int spawner_fork(uint32_t generation, uid_t uid);
/* The CPU spawner serial and its workers are kept on, or -1 (any, or no
 * such spawner). */
int spawner_cpu(int serial);
/* Ask spawner serial to kill worker pid: 0, or -1 when that spawner is
 * gone (the worker is then the supervisor's own child). */
int spawner_kill(int serial, pid_t pid);
/* pid was a spawner (the supervisor reaped it): 1, its records read and
 * its loss reported; else 0. */
int spawner_reaped(pid_t pid, int status);
/* 1 when pid is a spawner that has not been reaped. */
int spawner_is(pid_t pid);
/* Read what the spawners sent, without waiting (the pool's shutdown,
 * outside the event loop). */
void spawner_poll(void);
/* Shutting down: close every spawner's channel (each exits at once; its
 * workers become the supervisor's children). */
void spawner_stop(void);

#endif
