/* SPDX-License-Identifier: MIT */
/*
 * buf.h: the two growable containers the code shares, so that no file
 * grows an array by hand.
 *
 * struct buf holds bytes (text or binary, always followed by a NUL that
 * len does not count) and never more than its max: an append that would
 * pass it changes nothing and returns -1, so a limit is checked in one
 * place.  A sensitive buf (key material) cleanses every block of storage
 * it gives up, on growth as on free.  struct strv is a NULL-terminated
 * list of newly allocated strings, the shape argv and envp take.
 *
 *	struct buf b;
 *	buf_init(&b, 4096, 0);
 *	if (buf_printf(&b, "%s=%d", name, n) < 0) ... too long
 *	use b.data, b.len; buf_free(&b);
 *
 * Memory exhaustion ends the process, as xmalloc does (lib/util.h).
 */
#ifndef DSS_BUF_H
#define DSS_BUF_H

#include <stddef.h>
#include <stdint.h>

/* The largest max a buf can have ("no limit but memory"). */
#define BUF_UNLIMITED (SIZE_MAX / 4)

struct buf {
	char *data;    /* NULL until the first byte (or buf_reserve) */
	size_t len;    /* bytes held, the trailing NUL not counted */
	size_t cap;    /* bytes allocated */
	size_t max;    /* most bytes it may hold */
	int sensitive; /* cleanse storage it gives up */
};

/* An empty buf of at most max bytes (clamped to BUF_UNLIMITED). */
void buf_init(struct buf *b, size_t max, int sensitive);
/* Room for n more bytes and the NUL: 0, or -1 when len + n would pass max. */
int buf_reserve(struct buf *b, size_t n);
/* Count n bytes the caller wrote at data + len after buf_reserve(b, n). */
void buf_commit(struct buf *b, size_t n);
/* Append n bytes: 0, or -1 (nothing appended) when they would pass max. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
/* Append formatted text: 0, or -1 (nothing appended) past max. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text held: data, or "" while there is none. */
const char *buf_str(const struct buf *b);
/* How many more bytes it may take. */
size_t buf_room(const struct buf *b);
/* Empty it (cleansed when sensitive), keeping its storage. */
void buf_clear(struct buf *b);
/* Hand the data over (never NULL: "" when empty; len may be NULL) and
 * leave b empty with the same max. */
char *buf_detach(struct buf *b, size_t *len);
/* Free the storage (cleansed when sensitive); b can be used again. */
void buf_free(struct buf *b);

struct strv {
	char **v; /* NULL-terminated; NULL while nothing was added */
	size_t n; /* strings, the NULL not counted */
	size_t cap;
};

/* Add a copy of str, of its first n bytes, or of formatted text. */
void strv_add(struct strv *s, const char *str);
void strv_addn(struct strv *s, const char *str, size_t n);
void strv_addf(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sort the strings in strcmp order. */
void strv_sort(struct strv *s);
/* Index of the first string equal to str, or -1. */
long strv_find(const struct strv *s, const char *str);
/* Free every string and the list; s can be used again. */
void strv_free(struct strv *s);

#endif
