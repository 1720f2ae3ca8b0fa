/* SPDX-License-Identifier: MIT */
/*
 * buf.c: see buf.h.
 *
 * A buf doubles its storage as it grows, up to max + 1 bytes (the NUL).
 * A sensitive one grows by copying into a new block and cleansing the old
 * one, since realloc may leave a copy of key bytes behind in freed memory.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "util.h"

#define BUF_FIRST 64
#define STRV_FIRST 16

void
buf_init(struct buf *b, size_t max, int sensitive)
{
	memset(b, 0, sizeof(*b));
	b->max = max < BUF_UNLIMITED ? max : BUF_UNLIMITED;
	b->sensitive = sensitive;
}

/* Give b storage of exactly cap bytes (cap > len). */
static void
buf_resize(struct buf *b, size_t cap)
{
	char *p;

	if (!b->sensitive) {
		b->data = xrealloc(b->data, cap);
	} else {
		p = xmalloc(cap);
		if (b->data != NULL) {
			memcpy(p, b->data, b->len + 1);
			util_cleanse_free(b->data, b->cap);
		}
		b->data = p;
	}
	b->cap = cap;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t need, cap;

	if (n > b->max - b->len)
		return -1;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : BUF_FIRST;
	while (cap < need)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	buf_resize(b, cap);
	if (b->len == 0)
		b->data[0] = '\0';
	return 0;
}

void
buf_commit(struct buf *b, size_t n)
{
	if (n > b->cap - b->len - 1)
		fatalx("buf_commit: %zu bytes past the reserved room", n);
	b->len += n;
	b->data[b->len] = '\0';
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	buf_commit(b, n);
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	buf_commit(b, (size_t)n);
	return 0;
}

const char *
buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

size_t
buf_room(const struct buf *b)
{
	return b->max - b->len;
}

void
buf_clear(struct buf *b)
{
	if (b->data == NULL)
		return;
	if (b->sensitive)
		OPENSSL_cleanse(b->data, b->cap);
	b->len = 0;
	b->data[0] = '\0';
}

char *
buf_detach(struct buf *b, size_t *len)
{
	char *p = b->data ? b->data : xstrdup("");

	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void
buf_free(struct buf *b)
{
	if (b->sensitive)
		util_cleanse_free(b->data, b->cap);
	else
		free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Append str itself (newly allocated) to s. */
static void
strv_take(struct strv *s, char *str)
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? 2 * s->cap : STRV_FIRST;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

void
strv_add(struct strv *s, const char *str)
{
	strv_take(s, xstrdup(str));
}

void
strv_addn(struct strv *s, const char *str, size_t n)
{
	strv_take(s, xstrndup(str, n));
}

void
strv_addf(struct strv *s, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	strv_take(s, p);
}

static int
strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
strv_sort(struct strv *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), strv_cmp);
}

long
strv_find(const struct strv *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], str) == 0)
			return (long)i;
	return -1;
}

void
strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
