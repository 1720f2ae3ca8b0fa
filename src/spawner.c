/* SPDX-License-Identifier: MIT */
/*
 * spawner.c: the spawner process and the supervisor's side of it
 * (spawner.h).
 *
 * Calls lib/ (proc, proto, log, util) and roles.h; the pool hears of
 * workers through the hooks.
 */
#include "spawner.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "roles.h"
#include "util.h"

/* A spawner that dies sooner than this after its birth is replaced
 * only after this long, so a broken setup cannot fork-loop. */
#define SPAWNER_RESPAWN_MS 1000

/* ---- the spawner process ---- */

static void
send_msg(int chan, const struct spawn_msg *m, int fd)
{
	struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};

	if (proto_sendmsg(chan, &iov, 1, fd) < 0)
		fatal("channel to supervisor");
}

/* FORK: a worker, its channel's other end to the supervisor. */
static void
fork_worker(const struct proc_ctx *ctx, int chan, uint32_t generation)
{
	struct proc_ctx wctx = {.cfg = ctx->cfg, .user = ctx->user, .generation = generation};
	struct spawn_msg m = {.generation = generation};
	uint64_t t0 = util_thread_cpu_us();
	int wchan;
	pid_t pid = proc_spawn(&roles[ROLE_WORKER], &wctx, &wchan);

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
		m.cpu.user_us =
		    (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec;
		m.cpu.sys_us = (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
		m.cpu.minflt = (uint64_t)ru.ru_minflt;
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
		fork_worker(ctx, chan, m.generation);
	else if (m.type == SPAWN_KILL)
		kill_worker(m.pid);
	else
		fatalx("record %u from the supervisor", m.type);
	return 1;
}

void
spawner_main(const struct proc_ctx *ctx)
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

/* ---- the supervisor's side ---- */

struct spawner {
	TAILQ_ENTRY(spawner) entry;
	int serial;
	pid_t pid;
	int chan; /* -1 once closed */
	struct event *ev_chan;
	int retired;
	int live;    /* workers born and not reported reaped */
	int pending; /* FORKs not answered */
	uint64_t born_ms;
};

static TAILQ_HEAD(, spawner) spawners = TAILQ_HEAD_INITIALIZER(spawners);
static struct {
	struct event_base *base;
	const struct config *cfg;
	const struct priv_user *user;
	const struct spawner_hooks *hooks;
	struct spawner *current; /* NULL: none running */
	struct event *ev_respawn;
	int serial;
	int stopping;
} sp;

static void chan_cb(evutil_socket_t fd, short what, void *arg);

/* Close a spawner's channel: it exits at once. */
static void
close_chan(struct spawner *s)
{
	if (s->chan < 0)
		return;
	event_free(s->ev_chan);
	s->ev_chan = NULL;
	close(s->chan);
	s->chan = -1;
}

/* A retired spawner with nothing left to report is told to go. */
static void
maybe_close(struct spawner *s)
{
	if (s->retired && s->live == 0 && s->pending == 0)
		close_chan(s);
}

/* One record from spawner s. */
static void
on_record(struct spawner *s, const struct spawn_msg *m, int fd)
{
	switch (m->type) {
	case SPAWN_BORN:
		if (fd < 0 || m->pid <= 0)
			break;
		s->pending -= s->pending > 0;
		s->live++;
		sp.hooks->born(m->generation, m->pid, fd, m->fork_us, s->serial, s->retired);
		return;
	case SPAWN_FAILED:
		s->pending -= s->pending > 0;
		sp.hooks->failed(m->generation, m->status);
		break;
	case SPAWN_EXIT:
		s->live -= s->live > 0;
		sp.hooks->exited(m->pid, m->status, &m->cpu);
		break;
	default:
		log_errorx("spawner %ld: record %u; closing it", (long)s->pid, m->type);
		close_chan(s);
		break;
	}
	if (fd >= 0)
		close(fd);
	maybe_close(s);
}

/* Read what spawner s sent; to EOF when drain. */
static void
read_records(struct spawner *s)
{
	struct spawn_msg m;
	int fd;

	while (s->chan >= 0) {
		ssize_t n = proto_recvmsg(s->chan, &m, sizeof(m), &fd);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			close_chan(s); /* gone: its reap brings the rest */
			return;
		}
		if ((size_t)n != sizeof(m)) {
			if (fd >= 0)
				close(fd);
			log_errorx("spawner %ld: a record of %zd bytes; closing it", (long)s->pid, n);
			close_chan(s);
			return;
		}
		on_record(s, &m, fd);
	}
}

static void
chan_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	read_records(arg);
}

static void
respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!sp.stopping && sp.current == NULL)
		(void)spawner_start();
}

void
spawner_init(struct event_base *base, const struct config *cfg, const struct priv_user *user,
	     const struct spawner_hooks *hooks)
{
	sp.base = base;
	sp.cfg = cfg;
	sp.user = user;
	sp.hooks = hooks;
	if ((sp.ev_respawn = evtimer_new(base, respawn_cb, NULL)) == NULL)
		fatalx("evtimer_new failed");
}

int
spawner_start(void)
{
	struct proc_ctx ctx = {.cfg = sp.cfg, .user = sp.user, .generation = ++sp.serial};
	struct spawner *s;
	int chan;
	pid_t pid;

	if (sp.current != NULL) {
		sp.current->retired = 1;
		maybe_close(sp.current);
		sp.current = NULL;
	}
	if ((pid = proc_spawn(&roles[ROLE_SPAWNER], &ctx, &chan)) < 0) {
		log_error("forking the spawner (the supervisor forks the workers meanwhile)");
		return -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->serial = ctx.generation;
	s->pid = pid;
	s->chan = chan;
	s->born_ms = util_now_ms();
	util_set_nonblock(chan, 1);
	if ((s->ev_chan = event_new(sp.base, chan, EV_READ | EV_PERSIST, chan_cb, s)) == NULL)
		fatalx("event_new failed");
	event_add(s->ev_chan, NULL);
	TAILQ_INSERT_TAIL(&spawners, s, entry);
	sp.current = s;
	log_debug("spawner %ld forked", (long)pid);
	return 0;
}

int
spawner_fork(uint32_t generation)
{
	struct spawn_msg m = {.type = SPAWN_FORK, .generation = generation};
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct spawner *s = sp.current;

	if (s == NULL || s->chan < 0)
		return -1;
	if (proto_sendmsg(s->chan, &iov, 1, -1) < 0) {
		log_warn("asking the spawner for a worker");
		return -1;
	}
	s->pending++;
	return s->serial;
}

static struct spawner *
find_serial(int serial)
{
	struct spawner *s;

	TAILQ_FOREACH(s, &spawners, entry)
		if (s->serial == serial)
			return s;
	return NULL;
}

int
spawner_kill(int serial, pid_t pid)
{
	struct spawn_msg m = {.type = SPAWN_KILL, .pid = pid};
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct spawner *s = find_serial(serial);

	if (s == NULL || s->chan < 0 || proto_sendmsg(s->chan, &iov, 1, -1) < 0)
		return -1;
	return 0;
}

int
spawner_is(pid_t pid)
{
	struct spawner *s;

	TAILQ_FOREACH(s, &spawners, entry)
		if (s->pid == pid)
			return 1;
	return 0;
}

int
spawner_reaped(pid_t pid, int status)
{
	struct spawner *s;

	TAILQ_FOREACH(s, &spawners, entry)
		if (s->pid == pid)
			break;
	if (s == NULL)
		return 0;
	read_records(s); /* its last BORN and EXIT records */
	close_chan(s);
	if (s == sp.current || s->live > 0 || s->pending > 0) {
		if (WIFSIGNALED(status))
			log_errorx("spawner %ld died of signal %d", (long)pid, WTERMSIG(status));
		else if (!sp.stopping)
			log_errorx("spawner %ld exited (%d)", (long)pid, WEXITSTATUS(status));
	}
	if (s->live > 0 || s->pending > 0)
		sp.hooks->lost(s->serial, s->pending);
	if (s == sp.current) {
		uint64_t age = util_now_ms() - s->born_ms;
		struct timeval tv = {0, 0};

		sp.current = NULL;
		if (!sp.stopping) {
			if (age < SPAWNER_RESPAWN_MS)
				tv.tv_usec = (suseconds_t)(SPAWNER_RESPAWN_MS - age) * 1000;
			evtimer_add(sp.ev_respawn, &tv);
		}
	}
	TAILQ_REMOVE(&spawners, s, entry);
	free(s);
	return 1;
}

void
spawner_stop(void)
{
	struct spawner *s;

	sp.stopping = 1;
	sp.current = NULL;
	evtimer_del(sp.ev_respawn);
	TAILQ_FOREACH(s, &spawners, entry)
		close_chan(s);
}
