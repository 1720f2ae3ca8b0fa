/* SPDX-License-Identifier: MIT */
/*
 * spawn.c: see spawn.h.
 *
 * The parent polls the output pipe and, between reads, checks without
 * reaping (waitid WNOWAIT) whether the tool has exited.  Once it has,
 * every other process below us is killed (reaper.c) before the tool is
 * reaped, and output still buffered in the pipe is read for a short
 * while.  A tool that never exits is the supervisor's business: it kills
 * the worker at RESPONSE_TIMEOUT and then whatever was re-parented to it.
 *
 * Confinement uses an unprivileged user namespace mapping the worker's
 * own uid and gid (so files keep their owner) and a private mount
 * namespace.  The job directory is cloned as a detached mount
 * (open_tree) before the directory holding it is covered, then attached
 * again at its own path on top of the cover (move_mount).  Where there is
 * no open_tree (ENOSYS: a kernel before 5.2, or valgrind, which does not
 * know it), the directory is held open (O_PATH) before the cover and
 * bound again from that descriptor (/proc/self/fd/N) after it: the same
 * recursive bind of the same directory at the same place.
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "cpus.h"
#include "log.h"
#include "mask.h"
#include "privdrop.h"
#include "reaper.h"
#include "util.h"

#define SPAWN_LINE_MAX 4096	/* longer output lines are cut in pieces */
#define SPAWN_DRAIN_MS 2000	/* output read after the tool has exited */
#define SPAWN_POLL_MS 200

struct outbuf {
	const struct spawn_opts *o;
	const char *name;
	char line[SPAWN_LINE_MAX + 1];
	size_t len;
	char **ring; /* the last tail_lines lines */
	size_t next, count;
};

int
spawn_ok(int status)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void
spawn_describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "wait status %#x", (unsigned int)status);
}

void
spawn_result_free(struct spawn_result *r)
{
	free(r->tail);
	r->tail = NULL;
}

/* One complete output line: log it and keep it in the ring. */
static void
outbuf_line(struct outbuf *b)
{
	char *clean;

	b->line[b->len] = '\0';
	if (b->len > 0 && b->line[b->len - 1] == '\r')
		b->line[b->len - 1] = '\0';
	clean = mask_apply(b->o->mask, b->line);
	log_debug("%s: %s", b->name, clean);
	if (b->o->tail_lines > 0) {
		free(b->ring[b->next]);
		b->ring[b->next] = clean;
		b->next = (b->next + 1) % b->o->tail_lines;
		if (b->count < b->o->tail_lines)
			b->count++;
	} else {
		free(clean);
	}
	b->len = 0;
}

static void
outbuf_feed(struct outbuf *b, const char *data, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (data[i] == '\n') {
			outbuf_line(b);
			continue;
		}
		b->line[b->len++] = data[i];
		if (b->len == SPAWN_LINE_MAX)
			outbuf_line(b);
	}
}

/* Join the ring into one string, oldest line first. */
static char *
outbuf_tail(struct outbuf *b)
{
	struct buf s;
	size_t start;

	buf_init(&s, BUF_UNLIMITED, 0);
	start = b->count < b->o->tail_lines ? 0 : b->next;
	for (size_t i = 0; i < b->count; i++)
		if ((i > 0 && buf_puts(&s, "\n") < 0) ||
		    buf_puts(&s, b->ring[(start + i) % b->o->tail_lines]) < 0)
			log_panic("the output tail cannot grow"); /* BUF_UNLIMITED */
	return buf_detach(&s, NULL);
}

/* The file names execve is tried on: argv[0] as is when it holds a '/',
 * else each PATH entry of envp (os.defpath when none), as subprocess does. */
static void
exec_candidates(const char *prog, char *const *envp, struct strv *list)
{
	const char *path = NULL;

	if (strchr(prog, '/') != NULL) {
		strv_add(list, prog);
		return;
	}
	for (size_t i = 0; envp[i] != NULL; i++) {
		if (strncmp(envp[i], "PATH=", 5) == 0) {
			path = envp[i] + 5;
			break;
		}
	}
	if (path == NULL)
		path = "/bin:/usr/bin";
	for (;;) {
		const char *colon = strchr(path, ':');
		size_t dl = colon ? (size_t)(colon - path) : strlen(path);

		if (dl == 0)
			strv_add(list, prog);
		else
			strv_addf(list, "%.*s/%s", (int)dl, path, prog);
		if (colon == NULL)
			break;
		path = colon + 1;
	}
}

/* In the child: report why the tool could not run, on its output. */
static void __attribute__((noreturn))
child_fail(const char *what, const char *arg, int e)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "spawn: %s %s: %s\n", what, arg, strerror(e));

	if (n > 0)
		(void)!write(STDOUT_FILENO, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	_exit(127);
}

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#define COVER_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)

/* In the child: create path and its missing parents (0700). */
static int
mkdir_parents(const char *path)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		if (c == '\0')
			return 0;
		*p = c;
	}
}

/* In the child: become root of a user namespace that maps only our own
 * ids, with a mount namespace of our own. */
static void
enter_namespaces(void)
{
	const char *step;

	if (priv_enter_namespaces(&step) < 0)
		child_fail(strcmp(step, "unshare") == 0
			       ? "cannot confine the tool (user namespaces disabled? see "
				 "DIGSIGSERVER_TOOL_SANDBOX):"
			       : "cannot confine the tool:",
			   step, errno);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail("cannot confine the tool:", "mount --make-rprivate /", errno);
}

/* In the child: bind src over dst when dst is a directory. */
static void
bind_dir(const char *src, const char *dst)
{
	struct stat st;

	if (stat(dst, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		child_fail("cannot confine the tool: bind", dst, errno);
}

/* In the child: cover o->hide, keep o->keep, give the job its own /tmp. */
static void
confine(const struct spawn_opts *o)
{
	char tmp[4096];
	int tree = -1, held = -1;

	enter_namespaces();
	if (o->keep != NULL &&
	    (tree = (int)syscall(SYS_open_tree, AT_FDCWD, o->keep,
				 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)) < 0) {
		if (errno != ENOSYS)
			child_fail("cannot confine the tool: open_tree", o->keep, errno);
		if ((held = open(o->keep, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			child_fail("cannot confine the tool: open", o->keep, errno);
	}
	for (size_t i = 0; o->hide[i] != NULL; i++) {
		struct stat st;
		int rc;

		if (stat(o->hide[i], &st) < 0)
			continue; /* nothing there to hide */
		if (S_ISDIR(st.st_mode))
			rc = mount("none", o->hide[i], "tmpfs", COVER_FLAGS, "size=64k,mode=0755");
		else
			rc = mount("/dev/null", o->hide[i], NULL, MS_BIND, NULL);
		if (rc < 0)
			child_fail("cannot confine the tool: cover", o->hide[i], errno);
	}
	if (tree >= 0 || held >= 0) {
		if (mkdir_parents(o->keep) < 0)
			child_fail("cannot confine the tool: mkdir", o->keep, errno);
		if (tree >= 0 && syscall(SYS_move_mount, tree, "", AT_FDCWD, o->keep,
					 MOVE_MOUNT_F_EMPTY_PATH) < 0)
			child_fail("cannot confine the tool: move_mount", o->keep, errno);
		if (held >= 0) {
			snprintf(tmp, sizeof(tmp), "/proc/self/fd/%d", held);
			if (mount(tmp, o->keep, NULL, MS_BIND | MS_REC, NULL) < 0)
				child_fail("cannot confine the tool: bind", o->keep, errno);
		}
		close(tree >= 0 ? tree : held);
		snprintf(tmp, sizeof(tmp), "%s/.tmp", o->keep);
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			child_fail("cannot confine the tool: mkdir", tmp, errno);
		/* (not where that would hide the job directory itself) */
		if (strncmp(o->keep, "/tmp/", 5) != 0 && strncmp(o->keep, "/var/tmp/", 9) != 0) {
			bind_dir(tmp, "/tmp");
			bind_dir(tmp, "/var/tmp");
		}
	}
	if (mount("none", "/dev/shm", "tmpfs", COVER_FLAGS, "size=16m,mode=1777") < 0 &&
	    errno != ENOENT)
		child_fail("cannot confine the tool: cover", "/dev/shm", errno);
	/* The covers stay empty: read-only from now on. */
	for (size_t i = 0; o->hide[i] != NULL; i++) {
		struct stat st;

		if (stat(o->hide[i], &st) == 0 && S_ISDIR(st.st_mode) &&
		    mount(NULL, o->hide[i], NULL, MS_REMOUNT | MS_RDONLY | COVER_FLAGS, NULL) < 0 &&
		    errno != EINVAL)
			child_fail("cannot confine the tool: remount", o->hide[i], errno);
	}
}

static void __attribute__((noreturn))
child(const struct spawn_opts *o, char **cands, int outfd)
{
	sigset_t none;
	int nullfd, e = ENOENT;

	(void)setpgid(0, 0);
	for (int sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(outfd, STDOUT_FILENO) < 0 || dup2(outfd, STDERR_FILENO) < 0)
		_exit(127);
	if ((nullfd = open("/dev/null", O_RDONLY)) < 0)
		child_fail("cannot open", "/dev/null", errno);
	if (dup2(nullfd, STDIN_FILENO) < 0)
		child_fail("cannot redirect", "stdin", errno);
	if (close_range(3, ~0U, 0) < 0) {
		long max = sysconf(_SC_OPEN_MAX);

		for (int fd = 3; fd < (max > 0 ? max : 1024); fd++)
			(void)close(fd);
	}
	if (o->hide != NULL)
		confine(o);
	if (o->as_max > 0) {
		struct rlimit rl = {.rlim_cur = (rlim_t)o->as_max, .rlim_max = (rlim_t)o->as_max};

		if (setrlimit(RLIMIT_AS, &rl) < 0)
			child_fail("cannot limit", "its address space", errno);
	}
	if (o->cpu_max > 0) {
		/* SIGXCPU at the limit, SIGKILL a second later */
		struct rlimit rl = {.rlim_cur = (rlim_t)o->cpu_max, .rlim_max = (rlim_t)o->cpu_max + 1};

		if (setrlimit(RLIMIT_CPU, &rl) < 0)
			child_fail("cannot limit", "its CPU time", errno);
	}
	if (o->cwd != NULL && chdir(o->cwd) < 0)
		child_fail("cannot enter", o->cwd, errno);
	for (size_t i = 0; cands[i] != NULL; i++) {
		execve(cands[i], o->argv, o->envp);
		/* Keep looking on "not here", remember "there but not runnable". */
		if (errno == EACCES)
			e = EACCES;
		else if (errno != ENOENT && errno != ENOTDIR) {
			e = errno;
			break;
		}
	}
	child_fail("cannot execute", o->argv[0], e);
}

static int
is_tool(pid_t pid, void *arg)
{
	return pid == *(const pid_t *)arg;
}

/*
 * Read the tool's output until it ends.  Once the tool has exited (seen
 * without reaping it), every other process below us is killed, so that
 * nothing it started holds the pipe open or outlives it.  Returns 1 when
 * the tool was seen to exit, 0 when its output ended first.
 */
static int
collect_output(struct outbuf *b, int fd, pid_t pid)
{
	char buf[8192];
	int exited = 0;
	uint64_t exit_ms = 0;

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;
		int pr;

		if (!exited) {
			siginfo_t si;

			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == pid) {
				exited = 1;
				exit_ms = util_now_ms();
				(void)kill(-pid, SIGKILL);
				reaper_kill(is_tool, &pid, 1);
			}
		} else if (util_now_ms() - exit_ms > SPAWN_DRAIN_MS) {
			log_warnx("%s: output still open after the tool exited", b->name);
			return exited;
		}
		if ((pr = poll(&pfd, 1, SPAWN_POLL_MS)) < 0) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			return exited;
		}
		if (pr == 0)
			continue;
		if ((n = read(fd, buf, sizeof(buf))) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_warn("read");
			return exited;
		}
		if (n == 0)
			return exited;
		outbuf_feed(b, buf, (size_t)n);
	}
}

/* Fork the tool with its output on a new pipe; the pid, or -1 and err. */
static pid_t
start_tool(const struct spawn_opts *o, int *outfd, char *err, size_t errlen)
{
	struct strv cands = {0};
	int p[2];
	pid_t pid;

	exec_candidates(o->argv[0], o->envp, &cands);
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		strv_free(&cands);
		return -1;
	}
	/* a tool runs, and may use threads, wherever the kernel places it
	 * (on failure, on the worker's CPU) */
	(void)cpus_unpin();
	if ((pid = util_fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		strv_free(&cands);
		return -1;
	}
	if (pid == 0)
		child(o, cands.v, p[1]);
	/* Both sides set the group, so it exists before anyone is told. */
	if (setpgid(pid, pid) < 0 && errno != EACCES && errno != ESRCH)
		log_warn("setpgid %ld", (long)pid);
	close(p[1]);
	strv_free(&cands);
	*outfd = p[0];
	return pid;
}

/* Kill whatever the tool left behind, then reap it: its wait status. */
static int
end_tool(pid_t pid)
{
	int status = 0;

	(void)kill(-pid, SIGKILL);
	reaper_kill(is_tool, &pid, 1);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			log_warn("waitpid %ld", (long)pid);
			status = 0xff00; /* report as exit status 255 */
			break;
		}
	}
	reaper_kill(NULL, NULL, 1);
	return status;
}

int
spawn_run(const struct spawn_opts *o, struct spawn_result *r, char *err, size_t errlen)
{
	struct sigaction dfl, old;
	struct outbuf b;
	int fd, status;
	pid_t pid;

	r->status = 0;
	r->tail = NULL;
	memset(&b, 0, sizeof(b));
	b.o = o;
	b.name = o->log_name ? o->log_name : o->argv[0];
	/* Whatever the tool starts stays our descendant (reaper.h). */
	if (reaper_enable() < 0) {
		snprintf(err, errlen, "prctl PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
		return -1;
	}
	/* With SIGCHLD ignored the tool would be reaped behind our back. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGCHLD, &dfl, &old);
	if ((pid = start_tool(o, &fd, err, errlen)) < 0) {
		sigaction(SIGCHLD, &old, NULL);
		return -1;
	}
	log_debug("%s: started, process %ld", b.name, (long)pid);
	if (o->tail_lines > 0)
		b.ring = xcalloc(o->tail_lines, sizeof(*b.ring));
	if (!collect_output(&b, fd, pid)) {
		/* The tool closed its output but still runs: wait for it. */
		siginfo_t si;

		while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
			;
	}
	close(fd);
	if (b.len > 0)
		outbuf_line(&b);
	status = end_tool(pid);
	sigaction(SIGCHLD, &old, NULL);
	r->status = status;
	if (o->tail_lines > 0) {
		r->tail = outbuf_tail(&b);
		for (size_t i = 0; i < o->tail_lines; i++)
			free(b.ring[i]);
		free(b.ring);
	} else {
		r->tail = xstrdup("");
	}
	return 0;
}
