/* SPDX-License-Identifier: MIT */
/*
 * reaper.h: keep every process a job starts inside the job.
 *
 * A process that calls reaper_enable() becomes a "child subreaper"
 * (prctl PR_SET_CHILD_SUBREAPER): any descendant orphaned below it, by
 * setsid, a double fork or a change of process group, is re-parented to
 * it instead of to init.  Nothing started below it can therefore leave
 * its list of children, and reaper_kill() can end them all, level by
 * level, without trusting a process group or a pid that anyone reported.
 * The worker uses it around each external tool (spawn.c); the supervisor
 * uses it for whatever a worker that died or was killed left behind.
 */
#ifndef DSS_REAPER_H
#define DSS_REAPER_H

#include <stddef.h>
#include <sys/types.h>

/* Become a child subreaper; 0 or -1 (errno set). */
int reaper_enable(void);

/*
 * The current children of this process (every thread's), at most max of
 * them, into pids; the count found (which may exceed max), or -1 with
 * errno set when /proc cannot be read.
 */
long reaper_children(pid_t *pids, size_t max);

/*
 * SIGKILL every child of this process for which keep() is false (keep may
 * be NULL: none is kept).  With reap set, wait for each killed child and
 * repeat until only kept children are left, so that the grandchildren
 * each death re-parents to us are ended too; without it, the caller's
 * SIGCHLD handling reaps them (and calls this again).  Returns how many
 * processes were signalled.
 */
size_t reaper_kill(int (*keep)(pid_t pid, void *arg), void *arg, int reap);

#endif
