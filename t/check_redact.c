/* SPDX-License-Identifier: MIT */
/*
 * check_redact.c: unit tests of log_redact (lib/log.c), which keeps the
 * token's PIN (keys/keypkcs11.c) out of every log line: each occurrence
 * becomes "<redacted>", and a line cut at its end never shows a part of
 * the secret.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "log.h"

/* What log_info writes to stderr for line, in buf. */
static void
logged(char *buf, size_t len, const char *line)
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fileno(f), STDERR_FILENO), 0);
	log_info("%s", line);
	ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
	close(saved);
	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

START_TEST(test_redacted)
{
	static char buf[8192];

	log_init("check", LOG_LVL_DEBUG, 0);
	logged(buf, sizeof(buf), "pin-value=0001s3cr3t;x and again 0001s3cr3t");
	ck_assert_ptr_nonnull(strstr(buf, "pin-value=0001s3cr3t;x"));
	log_redact("0001s3cr3t");
	logged(buf, sizeof(buf), "pin-value=0001s3cr3t;x and again 0001s3cr3t");
	ck_assert_ptr_null(strstr(buf, "s3cr3t"));
	ck_assert_ptr_nonnull(strstr(buf, "pin-value=<redacted>;x and again <redacted>\n"));
}
END_TEST

START_TEST(test_long_line)
{
	static char line[4096], buf[8192];

	log_init("check", LOG_LVL_DEBUG, 0);
	log_redact("0001s3cr3t");
	/* the secret everywhere, so also where the line is cut */
	for (size_t i = 0; i + 10 < sizeof(line) - 1; i += 10)
		memcpy(line + i, "0001s3cr3t", 10);
	line[sizeof(line) - 1] = '\0';
	logged(buf, sizeof(buf), line);
	ck_assert_ptr_null(strstr(buf, "s3cr3t"));
	ck_assert_ptr_nonnull(strstr(buf, "<redacted><redacted>"));
	/* one near the end of what fits */
	memset(line, 'a', sizeof(line) - 1);
	memcpy(line + 2035, "0001s3cr3t", 10);
	logged(buf, sizeof(buf), line);
	ck_assert_ptr_null(strstr(buf, "0001s3"));
	ck_assert_ptr_null(strstr(buf, "s3cr3t"));
}
END_TEST

CHECK_MAIN(.name = "redact", .tests = CHECK_TESTS(test_redacted, test_long_line));
