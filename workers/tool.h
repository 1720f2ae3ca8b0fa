/* SPDX-License-Identifier: MIT */
/*
 * tool.h: running a signer's external tool for a job (mkimage, the Tegra
 * flash helpers) the one way every signer does: confined by the job's
 * sandbox (job_tool_hide), its command line logged, its output masked for
 * key material and logged, its last lines logged as a warning when it
 * fails.  A failure is the original's answer, 500 "Signing error".
 */
#ifndef DSS_TOOL_H
#define DSS_TOOL_H

#include <stddef.h>

struct job;
struct mask;

struct tool {
	char *const *argv; /* NULL-terminated; argv[0] the program */
	char *const *envp; /* the whole environment */
	const char *cwd;   /* working directory (inside the job directory) */
	const struct mask *mask; /* key material to mask in its output, or NULL */
	size_t tail_lines; /* last output lines logged on failure */
	unsigned long long as_max; /* its address space (spawn.h), or 0: unlimited */
	unsigned long cpu_max;	   /* its CPU seconds, or 0: unlimited */
};

/* Run it and wait; 0 when it exited 0, else the job's answer set to 500
 * (the reason logged) and 500; 400 when its command line is longer than
 * execve takes (only an upload makes it so). */
int tool_run(struct job *job, const struct tool *t);
/* The server's PATH, for the PATH of a tool's environment, or
 * /usr/bin:/bin when it has none. */
const char *tool_path(void);

/*
 * A key file a tool reads, as the key process hands it over (MATERIALIZE,
 * allowed for the endpoint's tag): written 0600 as dir/file (dir: a 0700
 * directory of the job, removed when the tool is done).
 */
struct tool_key {
	const char *selector, *tag, *file;
	const char *dir;
	int optional;      /* absent (404) is no error */
	struct mask *mask; /* a secret: its bytes masked in the tool's output; or NULL */
	char *fpr;         /* 65 bytes: the fingerprint of the key it holds
			    * (a private key's public half, or a public key); or NULL */
	char *sha256;      /* 65 bytes: the SHA-256 of its bytes; or NULL */
	char *path;        /* PATH_MAX bytes: dir/file; or NULL */
};

/* Fetch and write the key file; 0, 1 when optional and absent, or the
 * status set with job_fail (the key process's: 404 naming the file ...). */
int tool_key_fetch(struct job *job, const struct tool_key *k);

#endif
