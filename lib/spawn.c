/*
 * spawn.c: see spawn.h.
 *
 * The parent polls the output pipe and, between reads, checks without
 * reaping (waitid WNOWAIT) whether the tool has exited.  Once it has, any
 * process it left in its group is killed before the tool is reaped, so
 * the group id cannot have been reused by then, and output still buffered
 * in the pipe is read for a short while.  A tool that never exits is the
 * supervisor's business: it kills the group reported through on_pgid.
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
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

/* Copy s into a new string with every redacted string replaced by "***". */
static char *
redact_line(const char *s, const char *const *redact)
{
	char *out = xstrdup(s);

	if (redact == NULL)
		return out;
	for (size_t i = 0; redact[i] != NULL; i++) {
		size_t rl = strlen(redact[i]);
		char *hit;

		if (rl == 0)
			continue;
		while ((hit = strstr(out, redact[i])) != NULL) {
			size_t pre = (size_t)(hit - out);
			char *n = xasprintf("%.*s***%s", (int)pre, out, hit + rl);

			free(out);
			out = n;
		}
	}
	return out;
}

/* One complete output line: log it and keep it in the ring. */
static void
outbuf_line(struct outbuf *b)
{
	char *clean;

	b->line[b->len] = '\0';
	if (b->len > 0 && b->line[b->len - 1] == '\r')
		b->line[b->len - 1] = '\0';
	clean = redact_line(b->line, b->o->redact);
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
	size_t total = 1, start;
	char *s;

	start = b->count < b->o->tail_lines ? 0 : b->next;
	for (size_t i = 0; i < b->count; i++)
		total += strlen(b->ring[(start + i) % b->o->tail_lines]) + 1;
	s = xmalloc(total);
	s[0] = '\0';
	for (size_t i = 0; i < b->count; i++) {
		if (i > 0)
			strcat(s, "\n");
		strcat(s, b->ring[(start + i) % b->o->tail_lines]);
	}
	return s;
}

/* The file names execve is tried on: argv[0] as is when it holds a '/',
 * else each PATH entry of envp (os.defpath when none), as subprocess does. */
static char **
exec_candidates(const char *prog, char *const *envp)
{
	const char *path = NULL;
	char **list;
	size_t n = 0, cap = 8;

	list = xcalloc(cap, sizeof(*list));
	if (strchr(prog, '/') != NULL) {
		list[0] = xstrdup(prog);
		return list;
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

		if (n + 2 > cap) {
			list = xrealloc(list, cap * 2 * sizeof(*list));
			memset(list + cap, 0, cap * sizeof(*list));
			cap *= 2;
		}
		if (dl == 0)
			list[n++] = xstrdup(prog);
		else
			list[n++] = xasprintf("%.*s/%s", (int)dl, path, prog);
		if (colon == NULL)
			break;
		path = colon + 1;
	}
	list[n] = NULL;
	return list;
}

static void
free_list(char **list)
{
	for (size_t i = 0; list[i] != NULL; i++)
		free(list[i]);
	free(list);
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

int
spawn_run(const struct spawn_opts *o, struct spawn_result *r, char *err, size_t errlen)
{
	struct sigaction dfl, old;
	struct outbuf b;
	char **cands, buf[8192];
	int p[2], exited = 0, eof = 0, status = 0;
	uint64_t exit_ms = 0;
	pid_t pid;

	r->status = 0;
	r->tail = NULL;
	memset(&b, 0, sizeof(b));
	b.o = o;
	b.name = o->log_name ? o->log_name : o->argv[0];
	if (o->tail_lines > 0)
		b.ring = xcalloc(o->tail_lines, sizeof(*b.ring));
	cands = exec_candidates(o->argv[0], o->envp);
	/* With SIGCHLD ignored the tool would be reaped behind our back. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGCHLD, &dfl, &old);
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		sigaction(SIGCHLD, &old, NULL);
		free_list(cands);
		free(b.ring);
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		sigaction(SIGCHLD, &old, NULL);
		close(p[0]);
		close(p[1]);
		free_list(cands);
		free(b.ring);
		return -1;
	}
	if (pid == 0)
		child(o, cands, p[1]);
	/* Both sides set the group, so it exists before anyone is told. */
	if (setpgid(pid, pid) < 0 && errno != EACCES && errno != ESRCH)
		log_warnx("setpgid %ld: %s", (long)pid, strerror(errno));
	close(p[1]);
	free_list(cands);
	if (o->on_pgid)
		o->on_pgid(o->arg, pid);
	log_debug("%s: started, process group %ld", b.name, (long)pid);

	while (!eof) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		int pr;

		if (!exited) {
			siginfo_t si;

			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == pid) {
				/* Exited, not yet reaped: its group id is still ours. */
				exited = 1;
				exit_ms = util_now_ms();
				(void)kill(-pid, SIGKILL);
			}
		} else if (util_now_ms() - exit_ms > SPAWN_DRAIN_MS) {
			log_warnx("%s: output still open after the tool exited", b.name);
			break;
		}
		pr = poll(&pfd, 1, SPAWN_POLL_MS);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			log_warnx("poll: %s", strerror(errno));
			break;
		}
		if (pr == 0)
			continue;
		ssize_t n = read(p[0], buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_warnx("read: %s", strerror(errno));
			break;
		}
		if (n == 0)
			eof = 1;
		else
			outbuf_feed(&b, buf, (size_t)n);
	}
	close(p[0]);
	if (b.len > 0)
		outbuf_line(&b);
	if (!exited && eof) {
		/* The tool closed its output but still runs: wait for it. */
		siginfo_t si;

		while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
			;
	}
	/* Leftovers of the group (or, after an error, the tool itself). */
	(void)kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			log_warnx("waitpid %ld: %s", (long)pid, strerror(errno));
			status = 0xff00; /* report as exit status 255 */
			break;
		}
	}
	sigaction(SIGCHLD, &old, NULL);
	if (o->on_pgid)
		o->on_pgid(o->arg, 0);
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
