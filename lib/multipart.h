/* SPDX-License-Identifier: MIT */
/*
 * multipart.h: a streaming push parser for multipart/form-data bodies.
 *
 * The body is fed in slices of any size; a boundary may be split across
 * slices at any offset.  The parser calls back at the start of each part
 * (with its name, filename and content type), for each run of its data,
 * and at its end.  Memory use is fixed: part headers are bounded and data
 * is passed through, never accumulated.  The form layer (form.c) builds
 * fields and files on top of it.
 */
#ifndef DSS_MULTIPART_H
#define DSS_MULTIPART_H

#include <stddef.h>

#define MULTIPART_BOUNDARY_MAX 70   /* RFC 2046 */
#define MULTIPART_HEADER_MAX 8192   /* header bytes of one part */
#define MULTIPART_HEADER_COUNT 16   /* header lines of one part */

struct multipart_part {
	const char *name;
	const char *filename; /* NULL when the part has no filename parameter */
	const char *type;     /* Content-Type, lower case, no parameters;
			       * "text/plain" when absent */
};

/* Each returns 0 to go on, or an HTTP status with a reason in err. */
struct multipart_callbacks {
	int (*begin)(void *ctx, const struct multipart_part *part, char *err, size_t errlen);
	int (*data)(void *ctx, const void *buf, size_t len, char *err, size_t errlen);
	int (*end)(void *ctx, char *err, size_t errlen);
};

struct multipart;

/* A parser for the given boundary (1 to 70 characters, checked by
 * multipart_content_type) allowing at most max_parts parts. */
struct multipart *multipart_new(const char *boundary, int max_parts,
				const struct multipart_callbacks *cb, void *ctx);
/* Feed a slice: 0, or an HTTP status (400, or a callback's) with err set.
 * An error sticks: later calls return it again. */
int multipart_feed(struct multipart *mp, const void *buf, size_t len, char *err, size_t errlen);
/* The body has ended: 0 when the closing boundary was seen, else 400
 * "truncated multipart body" (or the earlier error). */
int multipart_finish(struct multipart *mp, char *err, size_t errlen);
void multipart_free(struct multipart *mp);

/*
 * Split a Content-Type value: the media type lower-cased into *type and,
 * for multipart types, the boundary parameter (token or quoted string)
 * into *boundary (NULL when absent).  0, or -1 when the value is
 * malformed or the boundary invalid.  The caller frees both.
 */
int multipart_content_type(const char *value, char **type, char **boundary);

#endif
