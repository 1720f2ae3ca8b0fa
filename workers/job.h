/* SPDX-License-Identifier: MIT */
/*
 * job.h: one request as a signer sees it: the form fields and uploaded
 * files, the private job directory, and the answer being prepared.  Also
 * the calls a signer makes to report progress to the supervisor.
 */
#ifndef DSS_JOB_H
#define DSS_JOB_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "form.h"

union proto_msg;

struct job {
	const struct config *cfg;
	uint64_t id;
	char idstr[24];		/* job id as text, for names and logs */
	uint32_t generation;
	int chan;		/* socket to the supervisor */
	struct kc *keys;	/* the job's key channel (keyclient.h) */
	int fd;			/* the client */
	char peer[64];		/* client address */
	char identity[128];	/* authenticated client, or "" */
	char dir[PATH_MAX];	/* private 0700 job directory */
	const char *endpoint;	/* signer name */
	const char *selector;	/* validated machine/distro */
	struct form form;	/* fields and uploaded files */
	/* the answer */
	int status;
	char text[512];		/* text body when no file */
	char file[PATH_MAX];	/* file body, if any */
	unsigned char *data;	/* or a body in memory (malloc'ed), if any */
	size_t data_len;
	char filename[128];	/* its Content-Disposition name */
	char extra_headers[256];
	uint64_t bytes_in, bytes_out;
	int input_done;		/* the whole request was read, nothing beyond it */
	int audit_lost;         /* an audit record could not be sent */
	int kept_fd;		/* closed only after the answer (job_keep_fd), or -1 */
};

struct json_t;

/* A plain form field, or NULL. */
const char *job_field(const struct job *job, const char *name);
/* An uploaded file part, or NULL. */
const struct form_file *job_file(const struct job *job, const char *name);
/* Set a text answer and return status (for "return job_fail(...)"). */
int job_fail(struct job *job, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * Keep fd open until the answer has been sent; the worker closes it then
 * (a replaced artifact's blocks are freed after the client has its
 * answer, not while it waits).  One per job: a second closes the first.
 */
void job_keep_fd(struct job *job, int fd);
/* Writing the signed answer failed with reason err (logged), e the
 * system error of the write that failed (the archive writer's errno, 0
 * for none): 507 for a full file system (ENOSPC, EDQUOT, EFBIG), as for
 * the upload, else 500.  Returns the status. */
int job_write_failed(struct job *job, int e, const char *err);
/*
 * The answer for an upload the archive extraction refused with status st
 * (err: why): 400 "Invalid artifact: <why>", 507 when the disk is full
 * (as for an upload that does not fit), else 500; returns the status.
 */
int job_extract_failed(struct job *job, int st, const char *err);
/* Answer with a file from the job directory; returns 200. */
int job_reply_file(struct job *job, const char *path, const char *filename);
/* Answer 200 with len bytes of data (malloc'ed; the job owns and frees it)
 * as an attachment named filename; returns 200. */
int job_reply_data(struct job *job, unsigned char *data, size_t len, const char *filename);
/* Answer 200 with a text body. */
int job_reply_text(struct job *job, const char *text);
/* A path inside the job directory ("<dir>/<name>"), in a static-free buffer. */
int job_path(const struct job *job, const char *name, char *out, size_t outlen);
/*
 * The record of the given type to send to the supervisor for this job,
 * cleared (proto_init); one buffer per process, filled and sent
 * (job_send) by the job's own thread: its helper threads sign, hash and
 * pack but never report.
 */
union proto_msg *job_record(struct job *job, uint32_t type);
/* Send it; the supervisor gone, answer the client 503 and exit. */
void job_send(struct job *job, union proto_msg *msg);
/* Tell the supervisor what the job is doing now ("signed 120/4023"). */
void job_progress(struct job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Most paths job_tool_hide() names. */
#define JOB_HIDE_MAX 8
/*
 * What an external tool of this job must not see (spawn.h's hide): the
 * work directory (other jobs), a file:// key store, the tokens, audit and
 * configuration files.  Fills hide (JOB_HIDE_MAX entries) and returns it,
 * or NULL when DIGSIGSERVER_TOOL_SANDBOX is off.
 */
const char **job_tool_hide(const struct job *job, const char **hide);
/*
 * Audit records, merged by the supervisor into the job's line of the
 * trail.  Build one with job_audit_new and the setters, which escape every
 * text (log_escape), so whatever bytes a client sent (a URI, a file name)
 * the record stays valid; then job_audit_send.  A record that cannot be
 * sent is logged and marks the job (audit_lost): with AUDIT_REQUIRED its
 * answer becomes 500, so no signature leaves without its record.  A signer
 * that changes something in place sends its record before committing.
 */
struct json_t *job_audit_new(void);
/* Set key to value as an escaped text (null when value is NULL). */
void job_audit_text(struct json_t *record, const char *key, const char *value);
/* Give the record its "signed" list, empty until items come. */
void job_audit_list(struct json_t *record);
/* Append {name (escaped), sha256} to the record's "signed" list. */
void job_audit_item(struct json_t *record, const char *name, const char *sha256);
/* Set key to a number, or to true or false. */
void job_audit_int(struct json_t *record, const char *key, long long value);
void job_audit_bool(struct json_t *record, const char *key, int value);
/*
 * Send the record and free it; 0, or -1 (the job is marked).  A record
 * longer than one channel record (a tree of thousands of modules) is
 * sent as several, its "signed" list cut between them.
 */
int job_audit_send(struct job *job, struct json_t *record);

#endif
