/* SPDX-License-Identifier: MIT */
/*
 * mask.c: see mask.h.
 *
 * Every MASK_RUN-character window of every encoding is hashed into an
 * open-addressed set.  A line is looked at twice: once with white space
 * removed (for base64), once reduced to its hex digits, lower-cased, with
 * "0x"/"\x" prefixes dropped (for hex); every window of either view that
 * is in the set marks the characters of the line it came from.  A random
 * 16-character window of an unrelated line matches by chance with a
 * probability of about 2^-60 per window, so masking never hides ordinary
 * output in practice; a hash collision only masks more.
 */
#include "mask.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util.h"

struct mask {
	uint64_t *set; /* 0: empty slot */
	size_t cap, used;
	size_t encodings;
};

/* One view of a line: the kept characters and where each came from. */
struct view {
	char *c;
	size_t *pos;
	size_t n;
};

static uint64_t
window_hash(const char *s, int kind)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;

	for (size_t i = 0; i < MASK_RUN; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

static void set_insert(struct mask *m, uint64_t h);

static void
set_grow(struct mask *m)
{
	uint64_t *old = m->set;
	size_t oldcap = m->cap;

	m->cap = m->cap ? m->cap * 2 : 1024;
	m->set = xcalloc(m->cap, sizeof(*m->set));
	m->used = 0;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i] != 0)
			set_insert(m, old[i]);
	if (old != NULL) {
		OPENSSL_cleanse(old, oldcap * sizeof(*old));
		free(old);
	}
}

static void
set_insert(struct mask *m, uint64_t h)
{
	size_t i;

	if ((m->used + 1) * 2 > m->cap)
		set_grow(m);
	for (i = h & (m->cap - 1); m->set[i] != 0; i = (i + 1) & (m->cap - 1))
		if (m->set[i] == h)
			return;
	m->set[i] = h;
	m->used++;
}

static int
set_has(const struct mask *m, uint64_t h)
{
	if (m->cap == 0)
		return 0;
	for (size_t i = h & (m->cap - 1); m->set[i] != 0; i = (i + 1) & (m->cap - 1))
		if (m->set[i] == h)
			return 1;
	return 0;
}

/* Add every window of an encoding of kind 0 (base64) or 1 (hex). */
static void
add_encoding(struct mask *m, const char *s, size_t n, int kind)
{
	if (n < MASK_RUN)
		return;
	for (size_t i = 0; i + MASK_RUN <= n; i++)
		set_insert(m, window_hash(s + i, kind));
	m->encodings++;
}

static void
add_hex(struct mask *m, const unsigned char *data, size_t len)
{
	char *hex = xmalloc(len * 2 + 1);

	util_hex(data, len, hex);
	add_encoding(m, hex, len * 2, 1);
	util_cleanse_free(hex, len * 2 + 1);
}

/* The view of s for kind 0: everything but white space. */
static void
view_base64(const char *s, struct view *v)
{
	size_t len = strlen(s);

	v->c = xmalloc(len + 1);
	v->pos = xmalloc((len + 1) * sizeof(*v->pos));
	v->n = 0;
	for (size_t i = 0; i < len; i++) {
		if (isspace((unsigned char)s[i]))
			continue;
		v->c[v->n] = s[i];
		v->pos[v->n++] = i;
	}
}

/* The view of s for kind 1: hex digits only, lower case, without the
 * "x" of 0x / \x prefixes (an x is not a hex digit, so it simply drops). */
static void
view_hex(const char *s, struct view *v)
{
	size_t len = strlen(s);

	v->c = xmalloc(len + 1);
	v->pos = xmalloc((len + 1) * sizeof(*v->pos));
	v->n = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)s[i]))
			continue;
		/* the 0 of a "0x" prefix is no digit of the data */
		if (s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X') &&
		    isxdigit((unsigned char)s[i + 2]))
			continue;
		v->c[v->n] = (char)tolower((unsigned char)s[i]);
		v->pos[v->n++] = i;
	}
}

static void
view_free(struct view *v)
{
	util_cleanse_free(v->c, v->n + 1);
	free(v->pos);
}

/* Mark the characters of the line behind every window in the set. */
static void
mark_view(const struct mask *m, const struct view *v, int kind, const char *line,
	  unsigned char *marks)
{
	if (v->n < MASK_RUN)
		return;
	for (size_t i = 0; i + MASK_RUN <= v->n; i++) {
		size_t k = v->pos[i];

		if (!set_has(m, window_hash(v->c + i, kind)))
			continue;
		/* a 0x or \x prefix goes with the digits it introduces */
		if (kind == 1 && k >= 2 && (line[k - 1] == 'x' || line[k - 1] == 'X') &&
		    (line[k - 2] == '0' || line[k - 2] == '\\'))
			k -= 2;
		for (; k <= v->pos[i + MASK_RUN - 1]; k++)
			marks[k] = 1;
	}
}

struct mask *
mask_new(void)
{
	return xcalloc(1, sizeof(struct mask));
}

/* The PEM bodies of data: their base64 (kind 0) and decoded bytes (hex). */
static void
add_pem_bodies(struct mask *m, const unsigned char *data, size_t len)
{
	char *body = xmalloc(len + 1);
	size_t bl = 0;
	int inside = 0;

	for (size_t i = 0; i < len;) {
		size_t eol = i;

		while (eol < len && data[eol] != '\n')
			eol++;
		if (eol - i >= 5 && memcmp(data + i, "-----", 5) == 0) {
			if (inside && bl > 0) {
				unsigned char *der = xmalloc(bl);
				int dl;

				add_encoding(m, body, bl, 0);
				dl = EVP_DecodeBlock(der, (const unsigned char *)body, (int)bl);
				if (dl > 0)
					add_hex(m, der, (size_t)dl);
				util_cleanse_free(der, bl);
			}
			inside = !inside;
			bl = 0;
		} else if (inside && memchr(data + i, ':', eol - i) == NULL) {
			for (size_t k = i; k < eol; k++)
				if (!isspace(data[k]))
					body[bl++] = (char)data[k];
		}
		i = eol + 1;
	}
	util_cleanse_free(body, len + 1);
}

void
mask_add_key(struct mask *m, const unsigned char *data, size_t len)
{
	struct view v;
	char *text;

	if (len == 0)
		return;
	add_hex(m, data, len);
	if (memmem(data, len, "-----BEGIN", 10) != NULL) {
		add_pem_bodies(m, data, len);
		return;
	}
	/* a hex text key: its digits */
	text = xmalloc(len + 1);
	memcpy(text, data, len);
	text[len] = '\0';
	view_hex(text, &v);
	add_encoding(m, v.c, v.n, 1);
	view_free(&v);
	util_cleanse_free(text, len + 1);
}

char *
mask_apply(const struct mask *m, const char *line)
{
	size_t len = strlen(line), o = 0;
	unsigned char *marks;
	struct view v;
	char *out;
	int any = 0;

	if (m == NULL || m->used == 0 || len < MASK_RUN)
		return xstrdup(line);
	marks = xcalloc(len + 1, 1);
	view_base64(line, &v);
	mark_view(m, &v, 0, line, marks);
	view_free(&v);
	view_hex(line, &v);
	mark_view(m, &v, 1, line, marks);
	view_free(&v);
	for (size_t i = 0; i < len && !any; i++)
		any = marks[i];
	if (!any) {
		free(marks);
		return xstrdup(line);
	}
	out = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		if (!marks[i])
			out[o++] = line[i];
		else if (i == 0 || !marks[i - 1]) {
			/* "***" is never longer than the run it stands for */
			memcpy(out + o, "***", 3);
			o += 3;
		}
	}
	out[o] = '\0';
	free(marks);
	return out;
}

size_t
mask_count(const struct mask *m)
{
	return m ? m->encodings : 0;
}

void
mask_free(struct mask *m)
{
	if (m == NULL)
		return;
	if (m->set != NULL) {
		OPENSSL_cleanse(m->set, m->cap * sizeof(*m->set));
		free(m->set);
	}
	free(m);
}
