/* SPDX-License-Identifier: MIT */
/*
 * reply.h: writing HTTP responses.  Used by the supervisor (its own small
 * answers: /status, 404, 503, 504 ...) and by the workers (text reasons
 * and signed files).  Every response closes the connection.
 */
#ifndef DSS_REPLY_H
#define DSS_REPLY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The reason phrase of a status code ("Not Found"); "Unknown" for a code
 * the table lacks (none the daemon sends: check_http.c). */
const char *reply_status_text(int status);
/*
 * Write a whole response with the given body.  extra holds further header
 * lines, each ending in CRLF, or NULL.  Works on blocking and non-blocking
 * sockets (waits up to timeout_ms for room).  Returns 0 or -1.
 */
int reply_body(int fd, int status, const char *ctype, const void *body, size_t len,
	       const char *extra, int timeout_ms, uint64_t *sent);
/* The response reply_body would write (with_body 0: its head alone, as
 * for HEAD), in one allocation of *outlen bytes, for a caller that
 * writes it without waiting (the supervisor); NULL when the head does
 * not fit its buffer. */
char *reply_format(int status, const char *ctype, const void *body, size_t len,
		   const char *extra, int with_body, size_t *outlen);
/* The head alone of the response reply_body would write for a body of
 * len bytes (HEAD: the same Content-Length as GET, no body). */
int reply_head(int fd, int status, const char *ctype, size_t len, const char *extra,
	       int timeout_ms, uint64_t *sent);
/* A text/plain; charset=utf-8 answer. */
int reply_text(int fd, int status, const char *text, const char *extra, int timeout_ms,
	       uint64_t *sent);
/* len bytes of data as application/octet-stream with Content-Disposition:
 * Attachment (a signature held in memory). */
int reply_data(int fd, int status, const void *data, size_t len, const char *filename,
	       int timeout_ms, uint64_t *sent);
/* A file as application/octet-stream with Content-Disposition: Attachment. */
int reply_fd(int fd, int status, int in, const char *filename, int timeout_ms, uint64_t *sent);
/*
 * Format a "Retry-After: N" header line into buf: N is drawn at random
 * between base and 2*base seconds, so that clients turned away together
 * do not all come back at the same moment.
 */
void reply_retry_after(char *buf, size_t size, long long base);
/* Write len bytes, polling on EAGAIN for at most timeout_ms in all; 0 or -1. */
int reply_write(int fd, const void *buf, size_t len, int timeout_ms);

#endif
