/* SPDX-License-Identifier: MIT */
/*
 * cpus.c: see cpus.h.  State is per process and inherited by fork: the
 * set recorded in the supervisor, and the CPU a spawner was kept on.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity, CPU_COUNT */
#endif
#include "cpus.h"

#include <errno.h>
#include <sched.h>
#include <sys/types.h>

static cpu_set_t allowed; /* recorded by cpus_init */
static int nallowed;
static int pinned = -1; /* the CPU this process is kept on, or -1 */
static int home = -1;	/* the CPU cpus_pin chose, kept through cpus_unpin */

int
cpus_init(void)
{
	cpu_set_t set;

	pinned = home = -1;
	if (sched_getaffinity(0, sizeof(set), &set) < 0) {
		nallowed = 0; /* no CPU is known to be ours: none is kept */
		return -1;
	}
	allowed = set;
	nallowed = CPU_COUNT(&allowed);
	return nallowed;
}

int
cpus_count(void)
{
	return nallowed;
}

int
cpus_spread(int n, int *cpu)
{
	int k = 0, seen = 0;

	if (n > nallowed)
		n = nallowed;
	if (n <= 0)
		return 0;
	/* the i-th of n takes the (i * nallowed / n)-th recorded CPU */
	for (int c = 0; c < CPU_SETSIZE && k < n; c++) {
		if (!CPU_ISSET(c, &allowed))
			continue;
		if (seen == (int)((long)k * nallowed / n))
			cpu[k++] = c;
		seen++;
	}
	return k;
}

int
cpus_allowed(int cpu)
{
	return cpu >= 0 && cpu < CPU_SETSIZE && nallowed > 0 && CPU_ISSET(cpu, &allowed);
}

int
cpus_keep(pid_t pid, int cpu)
{
	cpu_set_t set;

	if (!cpus_allowed(cpu)) {
		errno = EINVAL;
		return -1;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(pid, sizeof(set), &set);
}

int
cpus_pin(int cpu)
{
	if (cpus_keep(0, cpu) < 0)
		return -1;
	pinned = home = cpu;
	return 0;
}

int
cpus_repin(void)
{
	if (home < 0 || pinned >= 0)
		return 0;
	if (cpus_keep(0, home) < 0)
		return -1;
	pinned = home;
	return 0;
}

int
cpus_pinned(void)
{
	return pinned;
}

int
cpus_unpin(void)
{
	if (pinned < 0)
		return 0;
	if (sched_setaffinity(0, sizeof(allowed), &allowed) < 0)
		return -1;
	pinned = -1;
	return 0;
}
