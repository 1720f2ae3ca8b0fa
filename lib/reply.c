/* SPDX-License-Identifier: MIT */
/*
 * reply.c: see reply.h.  Files go out with sendfile(2).
 */
#include "reply.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* The status codes of RFC 9110 15, with 429 and 431 (RFC 6585) and 507
 * (RFC 4918): every code the daemon sends must be here (check_http.c). */
static const struct {
	int status;
	const char *text;
} status_texts[] = {
	{100, "Continue"},
	{101, "Switching Protocols"},
	{200, "OK"},
	{201, "Created"},
	{202, "Accepted"},
	{203, "Non-Authoritative Information"},
	{204, "No Content"},
	{205, "Reset Content"},
	{206, "Partial Content"},
	{300, "Multiple Choices"},
	{301, "Moved Permanently"},
	{302, "Found"},
	{303, "See Other"},
	{304, "Not Modified"},
	{305, "Use Proxy"},
	{307, "Temporary Redirect"},
	{308, "Permanent Redirect"},
	{400, "Bad Request"},
	{401, "Unauthorized"},
	{402, "Payment Required"},
	{403, "Forbidden"},
	{404, "Not Found"},
	{405, "Method Not Allowed"},
	{406, "Not Acceptable"},
	{407, "Proxy Authentication Required"},
	{408, "Request Timeout"},
	{409, "Conflict"},
	{410, "Gone"},
	{411, "Length Required"},
	{412, "Precondition Failed"},
	{413, "Payload Too Large"},
	{414, "URI Too Long"},
	{415, "Unsupported Media Type"},
	{416, "Range Not Satisfiable"},
	{417, "Expectation Failed"},
	{421, "Misdirected Request"},
	{422, "Unprocessable Entity"},
	{426, "Upgrade Required"},
	{429, "Too Many Requests"},
	{431, "Request Header Fields Too Large"},
	{500, "Internal Server Error"},
	{501, "Not Implemented"},
	{502, "Bad Gateway"},
	{503, "Service Unavailable"},
	{504, "Gateway Timeout"},
	{505, "HTTP Version Not Supported"},
	{507, "Insufficient Storage"},
};

const char *
reply_status_text(int status)
{
	for (size_t i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++)
		if (status_texts[i].status == status)
			return status_texts[i].text;
	return "Unknown";
}

/* Wait until fd is writable or the deadline passes; 0 or -1 (ETIMEDOUT). */
static int
wait_writable(int fd, uint64_t deadline)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		uint64_t now = util_now_ms();
		int r;

		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

void
reply_retry_after(char *buf, size_t size, long long base)
{
	static unsigned int seed;
	long long secs = base;

	if (seed == 0)
		seed = (unsigned int)(util_now_ms() ^ (uint64_t)getpid() << 16);
	if (base > 0)
		secs += rand_r(&seed) % (base + 1);
	snprintf(buf, size, "Retry-After: %lld\r\n", secs);
}

/* After a failed send: 1 to send again (interrupted, or the socket took
 * more before the deadline), 0 to give up with errno saying why. */
static int
send_again(int fd, uint64_t deadline)
{
	if (errno == EINTR)
		return 1;
	return (errno == EAGAIN || errno == EWOULDBLOCK) && wait_writable(fd, deadline) == 0;
}

int
reply_write(int fd, const void *buf, size_t len, int timeout_ms)
{
	const char *p = buf;
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;

	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w < 0) {
			if (send_again(fd, deadline))
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Format the status line and headers into buf; length or -1. */
static int
format_head(char *buf, size_t size, int status, const char *ctype, uint64_t len, const char *extra)
{
	int n = snprintf(buf, size,
			 "HTTP/1.1 %d %s\r\n"
			 "Server: digsigserver\r\n"
			 "Connection: close\r\n"
			 "Content-Type: %s\r\n"
			 "Content-Length: %llu\r\n"
			 "%s\r\n",
			 status, reply_status_text(status), ctype, (unsigned long long)len,
			 extra ? extra : "");
	return n < 0 || (size_t)n >= size ? -1 : n;
}

int
reply_body(int fd, int status, const char *ctype, const void *body, size_t len, const char *extra,
	   int timeout_ms, uint64_t *sent)
{
	char head[4096];
	int n = format_head(head, sizeof(head), status, ctype, len, extra);

	if (n < 0) {
		errno = EOVERFLOW;
		return -1;
	}
	if ((size_t)n + len <= sizeof(head)) {
		/* small answers (texts, signatures) in one write */
		if (len > 0)
			memcpy(head + n, body, len);
		if (reply_write(fd, head, (size_t)n + len, timeout_ms) < 0)
			return -1;
	} else if (reply_write(fd, head, (size_t)n, timeout_ms) < 0 ||
		   (len > 0 && reply_write(fd, body, len, timeout_ms) < 0)) {
		return -1;
	}
	if (sent)
		*sent += (uint64_t)n + len;
	return 0;
}

char *
reply_format(int status, const char *ctype, const void *body, size_t len, const char *extra,
	     int with_body, size_t *outlen)
{
	char head[4096], *out;
	int n = format_head(head, sizeof(head), status, ctype, len, extra);

	if (n < 0)
		return NULL;
	*outlen = (size_t)n + (with_body ? len : 0);
	out = xmalloc(*outlen ? *outlen : 1);
	memcpy(out, head, (size_t)n);
	if (with_body && len > 0)
		memcpy(out + n, body, len);
	return out;
}

int
reply_head(int fd, int status, const char *ctype, size_t len, const char *extra, int timeout_ms,
	   uint64_t *sent)
{
	char head[4096];
	int n = format_head(head, sizeof(head), status, ctype, len, extra);

	if (n < 0) {
		errno = EOVERFLOW;
		return -1;
	}
	if (reply_write(fd, head, (size_t)n, timeout_ms) < 0)
		return -1;
	if (sent)
		*sent += (uint64_t)n;
	return 0;
}

int
reply_text(int fd, int status, const char *text, const char *extra, int timeout_ms, uint64_t *sent)
{
	return reply_body(fd, status, "text/plain; charset=utf-8", text, strlen(text), extra,
			  timeout_ms, sent);
}

/* The Content-Disposition header of an attachment named filename. */
static void
attachment(char *out, size_t outlen, const char *filename)
{
	snprintf(out, outlen, "Content-Disposition: Attachment; filename=\"%s\"\r\n", filename);
}

int
reply_data(int fd, int status, const void *data, size_t len, const char *filename, int timeout_ms,
	   uint64_t *sent)
{
	char disp[512];

	attachment(disp, sizeof(disp), filename);
	return reply_body(fd, status, "application/octet-stream", data, len, disp, timeout_ms,
			  sent);
}

int
reply_fd(int fd, int status, int in, const char *filename, int timeout_ms, uint64_t *sent)
{
	char head[2048], disp[512];
	struct stat st;
	off_t off = 0;
	int n;
	uint64_t deadline = util_now_ms() + (uint64_t)timeout_ms;

	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	attachment(disp, sizeof(disp), filename);
	n = format_head(head, sizeof(head), status, "application/octet-stream",
			(uint64_t)st.st_size, disp);
	if (n < 0 || reply_write(fd, head, (size_t)n, timeout_ms) < 0)
		return -1;
	if (sent)
		*sent += (uint64_t)n;
	while (off < st.st_size) {
		ssize_t w = sendfile(fd, in, &off, (size_t)(st.st_size - off));

		if (w < 0) {
			if (send_again(fd, deadline))
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO; /* the file shrank under us */
			return -1;
		}
		if (sent)
			*sent += (uint64_t)w;
	}
	return 0;
}
