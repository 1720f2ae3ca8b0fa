/* SPDX-License-Identifier: MIT */
/*
 * fuzz_multipart.c: libFuzzer harness for the streaming multipart parser
 * (lib/multipart.c).
 *
 * The first byte picks the boundary and a slicing seed; the rest is the
 * body.  The body is parsed in one feed and again in pseudo-random slices
 * (one byte at times); both must give the same events and the same
 * status, and the callbacks must come in begin/data/end order.  The
 * Content-Type splitter is fed the body as a header value too.
 */
/* fuzz-sources: lib/multipart.c lib/util.c lib/log.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"
#include "util.h"

struct events {
	unsigned char *buf;
	size_t len, cap;
	int in_part;
};

static void
add(struct events *e, const void *p, size_t n)
{
	if (e->len + n > e->cap) {
		e->cap = (e->len + n) * 2 + 64;
		e->buf = xrealloc(e->buf, e->cap);
	}
	memcpy(e->buf + e->len, p, n);
	e->len += n;
}

static int
on_begin(void *ctx, const struct multipart_part *part, char *err, size_t errlen)
{
	struct events *e = ctx;

	if (e->in_part || part->name == NULL || part->name[0] == '\0' || part->type == NULL)
		abort();
	for (const char *p = part->type; *p; p++)
		if ((*p >= 'A' && *p <= 'Z') || *p == ';')
			abort();
	e->in_part = 1;
	add(e, "B", 1);
	add(e, part->name, strlen(part->name) + 1);
	if (part->filename != NULL)
		add(e, part->filename, strlen(part->filename) + 1);
	else
		add(e, "-", 1);
	add(e, part->type, strlen(part->type) + 1);
	return 0;
}

static int
on_data(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
	struct events *e = ctx;

	if (!e->in_part || len == 0)
		abort();
	add(e, buf, len);
	return 0;
}

static int
on_end(void *ctx, char *err, size_t errlen)
{
	struct events *e = ctx;

	if (!e->in_part)
		abort();
	e->in_part = 0;
	add(e, "E", 1);
	return 0;
}

static const struct multipart_callbacks cbs = {on_begin, on_data, on_end};

static const char *const boundaries[] = {
	"XyZ",
	"------------------------2d66bf7c3cbf98fb",
	"a",
	"----WebKitFormBoundary7MA4YWxkTrZu0gW",
};

static int
parse(const char *boundary, const uint8_t *body, size_t len, unsigned seed, struct events *e,
      char *err, size_t errlen)
{
	struct multipart *mp = multipart_new(boundary, 8, &cbs, e);
	size_t off = 0;
	int rc = 0;

	while (off < len && rc == 0) {
		size_t n = len - off;

		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			n = (seed >> 16) % 8 == 0 ? 1 : 1 + (seed >> 16) % 64;
			if (n > len - off)
				n = len - off;
		}
		rc = multipart_feed(mp, body + off, n, err, errlen);
		off += n;
	}
	if (rc == 0)
		rc = multipart_finish(mp, err, errlen);
	multipart_free(mp);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct events one = {0}, sliced = {0};
	char err1[256], err2[256], *str, *type, *boundary;
	const char *b;
	int rc1, rc2;

	if (size < 1)
		return 0;
	b = boundaries[data[0] % 4];
	rc1 = parse(b, data + 1, size - 1, 0, &one, err1, sizeof(err1));
	rc2 = parse(b, data + 1, size - 1, data[0] | 1u, &sliced, err2, sizeof(err2));
	if (rc1 != rc2 || one.len != sliced.len ||
	    (one.len > 0 && memcmp(one.buf, sliced.buf, one.len) != 0))
		abort();
	if (rc1 != 0 && strcmp(err1, err2) != 0)
		abort();
	if (rc1 == 0 && one.in_part)
		abort();
	free(one.buf);
	free(sliced.buf);

	str = xstrndup((const char *)data, size);
	if (multipart_content_type(str, &type, &boundary) == 0) {
		if (type == NULL || type[0] == '\0')
			abort();
		if (boundary != NULL &&
		    (boundary[0] == '\0' || strlen(boundary) > MULTIPART_BOUNDARY_MAX))
			abort();
		free(type);
		free(boundary);
	}
	free(str);
	return 0;
}
