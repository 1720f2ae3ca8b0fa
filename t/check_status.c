/* SPDX-License-Identifier: MIT */
/*
 * check_status.c: unit tests of the supervisor's pages (src/status.c)
 * beyond what the regress scripts see: the recent-jobs ring stays bounded
 * (newest first, the oldest overwritten, texts escaped), the per-second
 * rate ring (zeroed as time passes, one lap at most), the Accept header
 * that picks the HTML page (lib/reqline.c), and the page's CSP holding the hashes of the
 * script and style it serves (so they cannot drift from the page).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "check_main.h"
#include "reqline.h"
#include "status.h"

/* status_json of a snapshot holding only r and rates at now_s, parsed. */
static json_t *
json_of(const struct status_recent *r, const struct status_rates *rates, uint64_t now_s)
{
	struct status_snapshot s = {
	    .version = "test",
	    .keys = {.state = "ready"},
	    .recent = r,
	    .rates = rates,
	    .now_s = now_s,
	};
	char *text = status_json(&s);
	json_t *j = json_loads(text, 0, NULL);

	free(text);
	ck_assert_ptr_nonnull(j);
	return j;
}

START_TEST(test_recent_bounded)
{
	static struct status_recent r;
	char ep[32];
	json_t *j, *recent;

	for (int i = 0; i < 3 * STATUS_RECENT + 7; i++) {
		struct status_job_end e = {.endpoint = ep,
					   .client = "127.0.0.1:1",
					   .status = 200 + i,
					   .seconds = 0.5,
					   .result = "signed"};

		snprintf(ep, sizeof(ep), "e%d", i);
		status_recent_add(&r, &e, 1000 + i);
		ck_assert_uint_le(r.filled, STATUS_RECENT);
	}
	ck_assert_uint_eq(r.filled, STATUS_RECENT);
	j = json_of(&r, NULL, 0);
	recent = json_object_get(j, "recent");
	ck_assert_uint_eq(json_array_size(recent), STATUS_RECENT);
	/* newest first: the last one added, down to the 50th before it */
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(recent, 0), "endpoint")),
			 "e156");
	ck_assert_str_eq(json_string_value(json_object_get(
			     json_array_get(recent, STATUS_RECENT - 1), "endpoint")),
			 "e107");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(recent, 0), "time")),
			 1156);
	ck_assert(json_is_null(json_object_get(json_array_get(recent, 0), "selector")));
	json_decref(j);
}
END_TEST

START_TEST(test_recent_escaped)
{
	static struct status_recent r;
	struct status_job_end e = {.endpoint = "tegra",
				   .selector = "a\x1b[2Jb\xff",
				   .client = "127.0.0.1:1",
				   .identity = "ci",
				   .status = 400,
				   .result = "refused"};
	json_t *j;
	const char *sel;

	status_recent_add(&r, &e, 1);
	j = json_of(&r, NULL, 0);
	sel = json_string_value(
	    json_object_get(json_array_get(json_object_get(j, "recent"), 0), "selector"));
	ck_assert_ptr_nonnull(sel); /* valid UTF-8, or json_string would refuse it */
	ck_assert_ptr_null(strchr(sel, '\x1b'));
	json_decref(j);
}
END_TEST

static long long
at(const json_t *j, const char *what, size_t i)
{
	return json_integer_value(
	    json_array_get(json_object_get(json_object_get(j, "rates"), what), i));
}

START_TEST(test_rates_ring)
{
	static struct status_rates r;
	const size_t n = STATUS_RATE_SECONDS;
	json_t *j;

	status_rates_add(&r, 5000, 1, 0);
	status_rates_add(&r, 5000, 1, 1);
	status_rates_add(&r, 5002, 1, 1);
	status_rates_advance(&r, 5003);
	j = json_of(NULL, &r, 5003);
	ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(j, "rates"), "jobs")), n);
	/* oldest first: the last slot is 5003, 5002 before it, 5000 before that */
	ck_assert_int_eq(at(j, "jobs", n - 1), 0);
	ck_assert_int_eq(at(j, "jobs", n - 2), 1);
	ck_assert_int_eq(at(j, "failures", n - 2), 1);
	ck_assert_int_eq(at(j, "jobs", n - 3), 0);
	ck_assert_int_eq(at(j, "jobs", n - 4), 2);
	ck_assert_int_eq(at(j, "failures", n - 4), 1);
	json_decref(j);
	/* a lap later only 5002 is left (the oldest slot), 5000 is gone */
	status_rates_advance(&r, 5000 + n);
	j = json_of(NULL, &r, 5000 + n);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(at(j, "jobs", i), i == 1 ? 1 : 0);
	json_decref(j);
	status_rates_advance(&r, 5000 + 10 * n);
	j = json_of(NULL, &r, 5000 + 10 * n);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(at(j, "jobs", i) + at(j, "failures", i), 0);
	json_decref(j);
	/* a count for a second older than the ring is dropped */
	status_rates_add(&r, 5000, 1, 1);
	ck_assert_uint_eq(r.last, 5000 + 10 * n);
}
END_TEST

static int
wants(const char *head)
{
	return reqline_accepts_html(head, strlen(head));
}

START_TEST(test_accept)
{
	ck_assert(
	    wants("GET /status HTTP/1.1\r\nHost: x\r\nAccept: text/html,application/xhtml+xml,"
		  "application/xml;q=0.9,*/*;q=0.8\r\n\r\n"));
	ck_assert(wants("GET /status HTTP/1.1\r\naccept:TEXT/HTML\r\n\r\n"));
	ck_assert(
	    wants("GET /status HTTP/1.1\r\nAccept: application/json, text/html;q=0.5\r\n\r\n"));
	ck_assert(!wants("GET /status HTTP/1.1\r\nHost: x\r\n\r\n"));
	ck_assert(!wants("GET /status HTTP/1.1\r\nAccept: */*\r\n\r\n"));
	ck_assert(!wants("GET /status HTTP/1.1\r\nAccept: application/json\r\n\r\n"));
	ck_assert(!wants("GET /status HTTP/1.1\r\nAccept: text/html;q=0\r\n\r\n"));
	ck_assert(!wants("GET /status HTTP/1.1\r\nAccept: text/html; q=0.0, */*\r\n\r\n"));
	ck_assert(!wants("GET /status HTTP/1.1\r\nX-Accept: text/html\r\n\r\n"));
}
END_TEST

/* "'sha256-...'" of the text of the first <tag> element of the page. */
static void
hash_of(const char *page, const char *tag, char *out, size_t outlen)
{
	char open[16], close[16];
	const char *a, *b;
	unsigned char md[32], b64[48];
	unsigned mdlen;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = strstr(page, open);
	ck_assert_ptr_nonnull(a);
	a += strlen(open);
	b = strstr(a, close);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(EVP_Digest(a, (size_t)(b - a), md, &mdlen, EVP_sha256(), NULL), 1);
	EVP_EncodeBlock(b64, md, (int)mdlen);
	snprintf(out, outlen, "'sha256-%s'", (const char *)b64);
}

START_TEST(test_page_csp)
{
	size_t len;
	const char *page = status_page(&len), *csp = status_page_csp();
	char want[128];

	ck_assert_uint_eq(strlen(page), len);
	ck_assert_uint_lt(len, 30 * 1024);
	/* one inline script, one style, nothing fetched but /status */
	ck_assert_ptr_null(strstr(strstr(page, "<script>") + 1, "<script"));
	ck_assert_ptr_null(strstr(page, "src="));
	ck_assert_ptr_null(strstr(page, "href="));
	snprintf(want, sizeof(want), "script-src ");
	hash_of(page, "script", want + strlen(want), sizeof(want) - strlen(want));
	ck_assert_msg(strstr(csp, want) != NULL, "%s not in %s", want, csp);
	snprintf(want, sizeof(want), "style-src ");
	hash_of(page, "style", want + strlen(want), sizeof(want) - strlen(want));
	ck_assert_msg(strstr(csp, want) != NULL, "%s not in %s", want, csp);
	ck_assert(strncmp(csp, "default-src 'none'; ", 20) == 0);
	ck_assert_ptr_nonnull(strstr(csp, "connect-src 'self'"));
	ck_assert_ptr_null(strstr(csp, "unsafe"));
}
END_TEST

CHECK_MAIN(.name = "status", .tests = CHECK_TESTS(test_recent_bounded, test_recent_escaped,
						  test_rates_ring, test_accept, test_page_csp));
