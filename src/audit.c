/*
 * audit.c: the audit trail.  One JSON line per signing attempt, appended
 * by the supervisor (workers send their part, PROTO_AUDIT: the key's
 * fingerprint and the SHA-256 of what was signed).  Each line carries
 * "prev", the SHA-256 of the line before it (64 zeros for the first), so a
 * deleted or edited line breaks the chain; --verify-audit checks it and
 * prints the hash of the last line, which an operator can keep elsewhere
 * to detect truncation at the end.
 */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/sha.h>

#include "log.h"
#include "util.h"

static int audit_fd = -1;
static char audit_prev[65];
static char *audit_path;
static uint64_t audit_failures;

/* SHA-256 of buf as lower-case hex. */
static void
line_hash(const char *buf, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)buf, len, md);
	util_hex(md, sizeof(md), out);
}

/* Find the hash of the last line of an open trail, reading backwards
 * from the end until the line's start; 0 or -1. */
static int
read_last_hash(int fd, char out[65])
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, start, want = 65536;
	off_t from;

	memset(out, '0', 64);
	out[64] = '\0';
	if (fstat(fd, &st) < 0)
		return -1;
	if (st.st_size == 0)
		return 0;
	for (;;) {
		from = st.st_size > (off_t)want ? st.st_size - (off_t)want : 0;
		len = (size_t)(st.st_size - from);
		buf = xrealloc(buf, len + 1);
		if (pread(fd, buf, len, from) != (ssize_t)len) {
			free(buf);
			return -1;
		}
		if (buf[len - 1] != '\n') {
			log_errorx("audit trail %s does not end with a newline", audit_path);
			free(buf);
			return -1;
		}
		for (start = len - 1; start > 0 && buf[start - 1] != '\n'; start--)
			;
		if (start > 0 || from == 0)
			break;
		want *= 4; /* the last line is longer than what was read */
	}
	line_hash(buf + start, len - 1 - start, out);
	free(buf);
	return 0;
}

int
audit_open(const char *path)
{
	int fd;

	if (audit_fd >= 0 && audit_path && path && strcmp(path, audit_path) == 0)
		return 0;
	if (audit_fd >= 0)
		close(audit_fd);
	audit_fd = -1;
	free(audit_path);
	audit_path = path ? xstrdup(path) : NULL;
	if (path == NULL)
		return 0;
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		log_errorx("audit trail %s: %s", path, strerror(errno));
		return -1;
	}
	if (read_last_hash(fd, audit_prev) < 0) {
		close(fd);
		return -1;
	}
	audit_fd = fd;
	return 0;
}

int
audit_ready(void)
{
	if (audit_path == NULL)
		return 1;
	if (audit_fd < 0) {
		char *p = xstrdup(audit_path);

		audit_open(p); /* retry: the disk may have room again */
		free(p);
	}
	return audit_fd >= 0;
}

uint64_t
audit_write_failures(void)
{
	return audit_failures;
}

void
audit_record(const struct audit_job *aj)
{
	json_t *o;
	char *line, when[64], hash[65];
	struct timespec ts;
	struct tm tm;
	size_t len;

	if (audit_path == NULL)
		return;
	if (!audit_ready()) {
		audit_failures++;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	o = json_object();
	json_object_set_new(o, "prev", json_string(audit_prev));
	json_object_set_new(o, "time", json_string(when));
	json_object_set_new(o, "job", json_integer((json_int_t)aj->job_id));
	json_object_set_new(o, "client", json_string(aj->client));
	json_object_set_new(o, "identity", aj->identity && *aj->identity ? json_string(aj->identity)
								  : json_null());
	json_object_set_new(o, "endpoint", json_string(aj->endpoint));
	json_object_set_new(o, "selector", aj->selector && *aj->selector ? json_string(aj->selector)
								  : json_null());
	json_object_set_new(o, "key_sha256", aj->key_sha256 && *aj->key_sha256
						     ? json_string(aj->key_sha256)
						     : json_null());
	json_object_set_new(o, "signed",
			    aj->signed_items ? json_incref(aj->signed_items) : json_array());
	if (aj->extra != NULL)
		json_object_update_missing(o, aj->extra);
	json_object_set_new(o, "status", json_integer(aj->status));
	json_object_set_new(o, "result", json_string(aj->result));
	json_object_set_new(o, "duration_ms", json_integer((json_int_t)aj->duration_ms));
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(o);
	if (line == NULL) {
		audit_failures++;
		return;
	}
	len = strlen(line);
	line_hash(line, len, hash);
	line = realloc(line, len + 2);
	if (line == NULL)
		fatalx("out of memory");
	line[len] = '\n';
	line[len + 1] = '\0';
	/* O_APPEND and one write: a line is whole or absent. */
	if (util_write_all(audit_fd, line, len + 1) < 0 || fdatasync(audit_fd) < 0) {
		log_errorx("audit trail %s: %s", audit_path, strerror(errno));
		audit_failures++;
		close(audit_fd);
		audit_fd = -1;
	} else {
		memcpy(audit_prev, hash, sizeof(audit_prev));
	}
	free(line);
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
