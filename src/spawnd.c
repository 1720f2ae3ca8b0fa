/* SPDX-License-Identifier: MIT */
/*
 * spawnd.c: the spawner process (spawnd.h): forks, reaps and kills the
 * workers for the supervisor.  Calls lib/ (proc, proto, log, util, hugetext) only.
 */
#include "spawnd.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hugetext.h"
#include "log.h"
#include "util.h"

static void
send_msg(int chan, const struct spawn_msg *m, int fd)
{
	struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};

	if (proto_sendmsg(chan, &iov, 1, fd) < 0)
		fatal("channel to supervisor");
}

/* FORK: a worker, its channel's other end to the supervisor; as uid
 * when not 0 (privdrop.h: a user of its own). */
static void
fork_worker(const struct proc_ctx *ctx, int chan, uint32_t generation, uint32_t uid)
{
	struct priv_user own = priv_own_id(ctx->user, (uid_t)uid);
	struct proc_ctx wctx = {.cfg = ctx->cfg, .user = &own, .generation = generation};
	struct spawn_msg m = {.generation = generation};
	uint64_t t0 = util_thread_cpu_us();
	int wchan;
	pid_t pid = proc_spawn(ctx->child_role, &wctx, &wchan);

	m.fork_us = util_thread_cpu_us() - t0;
	if (pid < 0) {
		m.type = SPAWN_FAILED;
		m.status = errno;
		send_msg(chan, &m, -1);
		return;
	}
	m.type = SPAWN_BORN;
	m.pid = pid;
	send_msg(chan, &m, wchan);
	close(wchan);
}

/* KILL: only a child of ours not reaped yet (alive or a zombie), so the
 * pid is still the worker's and its group the one it leads. */
static void
kill_worker(pid_t pid)
{
	siginfo_t si;

	if (pid <= 0)
		return;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return; /* ECHILD: reaped already, its EXIT is on its way */
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
}

/* Every child that ended: EXIT with its wait status and CPU use. */
static void
reap(int chan)
{
	struct spawn_msg m;
	struct rusage ru;
	int status;
	pid_t pid;

	while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0) {
		memset(&m, 0, sizeof(m));
		m.type = SPAWN_EXIT;
		m.pid = pid;
		m.status = status;
		proto_cpu_of(&ru, &m.cpu);
		send_msg(chan, &m, -1);
	}
}

/* One record from the supervisor; 0 at its end. */
static int
take_record(const struct proc_ctx *ctx, int chan)
{
	struct spawn_msg m;
	int fd;
	ssize_t n = proto_recvmsg(chan, &m, sizeof(m), &fd);

	if (n == 0)
		return 0;
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 1;
		fatal("channel from supervisor");
	}
	if (fd >= 0)
		close(fd);
	if ((size_t)n != sizeof(m))
		fatalx("record of %zd bytes from the supervisor", n);
	if (m.type == SPAWN_FORK)
		fork_worker(ctx, chan, m.generation, m.uid);
	else if (m.type == SPAWN_KILL)
		kill_worker(m.pid);
	else
		fatalx("record %u from the supervisor", m.type);
	return 1;
}

#ifdef HAVE_MALLINFO2
/* The chunks heap_settle keeps, chained so they stay reachable (a leak
 * checker would otherwise report them). */
static void *kept_chunks;

/* Keep p: its first word links to the previous one kept. */
static void
keep(void *p)
{
	*(void **)p = kept_chunks;
	kept_chunks = p;
}

/* Take a free chunk of size bytes and keep it: 1; or 0 when none was
 * free (what malloc gave came from the top, from a grown heap or was
 * mmap()ed), given back. */
static int
take_free_chunk(size_t size)
{
	struct mallinfo2 before = mallinfo2(), after;
	void *p = malloc(size);

	after = mallinfo2();
	if (p == NULL || after.keepcost < before.keepcost || after.arena > before.arena ||
	    after.hblks > before.hblks) {
		free(p);
		return 0;
	}
	keep(p);
	return 1;
}
#endif

/*
 * Leave no free chunk in the heap the spawner inherited from the
 * supervisor, so that a worker's allocations come from the top of the
 * heap, on pages nobody wrote.  Otherwise a worker's first malloc of any
 * size consolidates and sorts the supervisor's freed chunks, writing to
 * every page that holds one: each is a copy-on-write fault, about twenty
 * a job, more CPU than the job's own allocations.  What this keeps is
 * memory the supervisor had freed (tens of KiB, once per spawner); the
 * spawner itself allocates nothing afterwards.
 */
static void
heap_settle(void)
{
#ifdef HAVE_MALLINFO2
	size_t size = 64 * 1024;
	unsigned kept = 0;

	/* glibc's allocator is not the one in use (valgrind, ASan, a
	 * preloaded allocator): its figures are all zero, nothing to do */
	if (mallinfo2().arena == 0)
		return;
	malloc_trim(0); /* consolidates the fast bins, returns the top */
	/* the per-thread cache first (sizes up to 1032 bytes, 7 chunks
	 * each, counted as in use): until a chunk comes from the top */
	for (size_t r = 8; r <= 1032; r += 16)
		for (int i = 0; i < 7 && take_free_chunk(r); i++)
			kept++;
	/* then the bins, while they hold anything (free bytes outside the
	 * top chunk): halving the size whenever none is that large */
	while (size >= 16) {
		struct mallinfo2 mi = mallinfo2();

		if (mi.fordblks - mi.keepcost < 32)
			break;
		if (take_free_chunk(size))
			kept++;
		else
			size /= 2;
	}
	log_debug("heap: %u freed chunks of the supervisor's kept out of the workers' way", kept);
#endif
}

void
spawnd_main(const struct proc_ctx *ctx)
{
	const int chan = PROTO_CHANNEL_FD;
	struct pollfd pfd[2];
	sigset_t chld;
	int sfd;

	/* SIGCHLD through a descriptor: one poll for both sources */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0)
		fatal("sigprocmask");
	if ((sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		fatal("signalfd");
	/* before heap_settle: it allocates and frees */
	if (ctx->cfg->inherit_code) {
		char why[160];
		int n = hugetext_inherit(why, sizeof(why));

		if (why[0] != '\0')
			log_info("workers inherit %d mappings of code and constant data; not the "
				 "rest: %s", n, why);
		else
			log_debug("workers inherit %d mappings of code and constant data", n);
	}
	heap_settle();
	pfd[0] = (struct pollfd){.fd = chan, .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				;
			reap(chan);
		}
		/* the supervisor is done with us: our workers become its own
		 * children (it is their subreaper) */
		if (pfd[0].revents && take_record(ctx, chan) == 0)
			_exit(0);
	}
}
