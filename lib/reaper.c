/* SPDX-License-Identifier: MIT */
/*
 * reaper.c: see reaper.h.
 *
 * Children are read from /proc/self/task/<tid>/children, which lists
 * re-parented orphans as well; where the kernel does not provide that
 * file, every /proc/<pid>/stat is scanned for our pid as the parent.
 * Killing a child of ours by pid is safe against pid reuse: until we reap
 * it, its pid cannot be given to anyone else.
 */
#include "reaper.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

/* Rounds of kill-and-reap before giving up on a process that keeps forking. */
#define REAPER_ROUNDS 10000
#define REAPER_BATCH 256

int
reaper_enable(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

static void
add_pid(pid_t *pids, size_t max, long *n, pid_t pid)
{
	for (long i = 0; i < *n && (size_t)i < max; i++)
		if (pids[i] == pid)
			return;
	if ((size_t)*n < max)
		pids[*n] = pid;
	(*n)++;
}

/* Parse the pids of one "children" file; -1 when it cannot be opened. */
static int
read_children_file(const char *path, pid_t *pids, size_t max, long *n)
{
	FILE *fp = fopen(path, "re");
	long v;

	if (fp == NULL)
		return -1;
	while (fscanf(fp, "%ld", &v) == 1)
		if (v > 0)
			add_pid(pids, max, n, (pid_t)v);
	fclose(fp);
	return 0;
}

/* The ppid field of /proc/<name>/stat (after the parenthesised comm). */
static pid_t
stat_ppid(const char *name)
{
	char path[300], buf[512], *p;
	FILE *fp;
	size_t len;
	long ppid;

	snprintf(path, sizeof(path), "/proc/%s/stat", name);
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 1, " %*c %ld", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

static long
scan_all_stats(pid_t *pids, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();
	long n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (stat_ppid(de->d_name) == self)
			add_pid(pids, max, &n, (pid_t)atol(de->d_name));
	}
	closedir(d);
	return n;
}

long
reaper_children(pid_t *pids, size_t max)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	long n = 0;
	int seen = 0;

	if (d == NULL)
		return scan_all_stats(pids, max);
	while ((de = readdir(d)) != NULL) {
		char path[300];

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", de->d_name);
		if (read_children_file(path, pids, max, &n) == 0)
			seen = 1;
	}
	closedir(d);
	return seen ? n : scan_all_stats(pids, max);
}

size_t
reaper_kill(int (*keep)(pid_t pid, void *arg), void *arg, int reap)
{
	pid_t pids[REAPER_BATCH];
	size_t killed = 0;

	for (int round = 0; round < REAPER_ROUNDS; round++) {
		long n = reaper_children(pids, REAPER_BATCH);
		size_t now = 0;

		if (n < 0) {
			log_warn("reaper: listing children");
			break;
		}
		if ((size_t)n > REAPER_BATCH)
			n = REAPER_BATCH; /* the rest in the next round */
		for (long i = 0; i < n; i++) {
			if (keep != NULL && keep(pids[i], arg))
				continue;
			if (kill(pids[i], SIGKILL) == 0)
				now++;
			if (reap)
				while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
					;
		}
		killed += now;
		if (!reap || now == 0)
			break;
	}
	return killed;
}
