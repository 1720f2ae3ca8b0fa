/* SPDX-License-Identifier: MIT */
/*
 * spawner.c: the supervisor's side of the spawner (spawner.h); the
 * process itself is spawnd.c.
 *
 * Calls lib/ (proc, proto, log, util), spawnd.h (its records) and
 * roles.h; the pool hears of workers through the hooks.
 */
#include "spawner.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "roles.h"
#include "spawnd.h"
#include "util.h"

/* A spawner that dies sooner than this after its birth is replaced
 * only after this long, so a broken setup cannot fork-loop. */
#define SPAWNER_RESPAWN_MS 1000

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
		if (fd < 0 || m->pid <= 0) {
			log_errorx("spawner %ld: a worker without a pid or a channel",
				   (long)s->pid);
			s->pending -= s->pending > 0;
			sp.hooks->failed(m->generation, EPROTO);
			break;
		}
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
	struct proc_ctx ctx = {.cfg = sp.cfg,
			       .user = sp.user,
			       .generation = ++sp.serial,
			       .child_role = &roles[ROLE_WORKER]};
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

static struct spawner *
find_pid(pid_t pid)
{
	struct spawner *s;

	TAILQ_FOREACH(s, &spawners, entry)
		if (s->pid == pid)
			return s;
	return NULL;
}

int
spawner_is(pid_t pid)
{
	return find_pid(pid) != NULL;
}

/* Drop s from the list: it is gone. */
static void
forget(struct spawner *s)
{
	TAILQ_REMOVE(&spawners, s, entry);
	free(s);
}

int
spawner_reaped(pid_t pid, int status)
{
	struct spawner *s = find_pid(pid);

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
	forget(s);
	return 1;
}

void
spawner_poll(void)
{
	struct spawner *s, *next;

	for (s = TAILQ_FIRST(&spawners); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		read_records(s);
	}
}

void
spawner_stop(void)
{
	uint64_t deadline = util_now_ms() + 2000;
	struct spawner *s;
	int status;

	sp.stopping = 1;
	sp.current = NULL;
	evtimer_del(sp.ev_respawn);
	TAILQ_FOREACH(s, &spawners, entry)
		close_chan(s);
	/* each exits at the end of its channel: reaped here, so that none
	 * outlives the supervisor (nor leaves its CPU out of its account) */
	while (!TAILQ_EMPTY(&spawners) && util_now_ms() < deadline) {
		struct spawner *next;
		int gone = 0;

		/* by pid: the key process is still to be stopped, and reaped,
		 * by its own module */
		for (s = TAILQ_FIRST(&spawners); s != NULL; s = next) {
			pid_t pid = waitpid(s->pid, &status, WNOHANG);

			next = TAILQ_NEXT(s, entry);
			if (pid == s->pid)
				gone += spawner_reaped(pid, status);
			else if (pid < 0 && errno == ECHILD) {
				forget(s); /* reaped elsewhere */
				gone++;
			}
		}
		if (!gone)
			usleep(10000);
	}
	while ((s = TAILQ_FIRST(&spawners)) != NULL) {
		log_warnx("spawner %ld did not exit within 2 s of the shutdown; killing it",
			  (long)s->pid);
		kill(s->pid, SIGKILL);
		if (waitpid(s->pid, &status, 0) != s->pid || !spawner_reaped(s->pid, status))
			forget(s);
	}
}
