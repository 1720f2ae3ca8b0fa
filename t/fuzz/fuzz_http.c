/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http.c: libFuzzer harness for the request reader (lib/http.c).
 *
 * The input is parsed as a head by http_parse_head, then read as a whole
 * request (head and body, Content-Length or chunked) through a connection
 * that holds it as the supervisor's prefix.  Checks the invariants the
 * rest of the worker relies on: a clean path, one body framing, a body no
 * larger than body_max, every byte accounted for.
 */
/* fuzz-sources: lib/http.c lib/reqline.c lib/reply.c lib/buf.c lib/util.c lib/log.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

/* small, so that short inputs reach every limit */
static const struct http_limits lim = {
	.header_max_size = 4 * 1024,
	.header_max_count = 32,
	.body_max = 64 * 1024,
	.read_timeout_ms = 1000,
	.field_max = 4 * 1024,
	.max_parts = 16,
};

static void
check_request(const struct http_request *req)
{
	size_t mlen = strlen(req->method);

	if (mlen == 0 || mlen >= sizeof(req->method) || req->path == NULL || req->target == NULL)
		abort();
	if (req->path[0] != '/' && strcmp(req->path, "*") != 0)
		abort();
	if (strstr(req->path, "//") != NULL)
		abort();
	for (const unsigned char *p = (const unsigned char *)req->path; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
	if (req->version_minor != 0 && req->version_minor != 1)
		abort();
	if (req->chunked && req->content_length != -1)
		abort();
	if (req->content_length < -1)
		abort();
	for (int i = 0; i < req->nheaders; i++)
		if (http_header(req, req->headers[i].name) == NULL)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request req;
	struct http_conn *c;
	char err[256], buf[4096];
	uint64_t body = 0;
	ssize_t n;
	int status;

	if (http_parse_head((const char *)data, size, &lim, &req, err, sizeof(err)) == 0)
		check_request(&req);
	else if (req.target != NULL || req.headers != NULL || req.path != NULL)
		abort();
	http_request_free(&req);

	c = http_conn_new(-1, &lim, data, size);
	if (http_read_head(c, &req, err, sizeof(err)) == 0) {
		check_request(&req);
		/* odd read sizes to exercise the chunk bookkeeping */
		size_t step = 1 + (size % 97);
		while ((n = http_read_body(c, &req, buf, step, &status, err, sizeof(err))) > 0) {
			body += (uint64_t)n;
			if (body > lim.body_max)
				abort();
		}
		if (n < 0 && (status < 400 || status > 599))
			abort();
		if (n == 0 && req.content_length >= 0 && body != (uint64_t)req.content_length)
			abort();
	}
	if (http_conn_bytes_in(c) != size)
		abort();
	http_request_free(&req);
	http_conn_free(c);
	return 0;
}
