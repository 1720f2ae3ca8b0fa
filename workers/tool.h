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
};

/* Run it and wait; 0 when it exited 0, else the job's answer set to 500
 * (the reason logged) and 500. */
int tool_run(struct job *job, const struct tool *t);

#endif
