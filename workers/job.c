/* SPDX-License-Identifier: MIT */
/*
 * job.c: the calls a signer makes on its job: form access, setting the
 * answer, and reports to the supervisor over the worker's channel,
 * audit records among them (escaped here, so no signer can forget).
 */
#include "job.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "proto.h"
#include "scheme.h"

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

/* A record was not sent: say so, and remember it for AUDIT_REQUIRED. */
static int
audit_lost(struct job *job, const char *why)
{
	log_errorx("job %s: audit record not sent: %s", job->idstr, why);
	job->audit_lost = 1;
	return -1;
}

int
job_audit(struct job *job, const char *json)
{
	union proto_msg msg;
	size_t len = strlen(json);
	json_error_t jerr;
	json_t *o;

	if (len >= PROTO_AUDIT_MAX)
		return audit_lost(job, "longer than the channel's record");
	/* the supervisor would drop anything else */
	o = json_loads(json, 0, &jerr);
	if (!json_is_object(o)) {
		json_decref(o);
		return audit_lost(job, "not a JSON object");
	}
	json_decref(o);
	proto_init(&msg, PROTO_AUDIT, job->generation, job->id);
	msg.audit.len = (uint32_t)len;
	memcpy(msg.audit.json, json, len + 1);
	job_send(job, &msg);
	return 0;
}

json_t *
job_audit_new(void)
{
	json_t *o = json_object();

	if (o == NULL)
		fatalx("out of memory");
	return o;
}

/* value escaped, as a JSON string, or null. */
static json_t *
escaped(const char *value)
{
	json_t *v;
	char *e;

	if (value == NULL)
		return json_null();
	e = log_escape_dup(value);
	v = json_string(e); /* printable ASCII: cannot fail but for memory */
	free(e);
	if (v == NULL)
		fatalx("out of memory");
	return v;
}

void
job_audit_text(json_t *record, const char *key, const char *value)
{
	json_object_set_new(record, key, escaped(value));
}

void
job_audit_item(json_t *record, const char *name, const char *sha256)
{
	json_t *list = json_object_get(record, "signed"), *item = json_object();

	if (item == NULL)
		fatalx("out of memory");
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(record, "signed", list);
	}
	json_object_set_new(item, "name", escaped(name));
	json_object_set_new(item, "sha256", escaped(sha256));
	json_array_append_new(list, item);
}

int
job_audit_send(struct job *job, json_t *record)
{
	char *text = json_dumps(record, JSON_COMPACT | JSON_PRESERVE_ORDER);
	int rc;

	json_decref(record);
	if (text == NULL)
		return audit_lost(job, "cannot be encoded");
	rc = job_audit(job, text);
	free(text);
	return rc;
}

const char **
job_tool_hide(const struct job *job, const char **hide)
{
	const struct config *cfg = job->cfg;
	const char *store = cfg->keyfile_uri, *rest;
	size_t n = 0;

	if (!cfg->tool_sandbox)
		return NULL;
	hide[n++] = cfg->work_dir;
	if (uri_scheme(store, &rest) == URI_FILE)
		store = rest;
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
