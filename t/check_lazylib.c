/* SPDX-License-Identifier: MIT */
/*
 * check_lazylib.c: unit tests of lib/lazylib.c: libarchive and libcurl are
 * not in the process until a function of theirs is called, and the calls
 * reach the real library (results, variadic options, errors).
 */
#include <check.h>
#include <string.h>

#include <curl/curl.h>

#include <archive.h>
#include <archive_entry.h>

#include "check_main.h"
#include "lazylib.h"

START_TEST(test_archive_loaded_on_first_call)
{
	struct archive *a;
	char buf[1024];
	size_t used = 0;

	ck_assert_int_eq(lazylib_archive_loaded(), 0);
	a = archive_write_new();
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(lazylib_archive_loaded(), 1);
	ck_assert_int_eq(lazylib_curl_loaded(), 0);
	ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open_memory(a, buf, sizeof(buf), &used), ARCHIVE_OK);
	/* the variadic error setter formats its arguments */
	archive_set_error(a, 22, "member %s: %d", "x", 7);
	ck_assert_str_eq(archive_error_string(a), "member x: 7");
	archive_write_free(a);
}
END_TEST

START_TEST(test_probe_leaves_archive_unloaded)
{
	char err[256] = "";

	ck_assert_int_eq(lazylib_probe_archive(err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(lazylib_archive_loaded(), 0);
}
END_TEST

START_TEST(test_curl_loaded_on_first_call)
{
	char err[CURL_ERROR_SIZE] = "";
	long code = -1;
	CURL *c;

	ck_assert_int_eq(lazylib_curl_loaded(), 0);
	ck_assert_int_eq(lazylib_curl(err, sizeof(err)), 0);
	ck_assert_int_eq(lazylib_curl_loaded(), 1);
	ck_assert_int_eq(lazylib_archive_loaded(), 0);
	ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	c = curl_easy_init();
	ck_assert_ptr_nonnull(c);
	/* options of each argument type: long, string, curl_off_t */
	ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_URL, "file:///nonexistent/dss"), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err), CURLE_OK);
	ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)1000000),
			 CURLE_OK);
	/* an option out of range is refused by libcurl itself */
	ck_assert_int_ne(curl_easy_setopt(c, CURLOPT_SSLVERSION, 999L), CURLE_OK);
	ck_assert_int_eq(curl_easy_perform(c), CURLE_FILE_COULDNT_READ_FILE);
	ck_assert_int_ne(strlen(err), 0);
	ck_assert_int_eq(curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code), CURLE_OK);
	ck_assert_int_eq(code, 0);
	ck_assert_str_eq(curl_easy_strerror(CURLE_OK), "No error");
	curl_easy_cleanup(c);
}
END_TEST

/* each test in its own process (.fork, even under CK_FORK=no), so each
 * starts with neither library loaded */
CHECK_MAIN(.name = "lazylib", .fork = 1,
	   .tests = CHECK_TESTS(test_archive_loaded_on_first_call, test_curl_loaded_on_first_call,
				test_probe_leaves_archive_unloaded));
