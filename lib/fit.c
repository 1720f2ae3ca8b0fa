/* SPDX-License-Identifier: MIT */
/*
 * fit.c: reading a FIT image's signature nodes (fit.h).
 *
 * The layout (devicetree specification, chapter 5): a header of
 * big-endian 32-bit words (magic 0xd00dfeed, totalsize, off_dt_struct,
 * off_dt_strings, off_mem_rsvmap, version, last_comp_version,
 * boot_cpuid_phys, size_dt_strings, size_dt_struct), then the structure
 * block, a series of 32-bit-aligned tokens: BEGIN_NODE (its name,
 * NUL-terminated), END_NODE, PROP (value length, offset of its name in
 * the strings block, the value), NOP and END.
 */
#include "fit.h"

#include <stdio.h>
#include <string.h>

#define FDT_MAGIC 0xd00dfeedU
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9
#define FDT_HEADER_MIN 40 /* version 17: ten words */

struct walk {
	const unsigned char *s; /* structure block */
	size_t slen;
	const unsigned char *str; /* strings block */
	size_t strslen;
	size_t pos;
	int depth;
	const char *names[FIT_DEPTH_MAX + 1]; /* names[d]: the open node at depth d */
	struct fit_info *fi;
	struct fit_sig *cur; /* the signature node being read, or NULL */
	char *err;
	size_t errlen;
};

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int
fail(struct walk *w, const char *why)
{
	snprintf(w->err, w->errlen, "not a valid FIT image: %s", why);
	return -1;
}

/* The next token's word, advancing; -1 past the block. */
static int
next_word(struct walk *w, uint32_t *v)
{
	if (w->slen - w->pos < 4)
		return -1;
	*v = be32(w->s + w->pos);
	w->pos += 4;
	return 0;
}

/* Skip n bytes and the padding to the next word; -1 past the block. */
static int
skip_padded(struct walk *w, size_t n)
{
	size_t padded = (n + 3) & ~(size_t)3;

	if (padded < n || w->slen - w->pos < padded)
		return -1;
	w->pos += padded;
	return 0;
}

/* Depths: the root node is 1, /images 2, /images/<x> 3. */
#define DEPTH_ROOT 1
#define DEPTH_SIG 4

/* 1 when the node just opened is a signature node of an image or a
 * configuration: /images/<x>/signature* or /configurations/<x>/signature*. */
static int
is_signature_node(const struct walk *w)
{
	return w->depth == DEPTH_SIG &&
	       (strcmp(w->names[2], "images") == 0 || strcmp(w->names[2], "configurations") == 0) &&
	       strncmp(w->names[4], "signature", 9) == 0;
}

static int
begin_node(struct walk *w)
{
	const char *name = (const char *)w->s + w->pos;
	const void *nul = memchr(name, '\0', w->slen - w->pos);

	if (nul == NULL)
		return fail(w, "unterminated node name");
	if (w->depth >= FIT_DEPTH_MAX)
		return fail(w, "nodes nested too deep");
	w->names[++w->depth] = name;
	if (skip_padded(w, (size_t)((const char *)nul - name) + 1) < 0)
		return fail(w, "truncated node");
	if (w->depth == DEPTH_ROOT + 1 && strcmp(name, "images") == 0)
		w->fi->has_images = 1;
	w->cur = NULL;
	if (is_signature_node(w)) {
		struct fit_sig *g;

		if (w->fi->nsigs >= FIT_SIGS_MAX)
			return fail(w, "too many signature nodes");
		g = &w->fi->sigs[w->fi->nsigs++];
		memset(g, 0, sizeof(*g));
		snprintf(g->node, sizeof(g->node), "/%.40s/%.60s/%.40s", w->names[2], w->names[3],
			 w->names[4]);
		w->cur = g;
	}
	return 0;
}

/* A property's name from the strings block, or NULL. */
static const char *
prop_name(const struct walk *w, uint32_t off)
{
	if (off >= w->strslen || memchr(w->str + off, '\0', w->strslen - off) == NULL)
		return NULL;
	return (const char *)w->str + off;
}

static int
property(struct walk *w)
{
	uint32_t len, off;
	const unsigned char *val;
	const char *name;

	if (next_word(w, &len) < 0 || next_word(w, &off) < 0)
		return fail(w, "truncated property");
	if ((name = prop_name(w, off)) == NULL)
		return fail(w, "property name outside the strings block");
	val = w->s + w->pos;
	if (skip_padded(w, len) < 0)
		return fail(w, "property value past the structure block");
	if (w->depth == DEPTH_ROOT && strcmp(name, "timestamp") == 0 && len == 4) {
		w->fi->has_timestamp = 1;
		w->fi->timestamp = be32(val);
	}
	if (w->depth == DEPTH_ROOT && strcmp(name, "description") == 0)
		w->fi->has_description = 1;
	if (w->cur == NULL || w->depth != DEPTH_SIG)
		return 0;
	if (strcmp(name, "value") == 0)
		w->cur->has_value = len > 0;
	else if (strcmp(name, "key-name-hint") == 0 && len > 0 && len <= sizeof(w->cur->hint) &&
		 memchr(val, '\0', len) == (const void *)(val + len - 1))
		memcpy(w->cur->hint, val, len);
	return 0;
}

static int
walk(struct walk *w)
{
	uint32_t tok;

	for (;;) {
		if (next_word(w, &tok) < 0)
			return fail(w, "structure block without END");
		switch (tok) {
		case FDT_BEGIN_NODE:
			if (begin_node(w) < 0)
				return -1;
			break;
		case FDT_END_NODE:
			if (w->depth <= 0)
				return fail(w, "unbalanced END_NODE");
			w->depth--;
			w->cur = NULL;
			break;
		case FDT_PROP:
			if (w->depth <= 0)
				return fail(w, "property outside a node");
			if (property(w) < 0)
				return -1;
			break;
		case FDT_NOP:
			break;
		case FDT_END:
			return w->depth == 0 ? 0 : fail(w, "END inside a node");
		default:
			return fail(w, "unknown structure token");
		}
	}
}

int
fit_scan(const unsigned char *b, size_t len, struct fit_info *fi, char *err, size_t errlen)
{
	struct walk w = {.fi = fi, .err = err, .errlen = errlen};
	uint32_t total, off_s, off_str, version, size_str, size_s;

	memset(fi, 0, sizeof(*fi));
	if (len < FDT_HEADER_MIN || be32(b) != FDT_MAGIC)
		return fail(&w, "no device tree header");
	total = be32(b + 4);
	off_s = be32(b + 8);
	off_str = be32(b + 12);
	version = be32(b + 20);
	size_str = be32(b + 32);
	size_s = be32(b + 36);
	if (total > len || total < FDT_HEADER_MIN)
		return fail(&w, "truncated (totalsize past the end)");
	if (version < 17)
		return fail(&w, "device tree version before 17");
	if (off_s < FDT_HEADER_MIN || off_s > total || size_s > total - off_s || off_str > total ||
	    size_str > total - off_str || off_s % 4 != 0)
		return fail(&w, "blocks outside the image");
	w.s = b + off_s;
	w.slen = size_s;
	w.str = b + off_str;
	w.strslen = size_str;
	if (walk(&w) < 0)
		return -1;
	if (!fi->has_images)
		return fail(&w, "no /images node");
	return 0;
}

void
fit_keyname_init(struct fit_keyname *k)
{
	memset(k, 0, sizeof(*k));
}

static int
name_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

void
fit_keyname_feed(struct fit_keyname *k, const unsigned char *p, size_t len)
{
	static const char lead[] = "key-";

	for (size_t i = 0; i < len && !k->done; i++) {
		if (k->state == 4) {
			if (name_char(p[i])) {
				if (k->n + 1 < sizeof(k->name))
					k->name[k->n] = (char)p[i];
				k->n++;
				continue;
			}
			if (k->n > 0) {
				k->done = 1;
				break;
			}
			k->state = 0; /* "key-" with no name: look further */
		}
		if (p[i] == (unsigned char)lead[k->state])
			k->state++;
		else
			k->state = p[i] == 'k' ? 1 : 0;
	}
}

int
fit_keyname_done(struct fit_keyname *k)
{
	if (k->state == 4 && k->n > 0)
		k->done = 1;
	if (!k->done)
		return 0;
	/* a name longer than the buffer is no name (the caller refuses it) */
	k->name[k->n < sizeof(k->name) ? k->n : 0] = '\0';
	return 1;
}
