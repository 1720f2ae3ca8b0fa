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
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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

/*
 * The pids in one "children" file read through fd from offset 0 (procfs
 * makes the list again for each read from the start, so one descriptor
 * serves every call); 0, or -1 when it cannot be read.
 */
static int
read_children_fd(int fd, pid_t *pids, size_t max, long *n)
{
	char buf[4096];
	size_t have = 0;
	off_t off = 0;

	for (;;) {
		ssize_t r = pread(fd, buf + have, sizeof(buf) - 1 - have, off);
		char *p = buf, *end;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		off += r;
		have += (size_t)r;
		buf[have] = '\0';
		/* whole numbers only: one cut at the buffer's end waits for the
		 * next read */
		for (;;) {
			long v;

			p += strspn(p, " \n");
			if (*p == '\0' || (r > 0 && strpbrk(p, " \n") == NULL))
				break;
			v = strtol(p, &end, 10);
			if (end == p)
				return -1;
			if (v > 0)
				add_pid(pids, max, n, (pid_t)v);
			p = end;
		}
		have = strlen(p);
		memmove(buf, p, have);
		if (r == 0)
			return 0;
	}
}

/* The pids of the "children" file path (at dirfd); -1 when it cannot be
 * opened or read. */
static int
read_children_file(int dirfd, const char *path, pid_t *pids, size_t max, long *n)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = read_children_fd(fd, pids, max, n);
	close(fd);
	return r;
}

/*
 * The descriptors reaper_children keeps open from one call to the next:
 * /proc/self/task, and the main thread's children file, which is where
 * every orphan is re-parented (to the first live thread of the
 * subreaper) and every child the main thread forks is listed.  Opened
 * again in a forked child, whose "self" they are not.  One thread uses
 * them at a time; another (or a child forked while the lock was held)
 * reads /proc the long way.
 */
static struct {
	pid_t pid;
	int task, children;
} cached = {.task = -1, .children = -1};
static pthread_mutex_t cached_lock = PTHREAD_MUTEX_INITIALIZER;

static int
cache_open(void)
{
	char path[64];
	pid_t self = getpid();

	if (cached.pid == self && cached.task >= 0)
		return 0;
	/* a forked child's copies name its parent: forgotten, not closed
	 * (the child may have closed them and reused the numbers) */
	cached.task = cached.children = -1;
	cached.pid = self;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)self);
	if ((cached.children = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if ((cached.task = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		close(cached.children);
		cached.children = -1;
		return -1;
	}
	return 0;
}

/* Every thread's children through the cached descriptors: the main
 * thread's through its own, another thread's opened for the call; 0 or
 * -1. */
static int
cached_children(pid_t *pids, size_t max, long *n)
{
	char buf[4096];
	long nread;

	if (lseek(cached.task, 0, SEEK_SET) < 0)
		return -1;
	while ((nread = syscall(SYS_getdents64, cached.task, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < nread;) {
			const struct dirent64 *de = (const struct dirent64 *)(buf + off);
			char path[300];

			off += de->d_reclen;
			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			if (atol(de->d_name) == (long)cached.pid) {
				if (read_children_fd(cached.children, pids, max, n) < 0)
					return -1;
				continue;
			}
			snprintf(path, sizeof(path), "%s/children", de->d_name);
			/* (a thread that ended meanwhile has no file) */
			if (read_children_file(cached.task, path, pids, max, n) < 0 &&
			    errno != ENOENT)
				return -1;
		}
	}
	return nread < 0 ? -1 : 0;
}

long
reaper_children(pid_t *pids, size_t max)
{
	DIR *d;
	struct dirent *de;
	long n = 0;
	int seen = 0;

	if (pthread_mutex_trylock(&cached_lock) == 0) {
		int r = cache_open() == 0 ? cached_children(pids, max, &n) : -1;

		pthread_mutex_unlock(&cached_lock);
		if (r == 0)
			return n;
		n = 0;
	}
	if ((d = opendir("/proc/self/task")) == NULL)
		return scan_all_stats(pids, max);
	while ((de = readdir(d)) != NULL) {
		char path[300];

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", de->d_name);
		if (read_children_file(AT_FDCWD, path, pids, max, &n) == 0)
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
