/* SPDX-License-Identifier: MIT */
/*
 * http.c: see http.h.  A worker reads its one request here.
 *
 * Every read from the client goes through one buffer in struct http_conn
 * (at least 64 KiB, and large enough to hold a whole head), which starts
 * with the bytes the supervisor already read.  The head is located (blank
 * line), checked against the limits, and parsed strictly: anything a
 * proxy could read differently (bare CR, obs-fold, white space before a
 * colon, conflicting lengths) is a 400.  The body is then handed out from
 * the same buffer, de-chunked when needed.
 */
#include "http.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "reply.h"
#include "reqline.h"
#include "util.h"

#define CONN_READ_SIZE (64 * 1024)
#define CHUNK_LINE_MAX 4096
/* Content-Length and chunk sizes above this are refused outright. */
#define LENGTH_MAX ((uint64_t)1 << 62)

enum body_state { BODY_LENGTH, CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, CHUNK_TRAILER, BODY_DONE };

struct http_conn {
	int fd;
	struct http_limits lim;
	unsigned char *buf;
	size_t cap, start, end; /* unread bytes are buf[start..end) */
	uint64_t bytes_in;
	uint64_t rate_start_ms; /* when the minimum rate's grace began */
	uint64_t rate_base;     /* bytes_in then (the prefix is not the client's pace) */
	/* head search state */
	size_t scan;	  /* next byte to look at, relative to start */
	size_t line;	  /* start of the current line, relative to start */
	int seen_line;	  /* a non-empty line was seen */
	/* body state */
	int body_begun;
	enum body_state state;
	uint64_t body_read; /* body bytes handed out */
	uint64_t left;	    /* of the body (Content-Length) or of the chunk */
	size_t trailer_bytes;
	int trailer_count;
	int error;	    /* sticky status once reading the body failed */
	char errmsg[128];
};

struct http_conn *
http_conn_new(int fd, const struct http_limits *lim, const void *prefix, size_t prefix_len)
{
	struct http_conn *c = xcalloc(1, sizeof(*c));

	c->fd = fd;
	c->lim = *lim;
	/* room for a whole head, or a whole trailer line with its CRLF */
	c->cap = CONN_READ_SIZE;
	if (c->cap < lim->header_max_size + 64)
		c->cap = lim->header_max_size + 64;
	if (c->cap < prefix_len)
		c->cap = prefix_len;
	c->buf = xmalloc(c->cap);
	if (prefix_len > 0)
		memcpy(c->buf, prefix, prefix_len);
	c->end = prefix_len;
	c->bytes_in = prefix_len;
	c->rate_start_ms = util_now_ms();
	c->rate_base = prefix_len;
	return c;
}

void
http_conn_free(struct http_conn *c)
{
	if (c == NULL)
		return;
	free(c->buf);
	free(c);
}

uint64_t
http_conn_bytes_in(const struct http_conn *c)
{
	return c->bytes_in;
}

size_t
http_conn_buffered(const struct http_conn *c)
{
	return c->end - c->start;
}

const struct http_limits *
http_conn_limits(const struct http_conn *c)
{
	return &c->lim;
}

/*
 * When the next bytes must have arrived: read_timeout_ms from now, or
 * sooner the minimum rate's deadline, which starts min_rate_grace_ms
 * after http_conn_new and moves a second later for each min_rate bytes
 * received since (so only a client slower than min_rate on average ever
 * meets it).  *by_rate says which one it is.
 */
static uint64_t
read_deadline(const struct http_conn *c, int *by_rate)
{
	uint64_t idle = util_now_ms() + (uint64_t)c->lim.read_timeout_ms, rate;

	*by_rate = 0;
	if (c->lim.min_rate == 0)
		return idle;
	rate = c->rate_start_ms + (uint64_t)c->lim.min_rate_grace_ms +
	       (c->bytes_in - c->rate_base) * 1000 / c->lim.min_rate;
	if (rate >= idle)
		return idle;
	*by_rate = 1;
	return rate;
}

/* Wait until the client's socket is readable, at most until
 * read_deadline; 0, or -1 with the status (408, 500) in *status. */
static int
wait_input(const struct http_conn *c, const char *what, int *status, char *err, size_t errlen)
{
	int by_rate;
	uint64_t deadline = read_deadline(c, &by_rate);

	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		uint64_t now = util_now_ms();
		/* polled even past the deadline: bytes already sent count
		 * (the worker may have been busy with the previous ones) */
		int r = poll(&pfd, 1, now < deadline ? (int)(deadline - now) : 0);

		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR) {
			*status = util_err(err, errlen, 500, "poll: %s", strerror(errno));
			return -1;
		}
		if (r == 0 && util_now_ms() >= deadline) {
			if (by_rate)
				*status = util_err(err, errlen, 408,
						   "%s arriving slower than %" PRIu64
						   " bytes per second",
						   what, c->lim.min_rate);
			else
				*status = util_err(err, errlen, 408,
						   "timed out waiting for the %s", what);
			return -1;
		}
	}
}

/*
 * Read once from the client into the free end of the buffer, waiting at
 * most until read_deadline.  Returns the count, or -1 with the status in
 * *status (408 on timeout, 400 when the client closed or failed).
 */
static ssize_t
conn_fill(struct http_conn *c, const char *what, int *status, char *err, size_t errlen)
{
	if (c->start == c->end) {
		c->start = c->end = 0;
	} else if (c->end == c->cap && c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == c->cap) {
		*status = util_err(err, errlen, 500, "request buffer full");
		return -1;
	}
	if (c->fd < 0) {
		*status = util_err(err, errlen, 400, "client closed the connection");
		return -1;
	}
	for (;;) {
		ssize_t n;

		if (wait_input(c, what, status, err, errlen) < 0)
			return -1;
		n = read(c->fd, c->buf + c->end, c->cap - c->end);
		if (n > 0) {
			c->end += (size_t)n;
			c->bytes_in += (uint64_t)n;
			return n;
		}
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n == 0 || errno == ECONNRESET || errno == EPIPE)
			*status = util_err(err, errlen, 400, "client closed the connection");
		else
			*status = util_err(err, errlen, 400, "reading the %s: %s", what,
					  strerror(errno));
		return -1;
	}
}

/* --- the head --- */

/* Percent-decode the path part of a target and collapse repeated slashes;
 * NULL for an invalid escape, %00 or a decoded control character. */
static char *
decode_path(const char *s, size_t len)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '%') {
			int hi, lo;

			if (i + 2 >= len)
				goto bad;
			if ((hi = util_hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = util_hexval((unsigned char)s[i + 2])) < 0)
				goto bad;
			ch = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (ch < 0x20 || ch == 0x7f)
			goto bad;
		if (ch == '/' && o > 0 && out[o - 1] == '/')
			continue;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* Parse the request target into target, path and query. */
static int
parse_target(struct http_request *req, const char *s, size_t len, char *err, size_t errlen)
{
	const char *p = s, *end = s + len, *q;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch == 0x7f)
			return util_err(err, errlen, 400, "invalid character in the request target");
	}
	req->target = xstrndup(s, len);
	if (len == 1 && s[0] == '*') {
		req->path = xstrdup("*");
		return 0;
	}
	if (len > 7 && (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0)) {
		/* absolute-form (RFC 9112 3.2.2): skip the scheme and the
		 * authority, which may not be empty (RFC 9110 4.2.1) */
		const char *host = (const char *)memchr(s, ':', len) + 3;

		for (p = host; p < end && *p != '/' && *p != '?' && *p != '#'; p++)
			;
		if (p == host)
			return util_err(err, errlen, 400, "no host in the request target");
	} else if (s[0] != '/') {
		return util_err(err, errlen, 400, "invalid request target");
	}
	for (q = p; q < end && *q != '?' && *q != '#'; q++)
		;
	if (q == p)
		req->path = xstrdup("/");
	else if ((req->path = decode_path(p, (size_t)(q - p))) == NULL)
		return util_err(err, errlen, 400, "invalid escape in the request path");
	if (q < end && *q == '?') {
		const char *qe = memchr(q, '#', (size_t)(end - q));

		req->query = xstrndup(q + 1, (size_t)((qe ? qe : end) - q - 1));
	}
	return 0;
}

/* The request line: method SP target SP HTTP-version. */
static int
parse_request_line(struct http_request *req, const char *s, size_t len, char *err, size_t errlen)
{
	const char *sp1, *sp2, *v;
	size_t mlen, vlen;
	int rc;

	if ((sp1 = memchr(s, ' ', len)) == NULL)
		return util_err(err, errlen, 400, "malformed request line");
	mlen = (size_t)(sp1 - s);
	if (mlen == 0)
		return util_err(err, errlen, 400, "malformed request line");
	for (size_t i = 0; i < mlen; i++)
		if (!util_is_tchar((unsigned char)s[i]))
			return util_err(err, errlen, 400, "invalid method");
	if (mlen >= sizeof(req->method))
		return util_err(err, errlen, 501, "method not implemented");
	memcpy(req->method, s, mlen);
	req->method[mlen] = '\0';

	v = sp1 + 1;
	if ((sp2 = memchr(v, ' ', (size_t)(s + len - v))) == NULL)
		return util_err(err, errlen, 400, "no HTTP version in the request line");
	if (sp2 == v)
		return util_err(err, errlen, 400, "malformed request line");
	if ((rc = parse_target(req, v, (size_t)(sp2 - v), err, errlen)) != 0)
		return rc;

	v = sp2 + 1;
	vlen = (size_t)(s + len - v);
	switch (reqline_version(v, vlen, &req->version_minor)) {
	case 0:
		return 0;
	case 505:
		return util_err(err, errlen, 505, "HTTP version not supported");
	default:
		return util_err(err, errlen, 400, "malformed HTTP version");
	}
}

/* One header line into req->headers. */
static int
parse_header(struct http_request *req, const char *s, size_t len, char *err, size_t errlen)
{
	const char *colon = memchr(s, ':', len), *v, *e;
	struct http_header h;

	if (s[0] == ' ' || s[0] == '\t')
		return util_err(err, errlen, 400, "folded header line");
	if (colon == NULL)
		return util_err(err, errlen, 400, "header line without a colon");
	if (colon == s)
		return util_err(err, errlen, 400, "empty header name");
	for (const char *p = s; p < colon; p++)
		if (!util_is_tchar((unsigned char)*p))
			return util_err(err, errlen, 400, "invalid header name");
	v = colon + 1;
	e = s + len;
	for (const char *p = v; p < e; p++) {
		unsigned char ch = (unsigned char)*p;

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return util_err(err, errlen, 400, "invalid character in a header value");
	}
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	h.name = xstrndup(s, (size_t)(colon - s));
	h.value = xstrndup(v, (size_t)(e - v));
	if (buf_append(&req->header_store, &h, sizeof(h)) < 0)
		log_panic("the header list cannot grow"); /* BUF_UNLIMITED */
	req->headers = (struct http_header *)req->header_store.data;
	req->nheaders++;
	return 0;
}

/* Compare a list element [s, e) to a word, case-insensitively. */
static int
word_is(const char *s, const char *e, const char *word)
{
	return (size_t)(e - s) == strlen(word) && strncasecmp(s, word, (size_t)(e - s)) == 0;
}

/* One Content-Length value into req (a list of equal values is tolerated,
 * RFC 9110 8.6; *has_length says one was seen).  0, or 400 with err. */
static int
content_length(struct http_request *req, const char *v, int *has_length, char *err,
	       size_t errlen)
{
	const char *p = v;

	do {
		uint64_t n = 0;
		int digits = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		for (; *p >= '0' && *p <= '9'; p++, digits++) {
			uint64_t d = (uint64_t)(*p - '0');

			/* checked before it grows: n * 10 wraps past 2^64 */
			if (n > (LENGTH_MAX - d) / 10)
				return util_err(err, errlen, 400, "invalid Content-Length");
			n = n * 10 + d;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (digits == 0 || (*p != ',' && *p != '\0'))
			return util_err(err, errlen, 400, "invalid Content-Length");
		if (*has_length && (uint64_t)req->content_length != n)
			return util_err(err, errlen, 400, "conflicting Content-Length values");
		req->content_length = (int64_t)n;
		*has_length = 1;
	} while (*p++ == ',');
	return 0;
}

/* One Transfer-Encoding value: only "chunked", once in all (counted in
 * *nte).  0, or 400/501 with err. */
static int
transfer_encoding(const char *v, int *nte, char *err, size_t errlen)
{
	const char *p = v;

	for (;;) {
		const char *s, *e;

		while (*p == ' ' || *p == '\t')
			p++;
		for (s = p; *p != ',' && *p != '\0'; p++)
			;
		for (e = p; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if (e == s)
			return util_err(err, errlen, 400, "invalid Transfer-Encoding");
		if (!word_is(s, e, "chunked"))
			return util_err(err, errlen, 501, "transfer coding not implemented");
		if (++*nte > 1)
			return util_err(err, errlen, 400, "chunked applied twice");
		if (*p++ == '\0')
			break;
	}
	return 0;
}

/* Derive content_length, chunked and expect_continue from the headers. */
static int
check_headers(struct http_request *req, char *err, size_t errlen)
{
	int nhost = 0, nte = 0, has_length = 0, nctype = 0, nauth = 0, rc;

	req->content_length = -1;
	for (int i = 0; i < req->nheaders; i++) {
		const char *name = req->headers[i].name, *v = req->headers[i].value;

		if (strcasecmp(name, "Host") == 0) {
			nhost++;
		} else if (strcasecmp(name, "Content-Type") == 0) {
			/* the boundary: a proxy taking the other one would see
			 * another body */
			if (++nctype > 1)
				return util_err(err, errlen, 400, "several Content-Type headers");
		} else if (strcasecmp(name, "Authorization") == 0) {
			/* the supervisor grants keys to no client then */
			if (++nauth > 1)
				return util_err(err, errlen, 400, "several Authorization headers");
		} else if (strcasecmp(name, "Content-Length") == 0) {
			if ((rc = content_length(req, v, &has_length, err, errlen)) != 0)
				return rc;
		} else if (strcasecmp(name, "Transfer-Encoding") == 0) {
			if ((rc = transfer_encoding(v, &nte, err, errlen)) != 0)
				return rc;
		} else if (strcasecmp(name, "Expect") == 0) {
			/* an empty list expects nothing (RFC 9110 10.1.1) */
			if (*v == '\0')
				continue;
			if (strcasecmp(v, "100-continue") != 0)
				return util_err(err, errlen, 417, "unsupported expectation");
			if (req->version_minor >= 1)
				req->expect_continue = 1;
		}
	}
	if (nte > 0 && has_length)
		return util_err(err, errlen, 400, "both Content-Length and Transfer-Encoding");
	if (nte > 0 && req->version_minor == 0) /* RFC 9112 6.1: faulty framing */
		return util_err(err, errlen, 400, "Transfer-Encoding in an HTTP/1.0 request");
	req->chunked = nte > 0;
	if (nhost > 1 || (nhost == 0 && req->version_minor >= 1))
		return util_err(err, errlen, 400, nhost ? "several Host headers" : "no Host header");
	return 0;
}

static int
parse_head(const char *buf, size_t len, const struct http_limits *lim, struct http_request *req,
	   char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len;
	int rc, first = 1;

	if (len > lim->header_max_size)
		return util_err(err, errlen, 431, "request head larger than %zu bytes",
			       lim->header_max_size);
	/* RFC 9112 2.2: empty lines before the request line are ignored. */
	while (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')))
		p += *p == '\r' ? 2 : 1;
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *le;

		if (nl == NULL)
			return util_err(err, errlen, 400, "incomplete request head");
		le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		if (memchr(p, '\r', (size_t)(le - p)) != NULL)
			return util_err(err, errlen, 400, "bare CR in the request head");
		if (memchr(p, '\0', (size_t)(le - p)) != NULL)
			return util_err(err, errlen, 400, "NUL in the request head");
		if (first) {
			if ((rc = parse_request_line(req, p, (size_t)(le - p), err, errlen)) != 0)
				return rc;
			first = 0;
		} else if (le == p) {
			break;
		} else {
			if (req->nheaders >= lim->header_max_count)
				return util_err(err, errlen, 431, "more than %d header lines",
					       lim->header_max_count);
			if ((rc = parse_header(req, p, (size_t)(le - p), err, errlen)) != 0)
				return rc;
		}
		p = nl + 1;
	}
	return check_headers(req, err, errlen);
}

/* Free req's allocations but keep the method (for the log line). */
static void
request_clear(struct http_request *req)
{
	char method[sizeof(req->method)];

	memcpy(method, req->method, sizeof(method));
	http_request_free(req);
	memcpy(req->method, method, sizeof(method));
}

int
http_parse_head(const char *buf, size_t len, const struct http_limits *lim,
		struct http_request *req, char *err, size_t errlen)
{
	int rc;

	memset(req, 0, sizeof(*req));
	req->content_length = -1;
	buf_init(&req->header_store, BUF_UNLIMITED, 0);
	if ((rc = parse_head(buf, len, lim, req, err, errlen)) != 0)
		request_clear(req);
	return rc;
}

/* Look for the blank line ending the head in the buffer; its length, or 0. */
static size_t
find_head_end(struct http_conn *c)
{
	const unsigned char *b = c->buf + c->start;
	size_t n = c->end - c->start;

	for (; c->scan < n; c->scan++) {
		size_t len;

		if (b[c->scan] != '\n')
			continue;
		len = c->scan - c->line;
		if (len > 0 && b[c->scan - 1] == '\r')
			len--;
		c->line = c->scan + 1;
		if (len > 0)
			c->seen_line = 1;
		else if (c->seen_line)
			return c->scan + 1;
	}
	return 0;
}

int
http_read_head(struct http_conn *c, struct http_request *req, char *err, size_t errlen)
{
	size_t hlen;
	int status;

	memset(req, 0, sizeof(*req));
	req->content_length = -1;
	while ((hlen = find_head_end(c)) == 0) {
		if (c->end - c->start > c->lim.header_max_size)
			return util_err(err, errlen, 431, "request head larger than %zu bytes",
				       c->lim.header_max_size);
		/* keep the head at the start of the buffer so it always fits */
		if (c->start > 0) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		}
		if (conn_fill(c, "request head", &status, err, errlen) < 0)
			return status;
	}
	status = http_parse_head((const char *)c->buf + c->start, hlen, &c->lim, req, err, errlen);
	c->start += hlen;
	c->scan = c->line = 0;
	c->seen_line = 0;
	return status;
}

const char *
http_header(const struct http_request *req, const char *name)
{
	for (int i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

void
http_request_free(struct http_request *req)
{
	if (req == NULL)
		return;
	for (int i = 0; i < req->nheaders; i++) {
		free(req->headers[i].name);
		free(req->headers[i].value);
	}
	buf_free(&req->header_store);
	free(req->target);
	free(req->path);
	free(req->query);
	memset(req, 0, sizeof(*req));
	req->content_length = -1;
}

/* --- the body --- */

/* Latch a body error and return -1. */
static ssize_t
body_fail(struct http_conn *c, int status, const char *reason, int *pstatus, char *err,
	  size_t errlen)
{
	c->error = status;
	snprintf(c->errmsg, sizeof(c->errmsg), "%s", reason);
	*pstatus = status;
	util_err(err, errlen, status, "%s", reason);
	return -1;
}

/*
 * Get the next line of a chunked body (size line, CRLF after data,
 * trailer) into [*line, *line + *len), terminator excluded and consumed.
 * 0, or -1 with status and err set.
 */
static int
body_line(struct http_conn *c, size_t max, const char **line, size_t *len, int *status,
	  char *err, size_t errlen)
{
	for (;;) {
		const unsigned char *b = c->buf + c->start;
		size_t n = c->end - c->start;
		const unsigned char *nl = memchr(b, '\n', n);

		if (nl != NULL) {
			size_t l = (size_t)(nl - b);

			/* CRLF only (RFC 9112 7.1): a bare LF is refused, as a
			 * bare CR is, where a proxy in front might read the
			 * body's framing otherwise */
			if (l == 0 || b[l - 1] != '\r') {
				*status = util_err(err, errlen, 400,
						   "bare LF in a chunked body (CRLF expected)");
				return -1;
			}
			l--;
			if (l > max) {
				*status = util_err(err, errlen, 400, "chunked body line too long");
				return -1;
			}
			if (memchr(b, '\r', l) != NULL || memchr(b, '\0', l) != NULL) {
				*status = util_err(err, errlen, 400,
						  "invalid character in a chunked body");
				return -1;
			}
			*line = (const char *)b;
			*len = l;
			c->start += (size_t)(nl - b) + 1;
			return 0;
		}
		if (n > max + 1) {
			*status = util_err(err, errlen, 400, "chunked body line too long");
			return -1;
		}
		if (conn_fill(c, "request body", status, err, errlen) < 0)
			return -1;
	}
}

/* Optional white space at s[*i]. */
static void
skip_bws(const char *s, size_t len, size_t *i)
{
	while (*i < len && (s[*i] == ' ' || s[*i] == '\t'))
		(*i)++;
}

/* A token at s[*i]: 0 (*i past it), or -1 when there is none. */
static int
token(const char *s, size_t len, size_t *i)
{
	size_t start = *i;

	while (*i < len && util_is_tchar((unsigned char)s[*i]))
		(*i)++;
	return *i > start ? 0 : -1;
}

/* A quoted-string at s[*i] (RFC 9110 5.6.4): 0, or -1. */
static int
quoted(const char *s, size_t len, size_t *i)
{
	if (*i >= len || s[*i] != '"')
		return -1;
	for ((*i)++; *i < len; (*i)++) {
		unsigned char c = (unsigned char)s[*i];

		if (c == '"') {
			(*i)++;
			return 0;
		}
		if (c == '\\' && *i + 1 < len)
			c = (unsigned char)s[++(*i)];
		else if (c == '\\')
			return -1;
		/* qdtext, or what a quoted-pair may hold: HTAB, SP, VCHAR, obs-text */
		if (c != '\t' && (c < 0x20 || c == 0x7f))
			return -1;
	}
	return -1;
}

/* The chunk extensions after a chunk size (RFC 9112 7.1.1): *( BWS ";" BWS
 * name [ BWS "=" BWS ( token / quoted-string ) ] ), read and dropped; 0,
 * or -1 for anything else, which a proxy might read otherwise. */
static int
chunk_exts(const char *s, size_t len)
{
	size_t i = 0;

	for (;;) {
		skip_bws(s, len, &i);
		if (i == len)
			return 0;
		if (s[i++] != ';')
			return -1;
		skip_bws(s, len, &i);
		if (token(s, len, &i) < 0)
			return -1;
		skip_bws(s, len, &i);
		if (i < len && s[i] == '=') {
			i++;
			skip_bws(s, len, &i);
			if (token(s, len, &i) < 0 && quoted(s, len, &i) < 0)
				return -1;
		}
	}
}

/* A chunk-size line: hex size, optional white space and extensions. */
static int
parse_chunk_size(const char *s, size_t len, uint64_t *size)
{
	size_t i = 0;
	uint64_t n = 0;
	int h;

	for (; i < len && (h = util_hexval((unsigned char)s[i])) >= 0; i++) {
		if (i >= 16)
			return -1;
		n = n * 16 + (uint64_t)h;
	}
	if (i == 0 || n > LENGTH_MAX)
		return -1;
	if (chunk_exts(s + i, len - i) < 0)
		return -1;
	*size = n;
	return 0;
}

/* Copy up to len buffered body bytes (reading when nothing is buffered). */
static ssize_t
body_copy(struct http_conn *c, void *buf, size_t len, int *status, char *err, size_t errlen)
{
	size_t n;

	if (c->start == c->end && conn_fill(c, "request body", status, err, errlen) < 0)
		return -1;
	n = c->end - c->start;
	if (n > len)
		n = len;
	if (n > c->left)
		n = (size_t)c->left;
	memcpy(buf, c->buf + c->start, n);
	c->start += n;
	c->left -= n;
	c->body_read += n;
	return (ssize_t)n;
}

/* The first call: decide on the body before reading any of it. */
static ssize_t
body_begin(struct http_conn *c, struct http_request *req, int *status, char *err, size_t errlen)
{
	char reason[128];

	c->body_begun = 1;
	if (req->content_length >= 0 && (uint64_t)req->content_length > c->lim.body_max) {
		snprintf(reason, sizeof(reason), "request body larger than %" PRIu64 " bytes",
			 c->lim.body_max);
		return body_fail(c, 413, reason, status, err, errlen);
	}
	if (req->chunked) {
		c->state = CHUNK_SIZE;
	} else {
		/* neither: no body, a POST's too (RFC 9112, 6.3), as the
		 * original's server reads it; its handler then finds its
		 * fields missing */
		c->state = BODY_LENGTH;
		c->left = req->content_length >= 0 ? (uint64_t)req->content_length : 0;
	}
	if (req->expect_continue && (req->chunked || c->left > 0)) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

		if (c->fd >= 0 &&
		    reply_write(c->fd, cont, sizeof(cont) - 1, c->lim.read_timeout_ms) < 0)
			return body_fail(c, 400, "client closed the connection", status, err,
					 errlen);
	}
	return 0;
}

/* body_line with its failure latched (body_fail): 0 or -1. */
static int
chunk_line(struct http_conn *c, size_t max, const char **line, size_t *len, int *status,
	   char *err, size_t errlen)
{
	char reason[128];
	int st;

	if (body_line(c, max, line, len, &st, reason, sizeof(reason)) < 0)
		return (int)body_fail(c, st, reason, status, err, errlen);
	return 0;
}

/* CHUNK_SIZE: read a chunk-size line; on to the data, or the trailer
 * after the last chunk.  0, or -1 (latched). */
static int
chunk_size_line(struct http_conn *c, int *status, char *err, size_t errlen)
{
	char reason[128];
	const char *line;
	size_t llen;

	if (chunk_line(c, CHUNK_LINE_MAX, &line, &llen, status, err, errlen) < 0)
		return -1;
	if (parse_chunk_size(line, llen, &c->left) < 0)
		return (int)body_fail(c, 400, "invalid chunk size", status, err, errlen);
	if (c->left > c->lim.body_max - c->body_read) {
		snprintf(reason, sizeof(reason), "request body larger than %" PRIu64 " bytes",
			 c->lim.body_max);
		return (int)body_fail(c, 413, reason, status, err, errlen);
	}
	c->state = c->left == 0 ? CHUNK_TRAILER : CHUNK_DATA;
	return 0;
}

/* CHUNK_TRAILER: read one trailer line (checked, then dropped); the empty
 * line ends the body.  0, or -1 (latched). */
static int
chunk_trailer_line(struct http_conn *c, int *status, char *err, size_t errlen)
{
	const char *line;
	size_t llen;

	if (chunk_line(c, c->lim.header_max_size, &line, &llen, status, err, errlen) < 0)
		return -1;
	if (llen == 0) {
		c->state = BODY_DONE;
		return 0;
	}
	c->trailer_bytes += llen + 2;
	if (++c->trailer_count > c->lim.header_max_count ||
	    c->trailer_bytes > c->lim.header_max_size)
		return (int)body_fail(c, 431, "trailer too large", status, err, errlen);
	if (line[0] == ' ' || line[0] == '\t' || memchr(line, ':', llen) == NULL)
		return (int)body_fail(c, 400, "malformed trailer line", status, err, errlen);
	return 0;
}

ssize_t
http_read_body(struct http_conn *c, struct http_request *req, void *buf, size_t len, int *status,
	       char *err, size_t errlen)
{
	char reason[128];
	const char *line;
	size_t llen;
	ssize_t n;
	int st;

	if (c->error) {
		*status = util_err(err, errlen, c->error, "%s", c->errmsg);
		return -1;
	}
	if (!c->body_begun && body_begin(c, req, status, err, errlen) < 0)
		return -1;
	if (len == 0)
		return 0;
	for (;;) {
		switch (c->state) {
		case BODY_DONE:
			return 0;
		case BODY_LENGTH:
			if (c->left == 0) {
				c->state = BODY_DONE;
				return 0;
			}
			if ((n = body_copy(c, buf, len, &st, reason, sizeof(reason))) < 0)
				return body_fail(c, st, reason, status, err, errlen);
			return n;
		case CHUNK_SIZE:
			if (chunk_size_line(c, status, err, errlen) < 0)
				return -1;
			break;
		case CHUNK_DATA:
			if ((n = body_copy(c, buf, len, &st, reason, sizeof(reason))) < 0)
				return body_fail(c, st, reason, status, err, errlen);
			if (c->left == 0)
				c->state = CHUNK_DATA_END;
			return n;
		case CHUNK_DATA_END:
			if (chunk_line(c, CHUNK_LINE_MAX, &line, &llen, status, err, errlen) < 0)
				return -1;
			if (llen != 0)
				return body_fail(c, 400, "missing CRLF after chunk data", status,
						 err, errlen);
			c->state = CHUNK_SIZE;
			break;
		case CHUNK_TRAILER:
			if (chunk_trailer_line(c, status, err, errlen) < 0)
				return -1;
			break;
		}
	}
}
