/* SPDX-License-Identifier: MIT */
/*
 * check_main.h: the one main() of the t/check_*.c unit programs, and the
 * one way they run a shell command.
 *
 * Use: give the program a `static Suite *foo_suite(void)`, end the file
 * with `CHECK_MAIN(.suite = foo_suite);` (optionally .before, .after,
 * .fork) and link t/libcheckmain.a (TEST_LDADD in Makefile.am does).
 */
#ifndef DSS_CHECK_MAIN_H
#define DSS_CHECK_MAIN_H

#include <check.h>

struct check_main {
	Suite *(*suite)(void); /* the tests */
	int (*before)(void);   /* once before the run (fixtures); nonzero: exit 1 */
	void (*after)(void);   /* once after the run (clean-up) */
	int fork;              /* each test in its own process, whatever CK_FORK says */
};

/* Run the suite, print Check's summary line ("NN%: Checks: N, Failures:
 * F, Errors: E", which t/run-tests counts); the program's exit status. */
int check_main_run(const struct check_main *m);

/* main() itself; the closing declaration takes the caller's semicolon */
#define CHECK_MAIN(...)                                                                            \
	static const struct check_main check_main_desc = {__VA_ARGS__};                            \
	int main(void)                                                                             \
	{                                                                                          \
		return check_main_run(&check_main_desc);                                           \
	}                                                                                          \
	int check_main_run(const struct check_main *m)

/*
 * Run a printf-formatted command with /bin/sh, in directory dir (NULL: the
 * current one).  Its exit status; -1 when it could not run or was killed
 * by a signal.
 */
int check_sh(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
