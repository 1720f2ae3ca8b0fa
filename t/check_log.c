/* SPDX-License-Identifier: MIT */
/*
 * check_log.c: unit tests of lib/log.c: log_escape, which every
 * client-supplied value goes through on its way into a request log line
 * or an audit record; and the errno forms log_warn/log_error and
 * log_panic.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "log.h"

/* Decode log_escape's output; the number of bytes, or -1 if malformed. */
static int
unescape(const char *s, char *out)
{
	int n = 0;

	for (; *s; s++) {
		unsigned int b;

		if (*s != '\\') {
			out[n++] = *s;
			continue;
		}
		if (s[1] != 'x' || sscanf(s + 2, "%2x", &b) != 1)
			return -1;
		out[n++] = (char)b;
		s += 3;
	}
	out[n] = '\0';
	return n;
}

START_TEST(test_plain)
{
	char out[64];

	ck_assert_str_eq(log_escape("builder", out, sizeof(out)), "builder");
	ck_assert_str_eq(log_escape("CN=a,O=b+c:[::1]:9/x?y=z", out, sizeof(out)),
			 "CN=a,O=b+c:[::1]:9/x?y=z");
	ck_assert_str_eq(log_escape("", out, sizeof(out)), "");
}
END_TEST

START_TEST(test_escaped)
{
	char out[128];

	/* a subject that would forge fields of a key=value line */
	ck_assert_str_eq(log_escape("CN=x status=200 \"q\"", out, sizeof(out)),
			 "CN=x\\x20status=200\\x20\\x22q\\x22");
	ck_assert_str_eq(log_escape("a\\b", out, sizeof(out)), "a\\x5cb");
	ck_assert_str_eq(log_escape("\xff\xc3\xa9\t\r\n\x7f", out, sizeof(out)),
			 "\\xff\\xc3\\xa9\\x09\\x0d\\x0a\\x7f");
}
END_TEST

/* Every byte value survives the round trip; the output is printable ASCII
 * without spaces, quotes or bare backslashes. */
START_TEST(test_round_trip)
{
	char in[256], out[LOG_ESCAPED_SIZE(255)], back[256];

	for (int i = 1; i < 256; i++)
		in[i - 1] = (char)i;
	in[255] = '\0';
	log_escape(in, out, sizeof(out));
	for (const char *p = out; *p; p++) {
		ck_assert(*p > 0x20 && *p < 0x7f && *p != '"');
		if (*p == '\\')
			ck_assert_int_eq(p[1], 'x');
	}
	ck_assert_int_eq(unescape(out, back), 255);
	ck_assert_mem_eq(back, in, 255);
}
END_TEST

START_TEST(test_truncated)
{
	char out[12], *dup;

	/* fits exactly: no marker */
	ck_assert_str_eq(log_escape("abcdefghijk", out, sizeof(out)), "abcdefghijk");
	/* one byte too many: cut, and marked so */
	ck_assert_str_eq(log_escape("abcdefghijkl", out, sizeof(out)), "abcdefg\\...");
	/* an escape is never split */
	ck_assert_str_eq(log_escape("abcde\xff\xff", out, sizeof(out)), "abcde\\...");
	ck_assert_str_eq(log_escape("abc\xff\xff", out, sizeof(out)), "abc\\xff\\xff");
	ck_assert_str_eq(log_escape("abc\xff\xffz", out, sizeof(out)), "abc\\xff\\...");
	dup = log_escape_dup("a b\xff");
	ck_assert_str_eq(dup, "a\\x20b\\xff");
	free(dup);
}
END_TEST

/* What fn writes to stderr (the log's only sink here), as a new string. */
static char *
captured(void (*fn)(void))
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	static char text[4096];
	size_t n;

	ck_assert(f != NULL && saved >= 0);
	ck_assert_int_ge(dup2(fileno(f), STDERR_FILENO), 0);
	fn();
	ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
	close(saved);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static int errno_after;

static void
warn_enoent(void)
{
	errno = ENOENT;
	log_warn("open %s", "/x");
	errno_after = errno;
}

static void
error_eacces(void)
{
	errno = EACCES;
	log_error("mkdir %s", "/y");
	errno_after = errno;
}

static void
warnx_enoent(void)
{
	errno = ENOENT;
	log_warnx("open %s", "/x");
}

/* log_warn/log_error: the message, ": ", strerror(errno); errno kept. */
START_TEST(test_errno_forms)
{
	char want[256];
	const char *out;

	log_set_level(LOG_LVL_INFO);
	out = captured(warn_enoent);
	snprintf(want, sizeof(want), " warning: warn_enoent: open /x: %s\n", strerror(ENOENT));
	ck_assert_msg(strstr(out, want) != NULL, "got [%s]", out);
	ck_assert_int_eq(errno_after, ENOENT);

	out = captured(error_eacces);
	snprintf(want, sizeof(want), " error: error_eacces: mkdir /y: %s\n", strerror(EACCES));
	ck_assert_msg(strstr(out, want) != NULL, "got [%s]", out);
	ck_assert_int_eq(errno_after, EACCES);

	/* the x form appends nothing */
	out = captured(warnx_enoent);
	ck_assert_msg(strstr(out, " warning: warnx_enoent: open /x\n") != NULL, "got [%s]", out);
}
END_TEST

/* Below the level nothing is written, and errno is still kept. */
START_TEST(test_errno_forms_filtered)
{
	log_set_level(LOG_LVL_ERROR);
	ck_assert_str_eq(captured(warn_enoent), "");
	ck_assert_int_eq(errno_after, ENOENT);
	log_set_level(LOG_LVL_INFO);
}
END_TEST

/* log_panic logs its reason and aborts (run in a child: expects SIGABRT). */
START_TEST(test_panic)
{
	int null = open("/dev/null", O_WRONLY);

	/* its line would land among the summary lines t/run-tests reads */
	ck_assert(null >= 0 && dup2(null, STDERR_FILENO) >= 0);
	log_panic("record %d out of order", 3);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("escape");
	TCase *te = tcase_create("errno");

	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_escaped);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_truncated);
	suite_add_tcase(s, tc);
	tcase_add_test(te, test_errno_forms);
	tcase_add_test(te, test_errno_forms_filtered);
	tcase_add_test_raise_signal(te, test_panic, SIGABRT);
	suite_add_tcase(s, te);
	return s;
}

CHECK_MAIN(.suite = log_suite, .fork = 1);
