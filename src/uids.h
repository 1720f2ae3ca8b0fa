/* SPDX-License-Identifier: MIT */
/*
 * uids.h: the workers' own user ids (DIGSIGSERVER_WORKER_UIDS).
 *
 * Every worker runs as the same user unless the administrator sets aside
 * a range of ids for them.  Then each worker runs as an id of the range
 * that no other worker holds, from the fork the pool asks for until the
 * pool has forgotten the worker (it was reaped; what its job left is
 * killed right after), so that no job can read, trace or signal
 * another's files and processes: the way Nix runs each build as one of
 * its build users.  Ids are handed out in turn, so an id comes back as
 * late as it can, and the worker born with it kills whatever still runs
 * as it (privdrop.h): a leftover not killed yet cannot reach its job.
 *
 * An id is held from uids_take, through the pending fork (uids_pending),
 * to the worker that has it, until uids_give.  A fork that failed or
 * whose spawner was lost gives its id back.  Calls nothing.
 */
#ifndef DSS_UIDS_H
#define DSS_UIDS_H

#include <stdint.h>
#include <sys/types.h>

/* Ids first .. first + count - 1 (count 0: none, every worker is the
 * workers' user), none held.  Once, at start: a reload keeps the range
 * (options.c). */
void uids_init(unsigned long first, unsigned long count);
/* The next id no one holds, now held; 0 when no range is set; -1 when
 * every id is held (the fork must wait for a worker to end). */
int64_t uids_take(void);
/* Id was given to the fork of generation, asked of spawner serial (-1:
 * forked here, born at once). */
void uids_pending(uint32_t generation, uid_t id, int serial);
/* The fork of generation was born: its id, no longer pending (0: none). */
uid_t uids_born(uint32_t generation);
/* The fork of generation failed: its id is free again. */
void uids_failed(uint32_t generation);
/* Spawner serial is gone: the ids of its pending forks are free again. */
void uids_lost(int serial);
/* The worker that had id is forgotten: the id is free again (0: none). */
void uids_give(uid_t id);
/* Ids held now (for /status and tests). */
unsigned long uids_held(void);

#endif
