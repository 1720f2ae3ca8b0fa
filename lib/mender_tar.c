/* SPDX-License-Identifier: MIT */
/*
 * mender_tar.c: see mender_tar.h.
 *
 * A member is a run of header blocks: any number of extended headers
 * (pax 'x', GNU long name 'L' or long link 'K'), each followed by its
 * data, then the member's own header.  What the extended headers say
 * (path, size, long name) overrides the member's header fields, as Go's
 * archive/tar and GNU tar read them.
 */
#include "mender_tar.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fsutil.h"
#include "util.h"

#define BLOCK MENDER_TAR_BLOCK
#define ROUND_BLOCK MENDER_TAR_ROUND
#define PAX_MAX 65536     /* largest pax extended header */
#define LONGNAME_MAX 4096 /* largest GNU long name */
/* Past this many bytes of extended headers a member is refused ... */
#define EXT_MAX (PAX_MAX + 2 * LONGNAME_MAX)
/* ... so its raw headers never take more than this. */
#define HDRS_MAX (EXT_MAX + BLOCK + PAX_MAX)

/* Where the reader is, and where a failure's reason goes. */
struct tar_rd {
	int fd;
	uint64_t in_size;
	char *err;
	size_t errlen;
};

/* What the extended headers before a member said about it. */
struct tar_ext {
	char path[MENDER_TAR_NAME_MAX];
	char longname[MENDER_TAR_NAME_MAX];
	int have_path, have_long, have_size;
	uint64_t size;
};

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

/* The decimal value of [p, end): 0, or -1 when empty, not decimal or too large. */
static int
parse_decimal(const char *p, const char *end, uint64_t *out)
{
	uint64_t v = 0;

	if (p == end)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return 0;
}

/* Take one pax record's key and value [eq + 1, end) into x; 0 or -1. */
static int
pax_record(const char *kv, const char *eq, const char *end, struct tar_ext *x)
{
	size_t n = (size_t)(end - eq - 1);

	if ((size_t)(eq - kv) == 4 && memcmp(kv, "path", 4) == 0) {
		if (n == 0 || n >= sizeof(x->path) || memchr(eq + 1, '\0', n))
			return -1;
		memcpy(x->path, eq + 1, n);
		x->path[n] = '\0';
		x->have_path = 1;
	} else if ((size_t)(eq - kv) == 4 && memcmp(kv, "size", 4) == 0) {
		if (parse_decimal(eq + 1, end, &x->size) < 0)
			return -1;
		x->have_size = 1;
	}
	return 0;
}

/* Parse pax records ("<len> <key>=<value>\n") for path and size.  0 or -1. */
static int
parse_pax(const char *p, size_t len, struct tar_ext *x)
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
		if (pax_record(kv, eq, end, x) < 0)
			return -1;
		p += reclen;
		len -= reclen;
	}
	return 0;
}

/* Read the data of an extended header at pos into m->hdrs (raw, padded)
 * and point *data at it; 0 or a status. */
static int
read_ext(struct tar_rd *rd, struct mender_tar_member *m, uint64_t pos, uint64_t size, uint64_t max,
	 const char **data)
{
	uint64_t padded = ROUND_BLOCK(size);
	ssize_t n;

	if (size > max)
		return util_err(rd->err, rd->errlen, 400,
				"tar extended header at offset %llu is too large",
				(unsigned long long)pos);
	if (buf_reserve(&m->hdrs, (size_t)padded) < 0)
		return util_err(rd->err, rd->errlen, 400,
				"too many tar extended headers at offset %llu",
				(unsigned long long)pos);
	n = fs_pread_full(rd->fd, m->hdrs.data + m->hdrs.len, (size_t)padded, pos);
	if (n < 0)
		return util_err(rd->err, rd->errlen, 500, "reading artifact: %s", strerror(errno));
	if ((uint64_t)n < padded)
		return util_err(rd->err, rd->errlen, 400, "artifact is truncated");
	*data = m->hdrs.data + m->hdrs.len;
	buf_commit(&m->hdrs, (size_t)padded);
	return 0;
}

/*
 * Take the extended header whose block b was at pos - BLOCK and whose
 * data of size bytes starts at pos; 0 or a status.
 */
static int
take_ext(struct tar_rd *rd, struct mender_tar_member *m, const unsigned char *b, uint64_t pos,
	 uint64_t size, struct tar_ext *x)
{
	const char *ext;
	size_t l;
	int st;

	if (b[156] == 'x') {
		if ((st = read_ext(rd, m, pos, size, PAX_MAX, &ext)) != 0)
			return st;
		if (parse_pax(ext, (size_t)size, x) != 0)
			return util_err(rd->err, rd->errlen, 400, "bad pax header at offset %llu",
					(unsigned long long)(pos - BLOCK));
		return 0;
	}
	if ((st = read_ext(rd, m, pos, size, LONGNAME_MAX, &ext)) != 0)
		return st;
	if (b[156] == 'K')
		return 0; /* a long link name: nothing a regular file needs */
	l = strnlen(ext, (size_t)size);
	if (l == 0 || l >= sizeof(x->longname))
		return util_err(rd->err, rd->errlen, 400, "bad GNU long name at offset %llu",
				(unsigned long long)(pos - BLOCK));
	memcpy(x->longname, ext, l);
	x->longname[l] = '\0';
	x->have_long = 1;
	return 0;
}

/*
 * Read the header block at pos into b.  1 when there is one, 0 at the end
 * of the archive (end of file, or two zero blocks), or a status.
 */
static int
read_block(struct tar_rd *rd, const struct mender_tar_member *m, uint64_t pos,
	   unsigned char b[BLOCK])
{
	ssize_t n = fs_pread_full(rd->fd, b, BLOCK, pos);

	if (n < 0)
		return util_err(rd->err, rd->errlen, 500, "reading artifact: %s", strerror(errno));
	if (n == 0 && m->hdrs.len == 0)
		return 0; /* end of file at a member boundary */
	if (n < BLOCK && pos == 0)
		return util_err(rd->err, rd->errlen, 400,
				"not a Mender artifact: not a tar archive");
	if (n < BLOCK)
		return util_err(rd->err, rd->errlen, 400, "artifact is truncated");
	if (!is_zero_block(b))
		return 1;
	if (m->hdrs.len)
		return util_err(rd->err, rd->errlen, 400, "tar extended header without a member");
	n = fs_pread_full(rd->fd, b, BLOCK, pos + BLOCK);
	if (n < 0)
		return util_err(rd->err, rd->errlen, 500, "reading artifact: %s", strerror(errno));
	if (n == 0 || (n == BLOCK && is_zero_block(b)))
		return 0;
	return util_err(rd->err, rd->errlen, 400, "bad tar header at offset %llu",
			(unsigned long long)(pos + BLOCK));
}

/* Check the header block b at pos and read its size field; 0 or a status. */
static int
check_block(struct tar_rd *rd, const struct mender_tar_member *m, const unsigned char *b,
	    uint64_t pos, uint64_t *size)
{
	if (!checksum_ok(b)) {
		if (pos == 0)
			return util_err(rd->err, rd->errlen, 400,
					"not a Mender artifact: not a tar archive");
		return util_err(rd->err, rd->errlen, 400, "bad tar header checksum at offset %llu",
				(unsigned long long)pos);
	}
	if (parse_numeric(b + 124, 12, size) != 0 || *size > (UINT64_MAX >> 2))
		return util_err(rd->err, rd->errlen, 400, "bad tar member size at offset %llu",
				(unsigned long long)pos);
	if (m->hdrs.len > EXT_MAX)
		return util_err(rd->err, rd->errlen, 400,
				"too many tar extended headers at offset %llu",
				(unsigned long long)pos);
	return 0;
}

/* The member's name: a pax path, a GNU long name, or the header's own
 * (prefix/name for USTAR and star). */
static void
member_name(struct mender_tar_member *m, const unsigned char *b, const struct tar_ext *x)
{
	char name[101], prefix[156];
	int star = memcmp(b + 508, "tar\0", 4) == 0;

	if (x->have_path) {
		snprintf(m->name, sizeof(m->name), "%s", x->path);
		return;
	}
	if (x->have_long) {
		snprintf(m->name, sizeof(m->name), "%s", x->longname);
		return;
	}
	field_str(name, b, 100);
	prefix[0] = '\0';
	if (memcmp(b + 257, "ustar\0", 6) == 0)
		field_str(prefix, b + 345, star ? 131 : 155);
	if (prefix[0])
		snprintf(m->name, sizeof(m->name), "%s/%s", prefix, name);
	else
		snprintf(m->name, sizeof(m->name), "%s", name);
}

/* Settle the member whose own header is b, its data at pos; 1 or a status. */
static int
member_done(struct tar_rd *rd, struct mender_tar_member *m, const unsigned char *b, uint64_t pos,
	    uint64_t size, const struct tar_ext *x)
{
	member_name(m, b, x);
	if (x->have_size)
		size = x->size;
	if (b[156] == 'g')
		return util_err(rd->err, rd->errlen, 400,
				"pax global headers are not supported in an artifact");
	if (b[156] != '0' && b[156] != '\0')
		return util_err(rd->err, rd->errlen, 400, "member %s is not a regular file",
				m->name);
	if (size > (UINT64_MAX >> 2))
		return util_err(rd->err, rd->errlen, 400, "member %s is too large", m->name);
	m->data = pos;
	m->size = size;
	m->end = pos + ROUND_BLOCK(size);
	if (m->end > rd->in_size)
		return util_err(rd->err, rd->errlen, 400, "artifact is truncated in member %s",
				m->name);
	return 1;
}

int
mender_tar_next(int fd, uint64_t pos, uint64_t in_size, struct mender_tar_member *m, char *err,
		size_t errlen)
{
	struct tar_rd rd = {fd, in_size, err, errlen};
	struct tar_ext x;
	unsigned char b[BLOCK];
	uint64_t size = 0;
	int st;

	memset(&x, 0, sizeof(x));
	buf_clear(&m->hdrs);
	m->start = pos;
	for (;;) {
		if ((st = read_block(&rd, m, pos, b)) != 1)
			return st;
		if ((st = check_block(&rd, m, b, pos, &size)) != 0)
			return st;
		if (buf_append(&m->hdrs, b, BLOCK) < 0)
			return util_err(err, errlen, 400,
					"too many tar extended headers at offset %llu",
					(unsigned long long)pos);
		pos += BLOCK;
		if (b[156] != 'x' && b[156] != 'L' && b[156] != 'K')
			return member_done(&rd, m, b, pos, size, &x);
		if ((st = take_ext(&rd, m, b, pos, size, &x)) != 0)
			return st;
		pos += ROUND_BLOCK(size);
	}
}

void
mender_tar_member_init(struct mender_tar_member *m)
{
	memset(m, 0, sizeof(*m));
	buf_init(&m->hdrs, HDRS_MAX, 0);
}

void
mender_tar_member_free(struct mender_tar_member *m)
{
	buf_free(&m->hdrs);
}
