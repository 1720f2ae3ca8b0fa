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

#include "cpus.h"
#include "log.h"
#include "roles.h"
#include "spawnd.h"
#include "util.h"

/* A spawner that dies sooner than this after its birth is replaced
 * only after this long, so a broken setup cannot fork-loop. */
#define SPAWNER_RESPAWN_MS 1000
/* Most spawners running at once (PIN_WORKERS: one per CPU). */
#define SPAWNERS_MAX 64

struct spawner {
	TAILQ_ENTRY(spawner) entry;
	int serial;
	pid_t pid;
	int slot; /* its place in sp.current */
	int cpu;  /* the CPU it and its workers are kept on, or -1 */
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
	/* the running spawners, one per slot (a NULL slot is to be
	 * refilled), and the CPU each slot's spawner is kept on (-1: any) */
	struct spawner *current[SPAWNERS_MAX];
	int cpu[SPAWNERS_MAX];
	uint64_t due[SPAWNERS_MAX]; /* when an empty slot is refilled; 0: not */
	int nslots;
	struct event *ev_respawn;
	int serial;
	int stopping;
} sp;

static void chan_cb(evutil_socket_t fd, short what, void *arg);
static int start_slot(int i);

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
			if (m->pid > 0) {
				/* born all the same (its channel lost on the way,
				 * out of descriptors): it must not live on with its
				 * id, and its EXIT will come */
				s->live++;
				(void)spawner_kill(s->serial, m->pid);
			}
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

/* Arm the respawn timer for the earliest empty slot that is due. */
static void
arm_respawn(void)
{
	uint64_t now = util_now_ms(), first = 0;
	struct timeval tv = {0, 0};

	for (int i = 0; i < sp.nslots; i++)
		if (sp.current[i] == NULL && sp.due[i] != 0 && (first == 0 || sp.due[i] < first))
			first = sp.due[i];
	if (first == 0 || sp.stopping) {
		evtimer_del(sp.ev_respawn);
		return;
	}
	if (first > now) {
		tv.tv_sec = (time_t)((first - now) / 1000);
		tv.tv_usec = (suseconds_t)((first - now) % 1000) * 1000;
	}
	evtimer_add(sp.ev_respawn, &tv);
}

/* Fork slot i's spawner; when that fails, try again a while later. */
static void
fill_slot(int i)
{
	sp.due[i] = 0;
	if (start_slot(i) < 0)
		sp.due[i] = util_now_ms() + SPAWNER_RESPAWN_MS;
}

static void
respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = util_now_ms();

	(void)fd;
	(void)what;
	(void)arg;
	/* the CPUs we may use now (a cpuset can shrink, a CPU go offline):
	 * start_slot keeps a spawner only on one of them */
	(void)cpus_init();
	for (int i = 0; i < sp.nslots && !sp.stopping; i++)
		if (sp.current[i] == NULL && sp.due[i] != 0 && sp.due[i] <= now)
			fill_slot(i);
	arm_respawn();
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

/* Fork the spawner of slot i: 0, or -1 (logged). */
static int
start_slot(int i)
{
	struct proc_ctx ctx = {.cfg = sp.cfg,
			       .user = sp.user,
			       .generation = ++sp.serial,
			       .child_role = &roles[ROLE_WORKER]};
	struct spawner *s;
	int chan, cpu = sp.cpu[i];
	pid_t pid;

	/* among the CPUs recorded last (plan_slots, respawn_cb) */
	if (cpu >= 0 && !cpus_allowed(cpu)) {
		log_warnx("CPU %d is not ours any more: spawner %u is kept on none", cpu,
			  ctx.generation);
		cpu = -1;
	}
	ctx.pin = cpu >= 0;
	ctx.cpu = cpu;
	if ((pid = proc_spawn(&roles[ROLE_SPAWNER], &ctx, &chan)) < 0) {
		log_error("forking a spawner (the supervisor forks its workers meanwhile)");
		return -1;
	}
	/* the child keeps itself there too (and so knows its CPU); this
	 * says whether the kernel let it, and what /status may show */
	if (cpu >= 0 && cpus_keep(pid, cpu) < 0) {
		log_warn("cannot keep spawner %ld on CPU %d; the kernel places it and its workers",
			 (long)pid, cpu);
		cpu = -1;
	}
	s = xcalloc(1, sizeof(*s));
	s->serial = ctx.generation;
	s->pid = pid;
	s->slot = i;
	s->cpu = cpu;
	s->chan = chan;
	s->born_ms = util_now_ms();
	util_set_nonblock(chan, 1);
	if ((s->ev_chan = event_new(sp.base, chan, EV_READ | EV_PERSIST, chan_cb, s)) == NULL)
		fatalx("event_new failed");
	event_add(s->ev_chan, NULL);
	TAILQ_INSERT_TAIL(&spawners, s, entry);
	sp.current[i] = s;
	if (s->cpu >= 0)
		log_debug("spawner %ld forked, kept on CPU %d", (long)pid, s->cpu);
	else
		log_debug("spawner %ld forked", (long)pid);
	return 0;
}

/* The slots and their CPUs from the settings and the CPUs we may use. */
static void
plan_slots(void)
{
	int n = sp.cfg->workers < SPAWNERS_MAX ? sp.cfg->workers : SPAWNERS_MAX;

	sp.nslots = 0;
	if (sp.cfg->pin_workers && cpus_init() > 0)
		sp.nslots = cpus_spread(n, sp.cpu);
	if (sp.nslots == 0) {
		if (sp.cfg->pin_workers)
			log_warn("cannot read the CPUs we may use: one spawner, not kept on any");
		sp.nslots = 1;
		sp.cpu[0] = -1;
	}
}

int
spawner_start(void)
{
	int started = 0;

	for (int i = 0; i < SPAWNERS_MAX; i++) {
		if (sp.current[i] == NULL)
			continue;
		sp.current[i]->retired = 1;
		maybe_close(sp.current[i]);
		sp.current[i] = NULL;
	}
	plan_slots();
	for (int i = 0; i < sp.nslots; i++) {
		fill_slot(i);
		started += sp.current[i] != NULL;
	}
	arm_respawn();
	return started > 0 ? 0 : -1;
}

int
spawner_fork(uint32_t generation, uid_t uid)
{
	struct spawn_msg m = {.type = SPAWN_FORK, .generation = generation, .uid = (uint32_t)uid};
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	char tried[SPAWNERS_MAX] = {0};

	for (;;) {
		int best = -1;

		/* the one with the fewest workers, so that they spread over
		 * the CPUs; another when it cannot be asked */
		for (int i = 0; i < sp.nslots; i++) {
			struct spawner *c = sp.current[i], *b = best >= 0 ? sp.current[best] : NULL;

			if (c != NULL && c->chan >= 0 && !tried[i] &&
			    (b == NULL || c->live + c->pending < b->live + b->pending))
				best = i;
		}
		if (best < 0)
			return -1;
		tried[best] = 1;
		if (proto_sendmsg(sp.current[best]->chan, &iov, 1, -1) < 0) {
			log_warn("asking spawner %ld for a worker", (long)sp.current[best]->pid);
			continue;
		}
		sp.current[best]->pending++;
		return sp.current[best]->serial;
	}
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

/* 1 when s is the running spawner of its slot (not retired). */
static int
is_current(const struct spawner *s)
{
	return s->slot >= 0 && s->slot < SPAWNERS_MAX && sp.current[s->slot] == s;
}

int
spawner_cpu(int serial)
{
	struct spawner *s = find_serial(serial);

	return s != NULL ? s->cpu : -1;
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
	if (is_current(s) || s->live > 0 || s->pending > 0) {
		if (WIFSIGNALED(status))
			log_errorx("spawner %ld died of signal %d", (long)pid, WTERMSIG(status));
		else if (!sp.stopping)
			log_errorx("spawner %ld exited (%d)", (long)pid, WEXITSTATUS(status));
	}
	if (s->live > 0 || s->pending > 0)
		sp.hooks->lost(s->serial, s->pending);
	if (is_current(s)) {
		uint64_t now = util_now_ms(), age = now - s->born_ms;

		/* its slot again at once, or a second after its birth if it
		 * died young (so that a broken setup cannot fork-loop) */
		sp.current[s->slot] = NULL;
		sp.due[s->slot] = now + (age < SPAWNER_RESPAWN_MS ? SPAWNER_RESPAWN_MS - age : 0);
		arm_respawn();
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
	memset(sp.current, 0, sizeof(sp.current));
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
