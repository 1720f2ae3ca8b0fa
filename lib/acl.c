/* SPDX-License-Identifier: MIT */
/*
 * acl.c: see acl.h.
 */
#include "acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

struct acl_entry {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int bits;
};

struct acl {
	struct buf entries; /* struct acl_entry[] */
};

/* The entries as an array; their number in *n. */
static const struct acl_entry *
acl_entries(const struct acl *acl, size_t *n)
{
	*n = acl->entries.len / sizeof(struct acl_entry);
	return (const struct acl_entry *)acl->entries.data;
}

/* Parse one "addr[/bits]" entry; 0 or -1. */
static int
parse_entry(const char *s, struct acl_entry *e)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	int max;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, e->addr) == 1) {
		e->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, e->addr) == 1) {
		e->family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	e->bits = max;
	if (slash != NULL) {
		char *end;
		long b = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || b < 0 || b > max)
			return -1;
		e->bits = (int)b;
	}
	return 0;
}

int
acl_parse(const char *spec, struct acl **out, char *err, size_t errlen)
{
	struct acl *acl = xcalloc(1, sizeof(*acl));
	char *copy, *tok, *save = NULL;

	*out = acl;
	buf_init(&acl->entries, BUF_UNLIMITED, 0);
	if (spec == NULL)
		return 0;
	copy = xstrdup(spec);
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		struct acl_entry e = {0};

		if (parse_entry(tok, &e) < 0 || buf_append(&acl->entries, &e, sizeof(e)) < 0) {
			snprintf(err, errlen, "\"%s\" is not an address or address/prefix", tok);
			free(copy);
			acl_free(acl);
			*out = NULL;
			return -1;
		}
	}
	free(copy);
	return 0;
}

/* Compare the first bits bits of a and b. */
static int
prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

int
acl_match(const struct acl *acl, const struct sockaddr *sa)
{
	const struct acl_entry *entries;
	unsigned char v4[4], v6[16];
	int has4 = 0, has6 = 0;
	size_t n;

	if (acl == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(v4, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		has4 = 1;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		memcpy(v6, a, 16);
		has6 = 1;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(v4, a->s6_addr + 12, 4);
			has4 = 1;
		}
	} else {
		return 0;
	}
	entries = acl_entries(acl, &n);
	for (size_t i = 0; i < n; i++) {
		const struct acl_entry *e = &entries[i];
		if (e->family == AF_INET && has4 && prefix_equal(e->addr, v4, e->bits))
			return 1;
		if (e->family == AF_INET6 && has6 && prefix_equal(e->addr, v6, e->bits))
			return 1;
	}
	return 0;
}

void
acl_free(struct acl *acl)
{
	if (acl == NULL)
		return;
	buf_free(&acl->entries);
	free(acl);
}
