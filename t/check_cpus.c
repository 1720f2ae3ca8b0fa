/* SPDX-License-Identifier: MIT */
/*
 * check_cpus.c: unit tests of lib/cpus.c: the CPUs a process may use are
 * recorded, spread evenly, a process is kept on one of them and what it
 * forks with it, and given them all back.  Each test runs in its own
 * process (.fork), so its affinity does not outlive it.
 */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "cpus.h"

/* The CPUs this process may run on, as sched_getaffinity says. */
static cpu_set_t
affinity(void)
{
	cpu_set_t set;

	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	return set;
}

START_TEST(test_init_counts)
{
	cpu_set_t set = affinity();

	ck_assert_int_eq(cpus_count(), 0);
	ck_assert_int_eq(cpus_init(), CPU_COUNT(&set));
	ck_assert_int_eq(cpus_count(), CPU_COUNT(&set));
	ck_assert_int_eq(cpus_pinned(), -1);
}
END_TEST

START_TEST(test_spread)
{
	cpu_set_t set = affinity();
	int n = cpus_init(), cpu[CPU_SETSIZE], k;

	ck_assert_int_eq(cpus_spread(0, cpu), 0);
	/* one: the first CPU we may use */
	ck_assert_int_eq(cpus_spread(1, cpu), 1);
	for (int c = 0; c < cpu[0]; c++)
		ck_assert(!CPU_ISSET(c, &set));
	ck_assert(CPU_ISSET(cpu[0], &set));
	/* as many as there are, or more asked: each CPU once, in order */
	k = cpus_spread(n + 5, cpu);
	ck_assert_int_eq(k, n);
	for (int i = 0; i < k; i++) {
		ck_assert(CPU_ISSET(cpu[i], &set));
		if (i > 0)
			ck_assert_int_gt(cpu[i], cpu[i - 1]);
	}
	/* fewer than there are: distinct, evenly apart (the i-th of k is
	 * the (i * n / k)-th CPU) */
	if (n >= 2) {
		int all[CPU_SETSIZE], half = n / 2;

		cpus_spread(n, all);
		ck_assert_int_eq(cpus_spread(half, cpu), half);
		for (int i = 0; i < half; i++)
			ck_assert_int_eq(cpu[i], all[(long)i * n / half]);
	}
}
END_TEST

START_TEST(test_pin_inherit_unpin)
{
	cpu_set_t before = affinity(), now;
	int cpu[CPU_SETSIZE], status;
	pid_t pid;

	cpus_init();
	cpus_spread(cpus_count(), cpu);
	/* the last CPU we may use (on one CPU, the only one) */
	ck_assert_int_eq(cpus_pin(cpu[cpus_count() - 1]), 0);
	ck_assert_int_eq(cpus_pinned(), cpu[cpus_count() - 1]);
	now = affinity();
	ck_assert_int_eq(CPU_COUNT(&now), 1);
	ck_assert(CPU_ISSET(cpu[cpus_count() - 1], &now));
	/* a child is kept there too, knows it, and can be given all back */
	if ((pid = fork()) == 0) {
		cpu_set_t set;

		sched_getaffinity(0, sizeof(set), &set);
		if (CPU_COUNT(&set) != 1 || cpus_pinned() != cpu[cpus_count() - 1])
			_exit(1);
		if (cpus_unpin() != 0 || cpus_pinned() != -1)
			_exit(2);
		sched_getaffinity(0, sizeof(set), &set);
		_exit(CPU_EQUAL(&set, &before) ? 0 : 3);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %d", status);
	/* the parent is still kept */
	now = affinity();
	ck_assert_int_eq(CPU_COUNT(&now), 1);
	ck_assert_int_eq(cpus_unpin(), 0);
	now = affinity();
	ck_assert(CPU_EQUAL(&now, &before));
	/* unpinning what is not kept changes nothing */
	ck_assert_int_eq(cpus_unpin(), 0);
	now = affinity();
	ck_assert(CPU_EQUAL(&now, &before));
}
END_TEST

/* What a worker does around a job that used every CPU, and how its
 * parent keeps a child. */
START_TEST(test_repin_keep)
{
	cpu_set_t before = affinity(), now;
	int cpu[CPU_SETSIZE], n, status;
	pid_t pid;

	n = cpus_init();
	cpus_spread(n, cpu);
	ck_assert(cpus_allowed(cpu[0]));
	ck_assert(!cpus_allowed(-1));
	ck_assert(!cpus_allowed(CPU_SETSIZE));
	/* nothing to go back to */
	ck_assert_int_eq(cpus_repin(), 0);
	now = affinity();
	ck_assert(CPU_EQUAL(&now, &before));
	ck_assert_int_eq(cpus_pin(cpu[n - 1]), 0);
	ck_assert_int_eq(cpus_unpin(), 0);
	now = affinity();
	ck_assert(CPU_EQUAL(&now, &before));
	ck_assert_int_eq(cpus_repin(), 0);
	ck_assert_int_eq(cpus_pinned(), cpu[n - 1]);
	now = affinity();
	ck_assert_int_eq(CPU_COUNT(&now), 1);
	ck_assert(CPU_ISSET(cpu[n - 1], &now));
	/* already kept: nothing changes */
	ck_assert_int_eq(cpus_repin(), 0);
	ck_assert_int_eq(cpus_unpin(), 0);
	/* a parent keeps a child that waits to be told to go on */
	if ((pid = fork()) == 0) {
		pause();
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(cpus_keep(pid, cpu[0]), 0);
	ck_assert_int_eq(sched_getaffinity(pid, sizeof(now), &now), 0);
	ck_assert_int_eq(CPU_COUNT(&now), 1);
	ck_assert(CPU_ISSET(cpu[0], &now));
	errno = 0;
	ck_assert_int_eq(cpus_keep(pid, -1), -1);
	ck_assert_int_eq(errno, EINVAL);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* this process was not touched by keeping the child */
	now = affinity();
	ck_assert(CPU_EQUAL(&now, &before));
}
END_TEST

START_TEST(test_pin_refuses)
{
	cpu_set_t set = affinity(), now;
	int outside = -1;

	/* before cpus_init nothing is known: no CPU is ours */
	errno = 0;
	ck_assert_int_eq(cpus_pin(0), -1);
	ck_assert_int_eq(errno, EINVAL);
	cpus_init();
	errno = 0;
	ck_assert_int_eq(cpus_pin(-1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(cpus_pin(CPU_SETSIZE), -1);
	for (int c = 0; c < CPU_SETSIZE && outside < 0; c++)
		if (!CPU_ISSET(c, &set))
			outside = c;
	errno = 0;
	ck_assert_int_eq(cpus_pin(outside), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(cpus_pinned(), -1);
	now = affinity();
	ck_assert(CPU_EQUAL(&now, &set));
}
END_TEST

CHECK_MAIN(.name = "cpus", .fork = 1,
	   .tests = CHECK_TESTS(test_init_counts, test_spread, test_pin_inherit_unpin,
				test_repin_keep, test_pin_refuses));
