/* SPDX-License-Identifier: MIT */
/*
 * p11uri.c: RFC 7512 pkcs11: URIs (p11uri.h).
 */
#include "p11uri.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

struct attr {
	const char *name;
	size_t off;  /* offset of its field in struct p11uri */
	size_t size; /* room there (text: with the NUL) */
};

#define ATTR(n, f)                                                                                 \
	{                                                                                          \
		n, offsetof(struct p11uri, f), sizeof(((struct p11uri *)0)->f)                     \
	}

static const struct attr text_attrs[] = {
    ATTR("token", token),   ATTR("manufacturer", manufacturer),
    ATTR("serial", serial), ATTR("model", model),
    ATTR("object", object), ATTR("type", type),
};

static const char *const ignored[] = {
    "library-manufacturer", "library-description", "library-version",
    "slot-description",     "slot-manufacturer",   "slot-id",
};


/* %-decode v (n bytes) into out (room for size bytes); the length, or -1
 * for a bad escape or no room. */
static long
decode(const char *v, size_t n, unsigned char *out, size_t size)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)v[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= n || (h = util_hexval(v[i + 1])) < 0 || (l = util_hexval(v[i + 2])) < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
		}
		if (len >= size)
			return -1;
		out[len++] = (unsigned char)c;
	}
	return (long)len;
}

/* Store one text attribute: decoded, no NUL or control byte inside. */
static int
set_text(char *field, size_t size, const char *v, size_t n)
{
	long len;

	if (field[0] != '\0')
		return -1; /* repeated (an empty value counts as absent) */
	if ((len = decode(v, n, (unsigned char *)field, size - 1)) < 0)
		return -1;
	field[len] = '\0';
	for (long i = 0; i < len; i++)
		if ((unsigned char)field[i] < 0x20 || field[i] == 0x7f)
			return -1;
	return 0;
}

static int
valid_type(const char *t)
{
	static const char *const types[] = {"", "private", "public", "cert", "secret-key", "data"};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t, types[i]) == 0)
			return 1;
	return 0;
}

/* One attribute name=value (the value n bytes); 0 or -1 with err. */
static int
attribute(struct p11uri *u, const char *name, size_t nlen, const char *v, size_t n, char *err,
	  size_t errlen)
{
	for (size_t i = 0; i < sizeof(text_attrs) / sizeof(text_attrs[0]); i++) {
		const struct attr *a = &text_attrs[i];

		if (strlen(a->name) != nlen || memcmp(a->name, name, nlen) != 0)
			continue;
		if (set_text((char *)u + a->off, a->size, v, n) < 0) {
			snprintf(err, errlen, "pkcs11: URI: bad or repeated %s", a->name);
			return -1;
		}
		return 0;
	}
	if (nlen == 2 && memcmp(name, "id", 2) == 0) {
		long len;

		if (u->id_len != 0 || (len = decode(v, n, u->id, sizeof(u->id))) < 0) {
			snprintf(err, errlen, "pkcs11: URI: bad or repeated id");
			return -1;
		}
		u->id_len = (size_t)len;
		return 0;
	}
	if ((nlen == 9 && memcmp(name, "pin-value", 9) == 0) ||
	    (nlen == 10 && memcmp(name, "pin-source", 10) == 0)) {
		u->has_pin = 1;
		return 0;
	}
	if (nlen > 2 && memcmp(name, "x-", 2) == 0)
		return 0;
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		if (strlen(ignored[i]) == nlen && memcmp(ignored[i], name, nlen) == 0)
			return 0;
	snprintf(err, errlen, "pkcs11: URI: attribute \"%.*s\" not accepted",
		 (int)(nlen > 40 ? 40 : nlen), name);
	return -1;
}

/* The attributes of one part (path or query) separated by sep. */
static int
part(struct p11uri *u, const char *s, size_t len, char sep, char *err, size_t errlen)
{
	const char *end = s + len;

	while (s < end) {
		const char *next = memchr(s, sep, (size_t)(end - s));
		const char *eq;
		size_t n;

		if (next == NULL)
			next = end;
		n = (size_t)(next - s);
		if (n > 0) {
			eq = memchr(s, '=', n);
			if (eq == NULL || eq == s) {
				snprintf(err, errlen,
					 "pkcs11: URI: an attribute without a name or value");
				return -1;
			}
			if (attribute(u, s, (size_t)(eq - s), eq + 1, (size_t)(next - eq - 1), err,
				      errlen) < 0)
				return -1;
		}
		s = next < end ? next + 1 : end;
	}
	return 0;
}

int
p11uri_parse(const char *text, struct p11uri *u, char *err, size_t errlen)
{
	const char *q;
	size_t len = strlen(text);

	memset(u, 0, sizeof(*u));
	if (len > P11URI_MAX) {
		snprintf(err, errlen, "pkcs11: URI longer than %d bytes", P11URI_MAX);
		return -1;
	}
	if (strncmp(text, "pkcs11:", 7) != 0) {
		snprintf(err, errlen, "not a pkcs11: URI");
		return -1;
	}
	text += 7;
	len -= 7;
	q = memchr(text, '?', len);
	if (part(u, text, q ? (size_t)(q - text) : len, ';', err, errlen) < 0 ||
	    (q != NULL && part(u, q + 1, len - (size_t)(q + 1 - text), '&', err, errlen) < 0)) {
		memset(u, 0, sizeof(*u));
		return -1;
	}
	if (!valid_type(u->type)) {
		snprintf(err, errlen, "pkcs11: URI: unknown type");
		return -1;
	}
	if (u->object[0] == '\0' && u->id_len == 0) {
		snprintf(err, errlen, "pkcs11: URI names no object (object= or id=)");
		return -1;
	}
	return 0;
}

/* want's text attribute t is unset or equal to have's */
static int
fits(const char *want, const char *have)
{
	return want[0] == '\0' || strcmp(want, have) == 0;
}

int
p11uri_matches(const struct p11uri *want, const struct p11uri *have)
{
	if (want->object[0] == '\0' && want->id_len == 0)
		return 0;
	return fits(want->token, have->token) && fits(want->manufacturer, have->manufacturer) &&
	       fits(want->serial, have->serial) && fits(want->model, have->model) &&
	       fits(want->object, have->object) &&
	       (want->id_len == 0 ||
		(want->id_len == have->id_len && memcmp(want->id, have->id, want->id_len) == 0));
}

/* Append name=%-encoded value to buf at *pos; -1 when it does not fit. */
static int
put(char *buf, size_t len, size_t *pos, const char *name, const unsigned char *v, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	int w = snprintf(buf + *pos, len - *pos, "%s%s=", *pos > 7 ? ";" : "", name);

	if (w < 0 || (size_t)w >= len - *pos)
		return -1;
	*pos += (size_t)w;
	for (size_t i = 0; i < n; i++) {
		int plain = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
			    (v[i] >= '0' && v[i] <= '9') || strchr("-._~", v[i]) != NULL;

		if (len - *pos < 4)
			return -1;
		if (plain && v[i] != '\0') {
			buf[(*pos)++] = (char)v[i];
		} else {
			buf[(*pos)++] = '%';
			buf[(*pos)++] = hex[v[i] >> 4];
			buf[(*pos)++] = hex[v[i] & 15];
		}
	}
	buf[*pos] = '\0';
	return 0;
}

int
p11uri_format(const struct p11uri *u, char *buf, size_t len)
{
	size_t pos = 0;

	if (len < 8)
		return -1;
	memcpy(buf, "pkcs11:", 8);
	pos = 7;
	for (size_t i = 0; i < sizeof(text_attrs) / sizeof(text_attrs[0]); i++) {
		const char *v = (const char *)u + text_attrs[i].off;

		if (v[0] != '\0' && put(buf, len, &pos, text_attrs[i].name,
					(const unsigned char *)v, strlen(v)) < 0)
			return -1;
	}
	if (u->id_len > 0 && put(buf, len, &pos, "id", u->id, u->id_len) < 0)
		return -1;
	return (int)pos;
}
