/* SPDX-License-Identifier: MIT */
/*
 * cpus.h: keeping a spawner and the workers it forks on one CPU.
 *
 * Why: on a host whose hypervisor shadows page tables (the PVM guests
 * this project is built on), a process costs far less when it runs its
 * whole life on the CPU its parent forked it on, and when that parent
 * never moves either.  Measured on 2026-12-05 (README, Design): one
 * swupdate request cost 6.5 to 7.5 ms of CPU with the kernel placing the
 * spawner and the workers, 4.2 to 5.0 ms with both kept on one CPU, and
 * 7.0 to 8.6 ms when a worker was forked on one CPU and then moved to
 * the other.  So the supervisor forks one spawner per CPU it may use (up
 * to WORKERS of them, at most 64, spread over the CPUs), keeps each on
 * its CPU, and a worker inherits its spawner's CPU.
 *
 * A job that can use more than one CPU gives its worker back every CPU
 * the daemon was allowed before it creates threads or runs a tool
 * (cpus_unpin): module trees, archives and Mender copies are worked on
 * in parallel, and a vendor tool runs where the kernel places it.  A
 * worker that serves another job (JOBS_PER_WORKER) goes back to its CPU
 * after each (cpus_repin).
 *
 * The CPUs are those the daemon was started with (its affinity, a
 * cgroup's cpuset or taskset(1)); cpus_init records them in the
 * supervisor before it forks a spawner (at start, on SIGHUP and for a
 * spawner's replacement), and every child inherits the record.
 */
#ifndef DSS_CPUS_H
#define DSS_CPUS_H

#include <sys/types.h>

/* Record the CPUs this process may run on; their number, or -1 with
 * errno (sched_getaffinity failed: nothing will be kept anywhere). */
int cpus_init(void);
/* How many CPUs cpus_init recorded (0 before it, or when it failed). */
int cpus_count(void);
/* Up to n of the recorded CPUs, spread evenly over them (4 of 8: every
 * other one from the first), in cpu[]; their number. */
int cpus_spread(int n, int *cpu);
/* 1 when cpu is one of the recorded CPUs. */
int cpus_allowed(int cpu);
/* Keep process pid (0: this one) on cpu, one of the recorded CPUs: 0, or
 * -1 with errno (EINVAL for another CPU, EPERM under a seccomp filter
 * that forbids it). */
int cpus_keep(pid_t pid, int cpu);
/* Keep this process, and what it forks from now on, on cpu (its home
 * CPU from now on): 0, or -1 with errno. */
int cpus_pin(int cpu);
/* The CPU cpus_pin kept this process (or the one that forked it) on, or
 * -1. */
int cpus_pinned(void);
/* Give a kept process every recorded CPU again (nothing when it is not
 * kept): before threads or a tool that can use them.  0, or -1 with
 * errno. */
int cpus_unpin(void);
/* Keep a process cpus_unpin gave every CPU on its home CPU again (after
 * its job, when it serves another): 0 (also when there is nothing to
 * do), or -1 with errno. */
int cpus_repin(void);

#endif
