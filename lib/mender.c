/*
 * mender.c: see mender.h.
 *
 * The outer tar is parsed here (headers are copied raw, so the output
 * keeps every byte mender-artifact wrote); the data members, which are
 * tar archives that may be compressed, are read with libarchive through
 * a callback that pulls the member's bytes from the input.  Either the
 * callback also writes what it read to the output, or (copy_range) a
 * helper thread copies the member with copy_file_range while this thread
 * only reads and hashes: on Linux both then share the page cache, the
 * kernel copies without a trip through user space, and write-back
 * starts while hashing goes on (measured on ext4: as fast as cp + sync,
 * where reading, hashing and writing through one buffer took twice as
 * long).  The inserted manifest.sig moves later members by a multiple of
 * 512 bytes, not of the 4 KiB block size, so even a file system that can
 * share extents (reflinks) copies the data; it is still one pass.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* copy_file_range, sync_file_range, memmem */
#endif
#include "mender.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#define AR_INCLUDE_LIBARCHIVE
#include <archive.h> /* libarchive's, through lib/archive.h */
#include <archive_entry.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "pkey.h"
#include "util.h"

#define BLOCK 512
#define ROUND_BLOCK(n) (((n) + (BLOCK - 1)) & ~(uint64_t)(BLOCK - 1))
#define IO_CHUNK (256 * 1024)		/* bytes read at a time: stays in L2 for hashing */
#define COPY_CHUNK (8 * 1024 * 1024)	/* bytes per copy_file_range */
#define COPY_MIN (1024 * 1024)		/* smaller members are copied inline */
#define WRITEBACK_CHUNK (8 * 1024 * 1024)
#define PROGRESS_STEP (64 * 1024 * 1024)
#define PAX_MAX 65536			/* largest pax extended header */
#define LONGNAME_MAX 4096		/* largest GNU long name */
#define MEMBER_NAME_MAX 1024

enum compression { COMP_NONE, COMP_GZIP, COMP_XZ, COMP_ZSTD };

/* One manifest line. */
struct entry {
	char *name;
	char hex[65];
	int seen;
};

/* One outer tar member: its header blocks as read and where its parts are. */
struct member {
	char name[MEMBER_NAME_MAX];
	uint64_t start;	/* input offset of its first header block */
	uint64_t data;	/* of its data */
	uint64_t size;	/* data bytes */
	uint64_t end;	/* past its padding */
	unsigned char *hdrs; /* header blocks and extended headers, raw */
	size_t hdrs_len, hdrs_cap;
};

/* A helper thread copying one input range to the output. */
struct copier {
	pthread_t thread;
	int running;
	int in, out, writeback;
	uint64_t in_off, out_off, len;
	atomic_int stop;
	int error;   /* errno of a failure */
	int shrunk;  /* the input ended early */
};

/* One rewrite in progress. */
struct rw {
	int in, out;
	const struct mender_opts *o;
	struct mender_result *r;
	char *err;
	size_t errlen;
	int status; /* first failure, if any */
	struct stat st0;
	uint64_t in_size;
	uint64_t in_pos, out_pos;
	uint64_t wb_from; /* output not yet hinted for write-back */
	unsigned char *buf;
	struct entry *ents;
	size_t nents, capents;
	uint64_t members, expanded;
	uint64_t done, next_progress;
	struct copier cp;
};

/* The unread rest of one member, read in order. */
struct stream {
	struct rw *w;
	const char *name;
	uint64_t in_off, data_end, in_end;
	uint64_t out_off;
	int copied; /* the copier writes this member */
	size_t last; /* bytes of w->buf from the last read */
};

static const char *const header_names[] = {"header.tar", "header.tar.gz", "header.tar.xz",
					   "header.tar.zst", NULL};
static const char *const augment_names[] = {"header-augment.tar", "header-augment.tar.gz",
					    "header-augment.tar.xz", "header-augment.tar.zst",
					    NULL};

static int fail(struct rw *w, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record the first failure and return its status. */
static int
fail(struct rw *w, int status, const char *fmt, ...)
{
	va_list ap;

	if (w->status)
		return w->status;
	va_start(ap, fmt);
	vsnprintf(w->err, w->errlen, fmt, ap);
	va_end(ap);
	/* member names come from the artifact: keep the reason one printable line */
	for (char *c = w->err; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	w->status = status;
	return status;
}

/* pread until len bytes or end of file; bytes read or -1. */
static ssize_t
pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int
pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n = pwrite(fd, (const char *)buf + put, len - put, (off_t)(off + put));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		put += (size_t)n;
	}
	return 0;
}

/* Ask the kernel to start writing [off, off+len) of fd out now, so that
 * the final fsync finds little left.  Only a hint: write errors surface
 * at that fsync, so a failure here is ignored on purpose. */
static void
writeback_hint(int fd, uint64_t off, uint64_t len)
{
	if (sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE) < 0)
		return;
}

/* Write to the output at off from this thread. */
static int
out_write(struct rw *w, const void *buf, size_t len, uint64_t off)
{
	if (pwrite_full(w->out, buf, len, off) < 0)
		return fail(w, 500, "writing signed artifact: %s", strerror(errno));
	if (w->o->start_writeback && off + len >= w->wb_from + WRITEBACK_CHUNK) {
		writeback_hint(w->out, w->wb_from, off + len - w->wb_from);
		w->wb_from = off + len;
	}
	return 0;
}

static void
progress(struct rw *w, uint64_t n)
{
	w->done += n;
	if (w->o->progress && w->done >= w->next_progress) {
		w->o->progress(w->o->progress_arg, w->done, w->in_size);
		w->next_progress = w->done + PROGRESS_STEP;
	}
}

static void *
copier_main(void *arg)
{
	struct copier *c = arg;
	unsigned char *buf = NULL;
	int use_cfr = 1;

	while (c->len > 0 && !atomic_load(&c->stop)) {
		size_t want = c->len < COPY_CHUNK ? (size_t)c->len : COPY_CHUNK;
		ssize_t n;

		if (use_cfr) {
			loff_t io = (loff_t)c->in_off, oo = (loff_t)c->out_off;

			n = copy_file_range(c->in, &io, c->out, &oo, want, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP ||
				      errno == ENOSYS)) {
				use_cfr = 0; /* not between these files: copy by hand */
				continue;
			}
		} else {
			if (buf == NULL && (buf = malloc(IO_CHUNK)) == NULL) {
				c->error = ENOMEM;
				break;
			}
			if (want > IO_CHUNK)
				want = IO_CHUNK;
			n = pread_full(c->in, buf, want, c->in_off);
			if (n > 0 && pwrite_full(c->out, buf, (size_t)n, c->out_off) < 0)
				n = -1;
		}
		if (n < 0) {
			c->error = errno;
			break;
		}
		if (n == 0) {
			c->shrunk = 1;
			break;
		}
		if (c->writeback)
			writeback_hint(c->out, c->out_off, (uint64_t)n);
		c->in_off += (uint64_t)n;
		c->out_off += (uint64_t)n;
		c->len -= (uint64_t)n;
	}
	free(buf);
	return NULL;
}

static int
copier_start(struct rw *w, uint64_t in_off, uint64_t out_off, uint64_t len)
{
	struct copier *c = &w->cp;
	int e;

	c->in = w->in;
	c->out = w->out;
	c->writeback = w->o->start_writeback;
	c->in_off = in_off;
	c->out_off = out_off;
	c->len = len;
	c->error = 0;
	c->shrunk = 0;
	atomic_store(&c->stop, 0);
	if ((e = pthread_create(&c->thread, NULL, copier_main, c)) != 0)
		return fail(w, 500, "starting copy thread: %s", strerror(e));
	c->running = 1;
	return 0;
}

/* Wait for the copier (stopping it first when abort is set). */
static int
copier_join(struct rw *w, int abort)
{
	struct copier *c = &w->cp;

	if (!c->running)
		return 0;
	if (abort)
		atomic_store(&c->stop, 1);
	pthread_join(c->thread, NULL);
	c->running = 0;
	if (abort)
		return 0;
	if (c->error)
		return fail(w, 500, "copying artifact: %s", strerror(c->error));
	if (c->shrunk)
		return fail(w, 409, "artifact changed while it was being signed");
	return 0;
}

/* Start the output copy of member m and set up s to read its data. */
static int
member_begin(struct rw *w, struct member *m, int bulk, struct stream *s)
{
	memset(s, 0, sizeof(*s));
	s->w = w;
	s->name = m->name;
	s->in_off = m->data;
	s->data_end = m->data + m->size;
	s->in_end = m->end;
	s->out_off = w->out_pos + m->hdrs_len;
	if (bulk && w->o->copy_range && m->end - m->start >= COPY_MIN) {
		s->copied = 1;
		return copier_start(w, m->start, w->out_pos, m->end - m->start);
	}
	return out_write(w, m->hdrs, m->hdrs_len, w->out_pos);
}

/* Read the next piece of the member, up to limit, into w->buf; its length
 * goes to s->last (0 at the limit).  0 or a status. */
static int
stream_next(struct stream *s, uint64_t limit)
{
	struct rw *w = s->w;
	uint64_t left = limit > s->in_off ? limit - s->in_off : 0;
	size_t want = left < IO_CHUNK ? (size_t)left : IO_CHUNK;
	ssize_t n;

	s->last = 0;
	if (want == 0)
		return 0;
	n = pread_full(w->in, w->buf, want, s->in_off);
	if (n < 0)
		return fail(w, 500, "reading artifact: %s", strerror(errno));
	if ((size_t)n < want)
		return fail(w, 409, "artifact changed while it was being signed");
	if (!s->copied && out_write(w, w->buf, want, s->out_off) != 0)
		return w->status;
	s->in_off += want;
	s->out_off += want;
	s->last = want;
	progress(w, want);
	return 0;
}

/* Copy what is left of the member and account for it in the output. */
static int
member_finish(struct rw *w, struct member *m, struct stream *s)
{
	if (s->copied) {
		s->in_off = s->in_end;
	} else {
		while (s->in_off < s->in_end) {
			if (stream_next(s, s->in_end) != 0)
				return w->status;
		}
	}
	if (copier_join(w, 0) != 0)
		return w->status;
	w->out_pos += m->end - m->start;
	w->in_pos = m->end;
	return 0;
}

/* A tar numeric field: octal (spaces and NULs around it) or base-256. */
static int
parse_numeric(const unsigned char *f, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0, end = len;

	if (f[0] & 0x80) {
		if (f[0] & 0x40)
			return -1; /* negative */
		v = f[0] & 0x3f;
		for (i = 1; i < len; i++) {
			if (v >> 55)
				return -1;
			v = (v << 8) | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < end && (f[i] == ' ' || f[i] == '\0'))
		i++;
	while (end > i && (f[end - 1] == ' ' || f[end - 1] == '\0'))
		end--;
	for (; i < end; i++) {
		if (f[i] < '0' || f[i] > '7' || (v >> 60))
			return -1;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	*out = v;
	return 0;
}

/* Does the header checksum hold (unsigned or signed sum, as Go accepts)? */
static int
checksum_ok(const unsigned char *b)
{
	uint64_t want;
	int64_t s = 0;
	uint64_t u = 0;

	if (parse_numeric(b + 148, 8, &want) != 0)
		return 0;
	for (size_t i = 0; i < BLOCK; i++) {
		unsigned char c = (i >= 148 && i < 156) ? ' ' : b[i];

		u += c;
		s += (signed char)c;
	}
	return want == u || (int64_t)want == s;
}

/* Copy a NUL-or-length-terminated field. */
static void
field_str(char *dst, const unsigned char *f, size_t len)
{
	size_t n = strnlen((const char *)f, len);

	memcpy(dst, f, n);
	dst[n] = '\0';
}

static int
is_zero_block(const unsigned char *b)
{
	for (size_t i = 0; i < BLOCK; i++)
		if (b[i])
			return 0;
	return 1;
}

/* Make room for len more bytes of header blocks. */
static void
hdrs_reserve(struct member *m, size_t len)
{
	if (m->hdrs_len + len > m->hdrs_cap) {
		size_t cap = m->hdrs_cap ? m->hdrs_cap : 4 * BLOCK;

		while (cap < m->hdrs_len + len)
			cap *= 2;
		m->hdrs = xrealloc(m->hdrs, cap);
		m->hdrs_cap = cap;
	}
}

static void
hdrs_append(struct member *m, const void *p, size_t len)
{
	hdrs_reserve(m, len);
	memcpy(m->hdrs + m->hdrs_len, p, len);
	m->hdrs_len += len;
}

/* Parse pax records for path and size.  0 or -1. */
static int
parse_pax(const char *p, size_t len, char *path, size_t pathlen, int *have_path, uint64_t *size,
	  int *have_size)
{
	while (len > 0) {
		size_t reclen = 0, i = 0;
		const char *kv, *eq, *end;

		while (i < len && p[i] >= '0' && p[i] <= '9') {
			reclen = reclen * 10 + (size_t)(p[i] - '0');
			if (reclen > len)
				return -1;
			i++;
		}
		if (i == 0 || i >= len || p[i] != ' ' || reclen <= i + 1 || reclen > len ||
		    p[reclen - 1] != '\n')
			return -1;
		kv = p + i + 1;
		end = p + reclen - 1;
		if ((eq = memchr(kv, '=', (size_t)(end - kv))) == NULL)
			return -1;
		if ((size_t)(eq - kv) == 4 && memcmp(kv, "path", 4) == 0) {
			size_t n = (size_t)(end - eq - 1);

			if (n == 0 || n >= pathlen || memchr(eq + 1, '\0', n))
				return -1;
			memcpy(path, eq + 1, n);
			path[n] = '\0';
			*have_path = 1;
		} else if ((size_t)(eq - kv) == 4 && memcmp(kv, "size", 4) == 0) {
			uint64_t v = 0;

			if (eq + 1 == end)
				return -1;
			for (const char *c = eq + 1; c < end; c++) {
				if (*c < '0' || *c > '9' || v > (UINT64_MAX - 9) / 10)
					return -1;
				v = v * 10 + (uint64_t)(*c - '0');
			}
			*size = v;
			*have_size = 1;
		}
		p += reclen;
		len -= reclen;
	}
	return 0;
}

/* Read the extension data of a header into m->hdrs (raw, padded) and
 * return a pointer to it in *data. */
static int
read_ext(struct rw *w, struct member *m, uint64_t pos, uint64_t size, uint64_t max,
	 const char **data)
{
	uint64_t padded = ROUND_BLOCK(size);
	size_t at;
	ssize_t n;

	if (size > max)
		return fail(w, 400, "tar extended header at offset %llu is too large",
			    (unsigned long long)pos);
	at = m->hdrs_len;
	hdrs_reserve(m, (size_t)padded);
	n = pread_full(w->in, m->hdrs + at, (size_t)padded, pos);
	if (n < 0)
		return fail(w, 500, "reading artifact: %s", strerror(errno));
	if ((uint64_t)n < padded)
		return fail(w, 400, "artifact is truncated");
	m->hdrs_len += (size_t)padded;
	*data = (const char *)m->hdrs + at;
	return 0;
}

/*
 * Read the next member's headers at w->in_pos.  1 and m filled in, 0 at the
 * end of the archive, or an error status.
 */
static int
read_member_header(struct rw *w, struct member *m)
{
	unsigned char b[BLOCK];
	char path[MEMBER_NAME_MAX], longname[MEMBER_NAME_MAX];
	int have_path = 0, have_size = 0, have_long = 0;
	uint64_t pos = w->in_pos, size = 0, pax_size = 0;
	ssize_t n;

	m->hdrs_len = 0;
	m->start = pos;
	for (;;) {
		const char *ext;

		n = pread_full(w->in, b, BLOCK, pos);
		if (n < 0)
			return fail(w, 500, "reading artifact: %s", strerror(errno));
		if (n == 0 && m->hdrs_len == 0)
			return 0; /* end of file at a member boundary */
		if (n < BLOCK && pos == 0)
			return fail(w, 400, "not a Mender artifact: not a tar archive");
		if (n < BLOCK)
			return fail(w, 400, "artifact is truncated");
		if (is_zero_block(b)) {
			if (m->hdrs_len)
				return fail(w, 400, "tar extended header without a member");
			n = pread_full(w->in, b, BLOCK, pos + BLOCK);
			if (n < 0)
				return fail(w, 500, "reading artifact: %s", strerror(errno));
			if (n == 0 || (n == BLOCK && is_zero_block(b)))
				return 0;
			return fail(w, 400, "bad tar header at offset %llu",
				    (unsigned long long)(pos + BLOCK));
		}
		if (!checksum_ok(b)) {
			if (pos == 0)
				return fail(w, 400, "not a Mender artifact: not a tar archive");
			return fail(w, 400, "bad tar header checksum at offset %llu",
				    (unsigned long long)pos);
		}
		if (parse_numeric(b + 124, 12, &size) != 0 || size > (UINT64_MAX >> 2))
			return fail(w, 400, "bad tar member size at offset %llu",
				    (unsigned long long)pos);
		if (m->hdrs_len > PAX_MAX + 2 * LONGNAME_MAX)
			return fail(w, 400, "too many tar extended headers at offset %llu",
				    (unsigned long long)pos);
		hdrs_append(m, b, BLOCK);
		pos += BLOCK;
		switch (b[156]) {
		case 'x':
			if (read_ext(w, m, pos, size, PAX_MAX, &ext) != 0)
				return w->status;
			if (parse_pax(ext, (size_t)size, path, sizeof(path), &have_path, &pax_size,
				      &have_size) != 0)
				return fail(w, 400, "bad pax header at offset %llu",
					    (unsigned long long)(pos - BLOCK));
			pos += ROUND_BLOCK(size);
			continue;
		case 'L':
		case 'K':
			if (read_ext(w, m, pos, size, LONGNAME_MAX, &ext) != 0)
				return w->status;
			if (b[156] == 'L') {
				size_t l = strnlen(ext, (size_t)size);

				if (l == 0 || l >= sizeof(longname))
					return fail(w, 400, "bad GNU long name at offset %llu",
						    (unsigned long long)(pos - BLOCK));
				memcpy(longname, ext, l);
				longname[l] = '\0';
				have_long = 1;
			}
			pos += ROUND_BLOCK(size);
			continue;
		default:
			break;
		}
		break;
	}

	if (have_path) {
		snprintf(m->name, sizeof(m->name), "%s", path);
	} else if (have_long) {
		snprintf(m->name, sizeof(m->name), "%s", longname);
	} else {
		char name[101], prefix[156];
		int star = memcmp(b + 508, "tar\0", 4) == 0;

		field_str(name, b, 100);
		prefix[0] = '\0';
		if (memcmp(b + 257, "ustar\0", 6) == 0)
			field_str(prefix, b + 345, star ? 131 : 155);
		if (prefix[0])
			snprintf(m->name, sizeof(m->name), "%s/%s", prefix, name);
		else
			snprintf(m->name, sizeof(m->name), "%s", name);
	}
	if (have_size)
		size = pax_size;
	if (b[156] == 'g')
		return fail(w, 400, "pax global headers are not supported in an artifact");
	if (b[156] != '0' && b[156] != '\0')
		return fail(w, 400, "member %s is not a regular file", m->name);
	if (size > (UINT64_MAX >> 2))
		return fail(w, 400, "member %s is too large", m->name);
	m->data = pos;
	m->size = size;
	m->end = pos + ROUND_BLOCK(size);
	if (m->end > w->in_size)
		return fail(w, 400, "artifact is truncated in member %s", m->name);
	if (++w->members > w->o->max_members)
		return fail(w, 400, "artifact has more than %llu members",
			    (unsigned long long)w->o->max_members);
	return 1;
}

/* 1 and m filled in, 0 at the end of the archive, -1 on error (w->status). */
static int
next_member(struct rw *w, struct member *m)
{
	int got = read_member_header(w, m);

	return w->status ? -1 : got;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static struct entry *
entry_find(struct rw *w, const char *name)
{
	struct entry key = {.name = (char *)name};

	if (w->nents == 0)
		return NULL;
	return bsearch(&key, w->ents, w->nents, sizeof(*w->ents), entry_cmp);
}

static int
is_hex64(const char *p, size_t len)
{
	if (len != 64)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Add the lines of a manifest ("<sha256>  <name>\n") to the table. */
static int
parse_manifest(struct rw *w, const char *what, const char *p, size_t len)
{
	size_t lineno = 0;

	while (len > 0) {
		const char *nl = memchr(p, '\n', len);
		const char *s = p, *e, *sep;
		size_t l;

		lineno++;
		if (nl == NULL)
			return fail(w, 400, "%s: line %zu has no newline", what, lineno);
		l = (size_t)(nl - p) + 1;
		e = nl;
		while (s < e && is_space(*s))
			s++;
		while (e > s && is_space(e[-1]))
			e--;
		if (s < e) {
			struct entry *ent;

			sep = memmem(s, (size_t)(e - s), "  ", 2);
			if (sep == NULL || !is_hex64(s, (size_t)(sep - s)) || sep + 2 >= e ||
			    is_space(sep[2]) || memmem(sep + 2, (size_t)(e - sep - 2), "  ", 2) ||
			    memchr(s, '\0', (size_t)(e - s)))
				return fail(w, 400, "%s: line %zu is malformed", what, lineno);
			if (w->nents == w->capents) {
				w->capents = w->capents ? 2 * w->capents : 16;
				w->ents = xrealloc(w->ents, w->capents * sizeof(*w->ents));
			}
			ent = &w->ents[w->nents++];
			ent->name = xstrndup(sep + 2, (size_t)(e - sep - 2));
			memcpy(ent->hex, s, 64);
			ent->hex[64] = '\0';
			ent->seen = 0;
		}
		p += l;
		len -= l;
	}
	if (w->nents)
		qsort(w->ents, w->nents, sizeof(*w->ents), entry_cmp);
	for (size_t i = 1; i < w->nents; i++)
		if (strcmp(w->ents[i - 1].name, w->ents[i].name) == 0)
			return fail(w, 400, "%s lists %s twice", what, w->ents[i].name);
	return 0;
}

/* Compare a computed digest with the manifest's line for name. */
static int
check_sum(struct rw *w, const char *name, const unsigned char md[32])
{
	struct entry *e = entry_find(w, name);
	char hex[65];

	if (e == NULL)
		return fail(w, 400, "manifest does not list %s", name);
	util_hex(md, 32, hex);
	if (strcmp(hex, e->hex) != 0)
		return fail(w, 400, "checksum of %s does not match the manifest", name);
	e->seen = 1;
	return 0;
}

static int
sha256(const void *p, size_t len, unsigned char md[32])
{
	unsigned int l = 0;

	return EVP_Digest(p, len, md, &l, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

/* Read a small member whole into *data (NUL-terminated), copying it out. */
static int
read_small(struct rw *w, struct member *m, size_t max, char **data)
{
	struct stream s;
	size_t got = 0;

	*data = NULL;
	if (m->size > max)
		return fail(w, 400, "%s is larger than %zu bytes", m->name, max);
	if (member_begin(w, m, 0, &s) != 0)
		return w->status;
	*data = xmalloc((size_t)m->size + 1);
	while (s.in_off < s.data_end) {
		if (stream_next(&s, s.data_end) != 0)
			return w->status;
		memcpy(*data + got, w->buf, s.last);
		got += s.last;
	}
	(*data)[got] = '\0';
	return member_finish(w, m, &s);
}

/* Hash a member's data as it is (the header member). */
static int
hash_member(struct rw *w, struct member *m)
{
	struct stream s;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	int rc = 0;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return fail(w, 500, "sha256 unavailable");
	}
	if (member_begin(w, m, 1, &s) != 0)
		goto out;
	while (s.in_off < s.data_end) {
		if (stream_next(&s, s.data_end) != 0)
			goto out;
		EVP_DigestUpdate(ctx, w->buf, s.last);
	}
	if (member_finish(w, m, &s) != 0)
		goto out;
	if (EVP_DigestFinal_ex(ctx, md, NULL) != 1) {
		fail(w, 500, "sha256 failed");
		goto out;
	}
	check_sum(w, m->name, md);
out:
	if (w->status)
		rc = w->status;
	copier_join(w, 1);
	EVP_MD_CTX_free(ctx);
	return rc;
}

static la_ssize_t
payload_read(struct archive *a, void *arg, const void **out)
{
	struct stream *s = arg;

	if (stream_next(s, s->data_end) != 0) {
		archive_set_error(a, EIO, "%s", s->w->err);
		return -1;
	}
	*out = s->w->buf;
	return (la_ssize_t)s->last;
}

/* Name of a member matching one of names, with its compression. */
static int
match_name(const char *name, const char *const *names, enum compression *comp)
{
	for (int i = 0; names[i]; i++)
		if (strcmp(name, names[i]) == 0) {
			*comp = (enum compression)i;
			return 1;
		}
	return 0;
}

/* "data/NNNN.tar[.gz|.xz|.zst]": 1 with its index and compression. */
static int
data_name(const char *name, unsigned *index, enum compression *comp)
{
	static const char *const exts[] = {".tar", ".tar.gz", ".tar.xz", ".tar.zst", NULL};

	if (strncmp(name, "data/", 5) != 0)
		return 0;
	for (int i = 5; i < 9; i++)
		if (name[i] < '0' || name[i] > '9')
			return 0;
	*index = (unsigned)atoi(name + 5);
	return match_name(name + 9, exts, comp);
}

/* A payload file name as mender accepts it: [A-Za-z0-9_.,-]+. */
static int
payload_name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == ',' ||
		      *s == '-'))
			return 0;
	return 1;
}

/* Hash one payload file from the archive and check it. */
static int
hash_payload_file(struct rw *w, struct archive *a, struct stream *s, const char *key)
{
	static const unsigned char zeros[4096];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	int64_t expect = 0;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return fail(w, 500, "sha256 unavailable");
	}
	for (;;) {
		const void *p;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(a, &p, &len, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			EVP_MD_CTX_free(ctx);
			if (w->status)
				return w->status;
			return fail(w, 400, "%s: %s", s->name, archive_error_string(a));
		}
		if (off < expect) {
			EVP_MD_CTX_free(ctx);
			return fail(w, 400, "%s: bad sparse map in %s", s->name, key);
		}
		/* holes of a sparse file read as zeros, as Go's tar reader gives them */
		while (expect < off) {
			size_t z = (uint64_t)(off - expect) < sizeof(zeros) ? (size_t)(off - expect)
									   : sizeof(zeros);

			EVP_DigestUpdate(ctx, zeros, z);
			expect += (int64_t)z;
			w->expanded += z;
		}
		EVP_DigestUpdate(ctx, p, len);
		expect += (int64_t)len;
		w->expanded += len;
		if (w->expanded > w->o->max_expanded) {
			EVP_MD_CTX_free(ctx);
			return fail(w, 400, "payload expands past %llu bytes",
				    (unsigned long long)w->o->max_expanded);
		}
	}
	if (EVP_DigestFinal_ex(ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return fail(w, 500, "sha256 failed");
	}
	EVP_MD_CTX_free(ctx);
	return check_sum(w, key, md);
}

/* Walk a data member (a tar, perhaps compressed), hashing each file. */
static int
check_payload(struct rw *w, struct member *m, unsigned index, enum compression comp)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	struct stream s;
	int r;

	if (a == NULL)
		return fail(w, 500, "libarchive: out of memory");
	archive_read_support_format_tar(a);
	r = ARCHIVE_OK;
	if (comp == COMP_GZIP)
		r = archive_read_support_filter_gzip(a);
	else if (comp == COMP_XZ)
		r = archive_read_support_filter_xz(a);
	else if (comp == COMP_ZSTD)
		r = archive_read_support_filter_zstd(a);
	if (r < ARCHIVE_WARN) {
		archive_read_free(a);
		return fail(w, 500, "libarchive cannot decompress %s", m->name);
	}
	if (member_begin(w, m, 1, &s) != 0)
		goto out;
	if (archive_read_open(a, &s, NULL, payload_read, NULL) != ARCHIVE_OK) {
		fail(w, 400, "%s: %s", m->name, archive_error_string(a));
		goto out;
	}
	for (;;) {
		const char *path, *base;
		char key[MEMBER_NAME_MAX + 16], name[MEMBER_NAME_MAX];
		size_t l;

		r = archive_read_next_header(a, &ae);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			fail(w, 400, "%s: %s", m->name, archive_error_string(a));
			goto out;
		}
		if (++w->members > w->o->max_members) {
			fail(w, 400, "artifact has more than %llu members",
			     (unsigned long long)w->o->max_members);
			goto out;
		}
		path = archive_entry_pathname(ae);
		if (path == NULL || (l = strlen(path)) == 0 || l >= sizeof(name)) {
			fail(w, 400, "%s: bad file name", m->name);
			goto out;
		}
		memcpy(name, path, l + 1);
		while (l > 1 && name[l - 1] == '/')
			name[--l] = '\0';
		base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
		if (archive_entry_filetype(ae) != AE_IFREG || archive_entry_hardlink(ae)) {
			fail(w, 400, "%s: %s is not a regular file", m->name, name);
			goto out;
		}
		if (!payload_name_ok(base)) {
			fail(w, 400, "%s: file name %s has forbidden characters", m->name, base);
			goto out;
		}
		snprintf(key, sizeof(key), "data/%04u/%s", index, base);
		if (hash_payload_file(w, a, &s, key) != 0)
			goto out;
		w->r->payload_files++;
	}
	member_finish(w, m, &s);
out:
	r = w->status;
	copier_join(w, 1);
	archive_read_free(a);
	return r;
}

/* Check the version file: JSON {"format": "mender", "version": 2|3}. */
static int
parse_version(struct rw *w, const char *data, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(data, len, 0, &jerr);
	json_t *fmt, *ver;
	int rc = 0;

	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		return fail(w, 400, "not a Mender artifact: version is not a JSON object");
	}
	fmt = json_object_get(root, "format");
	ver = json_object_get(root, "version");
	if (!json_is_string(fmt) || strcmp(json_string_value(fmt), "mender") != 0)
		rc = fail(w, 400, "not a Mender artifact: format is not \"mender\"");
	else if (!json_is_integer(ver))
		rc = fail(w, 400, "not a Mender artifact: version has no version number");
	else if (json_integer_value(ver) != 2 && json_integer_value(ver) != 3)
		rc = fail(w, 400, "unsupported Mender artifact version %lld",
			  (long long)json_integer_value(ver));
	else
		w->r->format_version = (int)json_integer_value(ver);
	json_decref(root);
	return rc;
}

/* The whole walk through the artifact. */
static int
walk(struct rw *w, struct member *m)
{
	struct mender_result *r = w->r;
	unsigned char version_md[32], md[32];
	enum compression comp;
	char *data = NULL;
	int got, augmented = 0;
	unsigned index;
	static const unsigned char trailer[2 * BLOCK];

	/* version */
	if ((got = next_member(w, m)) < 0)
		return w->status;
	if (got == 0)
		return fail(w, 400, "not a Mender artifact: empty archive");
	if (strcmp(m->name, "version") != 0)
		return fail(w, 400, "not a Mender artifact: first member is %s, not version",
			    m->name);
	if (read_small(w, m, 65536, &data) != 0) {
		free(data);
		return w->status;
	}
	if (sha256(data, (size_t)m->size, version_md) != 0) {
		free(data);
		return fail(w, 500, "sha256 failed");
	}
	parse_version(w, data, (size_t)m->size);
	free(data);
	if (w->status)
		return w->status;

	/* manifest, and the slot for its signature */
	if ((got = next_member(w, m)) < 0)
		return w->status;
	if (got == 0)
		return fail(w, 400, "Mender artifact has no manifest");
	if (strcmp(m->name, "manifest") != 0)
		return fail(w, 400, "Mender artifact has %s where its manifest should be",
			    m->name);
	if (read_small(w, m, w->o->meta_max, &r->manifest) != 0)
		return w->status;
	r->manifest_len = (size_t)m->size;
	if (sha256(r->manifest, r->manifest_len, md) != 0)
		return fail(w, 500, "sha256 failed");
	util_hex(md, 32, r->manifest_sha256);
	if (parse_manifest(w, "manifest", r->manifest, r->manifest_len) != 0)
		return w->status;
	if (check_sum(w, "version", version_md) != 0)
		return w->status;
	r->sig_offset = w->out_pos;
	r->sig_len = w->o->sig_len;
	if (r->sig_len)
		w->out_pos += BLOCK + ROUND_BLOCK(r->sig_len);

	got = next_member(w, m);
	if (got > 0 && strcmp(m->name, "manifest.sig") == 0) {
		r->was_signed = 1; /* dropped: the new one takes its place */
		w->in_pos = m->end;
		progress(w, m->end - m->start);
		got = next_member(w, m);
	}
	if (got > 0 && r->format_version == 3 && strcmp(m->name, "manifest-augment") == 0) {
		if (read_small(w, m, w->o->meta_max, &data) == 0)
			parse_manifest(w, "manifest-augment", data, (size_t)m->size);
		free(data);
		data = NULL;
		if (w->status)
			return w->status;
		augmented = 1;
		got = next_member(w, m);
	}
	if (w->status)
		return w->status;
	if (got == 0 || !match_name(m->name, header_names, &comp))
		return fail(w, 400, "Mender artifact has no header.tar after its manifest%s%s",
			    got ? ", but " : "", got ? m->name : "");
	if (hash_member(w, m) != 0)
		return w->status;
	got = next_member(w, m);
	if (augmented) {
		if (got == 0 || !match_name(m->name, augment_names, &comp))
			return fail(w, 400, "Mender artifact has a manifest-augment but no "
					    "header-augment.tar");
		if (hash_member(w, m) != 0)
			return w->status;
		got = next_member(w, m);
	}
	for (; got > 0; got = next_member(w, m)) {
		if (!data_name(m->name, &index, &comp))
			return fail(w, 400, "unexpected member %s in Mender artifact", m->name);
		if (check_payload(w, m, index, comp) != 0)
			return w->status;
	}
	if (w->status)
		return w->status;

	/* what Go's tar writer ends an archive with */
	if (out_write(w, trailer, sizeof(trailer), w->out_pos) != 0)
		return w->status;
	w->out_pos += sizeof(trailer);
	r->out_size = w->out_pos;
	for (size_t i = 0; i < w->nents; i++)
		if (!w->ents[i].seen)
			return fail(w, 400, "manifest lists %s, which is not in the artifact",
				    w->ents[i].name);
	return 0;
}

void
mender_opts_init(struct mender_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->meta_max = 16 * 1024 * 1024;
	o->max_members = 200000;
	o->max_expanded = UINT64_C(1) << 40;
}

int
mender_rewrite(int in, int out, const struct mender_opts *o, struct mender_result *r, char *err,
	       size_t errlen)
{
	struct rw w;
	struct member m;
	struct stat st1;

	memset(r, 0, sizeof(*r));
	memset(&w, 0, sizeof(w));
	memset(&m, 0, sizeof(m));
	w.in = in;
	w.out = out;
	w.o = o;
	w.r = r;
	w.err = err;
	w.errlen = errlen;
	if (errlen)
		err[0] = '\0';
	if (fstat(in, &w.st0) != 0)
		return fail(&w, 500, "artifact: %s", strerror(errno));
	if (!S_ISREG(w.st0.st_mode))
		return fail(&w, 400, "artifact is not a regular file");
	w.in_size = (uint64_t)w.st0.st_size;
	w.buf = xmalloc(IO_CHUNK);
	walk(&w, &m);
	copier_join(&w, 1);
	if (w.status == 0) {
		if (fstat(in, &st1) != 0)
			fail(&w, 500, "artifact: %s", strerror(errno));
		else if (st1.st_size != w.st0.st_size ||
			 st1.st_mtim.tv_sec != w.st0.st_mtim.tv_sec ||
			 st1.st_mtim.tv_nsec != w.st0.st_mtim.tv_nsec ||
			 st1.st_ctim.tv_sec != w.st0.st_ctim.tv_sec ||
			 st1.st_ctim.tv_nsec != w.st0.st_ctim.tv_nsec)
			fail(&w, 409, "artifact changed while it was being signed");
	}
	if (w.status == 0 && o->start_writeback && w.out_pos > w.wb_from)
		writeback_hint(out, w.wb_from, w.out_pos - w.wb_from);
	for (size_t i = 0; i < w.nents; i++)
		free(w.ents[i].name);
	free(w.ents);
	free(m.hdrs);
	free(w.buf);
	if (w.status)
		mender_result_free(r);
	return w.status;
}

void
mender_result_free(struct mender_result *r)
{
	free(r->manifest);
	r->manifest = NULL;
	r->manifest_len = 0;
}

void
mender_sig_header(unsigned char b[512], size_t size)
{
	unsigned sum = 0;

	/* the fields Go's archive/tar writes for {Name, Mode 0644, Size}, USTAR */
	memset(b, 0, BLOCK);
	memcpy(b, "manifest.sig", 12);
	memcpy(b + 100, "0000644", 8);
	memcpy(b + 108, "0000000", 8);
	memcpy(b + 116, "0000000", 8);
	snprintf((char *)b + 124, 12, "%011llo", (unsigned long long)size);
	memcpy(b + 136, "00000000000", 12);
	b[156] = '0';
	memcpy(b + 257, "ustar", 6);
	memcpy(b + 263, "00", 2);
	memcpy(b + 329, "0000000", 8);
	memcpy(b + 337, "0000000", 8);
	memset(b + 148, ' ', 8);
	for (int i = 0; i < BLOCK; i++)
		sum += b[i];
	snprintf((char *)b + 148, 7, "%06o", sum & 0777777);
	b[155] = ' ';
}

int
mender_write_signature(int out, const struct mender_result *r, const char *sig, size_t len,
		       char *err, size_t errlen)
{
	unsigned char *buf;
	size_t total = BLOCK + ROUND_BLOCK(len);
	int rc = 0;

	if (len != r->sig_len || len == 0) {
		snprintf(err, errlen, "signature of %zu bytes for a slot of %zu", len, r->sig_len);
		return 500;
	}
	buf = xcalloc(1, total);
	mender_sig_header(buf, len);
	memcpy(buf + BLOCK, sig, len);
	if (pwrite_full(out, buf, total, r->sig_offset) < 0) {
		snprintf(err, errlen, "writing signed artifact: %s", strerror(errno));
		rc = 500;
	}
	free(buf);
	return rc;
}

/* Signing keys. */

struct mender_key {
	EVP_PKEY *pkey;
	int is_ec;
	size_t sig_len;
	char desc[32];
};

int
mender_key_load(const void *pem, size_t len, struct mender_key **out, char *err, size_t errlen)
{
	EVP_PKEY *pkey;
	struct mender_key *k;

	*out = NULL;
	if ((pkey = pkey_load_private(pem, len)) == NULL) {
		snprintf(err, errlen, "key is not an unencrypted private key");
		return -1;
	}
	k = xcalloc(1, sizeof(*k));
	k->pkey = pkey;
	if (EVP_PKEY_get_id(pkey) == EVP_PKEY_RSA) {
		int bytes = EVP_PKEY_get_size(pkey);

		k->sig_len = 4 * (((size_t)bytes + 2) / 3);
		snprintf(k->desc, sizeof(k->desc), "RSA-%d", EVP_PKEY_get_bits(pkey));
	} else if (EVP_PKEY_get_id(pkey) == EVP_PKEY_EC) {
		char group[64];

		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
						   sizeof(group), NULL) != 1 ||
		    strcmp(group, SN_X9_62_prime256v1) != 0) {
			snprintf(err, errlen, "EC key is not on curve P-256");
			mender_key_free(k);
			return -1;
		}
		k->is_ec = 1;
		k->sig_len = 88; /* base64 of 64 bytes */
		snprintf(k->desc, sizeof(k->desc), "EC-P256");
	} else {
		snprintf(err, errlen, "key type is neither RSA nor EC");
		mender_key_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

void
mender_key_free(struct mender_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

size_t
mender_key_sig_len(const struct mender_key *k)
{
	return k->sig_len;
}

const char *
mender_key_describe(const struct mender_key *k)
{
	return k->desc;
}

int
mender_key_fingerprint(const struct mender_key *k, char out[65])
{
	return pkey_fingerprint(k->pkey, out);
}

int
mender_sign(const struct mender_key *k, const void *msg, size_t len, char **sig, size_t *siglen,
	    char *err, size_t errlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *der = NULL, raw[64];
	const unsigned char *bin;
	size_t derlen = 0, binlen;
	ECDSA_SIG *es = NULL;
	int rc = -1;

	*sig = NULL;
	*siglen = 0;
	if (ctx == NULL ||
	    EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, k->pkey, NULL) != 1 ||
	    EVP_DigestSign(ctx, NULL, &derlen, msg, len) != 1) {
		snprintf(err, errlen, "cannot sign with this key");
		goto out;
	}
	der = xmalloc(derlen);
	if (EVP_DigestSign(ctx, der, &derlen, msg, len) != 1) {
		snprintf(err, errlen, "signing failed");
		goto out;
	}
	bin = der;
	binlen = derlen;
	if (k->is_ec) {
		const unsigned char *p = der;
		const BIGNUM *br, *bs;

		/* mender wants r||s, each 32 bytes big-endian, not DER */
		if ((es = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) == NULL) {
			snprintf(err, errlen, "bad ECDSA signature");
			goto out;
		}
		ECDSA_SIG_get0(es, &br, &bs);
		if (BN_bn2binpad(br, raw, 32) != 32 || BN_bn2binpad(bs, raw + 32, 32) != 32) {
			snprintf(err, errlen, "bad ECDSA signature");
			goto out;
		}
		bin = raw;
		binlen = 64;
	}
	*sig = xmalloc(4 * ((binlen + 2) / 3) + 1);
	*siglen = (size_t)EVP_EncodeBlock((unsigned char *)*sig, bin, (int)binlen);
	if (*siglen != k->sig_len) {
		snprintf(err, errlen, "signature has %zu bytes, expected %zu", *siglen, k->sig_len);
		free(*sig);
		*sig = NULL;
		*siglen = 0;
		goto out;
	}
	rc = 0;
out:
	ECDSA_SIG_free(es);
	free(der);
	EVP_MD_CTX_free(ctx);
	return rc;
}
