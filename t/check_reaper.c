/* SPDX-License-Identifier: MIT */
/*
 * check_reaper.c: unit tests of lib/reaper.c's list of children: the
 * main thread's children and another thread's; an orphan re-parented to
 * a subreaper; the same list on each call as children come and go (its
 * descriptors are kept between calls); a forked child lists its own
 * children, not its parent's; threads listing at once; more children
 * than one read of the list holds; reaper_kill ends them all.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "reaper.h"

#define MANY 700

/* A child that waits to be killed. */
static pid_t
sleeper(void)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static int
listed(const pid_t *pids, long n, pid_t pid)
{
	for (long i = 0; i < n; i++)
		if (pids[i] == pid)
			return 1;
	return 0;
}

static void
end(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

START_TEST(test_main_thread)
{
	pid_t kids[3], pids[16];
	long n;

	ck_assert_int_eq(reaper_children(pids, 16), 0);
	for (int i = 0; i < 3; i++)
		kids[i] = sleeper();
	n = reaper_children(pids, 16);
	ck_assert_int_eq(n, 3);
	for (int i = 0; i < 3; i++)
		ck_assert(listed(pids, n, kids[i]));
	/* the same descriptors, a list made again: one gone, one new */
	end(kids[1]);
	kids[1] = sleeper();
	n = reaper_children(pids, 16);
	ck_assert_int_eq(n, 3);
	for (int i = 0; i < 3; i++)
		ck_assert(listed(pids, n, kids[i]));
	for (int i = 0; i < 3; i++)
		end(kids[i]);
	ck_assert_int_eq(reaper_children(pids, 16), 0);
}
END_TEST

static void *
fork_one(void *arg)
{
	*(pid_t *)arg = sleeper();
	return NULL;
}

START_TEST(test_other_thread)
{
	pthread_t th;
	pid_t theirs = -1, mine = sleeper(), pids[16];
	long n;

	ck_assert_int_eq(pthread_create(&th, NULL, fork_one, &theirs), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	/* the thread has ended: its child is the process's now; with a
	 * thread still running, it is listed under that thread */
	n = reaper_children(pids, 16);
	ck_assert_int_eq(n, 2);
	ck_assert(listed(pids, n, mine));
	ck_assert(listed(pids, n, theirs));
	end(mine);
	end(theirs);
}
END_TEST

static pthread_mutex_t hold = PTHREAD_MUTEX_INITIALIZER;

static void *
fork_and_stay(void *arg)
{
	*(pid_t *)arg = sleeper();
	pthread_mutex_lock(&hold); /* until the test has looked */
	pthread_mutex_unlock(&hold);
	return NULL;
}

START_TEST(test_live_thread)
{
	pthread_t th;
	pid_t theirs = -1, pids[16];
	long n = 0;

	pthread_mutex_lock(&hold);
	ck_assert_int_eq(pthread_create(&th, NULL, fork_and_stay, &theirs), 0);
	/* wait for the thread's fork to be done */
	for (int i = 0; i < 100000 && __atomic_load_n(&theirs, __ATOMIC_SEQ_CST) <= 0; i++)
		usleep(100);
	ck_assert_int_gt(theirs, 0);
	n = reaper_children(pids, 16);
	pthread_mutex_unlock(&hold);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(n, 1);
	ck_assert(listed(pids, n, theirs));
	end(theirs);
}
END_TEST

static pid_t shared_kids[2];
static int concurrent_bad;

static void *
list_often(void *arg)
{
	(void)arg;
	for (int i = 0; i < 2000; i++) {
		pid_t pids[16];
		long n = reaper_children(pids, 16);

		if (n != 2 || !listed(pids, n, shared_kids[0]) || !listed(pids, n, shared_kids[1]))
			__atomic_add_fetch(&concurrent_bad, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

START_TEST(test_concurrent)
{
	pthread_t th[3];

	shared_kids[0] = sleeper();
	shared_kids[1] = sleeper();
	/* threads at once: the one holding the kept descriptors, the others
	 * the long way; every list whole */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, list_often, NULL), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ck_assert_int_eq(concurrent_bad, 0);
	end(shared_kids[0]);
	end(shared_kids[1]);
}
END_TEST

START_TEST(test_orphan)
{
	int p[2];
	pid_t mid, orphan, pids[16];
	long n;

	ck_assert_int_eq(reaper_enable(), 0);
	ck_assert_int_eq(pipe(p), 0);
	mid = fork();
	ck_assert_int_ge(mid, 0);
	if (mid == 0) {
		pid_t g = fork();

		if (g == 0) {
			for (;;)
				pause();
		}
		(void)!write(p[1], &g, sizeof(g));
		_exit(0);
	}
	ck_assert_int_eq(read(p[0], &orphan, sizeof(orphan)), (ssize_t)sizeof(orphan));
	ck_assert_int_eq(waitpid(mid, NULL, 0), mid);
	n = reaper_children(pids, 16);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(pids[0], orphan);
	ck_assert_uint_eq(reaper_kill(NULL, NULL, 1), 1);
	ck_assert_int_eq(reaper_children(pids, 16), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_forked_child)
{
	pid_t parents = sleeper(), pids[16], child;
	int status;

	ck_assert_int_eq(reaper_children(pids, 16), 1); /* descriptors opened here */
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		/* its own children: none, then one; never its parent's */
		pid_t mine;
		long n = reaper_children(pids, 16);

		if (n != 0)
			_exit(1);
		mine = sleeper();
		n = reaper_children(pids, 16);
		end(mine);
		_exit(n == 1 && pids[0] == mine ? 0 : 2);
	}
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(reaper_children(pids, 16), 1);
	end(parents);
}
END_TEST

START_TEST(test_many)
{
	static pid_t kids[MANY], pids[MANY + 10];
	long n;

	for (int i = 0; i < MANY; i++)
		kids[i] = sleeper();
	n = reaper_children(pids, MANY + 10);
	ck_assert_int_eq(n, MANY);
	for (int i = 0; i < MANY; i++)
		ck_assert(listed(pids, n, kids[i]));
	/* more than fit: counted all the same */
	ck_assert_int_eq(reaper_children(pids, 10), MANY);
	ck_assert_uint_eq(reaper_kill(NULL, NULL, 1), MANY);
	ck_assert_int_eq(reaper_children(pids, 10), 0);
}
END_TEST

CHECK_MAIN(.name = "reaper", .fork = 1, .timeout = 60,
	   .tests = CHECK_TESTS(test_main_thread, test_other_thread, test_live_thread,
				test_concurrent, test_orphan, test_forked_child, test_many));
