/* SPDX-License-Identifier: MIT */
/*
 * check_main.h: the one main() of the t/check_*.c unit programs, and the
 * one way they run a shell command.
 *
 * Use: end the file with
 *   CHECK_MAIN(.name = "foo", .tests = CHECK_TESTS(test_a, test_b));
 * for a suite of one test case (optionally .setup/.teardown around each
 * test, .setup_once/.teardown_once around them all, .timeout), or give
 * the program a `static Suite *foo_suite(void)` and end it with
 * `CHECK_MAIN(.suite = foo_suite);`; either way optionally .before,
 * .after, .fork.  Link t/libcheckmain.a (TEST_LDADD in Makefile.am does).
 */
#ifndef DSS_CHECK_MAIN_H
#define DSS_CHECK_MAIN_H

#include <check.h>
#include <pthread.h>
#include <stddef.h>

struct check_main {
	Suite *(*suite)(void);                  /* the tests; or: */
	const char *name;                       /* the suite's and its one test case's name */
	const TTest *const *tests;              /* CHECK_TESTS(...) */
	void (*setup)(void), (*teardown)(void); /* around each test */
	void (*setup_once)(void), (*teardown_once)(void); /* around them all */
	int timeout;                                      /* seconds; 0: Check's */
	int (*before)(void); /* once before the run (fixtures); nonzero: exit 1 */
	void (*after)(void); /* once after the run (clean-up) */
	int fork;            /* each test in its own process, whatever CK_FORK says */
};

/* Run the suite, print Check's summary line ("NN%: Checks: N, Failures:
 * F, Errors: E", which t/run-tests counts); the program's exit status. */
int check_main_run(const struct check_main *m);

/* The tests of .tests, in order */
#define CHECK_TESTS(...) ((const TTest *const[]){__VA_ARGS__, NULL})

/* main() itself; the closing declaration takes the caller's semicolon */
#define CHECK_MAIN(...)                                                                            \
	int main(void)                                                                             \
	{                                                                                          \
		const struct check_main check_main_desc = {__VA_ARGS__};                           \
		return check_main_run(&check_main_desc);                                           \
	}                                                                                          \
	int check_main_run(const struct check_main *m)

/*
 * Run a printf-formatted command with /bin/sh, in directory dir (NULL: the
 * current one).  Its exit status; -1 when it could not run or was killed
 * by a signal.
 */
int check_sh(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* check_sh that fails the test when the command fails. */
#define CHECK_SH_OK(dir, ...)                                                                      \
	ck_assert_msg(check_sh(dir, __VA_ARGS__) == 0, "failed: %s", #__VA_ARGS__)
/* The contents of dir/name (at most 1 GiB) into *buf (malloc'ed,
 * NUL-terminated) and *len; the test fails when it cannot be read. */
void check_slurp(const char *dir, const char *name, char **buf, size_t *len);

/*
 * A client in a thread: writes len bytes of data to fd in pieces, then
 * shuts down its sending side.  Fill in the fields but fd, then
 * check_writer_start(); pthread_join(w->thread) when done.
 */
struct check_writer {
	int fd;
	const char *data;
	size_t len;
	size_t piece;    /* bytes per write (0: all at once) */
	size_t head_len; /* nonzero: after the first head_len bytes, read the
			  * server's "100 Continue" (25 bytes) into got, as curl does */
	int delay_us;    /* between pieces */
	int hold_ms;     /* keep the socket open this long after the data */
	int no_close;    /* leave closing to the test */
	char got[64];
	pthread_t thread;
};

/* A socketpair, sv[0] for the server side, sv[1] for the writer thread
 * (w->fd), which it starts. */
void check_writer_start(struct check_writer *w, int sv[2]);

/* The request limits of the HTTP and form tests (a struct http_limits
 * initializer, lib/http.h): the daemon's defaults, but for body_max. */
#define CHECK_HTTP_LIMITS(body)                                                                    \
	{                                                                                          \
		.header_max_size = 16384, .header_max_count = 100, .body_max = (body),             \
		.read_timeout_ms = 5000, .field_max = 65536, .max_parts = 64,                      \
	}

#endif
