/* SPDX-License-Identifier: MIT */
/*
 * check_reply.c: unit tests of lib/reply.c, the HTTP answers both sides
 * write.  Each answer is written to one end of a socketpair and read back
 * from the other, byte for byte: status line, the fixed headers, extra
 * headers, Content-Disposition of signatures and files, bodies larger than
 * the head buffer or the socket buffer, and what happens when the peer is
 * gone or reads nothing.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "reply.h"

static int sv[2]; /* sv[0] the server's end, sv[1] the client's */

static void
setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
}

static void
teardown(void)
{
	if (sv[0] >= 0)
		close(sv[0]);
	close(sv[1]);
}

/* What a client reads: everything until the server's end is closed. */
struct reader {
	int fd;
	char *data;
	size_t len;
};

static void *
read_all(void *arg)
{
	struct reader *r = arg;
	size_t cap = 1 << 16;
	ssize_t n;

	r->data = malloc(cap + 1);
	r->len = 0;
	while (r->data != NULL && (n = read(r->fd, r->data + r->len, cap - r->len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		r->len += (size_t)n;
		if (r->len == cap)
			r->data = realloc(r->data, (cap *= 2) + 1);
	}
	if (r->data != NULL)
		r->data[r->len] = '\0';
	return NULL;
}

/* Start reading the client's end in a thread (answers larger than the
 * socket buffer would block the writer otherwise). */
static void
reader_start(pthread_t *th, struct reader *r)
{
	r->fd = sv[1];
	ck_assert_int_eq(pthread_create(th, NULL, read_all, r), 0);
}

/* Close the server's end and collect what the client read. */
static void
reader_finish(pthread_t th, struct reader *r)
{
	ck_assert_int_eq(close(sv[0]), 0);
	sv[0] = -1;
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_ptr_nonnull(r->data);
}

START_TEST(test_text)
{
	static const char want[] = "HTTP/1.1 404 Not Found\r\n"
				   "Server: digsigserver\r\n"
				   "Connection: close\r\n"
				   "Content-Type: text/plain; charset=utf-8\r\n"
				   "Content-Length: 21\r\n"
				   "\r\n"
				   "Key file missing: x\r\n";
	struct reader r;
	pthread_t th;
	uint64_t sent = 5; /* added to, not set */

	reader_start(&th, &r);
	ck_assert_int_eq(reply_text(sv[0], 404, "Key file missing: x\r\n", NULL, 1000, &sent),
			 0);
	reader_finish(th, &r);
	ck_assert_str_eq(r.data, want);
	ck_assert_uint_eq(r.len, strlen(want));
	ck_assert_uint_eq(sent, 5 + strlen(want));
	free(r.data);
}
END_TEST

START_TEST(test_extra_headers)
{
	static const char want[] = "HTTP/1.1 503 Service Unavailable\r\n"
				   "Server: digsigserver\r\n"
				   "Connection: close\r\n"
				   "Content-Type: text/plain; charset=utf-8\r\n"
				   "Content-Length: 5\r\n"
				   "Retry-After: 7\r\n"
				   "Cache-Control: no-store\r\n"
				   "\r\n"
				   "busy\n";
	struct reader r;
	pthread_t th;

	reader_start(&th, &r);
	ck_assert_int_eq(reply_text(sv[0], 503, "busy\n",
					 "Retry-After: 7\r\nCache-Control: no-store\r\n", 1000,
					 NULL),
			 0);
	reader_finish(th, &r);
	ck_assert_str_eq(r.data, want);
	free(r.data);
}
END_TEST

START_TEST(test_status_lines)
{
	static const struct {
		int status;
		const char *line;
	} cases[] = {
	    {200, "HTTP/1.1 200 OK\r\n"},
	    {400, "HTTP/1.1 400 Bad Request\r\n"},
	    {401, "HTTP/1.1 401 Unauthorized\r\n"},
	    {408, "HTTP/1.1 408 Request Timeout\r\n"},
	    {413, "HTTP/1.1 413 Payload Too Large\r\n"},
	    {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
	    {504, "HTTP/1.1 504 Gateway Timeout\r\n"},
	    {507, "HTTP/1.1 507 Insufficient Storage\r\n"},
	    {299, "HTTP/1.1 299 Unknown\r\n"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct reader r;
		pthread_t th;
		int p[2];

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
		if (sv[0] >= 0)
			close(sv[0]);
		sv[0] = p[0];
		close(sv[1]);
		sv[1] = p[1];
		reader_start(&th, &r);
		ck_assert_int_eq(reply_text(sv[0], cases[i].status, "", NULL, 1000, NULL), 0);
		reader_finish(th, &r);
		ck_assert_msg(strncmp(r.data, cases[i].line, strlen(cases[i].line)) == 0, "%d: %s",
			      cases[i].status, r.data);
		/* an empty body: the head alone, Content-Length 0 */
		ck_assert_ptr_nonnull(strstr(r.data, "\r\nContent-Length: 0\r\n\r\n"));
		ck_assert_str_eq(strstr(r.data, "\r\n\r\n"), "\r\n\r\n");
		free(r.data);
	}
}
END_TEST

START_TEST(test_data_attachment)
{
	static const char head[] =
	    "HTTP/1.1 200 OK\r\n"
	    "Server: digsigserver\r\n"
	    "Connection: close\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Length: 6\r\n"
	    "Content-Disposition: Attachment; filename=\"sw-description.sig\"\r\n"
	    "\r\n";
	static const unsigned char sig[6] = {0x30, 0x00, 0xff, '\r', '\n', 0x00};
	struct reader r;
	pthread_t th;
	uint64_t sent = 0;

	reader_start(&th, &r);
	ck_assert_int_eq(
	    reply_data(sv[0], 200, sig, sizeof(sig), "sw-description.sig", 1000, &sent), 0);
	reader_finish(th, &r);
	ck_assert_uint_eq(r.len, strlen(head) + sizeof(sig));
	ck_assert_int_eq(memcmp(r.data, head, strlen(head)), 0);
	ck_assert_int_eq(memcmp(r.data + strlen(head), sig, sizeof(sig)), 0);
	ck_assert_uint_eq(sent, r.len);
	free(r.data);
}
END_TEST

/* A body larger than the head buffer goes out in a second write. */
START_TEST(test_large_body)
{
	size_t n = 300000;
	char *body = malloc(n), want[200];
	struct reader r;
	pthread_t th;
	uint64_t sent = 0;
	int hl;

	ck_assert_ptr_nonnull(body);
	for (size_t i = 0; i < n; i++)
		body[i] = (char)(i * 7 + 3);
	reader_start(&th, &r);
	ck_assert_int_eq(reply_body(sv[0], 200, "application/x-tar", body, n, NULL, 10000, &sent),
			 0);
	reader_finish(th, &r);
	hl = snprintf(want, sizeof(want),
		      "HTTP/1.1 200 OK\r\nServer: digsigserver\r\nConnection: close\r\n"
		      "Content-Type: application/x-tar\r\nContent-Length: %zu\r\n\r\n",
		      n);
	ck_assert_uint_eq(r.len, (size_t)hl + n);
	ck_assert_int_eq(memcmp(r.data, want, (size_t)hl), 0);
	ck_assert_int_eq(memcmp(r.data + hl, body, n), 0);
	ck_assert_uint_eq(sent, r.len);
	free(r.data);
	free(body);
}
END_TEST

/* Headers that do not fit the head buffer: refused, nothing written. */
START_TEST(test_head_too_large)
{
	char *extra = malloc(5000);
	char c;

	ck_assert_ptr_nonnull(extra);
	memset(extra, 'a', 4997);
	memcpy(extra + 4997, "\r\n", 3);
	errno = 0;
	ck_assert_int_eq(reply_text(sv[0], 200, "x", extra, 1000, NULL), -1);
	ck_assert_int_eq(errno, EOVERFLOW);
	ck_assert_int_eq(close(sv[0]), 0);
	sv[0] = -1;
	ck_assert_int_eq(read(sv[1], &c, 1), 0);
	free(extra);
}
END_TEST

/* reply_format: the bytes reply_body writes, or the head alone; NULL
 * when the head does not fit */
START_TEST(test_format)
{
	const char expect[] = "HTTP/1.1 404 Not Found\r\nServer: digsigserver\r\n"
			      "Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
			      "Content-Length: 9\r\nX-A: 1\r\n\r\nNot found";
	char *extra = malloc(5000), *out;
	size_t len;

	ck_assert_ptr_nonnull(extra);
	out = reply_format(404, "text/plain; charset=utf-8", "Not found", 9, "X-A: 1\r\n", 1, &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(len, sizeof(expect) - 1);
	ck_assert(memcmp(out, expect, len) == 0);
	free(out);
	out = reply_format(404, "text/plain; charset=utf-8", "Not found", 9, "X-A: 1\r\n", 0, &len);
	ck_assert_uint_eq(len, sizeof(expect) - 1 - 9);
	ck_assert(memcmp(out, expect, len) == 0);
	free(out);
	memset(extra, 'a', 4997);
	memcpy(extra + 4997, "\r\n", 3);
	ck_assert_ptr_null(reply_format(200, "text/plain", "x", 1, extra, 1, &len));
	free(extra);
}
END_TEST

/* A scratch file with n bytes; its path in path. */
static void
scratch_file(char *dir, char *path, size_t size, size_t n)
{
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, size, "%s/signed.tar.gz", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	for (size_t i = 0; i < n; i++)
		ck_assert_int_ne(fputc((int)(i % 251), f), EOF);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_file)
{
	char dir[] = "/tmp/check_reply.XXXXXX", path[200], want[300];
	size_t n = 1000000;
	struct reader r;
	pthread_t th;
	uint64_t sent = 0;
	int hl, in;

	scratch_file(dir, path, sizeof(path), n);
	ck_assert_int_ge(in = open(path, O_RDONLY), 0);
	reader_start(&th, &r);
	ck_assert_int_eq(reply_fd(sv[0], 200, in, "modules.tar.gz", 10000, &sent), 0);
	reader_finish(th, &r);
	close(in);
	hl = snprintf(want, sizeof(want),
		      "HTTP/1.1 200 OK\r\nServer: digsigserver\r\nConnection: close\r\n"
		      "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n"
		      "Content-Disposition: Attachment; filename=\"modules.tar.gz\"\r\n\r\n",
		      n);
	ck_assert_uint_eq(r.len, (size_t)hl + n);
	ck_assert_int_eq(memcmp(r.data, want, (size_t)hl), 0);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r.data[hl + i] != i % 251)
			ck_abort_msg("byte %zu differs", i);
	ck_assert_uint_eq(sent, r.len);
	free(r.data);
	ck_assert_int_eq(check_sh(NULL, "rm -rf '%s'", dir), 0);
}
END_TEST

START_TEST(test_file_refused)
{
	int p[2];
	char c;

	/* a descriptor that is not a regular file */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(reply_fd(sv[0], 200, p[0], "x", 1000, NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	close(p[0]);
	close(p[1]);
	/* none of them wrote anything */
	ck_assert_int_eq(close(sv[0]), 0);
	sv[0] = -1;
	ck_assert_int_eq(read(sv[1], &c, 1), 0);
}
END_TEST

/* A client that has gone: -1 with EPIPE, and no SIGPIPE kills us. */
START_TEST(test_peer_gone)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};

	ck_assert_int_eq(sigaction(SIGPIPE, &dfl, NULL), 0);
	close(sv[1]);
	sv[1] = -1;
	ck_assert_int_eq(reply_text(sv[0], 200, "late", NULL, 1000, NULL), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_int_eq(reply_write(sv[0], "x", 1, 1000), -1);
	ck_assert_int_eq(errno, EPIPE);
	sv[1] = open("/dev/null", O_RDONLY); /* for teardown */
}
END_TEST

/* A non-blocking socket whose client reads nothing: reply_write waits for
 * room until its timeout, then fails with ETIMEDOUT; with a client that
 * reads, everything arrives. */
START_TEST(test_nonblocking)
{
	size_t n = 4 << 20;
	char *buf = malloc(n);
	struct reader r;
	pthread_t th;

	ck_assert_ptr_nonnull(buf);
	memset(buf, 'z', n);
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK), 0);
	ck_assert_int_eq(reply_write(sv[0], buf, n, 100), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);

	close(sv[0]);
	close(sv[1]);
	setup();
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK), 0);
	reader_start(&th, &r);
	ck_assert_int_eq(reply_write(sv[0], buf, n, 60000), 0);
	reader_finish(th, &r);
	ck_assert_uint_eq(r.len, n);
	ck_assert_int_eq(memcmp(r.data, buf, n), 0);
	free(r.data);
	free(buf);
}
END_TEST

/* Retry-After: between base and twice base seconds, spread out. */
START_TEST(test_retry_after)
{
	char buf[64];
	int seen[21] = {0}, distinct = 0;

	for (int i = 0; i < 2000; i++) {
		int secs = -1, len = -1;

		reply_retry_after(buf, sizeof(buf), 10);
		ck_assert_int_eq(sscanf(buf, "Retry-After: %d\r\n%n", &secs, &len), 1);
		ck_assert_int_eq(len, (int)strlen(buf));
		ck_assert_str_eq(buf + strlen(buf) - 2, "\r\n");
		ck_assert_int_ge(secs, 10);
		ck_assert_int_le(secs, 20);
		seen[secs]++;
	}
	for (int s = 10; s <= 20; s++)
		distinct += seen[s] > 0;
	/* 2000 draws over 11 values: all but astronomically rarely all seen */
	ck_assert_int_ge(distinct, 6);
	reply_retry_after(buf, sizeof(buf), 0);
	ck_assert_str_eq(buf, "Retry-After: 0\r\n");
	reply_retry_after(buf, sizeof(buf), 1);
	ck_assert_msg(strcmp(buf, "Retry-After: 1\r\n") == 0 ||
			  strcmp(buf, "Retry-After: 2\r\n") == 0,
		      "%s", buf);
}
END_TEST

static Suite *
reply_suite(void)
{
	Suite *s = suite_create("reply");
	TCase *tc = tcase_create("reply");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_extra_headers);
	tcase_add_test(tc, test_status_lines);
	tcase_add_test(tc, test_data_attachment);
	tcase_add_test(tc, test_large_body);
	tcase_add_test(tc, test_head_too_large);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_file_refused);
	tcase_add_test(tc, test_peer_gone);
	tcase_add_test(tc, test_nonblocking);
	tcase_add_test(tc, test_retry_after);
	tcase_add_test(tc, test_format);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = reply_suite);
