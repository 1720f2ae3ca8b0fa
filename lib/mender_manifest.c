/* SPDX-License-Identifier: MIT */
/*
 * mender_manifest.c: see mender_manifest.h.
 *
 * The entries are kept in one struct buf as an array sorted by name
 * (sorted again after each manifest is added), so that each check is a
 * binary search.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "mender_manifest.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* One manifest line. */
struct mender_manifest_entry {
	char *name;
	char hex[65];
	int seen;
};

static struct mender_manifest_entry *
entries(const struct mender_manifest *mf, size_t *n)
{
	*n = mf->entries.len / sizeof(struct mender_manifest_entry);
	return (struct mender_manifest_entry *)mf->entries.data;
}

void
mender_manifest_init(struct mender_manifest *mf)
{
	buf_init(&mf->entries, BUF_UNLIMITED, 0);
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mender_manifest_entry *)a)->name,
		      ((const struct mender_manifest_entry *)b)->name);
}

static int
is_hex64(const char *p, size_t len)
{
	if (len != 64)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Add the line [s, e) (white space trimmed, not empty); 0 or -1 when it
 * is not "<64 hex>  <name>" with one name. */
static int
add_line(struct mender_manifest *mf, const char *s, const char *e)
{
	struct mender_manifest_entry ent;
	const char *sep = memmem(s, (size_t)(e - s), "  ", 2);

	if (sep == NULL || !is_hex64(s, (size_t)(sep - s)) || sep + 2 >= e || is_space(sep[2]) ||
	    memmem(sep + 2, (size_t)(e - sep - 2), "  ", 2) || memchr(s, '\0', (size_t)(e - s)))
		return -1;
	ent.name = xstrndup(sep + 2, (size_t)(e - sep - 2));
	memcpy(ent.hex, s, 64);
	ent.hex[64] = '\0';
	ent.seen = 0;
	if (buf_append(&mf->entries, &ent, sizeof(ent)) < 0) {
		free(ent.name);
		return -1;
	}
	return 0;
}

int
mender_manifest_add(struct mender_manifest *mf, const char *what, const char *p, size_t len,
		    char *err, size_t errlen)
{
	struct mender_manifest_entry *ents;
	size_t lineno = 0, n;

	while (len > 0) {
		const char *nl = memchr(p, '\n', len);
		const char *s = p, *e;
		size_t l;

		lineno++;
		if (nl == NULL)
			return util_err(err, errlen, -1, "%s: line %zu has no newline", what,
					lineno);
		l = (size_t)(nl - p) + 1;
		e = nl;
		while (s < e && is_space(*s))
			s++;
		while (e > s && is_space(e[-1]))
			e--;
		if (s < e && add_line(mf, s, e) < 0)
			return util_err(err, errlen, -1, "%s: line %zu is malformed", what, lineno);
		p += l;
		len -= l;
	}
	ents = entries(mf, &n);
	if (n)
		qsort(ents, n, sizeof(*ents), entry_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(ents[i - 1].name, ents[i].name) == 0)
			return util_err(err, errlen, -1, "%s lists %s twice", what, ents[i].name);
	return 0;
}

int
mender_manifest_check(struct mender_manifest *mf, const char *name, const unsigned char md[32],
		      char *err, size_t errlen)
{
	struct mender_manifest_entry key = {.name = (char *)name}, *ents, *e = NULL;
	char hex[65];
	size_t n;

	ents = entries(mf, &n);
	if (n)
		e = bsearch(&key, ents, n, sizeof(*ents), entry_cmp);
	if (e == NULL)
		return util_err(err, errlen, -1, "manifest does not list %s", name);
	util_hex(md, 32, hex);
	if (strcmp(hex, e->hex) != 0)
		return util_err(err, errlen, -1, "checksum of %s does not match the manifest",
				name);
	e->seen = 1;
	return 0;
}

const char *
mender_manifest_unseen(const struct mender_manifest *mf)
{
	size_t n;
	struct mender_manifest_entry *ents = entries(mf, &n);

	for (size_t i = 0; i < n; i++)
		if (!ents[i].seen)
			return ents[i].name;
	return NULL;
}

void
mender_manifest_free(struct mender_manifest *mf)
{
	size_t n;
	struct mender_manifest_entry *ents = entries(mf, &n);

	for (size_t i = 0; i < n; i++)
		free(ents[i].name);
	buf_free(&mf->entries);
}
