/* SPDX-License-Identifier: MIT */
/*
 * check_multipart.c: unit tests of lib/multipart.c, the streaming
 * multipart/form-data parser.
 *
 * Callbacks record a transcript of each body ("[name|filename|type]"
 * then the data then "<end>"), which must not depend on how the body is
 * sliced: every split point of a sample body (a curl -F body whose data
 * holds CRLFs, dashes and near-boundaries) and a byte-at-a-time feed give
 * the same transcript as one feed.  Then every limit and malformed case.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "multipart.h"
#include "util.h"

#define B "------------------------2d66bf7c3cbf98fb"

/* The artifact part's data, in the body and in its transcript alike */
#define ARTIFACT                                                                                   \
	"line one\r\n"                                                                             \
	"\r\n"                                                                                     \
	"--" B "x is not the boundary\r\n"                                                         \
	"--"                                                                                       \
	"------------------------2d66bf7c3cbf98f\r\n"                                              \
	"\r\n--\r\n-\r\r\r\n\r\n\r"                                                                \
	"--" B " in the middle of a line\r\n"                                                      \
	"\0\xff\r\n\0\r\n"

/* A curl -F body, with data meant to trip a careless parser. */
static const char sample[] =
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"machine\"\r\n"
    "\r\n"
    "jetson-agx-xavier\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"empty\"\r\n"
    "\r\n"
    "\r\n"
    "--" B "\r\n"
    "Content-Disposition: form-data; name=\"artifact\"; filename=\"artifact.tar.gz\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n" ARTIFACT "\r\n"
    "--" B "\r\n"
    "content-disposition: FORM-DATA; filename=x.bin; name=sw-description\r\n"
    "Content-Type: Application/Octet-Stream; charset=binary\r\n"
    "\r\n"
    "{}\r\n"
    "--" B "--\r\n";

static const char sample_transcript[] =
    "[machine|-|text/plain]jetson-agx-xavier<end>"
    "[empty|-|text/plain]<end>"
    "[artifact|artifact.tar.gz|application/octet-stream]" ARTIFACT "<end>"
    "[sw-description|x.bin|application/octet-stream]{}<end>";

struct transcript {
	char *buf;
	size_t len, cap;
	int in_part;
	int fail_begin; /* begin returns 413 for this part number (1-based) */
	int nbegin;
};

static void
append(struct transcript *t, const void *p, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->buf = xrealloc(t->buf, t->cap);
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static int
on_begin(void *ctx, const struct multipart_part *part, char *err, size_t errlen)
{
	struct transcript *t = ctx;
	char line[512];
	int n;

	ck_assert(!t->in_part);
	if (++t->nbegin == t->fail_begin) {
		snprintf(err, errlen, "refused part %s", part->name);
		return 413;
	}
	t->in_part = 1;
	n = snprintf(line, sizeof(line), "[%s|%s|%s]", part->name,
		     part->filename ? part->filename : "-", part->type);
	append(t, line, (size_t)n);
	return 0;
}

static int
on_data(void *ctx, const void *buf, size_t len, char *err, size_t errlen)
{
	struct transcript *t = ctx;

	ck_assert(t->in_part);
	ck_assert_uint_gt(len, 0);
	append(t, buf, len);
	return 0;
}

static int
on_end(void *ctx, char *err, size_t errlen)
{
	struct transcript *t = ctx;

	ck_assert(t->in_part);
	t->in_part = 0;
	append(t, "<end>", 5);
	return 0;
}

static const struct multipart_callbacks cbs = {on_begin, on_data, on_end};

static char err[256];

/*
 * Parse body fed in slices ending at the given cut points (ascending,
 * within len); returns the status of feed+finish, transcript in t.
 */
static int
run_cuts(const char *boundary, const char *body, size_t len, const size_t *cuts, int ncuts,
	 int max_parts, struct transcript *t)
{
	struct multipart *mp = multipart_new(boundary, max_parts, &cbs, t);
	size_t off = 0;
	int rc = 0;

	err[0] = '\0';
	for (int i = 0; i <= ncuts && rc == 0; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		rc = multipart_feed(mp, body + off, end - off, err, sizeof(err));
		off = end;
	}
	if (rc == 0)
		rc = multipart_finish(mp, err, sizeof(err));
	multipart_free(mp);
	return rc;
}

static int
run(const char *boundary, const char *body, size_t len, int max_parts, struct transcript *t)
{
	return run_cuts(boundary, body, len, NULL, 0, max_parts, t);
}

/* Parse a C-string body with boundary "XyZ"; status only. */
static int
status_of(const char *body)
{
	struct transcript t = {0};
	int rc = run("XyZ", body, strlen(body), 64, &t);

	free(t.buf);
	return rc;
}

static void
assert_transcript(const struct transcript *t, const char *want, size_t wantlen)
{
	ck_assert_uint_eq(t->len, wantlen);
	ck_assert(memcmp(t->buf, want, wantlen) == 0);
	ck_assert(!t->in_part);
}

/* body, fed in the slices the ncuts offsets cut, parses (at most 64
 * parts) to exactly the transcript want; what says which case failed. */
static void
expect_parse(const char *boundary, const char *body, size_t len, const size_t *cuts, int ncuts,
	     const char *want, size_t wantlen, const char *what)
{
	struct transcript t = {0};

	ck_assert_msg(run_cuts(boundary, body, len, cuts, ncuts, 64, &t) == 0, "%s: %s", what, err);
	assert_transcript(&t, want, wantlen);
	free(t.buf);
}

/* The sample, so cut, gives its transcript. */
static void
expect_sample(const size_t *cuts, int ncuts, const char *what)
{
	expect_parse(B, sample, sizeof(sample) - 1, cuts, ncuts, sample_transcript,
		     sizeof(sample_transcript) - 1, what);
}

START_TEST(test_sample)
{
	expect_sample(NULL, 0, "whole");
}
END_TEST

START_TEST(test_split_everywhere)
{
	size_t len = sizeof(sample) - 1;

	/* two slices, cut at every offset */
	for (size_t i = 0; i <= len; i++) {
		char what[32];

		snprintf(what, sizeof(what), "cut %zu", i);
		expect_sample(&i, 1, what);
	}
}
END_TEST

START_TEST(test_split_three_ways)
{
	/* a smaller body cut at every pair of offsets */
	static const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n"
				   "1\r\n--XyZ-\r\n--Xy\r\r\n--XyZ  \t\r\n"
				   "Content-Disposition: form-data; name=b; filename=\"\"\r\n\r\n"
				   "\r\n--XyZ--";
	static const char want[] = "[a|-|text/plain]1\r\n--XyZ-\r\n--Xy\r<end>[b||text/plain]<end>";
	size_t len = sizeof(body) - 1;

	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len; j++) {
			size_t cuts[2] = {i, j};
			char what[32];

			snprintf(what, sizeof(what), "%zu,%zu", i, j);
			expect_parse("XyZ", body, len, cuts, 2, want, sizeof(want) - 1, what);
		}
	}
}
END_TEST

START_TEST(test_byte_at_a_time)
{
	size_t len = sizeof(sample) - 1;
	size_t *cuts = xmalloc(len * sizeof(*cuts));

	for (size_t i = 0; i < len; i++)
		cuts[i] = i + 1;
	expect_sample(cuts, (int)len, "byte at a time");
	free(cuts);
}
END_TEST

START_TEST(test_preamble_epilogue)
{
	static const char body[] = "This is the preamble.\r\n--XyZ is not it\r\n--XyZx\r\n"
				   "--XyZ\r\nContent-Disposition: form-data; name=f\r\n\r\nv\r\n"
				   "--XyZ--  ignored \r\n--XyZ\r\nContent-Disposition: form-data; "
				   "name=g\r\n\r\nafter the end\r\n--XyZ--\r\n";
	static const char want[] = "[f|-|text/plain]v<end>";

	expect_parse("XyZ", body, sizeof(body) - 1, NULL, 0, want, sizeof(want) - 1, "preamble");
	/* a body that is only the closing boundary is an empty form */
	ck_assert_int_eq(status_of("--XyZ--"), 0);
	ck_assert_int_eq(status_of("preamble\r\n--XyZ--\r\n"), 0);
}
END_TEST

START_TEST(test_truncated)
{
	size_t len = sizeof(sample) - 1;
	/* the closing delimiter ends 4 bytes before the end ("--\r\n") */
	size_t closed = len - 2;

	for (size_t i = 0; i < closed; i++) {
		struct transcript t = {0};

		ck_assert_msg(run(B, sample, i, 64, &t) == 400, "prefix %zu", i);
		ck_assert_str_eq(err, "truncated multipart body");
		free(t.buf);
	}
	ck_assert_int_eq(status_of(""), 400);
	ck_assert_str_eq(err, "truncated multipart body");
	ck_assert_int_eq(status_of("no boundary at all"), 400);
}
END_TEST

START_TEST(test_max_parts)
{
	char body[4096];
	size_t n = 0;
	struct transcript t = {0};

	for (int i = 0; i < 5; i++)
		n += (size_t)snprintf(
		    body + n, sizeof(body) - n,
		    "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\n%d\r\n", i, i);
	n += (size_t)snprintf(body + n, sizeof(body) - n, "--XyZ--\r\n");
	ck_assert_int_eq(run("XyZ", body, n, 5, &t), 0);
	free(t.buf);
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(run("XyZ", body, n, 4, &t), 400);
	ck_assert_str_eq(err, "more than 4 parts in the form");
	free(t.buf);
}
END_TEST

START_TEST(test_header_limits)
{
	char *body = xmalloc(3 * MULTIPART_HEADER_MAX);
	size_t n;
	struct transcript t = {0};

	/* the part's header bytes, blank line included, are bounded */
	n = (size_t)snprintf(body, 200,
			     "--XyZ\r\nContent-Disposition: form-data; name=a\r\nX-Pad: ");
	size_t hstart = 7;
	while (n < hstart + MULTIPART_HEADER_MAX - 4)
		body[n++] = 'p';
	n += (size_t)snprintf(body + n, 200, "\r\n\r\nv\r\n--XyZ--");
	ck_assert_int_eq(run("XyZ", body, n, 64, &t), 0);
	free(t.buf);
	memset(&t, 0, sizeof(t));
	{
		/* one more byte of padding */
		size_t at = n - 20;

		memmove(body + at + 1, body + at, n - at);
		n++;
	}
	ck_assert_int_eq(run("XyZ", body, n, 64, &t), 400);
	ck_assert_str_eq(err, "part headers larger than 8192 bytes");
	free(t.buf);

	/* a header line that never ends */
	n = (size_t)snprintf(body, 200, "--XyZ\r\nX-Long: ");
	memset(body + n, 'l', 2 * MULTIPART_HEADER_MAX);
	n += 2 * MULTIPART_HEADER_MAX;
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(run("XyZ", body, n, 64, &t), 400);
	free(t.buf);

	/* 16 header lines are fine, 17 are not */
	n = (size_t)snprintf(body, 200, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n");
	for (int i = 1; i < MULTIPART_HEADER_COUNT; i++)
		n += (size_t)snprintf(body + n, 100, "X-H%d: v\r\n", i);
	size_t keep = n;
	n += (size_t)snprintf(body + n, 100, "\r\nv\r\n--XyZ--");
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(run("XyZ", body, n, 64, &t), 0);
	free(t.buf);
	n = keep;
	n += (size_t)snprintf(body + n, 100, "X-Extra: v\r\n\r\nv\r\n--XyZ--");
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(run("XyZ", body, n, 64, &t), 400);
	free(t.buf);
	free(body);
}
END_TEST

START_TEST(test_disposition)
{
	static const struct {
		const char *disposition, *want;
	} ok[] = {
	    {"form-data; name=\"a\"", "[a|-|text/plain]"},
	    {"form-data; name=a", "[a|-|text/plain]"},
	    {"Form-Data;name=a;", "[a|-|text/plain]"},
	    {"form-data ; name = \"a b\" ; ", "[a b|-|text/plain]"},
	    {"form-data; name=\"say \\\"hi\\\"\"", "[say \"hi\"|-|text/plain]"},
	    {"form-data; name=\"back\\\\slash\"", "[back\\slash|-|text/plain]"},
	    {"form-data; name=\"semi;colon\"; filename=\"a;b.bin\"",
	     "[semi;colon|a;b.bin|text/plain]"},
	    {"form-data; name=\"f\"; filename=\"\"", "[f||text/plain]"},
	    {"form-data; name=\"f\"; filename*=UTF-8''%e2%82%ac%20rates.txt",
	     "[f|\xe2\x82\xac rates.txt|text/plain]"},
	    {"form-data; name=\"f\"; filename=\"euro.txt\"; filename*=utf-8'en'%E2%82%AC.txt",
	     "[f|\xe2\x82\xac.txt|text/plain]"},
	    {"form-data; name=\"caf\xc3\xa9\"; size=12; creation-date=\"x\"",
	     "[caf\xc3\xa9|-|text/plain]"},
	};
	static const char *const bad[] = {
	    "attachment; name=\"a\"",
	    "form-data",
	    "form-data; filename=\"x\"",
	    "form-data; name=\"\"",
	    "form-data; name=",
	    "form-data; name=\"unterminated",
	    "form-data; name=\"a\" junk",
	    "form-data; name=\"a\"; name=\"b\"",
	    "form-data; name=a; filename=x; filename=y",
	    "form-data; =a",
	    "form-data; name",
	    "form-data; name=a\"b",
	    "form-data; name=a; filename*=%e2",
	    "form-data; name=a; filename*=UTF-8''%zz",
	    "form-data; name=a; filename*=UTF-8''%00",
	    "form-data; name=a; filename*=''x",
	    "",
	};
	char body[1024];

	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		char want[256];
		int n = snprintf(body, sizeof(body),
				 "--XyZ\r\nContent-Disposition: %s\r\n\r\n\r\n--XyZ--",
				 ok[i].disposition);
		int wn = snprintf(want, sizeof(want), "%s<end>", ok[i].want);

		expect_parse("XyZ", body, (size_t)n, NULL, 0, want, (size_t)wn, ok[i].disposition);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(body, sizeof(body), "--XyZ\r\nContent-Disposition: %s\r\n\r\n\r\n--XyZ--",
			 bad[i]);
		ck_assert_msg(status_of(body) == 400, "'%s'", bad[i]);
	}
	/* no Content-Disposition at all, or two */
	ck_assert_int_eq(status_of("--XyZ\r\nContent-Type: text/plain\r\n\r\nv\r\n--XyZ--"), 400);
	ck_assert_str_eq(err, "part without Content-Disposition");
	ck_assert_int_eq(status_of("--XyZ\r\n\r\nv\r\n--XyZ--"), 400);
	ck_assert_int_eq(status_of("--XyZ\r\nContent-Disposition: form-data; name=a\r\n"
				   "Content-Disposition: form-data; name=b\r\n\r\nv\r\n--XyZ--"),
			 400);
}
END_TEST

START_TEST(test_content_type)
{
	static const struct {
		const char *ctype, *want;
	} cases[] = {
	    {"application/octet-stream", "application/octet-stream"},
	    {"Application/Octet-Stream; charset=binary", "application/octet-stream"},
	    {"  TEXT/PLAIN ;charset=utf-8", "text/plain"},
	    {"image/png", "image/png"},
	    {"", "text/plain"},
	};
	char body[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char want[128];
		int n = snprintf(body, sizeof(body),
				 "--XyZ\r\nContent-Disposition: form-data; name=a; filename=f\r\n"
				 "Content-Type: %s\r\n\r\nx\r\n--XyZ--",
				 cases[i].ctype);
		int wn = snprintf(want, sizeof(want), "[a|f|%s]x<end>", cases[i].want);

		expect_parse("XyZ", body, (size_t)n, NULL, 0, want, (size_t)wn, cases[i].ctype);
	}
	ck_assert_int_eq(status_of("--XyZ\r\nContent-Disposition: form-data; name=a\r\n"
				   "Content-Type: a/b\r\ncontent-type: c/d\r\n\r\nv\r\n--XyZ--"),
			 400);
}
END_TEST

START_TEST(test_malformed)
{
	static const char *const bad[] = {
	    /* folded header */
	    "--XyZ\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nv\r\n--XyZ--",
	    /* header without colon, with an empty name, with a space in the name */
	    "--XyZ\r\nContent-Disposition form-data; name=a\r\n\r\nv\r\n--XyZ--",
	    "--XyZ\r\n: x\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XyZ--",
	    "--XyZ\r\nX Y: x\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XyZ--",
	    /* bare CR and control characters in a header */
	    "--XyZ\r\nContent-Disposition: form-data; name=a\rb\r\n\r\nv\r\n--XyZ--",
	    "--XyZ\r\nContent-Disposition: form-data; name=\"a\x01\"\r\n\r\nv\r\n--XyZ--",
	    /* lookalike boundary lines are data, so these bodies never end */
	    "--XyZx\r\n",
	    "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XyZ-x",
	    "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--XyZ\rx",
	    "--XyZ \tx\r\n",
	    "--XyZ\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(status_of(bad[i]) == 400, "case %zu", i);
	/* LF-only header lines are accepted, transport padding too */
	ck_assert_int_eq(
	    status_of("--XyZ \t \r\nContent-Disposition: form-data; name=a\n\nv\r\n--XyZ--"), 0);
}
END_TEST

START_TEST(test_callback_error)
{
	static const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=one\r\n\r\n1\r\n"
				   "--XyZ\r\nContent-Disposition: form-data; name=two\r\n\r\n2\r\n"
				   "--XyZ--";
	struct transcript t = {0};
	struct multipart *mp;

	t.fail_begin = 2;
	mp = multipart_new("XyZ", 64, &cbs, &t);
	ck_assert_int_eq(multipart_feed(mp, body, sizeof(body) - 1, err, sizeof(err)), 413);
	ck_assert_str_eq(err, "refused part two");
	/* the error sticks */
	err[0] = '\0';
	ck_assert_int_eq(multipart_feed(mp, "x", 1, err, sizeof(err)), 413);
	ck_assert_str_eq(err, "refused part two");
	ck_assert_int_eq(multipart_finish(mp, err, sizeof(err)), 413);
	multipart_free(mp);
	free(t.buf);
}
END_TEST

START_TEST(test_content_type_parse)
{
	static const struct {
		const char *value, *type, *boundary;
	} ok[] = {
	    {"multipart/form-data; boundary=------------------------2d66bf7c3cbf98fb",
	     "multipart/form-data", "------------------------2d66bf7c3cbf98fb"},
	    {"Multipart/Form-Data;boundary=\"quoted boundary\"", "multipart/form-data",
	     "quoted boundary"},
	    {"multipart/form-data; charset=utf-8; BOUNDARY=\"a'()+_,-./:=?\"",
	     "multipart/form-data", "a'()+_,-./:=?"},
	    {"multipart/form-data", "multipart/form-data", NULL},
	    {"application/x-www-form-urlencoded; charset=UTF-8",
	     "application/x-www-form-urlencoded", NULL},
	    {"text/plain;", "text/plain", NULL},
	};
	static const char *const bad[] = {
	    "",
	    "   ",
	    "multipart/form-data; boundary=",
	    "multipart/form-data; boundary=\"\"",
	    "multipart/form-data; boundary=\"ends with space \"",
	    "multipart/form-data; boundary=\"a\rb\"",
	    "multipart/form-data; boundary=a{b",
	    "multipart/form-data; boundary=a; boundary=b",
	    "multipart/form-data; boundary=\"unterminated",
	    ("multipart/form-data; boundary=12345678901234567890123456789012345678901234567890"
	     "123456789012345678901"),
	};
	char *type, *boundary;

	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		ck_assert_msg(multipart_content_type(ok[i].value, &type, &boundary) == 0, "%s",
			      ok[i].value);
		ck_assert_str_eq(type, ok[i].type);
		if (ok[i].boundary == NULL)
			ck_assert_ptr_null(boundary);
		else
			ck_assert_str_eq(boundary, ok[i].boundary);
		free(type);
		free(boundary);
	}
	/* 70 characters is the longest boundary */
	ck_assert_int_eq(
	    multipart_content_type("multipart/form-data; boundary=12345678901234567890"
				   "12345678901234567890123456789012345678901234567890",
				   &type, &boundary),
	    0);
	ck_assert_uint_eq(strlen(boundary), 70);
	free(type);
	free(boundary);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(multipart_content_type(bad[i], &type, &boundary) == -1, "'%s'",
			      bad[i]);
}
END_TEST

START_TEST(test_large_part)
{
	/* a 10 MB part in 64 KiB slices: data passes through, nothing held */
	size_t part = 10 * 1000 * 1000, n = 0, fed = 0;
	const char head[] = "--XyZ\r\nContent-Disposition: form-data; name=f; filename=f\r\n\r\n";
	const char tailb[] = "\r\n--XyZ--\r\n";
	size_t len = sizeof(head) - 1 + part + sizeof(tailb) - 1;
	char *body = xmalloc(len);
	struct transcript t = {0};
	struct multipart *mp;

	memcpy(body, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	for (size_t i = 0; i < part; i++)
		body[n + i] = "\r\n-XyZ"[i % 6 == 5 ? (i / 6) % 6 : i % 6];
	n += part;
	memcpy(body + n, tailb, sizeof(tailb) - 1);
	mp = multipart_new("XyZ", 64, &cbs, &t);
	while (fed < len) {
		size_t s = len - fed < 65536 ? len - fed : 65536;

		ck_assert_int_eq(multipart_feed(mp, body + fed, s, err, sizeof(err)), 0);
		fed += s;
	}
	ck_assert_int_eq(multipart_finish(mp, err, sizeof(err)), 0);
	ck_assert_uint_eq(t.len, strlen("[f|f|text/plain]") + part + strlen("<end>"));
	ck_assert(memcmp(t.buf + strlen("[f|f|text/plain]"), body + sizeof(head) - 1, part) == 0);
	multipart_free(mp);
	free(t.buf);
	free(body);
}
END_TEST

static Suite *
multipart_suite(void)
{
	Suite *s = suite_create("multipart");
	TCase *tc = tcase_create("parser");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sample);
	tcase_add_test(tc, test_split_everywhere);
	tcase_add_test(tc, test_split_three_ways);
	tcase_add_test(tc, test_byte_at_a_time);
	tcase_add_test(tc, test_preamble_epilogue);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_max_parts);
	tcase_add_test(tc, test_header_limits);
	tcase_add_test(tc, test_disposition);
	tcase_add_test(tc, test_content_type);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_callback_error);
	tcase_add_test(tc, test_content_type_parse);
	tcase_add_test(tc, test_large_part);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = multipart_suite);
