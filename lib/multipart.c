/* SPDX-License-Identifier: MIT */
/*
 * multipart.c: see multipart.h.
 *
 * The body is read as if it began with CRLF, so that the first boundary
 * line is found like every other: each delimiter is CRLF "--" boundary.
 * While looking for it the parser holds back the bytes that could be its
 * beginning (at most its length), and passes everything else on at once.
 * Since a boundary holds no CR, a partial match can only restart at a CR,
 * which keeps the search linear without a failure table.  A delimiter
 * counts only as a whole delimiter line ("--" or padding and CRLF after
 * it); a lookalike in the data stays data.
 */
#include "multipart.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

enum mp_state { MP_PREAMBLE, MP_DATA, MP_TAIL, MP_HEADERS, MP_EPILOGUE };

/* States of the bytes after a delimiter: "--", or LWSP CRLF. */
enum mp_tail { TAIL_START, TAIL_DASH, TAIL_SPACE, TAIL_LF };

/* Transport padding (white space) allowed after a boundary. */
#define MULTIPART_PADDING_MAX 256

struct multipart {
	const struct multipart_callbacks *cb;
	void *ctx;
	int max_parts, nparts;
	enum mp_state state;
	enum mp_tail tail;
	enum mp_state after; /* where the delimiter was found: preamble or data */
	char tailbuf[MULTIPART_PADDING_MAX + 2];
	size_t tlen;
	char delim[4 + MULTIPART_BOUNDARY_MAX + 1];
	size_t dlen;
	size_t held; /* bytes of delim matched and held back */
	/* the headers of the current part */
	char line[MULTIPART_HEADER_MAX];
	size_t llen;	/* bytes of the current line */
	size_t htotal;	/* header bytes of this part */
	int hcount;
	char *disposition, *ctype;
	int error;
	char errmsg[160];
};

static int
fail(struct multipart *mp, int status, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Latch an error: remember it, copy it to err, return status. */
static int
fail(struct multipart *mp, int status, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(mp->errmsg, sizeof(mp->errmsg), fmt, ap);
	va_end(ap);
	mp->error = status;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", mp->errmsg);
	return status;
}

/* Latch an error a callback returned (its reason is already in err). */
static int
fail_cb(struct multipart *mp, int status, char *err, size_t errlen)
{
	return fail(mp, status, err, errlen, "%s", err != NULL && errlen > 0 ? err : "form error");
}

static const char *
skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

typedef int (*param_fn)(void *arg, const char *name, size_t nlen, const char *value, size_t vlen);

/* A parameter's value at *pp, a quoted-string (unescaped) or a token,
 * into val (as long as the text, NUL-terminated; its length in *vlen),
 * with *pp moved past it.  0, or -1 when malformed. */
static int
param_value(const char **pp, char *val, size_t *vlen)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (*p == '\0')
				return -1;
			val[n++] = *p;
		}
		p++;
	} else {
		for (; *p != '\0' && *p != ';' && *p != ' ' && *p != '\t' && *p != '"'; p++)
			val[n++] = *p;
		if (n == 0)
			return -1;
	}
	val[n] = '\0';
	*vlen = n;
	*pp = p;
	return 0;
}

/*
 * Parse a header value `first *( ";" name "=" value )`, value a token or
 * a quoted string (backslash escapes), white space allowed around the
 * separators.  The first element, lower-cased, goes to *first; each
 * parameter to fn.  0, or -1 when malformed or fn refuses.
 */
static int
parse_params(const char *s, char **first, param_fn fn, void *arg)
{
	const char *p = skip_ows(s), *e;
	char *val = NULL;
	size_t vlen;

	for (e = p; *e != '\0' && *e != ';'; e++)
		;
	vlen = (size_t)(e - p);
	while (vlen > 0 && (p[vlen - 1] == ' ' || p[vlen - 1] == '\t'))
		vlen--;
	if (vlen == 0)
		return -1;
	*first = xstrndup(p, vlen);
	for (char *q = *first; *q != '\0'; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	p = e;
	val = xmalloc(strlen(s) + 1);
	while (*p != '\0') {
		const char *name;
		size_t nlen;

		p = skip_ows(p + 1); /* past ';' */
		if (*p == '\0')
			break; /* a trailing ';' */
		for (name = p; util_is_tchar((unsigned char)*p); p++)
			;
		if ((nlen = (size_t)(p - name)) == 0)
			goto bad;
		p = skip_ows(p);
		if (*p++ != '=')
			goto bad;
		p = skip_ows(p);
		if (param_value(&p, val, &vlen) < 0)
			goto bad;
		p = skip_ows(p);
		if (*p != ';' && *p != '\0')
			goto bad;
		if (fn(arg, name, nlen, val, vlen) < 0)
			goto bad;
	}
	free(val);
	return 0;
bad:
	free(val);
	free(*first);
	*first = NULL;
	return -1;
}

static int
param_is(const char *name, size_t nlen, const char *want)
{
	return nlen == strlen(want) && strncasecmp(name, want, nlen) == 0;
}

/* RFC 2046 bchars, not ending in a space. */
static int
boundary_ok(const char *b)
{
	size_t len = strlen(b);

	if (len == 0 || len > MULTIPART_BOUNDARY_MAX || b[len - 1] == ' ')
		return 0;
	for (; *b != '\0'; b++) {
		unsigned char ch = (unsigned char)*b;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("'()+_,-./:=? ", ch) != NULL))
			return 0;
	}
	return 1;
}

static int
ctype_param(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
	char **boundary = arg;

	if (!param_is(name, nlen, "boundary"))
		return 0;
	if (*boundary != NULL || strlen(value) != vlen || !boundary_ok(value))
		return -1;
	*boundary = xstrdup(value);
	return 0;
}

int
multipart_content_type(const char *value, char **type, char **boundary)
{
	*boundary = NULL;
	if (parse_params(value, type, ctype_param, boundary) < 0) {
		free(*boundary);
		*boundary = NULL;
		return -1;
	}
	return 0;
}

/* Content-Disposition parameters of a part. */
struct disposition {
	char *name, *filename, *filename_ext;
};

/* Decode an RFC 8187 ext-value (charset'lang'pct-encoded); NULL if invalid. */
static char *
decode_ext_value(const char *v)
{
	const char *q1 = strchr(v, '\''), *q2, *p;
	char *out, *o;

	if (q1 == NULL || q1 == v || (q2 = strchr(q1 + 1, '\'')) == NULL)
		return NULL;
	out = o = xmalloc(strlen(q2) + 1);
	for (p = q2 + 1; *p != '\0'; p++) {
		if (*p == '%') {
			int hi = util_hexval((unsigned char)p[1]), lo;

			if (hi < 0 || (lo = util_hexval((unsigned char)p[2])) < 0 || (hi | lo) == 0) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi * 16 + lo);
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

static int
disposition_param(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct disposition *d = arg;
	char **slot;

	if (param_is(name, nlen, "name"))
		slot = &d->name;
	else if (param_is(name, nlen, "filename"))
		slot = &d->filename;
	else if (param_is(name, nlen, "filename*"))
		slot = &d->filename_ext;
	else
		return 0;
	/* a repeated parameter or an embedded NUL makes the part ambiguous */
	if (*slot != NULL || strlen(value) != vlen)
		return -1;
	if (slot == &d->filename_ext) {
		if ((*slot = decode_ext_value(value)) == NULL)
			return -1;
	} else {
		*slot = xstrdup(value);
	}
	return 0;
}

static void
part_reset(struct multipart *mp)
{
	free(mp->disposition);
	free(mp->ctype);
	mp->disposition = mp->ctype = NULL;
	mp->llen = mp->htotal = 0;
	mp->hcount = 0;
}

/* The headers of a part are complete: check them and call begin. */
static int
part_begin(struct multipart *mp, char *err, size_t errlen)
{
	struct disposition d = {NULL, NULL, NULL};
	struct multipart_part part;
	char *dtype = NULL, *type = NULL;
	int rc;

	if (mp->disposition == NULL)
		return fail(mp, 400, err, errlen, "part without Content-Disposition");
	if (parse_params(mp->disposition, &dtype, disposition_param, &d) < 0) {
		rc = fail(mp, 400, err, errlen, "malformed Content-Disposition");
		goto out;
	}
	if (strcmp(dtype, "form-data") != 0) {
		rc = fail(mp, 400, err, errlen, "part is not form-data");
		goto out;
	}
	if (d.name == NULL || d.name[0] == '\0') {
		rc = fail(mp, 400, err, errlen, "part without a name");
		goto out;
	}
	if (mp->ctype != NULL) {
		const char *p = skip_ows(mp->ctype);
		size_t len = strcspn(p, ";");

		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		type = xstrndup(p, len);
		for (char *q = type; *q != '\0'; q++)
			if (*q >= 'A' && *q <= 'Z')
				*q = (char)(*q - 'A' + 'a');
	}
	part.name = d.name;
	part.filename = d.filename_ext != NULL ? d.filename_ext : d.filename;
	part.type = type != NULL && type[0] != '\0' ? type : "text/plain";
	rc = mp->cb->begin(mp->ctx, &part, err, errlen);
	if (rc != 0)
		rc = fail_cb(mp, rc, err, errlen);
out:
	free(dtype);
	free(type);
	free(d.name);
	free(d.filename);
	free(d.filename_ext);
	part_reset(mp);
	return rc;
}

/* One complete part header line (terminator excluded) in mp->line. */
static int
header_line(struct multipart *mp, char *err, size_t errlen)
{
	char *s = mp->line, *colon, *v, *e;
	size_t len = mp->llen;

	if (len > 0 && s[len - 1] == '\r')
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return fail(mp, 400, err, errlen, "invalid character in a part header");
	}
	s[len] = '\0';
	mp->llen = 0;
	if (len == 0) {
		/* the blank line: the part's data follows */
		int rc = part_begin(mp, err, errlen);

		if (rc == 0)
			mp->state = MP_DATA;
		return rc;
	}
	if (++mp->hcount > MULTIPART_HEADER_COUNT)
		return fail(mp, 400, err, errlen, "more than %d headers in a part",
			    MULTIPART_HEADER_COUNT);
	if (s[0] == ' ' || s[0] == '\t')
		return fail(mp, 400, err, errlen, "folded part header");
	if ((colon = strchr(s, ':')) == NULL || colon == s)
		return fail(mp, 400, err, errlen, "malformed part header");
	for (char *p = s; p < colon; p++)
		if (!util_is_tchar((unsigned char)*p))
			return fail(mp, 400, err, errlen, "malformed part header");
	*colon = '\0';
	v = (char *)skip_ows(colon + 1);
	for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	if (strcasecmp(s, "Content-Disposition") == 0) {
		if (mp->disposition != NULL)
			return fail(mp, 400, err, errlen, "several Content-Disposition headers");
		mp->disposition = xstrdup(v);
	} else if (strcasecmp(s, "Content-Type") == 0) {
		if (mp->ctype != NULL)
			return fail(mp, 400, err, errlen, "several Content-Type headers");
		mp->ctype = xstrdup(v);
	}
	return 0;
}

/* Collect header bytes; *used set to what was consumed. */
static int
headers(struct multipart *mp, const unsigned char *p, size_t n, size_t *used, char *err,
	size_t errlen)
{
	const unsigned char *nl = memchr(p, '\n', n);
	size_t take = nl != NULL ? (size_t)(nl - p) : n;

	*used = nl != NULL ? take + 1 : take;
	mp->htotal += *used;
	if (mp->htotal > MULTIPART_HEADER_MAX)
		return fail(mp, 400, err, errlen, "part headers larger than %d bytes",
			    MULTIPART_HEADER_MAX);
	/* htotal bounds llen, leaving room for the NUL */
	memcpy(mp->line + mp->llen, p, take);
	mp->llen += take;
	if (nl == NULL)
		return 0;
	if (mp->llen >= sizeof(mp->line))
		return fail(mp, 400, err, errlen, "part headers larger than %d bytes",
			    MULTIPART_HEADER_MAX);
	return header_line(mp, err, errlen);
}

/* Pass data on (or drop it in the preamble). */
static int
emit(struct multipart *mp, const void *buf, size_t len, char *err, size_t errlen)
{
	int rc;

	if (len == 0 || mp->state != MP_DATA)
		return 0;
	if ((rc = mp->cb->data(mp->ctx, buf, len, err, errlen)) != 0)
		return fail_cb(mp, rc, err, errlen);
	return 0;
}

/*
 * Look for the delimiter in p[0..n), passing on the data before it in as
 * few runs as possible.  *used is what was consumed (the delimiter
 * included); *found says whether it was seen.  A partial match at the end
 * is held back; held bytes are a prefix of the delimiter, so they need no
 * copy.
 */
static int
scan(struct multipart *mp, const unsigned char *p, size_t n, size_t *used, int *found, char *err,
     size_t errlen)
{
	size_t i = 0;
	size_t carried = mp->held; /* held bytes from the previous slice */
	size_t mstart = 0;	   /* start in p of a match begun here */
	int rc;

	*found = 0;
	while (i < n) {
		if (mp->held == 0) {
			const unsigned char *cr = memchr(p + i, '\r', n - i);

			if (cr == NULL) {
				i = n;
				break;
			}
			mstart = (size_t)(cr - p);
			mp->held = 1;
			i = mstart + 1;
			continue;
		}
		if (p[i] == (unsigned char)mp->delim[mp->held]) {
			mp->held++;
			i++;
			if (mp->held == mp->dlen) {
				/* the data before the delimiter; none if it began earlier */
				if (carried == 0 && (rc = emit(mp, p, mstart, err, errlen)) != 0)
					return rc;
				mp->held = 0;
				*found = 1;
				*used = i;
				return 0;
			}
			continue;
		}
		/* not a delimiter: the held bytes are data (those of this slice
		 * already are, being part of p), p[i] is looked at again */
		if (carried > 0) {
			if ((rc = emit(mp, mp->delim, carried, err, errlen)) != 0)
				return rc;
			carried = 0;
		}
		mp->held = 0;
	}
	*used = n;
	if (mp->held == 0)
		return emit(mp, p, n, err, errlen);
	/* keep the partial match back */
	if (carried == 0)
		return emit(mp, p, mstart, err, errlen);
	return 0;
}

/* A delimiter line is complete: end the part before it, begin the next. */
static int
delimiter_line(struct multipart *mp, int closing, char *err, size_t errlen)
{
	int rc;

	if (mp->after == MP_DATA && (rc = mp->cb->end(mp->ctx, err, errlen)) != 0)
		return fail_cb(mp, rc, err, errlen);
	if (closing) {
		mp->state = MP_EPILOGUE;
		return 0;
	}
	if (++mp->nparts > mp->max_parts)
		return fail(mp, 400, err, errlen, "more than %d parts in the form", mp->max_parts);
	part_reset(mp);
	mp->state = MP_HEADERS;
	return 0;
}

/*
 * The bytes after a delimiter: "--" ends the body, LWSP CRLF starts a
 * part.  Anything else means the delimiter was only data that looked
 * like one (RFC 2046 forbids it, but a lookalike line is no delimiter
 * line): it is passed on and the search goes on.  *used is 0 when ch
 * must be looked at again.
 */
static int
tail(struct multipart *mp, unsigned char ch, size_t *used, char *err, size_t errlen)
{
	int rc;

	*used = 1;
	if (mp->tail == TAIL_DASH) {
		if (ch == '-')
			return delimiter_line(mp, 1, err, errlen);
	} else if (mp->tail == TAIL_LF) {
		if (ch == '\n')
			return delimiter_line(mp, 0, err, errlen);
	} else if (mp->tail == TAIL_START && ch == '-') {
		mp->tail = TAIL_DASH;
		mp->tailbuf[mp->tlen++] = (char)ch;
		return 0;
	} else if ((ch == ' ' || ch == '\t') && mp->tlen < MULTIPART_PADDING_MAX) {
		mp->tail = TAIL_SPACE;
		mp->tailbuf[mp->tlen++] = (char)ch;
		return 0;
	} else if (ch == '\r') {
		mp->tail = TAIL_LF;
		mp->tailbuf[mp->tlen++] = (char)ch;
		return 0;
	}
	/* not a delimiter line: delimiter and tail are data, ch is looked at again */
	*used = 0;
	mp->state = mp->after;
	if ((rc = emit(mp, mp->delim, mp->dlen, err, errlen)) != 0)
		return rc;
	if (mp->tail == TAIL_LF) {
		/* the CR may begin the next delimiter */
		if ((rc = emit(mp, mp->tailbuf, mp->tlen - 1, err, errlen)) != 0)
			return rc;
		mp->held = 1;
		return 0;
	}
	return emit(mp, mp->tailbuf, mp->tlen, err, errlen);
}

struct multipart *
multipart_new(const char *boundary, int max_parts, const struct multipart_callbacks *cb,
	      void *ctx)
{
	struct multipart *mp = xcalloc(1, sizeof(*mp));
	size_t blen = strlen(boundary);

	if (blen > MULTIPART_BOUNDARY_MAX)
		blen = MULTIPART_BOUNDARY_MAX;
	mp->cb = cb;
	mp->ctx = ctx;
	mp->max_parts = max_parts;
	memcpy(mp->delim, "\r\n--", 4);
	memcpy(mp->delim + 4, boundary, blen);
	mp->dlen = 4 + blen;
	mp->state = MP_PREAMBLE;
	mp->held = 2; /* the body is read as if it began with CRLF */
	return mp;
}

int
multipart_feed(struct multipart *mp, const void *buf, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = buf;

	while (len > 0 && mp->error == 0) {
		size_t used = 0;
		int found, rc = 0;

		switch (mp->state) {
		case MP_PREAMBLE:
		case MP_DATA:
			rc = scan(mp, p, len, &used, &found, err, errlen);
			if (rc == 0 && found) {
				mp->after = mp->state;
				mp->state = MP_TAIL;
				mp->tail = TAIL_START;
				mp->tlen = 0;
			}
			break;
		case MP_TAIL:
			rc = tail(mp, p[0], &used, err, errlen);
			break;
		case MP_HEADERS:
			rc = headers(mp, p, len, &used, err, errlen);
			break;
		case MP_EPILOGUE:
			used = len;
			break;
		}
		if (rc != 0)
			break;
		p += used;
		len -= used;
	}
	if (mp->error != 0 && err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", mp->errmsg);
	return mp->error;
}

int
multipart_finish(struct multipart *mp, char *err, size_t errlen)
{
	if (mp->error != 0) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s", mp->errmsg);
		return mp->error;
	}
	if (mp->state != MP_EPILOGUE)
		return fail(mp, 400, err, errlen, "truncated multipart body");
	return 0;
}

void
multipart_free(struct multipart *mp)
{
	if (mp == NULL)
		return;
	part_reset(mp);
	free(mp);
}
