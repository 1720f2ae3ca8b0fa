/* SPDX-License-Identifier: MIT */
/*
 * http.h: reading one HTTP/1.x request from a client socket in a worker.
 *
 * The supervisor has already read the first bytes (at least the request
 * line); they are handed in as a prefix and parsed first.  The head is
 * parsed with limits on size and header count (431), the body is read as
 * Content-Length or chunked, bounded by body_max (413, decided before the
 * body is read when Content-Length says so), with "100 Continue" sent when
 * the client expects it, with an idle timeout (408), and with a minimum
 * average rate (408): past a grace period a client must have sent
 * min_rate bytes for each further second (mod_reqtimeout's MinRate), so
 * a client dribbling a byte now and then cannot hold a worker until the
 * response timeout.
 */
#ifndef DSS_HTTP_H
#define DSS_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

struct http_limits {
	size_t header_max_size;	 /* whole head, request line included */
	int header_max_count;	 /* header lines */
	uint64_t body_max;	 /* bytes of body (after de-chunking) */
	int read_timeout_ms;	 /* idle time allowed between reads */
	uint64_t min_rate;	 /* bytes/s averaged past the grace; 0: no minimum */
	int min_rate_grace_ms;	 /* time from http_conn_new before min_rate applies */
	size_t field_max;	 /* a plain form field */
	int max_parts;		 /* parts in a multipart body */
};

struct http_header {
	char *name;  /* as sent */
	char *value; /* leading/trailing white space removed */
};

struct http_request {
	char method[16];
	char *target;		/* the request target as sent */
	char *path;		/* percent-decoded, repeated slashes collapsed, no query */
	char *query;		/* after '?', or NULL */
	int version_minor;	/* HTTP/1.<minor> */
	struct http_header *headers; /* header_store's data, as an array */
	int nheaders;
	struct buf header_store;     /* owns headers */
	int64_t content_length; /* -1 when absent */
	int chunked;
	int expect_continue;
};

struct http_conn;

/* A connection reader; prefix holds bytes already read from fd (parsed
 * first).  fd may be -1: the prefix is then all there is. */
struct http_conn *http_conn_new(int fd, const struct http_limits *lim, const void *prefix,
				size_t prefix_len);
void http_conn_free(struct http_conn *c);
/* Bytes read from the client so far, the prefix included. */
uint64_t http_conn_bytes_in(const struct http_conn *c);
/* The limits the connection was created with. */
const struct http_limits *http_conn_limits(const struct http_conn *c);
/* Bytes read from the socket but not handed out yet (after the body: what
 * the client sent beyond its request). */
size_t http_conn_buffered(const struct http_conn *c);

/* Read and parse the head: 0, or an HTTP status (400, 408, 417, 431, 501,
 * 505 ...) with a one-line reason in err.  On error req holds nothing that
 * needs freeing (method is kept when it was read); http_request_free may be
 * called either way. */
int http_read_head(struct http_conn *c, struct http_request *req, char *err, size_t errlen);
/*
 * Read body bytes (len > 0).  Returns the count (> 0), 0 at the end of the
 * body, or -1 with *status (400, 408, 413, 431 ...) and err set; an
 * error sticks.  The first call decides 413 from Content-Length, then
 * sends "HTTP/1.1 100 Continue" when the request expects it and has a
 * body.  A client that closes mid-body gives 400 "client closed the
 * connection".  A request with neither Content-Length nor chunked coding,
 * a POST included, has no body (RFC 9112, 6.3) and reads as empty.
 */
ssize_t http_read_body(struct http_conn *c, struct http_request *req, void *buf, size_t len,
		       int *status, char *err, size_t errlen);
/* Parse a complete head held in buf, blank line included (no socket): for
 * tests and fuzzing.  Same results and ownership rules as http_read_head. */
int http_parse_head(const char *buf, size_t len, const struct http_limits *lim,
		    struct http_request *req, char *err, size_t errlen);
/* A header's value (case-insensitive name, first occurrence), or NULL. */
const char *http_header(const struct http_request *req, const char *name);
/* Free what req holds and zero it; harmless on a zeroed or freed req. */
void http_request_free(struct http_request *req);

#endif
