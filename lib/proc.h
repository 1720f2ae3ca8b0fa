/* SPDX-License-Identifier: MIT */
/*
 * proc.h: how every process of digsigserver is born, and what ps(1) shows
 * of it.
 *
 * A process role (struct proc_role; the table is src/roles.c) names a
 * kind of process, says whether it drops privileges and gives the
 * function it runs.  proc_spawn is the one birth function: fork, a
 * process group of its own, default signal dispositions and an empty
 * mask (SIGPIPE ignored: a peer going away is an error return; SIGXFSZ
 * too: a file-size limit is EFBIG), stdin on
 * /dev/null, its channel on PROTO_CHANNEL_FD (proto.h) and the other
 * descriptors its context names on their numbers, nothing else open, the
 * role's name as log tag and process title, the privilege drop
 * (privdrop.h), kept on a CPU when its context says so (cpus.h), then
 * the role's main function, which never returns.
 *
 * The process title ("digsigserver: worker 3 [idle]") is written over the
 * memory that held argv and the environment, as setproctitle(3) does on
 * the BSDs; the environment is copied elsewhere first, so getenv and
 * environ go on working.  main() calls proc_title_init before it reads
 * its arguments, and reads the copy it returns.
 */
#ifndef DSS_PROC_H
#define DSS_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "privdrop.h"

/* Most descriptors a child is given besides its channel. */
#define PROC_FDS_MAX 4

/* A descriptor a child gets on a number its contract header names. */
struct proc_fd {
	int fd;	    /* in the parent */
	int number; /* in the child: above PROTO_CHANNEL_FD */
};

/* What a child is born with. */
struct proc_role;

struct proc_ctx {
	const struct config *cfg;
	const struct priv_user *user; /* whom it becomes when its role drops privileges */
	uint32_t generation;	      /* its number: every record it sends carries it */
	struct proc_fd fds[PROC_FDS_MAX];
	int nfds;
	/* for a process that forks others (the spawner): their role, and
	 * user is then theirs */
	const struct proc_role *child_role;
	/* keep it, and what it forks, on CPU cpu (cpus.h); 0: wherever the
	 * kernel places it, or on its parent's CPU when the parent is kept */
	int pin;
	int cpu;
};

struct proc_role {
	const char *name;    /* "worker": its log tag and process title */
	int drop_privileges; /* become ctx->user before main */
	/* Not started as root (one user for every role): cover a file://
	 * key store in its mount namespace (privdrop.h) */
	int hide_keys;
	/* After dropping privileges: a Landlock domain of its own, which no
	 * process of another domain may trace, signal or read through /proc
	 * (privdrop.h) */
	int own_domain;
	/* Optional, first thing in the child: wipe what the supervisor holds
	 * that this role must not (the token PIN, for a worker). */
	void (*forget)(void);
	/* Its main function locks its memory against execution itself
	 * (proc_lock_memory), after loading what may need it unlocked (the
	 * key process: a PKCS#11 module); else proc_spawn locks it before
	 * main. */
	int locks_itself;
	/* Its main loop, on PROTO_CHANNEL_FD; NULL for the supervisor, which
	 * is the parent and never forked. */
	void (*main)(const struct proc_ctx *ctx) __attribute__((noreturn));
};

/*
 * Fork a child for role with a new channel (a SOCK_SEQPACKET socketpair);
 * the parent gets the child's pid and its own end of the channel in
 * *chan.  -1 with errno when the channel or the fork failed (EINVAL for
 * a role without main or more than PROC_FDS_MAX descriptors).
 */
pid_t proc_spawn(const struct proc_role *role, const struct proc_ctx *ctx, int *chan);

/*
 * Forbid this process memory that is writable and executable at once or
 * made executable after it was mapped (priv_lock_wx), unless the
 * settings say not to (DIGSIGSERVER_MEMORY_DENY_WRITE_EXECUTE=0); the
 * first process of its kind (generation 1) says so in the log (debug),
 * or why not when it is its own reason (an executable stack: warning).
 * loaded: a library was loaded since the process was forked.
 */
void proc_lock_memory(const struct proc_ctx *ctx, int loaded);

/*
 * Take over argv's and the environment's memory for the process title
 * and move the environment elsewhere.  name starts every title.  Returns
 * a copy of argv (argc strings and a NULL) for the caller to use from
 * now on: the strings argv points to are overwritten by proc_title.
 */
char **proc_title_init(int argc, char **argv, const char *name);
/* Set the process title to "NAME: " and the formatted text (truncated to
 * the space there is); nothing before proc_title_init. */
void proc_title(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
