/* SPDX-License-Identifier: MIT */
/*
 * reqline.h: the request line, as the supervisor reads it to route a
 * connection (the worker parses the whole request again with http.c),
 * and the scanner that finds the request line and the end of the head in
 * the bytes read so far.
 */
#ifndef DSS_REQLINE_H
#define DSS_REQLINE_H

#include <stddef.h>

struct reqline {
	char method[16];
	char path[256]; /* query dropped, repeated slashes collapsed */
};

/*
 * Parse "METHOD SP target SP HTTP/1.x" from line[0..len) (the CR LF or LF
 * not included).  The target is origin-form ("/path?query") or
 * absolute-form ("http://host:port/path", RFC 9112 3.2.2: its path is
 * routed).  Returns 0, 400 for a malformed line, 505 for another HTTP
 * version (reqline_version), 404 for a path longer than any route.
 */
int reqline_parse(const char *line, size_t len, struct reqline *rl);
/*
 * The HTTP-version of a request line, v[0..len): "HTTP/" DIGIT "." DIGIT
 * (RFC 9112 2.3).  0 with *minor, 0 or 1 (1.2 to 1.9 are 1.1: RFC 9110
 * 2.5); 505 for another major version ("HTTP/2.0", "HTTP/3"); 400 for
 * anything else.  The supervisor's reading and the worker's (http.c)
 * share it, so they answer one request alike.
 */
int reqline_version(const char *v, size_t len, int *minor);

/* Empty lines accepted before the request line (RFC 9112 2.2). */
#define REQLINE_EMPTY_MAX 8

/*
 * How far the head has been scanned in a connection's buffer.  Zeroed
 * for a new connection; reqline_scan resumes where the last call stopped,
 * so a head that arrives one byte at a time is still scanned once.
 * Offsets are into the buffer passed to reqline_scan.
 */
struct reqline_scan {
	size_t pos;      /* next byte to look at */
	size_t line;     /* start of the line being read */
	size_t start;    /* start of the request line (past empty lines) */
	size_t line_len; /* of the request line, LF excluded; valid once have_line */
	size_t head_end; /* just past the blank line ending the head; valid once have_head */
	int have_line;   /* the request line is complete */
	int have_head;   /* the whole head is in */
	int empty_lines; /* skipped before the request line */
};

/*
 * Scan buf[s->pos..len) (the earlier bytes must not have changed) for the
 * end of the request line and of the head.  A line ends at LF; a line
 * that is empty or holds only CR is empty.  Returns 0, or -1 when more
 * than REQLINE_EMPTY_MAX empty lines came before the request line.
 */
int reqline_scan(struct reqline_scan *s, const char *buf, size_t len);

/* 1 when a head (from the request line on, len bytes) asks for HTML: an
 * Accept header naming text/html without q=0 (a browser; GET /status
 * then answers the operators' page). */
int reqline_accepts_html(const char *head, size_t len);

#endif
