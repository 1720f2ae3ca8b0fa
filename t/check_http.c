/* SPDX-License-Identifier: MIT */
/*
 * check_http.c: unit tests of lib/http.c, the worker's request reader,
 * of lib/reqline.c, the supervisor's request-line parser and head
 * scanner, and of the reason phrases of lib/reply.c.
 *
 * Heads are parsed from memory (http_parse_head) for every malformed
 * case and limit, and read through real sockets (socketpair, with a
 * writer thread that can dribble bytes, pause or hang up) for the
 * buffering, body, chunked, 100-continue, timeout, minimum rate and
 * hang-up cases.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "http.h"
#include "reply.h"
#include "reqline.h"
#include "util.h"

static const struct http_limits deflim = CHECK_HTTP_LIMITS(1000000);

static char err[256];

/* Parse a head given as a C string. */
static int
parse_lim(const char *head, const struct http_limits *lim, struct http_request *req)
{
	err[0] = '\0';
	return http_parse_head(head, strlen(head), lim, req, err, sizeof(err));
}

static int
parse(const char *head, struct http_request *req)
{
	return parse_lim(head, &deflim, req);
}

/* The status of parsing a head, request freed. */
static int
status_of(const char *head)
{
	struct http_request req;
	int rc = parse(head, &req);

	http_request_free(&req);
	return rc;
}

#define H11 "Host: example\r\n"

/* --- a socket writer --- */

/* A socketpair: sv[0] for the server side, sv[1] for the writer. */
static void
start_writer(struct check_writer *w, int sv[2], const char *data, size_t len, size_t piece,
	     int delay_us, int hold_ms)
{
	*w = (struct check_writer){
	    .data = data, .len = len, .piece = piece, .delay_us = delay_us, .hold_ms = hold_ms};
	check_writer_start(w, sv);
}

static void
stop_writer(struct check_writer *w, int sv[2])
{
	pthread_join(w->thread, NULL);
	close(sv[0]);
	close(sv[1]);
}

/* Read a whole body into a NUL-terminated buffer; status or 0. */
static int
read_all(struct http_conn *c, struct http_request *req, char *out, size_t outlen, size_t *got,
	 size_t step)
{
	size_t n = 0;
	int status = 0;

	for (;;) {
		ssize_t r = http_read_body(c, req, out + n, step < outlen - n ? step : outlen - n,
					   &status, err, sizeof(err));
		if (r < 0)
			return status;
		if (r == 0)
			break;
		n += (size_t)r;
		ck_assert_uint_lt(n, outlen);
	}
	out[n] = '\0';
	*got = n;
	return 0;
}

/* --- the request line --- */

START_TEST(test_request_line_ok)
{
	struct http_request req;

	ck_assert_int_eq(parse("POST /sign/tegra HTTP/1.1\r\n" H11 "\r\n", &req), 0);
	ck_assert_str_eq(req.method, "POST");
	ck_assert_str_eq(req.target, "/sign/tegra");
	ck_assert_str_eq(req.path, "/sign/tegra");
	ck_assert_ptr_null(req.query);
	ck_assert_int_eq(req.version_minor, 1);
	ck_assert_int_eq(req.content_length, -1);
	ck_assert_int_eq(req.chunked, 0);
	ck_assert_int_eq(req.nheaders, 1);
	http_request_free(&req);

	/* HTTP/1.0 needs no Host; LF-only lines; leading empty lines */
	ck_assert_int_eq(parse("\r\n\nGET /status HTTP/1.0\n\n", &req), 0);
	ck_assert_int_eq(req.version_minor, 0);
	ck_assert_str_eq(req.path, "/status");
	http_request_free(&req);
	/* freeing twice is harmless */
	http_request_free(&req);
}
END_TEST

START_TEST(test_request_line_bad)
{
	static const char *const bad400[] = {
	    "GE(T / HTTP/1.1\r\n" H11 "\r\n", /* bad method token */
	    "GE\"T / HTTP/1.1\r\n" H11 "\r\n",
	    " / HTTP/1.1\r\n" H11 "\r\n", /* empty method */
	    "GET /\r\n" H11 "\r\n",       /* no version */
	    "GET\r\n" H11 "\r\n",
	    "GET  / HTTP/1.1\r\n" H11 "\r\n", /* double space */
	    "GET / HTTP/1.1 \r\n" H11 "\r\n",
	    "GET / http/1.1\r\n" H11 "\r\n",
	    "GET / HTTP/1\r\n" H11 "\r\n",
	    "GET / HTTP/1.1x\r\n" H11 "\r\n",
	    "GET / HTTP/a.b\r\n" H11 "\r\n",
	    "GET / HTTP/11.1\r\n" H11 "\r\n",
	    "GET sign HTTP/1.1\r\n" H11 "\r\n",   /* not origin-form */
	    "GET /a\x01 HTTP/1.1\r\n" H11 "\r\n", /* control character */
	    "GET /a\rb HTTP/1.1\r\n" H11 "\r\n",  /* bare CR */
	    "GET / HTTP/1.1\r\r\n" H11 "\r\n",
	    ("GET / HTTP/1.1\r\n" H11), /* no blank line */
	    "",
	    "\r\n\r\n",
	};
	static const char *const bad505[] = {
	    "GET / HTTP/2.0\r\n" H11 "\r\n",
	    "GET / HTTP/0.9\r\n" H11 "\r\n",
	    "GET / HTTP/3\r\n" H11 "\r\n",
	};

	for (size_t i = 0; i < sizeof(bad400) / sizeof(*bad400); i++) {
		struct http_request req;
		int rc = parse(bad400[i], &req);

		ck_assert_msg(rc == 400, "case %zu: %d (%s)", i, rc, err);
		ck_assert_ptr_null(req.target);
		ck_assert_ptr_null(req.headers);
		http_request_free(&req);
	}
	for (size_t i = 0; i < sizeof(bad505) / sizeof(*bad505); i++)
		ck_assert_msg(status_of(bad505[i]) == 505, "505 case %zu: %s", i, err);
	/* a later 1.x is handled as 1.1 (RFC 9110 2.5) */
	{
		struct http_request req;

		ck_assert_int_eq(parse("GET / HTTP/1.2\r\n" H11 "\r\n", &req), 0);
		ck_assert_int_eq(req.version_minor, 1);
		http_request_free(&req);
	}
	/* a long (valid) method is not implemented */
	ck_assert_int_eq(status_of("VERYLONGMETHODNAME / HTTP/1.1\r\n" H11 "\r\n"), 501);
	ck_assert_int_eq(status_of("ABCDEFGHIJKLMNO / HTTP/1.1\r\n" H11 "\r\n"), 0);
}
END_TEST

START_TEST(test_path)
{
	static const struct {
		const char *target, *path, *query;
	} ok[] = {
	    {"/sign/tegra", "/sign/tegra", NULL},
	    {"//sign/tegra", "/sign/tegra", NULL},
	    {"///sign//tegra/", "/sign/tegra/", NULL},
	    {"/sign/%74egra", "/sign/tegra", NULL},
	    {"/sign%2Ftegra", "/sign/tegra", NULL},
	    {"/sign/tegra?x=1&y=%00", "/sign/tegra", "x=1&y=%00"},
	    {"/sign/tegra?", "/sign/tegra", ""},
	    {"/a%20b", "/a b", NULL},
	    {"/caf%C3%A9", "/caf\xc3\xa9", NULL},
	    {"/x#frag", "/x", NULL},
	    {"http://example:9999//sign/modules?q", "/sign/modules", "q"},
	    {"http://example", "/", NULL},
	    {"HTTPS://example/sign/swupdate", "/sign/swupdate", NULL},
	    {"*", "*", NULL},
	};
	static const char *const bad[] = {
	    "/a%00b",
	    "/a%zzb",
	    "/a%4",
	    "/a%",
	    "/a%%41",
	    "/a%0a",
	    "/a%7F",
	    "/a%0",
	    "http:///sign/modules",
	    "https://",
	    "ftp://example/sign/modules",
	};
	char head[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		struct http_request req;

		snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\n" H11 "\r\n", ok[i].target);
		ck_assert_msg(parse(head, &req) == 0, "%s: %s", ok[i].target, err);
		ck_assert_str_eq(req.target, ok[i].target);
		ck_assert_str_eq(req.path, ok[i].path);
		if (ok[i].query == NULL)
			ck_assert_ptr_null(req.query);
		else
			ck_assert_str_eq(req.query, ok[i].query);
		http_request_free(&req);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\n" H11 "\r\n", bad[i]);
		ck_assert_msg(status_of(head) == 400, "%s", bad[i]);
	}
}
END_TEST

/* --- header lines --- */

START_TEST(test_headers_ok)
{
	struct http_request req;

	ck_assert_int_eq(parse("POST /x HTTP/1.1\r\n"
			       "host:  example  \r\n"
			       "X-Empty:\r\n"
			       "X-Tab:\tvalue with  spaces\t\r\n"
			       "x-dup: first\r\n"
			       "X-Dup: second\r\n"
			       "X-Obs: caf\xc3\xa9\r\n"
			       "\r\n",
			       &req),
			 0);
	ck_assert_int_eq(req.nheaders, 6);
	ck_assert_str_eq(req.headers[0].name, "host");
	ck_assert_str_eq(http_header(&req, "Host"), "example");
	ck_assert_str_eq(http_header(&req, "x-empty"), "");
	ck_assert_str_eq(http_header(&req, "X-TAB"), "value with  spaces");
	ck_assert_str_eq(http_header(&req, "X-Dup"), "first");
	ck_assert_str_eq(http_header(&req, "x-obs"), "caf\xc3\xa9");
	ck_assert_ptr_null(http_header(&req, "Missing"));
	http_request_free(&req);
}
END_TEST

START_TEST(test_headers_bad)
{
	static const char *const bad400[] = {
	    "GET / HTTP/1.1\r\n" H11 "X-Fold: a\r\n b\r\n\r\n", /* obs-fold */
	    "GET / HTTP/1.1\r\n" H11 "X-Fold: a\r\n\tb\r\n\r\n",
	    "GET / HTTP/1.1\r\n" H11 "No colon here\r\n\r\n",
	    "GET / HTTP/1.1\r\n" H11 "X-Space : a\r\n\r\n", /* space before colon */
	    "GET / HTTP/1.1\r\n" H11 ": a\r\n\r\n",         /* empty name */
	    "GET / HTTP/1.1\r\n" H11 "X(y): a\r\n\r\n",     /* not a token */
	    "GET / HTTP/1.1\r\n" H11 "X-CR: a\rb\r\n\r\n",  /* bare CR */
	    "GET / HTTP/1.1\r\n" H11 "X-CR: ab\r\r\n\r\n",
	    "GET / HTTP/1.1\r\n" H11 "X-Ctl: a\x01"
	    "b\r\n\r\n",
	    "GET / HTTP/1.1\r\n" H11 "X-Del: a\x7f\r\n\r\n",
	    "GET / HTTP/1.1\r\n\r\n",            /* no Host in 1.1 */
	    "GET / HTTP/1.1\r\n" H11 H11 "\r\n", /* two Hosts */
	};
	struct http_request req;
	static const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";

	for (size_t i = 0; i < sizeof(bad400) / sizeof(*bad400); i++)
		ck_assert_msg(status_of(bad400[i]) == 400, "case %zu: %s", i, err);
	ck_assert_int_eq(http_parse_head(nul, sizeof(nul) - 1, &deflim, &req, err, sizeof(err)),
			 400);
	http_request_free(&req);
	/* the method survives an error, for the log line */
	ck_assert_int_eq(parse("PUT / HTTP/1.1\r\n" H11 "bad\r\n\r\n", &req), 400);
	ck_assert_str_eq(req.method, "PUT");
	ck_assert_ptr_null(req.target);
	http_request_free(&req);
}
END_TEST

START_TEST(test_content_length)
{
	static const char *const bad[] = {
	    "abc",
	    "-1",
	    "+5",
	    "1 2",
	    "",
	    "5,",
	    ",5",
	    "0x10",
	    "5, 6",
	    "99999999999999999999999",
	    "4611686018427387905",
	    /* past 2^64: must not wrap around to a small length */
	    "18446744073709551616",
	    "18446744073709551620",
	    "18446744073709551950",
	    "36893488147419103232",
	    "4, 18446744073709551620",
	    "0000000000000000000018446744073709551620",
	};
	struct http_request req;
	char head[256];

	ck_assert_int_eq(parse("POST / HTTP/1.1\r\n" H11 "Content-Length: 42\r\n\r\n", &req), 0);
	ck_assert_int_eq(req.content_length, 42);
	http_request_free(&req);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\n" H11 "Content-Length: 7, 7\r\n"
			       "content-length: 7\r\n\r\n",
			       &req),
			 0);
	ck_assert_int_eq(req.content_length, 7);
	http_request_free(&req);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\n" H11 "Content-Length: 0\r\n\r\n", &req), 0);
	ck_assert_int_eq(req.content_length, 0);
	http_request_free(&req);
	ck_assert_int_eq(
	    parse("POST / HTTP/1.1\r\n" H11 "Content-Length: 4611686018427387904\r\n\r\n", &req),
	    0);
	http_request_free(&req);

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(head, sizeof(head), "POST / HTTP/1.1\r\n" H11 "Content-Length: %s\r\n\r\n",
			 bad[i]);
		ck_assert_msg(status_of(head) == 400, "'%s'", bad[i]);
	}
	/* several differing values */
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\n" H11 "Content-Length: 5\r\n"
				   "Content-Length: 6\r\n\r\n"),
			 400);
	/* both Content-Length and chunked, in either order */
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\n" H11 "Content-Length: 5\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n"),
			 400);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\n"
				   "Content-Length: 5\r\n\r\n"),
			 400);
	/* chunked in HTTP/1.0: faulty framing (RFC 9112 6.1) */
	ck_assert_int_eq(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
	/* the boundary and the client: once each */
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\n" H11
				   "Content-Type: multipart/form-data; boundary=a\r\n"
				   "Content-Type: multipart/form-data; boundary=b\r\n\r\n"),
			 400);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\n" H11 "Authorization: Bearer a\r\n"
				   "authorization: Bearer a\r\n\r\n"),
			 400);
}
END_TEST

START_TEST(test_transfer_encoding)
{
	struct http_request req;

	ck_assert_int_eq(
	    parse("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: Chunked\r\n\r\n", &req), 0);
	ck_assert_int_eq(req.chunked, 1);
	http_request_free(&req);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: gzip\r\n\r\n"),
			 501);
	ck_assert_int_eq(
	    status_of("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n"), 501);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: identity\r\n\r\n"),
			 501);
	ck_assert_int_eq(
	    status_of("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n"),
	    400);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n"),
			 400);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: \r\n\r\n"), 400);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\n" H11 "Transfer-Encoding: chunked,\r\n\r\n"),
			 400);
}
END_TEST

START_TEST(test_expect)
{
	struct http_request req;

	ck_assert_int_eq(parse("POST / HTTP/1.1\r\n" H11 "Expect: 100-Continue\r\n\r\n", &req), 0);
	ck_assert_int_eq(req.expect_continue, 1);
	http_request_free(&req);
	/* HTTP/1.0 clients cannot expect 100 (RFC 9110 10.1.1) */
	ck_assert_int_eq(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &req), 0);
	ck_assert_int_eq(req.expect_continue, 0);
	http_request_free(&req);
	ck_assert_int_eq(status_of("POST / HTTP/1.1\r\n" H11 "Expect: 200-ok\r\n\r\n"), 417);
	/* an empty Expect expects nothing */
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\n" H11 "Expect:\r\n\r\n", &req), 0);
	ck_assert_int_eq(req.expect_continue, 0);
	http_request_free(&req);
	ck_assert_int_eq(parse("POST / HTTP/1.1\r\n" H11 "Expect:   \r\n\r\n", &req), 0);
	ck_assert_int_eq(req.expect_continue, 0);
	http_request_free(&req);
}
END_TEST

/* --- limits on the head --- */

START_TEST(test_header_limits)
{
	struct http_limits lim = deflim;
	struct http_request req;
	char *head;
	size_t n = 0, cap = 64 * 1024;

	/* header_max_count: 100 lines pass, 101 do not */
	head = xmalloc(cap);
	n = (size_t)snprintf(head, cap, "GET / HTTP/1.1\r\n" H11);
	for (int i = 1; i < 100; i++)
		n += (size_t)snprintf(head + n, cap - n, "X-H%d: %d\r\n", i, i);
	snprintf(head + n, cap - n, "\r\n");
	ck_assert_int_eq(parse(head, &req), 0);
	ck_assert_int_eq(req.nheaders, 100);
	http_request_free(&req);
	snprintf(head + n, cap - n, "X-Last: 1\r\n\r\n");
	ck_assert_int_eq(parse(head, &req), 431);
	http_request_free(&req);

	/* header_max_size: the whole head, request line included */
	lim.header_max_size = 256;
	n = (size_t)snprintf(head, cap, "GET / HTTP/1.1\r\n" H11 "X-Pad: ");
	while (n < 256 - 4)
		head[n++] = 'a';
	memcpy(head + n, "\r\n\r\n", 5); /* exactly 256 bytes */
	ck_assert_uint_eq(strlen(head), 256);
	ck_assert_int_eq(parse_lim(head, &lim, &req), 0);
	http_request_free(&req);
	memcpy(head + n, "a\r\n\r\n", 6);
	ck_assert_int_eq(parse_lim(head, &lim, &req), 431);
	http_request_free(&req);
	free(head);
}
END_TEST

/* --- reading from a socket --- */

START_TEST(test_read_head_dribbled)
{
	static const char raw[] =
	    "POST //sign/modules HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n"
	    "Content-Type: text/plain\r\n\r\nhello world";
	struct http_request req;
	struct check_writer w;
	int sv[2];
	char body[64];
	size_t got;
	struct http_conn *c;

	/* one byte at a time, with the first bytes handed in as the prefix */
	start_writer(&w, sv, raw + 10, sizeof(raw) - 1 - 10, 1, 100, 0);
	c = http_conn_new(sv[0], &deflim, raw, 10);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	ck_assert_str_eq(req.path, "/sign/modules");
	ck_assert_int_eq(req.content_length, 11);
	ck_assert_int_eq(read_all(c, &req, body, sizeof(body), &got, 3), 0);
	ck_assert_str_eq(body, "hello world");
	ck_assert_uint_eq(http_conn_bytes_in(c), sizeof(raw) - 1);
	http_request_free(&req);
	http_conn_free(c);
	stop_writer(&w, sv);
}
END_TEST

START_TEST(test_read_head_too_large)
{
	struct http_limits lim = deflim;
	struct http_request req;
	struct check_writer w;
	int sv[2];
	char *raw = xmalloc(100000);
	struct http_conn *c;

	/* a head that never ends: 431 once header_max_size bytes are in */
	lim.header_max_size = 1024;
	strcpy(raw, "GET / HTTP/1.1\r\n");
	for (size_t i = strlen(raw); i < 99999; i++)
		raw[i] = i % 50 == 0 ? '\n' : 'a';
	start_writer(&w, sv, raw, 99999, 0, 0, 0);
	c = http_conn_new(sv[0], &lim, NULL, 0);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 431);
	ck_assert_uint_lt(http_conn_bytes_in(c), 80000);
	http_request_free(&req);
	http_conn_free(c);
	close(sv[0]);
	pthread_join(w.thread, NULL);
	close(sv[1]);
	free(raw);
}
END_TEST

START_TEST(test_read_head_closed)
{
	static const char raw[] = "POST / HTTP/1.1\r\nHost: h\r\n";
	struct http_request req;
	struct check_writer w;
	int sv[2];
	struct http_conn *c;

	start_writer(&w, sv, raw, sizeof(raw) - 1, 0, 0, 0);
	c = http_conn_new(sv[0], &deflim, NULL, 0);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 400);
	ck_assert_str_eq(err, "client closed the connection");
	http_request_free(&req);
	http_conn_free(c);
	stop_writer(&w, sv);

	/* fd -1: the prefix is all there is */
	c = http_conn_new(-1, &deflim, raw, sizeof(raw) - 1);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 400);
	http_request_free(&req);
	http_conn_free(c);
}
END_TEST

START_TEST(test_timeout)
{
	static const char partial[] = "POST / HTTP/1.1\r\nHost: h\r\n";
	static const char head[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n12345";
	struct http_limits lim = deflim;
	struct http_request req;
	struct check_writer w;
	int sv[2], status = 0;
	char buf[64];
	uint64_t t0;
	struct http_conn *c;

	lim.read_timeout_ms = 300;
	/* the head stalls */
	start_writer(&w, sv, partial, sizeof(partial) - 1, 0, 0, 1000);
	c = http_conn_new(sv[0], &lim, NULL, 0);
	t0 = util_now_ms();
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 408);
	ck_assert_uint_ge(util_now_ms() - t0, 290);
	ck_assert_uint_lt(util_now_ms() - t0, 900);
	http_request_free(&req);
	http_conn_free(c);
	stop_writer(&w, sv);

	/* the body stalls half way; the timeout is per read, not overall */
	start_writer(&w, sv, head, sizeof(head) - 1, 20, 100 * 1000, 1000);
	c = http_conn_new(sv[0], &lim, NULL, 0);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	ck_assert_int_eq(http_read_body(c, &req, buf, sizeof(buf), &status, err, sizeof(err)), 5);
	ck_assert_int_eq(http_read_body(c, &req, buf, sizeof(buf), &status, err, sizeof(err)), -1);
	ck_assert_int_eq(status, 408);
	/* an error sticks */
	status = 0;
	ck_assert_int_eq(http_read_body(c, &req, buf, sizeof(buf), &status, err, sizeof(err)), -1);
	ck_assert_int_eq(status, 408);
	http_request_free(&req);
	http_conn_free(c);
	stop_writer(&w, sv);
}
END_TEST

START_TEST(test_body_length)
{
	static const char raw[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 26\r\n\r\n"
				  "abcdefghijklmnopqrstuvwxyzTRAILING GARBAGE";
	struct http_request req;
	char body[64];
	size_t got;
	int status;
	struct http_conn *c = http_conn_new(-1, &deflim, raw, sizeof(raw) - 1);

	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	ck_assert_int_eq(read_all(c, &req, body, sizeof(body), &got, 5), 0);
	ck_assert_str_eq(body, "abcdefghijklmnopqrstuvwxyz");
	/* the end stays the end */
	ck_assert_int_eq(http_read_body(c, &req, body, sizeof(body), &status, err, sizeof(err)), 0);
	http_request_free(&req);
	http_conn_free(c);
}
END_TEST

/* A connection on fd (or -1) with prefix as its first bytes: read the
 * head, then one body read into buf; that read's result, with *status. */
static ssize_t
one_body_read(int fd, const char *prefix, size_t prefix_len, char *buf, size_t size, int *status)
{
	struct http_conn *c = http_conn_new(fd, &deflim, prefix, prefix_len);
	struct http_request req;
	ssize_t n;

	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	n = http_read_body(c, &req, buf, size, status, err, sizeof(err));
	http_request_free(&req);
	http_conn_free(c);
	return n;
}

START_TEST(test_body_absent)
{
	char buf[16];
	int status = 0;
	static const char post[] = "POST / HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char get[] = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";

	/* a POST with neither Content-Length nor chunked has no body
	 * (RFC 9112, 6.3), as the original's server reads it */
	ck_assert_int_eq(one_body_read(-1, post, sizeof(post) - 1, buf, sizeof(buf), &status), 0);
	/* a GET has an empty body */
	ck_assert_int_eq(one_body_read(-1, get, sizeof(get) - 1, buf, sizeof(buf), &status), 0);
}
END_TEST

START_TEST(test_body_closed)
{
	static const char raw[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n"
				  "only a little";
	struct http_request req;
	struct check_writer w;
	int sv[2];
	char body[200000];
	size_t got;
	struct http_conn *c;

	start_writer(&w, sv, raw, sizeof(raw) - 1, 7, 0, 0);
	c = http_conn_new(sv[0], &deflim, NULL, 0);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	ck_assert_int_eq(read_all(c, &req, body, sizeof(body), &got, sizeof(body)), 400);
	ck_assert_str_eq(err, "client closed the connection");
	http_request_free(&req);
	http_conn_free(c);
	stop_writer(&w, sv);
}
END_TEST

/* Read the chunked body of raw; 0 and the body in out, or the status. */
static int
chunked_body(const char *raw, size_t len, const struct http_limits *lim, size_t piece, size_t step,
	     char *out, size_t outlen, size_t *got)
{
	struct http_request req;
	struct check_writer w;
	int sv[2], rc;
	struct http_conn *c;

	start_writer(&w, sv, raw, len, piece, 0, 0);
	c = http_conn_new(sv[0], lim, NULL, 0);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	ck_assert_int_eq(req.chunked, 1);
	rc = read_all(c, &req, out, outlen, got, step);
	http_request_free(&req);
	http_conn_free(c);
	stop_writer(&w, sv);
	return rc;
}

#define CHUNKED_HEAD "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"

START_TEST(test_chunked)
{
	static const char raw[] = CHUNKED_HEAD "5\r\nhello\r\n"
					       "1;name=value;other=\"quoted\"\r\n \r\n"
					       "0000A \t;ext\r\n0123456789\r\n"
					       "1a;q=\"a\\\"b; c\" ; e = f\r\nabcdefghijklmnopqrstuvwxyz\r\n"
					       "0\r\n"
					       "X-Trailer: one\r\n"
					       "X-Other: two\r\n"
					       "\r\n";
	char out[256];
	size_t got;
	size_t pieces[] = {0, 1, 2, 3, 7, 64};

	for (size_t i = 0; i < sizeof(pieces) / sizeof(*pieces); i++) {
		for (size_t step = 1; step <= 64; step *= 4) {
			ck_assert_int_eq(chunked_body(raw, sizeof(raw) - 1, &deflim, pieces[i],
						      step, out, sizeof(out), &got),
					 0);
			ck_assert_str_eq(out, "hello 0123456789abcdefghijklmnopqrstuvwxyz");
		}
	}
}
END_TEST

START_TEST(test_chunked_bad)
{
	static const struct {
		const char *body;
		int status;
	} cases[] = {
	    {"x\r\n", 400}, /* not hex */
	    {"\r\n", 400},  /* empty size */
	    {"-1\r\n", 400},
	    {"5 5\r\nhello\r\n0\r\n\r\n", 400},
	    {"11111111111111111\r\n", 400},               /* over 16 hex digits */
	    {"4000000000000001\r\n", 400},                /* over 2^62 */
	    {"5\r\nhelloX\r\n0\r\n\r\n", 400},            /* no CRLF after data */
	    {"5\r\nhello\r\r\n0\r\n\r\n", 400},           /* bare CR */
	    {"5\r\nhello\r\n0\r\nno colon\r\n\r\n", 400}, /* bad trailer */
	    {"5\r\nhello\r\n0\r\n folded: x\r\n\r\n", 400},
	    {"5\r\nhello\r\n", 400},              /* closed before the last chunk */
	    {"5\r\nhel", 400},                    /* closed in a chunk */
	    {"5\r\nhello\r\n0\r\nX: y\r\n", 400}, /* closed in the trailer */
	    {"F4241\r\n", 413},                   /* one chunk over body_max */
	    /* CRLF only: a bare LF anywhere in the framing */
	    {"5\nhello\r\n0\r\n\r\n", 400},
	    {"5\r\nhello\n0\r\n\r\n", 400},
	    {"5\r\nhello\r\n0\n\r\n", 400},
	    {"5\r\nhello\r\n0\r\nX: 1\n\r\n", 400},
	    {"5\r\nhello\r\n0\r\n\n", 400},
	    /* extensions that are not name[=token or quoted-string] */
	    {"5;\r\nhello\r\n0\r\n\r\n", 400},
	    {"5;a\x0b" "b\r\nhello\r\n0\r\n\r\n", 400},
	    {"5;a=\r\nhello\r\n0\r\n\r\n", 400},
	    {"5;a=\"b\r\nhello\r\n0\r\n\r\n", 400},
	    {"5;a=\"b\x7f\"\r\nhello\r\n0\r\n\r\n", 400},
	    {"5;a=b c\r\nhello\r\n0\r\n\r\n", 400},
	    {"5 x\r\nhello\r\n0\r\n\r\n", 400},
	};
	char raw[512], *out = xmalloc(2000000);
	size_t got;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int n = snprintf(raw, sizeof(raw), CHUNKED_HEAD "%s", cases[i].body);
		int rc = chunked_body(raw, (size_t)n, &deflim, 0, 4096, out, 2000000, &got);

		ck_assert_msg(rc == cases[i].status, "case %zu: %d (%s)", i, rc, err);
	}
	free(out);
}
END_TEST

START_TEST(test_chunked_limits)
{
	struct http_limits lim = deflim;
	char *raw = xmalloc(300000), *out = xmalloc(300000);
	size_t n, got;

	/* the sum of the chunks passes body_max: 413 before the chunk is read */
	lim.body_max = 100000;
	n = (size_t)snprintf(raw, 300000, CHUNKED_HEAD);
	for (int i = 0; i < 3; i++) {
		n += (size_t)snprintf(raw + n, 300000 - n, "8000\r\n");
		memset(raw + n, 'a' + i, 0x8000);
		n += 0x8000;
		n += (size_t)snprintf(raw + n, 300000 - n, "\r\n");
	}
	n += (size_t)snprintf(raw + n, 300000 - n, "7000\r\n");
	ck_assert_int_eq(chunked_body(raw, n, &lim, 0, 65536, out, 300000, &got), 413);
	/* exactly body_max is fine */
	lim.body_max = 3 * 0x8000;
	n -= 6;
	n += (size_t)snprintf(raw + n, 300000 - n, "0\r\n\r\n");
	ck_assert_int_eq(chunked_body(raw, n, &lim, 1000, 65536, out, 300000, &got), 0);
	ck_assert_uint_eq(got, 3 * 0x8000);
	ck_assert_int_eq(out[0], 'a');
	ck_assert_int_eq(out[got - 1], 'c');

	/* trailers are bounded by header_max_count and header_max_size */
	lim = deflim;
	lim.header_max_count = 4;
	n = (size_t)snprintf(raw, 300000, CHUNKED_HEAD "0\r\n");
	for (int i = 0; i < 5; i++)
		n += (size_t)snprintf(raw + n, 300000 - n, "X-T%d: v\r\n", i);
	n += (size_t)snprintf(raw + n, 300000 - n, "\r\n");
	ck_assert_int_eq(chunked_body(raw, n, &lim, 0, 100, out, 300000, &got), 431);
	lim = deflim;
	lim.header_max_size = 256;
	n = (size_t)snprintf(raw, 300000, CHUNKED_HEAD "0\r\nX-Big: ");
	memset(raw + n, 'b', 300);
	n += 300;
	n += (size_t)snprintf(raw + n, 300000 - n, "\r\n\r\n");
	ck_assert_int_eq(chunked_body(raw, n, &lim, 0, 100, out, 300000, &got), 400);
	/* a chunk-size line with an endless extension */
	n = (size_t)snprintf(raw, 300000, CHUNKED_HEAD "5;");
	memset(raw + n, 'e', 10000);
	n += 10000;
	ck_assert_int_eq(chunked_body(raw, n, &deflim, 0, 100, out, 300000, &got), 400);
	free(raw);
	free(out);
}
END_TEST

/* Whatever the server wrote back to the client side, non-blocking. */
static size_t
client_received(int fd, char *buf, size_t len)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = recv(fd, buf + n, len - 1 - n, MSG_DONTWAIT);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return n;
}

/* The end of a test on a socketpair: the request, the connection, both ends. */
static void
conn_done(struct http_conn *c, struct http_request *req, int sv[2])
{
	http_request_free(req);
	http_conn_free(c);
	close(sv[0]);
	close(sv[1]);
}

/* A socketpair whose client side (sv[1]) has sent raw. */
static void
client_sent(int sv[2], const char *raw, size_t len)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(write(sv[1], raw, len), (ssize_t)len);
}

START_TEST(test_continue)
{
	static const char raw[] = "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
				  "Content-Length: 10\r\n\r\n0123456789";
	struct http_request req;
	int sv[2], status;
	char buf[256];
	struct http_conn *c;

	client_sent(sv, raw, sizeof(raw) - 1);
	c = http_conn_new(sv[0], &deflim, NULL, 0);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	/* nothing is sent before the body is asked for */
	ck_assert_uint_eq(client_received(sv[1], buf, sizeof(buf)), 0);
	ck_assert_int_eq(http_read_body(c, &req, buf, 4, &status, err, sizeof(err)), 4);
	ck_assert_uint_eq(client_received(sv[1], buf, sizeof(buf)), 25);
	ck_assert_str_eq(buf, "HTTP/1.1 100 Continue\r\n\r\n");
	ck_assert_int_eq(http_read_body(c, &req, buf, 4, &status, err, sizeof(err)), 4);
	ck_assert_int_eq(http_read_body(c, &req, buf, 4, &status, err, sizeof(err)), 2);
	ck_assert_int_eq(http_read_body(c, &req, buf, 4, &status, err, sizeof(err)), 0);
	/* only once */
	ck_assert_uint_eq(client_received(sv[1], buf, sizeof(buf)), 0);
	conn_done(c, &req, sv);
}
END_TEST

START_TEST(test_continue_413)
{
	static const char raw[] = "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
				  "Content-Length: 1000001\r\n\r\n";
	static const char nobody[] = "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
				     "Content-Length: 0\r\n\r\n";
	int sv[2], status = 0;
	char buf[256];

	client_sent(sv, raw, sizeof(raw) - 1);
	/* body bytes the client sent anyway must not be read */
	ck_assert_int_eq(write(sv[1], "xxxx", 4), 4);
	ck_assert_int_eq(one_body_read(sv[0], NULL, 0, buf, sizeof(buf), &status), -1);
	ck_assert_int_eq(status, 413);
	ck_assert_uint_eq(client_received(sv[1], buf, sizeof(buf)), 0);
	close(sv[0]);
	close(sv[1]);

	/* no body: no 100 Continue either */
	client_sent(sv, nobody, sizeof(nobody) - 1);
	ck_assert_int_eq(one_body_read(sv[0], NULL, 0, buf, sizeof(buf), &status), 0);
	ck_assert_uint_eq(client_received(sv[1], buf, sizeof(buf)), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_body_max)
{
	static const char exact[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n";
	static const char over[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000001\r\n\r\n";
	int status = 0;
	char buf[16];

	ck_assert_int_eq(one_body_read(-1, over, sizeof(over) - 1, buf, sizeof(buf), &status), -1);
	ck_assert_int_eq(status, 413);
	ck_assert_str_eq(err, "request body larger than 1000000 bytes");
	/* exactly body_max is allowed (the prefix ends: client closed) */
	ck_assert_int_eq(one_body_read(-1, exact, sizeof(exact) - 1, buf, sizeof(buf), &status),
			 -1);
	ck_assert_int_eq(status, 400);
}
END_TEST

START_TEST(test_big_prefix)
{
	/* a prefix larger than the read buffer is kept whole */
	size_t len = 200000;
	char *raw = xmalloc(len + 100), body[64];
	int n =
	    snprintf(raw, 100, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n", len);
	struct http_request req;
	uint64_t total = 0;
	int status;
	ssize_t r;
	struct http_conn *c;

	memset(raw + n, 'z', len);
	c = http_conn_new(-1, &deflim, raw, (size_t)n + len);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	while ((r = http_read_body(c, &req, body, sizeof(body), &status, err, sizeof(err))) > 0)
		total += (uint64_t)r;
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(total, len);
	http_request_free(&req);
	http_conn_free(c);
	free(raw);
}
END_TEST

/* --- the minimum upload rate --- */

START_TEST(test_min_rate)
{
	static const char head[] = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n";
	static char raw[sizeof(head) - 1 + 100000];
	struct http_limits lim = deflim;
	struct http_request req;
	struct check_writer w;
	int sv[2], status = 0;
	size_t got;
	ssize_t n;
	char buf[64];
	static char body[100001];
	struct http_conn *c;

	memcpy(raw, head, sizeof(head) - 1);
	memset(raw + sizeof(head) - 1, 'x', 100000);
	lim.min_rate = 1000;
	lim.min_rate_grace_ms = 300;

	/* the head handed over (as the supervisor does), then a body byte
	 * every 50 ms (20 B/s): never idle long, but far below 1000 B/s, so
	 * 408 once the grace is over */
	start_writer(&w, sv, raw + sizeof(head) - 1, 100000, 1, 50 * 1000, 0);
	w.no_close = 1;
	c = http_conn_new(sv[0], &lim, head, sizeof(head) - 1);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	while ((n = http_read_body(c, &req, buf, sizeof(buf), &status, err, sizeof(err))) > 0)
		;
	ck_assert_int_eq(n, -1);
	ck_assert_int_eq(status, 408);
	ck_assert_msg(strstr(err, "slower than 1000 bytes per second") != NULL, "%s", err);
	http_request_free(&req);
	http_conn_free(c);
	shutdown(sv[0], SHUT_RDWR); /* stops the writer */
	stop_writer(&w, sv);

	/* 100 kB in 1 kB pieces, one a millisecond: well above the rate */
	start_writer(&w, sv, raw, sizeof(raw), 1000, 1000, 0);
	c = http_conn_new(sv[0], &lim, NULL, 0);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	ck_assert_int_eq(read_all(c, &req, body, sizeof(body), &got, 4096), 0);
	ck_assert_uint_eq(got, 100000);
	http_request_free(&req);
	http_conn_free(c);
	stop_writer(&w, sv);

	/* bytes that arrived while the reader was busy count even when it
	 * comes back past the deadline */
	start_writer(&w, sv, raw, sizeof(head) - 1 + 1000, 0, 0, 0);
	w.no_close = 1;
	c = http_conn_new(sv[0], &lim, NULL, 0);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	pthread_join(w.thread, NULL);
	usleep(600 * 1000);
	ck_assert_int_gt(http_read_body(c, &req, buf, sizeof(buf), &status, err, sizeof(err)), 0);
	conn_done(c, &req, sv);
}
END_TEST

/* --- the supervisor's request line (reqline.c) --- */

START_TEST(test_reqline_parse)
{
	static const struct {
		const char *line, *method, *path;
	} ok[] = {
	    {"POST /sign/swupdate HTTP/1.1", "POST", "/sign/swupdate"},
	    {"POST /sign/swupdate HTTP/1.0\r", "POST", "/sign/swupdate"},
	    {"GET //healthz?x=1#f HTTP/1.1", "GET", "/healthz"},
	    /* absolute-form (RFC 9112 3.2.2) routes on its path */
	    {"POST http://127.0.0.1:9999/sign/swupdate HTTP/1.1", "POST", "/sign/swupdate"},
	    {"POST HTTPS://signer.example//sign//swupdate?q HTTP/1.1", "POST", "/sign/swupdate"},
	    {"GET http://[::1]:9999/healthz HTTP/1.1", "GET", "/healthz"},
	    {"GET http://host HTTP/1.1", "GET", "/"},
	    {"GET http://host?q HTTP/1.1", "GET", "/"},
	    {"GET /healthz HTTP/1.2", "GET", "/healthz"}, /* as 1.1 */
	};
	static const struct {
		const char *line;
		int status;
	} bad[] = {
	    {"POST sign/swupdate HTTP/1.1", 400},     {"OPTIONS * HTTP/1.1", 400},
	    {"GET http:///healthz HTTP/1.1", 400}, /* no host */
	    {"GET https:// HTTP/1.1", 400},           {"GET ftp://host/healthz HTTP/1.1", 400},
	    {"GET http:/host/healthz HTTP/1.1", 400}, {"GET /healthz HTTP/2.0", 505},
	    {"GET  /healthz HTTP/1.1", 400},          {"", 400},
	    /* the worker's parser (http.c) says the same of these */
	    {"GET /healthz HTTP/1.1 ", 400},	      {"GET /healthz HTTP/1.1x", 400},
	    {"GET /healthz HTTP/1.10", 400},	      {"GET /healthz HTTP/x.y", 400},
	    {"GET /healthz HTTP/", 400},	      {"GET /healthz HTTP/1", 400},
	    {"GET /healthz HTTP/1\xbc" "1", 400},	      {"GET /healthz HTTP/3", 505},
	    {"GET /healthz HTTP/0.9", 505},
	};
	struct reqline rl;
	char line[600];

	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		ck_assert_msg(reqline_parse(ok[i].line, strlen(ok[i].line), &rl) == 0, "%s",
			      ok[i].line);
		ck_assert_str_eq(rl.method, ok[i].method);
		ck_assert_str_eq(rl.path, ok[i].path);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(reqline_parse(bad[i].line, strlen(bad[i].line), &rl) == bad[i].status,
			      "%s", bad[i].line);
	/* a path longer than any route: 404, absolute-form too */
	snprintf(line, sizeof(line), "GET http://h/%0300d HTTP/1.1", 0);
	ck_assert_int_eq(reqline_parse(line, strlen(line), &rl), 404);
}
END_TEST

/* Scan a head given whole, and again fed one byte at a time. */
static void
scan_both_ways(const char *head, struct reqline_scan *whole)
{
	struct reqline_scan s;
	size_t len = strlen(head);

	memset(whole, 0, sizeof(*whole));
	ck_assert_int_eq(reqline_scan(whole, head, len), 0);
	memset(&s, 0, sizeof(s));
	for (size_t n = 1; n <= len; n++) {
		ck_assert_int_eq(reqline_scan(&s, head, n), 0);
		if (!s.have_head)
			ck_assert_uint_eq(s.pos, n); /* every byte looked at once */
	}
	ck_assert_int_eq(s.have_line, whole->have_line);
	ck_assert_int_eq(s.have_head, whole->have_head);
	ck_assert_uint_eq(s.start, whole->start);
	ck_assert_uint_eq(s.line_len, whole->line_len);
	ck_assert_uint_eq(s.head_end, whole->head_end);
}

START_TEST(test_reqline_scan)
{
	static const char crlf[] = "POST /sign/swupdate HTTP/1.1\r\nHost: h\r\nX: y\r\n\r\nbody";
	static const char lf[] = "GET /healthz HTTP/1.0\n\nbody";
	static const char lead[] = "\r\n\n\r\nGET /healthz HTTP/1.1\r\n\r\n";
	struct reqline_scan s;
	char buf[128];

	scan_both_ways(crlf, &s);
	ck_assert(s.have_line && s.have_head);
	ck_assert_uint_eq(s.start, 0);
	ck_assert_uint_eq(s.line_len, strlen("POST /sign/swupdate HTTP/1.1\r"));
	ck_assert_uint_eq(s.head_end, strlen(crlf) - 4);

	scan_both_ways(lf, &s);
	ck_assert(s.have_line && s.have_head);
	ck_assert_uint_eq(s.line_len, strlen("GET /healthz HTTP/1.0"));
	ck_assert_uint_eq(s.head_end, strlen(lf) - 4);

	/* empty lines before the request line are skipped, not a head end */
	scan_both_ways(lead, &s);
	ck_assert(s.have_line && s.have_head);
	ck_assert_uint_eq(s.start, 5);
	ck_assert_int_eq(s.empty_lines, 3);
	ck_assert_uint_eq(s.head_end, strlen(lead));

	/* a line holding "\r\r" is not empty; the head is not over */
	scan_both_ways("GET / HTTP/1.1\r\n\r\r\nX: y\r\n", &s);
	ck_assert(s.have_line && !s.have_head);

	/* only REQLINE_EMPTY_MAX empty lines */
	memset(buf, 0, sizeof(buf));
	for (int i = 0; i < REQLINE_EMPTY_MAX; i++)
		strcat(buf, "\r\n");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(reqline_scan(&s, buf, strlen(buf)), 0);
	strcat(buf, "\n");
	ck_assert_int_eq(reqline_scan(&s, buf, strlen(buf)), -1);

	/* a scan resumes where it stopped: bytes before it are not looked
	 * at again (here changed behind its back into what would end a head) */
	snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: h\r\n");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(reqline_scan(&s, buf, strlen(buf)), 0);
	ck_assert(s.have_line && !s.have_head);
	memset(buf + 16, '\n', 9);
	strcat(buf, "X: y\r\n");
	ck_assert_int_eq(reqline_scan(&s, buf, strlen(buf)), 0);
	ck_assert(!s.have_head);
	strcat(buf, "\r\n");
	ck_assert_int_eq(reqline_scan(&s, buf, strlen(buf)), 0);
	ck_assert(s.have_head);
	ck_assert_uint_eq(s.head_end, strlen(buf));
}
END_TEST

/* --- reason phrases (reply.c) --- */

START_TEST(test_status_texts)
{
	/* every status the daemon sends (grep src lib workers for conn_reply,
	 * job_fail, util_err, body_fail, fail, abort_job) ... */
	static const int sent[] = {100, 200, 400, 401, 403, 404, 405, 408, 409, 411, 413,
				   414, 415, 417, 422, 431, 500, 501, 503, 504, 505, 507};
	/* ... and every code of RFC 9110, so that a new one cannot slip by */
	static const int rfc9110[] = {100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301,
				      302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404,
				      405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415,
				      416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505};

	for (size_t i = 0; i < sizeof(sent) / sizeof(*sent); i++)
		ck_assert_msg(strcmp(reply_status_text(sent[i]), "Unknown") != 0, "%d", sent[i]);
	for (size_t i = 0; i < sizeof(rfc9110) / sizeof(*rfc9110); i++)
		ck_assert_msg(strcmp(reply_status_text(rfc9110[i]), "Unknown") != 0, "%d",
			      rfc9110[i]);
	ck_assert_str_eq(reply_status_text(409), "Conflict");
	ck_assert_str_eq(reply_status_text(414), "URI Too Long");
	ck_assert_str_eq(reply_status_text(404), "Not Found");
	ck_assert_str_eq(reply_status_text(299), "Unknown");
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("head");

	tcase_add_test(tc, test_request_line_ok);
	tcase_add_test(tc, test_request_line_bad);
	tcase_add_test(tc, test_path);
	tcase_add_test(tc, test_headers_ok);
	tcase_add_test(tc, test_headers_bad);
	tcase_add_test(tc, test_content_length);
	tcase_add_test(tc, test_transfer_encoding);
	tcase_add_test(tc, test_expect);
	tcase_add_test(tc, test_header_limits);
	tcase_add_test(tc, test_reqline_parse);
	tcase_add_test(tc, test_reqline_scan);
	tcase_add_test(tc, test_status_texts);
	suite_add_tcase(s, tc);

	tc = tcase_create("socket");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_read_head_dribbled);
	tcase_add_test(tc, test_read_head_too_large);
	tcase_add_test(tc, test_read_head_closed);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_body_length);
	tcase_add_test(tc, test_body_absent);
	tcase_add_test(tc, test_body_closed);
	tcase_add_test(tc, test_body_max);
	tcase_add_test(tc, test_big_prefix);
	tcase_add_test(tc, test_chunked);
	tcase_add_test(tc, test_chunked_bad);
	tcase_add_test(tc, test_chunked_limits);
	tcase_add_test(tc, test_continue);
	tcase_add_test(tc, test_continue_413);
	tcase_add_test(tc, test_min_rate);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = http_suite);
