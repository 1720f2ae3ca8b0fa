/* SPDX-License-Identifier: MIT */
/*
 * audit.c: the audit trail.  One JSON line per signing attempt, appended
 * by the supervisor (workers send their part, PROTO_AUDIT: the key's
 * fingerprint and the SHA-256 of what was signed).  Each line carries
 * "prev", the SHA-256 of the line before it (64 zeros for the first), so a
 * deleted or edited line breaks the chain; --verify-audit checks it and
 * prints the hash of the last line, which an operator can keep elsewhere
 * to detect truncation at the end.
 *
 * A full disk never leaves part of a record: a failed write is cut back,
 * the next record says how many were lost ("records_lost"), and writing
 * resumes by itself when there is room (an incomplete last line found at
 * open, from a crash, is cut with a warning).  Client-supplied texts are
 * escaped (log_escape), so any bytes a client sends make valid JSON.
 *
 * Calls only lib/ (log, util), jansson and OpenSSL; pool.c hands it each
 * job's record, the supervisor opens it and asks whether it is ready.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "buf.h"
#include "log.h"
#include "util.h"

static int audit_fd = -1;
static char audit_prev[65];
static char *audit_path;
static uint64_t audit_failures;
static uint64_t audit_lost; /* records not written since the last one that was */
static int audit_short;     /* the last reservation failed (logged once) */

/*
 * Room kept allocated past the end of the trail while AUDIT_REQUIRED
 * admits requests (audit_ready), so that an admitted job's record does not
 * meet a full disk: a job's worker records are capped at 1 MiB (pool.c),
 * which this covers twice over.
 */
#define AUDIT_RESERVE (4 * 1024 * 1024)
/* Every record starts so: an incomplete last line that does not is not ours. */
#define RECORD_START "{\"prev\":\""

/* SHA-256 of buf as lower-case hex. */
static void
line_hash(const char *buf, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)buf, len, md);
	util_hex(md, sizeof(md), out);
}

/* Where the line holding byte end - 1 starts: just after the last
 * newline before it, or 0; 0 or -1. */
static int
line_start(int fd, off_t end, off_t *start)
{
	char buf[65536];
	off_t pos = end - 1;

	while (pos > 0) {
		size_t n = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;

		if (pread(fd, buf, n, pos - (off_t)n) != (ssize_t)n)
			return -1;
		for (size_t i = n; i > 0; i--)
			if (buf[i - 1] == '\n') {
				*start = pos - (off_t)n + (off_t)i;
				return 0;
			}
		pos -= (off_t)n;
	}
	*start = 0;
	return 0;
}

/*
 * A trail whose last line has no newline was cut short by a write that
 * failed part-way (or a crash): that record was never complete, so it is
 * cut off, with a warning, and the chain goes on from the line before.
 * Returns the trail's size after it, -1 (errno set) or -2 (reported).
 */
static off_t
cut_incomplete_line(int fd, off_t size)
{
	char last, head[sizeof(RECORD_START) - 1];
	off_t start;
	size_t n;

	if (size == 0)
		return 0;
	if (pread(fd, &last, 1, size - 1) != 1 || line_start(fd, size, &start) < 0)
		return -1;
	if (last == '\n')
		return size;
	n = (size_t)(size - start) < sizeof(head) ? (size_t)(size - start) : sizeof(head);
	if (pread(fd, head, n, start) != (ssize_t)n || memcmp(head, RECORD_START, n) != 0) {
		log_errorx("audit trail %s does not end with a newline, and its last line is "
			   "not an audit record",
			   audit_path);
		return -2;
	}
	log_warnx("audit trail %s: cutting an incomplete last line of %lld bytes (a record "
		  "whose write failed)",
		  audit_path, (long long)(size - start));
	if (ftruncate(fd, start) < 0 || fsync(fd) < 0)
		return -1;
	return start;
}

/* Find the hash of the last line of an open trail (cutting an incomplete
 * one first); 0, -1 (errno set) or -2 (reported). */
static int
read_last_hash(int fd, char out[65])
{
	struct stat st;
	off_t size, start;
	char *buf;
	size_t len;

	memset(out, '0', 64);
	out[64] = '\0';
	if (fstat(fd, &st) < 0)
		return -1;
	if ((size = cut_incomplete_line(fd, st.st_size)) <= 0)
		return (int)size;
	if (line_start(fd, size, &start) < 0)
		return -1;
	len = (size_t)(size - 1 - start);
	buf = xmalloc(len + 1);
	if (pread(fd, buf, len, start) != (ssize_t)len) {
		free(buf);
		return -1;
	}
	line_hash(buf, len, out);
	free(buf);
	return 0;
}

int
audit_open(const char *path)
{
	int fd, rc;

	if (audit_fd >= 0 && audit_path && path && strcmp(path, audit_path) == 0)
		return 0;
	if (audit_fd >= 0)
		close(audit_fd);
	audit_fd = -1;
	if (path != audit_path) {
		free(audit_path);
		audit_path = path ? xstrdup(path) : NULL;
	}
	if (path == NULL)
		return 0;
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_error("audit trail %s", path);
		return -1;
	}
	if ((rc = read_last_hash(fd, audit_prev)) < 0) {
		if (rc == -1)
			log_error("audit trail %s", path);
		close(fd);
		return -1;
	}
	audit_fd = fd;
	return 0;
}

/* Open the trail again after a failure; 1 when it is open. */
static int
audit_reopen(void)
{
	if (audit_fd < 0 && audit_path != NULL)
		audit_open(audit_path);
	return audit_fd >= 0;
}

/* Keep AUDIT_RESERVE bytes allocated past the end of the trail; 0, or -1
 * when the disk has no room for them. */
static int
reserve_room(void)
{
	struct stat st;

	if (fstat(audit_fd, &st) < 0)
		return -1;
	if (fallocate(audit_fd, FALLOC_FL_KEEP_SIZE, st.st_size, AUDIT_RESERVE) < 0) {
		if (errno == EOPNOTSUPP || errno == ENOSYS)
			return 0; /* this file system cannot tell: try the write */
		if (!audit_short)
			log_errorx("audit trail %s: no room for the next records (%s); signing "
				   "requests are refused until there is",
				   audit_path, strerror(errno));
		audit_short = 1;
		return -1;
	}
	if (audit_short)
		log_info("audit trail %s: room for records again", audit_path);
	audit_short = 0;
	return 0;
}

int
audit_ready(void)
{
	if (audit_path == NULL)
		return 1;
	/* retry: the disk may have room again */
	return audit_reopen() && reserve_room() == 0;
}

uint64_t
audit_write_failures(void)
{
	return audit_failures;
}

/* A client-supplied text as a JSON string (escaped: always valid UTF-8),
 * or null when empty. */
static json_t *
client_text(const char *s)
{
	json_t *v;
	char *e;

	if (s == NULL || *s == '\0')
		return json_null();
	e = log_escape_dup(s);
	v = json_string(e);
	free(e);
	return v;
}

static char *audit_instance;

void
audit_set_instance(const char *name)
{
	free(audit_instance);
	audit_instance = name ? xstrdup(name) : NULL;
}

/* The record of aj as one JSON line (without its newline), or NULL. */
static char *
record_line(const struct audit_job *aj)
{
	json_t *o;
	char *line, when[64];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	o = json_object();
	json_object_set_new(o, "prev", json_string(audit_prev));
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "job", json_integer((json_int_t)aj->job_id));
	if (audit_instance != NULL)
		json_object_set_new(o, "instance", json_string(audit_instance));
	json_object_set_new(o, "client", client_text(aj->client));
	json_object_set_new(o, "identity", client_text(aj->identity));
	json_object_set_new(o, "endpoint", client_text(aj->endpoint));
	json_object_set_new(o, "selector", client_text(aj->selector));
	json_object_set_new(o, "key_sha256", client_text(aj->key_sha256));
	json_object_set_new(o, "signed",
			    aj->signed_items ? json_incref(aj->signed_items) : json_array());
	if (aj->extra != NULL)
		json_object_update_missing(o, aj->extra);
	if (audit_lost > 0) /* the trail itself says records are missing */
		json_object_set_new(o, "records_lost", json_integer((json_int_t)audit_lost));
	json_object_set_new(o, "status", json_integer(aj->status));
	json_object_set_new(o, "result", json_string(aj->result));
	json_object_set_new(o, "duration_ms", json_integer((json_int_t)aj->duration_ms));
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(o);
	return line;
}

/* Append one line in one write; on failure cut the trail back to where it
 * was, so it never ends with part of a record.  0 or -1 (errno set). */
static int
append_line(const char *line, size_t len)
{
	struct stat st;
	int e;

	if (fstat(audit_fd, &st) < 0)
		return -1;
	if (util_write_all(audit_fd, line, len) == 0 && fdatasync(audit_fd) == 0)
		return 0;
	e = errno;
	if (ftruncate(audit_fd, st.st_size) < 0) {
		/* the next open cuts the incomplete line */
		log_error("audit trail %s: cutting a failed record", audit_path);
		close(audit_fd);
		audit_fd = -1;
	}
	errno = e;
	return -1;
}

void
audit_record(const struct audit_job *aj)
{
	char *line, hash[65];
	struct buf rec;

	if (audit_path == NULL)
		return;
	if (!audit_reopen() || (line = record_line(aj)) == NULL) {
		audit_failures++;
		audit_lost++;
		return;
	}
	line_hash(line, strlen(line), hash);
	buf_init(&rec, BUF_UNLIMITED, 0);
	if (buf_puts(&rec, line) < 0 || buf_puts(&rec, "\n") < 0)
		log_panic("an audit record cannot grow"); /* BUF_UNLIMITED */
	free(line);
	if (append_line(rec.data, rec.len) < 0) {
		log_error("audit trail %s: record of job %llu not written", audit_path,
			  (unsigned long long)aj->job_id);
		audit_failures++;
		audit_lost++;
	} else {
		memcpy(audit_prev, hash, sizeof(audit_prev));
		audit_lost = 0;
	}
	buf_free(&rec);
}

int
audit_verify(const char *path, FILE *out)
{
	FILE *fp = fopen(path, "r");
	char prev[65], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	int rc = 0;

	if (fp == NULL) {
		fprintf(out, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(prev, '0', 64);
	prev[64] = '\0';
	while ((n = getline(&line, &cap, fp)) > 0) {
		json_t *o;
		json_error_t jerr;
		const char *p;

		lineno++;
		if (line[n - 1] != '\n') {
			fprintf(out, "%s:%ld: incomplete last line\n", path, lineno);
			rc = -1;
			break;
		}
		line[--n] = '\0';
		o = json_loads(line, 0, &jerr);
		p = o ? json_string_value(json_object_get(o, "prev")) : NULL;
		if (p == NULL) {
			fprintf(out, "%s:%ld: not an audit record\n", path, lineno);
			json_decref(o);
			rc = -1;
			break;
		}
		if (strcmp(p, prev) != 0) {
			fprintf(out, "%s:%ld: chain broken: a line before it was removed or changed\n",
				path, lineno);
			json_decref(o);
			rc = -1;
			break;
		}
		json_decref(o);
		line_hash(line, (size_t)n, prev);
	}
	free(line);
	fclose(fp);
	if (rc == 0)
		fprintf(out, "%s: %ld records, chain intact; last line sha256 %s\n", path, lineno,
			prev);
	return rc;
}
