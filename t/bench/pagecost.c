/* SPDX-License-Identifier: MIT */
/*
 * pagecost.c: what the kernel operations a fresh worker is made of cost
 * on this machine, to read the bench table's CPU line by (t/bench/run-all
 * prints its line under the table).  A fresh worker's price is not one
 * fork: it is the pages it touches, each a fault or, under a hypervisor
 * that shadows page tables, a trap of its own.  Usage: pagecost; prints
 * one line of medians over 5 rounds, in microseconds:
 *
 *   syscall     getppid()
 *   zero-fill   first write to an anonymous page
 *   cow         first write, in a forked child, to a page the parent had
 *               written (what a worker pays for each heap, stack and
 *               library data page it writes)
 *   file        first read of a page-cache page of a mapped file, with
 *               the kernel's fault-around (what a worker pays for code)
 *   child-start the child's own CPU from fork() to its first instruction
 *               (the system call, no library's atfork handlers)
 *   round-trip  one byte each way over a SOCK_SEQPACKET pair between two
 *               processes (two wake-ups)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define ROUNDS 5

static double
now_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v)
{
	qsort(v, ROUNDS, sizeof(*v), cmp);
	return v[ROUNDS / 2];
}

static char *
anon(size_t pages)
{
	char *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

static double
syscall_us(void)
{
	double t0 = now_us(CLOCK_MONOTONIC);

	for (int i = 0; i < 100000; i++)
		(void)syscall(SYS_getppid);
	return (now_us(CLOCK_MONOTONIC) - t0) / 100000;
}

static double
zero_fill_us(void)
{
	const size_t n = 512;
	char *p = anon(n);
	double t0 = now_us(CLOCK_MONOTONIC);

	for (size_t i = 0; i < n; i++)
		p[i * PAGE] = 1;
	t0 = (now_us(CLOCK_MONOTONIC) - t0) / n;
	munmap(p, n * PAGE);
	return t0;
}

/* Run fn(arg) in a forked child; what it writes to the pipe (one double)
 * is the answer.  raw: fork by the system call alone (no atfork
 * handlers), and leave by it too. */
static double
in_child(double (*fn)(void *), void *arg, int raw)
{
	int p[2];
	double v = -1;
	pid_t pid;

	if (pipe(p) < 0) {
		perror("pipe");
		exit(1);
	}
	pid = raw ? (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) : fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		v = fn(arg);
		(void)!write(p[1], &v, sizeof(v));
		if (raw)
			syscall(SYS_exit, 0);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	if (read(p[0], &v, sizeof(v)) != sizeof(v))
		v = -1;
	close(p[0]);
	close(p[1]);
	return v;
}

struct region {
	char *p;
	size_t pages, stride;
};

static double
write_each(void *arg)
{
	struct region *r = arg;
	size_t n = r->pages / r->stride;
	double t0 = now_us(CLOCK_MONOTONIC);

	for (size_t i = 0; i < n; i++)
		r->p[i * r->stride * PAGE] = 2;
	return (now_us(CLOCK_MONOTONIC) - t0) / n;
}

static double
read_each(void *arg)
{
	struct region *r = arg;
	volatile char sink = 0;
	size_t n = r->pages / r->stride;
	double t0 = now_us(CLOCK_MONOTONIC);

	for (size_t i = 0; i < n; i++)
		sink += r->p[i * r->stride * PAGE];
	(void)sink;
	return (now_us(CLOCK_MONOTONIC) - t0) / n;
}

/* A 4 MiB file in the page cache, mapped afresh in each child. */
static struct region
file_region(void)
{
	struct region r = {NULL, 1024, 16};
	char path[] = "/tmp/pagecost.XXXXXX", buf[PAGE];
	int fd = mkstemp(path);

	if (fd < 0) {
		perror("mkstemp");
		exit(1);
	}
	unlink(path);
	memset(buf, 7, sizeof(buf));
	for (size_t i = 0; i < r.pages; i++)
		if (write(fd, buf, sizeof(buf)) != sizeof(buf)) {
			perror("write");
			exit(1);
		}
	r.p = mmap(NULL, r.pages * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
	if (r.p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	close(fd);
	return r;
}

/* The child's own CPU at its first instruction after fork. */
static double
thread_cpu_us(void *unused)
{
	(void)unused;
	return now_us(CLOCK_THREAD_CPUTIME_ID);
}

static double
round_trip_us(void)
{
	const int n = 2000;
	int sv[2];
	char b = 0;
	pid_t pid;
	double t0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0 || (pid = fork()) < 0) {
		perror("socketpair");
		exit(1);
	}
	if (pid == 0) {
		close(sv[0]);
		while (read(sv[1], &b, 1) == 1)
			if (write(sv[1], &b, 1) != 1)
				break;
		_exit(0);
	}
	close(sv[1]);
	t0 = now_us(CLOCK_MONOTONIC);
	for (int i = 0; i < n; i++)
		if (write(sv[0], &b, 1) != 1 || read(sv[0], &b, 1) != 1)
			break;
	t0 = (now_us(CLOCK_MONOTONIC) - t0) / n;
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return t0;
}

int
main(void)
{
	double sys[ROUNDS], zero[ROUNDS], cow[ROUNDS], file[ROUNDS], start[ROUNDS], rt[ROUNDS];
	struct region written = {anon(256), 256, 1}, mapped = file_region();

	memset(written.p, 1, written.pages * PAGE);
	for (int r = 0; r < ROUNDS; r++) {
		double s = 0;

		sys[r] = syscall_us();
		zero[r] = zero_fill_us();
		cow[r] = in_child(write_each, &written, 0);
		file[r] = in_child(read_each, &mapped, 0);
		for (int i = 0; i < 20; i++)
			s += in_child(thread_cpu_us, NULL, 1);
		start[r] = s / 20;
		rt[r] = round_trip_us();
	}
	printf("syscall %.2f us, zero-fill fault %.1f us, copy-on-write fault %.1f us, "
	       "file fault (with fault-around) %.1f us, child start %.0f us, "
	       "process round trip %.1f us\n",
	       median(sys), median(zero), median(cow), median(file), median(start), median(rt));
	return 0;
}
