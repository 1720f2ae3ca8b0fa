/* SPDX-License-Identifier: MIT */
/*
 * job.c: the calls a signer makes on its job: form access, setting the
 * answer, and reports to the supervisor over the worker's channel,
 * audit records among them (escaped here, so no signer can forget).
 */
#include "job.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "log.h"
#include "pkey.h"
#include "proto.h"
#include "reply.h"
#include "scheme.h"
#include "util.h"

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

union proto_msg *
job_record(struct job *job, uint32_t type)
{
	/* not on the stack: a record is 16 KiB, and every frame that held
	 * one pushed the stack of a fresh worker onto pages it had to fault
	 * in; here only the pages written are touched, once a process */
	static union proto_msg msg;

	proto_init(&msg, type, job->generation, job->id);
	return &msg;
}

/* Send a record to the supervisor; a broken channel means the supervisor
 * is gone (killed: it can no longer keep the job's time nor write its
 * audit record), and the worker has nobody left to work for.  A client
 * that has no answer yet gets 503 with Retry-After, which its retries
 * (curl --retry) take to another instance or to the restarted server,
 * rather than a connection closed without a word. */
void
job_send(struct job *job, union proto_msg *msg)
{
	char extra[128];

	if (proto_send(job->chan, msg, -1) == 0)
		return;
	log_warn("job %s: channel to the supervisor", job->idstr);
	if (job->fd >= 0 && job->bytes_out == 0) {
		reply_retry_after(extra, sizeof(extra), job->cfg->retry_after);
		(void)reply_text(job->fd, 503, "Service restarting", extra, 2000, NULL);
	}
	_exit(1);
}

void
job_progress(struct job *job, const char *fmt, ...)
{
	union proto_msg *msg = job_record(job, PROTO_PROGRESS);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg->progress.text, sizeof(msg->progress.text), fmt, ap);
	va_end(ap);
	job_send(job, msg);
}

void
job_keep_fd(struct job *job, int fd)
{
	if (job->kept_fd >= 0)
		close(job->kept_fd);
	job->kept_fd = fd;
}

/* A record was not sent: say so, and remember it for AUDIT_REQUIRED. */
static int
audit_lost(struct job *job, const char *why)
{
	log_errorx("job %s: audit record not sent: %s", job->idstr, why);
	job->audit_lost = 1;
	return -1;
}

/* The flags every audit record is encoded with: one line, fields in the
 * order the signer set them. */
#define AUDIT_JSON (JSON_COMPACT | JSON_PRESERVE_ORDER)

/*
 * Encode record straight into the channel's record and send it: 0, -1 when
 * it cannot be encoded, 1 when it does not fit (nothing sent).  One
 * encoding, no copy, no check by parsing it back: the record was made
 * here as an object, so the text is one, as the supervisor requires.
 */
static int
try_send(struct job *job, const json_t *record)
{
	union proto_msg *msg = job_record(job, PROTO_AUDIT);
	size_t len = json_dumpb(record, msg->audit.json, sizeof(msg->audit.json) - 1, AUDIT_JSON);

	if (len == 0)
		return -1;
	if (len >= sizeof(msg->audit.json))
		return 1;
	msg->audit.json[len] = '\0';
	msg->audit.len = (uint32_t)len;
	job_send(job, msg);
	return 0;
}

/* Free record, which try_send answered rc for: 0, or -1 when it was not
 * sent (said, and remembered). */
static int
sent_or_lost(struct job *job, json_t *record, int rc)
{
	json_decref(record);
	if (rc < 0)
		return audit_lost(job, "cannot be encoded");
	if (rc > 0)
		return audit_lost(job, "longer than the channel's record");
	return 0;
}

/* Send record (freed) as one channel record; 0 or -1. */
static int
send_one(struct job *job, json_t *record)
{
	return sent_or_lost(job, record, try_send(job, record));
}

json_t *
job_audit_new(void)
{
	json_t *o = json_object();

	if (o == NULL)
		fatalx("out of memory");
	return o;
}

/*
 * Longest text of one value in an audit record, escaped: a member name may
 * be 4 KiB of bytes that each escape to 4 characters, which no record
 * could carry.  Past it the text is cut, marked and followed by the
 * SHA-256 of the whole value, which still tells the names apart.
 */
#define AUDIT_VALUE_MAX 1024

/* value escaped, as a JSON string, or null. */
static json_t *
escaped(const char *value)
{
	json_t *v;
	char *e;

	if (value == NULL)
		return json_null();
	e = log_escape_dup(value);
	if (strlen(e) > AUDIT_VALUE_MAX) {
		unsigned char md[32];
		char hex[65];
		size_t cut = AUDIT_VALUE_MAX - 100;

		/* not inside an escape (a backslash and up to 3 more) */
		for (size_t i = cut > 3 ? cut - 3 : 0; i < cut; i++)
			if (e[i] == '\\')
				cut = i;
		if (EVP_Digest(value, strlen(value), md, NULL, pkey_sha256(), NULL) == 1)
			util_hex(md, sizeof(md), hex);
		else
			snprintf(hex, sizeof(hex), "unknown");
		snprintf(e + cut, strlen(e) + 1 - cut, "...[%zu bytes, sha256 %s]", strlen(value),
			 hex);
	}
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

/* The record's "signed" list, made when missing. */
static json_t *
signed_list(json_t *record)
{
	json_t *list = json_object_get(record, "signed");

	if (!json_is_array(list)) {
		if ((list = json_array()) == NULL)
			fatalx("out of memory");
		json_object_set_new(record, "signed", list);
	}
	return list;
}

void
job_audit_list(json_t *record)
{
	(void)signed_list(record);
}

void
job_audit_item(json_t *record, const char *name, const char *sha256)
{
	json_t *list = signed_list(record), *item = json_object();

	if (item == NULL)
		fatalx("out of memory");
	json_object_set_new(item, "name", escaped(name));
	json_object_set_new(item, "sha256", escaped(sha256));
	json_array_append_new(list, item);
}

void
job_audit_int(json_t *record, const char *key, long long value)
{
	json_object_set_new(record, key, json_integer(value));
}

void
job_audit_bool(json_t *record, const char *key, int value)
{
	json_object_set_new(record, key, json_boolean(value));
}

/* The length of value as compact JSON, without making the text. */
static size_t
json_len(const json_t *value)
{
	size_t n = json_dumpb(value, NULL, 0, AUDIT_JSON | JSON_ENCODE_ANY);

	return n != 0 ? n : PROTO_AUDIT_MAX;
}

/*
 * A record too long for one channel record goes as several: the first
 * with every field and the first part of "signed", then {"signed":[...]}
 * records with the rest, each as full as PROTO_AUDIT_MAX allows (the
 * supervisor merges them back into the job's one line).
 */
static int
send_chunked(struct job *job, json_t *record, json_t *list)
{
	const size_t room = PROTO_AUDIT_MAX - 1 - 16; /* ,"signed":[] */
	size_t i = 0, n = json_array_size(list);
	json_t *head = record;
	int rc = 0;

	do {
		json_t *part = json_array();
		size_t used = json_len(head);

		for (; i < n; i++) {
			size_t len = json_len(json_array_get(list, i)) + 1;

			if (json_array_size(part) > 0 && used + len > room)
				break;
			used += len;
			json_array_append(part, json_array_get(list, i));
		}
		json_object_set_new(head, "signed", part);
		if (send_one(job, head) < 0)
			rc = -1;
		head = json_object();
	} while (i < n);
	json_decref(head);
	return rc;
}

int
job_audit_send(struct job *job, json_t *record)
{
	json_t *list = json_object_get(record, "signed");
	int rc;

	/* the common case, one record, is encoded once; only a record too
	 * long with a list to split goes on */
	if ((rc = try_send(job, record)) <= 0 || !json_is_array(list))
		return sent_or_lost(job, record, rc);
	json_incref(list);
	json_object_del(record, "signed");
	rc = send_chunked(job, record, list);
	json_decref(list);
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

int
job_write_failed(struct job *job, int e, const char *err)
{
	log_errorx("job %s: writing the answer: %s", job->idstr, err);
	if (util_write_status(e) == 507)
		return job_fail(job, 507, "not enough storage to write the signed artifact");
	return job_fail(job, 500, "Signing error");
}

int
job_extract_failed(struct job *job, int st, const char *err)
{
	if (st == 400) {
		log_warnx("job %s: invalid artifact: %s", job->idstr, err);
		return job_fail(job, 400, "Invalid artifact: %s", err);
	}
	log_errorx("job %s: extracting: %s", job->idstr, err);
	if (st == 507)
		return job_fail(job, 507, "not enough storage to extract the artifact");
	return job_fail(job, 500, "Signing error");
}
