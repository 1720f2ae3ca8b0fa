/* SPDX-License-Identifier: MIT */
/*
 * spawn.h: run an external signing tool and wait for it.
 *
 * The tool runs in a process group of its own, in a given working
 * directory, with exactly the given environment (argv[0] without a '/' is
 * looked up in that environment's PATH, as Python's subprocess does),
 * stdin from /dev/null, no other inherited descriptors, default signal
 * handling, and stdout and stderr together in one pipe.  Each output line
 * is logged at debug level and the last few are kept for the caller's
 * warning on failure; key material in them (mask.h) is masked first.
 *
 * Nothing the tool starts outlives it: the caller becomes a child
 * subreaper (reaper.h), so a process that calls setsid or double-forks is
 * still re-parented to it, and every descendant is killed once the tool
 * has exited.  If the caller itself dies (a timeout kills the worker), the
 * supervisor, a subreaper too, inherits and kills what is left.
 *
 * With hide set, the tool also runs confined (a user and mount namespace
 * of its own): every path in hide is covered (a directory by an empty
 * read-only tmpfs, a file by /dev/null), except keep, a directory below
 * one of them that stays visible at its own path (the job directory), and
 * /tmp, /var/tmp and /dev/shm are the job's own (keep/.tmp, a small
 * tmpfs), so that jobs cannot see or leave files for each other.
 *
 * as_max and cpu_max bound a tool that reads what its input names (dtc's
 * /incbin/ of /dev/zero): past them it dies, and the caller can tell the
 * client its input was at fault.
 */
#ifndef DSS_SPAWN_H
#define DSS_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

struct spawn_opts {
	char *const *argv;	    /* NULL-terminated; argv[0] is the program */
	char *const *envp;	    /* NULL-terminated: the whole environment */
	const char *cwd;	    /* working directory, or NULL */
	const char *log_name;	    /* prefix of logged output lines; NULL: argv[0] */
	size_t tail_lines;	    /* output lines to keep (0: none) */
	const struct mask *mask;    /* secrets to mask in logged output, or NULL */
	const char *const *hide;    /* NULL-terminated paths to hide, or NULL: unconfined */
	const char *keep;	    /* with hide: the directory that stays visible */
	unsigned long long as_max;  /* address space limit in bytes (RLIMIT_AS), or 0 */
	unsigned long cpu_max;	    /* CPU seconds (RLIMIT_CPU: SIGXCPU, then SIGKILL), or 0 */
};

struct spawn_result {
	int status; /* wait status of the tool */
	char *tail; /* its last lines, '\n'-separated (never NULL after spawn_run) */
};

/*
 * Run the tool and wait for it (and its output) to end; every process it
 * left behind is killed once it has exited.  0 when it ran (look at
 * r->status; exec failures show as exit status 127), or -1 with a reason in
 * err when it could not be started.
 */
int spawn_run(const struct spawn_opts *o, struct spawn_result *r, char *err, size_t errlen);
/* 1 when the status is a normal exit with code 0. */
int spawn_ok(int status);
/* "exit status 3", "killed by signal 9" ... */
void spawn_describe(int status, char *buf, size_t len);
void spawn_result_free(struct spawn_result *r);

#endif
