/*
 * job.c: the calls a signer makes on its job: form access, setting the
 * answer, and reports to the supervisor over the worker's channel.
 */
#include "job.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"

const char *
job_field(const struct job *job, const char *name)
{
	return form_field(&job->form, name);
}

const struct form_file *
job_file(const struct job *job, const char *name)
{
	return form_file(&job->form, name);
}

int
job_fail(struct job *job, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(job->text, sizeof(job->text), fmt, ap);
	va_end(ap);
	job->file[0] = '\0';
	free(job->data);
	job->data = NULL;
	job->data_len = 0;
	job->status = status;
	return status;
}

int
job_reply_file(struct job *job, const char *path, const char *filename)
{
	free(job->data);
	job->data = NULL;
	job->data_len = 0;
	snprintf(job->file, sizeof(job->file), "%s", path);
	snprintf(job->filename, sizeof(job->filename), "%s", filename);
	job->text[0] = '\0';
	job->status = 200;
	return 200;
}

int
job_reply_data(struct job *job, unsigned char *data, size_t len, const char *filename)
{
	free(job->data);
	job->data = data;
	job->data_len = len;
	job->file[0] = '\0';
	snprintf(job->filename, sizeof(job->filename), "%s", filename);
	job->text[0] = '\0';
	job->status = 200;
	return 200;
}

int
job_reply_text(struct job *job, const char *text)
{
	snprintf(job->text, sizeof(job->text), "%s", text);
	job->file[0] = '\0';
	free(job->data);
	job->data = NULL;
	job->data_len = 0;
	job->status = 200;
	return 200;
}

int
job_path(const struct job *job, const char *name, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", job->dir, name);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Send a record to the supervisor; a broken channel means the supervisor
 * is gone, and the worker has nobody left to work for. */
static void
job_send(struct job *job, union proto_msg *msg)
{
	if (proto_send(job->chan, msg, -1) < 0)
		fatal("channel to supervisor");
}

void
job_progress(struct job *job, const char *fmt, ...)
{
	union proto_msg msg;
	va_list ap;

	proto_init(&msg, PROTO_PROGRESS, job->generation, job->id);
	va_start(ap, fmt);
	vsnprintf(msg.progress.text, sizeof(msg.progress.text), fmt, ap);
	va_end(ap);
	job_send(job, &msg);
}

void
job_audit(struct job *job, const char *json)
{
	union proto_msg msg;
	size_t len = strlen(json);

	if (len >= PROTO_AUDIT_MAX) {
		log_errorx("audit record of %zu bytes is too long; dropped", len);
		return;
	}
	proto_init(&msg, PROTO_AUDIT, job->generation, job->id);
	msg.audit.len = (uint32_t)len;
	memcpy(msg.audit.json, json, len + 1);
	job_send(job, &msg);
}

const char **
job_tool_hide(const struct job *job, const char **hide)
{
	const struct config *cfg = job->cfg;
	const char *store = cfg->keyfile_uri;
	size_t n = 0;

	if (!cfg->tool_sandbox)
		return NULL;
	hide[n++] = cfg->work_dir;
	if (store != NULL && strncmp(store, "file://", 7) == 0)
		store += 7;
	if (store != NULL && store[0] == '/')
		hide[n++] = store;
	if (cfg->tokens_file != NULL)
		hide[n++] = cfg->tokens_file;
	if (cfg->audit_file != NULL)
		hide[n++] = cfg->audit_file;
	if (cfg->config_file != NULL)
		hide[n++] = cfg->config_file;
	hide[n] = NULL;
	return hide;
}
