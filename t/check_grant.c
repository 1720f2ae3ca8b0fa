/* SPDX-License-Identifier: MIT */
/*
 * check_grant.c: unit tests of the supervisor's reading of a head for a
 * job's grant (src/grant.c): the bearer token and the trusted proxy's
 * subject header name the client as the worker would; a header that
 * appears twice, a credential past the head's end or in the request line,
 * an unknown token, a subject from an untrusted peer and no tokens table
 * name none.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "check_main.h"
#include "config.h"
#include "grant.h"
#include "tokens.h"

static struct tokens *tk;
static struct config cfg;
static struct sockaddr_storage local, remote;

static void
setup(void)
{
	char err[256];
	const char *text =
	    "ci mender,tegra jetson-*,demo "
	    "sha256:80b3ad2d438bfafa1ea690c5a59f54548dcc76ad6a839c6704ac1d9d565d9c80\n" /* of "tok1"
											 */
	    "proxy tegra orin-* subject:CN=builder,O=Example\n";
	struct sockaddr_in *a;

	conf_defaults(&cfg);
	ck_assert_int_eq(conf_set(&cfg, "SUBJECT_HEADER", "X-Client-Subject", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_set(&cfg, "TRUSTED_PROXIES", "127.0.0.1", err, sizeof(err)), 0);
	ck_assert_int_eq(tokens_parse(text, strlen(text), "test", &tk, err, sizeof(err)), 0);
	a = (struct sockaddr_in *)&local;
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a = (struct sockaddr_in *)&remote;
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(0x0a000001);
}

static void
teardown(void)
{
	tokens_free(tk);
}

/* The client's name for head from peer, or "-". */
static const char *
client(const char *head, const struct sockaddr_storage *peer)
{
	const struct token_client *c = grant_client(tk, &cfg, head, strlen(head), peer);

	return c ? tokens_name(c) : "-";
}

/* the token whose SHA-256 the first line holds */
static const char *bearer = "tok1";

START_TEST(test_bearer)
{
	char head[256];

	snprintf(head, sizeof(head),
		 "POST /sign/mender HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n",
		 bearer);
	ck_assert_str_eq(client(head, &remote), "ci");
	/* the header name in any case, spaces around the value, LF alone */
	snprintf(head, sizeof(head),
		 "POST /sign/mender HTTP/1.1\nauthorization:   Bearer   %s  \n\n", bearer);
	ck_assert_str_eq(client(head, &remote), "ci");
	snprintf(head, sizeof(head),
		 "POST /sign/mender HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n");
	ck_assert_str_eq(client(head, &remote), "-");
	snprintf(head, sizeof(head),
		 "POST /sign/mender HTTP/1.1\r\nAuthorization: Basic %s\r\n\r\n", bearer);
	ck_assert_str_eq(client(head, &remote), "-");
}
END_TEST

START_TEST(test_twice_or_misplaced)
{
	char head[512];

	snprintf(head, sizeof(head),
		 "POST /sign/mender HTTP/1.1\r\nAuthorization: Bearer %s\r\n"
		 "Authorization: Bearer %s\r\n\r\n",
		 bearer, bearer);
	ck_assert_str_eq(client(head, &remote), "-");
	/* after the blank line: the body, not the head */
	snprintf(head, sizeof(head),
		 "POST /sign/mender HTTP/1.1\r\nHost: x\r\n\r\nAuthorization: Bearer %s\r\n",
		 bearer);
	ck_assert_str_eq(client(head, &remote), "-");
	/* in the request line */
	snprintf(head, sizeof(head), "Authorization: Bearer %s\r\n\r\n", bearer);
	ck_assert_str_eq(client(head, &remote), "-");
	/* a prefix of the header's name is another header */
	snprintf(head, sizeof(head), "POST / HTTP/1.1\r\nAuthorizationX: Bearer %s\r\n\r\n",
		 bearer);
	ck_assert_str_eq(client(head, &remote), "-");
}
END_TEST

START_TEST(test_subject)
{
	const char *head =
	    "POST /sign/tegra HTTP/1.1\r\nX-Client-Subject: CN=builder,O=Example\r\n\r\n";

	ck_assert_str_eq(client(head, &local), "proxy");
	/* only from a trusted proxy */
	ck_assert_str_eq(client(head, &remote), "-");
}
END_TEST

START_TEST(test_no_table)
{
	char head[256];

	snprintf(head, sizeof(head), "POST / HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n", bearer);
	ck_assert_ptr_null(grant_client(NULL, &cfg, head, strlen(head), &remote));
	ck_assert_str_eq(tokens_selectors(grant_client(tk, &cfg, head, strlen(head), &remote)),
			 "jetson-*,demo");
}
END_TEST

static Suite *
grant_suite(void)
{
	Suite *s = suite_create("grant");
	TCase *tc = tcase_create("grant");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_bearer);
	tcase_add_test(tc, test_twice_or_misplaced);
	tcase_add_test(tc, test_subject);
	tcase_add_test(tc, test_no_table);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = grant_suite);
