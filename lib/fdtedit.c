/* SPDX-License-Identifier: MIT */
/*
 * fdtedit.c: libfdt's in-place edits on a piece table (fdtedit.h).
 * Each function says which libfdt function it does; the moves are
 * libfdt's (fdt_splice_ moves the bytes up to the end of the strings
 * block and leaves the rest of the buffer as it was).
 */
#include "fdtedit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define FE_MAGIC 0xd00dfeedU
#define HDR_SIZE 40
#define ALIGN4(x) (((x) + 3) & ~(size_t)3)
#define NAME_MAX_LEN 256
#define WINDOW (64 * 1024)

static const unsigned char zeros[WINDOW];

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void *
arena_alloc(struct fe_arena *a, size_t len)
{
	void *p = xmalloc(len ? len : 1);

	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->bufs = xrealloc(a->bufs, a->cap * sizeof(*a->bufs));
	}
	a->bufs[a->n++] = p;
	a->bytes += len;
	return p;
}

void
fe_arena_free(struct fe_arena *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->bufs[i]);
	free(a->bufs);
	memset(a, 0, sizeof(*a));
}

void
fe_free(struct fe_blob *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = b->total = 0;
}

static void
push(struct fe_blob *b, const unsigned char *mem, off_t off, size_t len)
{
	if (len == 0)
		return;
	if (b->n > 0) { /* merge neighbours of a kind */
		struct fe_piece *l = &b->p[b->n - 1];

		if ((mem && l->mem && l->mem + l->len == mem) ||
		    (!mem && !l->mem && off >= 0 && l->off >= 0 && l->off + (off_t)l->len == off) ||
		    (!mem && !l->mem && off < 0 && l->off < 0)) {
			l->len += len;
			b->total += len;
			return;
		}
	}
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 32;
		b->p = xrealloc(b->p, b->cap * sizeof(*b->p));
	}
	b->p[b->n++] = (struct fe_piece){.mem = mem, .off = off, .len = len};
	b->total += len;
}

/*
 * Call fn(arg, p, skip, take) for each piece's part of [off, off+len), in
 * order (take bytes of piece p from its byte skip): 0, or -1 when the
 * range passes the end or fn fails.
 */
static int
each_piece(const struct fe_blob *b, size_t off, size_t len,
	   int (*fn)(void *arg, const struct fe_piece *p, size_t skip, size_t take), void *arg)
{
	size_t pos = 0;

	if (off > b->total || len > b->total - off)
		return -1;
	for (size_t i = 0; i < b->n && len > 0; pos += b->p[i++].len) {
		const struct fe_piece *p = &b->p[i];
		size_t skip, take;

		if (off >= pos + p->len)
			continue;
		skip = off - pos;
		take = p->len - skip < len ? p->len - skip : len;
		if (fn(arg, p, skip, take) < 0)
			return -1;
		off += take;
		len -= take;
	}
	return len == 0 ? 0 : -1;
}

static int
slice_fn(void *arg, const struct fe_piece *p, size_t skip, size_t take)
{
	push(arg, p->mem ? p->mem + skip : NULL, p->off < 0 ? -1 : p->off + (off_t)skip, take);
	return 0;
}

int
fe_slice(const struct fe_blob *b, size_t off, size_t len, struct fe_blob *out)
{
	return each_piece(b, off, len, slice_fn, out);
}

/* Replace b's pieces by the ranges of the old ones in r (offset, length
 * pairs; a NULL mem uses the old blob, else the bytes given). */
struct range {
	size_t off, len;
	const unsigned char *mem;
	const struct fe_blob *src; /* or these pieces */
};

static void
compose(struct fe_blob *b, const struct range *r, size_t nr)
{
	struct fe_blob nb = {.fd = b->fd, .arena = b->arena, .h = b->h};

	for (size_t i = 0; i < nr; i++) {
		if (r[i].mem)
			push(&nb, r[i].mem, -1, r[i].len);
		else if (r[i].src)
			fe_slice(r[i].src, 0, r[i].src->total, &nb);
		else
			fe_slice(b, r[i].off, r[i].len, &nb);
	}
	free(b->p);
	*b = nb;
}

void
fe_clone(struct fe_blob *dst, const struct fe_blob *src)
{
	*dst = *src;
	dst->p = xmalloc((src->n ? src->n : 1) * sizeof(*src->p));
	memcpy(dst->p, src->p, src->n * sizeof(*src->p));
	dst->cap = src->n ? src->n : 1;
}

void
fe_set_total(struct fe_blob *b, size_t total)
{
	if (total > b->total) {
		push(b, NULL, -1, total - b->total);
	} else {
		struct range r = {.off = 0, .len = total};

		compose(b, &r, 1);
	}
	b->h.totalsize = (uint32_t)total;
}

void
fe_grow(struct fe_blob *b, size_t inc)
{
	fe_set_total(b, b->total + inc);
}

static size_t
rsv_size(const struct fe_blob *b)
{
	unsigned char e[16];
	size_t n = 0;

	while (fe_read(b, b->h.off_rsv + n * 16, e, 16) == 0 && (be32(e + 8) | be32(e + 12)))
		n++;
	return (n + 1) * 16;
}

void
fe_pack(struct fe_blob *b)
{
	size_t rsv = rsv_size(b), end = HDR_SIZE + rsv + b->h.size_struct + b->h.size_strings;
	/* the blocks move down in place: the bytes after them stay */
	struct range r[] = {
	    {.off = 0, .len = HDR_SIZE},
	    {.off = b->h.off_rsv, .len = rsv},
	    {.off = b->h.off_struct, .len = b->h.size_struct},
	    {.off = b->h.off_strings, .len = b->h.size_strings},
	    {.off = end, .len = b->total - end},
	};

	compose(b, r, 5);
	b->h.off_rsv = HDR_SIZE;
	b->h.off_struct = (uint32_t)(HDR_SIZE + rsv);
	b->h.off_strings = b->h.off_struct + b->h.size_struct;
	b->h.totalsize = b->h.off_strings + b->h.size_strings;
}

struct read_arg {
	const struct fe_blob *b;
	unsigned char *o;
};

static int
read_fn(void *arg, const struct fe_piece *p, size_t skip, size_t take)
{
	struct read_arg *r = arg;

	if (p->mem)
		memcpy(r->o, p->mem + skip, take);
	else if (p->off < 0)
		memset(r->o, 0, take);
	else if (pread(r->b->fd, r->o, take, p->off + (off_t)skip) != (ssize_t)take)
		return -1;
	r->o += take;
	return 0;
}

int
fe_read(const struct fe_blob *b, size_t off, void *out, size_t len)
{
	struct read_arg r = {.b = b, .o = out};

	return each_piece(b, off, len, read_fn, &r);
}

struct window_arg {
	const struct fe_blob *b;
	int (*fn)(void *arg, const unsigned char *p, size_t n);
	void *arg;
	unsigned char *buf; /* WINDOW bytes for data in the file, once needed */
};

static int
window_fn(void *arg, const struct fe_piece *p, size_t skip, size_t take)
{
	struct window_arg *w = arg;
	int rc = 0;

	while (take > 0 && rc == 0) {
		size_t n = take < WINDOW ? take : WINDOW;

		if (p->mem) {
			rc = w->fn(w->arg, p->mem + skip, n);
		} else if (p->off < 0) {
			rc = w->fn(w->arg, zeros, n);
		} else {
			if (w->buf == NULL)
				w->buf = xmalloc(WINDOW);
			if (pread(w->b->fd, w->buf, n, p->off + (off_t)skip) != (ssize_t)n)
				rc = -1;
			else
				rc = w->fn(w->arg, w->buf, n);
		}
		skip += n;
		take -= n;
	}
	return rc;
}

/* Call fn on each window of [off, off+len). */
static int
each_window(const struct fe_blob *b, size_t off, size_t len,
	    int (*fn)(void *arg, const unsigned char *p, size_t n), void *arg)
{
	struct window_arg w = {.b = b, .fn = fn, .arg = arg};
	int rc = each_piece(b, off, len, window_fn, &w);

	free(w.buf);
	return rc;
}

static int
hash_fn(void *arg, const unsigned char *p, size_t n)
{
	return EVP_DigestUpdate(arg, p, n) == 1 ? 0 : -1;
}

int
fe_hash(const struct fe_blob *b, size_t off, size_t len, EVP_MD_CTX *ctx)
{
	return each_window(b, off, len, hash_fn, ctx);
}

static int
crc_fn(void *arg, const unsigned char *p, size_t n)
{
	uint32_t c = ~*(uint32_t *)arg;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320U & (0U - (c & 1)));
	}
	*(uint32_t *)arg = ~c;
	return 0;
}

int
fe_crc32(const struct fe_blob *b, size_t off, size_t len, uint32_t *crc)
{
	*crc = 0;
	return each_window(b, off, len, crc_fn, crc);
}

struct out {
	int fd;
	off_t pos;
};

static int
write_fn(void *arg, const unsigned char *p, size_t n)
{
	struct out *o = arg;

	while (n > 0) {
		ssize_t w = pwrite(o->fd, p, n, o->pos);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		o->pos += w;
	}
	return 0;
}

static void
header_bytes(const struct fe_hdr *h, unsigned char out[HDR_SIZE])
{
	const uint32_t v[] = {h->magic,        h->totalsize,  h->off_struct, h->off_strings,
			      h->off_rsv,      h->version,    h->last_comp,  h->boot_cpuid,
			      h->size_strings, h->size_struct};

	for (size_t i = 0; i < 10; i++)
		put32(out + 4 * i, v[i]);
}

int
fe_write_raw(const struct fe_blob *b, int fd, off_t pos)
{
	struct out o = {.fd = fd, .pos = pos};

	return each_window(b, 0, b->total, write_fn, &o);
}

int
fe_write_out(const struct fe_blob *b, size_t len, int fd, off_t pos)
{
	unsigned char hdr[HDR_SIZE];
	struct out o = {.fd = fd, .pos = pos + HDR_SIZE};

	if (len < HDR_SIZE || len > b->total)
		return -1;
	header_bytes(&b->h, hdr);
	o.pos = pos;
	if (write_fn(&o, hdr, HDR_SIZE) < 0)
		return -1;
	return each_window(b, HDR_SIZE, len - HDR_SIZE, write_fn, &o);
}

/* --- reading the structure (fdt.c, fdt_ro.c) ---------------------------- */

static int
struct_read(const struct fe_blob *b, int off, void *out, size_t len)
{
	if (off < 0 || (size_t)off > b->h.size_struct || len > b->h.size_struct - (size_t)off)
		return -1;
	return fe_read(b, b->h.off_struct + (size_t)off, out, len);
}

/* The NUL-terminated name at struct offset off, its length or -1. */
static int
read_cstr(const struct fe_blob *b, size_t abs, size_t limit, char *buf, size_t len)
{
	size_t n = 0;

	while (n < len && abs + n < limit) {
		size_t want = len - n < 64 ? len - n : 64;

		if (abs + n + want > limit)
			want = limit - abs - n;
		if (fe_read(b, abs + n, buf + n, want) < 0)
			return -1;
		for (size_t i = 0; i < want; i++)
			if (buf[n + i] == '\0')
				return (int)(n + i);
		n += want;
	}
	return -1;
}

int
fe_next_tag(const struct fe_blob *b, int off, int *next)
{
	unsigned char t[8];
	char name[NAME_MAX_LEN];
	uint32_t tag;
	int n;

	if (off < 0 || (off & 3) || struct_read(b, off, t, 4) < 0)
		return FE_ERR_BADSTRUCTURE;
	tag = be32(t);
	*next = off + 4;
	switch (tag) {
	case FE_BEGIN_NODE:
		n = read_cstr(b, b->h.off_struct + (size_t)off + 4,
			      (size_t)b->h.off_struct + b->h.size_struct, name, sizeof(name));
		if (n < 0)
			return FE_ERR_BADSTRUCTURE;
		*next += n + 1;
		break;
	case FE_PROP:
		if (struct_read(b, off + 4, t, 8) < 0 || be32(t) > b->h.size_struct)
			return FE_ERR_BADSTRUCTURE;
		*next += 8 + (int)be32(t);
		if ((size_t)*next > b->h.size_struct)
			return FE_ERR_BADSTRUCTURE;
		break;
	case FE_END:
	case FE_END_NODE:
	case FE_NOP:
		break;
	default:
		return FE_ERR_BADSTRUCTURE;
	}
	*next = (int)ALIGN4((size_t)*next);
	return (int)tag;
}

/* fdt_check_node_offset_: the offset after the node's BEGIN_NODE. */
static int
check_node(const struct fe_blob *b, int node)
{
	int next, tag = fe_next_tag(b, node, &next);

	if (tag < 0)
		return tag;
	return tag == FE_BEGIN_NODE ? next : FE_ERR_BADOFFSET;
}

int
fe_get_name(const struct fe_blob *b, int node, char *buf, size_t len)
{
	if (check_node(b, node) < 0)
		return FE_ERR_BADOFFSET;
	return read_cstr(b, b->h.off_struct + (size_t)node + 4,
			 (size_t)b->h.off_struct + b->h.size_struct, buf, len) < 0
		   ? FE_ERR_BADSTRUCTURE
		   : (int)strlen(buf);
}

/* fdt_next_node */
static int
next_node(const struct fe_blob *b, int off, int *depth)
{
	int next = 0, tag;

	if (off >= 0 && (next = check_node(b, off)) < 0)
		return next;
	do {
		off = next;
		tag = fe_next_tag(b, off, &next);
		if (tag < 0)
			return tag;
		if (tag == FE_BEGIN_NODE)
			(*depth)++;
		else if (tag == FE_END_NODE && --(*depth) < 0)
			return next;
		else if (tag == FE_END)
			return FE_ERR_NOTFOUND;
	} while (tag != FE_BEGIN_NODE);
	return off;
}

int
fe_first_subnode(const struct fe_blob *b, int node)
{
	int depth = 0, off = next_node(b, node, &depth);

	return off < 0 || depth != 1 ? FE_ERR_NOTFOUND : off;
}

int
fe_next_subnode(const struct fe_blob *b, int node)
{
	int depth = 1;

	do {
		node = next_node(b, node, &depth);
		if (node < 0 || depth < 1)
			return FE_ERR_NOTFOUND;
	} while (depth > 1);
	return node;
}

/* fdt_nodename_eq_ */
static int
name_eq(const char *have, const char *want, size_t len)
{
	if (strncmp(have, want, len) != 0)
		return 0;
	return have[len] == '\0' || (!memchr(want, '@', len) && have[len] == '@');
}

static int
subnode_len(const struct fe_blob *b, int parent, const char *name, size_t len)
{
	char have[NAME_MAX_LEN];

	for (int n = fe_first_subnode(b, parent); n >= 0; n = fe_next_subnode(b, n))
		if (fe_get_name(b, n, have, sizeof(have)) >= 0 && name_eq(have, name, len))
			return n;
	return FE_ERR_NOTFOUND;
}

int
fe_subnode(const struct fe_blob *b, int parent, const char *name)
{
	return subnode_len(b, parent, name, strlen(name));
}

int
fe_path(const struct fe_blob *b, const char *path)
{
	int node = 0;

	if (*path != '/')
		return FE_ERR_BADOFFSET;
	while (*path) {
		const char *q;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		q = strchr(path, '/');
		if (!q)
			q = path + strlen(path);
		if ((node = subnode_len(b, node, path, (size_t)(q - path))) < 0)
			return node;
		path = q;
	}
	return node;
}

int
fe_get_path(const struct fe_blob *b, int node, char *buf, size_t len)
{
	size_t ends[FE_DEPTH_MAX + 1];
	int depth = -1, off = 0, next, tag;
	char name[NAME_MAX_LEN];

	if (len < 2)
		return FE_ERR_NOSPACE;
	buf[0] = '\0';
	for (; (tag = fe_next_tag(b, off, &next)) > 0 && tag != FE_END; off = next) {
		if (tag == FE_END_NODE && depth >= 0) {
			buf[ends[depth--]] = '\0';
		} else if (tag == FE_BEGIN_NODE) {
			size_t cur = strlen(buf);

			if (++depth > FE_DEPTH_MAX || fe_get_name(b, off, name, sizeof(name)) < 0)
				return FE_ERR_BADSTRUCTURE;
			ends[depth] = cur;
			if (depth > 0 &&
			    snprintf(buf + cur, len - cur, "/%s", name) >= (int)(len - cur))
				return FE_ERR_NOSPACE;
			if (off == node) {
				if (depth == 0)
					snprintf(buf, len, "/");
				else if (buf[0] != '/')
					return FE_ERR_INTERNAL;
				return 0;
			}
		}
	}
	return FE_ERR_BADOFFSET;
}

int
fe_string(const struct fe_blob *b, uint32_t nameoff, char *buf, size_t len)
{
	if (nameoff >= b->h.size_strings)
		return -1;
	return read_cstr(b, (size_t)b->h.off_strings + nameoff,
			 (size_t)b->h.off_strings + b->h.size_strings, buf, len);
}

/* fdt_get_property_namelen_: the property's struct offset and length. */
static int
find_prop(const struct fe_blob *b, int node, const char *name, int *len)
{
	int off = check_node(b, node), next, tag;
	unsigned char h[8];
	char have[NAME_MAX_LEN];

	if (off < 0)
		return off;
	for (; (tag = fe_next_tag(b, off, &next)) == FE_PROP || tag == FE_NOP; off = next) {
		if (tag == FE_NOP)
			continue;
		if (struct_read(b, off + 4, h, 8) < 0)
			return FE_ERR_BADSTRUCTURE;
		if (fe_string(b, be32(h + 4), have, sizeof(have)) >= 0 && strcmp(have, name) == 0) {
			*len = (int)be32(h);
			return off;
		}
	}
	return tag < 0 ? tag : FE_ERR_NOTFOUND;
}

int
fe_getprop(const struct fe_blob *b, int node, const char *name, int *len)
{
	int off = find_prop(b, node, name, len);

	return off < 0 ? off : (int)(b->h.off_struct + (uint32_t)off + 12);
}

int
fe_getprop_copy(const struct fe_blob *b, int node, const char *name, void *buf, size_t max)
{
	int len, at = fe_getprop(b, node, name, &len);

	if (at < 0)
		return at;
	if ((size_t)len > max)
		return FE_ERR_NOSPACE;
	if (fe_read(b, (size_t)at, buf, (size_t)len) < 0)
		return FE_ERR_BADSTRUCTURE;
	if ((size_t)len < max)
		((char *)buf)[len] = '\0';
	return len;
}

/* --- edits (fdt_rw.c) ------------------------------------------------------ */

/* fdt_splice_: at absolute p, oldlen bytes become newlen. */
static int
splice(struct fe_blob *b, size_t p, size_t oldlen, size_t newlen)
{
	size_t dsize = (size_t)b->h.off_strings + b->h.size_strings;

	if (p + oldlen > dsize)
		return FE_ERR_BADOFFSET;
	/* the header's size is the room; the pieces may hold more (a file
	 * longer than its tree keeps its tail) */
	if (dsize - oldlen + newlen > b->h.totalsize || b->h.totalsize > b->total)
		return FE_ERR_NOSPACE;
	{
		size_t end = dsize - oldlen + newlen;
		struct range r[] = {
		    {.off = 0, .len = p + newlen},
		    {.off = p + oldlen, .len = dsize - p - oldlen},
		    {.off = end, .len = b->total - end},
		};

		compose(b, r, 3);
	}
	return 0;
}

static int
splice_struct(struct fe_blob *b, int off, size_t oldlen, size_t newlen)
{
	int err = splice(b, b->h.off_struct + (size_t)off, oldlen, newlen);

	if (err)
		return err;
	b->h.size_struct = (uint32_t)(b->h.size_struct - oldlen + newlen);
	b->h.off_strings = (uint32_t)(b->h.off_strings - oldlen + newlen);
	return 0;
}

static void
put(struct fe_blob *b, size_t off, const void *data, size_t len)
{
	unsigned char *m = arena_alloc(b->arena, len);
	struct range r[] = {
	    {.off = 0, .len = off},
	    {.len = len, .mem = m},
	    {.off = off + len, .len = b->total - off - len},
	};

	memcpy(m, data, len);
	compose(b, r, 3);
}

/* fdt_find_add_string_ */
static int
find_add_string(struct fe_blob *b, const char *s, int *allocated)
{
	size_t len = strlen(s) + 1, size = b->h.size_strings;
	char *tab = xmalloc(size ? size : 1);
	int err;

	*allocated = 0;
	if (fe_read(b, b->h.off_strings, tab, size) < 0) {
		free(tab);
		return FE_ERR_BADSTRUCTURE;
	}
	for (size_t p = 0; size >= len && p <= size - len; p++)
		if (memcmp(tab + p, s, len) == 0) {
			free(tab);
			return (int)p;
		}
	free(tab);
	if ((err = splice(b, (size_t)b->h.off_strings + size, 0, len)) != 0)
		return err;
	b->h.size_strings += (uint32_t)len;
	put(b, (size_t)b->h.off_strings + size, s, len);
	*allocated = 1;
	return (int)size;
}

/* fdt_add_property_: the new property's struct offset. */
static int
add_prop(struct fe_blob *b, int node, const char *name, int len)
{
	int next = check_node(b, node), stroff, allocated, err;
	unsigned char h[12];

	if (next < 0)
		return next;
	if ((stroff = find_add_string(b, name, &allocated)) < 0)
		return stroff;
	if ((err = splice_struct(b, next, 0, 12 + ALIGN4((size_t)len))) != 0) {
		if (allocated)
			b->h.size_strings -= (uint32_t)(strlen(name) + 1);
		return err;
	}
	put32(h, FE_PROP);
	put32(h + 4, (uint32_t)len);
	put32(h + 8, (uint32_t)stroff);
	put(b, b->h.off_struct + (size_t)next, h, 12);
	return next;
}

/* fdt_setprop_placeholder: the value's absolute offset. */
static int
placeholder(struct fe_blob *b, int node, const char *name, int len)
{
	int oldlen, off = find_prop(b, node, name, &oldlen), err;
	unsigned char l[4];

	if (len < 0)
		return FE_ERR_BADOFFSET;
	if (off >= 0) {
		if ((err = splice_struct(b, off + 12, ALIGN4((size_t)oldlen),
					 ALIGN4((size_t)len))) != 0)
			return err;
		put32(l, (uint32_t)len);
		put(b, b->h.off_struct + (size_t)off + 4, l, 4);
	} else if (off == FE_ERR_NOTFOUND) {
		if ((off = add_prop(b, node, name, len)) < 0)
			return off;
	} else {
		return off;
	}
	return (int)(b->h.off_struct + (uint32_t)off + 12);
}

int
fe_setprop(struct fe_blob *b, int node, const char *name, const void *val, int len)
{
	int at = placeholder(b, node, name, len);

	if (at < 0)
		return at;
	if (len > 0)
		put(b, (size_t)at, val, (size_t)len);
	return 0;
}

int
fe_setprop_pieces(struct fe_blob *b, int node, const char *name, const struct fe_blob *src)
{
	int at = placeholder(b, node, name, (int)src->total);

	if (at < 0)
		return at;
	{
		struct range r[] = {
		    {.off = 0, .len = (size_t)at},
		    {.src = src},
		    {.off = (size_t)at + src->total, .len = b->total - (size_t)at - src->total},
		};

		compose(b, r, 3);
	}
	return 0;
}

int
fe_setprop_u32(struct fe_blob *b, int node, const char *name, uint32_t v)
{
	unsigned char x[4];

	put32(x, v);
	return fe_setprop(b, node, name, x, 4);
}

int
fe_setprop_string(struct fe_blob *b, int node, const char *name, const char *s)
{
	return fe_setprop(b, node, name, s, (int)strlen(s) + 1);
}

int
fe_delprop(struct fe_blob *b, int node, const char *name)
{
	int len, off = find_prop(b, node, name, &len);

	if (off < 0)
		return off;
	return splice_struct(b, off, 12 + ALIGN4((size_t)len), 0);
}

int
fe_add_subnode(struct fe_blob *b, int parent, const char *name)
{
	size_t namelen = strlen(name), nodelen = 8 + ALIGN4(namelen + 1);
	int off, next, tag, err;
	unsigned char *nh;

	if ((off = fe_subnode(b, parent, name)) >= 0)
		return FE_ERR_EXISTS;
	if (off != FE_ERR_NOTFOUND)
		return off;
	if ((tag = fe_next_tag(b, parent, &next)) != FE_BEGIN_NODE)
		return tag < 0 ? tag : FE_ERR_BADOFFSET;
	do {
		off = next;
		tag = fe_next_tag(b, off, &next);
	} while (tag == FE_PROP || tag == FE_NOP);
	if (tag < 0)
		return tag;
	if ((err = splice_struct(b, off, 0, nodelen)) != 0)
		return err;
	nh = xcalloc(1, nodelen);
	put32(nh, FE_BEGIN_NODE);
	memcpy(nh + 4, name, namelen);
	put32(nh + nodelen - 4, FE_END_NODE);
	put(b, b->h.off_struct + (size_t)off, nh, nodelen);
	free(nh);
	return off;
}

/* --- loading --------------------------------------------------------------- */

static int
pread32(int fd, off_t off, uint32_t *v)
{
	unsigned char x[4];

	if (pread(fd, x, 4, off) != 4)
		return -1;
	*v = be32(x);
	return 0;
}

/* The big values of the structure block, as file pieces between memory
 * ones; checks the structure on the way.  0 or -1 with err. */
static int
intern(struct fe_blob *b, size_t size, char *err, size_t errlen)
{
	off_t base = b->h.off_struct, mem_from = 0;
	uint32_t off = 0, tag, len;
	int depth = 0;

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return -1;                                                                         \
	} while (0)
	for (;;) {
		if (off + 4 > b->h.size_struct || pread32(b->fd, base + off, &tag) < 0)
			FAIL("truncated structure block");
		off += 4;
		if (tag == FE_END)
			break;
		if (tag == FE_BEGIN_NODE) {
			char name[NAME_MAX_LEN];
			ssize_t n;
			size_t l;

			if (++depth > FE_DEPTH_MAX)
				FAIL("nested deeper than %d", FE_DEPTH_MAX);
			n = pread(b->fd, name, sizeof(name), base + off);
			if (n <= 0 || (l = strnlen(name, (size_t)n)) >= (size_t)n)
				FAIL("a node name is too long or unterminated");
			off = (uint32_t)ALIGN4(off + l + 1);
		} else if (tag == FE_END_NODE) {
			if (--depth < 0)
				FAIL("unbalanced nodes");
		} else if (tag == FE_PROP) {
			uint32_t nameoff;

			if (off + 8 > b->h.size_struct || pread32(b->fd, base + off, &len) < 0 ||
			    pread32(b->fd, base + off + 4, &nameoff) < 0 ||
			    len > b->h.size_struct - off - 8 || nameoff >= b->h.size_strings)
				FAIL("a property runs past the structure block");
			off += 8;
			if (len > FE_INLINE_MAX) {
				off_t at = base + off;

				push(b, NULL, mem_from, (size_t)(at - mem_from)); /* read below */
				push(b, NULL, -2, ALIGN4(len));                   /* a marker */
				b->p[b->n - 1].off = at;
				b->p[b->n - 1].mem = (const unsigned char *)zeros; /* big */
				mem_from = at + (off_t)ALIGN4(len);
			}
			off = (uint32_t)ALIGN4(off + len);
		} else if (tag != FE_NOP) {
			FAIL("unknown token 0x%x", tag);
		}
		if (off > b->h.size_struct)
			FAIL("truncated structure block");
	}
	if (depth != 0 || off != b->h.size_struct)
		FAIL("the structure block does not end with its last node");
	push(b, NULL, mem_from, size - (size_t)mem_from);
	return 0;
#undef FAIL
}

/* Read the small pieces into memory; the big ones become file ranges. */
static int
fill(struct fe_blob *b, char *err, size_t errlen)
{
	size_t end = b->h.totalsize;

	for (size_t i = 0; i < b->n; i++) {
		struct fe_piece *p = &b->p[i];
		size_t want;
		unsigned char *m;

		if (p->mem == zeros) { /* a big value: stays in the file */
			p->mem = NULL;
			continue;
		}
		if ((size_t)p->off >= end) /* after the tree: stays in the file */
			continue;
		want = p->len;
		if ((size_t)p->off + want > end) { /* split at the tree's end */
			struct fe_piece tail = {
			    .mem = NULL, .off = (off_t)end, .len = (size_t)p->off + want - end};

			want = end - (size_t)p->off;
			p->len = want;
			if (b->n == b->cap) {
				b->cap *= 2;
				b->p = xrealloc(b->p, b->cap * sizeof(*b->p));
				p = &b->p[i];
			}
			memmove(&b->p[i + 2], &b->p[i + 1], (b->n - i - 1) * sizeof(*b->p));
			b->p[i + 1] = tail;
			b->n++;
		}
		if (b->arena->bytes + want > FE_MEM_MAX) {
			snprintf(err, errlen, "its structure is larger than %d bytes", FE_MEM_MAX);
			return -1;
		}
		m = arena_alloc(b->arena, want);
		if (pread(b->fd, m, want, p->off) != (ssize_t)want) {
			snprintf(err, errlen, "cannot read it");
			return -1;
		}
		p->mem = m;
	}
	return 0;
}

static int
check_header(struct fe_hdr *h, const unsigned char *x, size_t size, char *err, size_t errlen)
{
	uint32_t *f = &h->magic;

	for (size_t i = 0; i < 10; i++)
		f[i] = be32(x + 4 * i);
	if (h->magic != FE_MAGIC) {
		snprintf(err, errlen, "not a device tree");
		return -1;
	}
	if (h->version < 17 || h->last_comp > 17) {
		snprintf(err, errlen, "device tree version %u is not supported", h->version);
		return -1;
	}
	if (h->totalsize > size || h->totalsize < HDR_SIZE || h->off_rsv < HDR_SIZE ||
	    (h->off_rsv & 7) || h->off_struct < h->off_rsv + 16 || (h->off_struct & 3) ||
	    h->size_struct > h->totalsize || h->off_struct > h->totalsize - h->size_struct ||
	    h->off_strings < h->off_struct + h->size_struct || h->size_strings > h->totalsize ||
	    h->off_strings > h->totalsize - h->size_strings) {
		snprintf(err, errlen, "its blocks are not in libfdt's order or not in the file");
		return -1;
	}
	return 0;
}

int
fe_load(struct fe_blob *b, struct fe_arena *a, int fd, size_t size, char *err, size_t errlen)
{
	unsigned char x[HDR_SIZE];

	memset(b, 0, sizeof(*b));
	b->fd = fd;
	b->arena = a;
	if (size < HDR_SIZE || size > (size_t)INT32_MAX || pread(fd, x, HDR_SIZE, 0) != HDR_SIZE) {
		snprintf(err, errlen, "not a device tree: too short or too long");
		return -1;
	}
	if (check_header(&b->h, x, size, err, errlen) < 0)
		return -1;
	{
		struct fe_blob tmp = {.fd = fd, .h = b->h, .total = size};
		struct fe_piece whole = {.off = 0, .len = size};

		tmp.p = &whole;
		tmp.n = 1;
		if (b->h.off_struct < b->h.off_rsv + rsv_size(&tmp)) {
			snprintf(err, errlen, "its reservation block overlaps its structure");
			return -1;
		}
	}
	if (intern(b, size, err, errlen) < 0 || fill(b, err, errlen) < 0) {
		fe_free(b);
		return -1;
	}
	return 0;
}
