/* SPDX-License-Identifier: MIT */
/*
 * proc.c: see proc.h.  The child side of proc_spawn runs in a fresh fork
 * of the supervisor: it may use nothing of the supervisor's but what its
 * context hands it, and fails with fatal() (logged under the role's tag).
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpus.h"
#include "log.h"
#include "proto.h"
#include "scheme.h"
#include "util.h"

extern char **environ;

/* The memory the title is written to: argv[0] up to the end of the last
 * argument or environment string laid out right after it. */
static char *title_area;
static size_t title_size; /* bytes there, the terminating NUL included */
static const char *title_name = "";
/* The copies of argv main() reads and of the environment, kept here too:
 * they live as long as the process (glibc's clearenv at exit under
 * valgrind drops environ's reference; volatile, as nothing reads it). */
static char **saved_argv;
static char **volatile saved_environ;

/* Copy the environment elsewhere; extend *end over the strings that
 * follow it, which then belong to the title. */
static void
move_environment(char **end)
{
	size_t n = 0;
	char **copy;

	while (environ[n] != NULL)
		n++;
	copy = xcalloc(n + 1, sizeof(*copy));
	saved_environ = copy;
	for (size_t i = 0; i < n; i++) {
		if (environ[i] == *end + 1)
			*end = environ[i] + strlen(environ[i]);
		copy[i] = xstrdup(environ[i]);
	}
	environ = copy;
}

char **
proc_title_init(int argc, char **argv, const char *name)
{
	char *end;

	saved_argv = xcalloc((size_t)argc + 1, sizeof(*saved_argv));
	for (int i = 0; i < argc; i++)
		saved_argv[i] = xstrdup(argv[i]);
	title_name = name;
	if (argc < 1 || argv[0] == NULL)
		return saved_argv;
	end = argv[0] + strlen(argv[0]);
	for (int i = 1; i < argc; i++)
		if (argv[i] == end + 1)
			end = argv[i] + strlen(argv[i]);
	move_environment(&end);
	title_area = argv[0];
	title_size = (size_t)(end - argv[0]) + 1;
	/* ps reads the area, not argv: nothing may follow argv[0] in it */
	if (argc > 1)
		argv[1] = NULL;
	return saved_argv;
}

void
proc_title(const char *fmt, ...)
{
	char title[256];
	va_list ap;
	size_t len;
	int n;

	if (title_area == NULL)
		return;
	n = snprintf(title, sizeof(title), "%s: ", title_name);
	if (n < 0 || (size_t)n >= sizeof(title))
		return;
	va_start(ap, fmt);
	vsnprintf(title + n, sizeof(title) - (size_t)n, fmt, ap);
	va_end(ap);
	len = strlen(title);
	if (len >= title_size)
		len = title_size - 1;
	memcpy(title_area, title, len);
	/* NUL padding: ps shows the title alone, not a tail of the old text */
	memset(title_area + len, '\0', title_size - len);
}

/* Child: default dispositions, an empty mask, SIGPIPE ignored, and
 * SIGXFSZ: a write past a file-size limit (ulimit -f, systemd's
 * LimitFSIZE=) is then EFBIG, a 507, not a worker killed mid-job (the
 * tools a job runs get every default back: spawn.c). */
static void
reset_signals(void)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGQUIT};
	sigset_t none;

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (signal(sigs[i], SIG_DFL) == SIG_ERR)
			fatal("signal %d", sigs[i]);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal SIGPIPE");
	if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
		fatal("signal SIGXFSZ");
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		fatal("sigprocmask");
}

/* Child: close every descriptor from first up. */
static void
close_from(int first)
{
	if (syscall(SYS_close_range, (unsigned)first, ~0U, 0U) == 0)
		return;
	for (int fd = first; fd < 1024; fd++)
		close(fd);
}

/*
 * Child: put the channel on PROTO_CHANNEL_FD and each of ctx->fds on its
 * number, close-on-exec (an external tool a job runs gets none of them),
 * and close everything else of the supervisor's (listener, clients,
 * other children's channels, libevent's descriptors).  Each source is
 * first copied above every target, so no dup2 overwrites one still to
 * be placed.
 */
static void
place_fds(int chan, const struct proc_ctx *ctx)
{
	int src[1 + PROC_FDS_MAX], dst[1 + PROC_FDS_MAX], n = 0, top = PROTO_CHANNEL_FD;

	src[n] = chan;
	dst[n++] = PROTO_CHANNEL_FD;
	for (int i = 0; i < ctx->nfds; i++) {
		if (ctx->fds[i].number <= PROTO_CHANNEL_FD)
			fatalx("descriptor number %d is below the channel's", ctx->fds[i].number);
		src[n] = ctx->fds[i].fd;
		dst[n++] = ctx->fds[i].number;
		if (ctx->fds[i].number > top)
			top = ctx->fds[i].number;
	}
	for (int i = 0; i < n; i++)
		if ((src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, top + 1)) < 0)
			fatal("fcntl F_DUPFD");
	for (int fd = PROTO_CHANNEL_FD; fd <= top; fd++)
		close(fd);
	for (int i = 0; i < n; i++)
		if (dup3(src[i], dst[i], O_CLOEXEC) < 0)
			fatal("dup3 %d", dst[i]);
	close_from(top + 1);
}

/* Child: stdin reads nothing (stdout and stderr stay: the log). */
static void
null_stdin(void)
{
	int fd = open("/dev/null", O_RDONLY);

	if (fd < 0)
		fatal("/dev/null");
	if (fd != STDIN_FILENO) {
		if (dup2(fd, STDIN_FILENO) < 0)
			fatal("dup2 stdin");
		close(fd);
	}
}

/*
 * Child: one user for every role, so file permissions cannot keep the
 * key store from this one: cover a file:// store and the key store's
 * credentials file (an s3:// store is reached with credentials, not
 * paths).  The namespaces that takes are also where a worker of one job
 * covers the work directory, at its job (priv_cover_work_dir): made even
 * with nothing to hide then.  A failure is logged by the first child
 * only (user namespaces disabled: the same for every one).
 */
static void
hide_keys(const struct proc_ctx *ctx)
{
	const char *root = NULL, *creds = ctx->cfg->keyfile_credentials;
	enum uri_kind kind = uri_scheme(ctx->cfg->keyfile_uri, &root);
	char err[256];

	if (kind != URI_FILE && kind != URI_PATH)
		root = NULL;
	if (creds != NULL && *creds == '\0')
		creds = NULL;
	if (root == NULL && creds == NULL && ctx->cfg->jobs_per_worker != 1)
		return;
	if (priv_hide_store(root, creds, err, sizeof(err)) == 0)
		log_debug("in namespaces of its own; key store %s%s hidden from it",
			  root ? root : "(none to hide)", creds ? " and its credentials" : "");
	else if (ctx->generation == 1)
		log_warnx("%s: the workers are kept neither from the keys nor from each other's "
			  "job directories",
			  err);
}

/* A Landlock domain of this process's own (privdrop.h); when there can be
 * none, the first generation says so. */
static void
own_domain(const struct proc_ctx *ctx)
{
	char why[128];

	if (priv_own_domain(why, sizeof(why)) == 0)
		log_debug("in a Landlock domain of its own");
	else if (ctx->generation == 1)
		log_warnx("%s: a worker taken over by its upload could trace or signal the "
			  "processes of other jobs, and read them through /proc",
			  why);
}

void
proc_lock_memory(const struct proc_ctx *ctx, int loaded)
{
	char why[96];
	int rc;

	if (!ctx->cfg->memory_deny_write_execute)
		return;
	/* -1: the supervisor said why at start, for every process */
	if ((rc = priv_lock_wx(loaded, why, sizeof(why))) == 0 && ctx->generation == 1)
		log_debug("memory locked against execution (PR_SET_MDWE)");
	else if (rc == -2 && ctx->generation == 1)
		log_warnx("memory not locked against execution: %s", why);
}

/* The child side of proc_spawn. */
static void __attribute__((noreturn))
become(const struct proc_role *role, const struct proc_ctx *ctx, int chan)
{
	if (role->forget != NULL)
		role->forget();
	log_set_tag(role->name);
	if (setpgid(0, 0) < 0)
		fatal("setpgid");
	reset_signals();
	place_fds(chan, ctx);
	null_stdin();
	if (role->hide_keys && !ctx->user->valid)
		hide_keys(ctx);
	if (role->drop_privileges)
		priv_drop(ctx->user); /* not started as root: said once, at start (main.c) */
	if (role->own_domain)
		own_domain(ctx);
	proc_title("%s %u", role->name, ctx->generation);
	if (ctx->pin)
		(void)cpus_pin(ctx->cpu); /* the parent keeps it there too, and says
					   * when it cannot */
	/* not inherited: every role locks itself (the supervisor says at
	 * start whether the kernel can) */
	if (!role->locks_itself)
		proc_lock_memory(ctx, 0);
	role->main(ctx);
}

pid_t
proc_spawn(const struct proc_role *role, const struct proc_ctx *ctx, int *chan)
{
	int sp[2], saved;
	pid_t pid;

	if (role->main == NULL || ctx->nfds < 0 || ctx->nfds > PROC_FDS_MAX) {
		errno = EINVAL; /* the supervisor's role, or too many descriptors */
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	if ((pid = util_fork()) < 0) {
		saved = errno;
		close(sp[0]);
		close(sp[1]);
		errno = saved;
		return -1;
	}
	if (pid == 0) {
		close(sp[0]);
		become(role, ctx, sp[1]);
	}
	/* also done by the child; whoever runs first wins, and the group
	 * exists before the parent may signal it */
	if (setpgid(pid, pid) < 0 && errno != EACCES)
		log_debug("setpgid %ld: %s", (long)pid, strerror(errno));
	close(sp[1]);
	*chan = sp[0];
	return pid;
}
