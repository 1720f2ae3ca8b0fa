/* SPDX-License-Identifier: MIT */
/*
 * tool.c: running a signer's external tool (tool.h).
 */
#include "tool.h"

#include <string.h>

#include "buf.h"
#include "job.h"
#include "log.h"
#include "spawn.h"

/* The command line as it is logged: each argument quoted. */
static void
log_command(const struct job *job, const struct tool *t)
{
	struct buf cmd;

	buf_init(&cmd, BUF_UNLIMITED, 0);
	for (size_t i = 0; t->argv[i] != NULL; i++)
		buf_printf(&cmd, "%s'%s'", i ? " " : "", t->argv[i]);
	log_info("job %s: running %s", job->idstr, buf_str(&cmd));
	buf_free(&cmd);
	for (size_t i = 0; t->envp[i] != NULL; i++)
		log_debug("job %s: env %s", job->idstr, t->envp[i]);
}

int
tool_run(struct job *job, const struct tool *t)
{
	const char *hide[JOB_HIDE_MAX];
	struct spawn_opts o = {
	    .argv = t->argv,
	    .envp = t->envp,
	    .cwd = t->cwd,
	    .log_name = t->argv[0],
	    .tail_lines = t->tail_lines,
	    .mask = t->mask,
	    .hide = job_tool_hide(job, hide),
	    .keep = job->dir,
	};
	struct spawn_result r;
	char err[256], how[64];

	log_command(job, t);
	if (spawn_run(&o, &r, err, sizeof(err)) < 0) {
		log_errorx("job %s: %s: %s", job->idstr, t->argv[0], err);
		return job_fail(job, 500, "Signing error");
	}
	if (spawn_ok(r.status)) {
		spawn_result_free(&r);
		return 0;
	}
	spawn_describe(r.status, how, sizeof(how));
	log_warnx("job %s: %s failed: %s; its last output:", job->idstr, t->argv[0], how);
	for (char *line = r.tail, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		log_warnx("job %s: | %s", job->idstr, line);
	}
	spawn_result_free(&r);
	return job_fail(job, 500, "Signing error");
}
