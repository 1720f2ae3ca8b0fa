/* SPDX-License-Identifier: MIT */
/*
 * keystore.c: see keystore.h.
 *
 * A store URI is parsed into either a root directory (file:// or a bare
 * absolute path) or an S3 bucket and key prefix.  File keys are read with
 * open + fstat + a bounded read; S3 keys with a bounded GET into memory
 * (lib/s3.c).  Every failure is mapped to a status and a one-line reason
 * for the client; the detail (paths, bucket, S3 error code) goes to the log.
 */
#include "keystore.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fsutil.h"
#include "log.h"
#include "s3.h"
#include "scheme.h"
#include "util.h"

#define KS_SELECTOR_MAX 100

struct ks_store {
	int is_s3;
	char *root;   /* file: the directory, without trailing slash */
	char *bucket; /* s3 */
	char *prefix; /* s3: "" or "a/b" without trailing slash */
};

int
ks_selector_valid(const char *sel)
{
	size_t n;

	if (sel == NULL)
		return 0;
	n = strlen(sel);
	if (n == 0 || n > KS_SELECTOR_MAX)
		return 0;
	if (strcmp(sel, ".") == 0 || strcmp(sel, "..") == 0)
		return 0;
	return strspn(sel, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+-") == n;
}

static void
ks_store_free(struct ks_store *s)
{
	free(s->root);
	free(s->bucket);
	free(s->prefix);
	memset(s, 0, sizeof(*s));
}

static int
ks_store_parse(const char *uri, struct ks_store *s, char *err, size_t errlen)
{
	const char *path = NULL;
	enum uri_kind kind;
	size_t n;

	memset(s, 0, sizeof(*s));
	if (uri == NULL || *uri == '\0') {
		snprintf(err, errlen, "key store URI not set");
		return -1;
	}
	kind = uri_scheme(uri, &path);
	if (kind == URI_S3) {
		if (s3_parse_uri(uri, &s->bucket, &s->prefix, err, errlen) < 0)
			return -1;
		n = strlen(s->prefix);
		while (n > 0 && s->prefix[n - 1] == '/')
			s->prefix[--n] = '\0';
		s->is_s3 = 1;
		return 0;
	}
	if ((kind != URI_FILE && kind != URI_PATH) || path[0] != '/') {
		snprintf(err, errlen, "key store URI must be file:///path, /path or s3://bucket/prefix");
		return -1;
	}
	for (const char *p = path; *p; p++) {
		if ((unsigned char)*p < 0x20) {
			snprintf(err, errlen, "control character in key store path");
			return -1;
		}
	}
	n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	s->root = xstrndup(path, n);
	return 0;
}

int
ks_store_uri_valid(const char *uri, char *err, size_t errlen)
{
	struct ks_store s;
	int rc = ks_store_parse(uri, &s, err, errlen);

	ks_store_free(&s);
	return rc;
}

/* The key's name below the store: "<selector>/<tag>/<file>"; 0 or -1. */
static int
ks_relname(const char *selector, const char *tag, const char *file, char *out, size_t outlen,
	   char *err, size_t errlen)
{
	if (!ks_selector_valid(selector)) {
		snprintf(err, errlen, "Invalid machine or distro name");
		return -1;
	}
	if (!ks_selector_valid(tag) || !ks_selector_valid(file)) {
		snprintf(err, errlen, "Invalid key name");
		return -1;
	}
	if ((size_t)snprintf(out, outlen, "%s/%s/%s", selector, tag, file) >= outlen) {
		snprintf(err, errlen, "Invalid key name");
		return -1;
	}
	return 0;
}

int
ks_key_location(const char *store_uri, const char *selector, const char *tag, const char *file,
		char **out, char *err, size_t errlen)
{
	char rel[3 * (KS_SELECTOR_MAX + 1)];
	struct ks_store s;

	*out = NULL;
	if (ks_relname(selector, tag, file, rel, sizeof(rel), err, errlen) < 0)
		return -1;
	if (ks_store_parse(store_uri, &s, err, errlen) < 0)
		return -1;
	if (s.is_s3)
		*out = xasprintf("s3://%s/%s%s%s", s.bucket, s.prefix, *s.prefix ? "/" : "", rel);
	else
		*out = xasprintf("%s/%s", strcmp(s.root, "/") == 0 ? "" : s.root, rel);
	ks_store_free(&s);
	return 0;
}

/* errno values meaning "the store is not there right now", not "no such key". */
static int
ks_errno_unavailable(int e)
{
	return e == EIO || e == ESTALE || e == ETIMEDOUT || e == ENOMEDIUM || e == EHOSTDOWN ||
	       e == EHOSTUNREACH || e == ENOLINK || e == ECONNREFUSED || e == ENETDOWN;
}

/* The status and reason for a key file open() refused with errno e. */
static int
ks_open_error(const struct ks_store *s, const char *path, const char *rel, int e, char *err,
	      size_t errlen)
{
	struct stat rst;

	if (e == ENOENT || e == ENOTDIR) {
		if (stat(s->root, &rst) < 0 || !S_ISDIR(rst.st_mode)) {
			log_warnx("key store %s is not a reachable directory", s->root);
			return util_err(err, errlen, 503, "Key store unavailable");
		}
		return util_err(err, errlen, 404, "Key file missing: %s", rel);
	}
	log_warnx("%s: %s", path, strerror(e));
	if (e == EACCES || e == EPERM)
		return util_err(err, errlen, 500, "Key file not readable by the service user: %s",
				rel);
	if (ks_errno_unavailable(e))
		return util_err(err, errlen, 503, "Key store unavailable");
	return util_err(err, errlen, 500, "Cannot read key file %s", rel);
}

/* Read the key file open at fd (path, rel for reasons) into out; 0 or a status. */
static int
ks_read_key(int fd, const char *path, const char *rel, struct ks_blob *out, char *err,
	    size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int e;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file", path);
		return util_err(err, errlen, 500, "Key file is not a regular file: %s", rel);
	}
	if (st.st_size > KS_MAX_SIZE) {
		log_warnx("%s: %lld bytes, larger than %d", path, (long long)st.st_size, KS_MAX_SIZE);
		return util_err(err, errlen, 500, "Key file too large: %s", rel);
	}
	if (util_read_fd(fd, KS_MAX_SIZE, &buf, &len) < 0) {
		e = errno;
		log_warnx("%s: %s", path, strerror(e));
		if (e == EFBIG)
			return util_err(err, errlen, 500, "Key file too large: %s", rel);
		if (ks_errno_unavailable(e))
			return util_err(err, errlen, 503, "Key store unavailable");
		return util_err(err, errlen, 500, "Cannot read key file %s", rel);
	}
	out->data = (unsigned char *)buf;
	out->len = len;
	return 0;
}

static int
ks_load_file(const struct ks_store *s, const char *rel, struct ks_blob *out, char *err,
	     size_t errlen)
{
	char *path = xasprintf("%s/%s", strcmp(s->root, "/") == 0 ? "" : s->root, rel);
	int fd, status;

	/* O_NONBLOCK so that a FIFO planted in the store cannot hang the worker. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		status = ks_open_error(s, path, rel, errno, err, errlen);
	} else {
		status = ks_read_key(fd, path, rel, out, err, errlen);
		close(fd);
	}
	free(path);
	return status;
}

static int
ks_load_s3(const struct config *cfg, const struct ks_store *s, const char *rel,
	   struct ks_blob *out, char *err, size_t errlen)
{
	char *key = xasprintf("%s%s%s", s->prefix, *s->prefix ? "/" : "", rel);
	struct s3_error e = {0};
	unsigned char *buf = NULL;
	size_t len = 0;
	int st;

	st = s3_get_mem(cfg, s->bucket, key, KS_MAX_SIZE, &buf, &len, &e);
	free(key);
	if (st == 0) {
		out->data = buf;
		out->len = len;
		return 0;
	}
	log_warnx("key store: %s", e.msg);
	switch (st) {
	case 404:
		if (strcmp(e.code, "NoSuchBucket") == 0) {
			snprintf(err, errlen, "Key store bucket not found");
			return 500;
		}
		snprintf(err, errlen, "Key file missing: %s", rel);
		return 404;
	case 403:
		if (s3_bad_credentials(e.code))
			snprintf(err, errlen, "Key store refused access (check credentials): %s", e.code);
		else
			snprintf(err, errlen,
				 "Key store denied access to %s (missing key, or no permission)", rel);
		return 500;
	case 503:
		snprintf(err, errlen, "Key store unavailable");
		return 503;
	default:
		if (strcmp(e.code, S3_CODE_TOO_LARGE) == 0)
			snprintf(err, errlen, "Key file too large: %s", rel);
		else if (strcmp(e.code, S3_CODE_NO_CREDENTIALS) == 0)
			snprintf(err, errlen, "Key store credentials missing");
		else
			snprintf(err, errlen, "Key store error reading %s", rel);
		return 500;
	}
}

int
ks_load(const struct config *cfg, const char *selector, const char *tag, const char *file,
	struct ks_blob *out, char *err, size_t errlen)
{
	char rel[3 * (KS_SELECTOR_MAX + 1)];
	struct ks_store s;
	int st;

	out->data = NULL;
	out->len = 0;
	if (ks_relname(selector, tag, file, rel, sizeof(rel), err, errlen) < 0)
		return ks_selector_valid(selector) ? 500 : 400;
	if (ks_store_parse(cfg->keyfile_uri, &s, err, errlen) < 0) {
		log_warnx("%s", err);
		snprintf(err, errlen, "Key store misconfigured");
		return 500;
	}
	st = s.is_s3 ? ks_load_s3(cfg, &s, rel, out, err, errlen)
		     : ks_load_file(&s, rel, out, err, errlen);
	ks_store_free(&s);
	if (st == 0)
		log_debug("loaded key %s (%zu bytes)", rel, out->len);
	return st;
}

int
ks_load_optional(const struct config *cfg, const char *selector, const char *tag,
		 const char *file, struct ks_blob *out, char *err, size_t errlen)
{
	int st = ks_load(cfg, selector, tag, file, out, err, errlen);

	if (st == 404) {
		if (errlen > 0)
			err[0] = '\0';
		return 1;
	}
	return st;
}

int
ks_write_temp(const struct ks_blob *b, const char *dir, const char *name)
{
	char *path;
	int fd, saved;

	if (strchr(name, '/') != NULL || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    *name == '\0') {
		errno = EINVAL;
		return -1;
	}
	path = xasprintf("%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		saved = errno;
		free(path);
		errno = saved;
		return -1;
	}
	if (fchmod(fd, 0600) < 0 || util_write_all(fd, b->data, b->len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(path);
		free(path);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0) {
		saved = errno;
		unlink(path);
		free(path);
		errno = saved;
		return -1;
	}
	free(path);
	return 0;
}

void
ks_blob_free(struct ks_blob *b)
{
	if (b == NULL)
		return;
	if (b->data != NULL)
		util_cleanse_free(b->data, b->len + 1);
	b->data = NULL;
	b->len = 0;
}

/* --check-config ------------------------------------------------------- */

/* Whose access: user (the key process's when running as root), else
 * this process's. */
static void
ks_who_init(const char *user, struct fs_who *w)
{
	struct passwd *pw;

	memset(w, 0, sizeof(*w));
	w->as_process = 1;
	w->name = "this process";
	if (geteuid() != 0 || user == NULL)
		return;
	if ((pw = getpwnam(user)) == NULL || pw->pw_uid == 0) {
		w->name = "root (the service user does not exist or is root)";
		return;
	}
	w->as_process = 0;
	w->name = user;
	w->uid = pw->pw_uid;
	w->ngroups = (int)(sizeof(w->groups) / sizeof(w->groups[0]));
	if (fs_grouplist(user, pw->pw_gid, w->groups, &w->ngroups) < 0)
		w->ngroups = (int)(sizeof(w->groups) / sizeof(w->groups[0]));
}

static int
ks_check_tree(const struct fs_who *w, const char *dir, int depth, FILE *report, int *nkeys)
{
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL) {
		fprintf(report, "error: cannot list %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (stat(p, &st) < 0) {
			fprintf(report, "warning: %s: %s\n", p, strerror(errno));
		} else if (depth < 2 && S_ISDIR(st.st_mode)) {
			if (!fs_who_can(w, p, &st, 5)) {
				fprintf(report, "error: %s is not readable by %s\n", p, w->name);
				rc = -1;
			} else if (ks_check_tree(w, p, depth + 1, report, nkeys) < 0) {
				rc = -1;
			}
		} else if (depth == 2 && S_ISREG(st.st_mode)) {
			(*nkeys)++;
			if (!fs_who_can(w, p, &st, 4)) {
				fprintf(report, "error: %s is not readable by %s\n", p, w->name);
				rc = -1;
			}
			if (st.st_mode & 077)
				fprintf(report, "warning: %s is accessible to group or others (mode %04o)\n",
					p, (unsigned)(st.st_mode & 07777));
		}
		free(p);
	}
	closedir(d);
	return rc;
}

static int
ks_check_file_store(const struct ks_store *s, const struct fs_who *w, FILE *report)
{
	char path[PATH_MAX];
	struct stat st;
	int nkeys = 0;
	size_t n = strlen(s->root);

	if (n >= sizeof(path)) {
		fprintf(report, "error: key store path too long\n");
		return -1;
	}
	/* Every ancestor must be searchable by the service user. */
	memcpy(path, s->root, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char c = path[i];

		path[i] = '\0';
		if (stat(path, &st) < 0) {
			fprintf(report, "error: key store %s: %s: %s\n", s->root, path, strerror(errno));
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			fprintf(report, "error: key store %s: %s is not a directory\n", s->root, path);
			return -1;
		}
		if (!fs_who_can(w, path, &st, c == '\0' ? 5 : 1)) {
			fprintf(report, "error: key store %s: %s is not %s by %s\n", s->root, path,
				c == '\0' ? "readable" : "searchable", w->name);
			return -1;
		}
		path[i] = c;
	}
	if (ks_check_tree(w, s->root, 0, report, &nkeys) < 0)
		return -1;
	if (nkeys == 0)
		fprintf(report, "warning: key store %s holds no key files (<selector>/<tag>/<file>)\n",
			s->root);
	else
		fprintf(report, "key store %s: %d key files readable by %s\n", s->root, nkeys,
			w->name);
	return 0;
}

static int
ks_check_s3_store(const struct config *cfg, const struct ks_store *s, FILE *report)
{
	char *prefix = xasprintf("%s%s", s->prefix, *s->prefix ? "/" : "");
	struct s3_error e = {0};
	int found = 0, st;

	st = s3_probe(cfg, s->bucket, prefix, &found, &e);
	free(prefix);
	if (st == 0) {
		if (found)
			fprintf(report, "key store s3://%s/%s: reachable, holds keys\n", s->bucket,
				s->prefix);
		else
			fprintf(report, "warning: key store s3://%s/%s: reachable, but no keys under it\n",
				s->bucket, s->prefix);
		return 0;
	}
	if (st == 403 && !s3_bad_credentials(e.code)) {
		fprintf(report,
			"warning: key store s3://%s/%s: listing refused (%s); keys may still be "
			"readable, but missing keys will be reported as 500, not 404, without "
			"s3:ListBucket\n",
			s->bucket, s->prefix, e.code[0] ? e.code : "403");
		return 0;
	}
	fprintf(report, "error: key store s3://%s/%s: %s\n", s->bucket, s->prefix, e.msg);
	return -1;
}

int
ks_probe_store(const struct config *cfg, char *why, size_t whylen)
{
	char err[256];
	struct ks_store s;
	struct s3_error e = {0};
	int fd, found = 0, st;
	char *prefix;

	if (ks_store_parse(cfg->keyfile_uri, &s, err, sizeof(err)) < 0) {
		snprintf(why, whylen, "%s", err);
		return -1;
	}
	if (!s.is_s3) {
		if ((fd = open(s.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			snprintf(why, whylen, "%s: %s", s.root, strerror(errno));
		else
			close(fd);
		ks_store_free(&s);
		return fd < 0 ? -1 : 0;
	}
	prefix = xasprintf("%s%s", s.prefix, *s.prefix ? "/" : "");
	st = s3_probe(cfg, s.bucket, prefix, &found, &e);
	free(prefix);
	ks_store_free(&s);
	if (st == 0 || (st == 403 && !s3_bad_credentials(e.code)))
		return 0;
	snprintf(why, whylen, "%s", e.msg);
	return -1;
}

int
ks_check_access(const struct config *cfg, FILE *report)
{
	char err[256];
	struct ks_store s;
	struct fs_who w;
	int rc;

	if (ks_store_parse(cfg->keyfile_uri, &s, err, sizeof(err)) < 0) {
		fprintf(report, "error: DIGSIGSERVER_KEYFILE_URI: %s\n", err);
		return -1;
	}
	if (s.is_s3) {
		if (ks_credentials_check(cfg, err, sizeof(err)) < 0) {
			fprintf(report, "error: %s\n", err);
			ks_store_free(&s);
			return -1;
		}
		/* probe the store with the key process's own credentials */
		if (cfg->keyfile_credentials != NULL && *cfg->keyfile_credentials != '\0' &&
		    s3_credentials_load(cfg->keyfile_credentials, 1, err, sizeof(err)) < 0) {
			fprintf(report, "error: DIGSIGSERVER_KEYFILE_CREDENTIALS: %s\n", err);
			ks_store_free(&s);
			return -1;
		}
		rc = ks_check_s3_store(cfg, &s, report);
	} else {
		ks_who_init(cfg->key_user, &w);
		rc = ks_check_file_store(&s, &w, report);
	}
	ks_store_free(&s);
	return rc;
}

/* 1 when w can open path for reading: every ancestor searchable, the
 * file readable. */
static int
ks_who_reaches(const struct fs_who *w, const char *path)
{
	char *p = xstrdup(path);
	struct stat st;
	int ok = 1;

	for (char *slash = strchr(p + 1, '/'); slash != NULL && ok; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		ok = stat(p, &st) == 0 && fs_who_can(w, p, &st, 1);
		*slash = '/';
	}
	ok = ok && stat(p, &st) == 0 && fs_who_can(w, p, &st, 4);
	free(p);
	return ok;
}

int
ks_credentials_check(const struct config *cfg, char *err, size_t errlen)
{
	const char *path = cfg->keyfile_credentials;
	struct fs_who keys, workers;

	if (path == NULL || *path == '\0')
		return 0;
	if (s3_credentials_load(path, 0, err, errlen) < 0) {
		char tmp[512];

		snprintf(tmp, sizeof(tmp), "DIGSIGSERVER_KEYFILE_CREDENTIALS: %s", err);
		snprintf(err, errlen, "%s", tmp);
		return -1;
	}
	if (geteuid() != 0)
		return 0; /* one user for every role: nothing to keep apart */
	ks_who_init(cfg->key_user, &keys);
	ks_who_init(cfg->user, &workers);
	if (!keys.as_process && !ks_who_reaches(&keys, path)) {
		snprintf(err, errlen,
			 "DIGSIGSERVER_KEYFILE_CREDENTIALS: %s is not readable by the key user %s", path,
			 keys.name);
		return -1;
	}
	if (!workers.as_process && ks_who_reaches(&workers, path)) {
		snprintf(err, errlen,
			 "DIGSIGSERVER_KEYFILE_CREDENTIALS: %s is readable by the workers' user %s",
			 path, workers.name);
		return -1;
	}
	return 0;
}

const char *
ks_credentials_warning(const struct config *cfg)
{
	if (uri_scheme(cfg->keyfile_uri, NULL) != URI_S3)
		return NULL;
	if (cfg->keyfile_credentials != NULL && *cfg->keyfile_credentials != '\0')
		return NULL;
	return "the s3:// key store is read with the AWS_* credentials that the workers hold too; "
	       "set DIGSIGSERVER_KEYFILE_CREDENTIALS to give the key process credentials of its own";
}

/* Report every key file under root (<selector>/<tag>/<file>) that w can
 * read, but those public() says are public (when given); the count. */
static int
ks_check_hidden(const struct fs_who *w, const char *root, FILE *report,
		int (*public)(const char *))
{
	char pattern[PATH_MAX];
	glob_t g;
	int bad = 0;

	if (snprintf(pattern, sizeof(pattern), "%s/*/*/*", root) >= (int)sizeof(pattern) ||
	    glob(pattern, 0, NULL, &g) != 0)
		return 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *path = g.gl_pathv[i];
		struct stat st;

		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (ks_who_reaches(w, path) && (public == NULL || !public(path))) {
			fprintf(report, "error: %s is readable by the workers' user %s\n", path,
				w->name);
			bad++;
		}
	}
	globfree(&g);
	return bad;
}

static int
separation(const struct config *cfg, FILE *report, int (*public)(const char *))
{
	char err[256];
	struct ks_store s;
	struct fs_who w;
	int bad;

	if (geteuid() != 0) {
		fprintf(report, "# note: not started as root: the key process and the workers share "
				"a user, so keys are not separated from the workers\n");
		return 0;
	}
	if (ks_store_parse(cfg->keyfile_uri, &s, err, sizeof(err)) < 0)
		return -1; /* ks_check_access said why */
	if (s.is_s3) {
		ks_store_free(&s);
		if (ks_credentials_warning(cfg) != NULL)
			fprintf(report, "# warning: %s\n", ks_credentials_warning(cfg));
		else
			fprintf(report, "key store %s: read with DIGSIGSERVER_KEYFILE_CREDENTIALS, "
					"which the workers' user cannot read\n",
				cfg->keyfile_uri);
		return 0;
	}
	ks_who_init(cfg->user, &w);
	bad = w.as_process ? 0 : ks_check_hidden(&w, s.root, report, public);
	if (bad == 0 && !w.as_process)
		fprintf(report, "key store %s: no key file the key process alone holds is readable "
				"by %s\n",
			s.root, w.name);
	ks_store_free(&s);
	return bad ? -1 : 0;
}

int
ks_check_separation(const struct config *cfg, FILE *report)
{
	return separation(cfg, report, NULL);
}

int
ks_check_secrets_hidden(const struct config *cfg, FILE *report, int (*public)(const char *))
{
	return separation(cfg, report, public);
}
