/* SPDX-License-Identifier: MIT */
/*
 * subid.c: ranges of the subordinate id file that hold given ids
 * (subid.h).
 */
#include "subid.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "util.h"

/* The file is small (a line per user): more than this is refused. */
#define SUBID_FILE_MAX (4u << 20)

/* A number of [s, e) as newuidmap reads one (strtoul, base 0: leading
 * white space, a 0x or 0 prefix, nothing after it) into *v: 0, or -1. */
static int
number(const char *s, const char *e, unsigned long *v)
{
	char *text, *end;
	int rc;

	if (s == e || memchr(s, '-', (size_t)(e - s)) != NULL)
		return -1;
	text = xstrndup(s, (size_t)(e - s)); /* any length: "  000...0100000" too */
	errno = 0;
	*v = strtoul(text, &end, 0);
	rc = end == text || *end != '\0' || errno == ERANGE ? -1 : 0;
	free(text);
	return rc;
}

/* One line [s, e): 1 when it is a range holding any of lo..hi (in *r). */
static int
line_overlaps(const char *s, const char *e, unsigned long lo, unsigned long hi,
	      struct subid_range *r)
{
	const char *c1 = memchr(s, ':', (size_t)(e - s)), *c2, *c3;
	unsigned long first, count, last;

	if (c1 == NULL || c1 == s || (c2 = memchr(c1 + 1, ':', (size_t)(e - c1 - 1))) == NULL)
		return 0;
	/* newuidmap reads three fields and ignores any after them */
	if ((c3 = memchr(c2 + 1, ':', (size_t)(e - c2 - 1))) != NULL)
		e = c3;
	if (number(c1 + 1, c2, &first) < 0 || number(c2 + 1, e, &count) < 0 || count == 0)
		return 0;
	last = count - 1 > ULONG_MAX - first ? ULONG_MAX : first + count - 1;
	if (first > hi || last < lo)
		return 0;
	snprintf(r->owner, sizeof(r->owner), "%.*s", (int)(c1 - s), s);
	r->first = first;
	r->count = count;
	return 1;
}

int
subid_overlap(const char *buf, size_t len, unsigned long lo, unsigned long hi,
	      struct subid_range *r)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;

		if (line_overlaps(p, e, lo, hi, r))
			return 1;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int
subid_file_overlap(const char *path, unsigned long lo, unsigned long hi, struct subid_range *r,
		   char *err, size_t errlen)
{
	struct buf b;
	char chunk[8192];
	ssize_t n;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf_init(&b, SUBID_FILE_MAX, 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && buf_append(&b, chunk, (size_t)n) < 0) {
			snprintf(err, errlen, "%s: larger than %u bytes", path, SUBID_FILE_MAX);
			goto done;
		}
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	rc = subid_overlap(buf_str(&b), b.len, lo, hi, r);
done:
	buf_free(&b);
	close(fd);
	return rc;
}
