/* SPDX-License-Identifier: MIT */
/*
 * check_acl.c: unit tests of lib/acl.c, the address lists of
 * STATUS_ALLOW and TRUSTED_PROXIES: IPv4 and IPv6 addresses and
 * prefixes (on and off octet boundaries), IPv4-mapped IPv6 peers against
 * IPv4 entries, separators, and bad entries refused with their text.
 */
#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "acl.h"
#include "check_main.h"

static char err[256];

static struct acl *
parse_ok(const char *spec)
{
	struct acl *a = NULL;

	err[0] = '\0';
	ck_assert_msg(acl_parse(spec, &a, err, sizeof(err)) == 0, "%s: %s", spec, err);
	ck_assert_ptr_nonnull(a);
	return a;
}

/* 1 if the textual address (IPv4 or IPv6) matches acl. */
static int
match(const struct acl *a, const char *addr)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons(1234)};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons(1234)};

	if (inet_pton(AF_INET, addr, &v4.sin_addr) == 1)
		return acl_match(a, (struct sockaddr *)&v4);
	ck_assert_msg(inet_pton(AF_INET6, addr, &v6.sin6_addr) == 1, "bad test address %s", addr);
	return acl_match(a, (struct sockaddr *)&v6);
}

/* Each of the space-separated peers (IPv4 or IPv6 text) matches acl
 * (want 1) or does not (want 0). */
static void
expect(const struct acl *a, const char *peers, int want)
{
	char one[64];
	const char *p = peers;
	int n;

	while (sscanf(p, " %63s%n", one, &n) == 1) {
		ck_assert_msg(match(a, one) == want, "%s: expected %s", one,
			      want ? "a match" : "no match");
		p += n;
	}
}

/* A list, the peers it matches and those it does not (space-separated). */
static const struct acl_case {
	const char *spec, *match, *miss;
} acl_cases[] = {
    /* empty lists match nothing */
    {NULL, "", "127.0.0.1 ::1"},
    {"", "", "127.0.0.1"},
    {" , \t,", "", "0.0.0.0"},
    /* IPv4: a bare address is a /32; a prefix off an octet boundary; IPv4
     * entries say nothing of native IPv6 addresses */
    {"127.0.0.0/8,10.1.2.0/24,192.168.7.7,172.16.0.0/12",
     "127.0.0.1 127.255.255.255 10.1.2.0 10.1.2.255 192.168.7.7 172.16.0.1 172.31.255.255",
     "128.0.0.1 10.1.3.0 10.1.1.255 192.168.7.6 192.168.7.8 172.32.0.0 172.15.255.255 ::1 "
     "::127.0.0.1"},
    /* host bits in an entry are ignored past its prefix */
    {"10.9.8.7/16", "10.9.0.1", "10.10.8.7"},
    /* /0 is every IPv4 address, and /31 two of them */
    {"0.0.0.0/0", "255.255.255.255 1.2.3.4", "2001:db8::1"},
    {"10.0.0.2/31", "10.0.0.2 10.0.0.3", "10.0.0.1 10.0.0.4"},
    /* IPv6; its entries say nothing of IPv4 peers */
    {"::1,2001:db8::/32,fe80::/10,2001:db8:1:2:3:4:5:6/127",
     "::1 2001:db8::1 2001:db8:ffff:ffff::1 fe80::1 febf:ffff::1 2001:db8:1:2:3:4:5:7",
     "::2 2001:db9::1 2001:db7:ffff::1 fec0::1 127.0.0.1"},
    {"::/0", "ffff::1", "1.2.3.4"},
    /* an IPv4 client of a dual-stack socket arrives as ::ffff:a.b.c.d; not
     * mapped: the IPv4-compatible form and a NAT64 prefix */
    {"127.0.0.0/8,10.1.2.3", "::ffff:127.0.0.1 ::ffff:10.1.2.3",
     "::ffff:10.1.2.4 ::ffff:128.0.0.1 ::127.0.0.1 64:ff9b::127.0.0.1"},
    /* an IPv6 entry for the mapped range matches them too */
    {"::ffff:0:0/96", "::ffff:8.8.8.8", "8.8.8.8"},
    /* separators: commas, blanks, tabs, empty entries */
    {"  127.0.0.1 ,::1\t10.0.0.0/8,,192.168.0.1 ", "127.0.0.1 ::1 10.200.0.1 192.168.0.1",
     "192.168.0.2"},
};

START_TEST(test_lists)
{
	const struct acl_case *c = &acl_cases[_i];
	struct acl *a = parse_ok(c->spec);

	expect(a, c->match, 1);
	expect(a, c->miss, 0);
	acl_free(a);
}
END_TEST

START_TEST(test_null)
{
	ck_assert_int_eq(match(NULL, "127.0.0.1"), 0);
	acl_free(NULL);
}
END_TEST

START_TEST(test_other_families)
{
	struct acl *a = parse_ok("0.0.0.0/0,::/0");
	struct sockaddr_un un = {.sun_family = AF_UNIX};

	ck_assert_int_eq(acl_match(a, (struct sockaddr *)&un), 0);
	acl_free(a);
}
END_TEST

START_TEST(test_bad_entries)
{
	static const char *bad[] = {
	    "10.0.0.0/33",
	    "::1/129",
	    "10.0.0.0/",
	    "10.0.0.0/x",
	    "10.0.0.0/8x",
	    "10.0.0.0/-1",
	    "10.0.0.0/8/8",
	    "/8",
	    "localhost",
	    "10.0.0",
	    "10.0.0.256",
	    "1.2.3.4.5",
	    "::1::2",
	    "2001:db8::g",
	    "[::1]",
	    "fe80::1%lo",
	    "10.0.0.1:80",
	    "0x7f.0.0.1",
	    "2001:0db8:0000:0000:0000:ff00:0042:8329/64/1",
	    "1111:2222:3333:4444:5555:6666:7777:8888:9999",
	};
	char spec[300], want[400];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct acl *a = (struct acl *)&a;

		/* alone, and after good entries: the bad one is named */
		snprintf(want, sizeof(want), "\"%s\" is not an address or address/prefix", bad[i]);
		err[0] = '\0';
		ck_assert_msg(acl_parse(bad[i], &a, err, sizeof(err)) == -1, "%s accepted", bad[i]);
		ck_assert_ptr_null(a);
		ck_assert_str_eq(err, want);
		snprintf(spec, sizeof(spec), "127.0.0.1,::1 %s,10.0.0.1", bad[i]);
		a = (struct acl *)&a;
		err[0] = '\0';
		ck_assert_msg(acl_parse(spec, &a, err, sizeof(err)) == -1, "%s accepted", spec);
		ck_assert_ptr_null(a);
		ck_assert_str_eq(err, want);
	}
}
END_TEST

/* An entry longer than any address is refused, not cut. */
START_TEST(test_long_entry)
{
	char spec[200];
	struct acl *a = NULL;

	memset(spec, '1', sizeof(spec) - 1);
	spec[sizeof(spec) - 1] = '\0';
	ck_assert_int_eq(acl_parse(spec, &a, err, sizeof(err)), -1);
	ck_assert_ptr_null(a);
	ck_assert_ptr_nonnull(strstr(err, "is not an address or address/prefix"));
	/* the longest IPv6 text with a prefix still fits */
	a = parse_ok("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128");
	expect(a, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1);
	acl_free(a);
}
END_TEST

static Suite *
acl_suite(void)
{
	Suite *s = suite_create("acl");
	TCase *tc = tcase_create("acl");

	tcase_add_loop_test(tc, test_lists, 0, (int)(sizeof(acl_cases) / sizeof(acl_cases[0])));
	tcase_add_test(tc, test_null);
	tcase_add_test(tc, test_other_families);
	tcase_add_test(tc, test_bad_entries);
	tcase_add_test(tc, test_long_entry);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = acl_suite);
