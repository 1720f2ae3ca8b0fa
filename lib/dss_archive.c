/* SPDX-License-Identifier: MIT */
/*
 * dss_archive.c: see dss_archive.h.  libarchive parses and writes the tar and
 * gzip formats; every file system access is ours, made with *at() calls
 * relative to directory descriptors and O_NOFOLLOW, so that no member can
 * make us write or read through a link, whatever libarchive's own
 * extraction flags would have done.
 */
#include "dss_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif
#include <zlib.h>

#include "buf.h"
#include "config.h"
#include "cpus.h"
#include "log.h"
#include "util.h"

#define AR_MAX_HOPS 40 /* symbolic links followed when checking a target */
#define AR_COPY_BUF 65536

void
ar_limits_from_config(struct ar_limits *lim, const struct config *cfg)
{
	memset(lim, 0, sizeof(*lim));
	lim->max_members = (uint64_t)cfg->archive_max_members;
	lim->max_size = (uint64_t)cfg->archive_max_size;
	lim->max_ratio = (uint64_t)cfg->archive_max_ratio;
	lim->ratio_floor = (uint64_t)cfg->archive_ratio_floor;
	lim->max_cpu_ms = (uint64_t)cfg->archive_max_seconds * 1000;
}

/* --- SipHash-2-4, from the paper's description --- */

static uint64_t
rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t
load_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl64(v[1], 13) ^ v[0];
	v[0] = rotl64(v[0], 32);
	v[2] += v[3];
	v[3] = rotl64(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rotl64(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rotl64(v[1], 17) ^ v[2];
	v[2] = rotl64(v[2], 32);
}

/* Absorb one 64-bit message word with two rounds (the "2" of 2-4). */
static void
sip_word(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sip_round(v);
	sip_round(v);
	v[0] ^= m;
}

uint64_t
ar_siphash(const unsigned char key[16], const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v[4] = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
			 k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
	uint64_t last = (uint64_t)len << 56;
	size_t i;

	for (i = 0; len - i >= 8; i += 8)
		sip_word(v, load_le64(p + i));
	for (size_t j = 0; i + j < len; j++)
		last |= (uint64_t)p[i + j] << (8 * j);
	sip_word(v, last);
	v[2] ^= 0xff;
	for (int r = 0; r < 4; r++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* --- the name index --- */

/*
 * Keyed: with a fixed hash, names chosen to collide put every entry in
 * one probe sequence, and each insertion walks all of it (an unkeyed
 * FNV-1a index took 146 s for 199000 names, a 1.4 MB upload).
 */
int
ar_index_init(struct ar_index *ix)
{
	memset(ix, 0, sizeof(*ix));
	if (getrandom(ix->key, sizeof(ix->key), 0) != (ssize_t)sizeof(ix->key))
		return -1;
	return 0;
}

void
ar_index_free(struct ar_index *ix)
{
	free(ix->slots);
	ix->slots = NULL;
	ix->nslots = 0;
}

static size_t
index_slot(const struct ar_index *ix, const char *name)
{
	return (size_t)ar_siphash(ix->key, name, strlen(name)) & (ix->nslots - 1);
}

/* Put list index idx in the first free slot of its probe sequence. */
static void
index_put(struct ar_index *ix, const struct ar_list *list, size_t idx)
{
	size_t i = index_slot(ix, list->v[idx].name);

	for (ix->probes++; ix->slots[i] != 0; ix->probes++)
		i = (i + 1) & (ix->nslots - 1);
	ix->slots[i] = idx + 1;
}

void
ar_index_add(struct ar_index *ix, const struct ar_list *list, size_t idx)
{
	/* at most half full: probe sequences stay short */
	if ((idx + 1) * 2 > ix->nslots) {
		ix->nslots = ix->nslots ? ix->nslots * 2 : 1024;
		free(ix->slots);
		ix->slots = xcalloc(ix->nslots, sizeof(*ix->slots));
		for (size_t k = 0; k < idx; k++)
			index_put(ix, list, k);
	}
	index_put(ix, list, idx);
}

ssize_t
ar_index_find(struct ar_index *ix, const struct ar_list *list, const char *name)
{
	size_t i;

	if (ix->nslots == 0)
		return -1;
	for (i = index_slot(ix, name), ix->probes++; ix->slots[i] != 0; ix->probes++) {
		if (strcmp(list->v[ix->slots[i] - 1].name, name) == 0)
			return (ssize_t)(ix->slots[i] - 1);
		i = (i + 1) & (ix->nslots - 1);
	}
	return -1;
}

/* A member name made printable and short enough for a one-line reason. */
static const char *
show(const char *name, char *buf, size_t len)
{
	size_t i, j = 0;

	for (i = 0; name[i] != '\0' && j + 4 < len; i++)
		buf[j++] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
	if (name[i] != '\0' && j + 4 <= len) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
	return buf;
}

int
ar_normalize(const char *name, char *out, size_t outlen, const char **why)
{
	const char *p = name, *q;
	size_t o = 0, n;
	int depth = 0;

	if (name[0] == '/') {
		*why = "absolute path";
		return -1;
	}
	while (*p != '\0') {
		q = strchr(p, '/');
		n = q ? (size_t)(q - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			*why = "path with \"..\"";
			return -1;
		}
		if (n > NAME_MAX) {
			*why = "path component too long";
			return -1;
		}
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (++depth > AR_MAX_DEPTH) {
				*why = "path too deep";
				return -1;
			}
			if (o + (o > 0) + n + 1 > outlen || o + n + 1 > PATH_MAX) {
				*why = "path too long";
				return -1;
			}
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	if (o == 0) {
		if (outlen < 2) {
			*why = "path too long";
			return -1;
		}
		out[o++] = '.';
	}
	out[o] = '\0';
	return 0;
}

/* Does the first len bytes of path hold a ".." component? */
static int
has_dotdot(const char *path, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (path[i] == '.' && path[i + 1] == '.' && (i == 0 || path[i - 1] == '/') &&
		    (i + 2 == len || path[i + 2] == '/'))
			return 1;
	return 0;
}

/*
 * The directory named by the first len bytes of relpath, opened in one
 * openat2() call that refuses symbolic links (any component), magic
 * links, mount crossings and escapes from rootfd: the kernel walks the
 * path instead of one openat() per component (a member 60 directories
 * deep would otherwise cost 120 system calls).  -1 with errno; ENOSYS
 * when the kernel (older than 5.6) or a seccomp filter lacks openat2, and
 * the caller walks instead.
 */
static int
open_dir_beneath(int rootfd, const char *relpath, size_t len)
{
#ifdef SYS_openat2
	struct open_how how;
	char dir[PATH_MAX];
	long fd;

	if (len >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, relpath, len);
	dir[len] = '\0';
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	how.resolve =
	    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	do
		fd = syscall(SYS_openat2, rootfd, dir, &how, sizeof(how));
	while (fd < 0 && (errno == EINTR || errno == EAGAIN));
	if (fd < 0 && (errno == EPERM || errno == E2BIG || errno == EINVAL))
		errno = ENOSYS;
	return (int)fd;
#else
	(void)rootfd;
	(void)relpath;
	(void)len;
	errno = ENOSYS;
	return -1;
#endif
}

/* The directory comp in fd, made when missing and create is set (0700,
 * then 0755 whatever the umask) and counted in *made_dirs.
 * A descriptor, or -1 with errno. */
static int
open_component(int fd, const char *comp, int create, uint64_t *made_dirs)
{
	int nfd, made = 0;

	nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (nfd < 0 && errno == ENOENT && create) {
		if (mkdirat(fd, comp, 0700) == 0)
			made = 1;
		else if (errno != EEXIST)
			return -1;
		nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (nfd < 0)
		return -1;
	if (made && fchmod(nfd, 0755) < 0) {
		int e = errno;

		close(nfd);
		errno = e;
		return -1;
	}
	*made_dirs += (uint64_t)made;
	return nfd;
}

/* ar_open_parent, adding to *made the directories it creates. */
static int
open_parent(int rootfd, const char *relpath, int create, const char **base, uint64_t *made_dirs)
{
	char comp[NAME_MAX + 1];
	const char *p = relpath, *slash;
	int fd, nfd;

	slash = strrchr(relpath, '/');
	if (slash != NULL && slash > relpath && !has_dotdot(relpath, (size_t)(slash - relpath))) {
		fd = open_dir_beneath(rootfd, relpath, (size_t)(slash - relpath));
		if (fd >= 0) {
			*base = slash + 1;
			return fd;
		}
		/* a missing directory is made by the walk below */
		if (errno != ENOSYS && !(errno == ENOENT && create))
			return -1;
	}

	if ((fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -1;
	while ((slash = strchr(p, '/')) != NULL) {
		size_t n = (size_t)(slash - p);

		if (n > NAME_MAX) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p = slash + 1;
		if (n == 0 || strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			close(fd);
			errno = EINVAL;
			return -1;
		}
		if ((nfd = open_component(fd, comp, create, made_dirs)) < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
		close(fd);
		fd = nfd;
	}
	*base = p;
	return fd;
}

int
ar_open_parent(int rootfd, const char *relpath, int create, const char **base)
{
	uint64_t made = 0;

	return open_parent(rootfd, relpath, create, base, &made);
}

int
ar_openat(int rootfd, const char *relpath, int flags, mode_t mode)
{
	const char *base;
	int pfd, fd, e;

	if (strcmp(relpath, ".") == 0 || relpath[0] == '\0')
		return openat(rootfd, ".", (flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC);
	if ((pfd = ar_open_parent(rootfd, relpath, (flags & O_CREAT) != 0, &base)) < 0)
		return -1;
	if (base[0] == '\0')
		fd = openat(pfd, ".", (flags & ~(O_CREAT | O_EXCL)) | O_CLOEXEC);
	else
		fd = openat(pfd, base, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	e = errno;
	close(pfd);
	errno = e;
	return fd;
}

/* libarchive's reason for the last failure on a; it may have none (a
 * stream that just ends). */
static const char *
ar_reason(struct archive *a)
{
	const char *why = archive_error_string(a);

	return why != NULL ? why : "unexpected end of input";
}

/* --- extraction --- */

/*
 * A gzip upload is inflated here and handed to libarchive as plain tar:
 * libarchive's gzip reader does not check a member's CRC-32 and length
 * (its trailer), so a damaged upload was extracted and signed; zlib
 * checks both.  Members follow each other (as gzip -d reads them); bytes
 * after the last one that do not start another are ignored, as gzip does.
 */
struct gz {
	int fd;
	z_stream z;
	int ended;  /* the current member is complete */
	int in_eof; /* the input is all read */
	int done;   /* nothing more comes out */
	int no_memory; /* inflate ran out of memory: our failure, not the upload's */
	uint64_t out_total;
	char err[160];
	unsigned char in[AR_COPY_BUF], out[AR_COPY_BUF];
};

struct xctx {
	struct archive *a;
	struct gz *gz; /* a gzip upload's inflater, or NULL */
	int rootfd;
	const struct ar_limits *lim;
	struct ar_list *list;
	struct buf entries; /* list->v's storage while extracting */
	struct ar_index index;
	uint64_t members, bytes;
	uint64_t expand_max; /* ratio limit on the stream and the contents; 0 none */
	uint64_t cpu_end;    /* thread CPU ms at which extraction stops; 0 never */
	int pfd;             /* the directory of the last member written, or -1 */
	int through_callers; /* a link resolved through one of lim->caller_names */
	size_t plen;
	char ppath[PATH_MAX]; /* its name */
	char *err;
	size_t errlen;
};

static int
xfail(struct xctx *x, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
xfail(struct xctx *x, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->err, x->errlen, fmt, ap);
	va_end(ap);
	return status;
}

/* A failed write or create: 507 when the file system is full, as for the
 * upload itself (lib/form.c), 500 otherwise. */
static int
sys_status(int e)
{
	return util_write_status(e);
}

/* The status for a failed walk to a member's directory: the archive's
 * fault when a component is a link or a file, ours otherwise. */
static int
walk_status(int e)
{
	return e == ELOOP || e == ENOTDIR || e == EEXIST ? 400 : sys_status(e);
}

static ssize_t
x_find(struct xctx *x, const char *name)
{
	return ar_index_find(&x->index, x->list, name);
}

/* CPU time of the calling thread in ms: the extraction's own, whatever
 * the load (the modules signer's threads run beside it). */
static uint64_t
thread_cpu_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* 0, or 400 once the extraction has used up its CPU time. */
static int
x_budget(struct xctx *x)
{
	if (x->cpu_end == 0 || thread_cpu_ms() < x->cpu_end)
		return 0;
	return xfail(x, 400, "archive takes more than %llu.%03llu s of CPU time to extract",
		     (unsigned long long)(x->lim->max_cpu_ms / 1000),
		     (unsigned long long)(x->lim->max_cpu_ms % 1000));
}

/*
 * 0, or 400 when the member whose header was just read, with size bytes
 * of data still to come, takes the tar stream (headers included) or, for
 * a file (file = 1), the files' total size past the ratio limit.  Checked
 * before the data is read, so that a bomb is refused before it is
 * written; a pax hard link's data, which libarchive skips, is
 * decompressed all the same and counts too.
 */
static int
x_expansion(struct xctx *x, uint64_t size, int file)
{
	la_int64_t read = archive_filter_bytes(x->a, 0);
	uint64_t stream = read > 0 ? (uint64_t)read : 0;

	if (x->expand_max == 0)
		return 0;
	if (size > x->expand_max || stream > x->expand_max - size ||
	    (file && x->bytes > x->expand_max - size))
		return xfail(x, 400,
			     "archive expands to more than %llu bytes, over %llu times "
			     "its compressed size",
			     (unsigned long long)x->expand_max,
			     (unsigned long long)x->lim->max_ratio);
	return 0;
}

/* Count size more bytes of file contents against ARCHIVE_MAX_SIZE and
 * the ratio; 0 or 400. */
static int
x_count_bytes(struct xctx *x, uint64_t size)
{
	int st;

	if (size > x->lim->max_size - x->bytes)
		return xfail(x, 400, "archive expands to more than %llu bytes",
			     (unsigned long long)x->lim->max_size);
	if ((st = x_expansion(x, size, 1)) != 0)
		return st;
	x->bytes += size;
	return 0;
}

static int
x_too_many(struct xctx *x)
{
	return xfail(x, 400, "archive has more than %llu members",
		     (unsigned long long)x->lim->max_members);
}

/* 0, or 400 when the caller's admit hook refuses the member. */
static int
x_admit(struct xctx *x, const char *name, const char *shown, enum ar_type type, uint64_t size)
{
	char why[256] = "";

	if (x->lim->admit == NULL ||
	    x->lim->admit(name, type, size, x->lim->admit_arg, why, sizeof(why)) == 0)
		return 0;
	return xfail(x, 400, "member %s: %s", shown, why[0] ? why : "refused");
}

/* The declared size of the member's data (a sparse file's full size). */
static uint64_t
declared_size(struct archive_entry *ae)
{
	return archive_entry_size_is_set(ae) && archive_entry_size(ae) > 0
		   ? (uint64_t)archive_entry_size(ae)
		   : 0;
}

/*
 * The directory holding name in *fd, made (0755) with any missing parent,
 * each counted as a member, and name's last component in *base; 0 or a
 * status.  The descriptor belongs to x: an archive lists a directory's
 * members together, so the next member mostly finds it open.  Nothing is
 * ever removed or renamed during an extraction, so the name keeps
 * leading to that directory.
 */
static int
x_parent(struct xctx *x, const char *name, const char *shown, const char **base, int *fd)
{
	const char *slash = strrchr(name, '/');
	size_t len = slash != NULL ? (size_t)(slash - name) : 0;
	uint64_t made = 0;
	int nfd, e;

	*base = slash != NULL ? slash + 1 : name;
	*fd = x->rootfd;
	if (slash == NULL)
		return 0;
	if (x->pfd >= 0 && len == x->plen && memcmp(name, x->ppath, len) == 0) {
		*fd = x->pfd;
		return 0;
	}
	nfd = open_parent(x->rootfd, name, 1, base, &made);
	e = errno;
	x->members += made;
	if (nfd < 0)
		return walk_status(e) == 400
			   ? xfail(x, 400, "member %s: path goes through a link or a file (%s)",
				   shown, strerror(e))
			   : xfail(x, walk_status(e), "member %s: %s", shown, strerror(e));
	if (x->members > x->lim->max_members) {
		close(nfd);
		return x_too_many(x);
	}
	if (x->pfd >= 0)
		close(x->pfd);
	x->pfd = nfd;
	memcpy(x->ppath, name, len);
	x->ppath[len] = '\0';
	x->plen = len;
	*fd = nfd;
	return 0;
}

/* Append a new entry (name copied) and index it. */
static struct ar_entry *
x_add(struct xctx *x, const char *name, enum ar_type type, struct archive_entry *ae)
{
	struct ar_entry *e;
	const char *s;

	if (buf_reserve(&x->entries, sizeof(*e)) < 0)
		log_panic("the member list cannot grow"); /* BUF_UNLIMITED */
	x->list->v = (struct ar_entry *)(void *)x->entries.data;
	e = &x->list->v[x->list->n];
	memset(e, 0, sizeof(*e));
	buf_commit(&x->entries, sizeof(*e));
	e->name = xstrdup(name);
	e->type = type;
	e->mode = archive_entry_perm(ae) & 0777;
	if (archive_entry_mtime_is_set(ae)) {
		e->mtime = archive_entry_mtime(ae);
		e->mtime_nsec = archive_entry_mtime_nsec(ae);
	}
	e->uid = archive_entry_uid(ae);
	e->gid = archive_entry_gid(ae);
	if ((s = archive_entry_uname(ae)) != NULL)
		e->uname = xstrdup(s);
	if ((s = archive_entry_gname(ae)) != NULL)
		e->gname = xstrdup(s);
	x->list->n++;
	ar_index_add(&x->index, x->list, x->list->n - 1);
	return e;
}

static void
entry_times(const struct ar_entry *e, struct timespec ts[2])
{
	ts[0].tv_sec = ts[1].tv_sec = (time_t)e->mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = e->mtime_nsec;
}

/* Write the data of the current member to fd; 0 or a status.  A sparse
 * member's holes stay holes. */
static int
x_copy_data(struct xctx *x, int fd, const char *shown, uint64_t size)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	uint64_t end = 0;
	int r, st;

	for (;;) {
		r = archive_read_data_block(x->a, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return xfail(x, 400, "member %s: damaged or truncated archive: %s", shown,
				     ar_reason(x->a));
		if (off < 0 || (uint64_t)off > size || len > size - (uint64_t)off)
			return xfail(x, 400, "member %s: data beyond its size", shown);
		if ((st = x_budget(x)) != 0)
			return st;
		if (len > 0 && (uint64_t)off + len > end)
			end = (uint64_t)off + len;
		while (len > 0) {
			ssize_t n = pwrite(fd, buf, len, off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return xfail(x, n < 0 ? sys_status(errno) : 500,
					     "member %s: write: %s", shown,
					     n < 0 ? strerror(errno) : "short write");
			buf = (const char *)buf + n;
			len -= (size_t)n;
			off += n;
		}
	}
	/* a hole at the end */
	if (end < size && ftruncate(fd, (off_t)size) < 0)
		return xfail(x, sys_status(errno), "member %s: truncate: %s", shown,
			     strerror(errno));
	return 0;
}

/* The lexical part of the symbolic link check: can target, read from the
 * directory holding name, climb above the top?  1 if it does. */
static int
link_climbs_out(const char *name, const char *target)
{
	long depth = 0;
	const char *p, *q;
	size_t n;

	for (p = name; (q = strchr(p, '/')) != NULL; p = q + 1)
		depth++;
	for (p = target; *p != '\0'; p += n + (p[n] == '/')) {
		q = strchr(p, '/');
		n = q ? (size_t)(q - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return 1;
		} else
			depth++;
	}
	return 0;
}

/* The member's type in *type; 0, or 400 for a type that is refused. */
static int
x_type(struct xctx *x, struct archive_entry *ae, const char *shown, enum ar_type *type)
{
	if (archive_entry_hardlink(ae) != NULL) {
		*type = AR_HARDLINK;
		return 0;
	}
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG:
		*type = AR_FILE;
		return 0;
	case AE_IFDIR:
		*type = AR_DIR;
		return 0;
	case AE_IFLNK:
		*type = AR_SYMLINK;
		return 0;
	case AE_IFCHR:
	case AE_IFBLK:
		return xfail(x, 400, "member %s: device nodes are not allowed", shown);
	case AE_IFIFO:
		return xfail(x, 400, "member %s: FIFOs are not allowed", shown);
	case AE_IFSOCK:
		return xfail(x, 400, "member %s: sockets are not allowed", shown);
	default:
		return xfail(x, 400, "member %s: unknown file type", shown);
	}
}

/* The regular file a hard link member names, in *file; 0 or 400. */
static int
x_link_target(struct xctx *x, const char *hard, const char *shown, const struct ar_entry **file)
{
	char tname[PATH_MAX], tshown[128];
	const struct ar_entry *t;
	const char *why;
	ssize_t idx;

	show(hard, tshown, sizeof(tshown));
	if (ar_normalize(hard, tname, sizeof(tname), &why) < 0)
		return xfail(x, 400, "member %s: hard link to %s: %s", shown, tshown, why);
	if ((idx = x_find(x, tname)) < 0)
		return xfail(x, 400, "member %s: hard link to %s, which is not an earlier member",
			     shown, tshown);
	t = &x->list->v[idx];
	if (t->type == AR_HARDLINK && (idx = x_find(x, t->link)) >= 0)
		t = &x->list->v[idx]; /* links always name the file itself */
	if (t->type != AR_FILE)
		return xfail(x, 400, "member %s: hard link to %s, which is not a regular file",
			     shown, tshown);
	*file = t;
	return 0;
}

static int
x_hardlink(struct xctx *x, struct archive_entry *ae, const char *name, const char *shown)
{
	const struct ar_entry *t = NULL;
	struct ar_entry file, *e;
	const char *tbase, *base;
	int tfd, pfd, st;

	if ((st = x_link_target(x, archive_entry_hardlink(ae), shown, &t)) != 0 ||
	    (st = x_expansion(x, declared_size(ae), 0)) != 0 ||
	    (st = x_admit(x, name, shown, AR_HARDLINK, t->size)) != 0)
		return st;
	/* a link counts its file's size, as a sparse member its full size:
	 * a signer that reads each name (modules signs and answers each
	 * one) pays that much again, for a few hundred bytes of upload */
	if ((st = x_count_bytes(x, t->size)) != 0)
		return st;
	/* the link shares the file's inode, so its mode and times; copy them
	 * before x_add() moves the list */
	file = *t;
	if ((tfd = ar_open_parent(x->rootfd, file.name, 0, &tbase)) < 0)
		return xfail(x, 500, "member %s: %s", file.name, strerror(errno));
	if ((st = x_parent(x, name, shown, &base, &pfd)) == 0 &&
	    linkat(tfd, tbase, pfd, base, 0) < 0)
		st = xfail(x, errno == EEXIST || errno == EMLINK ? 400 : sys_status(errno),
			   "member %s: link: %s", shown, strerror(errno));
	close(tfd);
	if (st != 0)
		return st;
	e = x_add(x, name, AR_HARDLINK, ae);
	e->link = xstrdup(file.name);
	e->mode = file.mode;
	e->size = file.size;
	e->mtime = file.mtime;
	e->mtime_nsec = file.mtime_nsec;
	return 0;
}

static int
x_symlink(struct xctx *x, struct archive_entry *ae, const char *name, const char *shown)
{
	const char *target = archive_entry_symlink(ae), *base;
	char tshown[128];
	struct timespec ts[2];
	struct ar_entry *e;
	int pfd, st;

	if (target == NULL || target[0] == '\0')
		return xfail(x, 400, "member %s: symbolic link without a target", shown);
	if (strlen(target) >= PATH_MAX)
		return xfail(x, 400, "member %s: symbolic link target too long", shown);
	show(target, tshown, sizeof(tshown));
	if (target[0] == '/')
		return xfail(x, 400, "member %s: symbolic link to an absolute path (%s)", shown,
			     tshown);
	if (link_climbs_out(name, target))
		return xfail(x, 400, "member %s: symbolic link leaves the tree (%s)", shown,
			     tshown);
	if ((st = x_parent(x, name, shown, &base, &pfd)) != 0)
		return st;
	if (symlinkat(target, pfd, base) < 0)
		return xfail(x, errno == EEXIST ? 400 : sys_status(errno), "member %s: %s", shown,
			     errno == EEXIST ? "already exists" : strerror(errno));
	e = x_add(x, name, AR_SYMLINK, ae);
	e->link = xstrdup(target);
	entry_times(e, ts);
	if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return xfail(x, 500, "member %s: %s", shown, strerror(errno));
	return 0;
}

static int
x_dir(struct xctx *x, struct archive_entry *ae, const char *name, const char *shown)
{
	const char *base;
	struct stat sb;
	int pfd, st, e;

	if ((st = x_parent(x, name, shown, &base, &pfd)) != 0)
		return st;
	if (mkdirat(pfd, base, 0700) < 0) {
		e = errno;
		if (e != EEXIST)
			return xfail(x, sys_status(e), "member %s: %s", shown, strerror(e));
		/* made earlier as the parent of a member */
		if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(sb.st_mode))
			return xfail(x, 400, "member %s: exists and is not a directory", shown);
	}
	x_add(x, name, AR_DIR, ae);
	return 0;
}

static int
x_file(struct xctx *x, struct archive_entry *ae, const char *name, const char *shown)
{
	uint64_t size = declared_size(ae);
	const char *base;
	struct timespec ts[2];
	struct ar_entry *e;
	int pfd, fd, st;

	if ((st = x_admit(x, name, shown, AR_FILE, size)) != 0)
		return st;
	if ((st = x_count_bytes(x, size)) != 0)
		return st;
	if ((st = x_parent(x, name, shown, &base, &pfd)) != 0)
		return st;
	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return xfail(x, errno == EEXIST ? 400 : sys_status(errno), "member %s: %s", shown,
			     errno == EEXIST ? "already exists" : strerror(errno));
	e = x_add(x, name, AR_FILE, ae);
	e->size = size;
	st = x_copy_data(x, fd, shown, size);
	if (st == 0) {
		entry_times(e, ts);
		mode_t disk = e->mode | S_IRUSR | S_IWUSR;

		if (x->lim->flags & AR_NO_EXEC)
			disk &= (mode_t)~0111;
		if (fchmod(fd, disk) < 0 || futimens(fd, ts) < 0)
			st = xfail(x, 500, "member %s: %s", shown, strerror(errno));
	}
	if (close(fd) < 0 && st == 0)
		st = xfail(x, sys_status(errno), "member %s: close: %s", shown, strerror(errno));
	return st;
}

static int
x_extract_entry(struct xctx *x, struct archive_entry *ae)
{
	char name[PATH_MAX], shown[128];
	const char *raw = archive_entry_pathname(ae), *why;
	enum ar_type type;
	struct ar_entry *e;
	ssize_t idx;
	int st;

	if (raw == NULL)
		return xfail(x, 400, "member with an unreadable name");
	show(raw, shown, sizeof(shown));
	if (ar_normalize(raw, name, sizeof(name), &why) < 0)
		return xfail(x, 400, "member %s: %s", shown, why);
	if ((st = x_type(x, ae, shown, &type)) != 0)
		return st;
	if ((idx = x_find(x, name)) >= 0) {
		e = &x->list->v[idx];
		if (type != AR_DIR || e->type != AR_DIR)
			return xfail(x, 400, "member %s appears twice", shown);
		e->mode = archive_entry_perm(ae) & 0777;
		e->mtime = archive_entry_mtime(ae);
		e->mtime_nsec = archive_entry_mtime_nsec(ae);
		return 0;
	}
	if (strcmp(name, ".") == 0) {
		if (type != AR_DIR)
			return xfail(x, 400, "member %s: the top is not a directory", shown);
		x_add(x, name, type, ae);
		return 0;
	}
	switch (type) {
	case AR_HARDLINK:
		return x_hardlink(x, ae, name, shown);
	case AR_SYMLINK:
		return x_symlink(x, ae, name, shown);
	case AR_DIR:
		return x_dir(x, ae, name, shown);
	case AR_FILE:
		return x_file(x, ae, name, shown);
	}
	return 0;
}

/* 1 if the name inside the tree is, or lies below, one of the caller's
 * names (ar_limits.caller_names); with or_above, also if it is a
 * directory on the way to one. */
static int
is_callers(const struct xctx *x, const char *name, int or_above)
{
	size_t len = strlen(name);

	for (size_t i = 0; x->lim->caller_names != NULL && x->lim->caller_names[i] != NULL; i++) {
		const char *c = x->lim->caller_names[i];
		size_t n = strlen(c);

		if (strncmp(name, c, n) == 0 && (name[n] == '\0' || name[n] == '/'))
			return 1;
		if (or_above && strncmp(c, name, len) == 0 && c[len] == '/')
			return 1;
	}
	return 0;
}

/*
 * The symbolic link check, once the whole tree is out.  Each link is
 * resolved the way the kernel would, through the extracted tree, never
 * leaving it: every link met on the way is replaced by its own
 * resolution, which is worked out once and kept (links to links are
 * common, and resolving each chain anew cost a hostile archive of 14 kB
 * of links 7 s of CPU); below a component that is missing or not a
 * directory nothing more is looked up, since the kernel goes no further.
 * A link fails when its target, or any link on the way, climbs out, is
 * absolute or loops, or when more than AR_MAX_HOPS links are followed.
 */
struct link_memo {
	char *path;    /* the resolution: a name inside the tree without links */
	unsigned hops; /* links followed to get it, this one included */
	int state;     /* 0 not yet, 1 being resolved, 2 done, -1 fails */
};

static int link_resolve(struct xctx *x, struct link_memo *memo, size_t idx, int depth);

/* Resolve path, read from the directory cur holds (a name inside the tree
 * without links, "" for the top), into cur, adding the links followed to
 * *hops; 0 or -1. */
static int
resolve_path(struct xctx *x, struct link_memo *memo, char cur[PATH_MAX], const char *path,
	     unsigned *hops, int depth)
{
	size_t clen = strlen(cur), n, ghost = 0; /* components below a missing one */
	const char *p = path, *slash;
	struct stat sb;
	ssize_t idx;

	for (; *p != '\0'; p += n + (slash != NULL)) {
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *up = strrchr(cur, '/');

			if (clen == 0)
				return -1;
			clen = up ? (size_t)(up - cur) : 0;
			cur[clen] = '\0';
			ghost -= ghost > 0;
			continue;
		}
		if (clen + 1 + n + 1 > PATH_MAX)
			return -1;
		if (clen > 0)
			cur[clen++] = '/';
		memcpy(cur + clen, p, n);
		clen += n;
		cur[clen] = '\0';
		if (ghost > 0 || fstatat(x->rootfd, cur, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !(S_ISDIR(sb.st_mode) || S_ISLNK(sb.st_mode))) {
			ghost++;
			continue;
		}
		if (S_ISDIR(sb.st_mode))
			continue;
		/* a link the caller will replace (at one of its names, below
		 * or on the way to one) leads elsewhere once it has */
		if (is_callers(x, cur, 1)) {
			x->through_callers = 1;
			return -1;
		}
		if ((idx = x_find(x, cur)) < 0 || x->list->v[idx].type != AR_SYMLINK ||
		    link_resolve(x, memo, (size_t)idx, depth + 1) < 0)
			return -1;
		*hops += memo[idx].hops;
		if (*hops > AR_MAX_HOPS)
			return -1;
		clen = strlen(memo[idx].path);
		memcpy(cur, memo[idx].path, clen + 1);
	}
	return 0;
}

/* Resolve the link at list index idx into memo[idx]; 0 or -1. */
static int
link_resolve(struct xctx *x, struct link_memo *memo, size_t idx, int depth)
{
	const struct ar_entry *e = &x->list->v[idx];
	struct link_memo *m = &memo[idx];
	char cur[PATH_MAX], *slash;
	unsigned hops = 1;

	if (m->state != 0)
		return m->state == 2 ? 0 : -1; /* 1: a loop */
	if (depth > AR_MAX_HOPS || e->link[0] == '/') {
		m->state = -1;
		return -1;
	}
	m->state = 1;
	snprintf(cur, sizeof(cur), "%s", e->name);
	slash = strrchr(cur, '/');
	*(slash != NULL ? slash : cur) = '\0';
	if (resolve_path(x, memo, cur, e->link, &hops, depth) < 0) {
		m->state = -1;
		return -1;
	}
	m->path = xstrdup(cur);
	m->hops = hops;
	m->state = 2;
	return 0;
}

/* Apply directory modes and times once nothing more is created in them. */
static int
x_finish_dirs(struct xctx *x)
{
	struct timespec ts[2];
	char shown[128];
	int st;

	for (size_t i = x->list->n; i-- > 0;) {
		const struct ar_entry *e = &x->list->v[i];
		int fd;

		if (e->type != AR_DIR || strcmp(e->name, ".") == 0)
			continue;
		if ((st = x_budget(x)) != 0)
			return st;
		show(e->name, shown, sizeof(shown));
		if ((fd = ar_openat(x->rootfd, e->name, O_RDONLY | O_DIRECTORY, 0)) < 0)
			return xfail(x, 500, "member %s: %s", shown, strerror(errno));
		entry_times(e, ts);
		if (fchmod(fd, e->mode | S_IRWXU) < 0 || futimens(fd, ts) < 0) {
			close(fd);
			return xfail(x, 500, "member %s: %s", shown, strerror(errno));
		}
		close(fd);
	}
	return 0;
}

/* Check every symbolic link once the whole tree is out; 0 or 400. */
static int
x_check_links(struct xctx *x)
{
	struct link_memo *memo = xcalloc(x->list->n ? x->list->n : 1, sizeof(*memo));
	char shown[128];
	int st = 0;

	for (size_t i = 0; i < x->list->n && st == 0; i++) {
		const struct ar_entry *e = &x->list->v[i];

		if (e->type != AR_SYMLINK)
			continue;
		if ((st = x_budget(x)) == 0 && link_resolve(x, memo, i, 0) < 0)
			st = xfail(x, 400,
				   x->through_callers
				       ? "member %s: symbolic link through a name the server uses"
				       : "member %s: symbolic link leaves the tree",
				   show(e->name, shown, sizeof(shown)));
		else if (st == 0 && is_callers(x, memo[i].path, 0))
			st = xfail(x, 400, "member %s: symbolic link to a name the server uses",
				   show(e->name, shown, sizeof(shown)));
	}
	for (size_t i = 0; i < x->list->n; i++)
		free(memo[i].path);
	free(memo);
	return st;
}

/* Extract every member, calling each (if not NULL) with each new one. */
static int
x_read_all(struct xctx *x, void (*each)(const struct ar_entry *e, void *arg), void *arg)
{
	struct archive_entry *ae;
	size_t n;
	int r, st;

	for (;;) {
		r = archive_read_next_header(x->a, &ae);
		if (r == ARCHIVE_EOF)
			return x_budget(x); /* the last member's data was skipped */
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return xfail(x, x->gz != NULL && x->gz->no_memory ? 500 : 400,
				     "damaged or truncated archive: %s", ar_reason(x->a));
		/* the headers count too: pax headers of a megabyte compress well */
		if ((st = x_budget(x)) != 0 || (st = x_expansion(x, 0, 0)) != 0)
			return st;
		if (++x->members > x->lim->max_members)
			return x_too_many(x);
		n = x->list->n;
		if ((st = x_extract_entry(x, ae)) != 0)
			return st;
		if (each != NULL && x->list->n > n)
			each(&x->list->v[x->list->n - 1], arg);
	}
}

/* More input for g when it has no more than keep bytes left (kept, at the
 * start of the buffer); -1 with g->err on a read error. */
static int
gz_fill(struct gz *g, size_t keep)
{
	ssize_t n;

	if (g->z.avail_in > keep || g->in_eof)
		return 0;
	if (g->z.avail_in > 0)
		memmove(g->in, g->z.next_in, g->z.avail_in);
	do
		n = read(g->fd, g->in + g->z.avail_in, sizeof(g->in) - g->z.avail_in);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		snprintf(g->err, sizeof(g->err), "read: %s", strerror(errno));
		return -1;
	}
	g->in_eof = n == 0;
	g->z.next_in = g->in;
	g->z.avail_in += (uInt)n;
	return 0;
}

/* The next inflated bytes of g in *out: their count, 0 at the end, or -1
 * with g->err (a damaged or truncated stream). */
static ssize_t
gz_next(struct gz *g, const void **out)
{
	*out = g->out;
	while (!g->done) {
		size_t got;
		int r;

		/* between members, the next one's two magic bytes */
		if (gz_fill(g, g->ended ? 1 : 0) < 0)
			return -1;
		if (g->ended) {
			/* another member, or the end */
			if (g->z.avail_in < 2 || g->z.next_in[0] != 0x1f || g->z.next_in[1] != 0x8b) {
				g->done = 1; /* trailing bytes: ignored, as gzip does */
				break;
			}
			if (inflateReset(&g->z) != Z_OK) {
				snprintf(g->err, sizeof(g->err), "inflateReset failed");
				return -1;
			}
			g->ended = 0;
		}
		g->z.next_out = g->out;
		g->z.avail_out = sizeof(g->out);
		r = inflate(&g->z, Z_NO_FLUSH);
		got = sizeof(g->out) - g->z.avail_out;
		if (r == Z_STREAM_END) {
			g->ended = 1;
		} else if (r == Z_BUF_ERROR || (r == Z_OK && got == 0)) {
			if (g->in_eof && g->z.avail_in == 0) {
				snprintf(g->err, sizeof(g->err), "gzip stream cut short");
				return -1;
			}
		} else if (r == Z_MEM_ERROR) {
			g->no_memory = 1;
			snprintf(g->err, sizeof(g->err), "out of memory");
			return -1;
		} else if (r != Z_OK) {
			snprintf(g->err, sizeof(g->err), "damaged gzip stream (%s)",
				 g->z.msg != NULL ? g->z.msg : "inflate failed");
			return -1;
		}
		if (got > 0) {
			g->out_total += got;
			return (ssize_t)got;
		}
	}
	return 0;
}

/* libarchive's read callback on a struct gz. */
static la_ssize_t
gz_read_cb(struct archive *a, void *arg, const void **buf)
{
	struct gz *g = arg;
	ssize_t n = gz_next(g, buf);

	if (n < 0)
		archive_set_error(a, EINVAL, "%s", g->err);
	return n;
}

/*
 * What follows the tar's end in a gzip upload is inflated too, so that
 * the last member's CRC-32 and length are checked; at most
 * AR_GZIP_TAIL_MAX bytes of it (tar pads to its record size).  0 or 400.
 */
#define AR_GZIP_TAIL_MAX (16 << 20)
static int
x_gzip_tail(struct xctx *x)
{
	uint64_t start = x->gz->out_total;
	const void *buf;
	ssize_t n;
	int st;

	while ((n = gz_next(x->gz, &buf)) > 0) {
		if (x->gz->out_total - start > AR_GZIP_TAIL_MAX)
			return xfail(x, 400, "more than %d bytes after the end of the archive",
				     AR_GZIP_TAIL_MAX);
		if ((st = x_budget(x)) != 0)
			return st;
	}
	if (n < 0)
		return xfail(x, 400, "damaged or truncated archive: %s", x->gz->err);
	return 0;
}

/* Open the archive on fd for reading; 0 or a status. */
static int
x_open_reader(struct xctx *x, int fd)
{
	unsigned char magic[2];
	off_t pos = lseek(fd, 0, SEEK_CUR);
	ssize_t n = -1;

	if ((x->a = archive_read_new()) == NULL)
		return xfail(x, 500, "out of memory");
	archive_read_support_format_tar(x->a);
	/* its first bytes, leaving the offset where it is */
	if (pos >= 0)
		do
			n = pread(fd, magic, sizeof(magic), pos);
		while (n < 0 && errno == EINTR);
	if (n == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
		x->gz = xcalloc(1, sizeof(*x->gz));
		x->gz->fd = fd;
		if (inflateInit2(&x->gz->z, 15 + 16) != Z_OK) {
			free(x->gz);
			x->gz = NULL;
			return xfail(x, 500, "out of memory");
		}
		if (archive_read_open(x->a, x->gz, NULL, gz_read_cb, NULL) != ARCHIVE_OK)
			return xfail(x, 400, "not a readable archive: %s", ar_reason(x->a));
		return 0;
	}
	if (!(x->lim->flags & AR_ANY_FILTER))
		return xfail(x, 400, "not gzip-compressed");
	/* built-in decoders only: _all() would also run external programs
	 * for the formats libarchive lacks */
	archive_read_support_filter_bzip2(x->a);
	archive_read_support_filter_xz(x->a);
	archive_read_support_filter_zstd(x->a);
	if (archive_read_open_fd(x->a, fd, AR_COPY_BUF) != ARCHIVE_OK)
		return xfail(x, 400, "not a readable archive: %s", ar_reason(x->a));
	return 0;
}

/* The ratio limit for the input on fd: max_ratio times its size, at
 * least ratio_floor; 0 for none. */
static uint64_t
expansion_limit(const struct ar_limits *lim, int fd)
{
	struct stat sb;
	uint64_t n;

	if (lim->max_ratio == 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return 0;
	n = (uint64_t)sb.st_size;
	n = n > UINT64_MAX / lim->max_ratio ? UINT64_MAX : n * lim->max_ratio;
	if (n < lim->ratio_floor)
		n = lim->ratio_floor;
	return n > 0 ? n : 1;
}

/* ar_extract_fd, calling each (if not NULL) with every new member. */
static int
extract_fd(int fd, const char *dest, const struct ar_limits *lim, struct ar_list *list,
	   void (*each)(const struct ar_entry *e, void *arg), void *arg, char *err, size_t errlen)
{
	struct xctx x;
	int st;

	memset(&x, 0, sizeof(x));
	x.lim = lim;
	x.list = list;
	x.err = err;
	x.errlen = errlen;
	x.pfd = -1;
	err[0] = '\0';
	if (ar_index_init(&x.index) < 0)
		return xfail(&x, 500, "getrandom: %s", strerror(errno));
	/* the list grows in a buf; what it held already moves there */
	buf_init(&x.entries, BUF_UNLIMITED, 0);
	if (list->n > 0 && buf_append(&x.entries, list->v, list->n * sizeof(*list->v)) < 0)
		log_panic("the member list cannot grow");
	free(list->v);
	list->v = (struct ar_entry *)(void *)x.entries.data;
	if (lim->max_cpu_ms > 0)
		x.cpu_end = thread_cpu_ms() + lim->max_cpu_ms;
	x.expand_max = expansion_limit(lim, fd);
	for (size_t i = 0; i < list->n; i++)
		ar_index_add(&x.index, list, i);
	if ((x.rootfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		ar_index_free(&x.index);
		return xfail(&x, 500, "%s: %s", dest, strerror(errno));
	}
	st = x_open_reader(&x, fd);
	if (st == 0)
		st = x_read_all(&x, each, arg);
	if (st == 0 && x.gz != NULL)
		st = x_gzip_tail(&x);
	if (st == 0)
		st = x_check_links(&x);
	if (st == 0)
		st = x_finish_dirs(&x);
	if (x.a != NULL)
		archive_read_free(x.a);
	if (x.gz != NULL) {
		inflateEnd(&x.gz->z);
		free(x.gz);
	}
	if (x.pfd >= 0)
		close(x.pfd);
	close(x.rootfd);
	ar_index_free(&x.index);
	/* the list keeps the storage (ar_list_free frees it) */
	if (list->n > 0) {
		list->v = (struct ar_entry *)(void *)buf_detach(&x.entries, NULL);
	} else {
		buf_free(&x.entries);
		list->v = NULL;
	}
	return st;
}

int
ar_extract_fd(int fd, const char *dest, const struct ar_limits *lim, struct ar_list *list,
	      char *err, size_t errlen)
{
	return extract_fd(fd, dest, lim, list, NULL, NULL, err, errlen);
}

int
ar_extract_each(const char *path, const char *dest, const struct ar_limits *lim,
		struct ar_list *list, void (*each)(const struct ar_entry *e, void *arg), void *arg,
		char *err, size_t errlen)
{
	int fd, st;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return 500;
	}
	st = extract_fd(fd, dest, lim, list, each, arg, err, errlen);
	close(fd);
	return st;
}

int
ar_extract(const char *path, const char *dest, const struct ar_limits *lim, struct ar_list *list,
	   char *err, size_t errlen)
{
	return ar_extract_each(path, dest, lim, list, NULL, NULL, err, errlen);
}

void
ar_list_free(struct ar_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->v[i].name);
		free(list->v[i].link);
		free(list->v[i].uname);
		free(list->v[i].gname);
	}
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

ssize_t
ar_list_find(const struct ar_list *list, const char *name)
{
	for (size_t i = 0; i < list->n; i++)
		if (strcmp(list->v[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* --- writing --- */

/*
 * With threads > 1 the tar stream is cut into AR_BLOCK-byte blocks that a
 * pool of threads compresses, each into a gzip member of its own; the
 * members are written in order, one after the other.  Concatenated gzip
 * members are one valid gzip stream (RFC 1952 section 2.2): gzip, GNU tar,
 * Python and libarchive read them whole.  At most 2 x threads blocks are
 * in flight, so memory stays bounded.
 */
#define AR_BLOCK (1 << 20)

struct ar_block {
	unsigned char *in, *out;
	size_t inlen, outlen;
	int state; /* 0 filling, 1 queued, 2 compressed, -1 failed */
};

struct ar_writer {
	struct archive *a;
	struct archive_entry *ae;
	int fd;
	unsigned char *buf;
	/* parallel gzip */
	int level, nthreads;
	pthread_t *threads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ar_block *ring;
	size_t nring;
	uint64_t head, tail, next; /* written < head <= next to compress <= tail */
	int quit;
	/* the system error that made a write of the archive fail (ENOSPC
	 * ...), 0 until one did; the caller's thread only */
	int werrno;
	int plain_names; /* members named without the "./" prefix */
};

static void
wfail(struct ar_writer *w, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what,
		 w->a && archive_error_string(w->a) ? archive_error_string(w->a) : "failed");
}

/* Compress one block into a gzip member, with libarchive's raw format. */
static int
compress_block(int level, struct ar_block *b)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t cap = b->inlen + b->inlen / 8 + 4096, used = 0;
	char lv[4];
	int rc = -1;

	snprintf(lv, sizeof(lv), "%d", level);
	b->out = xrealloc(b->out, cap);
	if (a == NULL || e == NULL)
		goto done;
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_pathname(e, "block");
	archive_entry_set_size(e, (la_int64_t)b->inlen);
	if (archive_write_set_format_raw(a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "compression-level", lv) != ARCHIVE_OK ||
	    archive_write_set_filter_option(a, "gzip", "timestamp", NULL) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open_memory(a, b->out, cap, &used) != ARCHIVE_OK ||
	    archive_write_header(a, e) != ARCHIVE_OK ||
	    archive_write_data(a, b->in, b->inlen) != (la_ssize_t)b->inlen ||
	    archive_write_close(a) != ARCHIVE_OK)
		goto done;
	b->outlen = used;
	rc = 0;
done:
	if (e != NULL)
		archive_entry_free(e);
	if (a != NULL)
		archive_write_free(a);
	return rc;
}

static void *
gzip_thread(void *arg)
{
	struct ar_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct ar_block *b;
		int rc;

		while (!w->quit && w->next == w->tail)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->next == w->tail)
			break;
		b = &w->ring[w->next++ % w->nring];
		pthread_mutex_unlock(&w->lock);
		rc = compress_block(w->level, b);
		pthread_mutex_lock(&w->lock);
		b->state = rc == 0 ? 2 : -1;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Write the oldest block out once compressed (called with the lock held);
 * 0 or -1. */
/* Write all of buf to the answer's file; 0, or -1 with the first failed
 * write's errno kept in w->werrno. */
static int
write_out(struct ar_writer *w, const void *buf, size_t len)
{
	if (util_write_all(w->fd, buf, len) == 0)
		return 0;
	if (w->werrno == 0)
		w->werrno = errno;
	return -1;
}

/* The archive's error after a failed write: that write's errno. */
static void
set_write_error(struct archive *a, const struct ar_writer *w)
{
	int e = w->werrno ? w->werrno : EIO;

	archive_set_error(a, e, "write: %s", strerror(e));
}

static int
drain_one(struct ar_writer *w)
{
	struct ar_block *b = &w->ring[w->head % w->nring];
	int rc = 0;

	while (b->state == 1)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	if (b->state < 0 || write_out(w, b->out, b->outlen) < 0)
		rc = -1;
	pthread_mutex_lock(&w->lock);
	b->state = 0;
	b->inlen = 0;
	w->head++;
	return rc;
}

/* Queue the block being filled; 0 or -1. */
static int
submit_block(struct ar_writer *w)
{
	int rc = 0;

	pthread_mutex_lock(&w->lock);
	w->ring[w->tail % w->nring].state = 1;
	w->tail++;
	pthread_cond_broadcast(&w->cond);
	while (rc == 0 && (w->tail - w->head == w->nring ||
			   (w->head < w->tail && w->ring[w->head % w->nring].state != 1)))
		rc = drain_one(w);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

/* libarchive's write callback in threaded mode: fill blocks. */
static la_ssize_t
gzip_write(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct ar_writer *w = arg;
	size_t done = 0;

	while (done < len) {
		struct ar_block *b = &w->ring[w->tail % w->nring];
		size_t n = len - done < AR_BLOCK - b->inlen ? len - done : AR_BLOCK - b->inlen;

		if (b->in == NULL)
			b->in = xmalloc(AR_BLOCK);
		memcpy(b->in + b->inlen, (const char *)buf + done, n);
		b->inlen += n;
		done += n;
		if (b->inlen == AR_BLOCK && submit_block(w) < 0) {
			set_write_error(a, w);
			return -1;
		}
	}
	return (la_ssize_t)len;
}

/* libarchive's write callback with one thread: write(2) to w->fd,
 * keeping the errno of a failed write in w->werrno (libarchive's own fd
 * writer keeps it only in the archive's error, which gzip's close then
 * replaces by "Failed to clean up compressor" when the final flush was
 * the write that failed). */
static la_ssize_t
fd_write(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct ar_writer *w = arg;

	if (write_out(w, buf, len) < 0) {
		set_write_error(a, w);
		return -1;
	}
	return (la_ssize_t)len;
}

/* Submit the last block and write everything out; 0 or -1. */
static int
gzip_finish(struct ar_writer *w)
{
	int rc = 0;

	if (w->ring[w->tail % w->nring].inlen > 0)
		rc = submit_block(w);
	pthread_mutex_lock(&w->lock);
	while (w->head < w->tail)
		if (drain_one(w) < 0)
			rc = -1;
	pthread_mutex_unlock(&w->lock);
	return rc;
}

struct ar_writer *
ar_writer_open_threads(const char *path, int level, int threads, char *err, size_t errlen)
{
	struct ar_writer *w = xcalloc(1, sizeof(*w));
	char lv[4];
	int r;

	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", path, strerror(e));
		free(w);
		errno = e;
		return NULL;
	}
	w->level = level >= 1 && level <= 9 ? level : 6;
	w->buf = xmalloc(AR_COPY_BUF);
	if ((w->a = archive_write_new()) == NULL || (w->ae = archive_entry_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	snprintf(lv, sizeof(lv), "%d", w->level);
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK) {
		wfail(w, err, errlen, "archive setup");
		goto fail;
	}
	if (threads > 1) {
		(void)cpus_unpin(); /* on failure they share the worker's CPU */
		pthread_mutex_init(&w->lock, NULL);
		pthread_cond_init(&w->cond, NULL);
		w->nring = 2 * (size_t)threads;
		w->ring = xcalloc(w->nring, sizeof(*w->ring));
		w->threads = xcalloc((size_t)threads, sizeof(*w->threads));
		for (; w->nthreads < threads; w->nthreads++)
			if (pthread_create(&w->threads[w->nthreads], NULL, gzip_thread, w) != 0)
				break;
		if (w->nthreads == 0) {
			snprintf(err, errlen, "cannot start compression threads");
			goto fail;
		}
		/* no padding after the end-of-archive blocks, as with gzip */
		r = archive_write_set_bytes_in_last_block(w->a, 1);
		if (r == ARCHIVE_OK)
			r = archive_write_open(w->a, w, NULL, gzip_write, NULL);
	} else {
		r = archive_write_add_filter_gzip(w->a);
		if (r == ARCHIVE_OK)
			r = archive_write_set_filter_option(w->a, "gzip", "compression-level", lv);
		if (r == ARCHIVE_OK)
			r = archive_write_set_filter_option(w->a, "gzip", "timestamp", NULL);
		/* unpadded, as archive_write_open_fd leaves a regular file */
		if (r == ARCHIVE_OK)
			r = archive_write_set_bytes_in_last_block(w->a, 1);
		if (r == ARCHIVE_OK)
			r = archive_write_open(w->a, w, NULL, fd_write, NULL);
	}
	if (r != ARCHIVE_OK) {
		wfail(w, err, errlen, "archive setup");
		goto fail;
	}
	return w;
fail:
	ar_writer_abort(w);
	errno = 0;
	return NULL;
}

struct ar_writer *
ar_writer_open(const char *path, int level, char *err, size_t errlen)
{
	return ar_writer_open_threads(path, level, 1, err, errlen);
}

void
ar_writer_abort(struct ar_writer *w)
{
	int e = errno;

	if (w == NULL)
		return;
	if (w->a != NULL) {
		/* in threaded mode this may still write blocks: harmless, the
		 * caller removes the file */
		archive_write_free(w->a); /* closes nothing: the fd is ours */
	}
	if (w->threads != NULL) {
		pthread_mutex_lock(&w->lock);
		w->quit = 1;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		for (int i = 0; i < w->nthreads; i++)
			pthread_join(w->threads[i], NULL);
		for (size_t i = 0; i < w->nring; i++) {
			free(w->ring[i].in);
			free(w->ring[i].out);
		}
		free(w->ring);
		free(w->threads);
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
	}
	if (w->ae != NULL)
		archive_entry_free(w->ae);
	if (w->fd >= 0)
		close(w->fd);
	free(w->buf);
	free(w);
	errno = e;
}

void
ar_writer_plain_names(struct ar_writer *w)
{
	w->plain_names = 1;
}

int
ar_writer_close(struct ar_writer *w, char *err, size_t errlen)
{
	int rc = 0, e;

	if (archive_write_close(w->a) != ARCHIVE_OK) {
		wfail(w, err, errlen, "archive close");
		rc = -1;
	}
	if (rc == 0 && w->threads != NULL && gzip_finish(w) < 0) {
		snprintf(err, errlen, "write: %s", strerror(w->werrno ? w->werrno : EIO));
		rc = -1;
	}
	/* no fsync: answers are sent at once and then removed; close can
	 * still report a write the file system deferred */
	if (close(w->fd) < 0 && rc == 0) {
		w->werrno = errno;
		snprintf(err, errlen, "close: %s", strerror(errno));
		rc = -1;
	}
	w->fd = -1;
	e = w->werrno;
	ar_writer_abort(w);
	if (rc < 0)
		errno = e;
	return rc;
}

/* Describe e in ae (pathname "./name", metadata, type); for a file, its
 * current size in *size.  0, or -1 with err. */
static int
writer_header(struct archive_entry *ae, const struct ar_entry *e, int fd, size_t taillen,
	      int plain, uint64_t *size, char *err, size_t errlen)
{
	char name[PATH_MAX + 4], target[PATH_MAX + 4];
	struct stat sb;

	if (strcmp(e->name, ".") == 0)
		snprintf(name, sizeof(name), "./");
	else
		snprintf(name, sizeof(name), "%s%s%s", plain ? "" : "./", e->name,
			 e->type == AR_DIR ? "/" : "");
	archive_entry_clear(ae);
	archive_entry_set_pathname(ae, name);
	archive_entry_set_perm(ae, e->mode & 0777);
	archive_entry_set_mtime(ae, (time_t)e->mtime, e->mtime_nsec);
	archive_entry_set_uid(ae, e->uid);
	archive_entry_set_gid(ae, e->gid);
	if (e->uname != NULL)
		archive_entry_set_uname(ae, e->uname);
	if (e->gname != NULL)
		archive_entry_set_gname(ae, e->gname);
	switch (e->type) {
	case AR_DIR:
		archive_entry_set_filetype(ae, AE_IFDIR);
		break;
	case AR_SYMLINK:
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_set_symlink(ae, e->link);
		break;
	case AR_HARDLINK:
		snprintf(target, sizeof(target), "./%s", e->link);
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_hardlink(ae, target);
		archive_entry_set_size(ae, 0);
		break;
	case AR_FILE:
		if (fstat(fd, &sb) < 0) {
			snprintf(err, errlen, "%s: %s", e->name, strerror(errno));
			return -1;
		}
		*size = (uint64_t)sb.st_size;
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_size(ae, (la_int64_t)(*size + taillen));
		break;
	}
	return 0;
}

/* Write size bytes of fd, then the tail, as the current member's data. */
static int
writer_data(struct ar_writer *w, const struct ar_entry *e, int fd, uint64_t size,
	    const void *tail, size_t taillen, char *err, size_t errlen)
{
	uint64_t off = 0;

	while (off < size) {
		size_t want = size - off > AR_COPY_BUF ? AR_COPY_BUF : (size_t)(size - off);
		ssize_t n = pread(fd, w->buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: read: %s", e->name,
				 n < 0 ? strerror(errno) : "file shrank");
			return -1;
		}
		if (archive_write_data(w->a, w->buf, (size_t)n) != n) {
			wfail(w, err, errlen, e->name);
			return -1;
		}
		off += (uint64_t)n;
	}
	if (taillen > 0 && archive_write_data(w->a, tail, taillen) != (la_ssize_t)taillen) {
		wfail(w, err, errlen, e->name);
		return -1;
	}
	return 0;
}

int
ar_writer_add(struct ar_writer *w, const struct ar_entry *e, int fd, const void *tail,
	      size_t taillen, char *err, size_t errlen)
{
	uint64_t size = 0;
	int r;

	if (writer_header(w->ae, e, fd, taillen, w->plain_names, &size, err, errlen) < 0) {
		errno = 0;
		return -1;
	}
	r = archive_write_header(w->a, w->ae);
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
		wfail(w, err, errlen, e->name);
		errno = w->werrno;
		return -1;
	}
	if (e->type == AR_FILE && writer_data(w, e, fd, size, tail, taillen, err, errlen) < 0) {
		errno = w->werrno; /* 0 when reading the member failed */
		return -1;
	}
	return 0;
}

/* --- packing a tree --- */

struct inode_name {
	dev_t dev;
	ino_t ino;
	char *name;
};

struct packctx {
	struct ar_writer *w;
	int (*select)(const char *, const struct stat *, void *);
	void *arg;
	struct buf inodes; /* struct inode_name[]: files with more than one link */
	/* their index: slot i holds an index into inodes + 1, or 0 */
	size_t *slots, nslots;
	char *err;
	size_t errlen;
};

static int pack_dir(struct packctx *p, int dfd, const char *rel);

/* The linked files packed so far; their number in *n. */
static struct inode_name *
pack_inodes(const struct packctx *p, size_t *n)
{
	*n = p->inodes.len / sizeof(struct inode_name);
	return (struct inode_name *)p->inodes.data;
}

/* Pack directory path (name in dfd): itself when sel is 1, then its
 * contents, which select sees one by one. */
static int
pack_subdir(struct packctx *p, int dfd, const char *name, struct ar_entry *e, int sel)
{
	int fd, rc;

	e->type = AR_DIR;
	if (sel == 1 && ar_writer_add(p->w, e, -1, NULL, 0, p->err, p->errlen) < 0)
		return -1;
	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		snprintf(p->err, p->errlen, "%s: %s", e->name, strerror(errno));
		return -1;
	}
	rc = pack_dir(p, fd, e->name);
	close(fd);
	return rc;
}

/* Pack the symbolic link path (name in dfd) as it reads. */
static int
pack_symlink(struct packctx *p, int dfd, const char *name, struct ar_entry *e)
{
	char link[PATH_MAX];
	ssize_t n;

	if ((n = readlinkat(dfd, name, link, sizeof(link) - 1)) < 0) {
		snprintf(p->err, p->errlen, "%s: %s", e->name, strerror(errno));
		return -1;
	}
	link[n] = '\0';
	e->type = AR_SYMLINK;
	e->link = link;
	return ar_writer_add(p->w, e, -1, NULL, 0, p->err, p->errlen);
}

/* Where the probe for (dev, ino) starts.  Inode numbers are the file
 * system's, not the client's, so a plain multiplicative mix will do. */
static size_t
inode_slot(const struct packctx *p, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 40)) * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 24) & (p->nslots - 1);
}

static void
inode_put(struct packctx *p, const struct inode_name *in, size_t idx)
{
	size_t i = inode_slot(p, in->dev, in->ino);

	while (p->slots[i] != 0)
		i = (i + 1) & (p->nslots - 1);
	p->slots[i] = idx + 1;
}

/* The name a file with several links was first packed under, or NULL
 * (then it is remembered under path for the next ones).  Hashed: a tree
 * of 100,000 files of two links each made a linear search 10^10
 * comparisons. */
static char *
pack_first_link(struct packctx *p, const struct stat *sb, const char *path)
{
	size_t nseen;
	struct inode_name *seen = pack_inodes(p, &nseen);
	struct inode_name in = {sb->st_dev, sb->st_ino, NULL};

	if (p->nslots != 0)
		for (size_t i = inode_slot(p, in.dev, in.ino); p->slots[i] != 0;
		     i = (i + 1) & (p->nslots - 1)) {
			struct inode_name *s = &seen[p->slots[i] - 1];

			if (s->dev == in.dev && s->ino == in.ino)
				return s->name;
		}
	in.name = xstrdup(path);
	if (buf_append(&p->inodes, &in, sizeof(in)) < 0)
		log_panic("the inode list cannot grow"); /* BUF_UNLIMITED */
	seen = pack_inodes(p, &nseen);
	/* at most half full */
	if (nseen * 2 > p->nslots) {
		p->nslots = p->nslots ? p->nslots * 2 : 64;
		free(p->slots);
		p->slots = xcalloc(p->nslots, sizeof(*p->slots));
		for (size_t k = 0; k + 1 < nseen; k++)
			inode_put(p, &seen[k], k);
	}
	inode_put(p, &in, nseen - 1);
	return NULL;
}

/* Pack one directory entry; 0 or -1. */
static int
pack_one(struct packctx *p, int dfd, const char *rel, const char *name)
{
	char path[PATH_MAX];
	struct ar_entry e;
	struct stat sb;
	int sel, fd, rc = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", name) >=
	    sizeof(path)) {
		snprintf(p->err, p->errlen, "%s/%s: path too long", rel, name);
		return -1;
	}
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(p->err, p->errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	sel = p->select ? p->select(path, &sb, p->arg) : 1;
	if (sel == 0)
		return 0;
	memset(&e, 0, sizeof(e));
	e.name = path;
	e.mode = sb.st_mode & 0777;
	e.mtime = sb.st_mtim.tv_sec;
	e.mtime_nsec = sb.st_mtim.tv_nsec;
	e.uid = sb.st_uid;
	e.gid = sb.st_gid;
	if (S_ISDIR(sb.st_mode))
		return pack_subdir(p, dfd, name, &e, sel);
	if (sel != 1)
		return 0;
	if (S_ISLNK(sb.st_mode))
		return pack_symlink(p, dfd, name, &e);
	if (!S_ISREG(sb.st_mode))
		return 0;
	if (sb.st_nlink > 1 && (e.link = pack_first_link(p, &sb, path)) != NULL) {
		e.type = AR_HARDLINK;
		return ar_writer_add(p->w, &e, -1, NULL, 0, p->err, p->errlen);
	}
	e.type = AR_FILE;
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		snprintf(p->err, p->errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = ar_writer_add(p->w, &e, fd, NULL, 0, p->err, p->errlen);
	close(fd);
	return rc;
}

static int
pack_dir(struct packctx *p, int dfd, const char *rel)
{
	struct strv names = {0};
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;

	if ((fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0)) < 0 || (d = fdopendir(fd)) == NULL) {
		snprintf(p->err, p->errlen, "%s: %s", *rel ? rel : ".", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		strv_add(&names, de->d_name);
	}
	if (errno != 0) {
		snprintf(p->err, p->errlen, "%s: %s", *rel ? rel : ".", strerror(errno));
		rc = -1;
	}
	closedir(d);
	strv_sort(&names);
	for (size_t i = 0; i < names.n && rc == 0; i++)
		rc = pack_one(p, dfd, rel, names.v[i]);
	strv_free(&names);
	return rc;
}

int
ar_pack_tree(const char *dir, const char *out, int level,
	     int (*select)(const char *relpath, const struct stat *st, void *arg), void *arg,
	     char *err, size_t errlen)
{
	struct packctx p;
	struct inode_name *inodes;
	int dfd, rc, e;
	size_t n;

	memset(&p, 0, sizeof(p));
	buf_init(&p.inodes, BUF_UNLIMITED, 0);
	p.select = select;
	p.arg = arg;
	p.err = err;
	p.errlen = errlen;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		errno = 0;
		return -1;
	}
	if ((p.w = ar_writer_open(out, level, err, errlen)) == NULL) {
		e = errno;
		close(dfd);
		errno = e;
		return -1;
	}
	rc = pack_dir(&p, dfd, "");
	close(dfd);
	if (rc == 0) {
		rc = ar_writer_close(p.w, err, errlen);
		e = errno;
	} else {
		/* a failed write's error, not what reading the tree met */
		e = p.w->werrno;
		ar_writer_abort(p.w);
	}
	inodes = pack_inodes(&p, &n);
	for (size_t i = 0; i < n; i++)
		free(inodes[i].name);
	buf_free(&p.inodes);
	free(p.slots);
	if (rc < 0) {
		unlink(out);
		errno = e;
	}
	return rc;
}
