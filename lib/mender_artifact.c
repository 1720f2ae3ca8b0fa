/* SPDX-License-Identifier: MIT */
/*
 * mender_artifact.c: see mender_artifact.h.
 *
 * The artifact is walked member by member in the order the format fixes
 * (walk): the outer tar headers come from lib/mender_tar.c and are copied
 * raw, so the output keeps every byte mender-artifact wrote; the data
 * members, which are tar archives that may be compressed, are read with
 * libarchive through a callback that pulls the member's bytes from the
 * input.  Either the callback also writes what it read to the output, or
 * (copy_range) a helper thread (lib/mender_copy.c) copies the member while
 * this thread only reads and hashes.  The inserted manifest.sig moves
 * later members by a multiple of 512 bytes, not of the 4 KiB block size,
 * so even a file system that can share extents (reflinks) copies the
 * data; it is still one pass.
 */
#include "mender_artifact.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "fsutil.h"
#include "mender_copy.h"
#include "mender_manifest.h"
#include "mender_tar.h"
#include "pkey.h"
#include "util.h"

#define BLOCK MENDER_TAR_BLOCK
#define ROUND_BLOCK MENDER_TAR_ROUND
#define IO_CHUNK (256 * 1024)  /* bytes read at a time: stays in L2 for hashing */
#define COPY_MIN (1024 * 1024) /* smaller members are copied inline */
#define WRITEBACK_CHUNK (8 * 1024 * 1024)
#define PROGRESS_STEP (64 * 1024 * 1024)
#define VERSION_MAX 65536 /* largest version file */
#define REASON_MAX 2048   /* a reason from a helper module, before fail() */

enum compression { COMP_NONE, COMP_GZIP, COMP_XZ, COMP_ZSTD };

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
	struct mender_manifest mf;
	uint64_t members, expanded, holes;
	uint64_t done, next_progress;
	struct mender_copy cp;
};

/* The unread rest of one member, read in order. */
struct stream {
	struct rw *w;
	const char *name;
	uint64_t in_off, data_end, in_end;
	uint64_t out_off;
	int copied;  /* the copier writes this member */
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

/* Write to the output at off from this thread. */
static int
out_write(struct rw *w, const void *buf, size_t len, uint64_t off)
{
	if (fs_pwrite_full(w->out, buf, len, off) < 0)
		return fail(w, util_write_status(errno), "writing signed artifact: %s",
			    strerror(errno));
	if (w->o->start_writeback && off + len >= w->wb_from + WRITEBACK_CHUNK) {
		mender_writeback_hint(w->out, w->wb_from, off + len - w->wb_from);
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

/* Wait for the copier (stopping it first when abort is set). */
static int
copier_join(struct rw *w, int abort)
{
	if (mender_copy_join(&w->cp, abort) == 0)
		return 0;
	if (w->cp.error)
		return fail(w, util_write_status(w->cp.error), "copying artifact: %s",
			    strerror(w->cp.error));
	return fail(w, 409, "artifact changed while it was being signed");
}

/* Start the output copy of member m and set up s to read its data. */
static int
member_begin(struct rw *w, struct mender_tar_member *m, int bulk, struct stream *s)
{
	int e;

	memset(s, 0, sizeof(*s));
	s->w = w;
	s->name = m->name;
	s->in_off = m->data;
	s->data_end = m->data + m->size;
	s->in_end = m->end;
	s->out_off = w->out_pos + m->hdrs.len;
	if (bulk && w->o->copy_range && m->end - m->start >= COPY_MIN) {
		s->copied = 1;
		e = mender_copy_start(&w->cp, w->in, w->out, m->start, w->out_pos,
				      m->end - m->start, w->o->start_writeback);
		if (e != 0)
			return fail(w, 500, "starting copy thread: %s", strerror(e));
		return 0;
	}
	return out_write(w, m->hdrs.data, m->hdrs.len, w->out_pos);
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
	n = fs_pread_full(w->in, w->buf, want, s->in_off);
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
member_finish(struct rw *w, struct mender_tar_member *m, struct stream *s)
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

/* The next outer member: 1 and m filled in, 0 at the end of the archive,
 * -1 on error (w->status). */
static int
next_member(struct rw *w, struct mender_tar_member *m)
{
	char why[REASON_MAX];
	int got = mender_tar_next(w->in, w->in_pos, w->in_size, m, why, sizeof(why));

	if (got > 1) {
		fail(w, got, "%s", why);
		return -1;
	}
	if (got == 1 && ++w->members > w->o->max_members) {
		fail(w, 400, "artifact has more than %llu members",
		     (unsigned long long)w->o->max_members);
		return -1;
	}
	return w->status ? -1 : got;
}

/* Compare a computed digest with the manifest's line for name. */
static int
check_sum(struct rw *w, const char *name, const unsigned char md[32])
{
	char why[REASON_MAX];

	if (mender_manifest_check(&w->mf, name, md, why, sizeof(why)) < 0)
		return fail(w, 400, "%s", why);
	return 0;
}

/* Add a manifest's lines to the table. */
static int
add_manifest(struct rw *w, const char *what, const char *text, size_t len)
{
	char why[REASON_MAX];

	if (mender_manifest_add(&w->mf, what, text, len, why, sizeof(why)) < 0)
		return fail(w, 400, "%s", why);
	return 0;
}

static int
sha256(const void *p, size_t len, unsigned char md[32])
{
	unsigned int l = 0;

	return EVP_Digest(p, len, md, &l, pkey_sha256(), NULL) == 1 ? 0 : -1;
}

/* Read a small member whole into *data (NUL-terminated), copying it out. */
static int
read_small(struct rw *w, struct mender_tar_member *m, size_t max, char **data)
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
hash_member(struct rw *w, struct mender_tar_member *m)
{
	struct stream s;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	int rc = 0;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, pkey_sha256(), NULL) != 1) {
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
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == ',' || *s == '-'))
			return 0;
	return 1;
}

/* Count len more payload bytes hashed; 0, or 400 past the limit. */
static int
count_expanded(struct rw *w, size_t len)
{
	w->expanded += len;
	if (w->expanded > w->o->max_expanded)
		return fail(w, 400, "payload expands past %llu bytes",
			    (unsigned long long)w->o->max_expanded);
	return 0;
}

/* Hash the zeros of a sparse file's hole from *at to off, as Go's tar
 * reader gives them; 0, or 400 past the holes' limit. */
static int
hash_hole(struct rw *w, EVP_MD_CTX *ctx, int64_t *at, int64_t off)
{
	static const unsigned char zeros[4096];

	w->holes += (uint64_t)(off - *at);
	if (w->holes > w->o->max_holes)
		return fail(w, 400, "sparse payload files with more than %llu bytes of holes",
			    (unsigned long long)w->o->max_holes);
	while (*at < off) {
		size_t z =
		    (uint64_t)(off - *at) < sizeof(zeros) ? (size_t)(off - *at) : sizeof(zeros);

		EVP_DigestUpdate(ctx, zeros, z);
		*at += (int64_t)z;
		w->expanded += z;
	}
	return 0;
}

/* Feed one payload file from the archive into ctx; 0 or a status. */
static int
hash_payload_data(struct rw *w, struct archive *a, struct stream *s, const char *key,
		  EVP_MD_CTX *ctx)
{
	int64_t expect = 0;

	for (;;) {
		const void *p;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(a, &p, &len, &off);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN) {
			if (w->status)
				return w->status;
			return fail(w, 400, "%s: %s", s->name, archive_error_string(a));
		}
		if (off < expect)
			return fail(w, 400, "%s: bad sparse map in %s", s->name, key);
		if (hash_hole(w, ctx, &expect, off) != 0)
			return w->status;
		EVP_DigestUpdate(ctx, p, len);
		expect += (int64_t)len;
		if (count_expanded(w, len) != 0)
			return w->status;
	}
}

/* Hash one payload file from the archive and check it. */
static int
hash_payload_file(struct rw *w, struct archive *a, struct stream *s, const char *key)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	int st;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, pkey_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return fail(w, 500, "sha256 unavailable");
	}
	if ((st = hash_payload_data(w, a, s, key, ctx)) != 0) {
		EVP_MD_CTX_free(ctx);
		return st;
	}
	if (EVP_DigestFinal_ex(ctx, md, NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return fail(w, 500, "sha256 failed");
	}
	EVP_MD_CTX_free(ctx);
	return check_sum(w, key, md);
}

/* A libarchive reader for a data member of compression comp, or NULL
 * (w->status set). */
static struct archive *
payload_reader(struct rw *w, const struct mender_tar_member *m, enum compression comp)
{
	struct archive *a = archive_read_new();
	int r = ARCHIVE_OK;

	if (a == NULL) {
		fail(w, 500, "libarchive: out of memory");
		return NULL;
	}
	archive_read_support_format_tar(a);
	if (comp == COMP_GZIP)
		r = archive_read_support_filter_gzip(a);
	else if (comp == COMP_XZ)
		r = archive_read_support_filter_xz(a);
	else if (comp == COMP_ZSTD)
		r = archive_read_support_filter_zstd(a);
	if (r < ARCHIVE_WARN) {
		archive_read_free(a);
		fail(w, 500, "libarchive cannot decompress %s", m->name);
		return NULL;
	}
	return a;
}

/* Check one file of data member m (index) and hash it; 0 or a status. */
static int
payload_file(struct rw *w, const struct mender_tar_member *m, unsigned index, struct archive *a,
	     struct archive_entry *ae, struct stream *s)
{
	const char *path = archive_entry_pathname(ae), *base;
	char key[MENDER_TAR_NAME_MAX + 16], name[MENDER_TAR_NAME_MAX];
	size_t l;

	if (++w->members > w->o->max_members)
		return fail(w, 400, "artifact has more than %llu members",
			    (unsigned long long)w->o->max_members);
	if (path == NULL || (l = strlen(path)) == 0 || l >= sizeof(name))
		return fail(w, 400, "%s: bad file name", m->name);
	memcpy(name, path, l + 1);
	while (l > 1 && name[l - 1] == '/')
		name[--l] = '\0';
	base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	if (archive_entry_filetype(ae) != AE_IFREG || archive_entry_hardlink(ae))
		return fail(w, 400, "%s: %s is not a regular file", m->name, name);
	if (!payload_name_ok(base))
		return fail(w, 400, "%s: file name %s has forbidden characters", m->name, base);
	snprintf(key, sizeof(key), "data/%04u/%s", index, base);
	if (hash_payload_file(w, a, s, key) != 0)
		return w->status;
	w->r->payload_files++;
	return 0;
}

/* Walk a data member (a tar, perhaps compressed), hashing each file. */
static int
check_payload(struct rw *w, struct mender_tar_member *m, unsigned index, enum compression comp)
{
	struct archive *a = payload_reader(w, m, comp);
	struct archive_entry *ae;
	struct stream s;
	int r;

	if (a == NULL)
		return w->status;
	if (member_begin(w, m, 1, &s) != 0)
		goto out;
	if (archive_read_open(a, &s, NULL, payload_read, NULL) != ARCHIVE_OK) {
		fail(w, 400, "%s: %s", m->name, archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &ae)) != ARCHIVE_EOF) {
		if (r < ARCHIVE_WARN) {
			fail(w, 400, "%s: %s", m->name, archive_error_string(a));
			goto out;
		}
		if (payload_file(w, m, index, a, ae, &s) != 0)
			goto out;
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

/* The first member, version: copied, checked and hashed into md. */
static int
walk_version(struct rw *w, struct mender_tar_member *m, unsigned char md[32])
{
	char *data = NULL;
	int got;

	if ((got = next_member(w, m)) < 0)
		return w->status;
	if (got == 0)
		return fail(w, 400, "not a Mender artifact: empty archive");
	if (strcmp(m->name, "version") != 0)
		return fail(w, 400, "not a Mender artifact: first member is %s, not version",
			    m->name);
	if (read_small(w, m, VERSION_MAX, &data) != 0) {
		free(data);
		return w->status;
	}
	if (sha256(data, (size_t)m->size, md) != 0) {
		free(data);
		return fail(w, 500, "sha256 failed");
	}
	parse_version(w, data, (size_t)m->size);
	free(data);
	return w->status;
}

/* The manifest: copied and parsed, the version checked against it, and
 * the slot for manifest.sig reserved after it. */
static int
walk_manifest(struct rw *w, struct mender_tar_member *m, const unsigned char version_md[32])
{
	struct mender_result *r = w->r;
	unsigned char md[32];
	int got;

	if ((got = next_member(w, m)) < 0)
		return w->status;
	if (got == 0)
		return fail(w, 400, "Mender artifact has no manifest");
	if (strcmp(m->name, "manifest") != 0)
		return fail(w, 400, "Mender artifact has %s where its manifest should be", m->name);
	if (read_small(w, m, w->o->meta_max, &r->manifest) != 0)
		return w->status;
	r->manifest_len = (size_t)m->size;
	if (sha256(r->manifest, r->manifest_len, md) != 0)
		return fail(w, 500, "sha256 failed");
	util_hex(md, 32, r->manifest_sha256);
	if (add_manifest(w, "manifest", r->manifest, r->manifest_len) != 0)
		return w->status;
	if (check_sum(w, "version", version_md) != 0)
		return w->status;
	r->sig_offset = w->out_pos;
	r->sig_len = w->o->sig_len;
	if (r->sig_len)
		w->out_pos += BLOCK + ROUND_BLOCK(r->sig_len);
	return 0;
}

/*
 * After the manifest: an old manifest.sig (dropped: the new one takes its
 * place) and, in format 3, a manifest-augment (*augmented set).  The
 * result of next_member for the member after them.
 */
static int
walk_after_manifest(struct rw *w, struct mender_tar_member *m, int *augmented)
{
	char *data = NULL;
	int got = next_member(w, m);

	if (got > 0 && strcmp(m->name, "manifest.sig") == 0) {
		w->r->was_signed = 1;
		w->in_pos = m->end;
		progress(w, m->end - m->start);
		got = next_member(w, m);
	}
	if (got > 0 && w->r->format_version == 3 && strcmp(m->name, "manifest-augment") == 0) {
		if (read_small(w, m, w->o->meta_max, &data) == 0)
			add_manifest(w, "manifest-augment", data, (size_t)m->size);
		free(data);
		if (w->status)
			return -1;
		*augmented = 1;
		got = next_member(w, m);
	}
	return w->status ? -1 : got;
}

/* header.tar*, and header-augment.tar* after a manifest-augment; then the
 * data members to the end of the archive. */
static int
walk_headers_and_data(struct rw *w, struct mender_tar_member *m, int got, int augmented)
{
	enum compression comp;
	unsigned index;

	if (got == 0 || !match_name(m->name, header_names, &comp))
		return fail(w, 400, "Mender artifact has no header.tar after its manifest%s%s",
			    got ? ", but " : "", got ? m->name : "");
	if (hash_member(w, m) != 0)
		return w->status;
	got = next_member(w, m);
	if (augmented) {
		if (got == 0 || !match_name(m->name, augment_names, &comp))
			return fail(w, 400,
				    "Mender artifact has a manifest-augment but no "
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
	return w->status;
}

/* The whole walk through the artifact. */
static int
walk(struct rw *w, struct mender_tar_member *m)
{
	static const unsigned char trailer[2 * BLOCK];
	unsigned char version_md[32];
	const char *missing;
	int got, augmented = 0;

	if (walk_version(w, m, version_md) != 0 || walk_manifest(w, m, version_md) != 0)
		return w->status;
	if ((got = walk_after_manifest(w, m, &augmented)) < 0)
		return w->status;
	if (walk_headers_and_data(w, m, got, augmented) != 0)
		return w->status;
	/* what Go's tar writer ends an archive with */
	if (out_write(w, trailer, sizeof(trailer), w->out_pos) != 0)
		return w->status;
	w->out_pos += sizeof(trailer);
	w->r->out_size = w->out_pos;
	if ((missing = mender_manifest_unseen(&w->mf)) != NULL)
		return fail(w, 400, "manifest lists %s, which is not in the artifact", missing);
	return 0;
}

void
mender_opts_init(struct mender_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->meta_max = 16 * 1024 * 1024;
	o->max_members = 200000;
	o->max_expanded = UINT64_C(1) << 40;
	o->max_holes = UINT64_C(2000000000);
}

/* Did the input stay as it was when the rewrite began?  0 or a status. */
static int
check_unchanged(struct rw *w)
{
	struct stat st1;

	if (fstat(w->in, &st1) != 0)
		return fail(w, 500, "artifact: %s", strerror(errno));
	if (!fs_same_version(&w->st0, &st1))
		return fail(w, 409, "artifact changed while it was being signed");
	return 0;
}

int
mender_rewrite(int in, int out, const struct mender_opts *o, struct mender_result *r, char *err,
	       size_t errlen)
{
	struct rw w;
	struct mender_tar_member m;

	memset(r, 0, sizeof(*r));
	memset(&w, 0, sizeof(w));
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
	mender_manifest_init(&w.mf);
	mender_tar_member_init(&m);
	walk(&w, &m);
	copier_join(&w, 1);
	if (w.status == 0)
		check_unchanged(&w);
	if (w.status == 0 && o->start_writeback && w.out_pos > w.wb_from)
		mender_writeback_hint(out, w.wb_from, w.out_pos - w.wb_from);
	mender_manifest_free(&w.mf);
	mender_tar_member_free(&m);
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
	if (fs_pwrite_full(out, buf, total, r->sig_offset) < 0) {
		rc = util_write_status(errno);
		snprintf(err, errlen, "writing signed artifact: %s", strerror(errno));
	}
	free(buf);
	return rc;
}
