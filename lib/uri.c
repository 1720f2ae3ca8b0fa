/* SPDX-License-Identifier: MIT */
/*
 * uri.c: see uri.h.
 *
 * A URI is first brought to a canonical text form (file:// with single
 * slashes, or s3://bucket/key), which the prefix check compares against
 * the configured prefixes in the same form.  An open artifact keeps a
 * descriptor of its directory, so the temporary file, the identity check
 * and the rename all happen in the directory that was checked, whatever
 * happens to the path meanwhile.
 */
#include "uri.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fsutil.h"
#include "log.h"
#include "s3.h"
#include "util.h"

#define URI_MAX 4096

struct uri_artifact {
	const struct config *cfg;
	int is_s3;
	int fd;		  /* the current artifact, read-only */
	long long size;
	/* file:// */
	char *path;	  /* canonical path of the artifact */
	char *base;	  /* its name in dirfd */
	int dirfd;
	int have_orig;	  /* 0 for uri_upload of a new file */
	struct stat orig; /* the original when opened */
	/* s3:// */
	char *bucket, *key;
	char *inpath;	  /* <jobdir>/artifact.in */
	char *jobdir;
	char etag[128];
	/* the replacement */
	char *tmpname;	  /* file://: name in dirfd (NULL while unnamed) */
	char *tmppath;	  /* its full path, or a description while unnamed */
	int outfd;
	int unnamed;	  /* file://: an O_TMPFILE, given a name only to commit */
	int committed;
};

/* A URI's text: not too long, no control characters; 0, or -1 with err. */
static int
uri_text_ok(const char *uri, char *err, size_t errlen)
{
	if (strlen(uri) > URI_MAX) {
		snprintf(err, errlen, "Invalid artifact URI (too long)");
		return -1;
	}
	for (const char *p = uri; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "Invalid artifact URI (control character)");
			return -1;
		}
	}
	return 0;
}

/* The canonical form of an s3:// URI (see uri_canonical). */
static char *
uri_canonical_s3(const char *uri, int is_prefix, char *err, size_t errlen)
{
	char *bucket, *key, *out;

	if (s3_parse_uri(uri, &bucket, &key, err, errlen) < 0) {
		char why[128];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "Invalid artifact URI (%s)", why);
		return NULL;
	}
	if (!is_prefix && (*key == '\0' || key[strlen(key) - 1] == '/')) {
		free(bucket);
		free(key);
		snprintf(err, errlen, "Invalid artifact URI (no object key)");
		return NULL;
	}
	out = xasprintf("s3://%s/%s", bucket, key);
	free(bucket);
	free(key);
	return out;
}

/* The canonical form of an absolute path (see uri_canonical). */
static char *
uri_canonical_path(const char *path, int is_prefix, char *err, size_t errlen)
{
	struct buf out;

	buf_init(&out, BUF_UNLIMITED, 0);
	buf_puts(&out, "file://");
	for (const char *seg = path; *seg;) {
		size_t n;

		while (*seg == '/')
			seg++;
		if (*seg == '\0')
			break;
		n = strcspn(seg, "/");
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
			buf_free(&out);
			snprintf(err, errlen, "Invalid artifact URI (\".\" or \"..\" in the path)");
			return NULL;
		}
		buf_puts(&out, "/");
		buf_append(&out, seg, n);
		seg += n;
	}
	if (out.len == 7 || path[strlen(path) - 1] == '/') {
		if (!is_prefix) {
			buf_free(&out);
			snprintf(err, errlen, "Invalid artifact URI (names a directory)");
			return NULL;
		}
		buf_puts(&out, "/");
	}
	return buf_detach(&out, NULL);
}

/*
 * Canonical form of an artifact URI or prefix, newly allocated: file:// +
 * the path with runs of slashes collapsed, or s3://bucket/key.  *is_s3
 * says which.  NULL with err for anything else.  A prefix may end in '/'.
 */
static char *
uri_canonical(const char *uri, int is_prefix, int *is_s3, char *err, size_t errlen)
{
	const char *rest;
	enum uri_kind kind;

	if (uri_text_ok(uri, err, errlen) < 0)
		return NULL;
	kind = uri_scheme(uri, &rest);
	*is_s3 = kind == URI_S3;
	if (kind == URI_S3)
		return uri_canonical_s3(uri, is_prefix, err, errlen);
	/* the original server took bare paths too */
	if ((kind != URI_FILE && kind != URI_PATH) || rest[0] != '/') {
		snprintf(err, errlen, "Invalid artifact URI");
		return NULL;
	}
	return uri_canonical_path(rest, is_prefix, err, errlen);
}

/* Is canonical URI c under canonical prefix p (segment-wise)? */
static int
uri_under(const char *c, const char *p)
{
	size_t n = strlen(p);

	if (strncmp(c, p, n) != 0)
		return 0;
	return p[n - 1] == '/' || c[n] == '\0' || c[n] == '/';
}

/*
 * 1 if the canonical URI c is under one of the configured prefixes (or no
 * prefixes are configured), else 0.  With resolve, file:// prefixes are
 * compared by their real path too (a prefix may itself be a symlink).
 */
static int
uri_allowed(const struct config *cfg, const char *c, int resolve)
{
	const char *list = cfg->artifact_uri_prefixes;
	int allowed = 0, any = 0;
	char *copy, *save = NULL;

	if (list == NULL)
		return 1;
	copy = xstrdup(list);
	for (char *tok = strtok_r(copy, ",", &save); tok && !allowed;
	     tok = strtok_r(NULL, ",", &save)) {
		char err[128], *p;
		int is_s3;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		for (char *e = tok + strlen(tok); e > tok && (e[-1] == ' ' || e[-1] == '\t');)
			*--e = '\0';
		if (*tok == '\0')
			continue;
		any = 1;
		if ((p = uri_canonical(tok, 1, &is_s3, err, sizeof(err))) == NULL) {
			log_warnx("ignoring artifact URI prefix \"%s\": %s", tok, err);
			continue;
		}
		if (uri_under(c, p))
			allowed = 1;
		else if (resolve && !is_s3) {
			char real[PATH_MAX];

			if (realpath(p + 7, real) != NULL) {
				char *rp = xasprintf("file://%s%s", strcmp(real, "/") ? real : "",
						     p[strlen(p) - 1] == '/' ? "/" : "");
				allowed = uri_under(c, rp);
				free(rp);
			}
		}
		free(p);
	}
	free(copy);
	return allowed || !any;
}

/* Lower-case the bucket of the canonical s3:// URI u in place. */
static void
bucket_lower(char *u)
{
	for (char *p = u + 5; *p != '\0' && *p != '/'; p++)
		*p = (char)tolower((unsigned char)*p);
}

/* 1 if the canonical URI c is in an s3:// key store (an artifact there
 * would be a key, fetched with the worker's credentials).  The bucket is
 * compared in any case: a legacy bucket's name may have capitals, and a
 * server may not tell them apart. */
static int
uri_in_s3_store(const struct config *cfg, const char *c)
{
	const char *rest;
	char err[128], *store, *lc;
	int is_s3, in;

	if (cfg->keyfile_uri == NULL || uri_scheme(cfg->keyfile_uri, &rest) != URI_S3 ||
	    strncmp(c, "s3://", 5) != 0)
		return 0;
	if ((store = uri_canonical(cfg->keyfile_uri, 1, &is_s3, err, sizeof(err))) == NULL)
		return 1; /* a store we cannot place: nothing in s3:// is safe */
	lc = xstrdup(c);
	bucket_lower(lc);
	bucket_lower(store);
	in = uri_under(lc, store);
	free(lc);
	free(store);
	return in;
}

int
uri_check(const struct config *cfg, const char *uri, char *err, size_t errlen)
{
	int is_s3;
	char *c = uri_canonical(uri, 0, &is_s3, err, errlen);

	if (c == NULL)
		return 400;
	if (!uri_allowed(cfg, c, 0) || uri_in_s3_store(cfg, c)) {
		free(c);
		snprintf(err, errlen, "Artifact URI not allowed");
		return 403;
	}
	free(c);
	return 0;
}

static struct uri_artifact *
uri_art_new(const struct config *cfg)
{
	struct uri_artifact *a = xcalloc(1, sizeof(*a));

	a->cfg = cfg;
	a->fd = a->dirfd = a->outfd = -1;
	return a;
}

/* Map an S3 failure on an artifact to a status and a reason. */
static int
uri_s3_status(const struct s3_error *e, const char *doing, char *err, size_t errlen)
{
	log_warnx("artifact: %s", e->msg);
	/* the server's credentials refused (an expired token comes as 400,
	 * a bad key id as 403): not the client's request */
	if (s3_bad_credentials(e->code)) {
		snprintf(err, errlen, "Artifact store refused the server's credentials (%s)",
			 e->code);
		return 500;
	}
	switch (e->status) {
	case 404:
		snprintf(err, errlen, "Artifact not found");
		return 404;
	case 403:
		snprintf(err, errlen, "Artifact store refused access (%s)",
			 e->code[0] ? e->code : "403");
		return 403;
	case 400:
		snprintf(err, errlen, "Artifact store refused the request (%s)",
			 e->code[0] ? e->code : "400");
		return 400;
	case 503:
		snprintf(err, errlen, "Artifact store unavailable");
		return 503;
	case 507:
		snprintf(err, errlen, "not enough storage for the artifact %s", doing);
		return 507;
	default:
		if (strcmp(e->code, S3_CODE_TOO_LARGE) == 0) {
			snprintf(err, errlen, "Artifact too large");
			return 413;
		}
		snprintf(err, errlen, "Artifact %s failed", doing);
		return 500;
	}
}

/* The status and reason for a create, write or rename (of what) that
 * failed with errno e: 507 when the file system is full, else 500 with
 * the reason otherwise. */
static int
uri_write_err(int e, const char *what, const char *otherwise, char *err, size_t errlen)
{
	int st = util_write_status(e);

	if (st == 507)
		snprintf(err, errlen, "not enough storage for %s", what);
	else
		snprintf(err, errlen, "%s", otherwise);
	return st;
}

/* The status and reason for a replacement that could not take the
 * artifact's name (linkat, renameat) with errno e: 403 when the service
 * user may not (a sticky directory and another owner, an immutable or
 * append-only file), else as uri_write_err. */
static int
uri_replace_err(int e, char *err, size_t errlen)
{
	if (e == EPERM || e == EACCES) {
		snprintf(err, errlen, "The service user may not replace the artifact (a sticky "
				      "directory and another owner, or an immutable file)");
		return 403;
	}
	return uri_write_err(e, "the signed artifact", "Replacing the artifact failed", err,
			     errlen);
}

/* 1 if the directory real is inside the work directory or a file:// key
 * store: an artifact there could be another job's file or a key. */
static int
uri_in_server_dirs(const struct config *cfg, const char *real)
{
	const char *roots[2] = {cfg->work_dir, NULL};
	const char *store;

	if (cfg->keyfile_uri != NULL && uri_scheme(cfg->keyfile_uri, &store) != URI_S3)
		roots[1] = store;
	for (size_t i = 0; i < 2; i++) {
		char root[PATH_MAX];
		size_t n;

		if (roots[i] == NULL || realpath(roots[i], root) == NULL)
			continue;
		n = strlen(root);
		if (strncmp(real, root, n) == 0 && (real[n] == '\0' || real[n] == '/' || n == 1))
			return 1;
	}
	return 0;
}

/* The status and reason for a directory that could not be opened (errno e). */
static int
uri_dir_error(const struct uri_artifact *a, int e, char *err, size_t errlen)
{
	if (e == ENOENT || e == ENOTDIR) {
		snprintf(err, errlen, "Artifact not found");
		return 404;
	}
	if (e == EACCES || e == EPERM) {
		snprintf(err, errlen, "Artifact directory not accessible to the service user");
		return 403;
	}
	if (e == ENAMETOOLONG || e == ELOOP) {
		snprintf(err, errlen, "Invalid artifact URI (%s)", strerror(e));
		return 400;
	}
	log_warnx("artifact %s: %s", a->path, strerror(e));
	snprintf(err, errlen, "Cannot open the artifact directory");
	return 500;
}

/*
 * Open the directory dir of the artifact as a->dirfd and check where it
 * really is: the directory actually opened, not the name, which may have
 * been swapped for a symbolic link since.  0 or a status (a->dirfd stays
 * open on 403, so that uri_upload can tell a refusal from a new file).
 */
static int
uri_open_dir(struct uri_artifact *a, const char *dir, char *err, size_t errlen)
{
	char real[PATH_MAX], fdpath[64], *rc;
	int refused;

	a->dirfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->dirfd < 0) {
		int e = errno;

		/* a key store the worker cannot see (one user: covered in its
		 * namespaces) is refused as where it can see it, by name */
		if ((e == ENOENT || e == ENOTDIR) && uri_in_server_dirs(a->cfg, dir)) {
			snprintf(err, errlen, "Artifact URI not allowed (resolves elsewhere)");
			return 403;
		}
		return uri_dir_error(a, e, err, errlen);
	}
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", a->dirfd);
	if (realpath(fdpath, real) == NULL) {
		int e = errno;

		close(a->dirfd);
		a->dirfd = -1;
		return uri_dir_error(a, e, err, errlen);
	}
	rc = xasprintf("file://%s/%s", strcmp(real, "/") ? real : "", a->base);
	refused = (a->cfg->artifact_uri_prefixes != NULL && !uri_allowed(a->cfg, rc, 1)) ||
		  uri_in_server_dirs(a->cfg, real);
	free(rc);
	if (refused) {
		snprintf(err, errlen, "Artifact URI not allowed (resolves elsewhere)");
		return 403;
	}
	return 0;
}

/* Open the artifact itself, a regular file in a->dirfd; 0 or a status. */
static int
uri_open_base(struct uri_artifact *a, char *err, size_t errlen)
{
	a->fd = openat(a->dirfd, a->base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (a->fd < 0) {
		switch (errno) {
		case ENOENT:
			snprintf(err, errlen, "Artifact not found");
			return 404;
		case ELOOP:
			snprintf(err, errlen, "Artifact is a symbolic link");
			return 400;
		case EACCES:
		case EPERM:
			snprintf(err, errlen, "Artifact not readable by the service user");
			return 403;
		case ENAMETOOLONG:
			snprintf(err, errlen, "Invalid artifact URI (%s)", strerror(errno));
			return 400;
		case ENXIO:
		case ENODEV:
		case EOPNOTSUPP:
			snprintf(err, errlen, "Artifact is not a regular file");
			return 400;
		default:
			log_warn("artifact %s", a->path);
			snprintf(err, errlen, "Cannot open the artifact");
			return 500;
		}
	}
	if (fstat(a->fd, &a->orig) < 0 || !S_ISREG(a->orig.st_mode)) {
		snprintf(err, errlen, "Artifact is not a regular file");
		return 400;
	}
	if (fcntl(a->fd, F_SETFL, 0) < 0) {
		snprintf(err, errlen, "Cannot open the artifact");
		return 500;
	}
	a->have_orig = 1;
	a->size = a->orig.st_size;
	return 0;
}

static int
uri_open_file(struct uri_artifact *a, const char *canon, char *err, size_t errlen)
{
	const char *path = canon + 7;
	const char *slash = strrchr(path, '/');
	char *dir = xstrndup(path, (size_t)(slash - path));
	int st;

	a->path = xstrdup(path);
	a->base = xstrdup(slash + 1);
	st = uri_open_dir(a, dir, err, errlen);
	free(dir);
	if (st != 0)
		return st;
	return uri_open_base(a, err, errlen);
}

static int
uri_open_s3(struct uri_artifact *a, const char *canon, const char *jobdir, char *err,
	    size_t errlen)
{
	struct s3_error e = {0};
	struct stat st;
	int rc;

	if (s3_parse_uri(canon, &a->bucket, &a->key, err, errlen) < 0)
		return 400;
	a->jobdir = xstrdup(jobdir);
	a->inpath = xasprintf("%s/artifact.in", jobdir);
	a->fd = open(a->inpath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (a->fd < 0) {
		int saved = errno;

		log_warn("%s", a->inpath);
		free(a->inpath);
		a->inpath = NULL;
		return uri_write_err(saved, "the artifact download", "Cannot create the artifact download",
				     err, errlen);
	}
	rc = s3_get_fd(a->cfg, a->bucket, a->key, a->fd, a->cfg->artifact_max_size, a->etag,
		       sizeof(a->etag), &e);
	if (rc != 0)
		return uri_s3_status(&e, "download", err, errlen);
	if (fstat(a->fd, &st) < 0 || lseek(a->fd, 0, SEEK_SET) < 0) {
		snprintf(err, errlen, "Cannot read the artifact download");
		return 500;
	}
	a->size = st.st_size;
	a->have_orig = 1;
	return 0;
}

int
uri_open(const struct config *cfg, const char *uri, const char *jobdir,
	 struct uri_artifact **art, char *err, size_t errlen)
{
	struct uri_artifact *a;
	char *canon;
	int is_s3, st;

	*art = NULL;
	if ((st = uri_check(cfg, uri, err, errlen)) != 0)
		return st;
	canon = uri_canonical(uri, 0, &is_s3, err, errlen);
	a = uri_art_new(cfg);
	a->is_s3 = is_s3;
	st = is_s3 ? uri_open_s3(a, canon, jobdir, err, errlen)
		   : uri_open_file(a, canon, err, errlen);
	free(canon);
	if (st != 0) {
		uri_close(a);
		return st;
	}
	*art = a;
	return 0;
}

int
uri_fd(const struct uri_artifact *art)
{
	return art->fd;
}

long long
uri_size(const struct uri_artifact *art)
{
	return art->size;
}

const char *
uri_path(const struct uri_artifact *art)
{
	return art->is_s3 ? art->inpath : art->path;
}

const char *
uri_temp_path(const struct uri_artifact *art)
{
	return art->unnamed ? NULL : art->tmppath;
}

/* A fresh ".<name>.dss-XXXXXX" (newly allocated), or NULL with errno. */
static char *
uri_tempname(const char *base)
{
	static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[6];
	char sfx[7];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return NULL;
	for (size_t i = 0; i < sizeof(rnd); i++)
		sfx[i] = chars[rnd[i] % (sizeof(chars) - 1)];
	sfx[6] = '\0';
	/* Keep the name within NAME_MAX whatever the artifact's name. */
	return xasprintf(".%.*s.dss-%s", NAME_MAX - 16, base, sfx);
}

/* A place that takes a fresh temporary name (temp_named). */
struct temp_place {
	int dirfd;
	int fd; /* the file to name (linkat), or -1: create one (openat) */
};

/* Create name in the place (its fd), or link the place's file there (0);
 * -1 with errno (EEXIST: the name is taken). */
static int
temp_take(const struct temp_place *pl, const char *name)
{
	char proc[64];

	if (pl->fd < 0)
		return openat(pl->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			      0600);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pl->fd);
	return linkat(AT_FDCWD, proc, pl->dirfd, name, AT_SYMLINK_FOLLOW);
}

/* Take the first free one of up to 100 random temporary names for base:
 * temp_take's result with *name set, or -1 with errno and *name NULL. */
static int
temp_named(const struct temp_place *pl, const char *base, char **name)
{
	for (int tries = 0; tries < 100; tries++) {
		int rc;

		if ((*name = uri_tempname(base)) == NULL)
			return -1;
		if ((rc = temp_take(pl, *name)) >= 0)
			return rc;
		free(*name);
		*name = NULL;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

/*
 * Make the replacement in dirfd: an unnamed O_TMPFILE when the file system
 * has them and /proc can name it later (*name NULL: a kill while it is
 * written leaves nothing behind), else ".<name>.dss-XXXXXX" created
 * O_EXCL.  The fd, or -1 with errno.
 */
static int
uri_mktemp(int dirfd, const char *base, char **name)
{
	const struct temp_place pl = {.dirfd = dirfd, .fd = -1};
	int fd;

	*name = NULL;
	if (access("/proc/self/fd", X_OK) == 0) {
		fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		/* these say the file system cannot; anything else is an answer */
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT)
			return -1;
	}
	return temp_named(&pl, base, name);
}

/* Give the unnamed replacement (fd) a temporary name in dirfd, for the
 * rename; 0 or -1 with errno. */
static int
uri_name_temp(int dirfd, int fd, const char *base, char **name)
{
	const struct temp_place pl = {.dirfd = dirfd, .fd = fd};

	return temp_named(&pl, base, name);
}

/* 1 when the artifact's directory is sticky and neither it nor the file
 * is the service user's: the rename would be refused (EPERM), so the
 * signing is not begun (unless the process may anyway: root). */
static int
uri_sticky_other(const struct uri_artifact *art)
{
	struct stat d;
	uid_t me = geteuid();

	return art->have_orig && me != 0 && fstat(art->dirfd, &d) == 0 &&
	       (d.st_mode & S_ISVTX) && d.st_uid != me && art->orig.st_uid != me;
}

int
uri_begin_replace(struct uri_artifact *art, int *outfd, char *err, size_t errlen)
{
	*outfd = -1;
	if (art->outfd >= 0 || art->tmppath != NULL) {
		snprintf(err, errlen, "replacement already begun");
		return 500;
	}
	if (art->is_s3) {
		art->tmppath = xasprintf("%s/artifact.out", art->jobdir);
		art->outfd = open(art->tmppath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				  0600);
		if (art->outfd < 0) {
			int e = errno;

			log_warn("%s", art->tmppath);
			free(art->tmppath);
			art->tmppath = NULL;
			return uri_write_err(e, "the signed artifact", "Cannot create the signed artifact",
					     err, errlen);
		}
		*outfd = art->outfd;
		return 0;
	}
	if (uri_sticky_other(art)) {
		snprintf(err, errlen, "The service user may not replace the artifact: its "
				      "directory is sticky and the file is another user's");
		return 403;
	}
	art->outfd = uri_mktemp(art->dirfd, art->base, &art->tmpname);
	if (art->outfd < 0) {
		int saved = errno;
		const char *slash = strrchr(art->path, '/');

		log_warnx("temporary file beside %s: %s", art->path, strerror(saved));
		switch (saved) {
		case EACCES:
		case EPERM:
			snprintf(err, errlen,
				 "The service user needs write access to the artifact's directory %.*s",
				 slash == art->path ? 1 : (int)(slash - art->path), art->path);
			return 403;
		case EROFS:
			snprintf(err, errlen, "The artifact's directory is on a read-only file system");
			return 403;
		case ENOSPC:
		case EDQUOT:
			snprintf(err, errlen, "not enough storage for the signed artifact");
			return 507;
		default:
			snprintf(err, errlen, "Cannot create the signed artifact");
			return 500;
		}
	}
	art->unnamed = art->tmpname == NULL;
	art->tmppath = xasprintf("%.*s/%s", (int)(strrchr(art->path, '/') - art->path), art->path,
				 art->unnamed ? "(unnamed temporary file)" : art->tmpname);
	*outfd = art->outfd;
	return 0;
}

/* 0 when the original is as it was opened: the same file at its name,
 * with its size and times (a rewrite in place keeps the inode); else 409
 * with the reason.  Checked as the signing ends and again just before
 * the rename, so that a new build written meanwhile is never replaced by
 * the signed old one. */
static int
uri_unchanged(const struct uri_artifact *art, char *err, size_t errlen)
{
	struct stat now, named;

	if ((art->fd < 0 || (fstat(art->fd, &now) == 0 && fs_same_version(&art->orig, &now))) &&
	    fstatat(art->dirfd, art->base, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
	    named.st_dev == art->orig.st_dev && named.st_ino == art->orig.st_ino)
		return 0;
	snprintf(err, errlen, "Artifact changed during signing");
	return 409;
}

/*
 * Give the replacement (fd) what the original had: check that the
 * original is still the file opened (409), copy its permission bits and
 * its group (and owner, when running as root) where allowed.  A new file
 * is 0644.  0 or a status.
 */
static int
uri_take_over(const struct uri_artifact *art, int fd, char *err, size_t errlen)
{
	if (!art->have_orig) {
		if (fchmod(fd, 0644) < 0)
			log_warn("fchmod %s", art->tmppath);
		return 0;
	}
	if (uri_unchanged(art, err, errlen) != 0)
		return 409;
	if (fchmod(fd, art->orig.st_mode & 0777) < 0) {
		log_warn("fchmod %s", art->tmppath);
		snprintf(err, errlen, "Cannot set the signed artifact's mode");
		return 500;
	}
	if (fchown(fd, geteuid() == 0 ? art->orig.st_uid : (uid_t)-1, art->orig.st_gid) < 0) {
		if (errno != EPERM)
			log_warn("fchown %s", art->tmppath);
		else
			log_warnx("%s: the signed artifact keeps its mode but not its group %lu: "
				  "the service user is not a member of it",
				  art->path, (unsigned long)art->orig.st_gid);
	}
	return 0;
}

static int
uri_commit_file(struct uri_artifact *art, char *err, size_t errlen)
{
	struct stat tst;
	int fd, st;

	if (art->unnamed) {
		fd = art->outfd;
		art->outfd = -1;
	} else {
		/* The name may have been written by a tool: use what it holds now. */
		fd = openat(art->dirfd, art->tmpname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0 || fstat(fd, &tst) < 0 || !S_ISREG(tst.st_mode)) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "The signed artifact is missing");
		return 500;
	}
	if ((st = uri_take_over(art, fd, err, errlen)) != 0) {
		close(fd);
		return st;
	}
	if (fsync(fd) < 0) {
		st = util_write_status(errno);
		log_warn("fsync %s", art->tmppath);
		close(fd);
		snprintf(err, errlen, "Writing the signed artifact failed");
		return st;
	}
	/* an unnamed replacement gets its name only now, just before the rename;
	 * a directory that needs a block it cannot get is a full disk (507) */
	if (art->unnamed && uri_name_temp(art->dirfd, fd, art->base, &art->tmpname) < 0) {
		int e = errno;

		log_warn("naming the replacement of %s", art->path);
		close(fd);
		return uri_replace_err(e, err, errlen);
	}
	close(fd);
	if (art->have_orig && (st = uri_unchanged(art, err, errlen)) != 0)
		return st;
	if (renameat(art->dirfd, art->tmpname, art->dirfd, art->base) < 0) {
		int e = errno;

		log_warn("rename %s to %s", art->tmppath, art->path);
		return uri_replace_err(e, err, errlen);
	}
	free(art->tmpname);
	art->tmpname = NULL;
	if (fsync(art->dirfd) < 0)
		log_warn("fsync of the directory of %s", art->path);
	return 0;
}

static int
uri_commit_s3(struct uri_artifact *art, char *err, size_t errlen)
{
	struct s3_error e = {0};
	int fd, rc;

	if (art->have_orig && art->etag[0]) {
		char etag[128] = "";

		rc = s3_head(art->cfg, art->bucket, art->key, NULL, etag, sizeof(etag), &e);
		if (rc == 404 || (rc == 0 && strcmp(etag, art->etag) != 0)) {
			snprintf(err, errlen, "Artifact changed during signing");
			return 409;
		}
		if (rc != 0)
			return uri_s3_status(&e, "upload", err, errlen);
	}
	fd = open(art->tmppath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "The signed artifact is missing");
		return 500;
	}
	rc = s3_put_fd(art->cfg, art->bucket, art->key, fd, &e);
	close(fd);
	if (rc != 0)
		return uri_s3_status(&e, "upload", err, errlen);
	return 0;
}

int
uri_commit(struct uri_artifact *art, char *err, size_t errlen)
{
	int st;

	if (art->tmppath == NULL || art->committed) {
		snprintf(err, errlen, "no replacement to commit");
		return 500;
	}
	if (art->outfd >= 0 && !art->unnamed) {
		close(art->outfd);
		art->outfd = -1;
	}
	st = art->is_s3 ? uri_commit_s3(art, err, errlen) : uri_commit_file(art, err, errlen);
	if (st != 0) {
		uri_abort(art);
		return st;
	}
	art->committed = 1;
	log_info("replaced artifact %s%s%s", art->is_s3 ? art->bucket : art->path,
		 art->is_s3 ? "/" : "", art->is_s3 ? art->key : "");
	return 0;
}

void
uri_abort(struct uri_artifact *art)
{
	if (art == NULL)
		return;
	if (art->outfd >= 0) {
		close(art->outfd);
		art->outfd = -1;
	}
	if (art->tmpname != NULL) {
		if (unlinkat(art->dirfd, art->tmpname, 0) < 0 && errno != ENOENT)
			log_warn("unlink %s", art->tmppath);
	} else if (art->is_s3 && art->tmppath != NULL) {
		unlink(art->tmppath);
	}
	free(art->tmpname);
	free(art->tmppath);
	art->tmpname = NULL;
	art->tmppath = NULL;
}

void
uri_close(struct uri_artifact *art)
{
	if (art == NULL)
		return;
	if (!art->committed)
		uri_abort(art);
	else if (art->is_s3 && art->tmppath != NULL)
		unlink(art->tmppath);
	if (art->fd >= 0)
		close(art->fd);
	if (art->dirfd >= 0)
		close(art->dirfd);
	if (art->inpath != NULL)
		unlink(art->inpath);
	free(art->path);
	free(art->base);
	free(art->bucket);
	free(art->key);
	free(art->inpath);
	free(art->jobdir);
	free(art->tmpname);
	free(art->tmppath);
	free(art);
}

int
uri_download(const struct config *cfg, const char *uri, const char *dest_path, char *err,
	     size_t errlen)
{
	struct uri_artifact *a = NULL;
	char *canon;
	int is_s3, st, out;

	if ((st = uri_check(cfg, uri, err, errlen)) != 0)
		return st;
	out = open(dest_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		int e = errno;

		log_warn("%s", dest_path);
		return uri_write_err(e, "the download", "Cannot create the download", err, errlen);
	}
	canon = uri_canonical(uri, 0, &is_s3, err, errlen);
	if (is_s3) {
		struct s3_error e = {0};
		char *bucket, *key;

		s3_parse_uri(canon, &bucket, &key, err, errlen);
		st = s3_get_fd(cfg, bucket, key, out, cfg->artifact_max_size, NULL, 0, &e);
		if (st != 0)
			st = uri_s3_status(&e, "download", err, errlen);
		free(bucket);
		free(key);
	} else {
		a = uri_art_new(cfg);
		st = uri_open_file(a, canon, err, errlen);
		if (st == 0 && fs_copy_fd(a->fd, out) < 0) {
			int e = errno;

			log_warn("copying %s", a->path);
			st = uri_write_err(e, "the download", "Copying the artifact failed", err,
					   errlen);
		}
		uri_close(a);
	}
	free(canon);
	if (close(out) < 0 && st == 0)
		st = uri_write_err(errno, "the download", "Writing the download failed", err,
				   errlen);
	if (st != 0)
		unlink(dest_path);
	return st;
}

int
uri_upload(const struct config *cfg, const char *src_path, const char *uri, char *err,
	   size_t errlen)
{
	struct uri_artifact *a;
	char *canon;
	int is_s3, st, in, out;

	if ((st = uri_check(cfg, uri, err, errlen)) != 0)
		return st;
	in = open(src_path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		log_warn("%s", src_path);
		snprintf(err, errlen, "Cannot open the file to upload");
		return 500;
	}
	canon = uri_canonical(uri, 0, &is_s3, err, errlen);
	a = uri_art_new(cfg);
	a->is_s3 = is_s3;
	if (is_s3) {
		struct s3_error e = {0};

		s3_parse_uri(canon, &a->bucket, &a->key, err, errlen);
		st = s3_put_fd(cfg, a->bucket, a->key, in, &e);
		if (st != 0)
			st = uri_s3_status(&e, "upload", err, errlen);
		a->committed = 1;
		goto out;
	}
	st = uri_open_file(a, canon, err, errlen);
	if (st == 404 && a->dirfd >= 0) {
		/* A new file: nothing to preserve. */
		st = 0;
		a->have_orig = 0;
	}
	if (st == 0)
		st = uri_begin_replace(a, &out, err, errlen);
	if (st == 0 && fs_copy_fd(in, out) < 0) {
		log_warn("copying %s", src_path);
		snprintf(err, errlen, "Writing the artifact failed");
		st = 500;
	}
	if (st == 0)
		st = uri_commit(a, err, errlen);
out:
	close(in);
	uri_close(a);
	free(canon);
	return st;
}
