/* SPDX-License-Identifier: MIT */
/*
 * check_p11uri.c: unit tests of lib/p11uri.c: the attributes kept and
 * %-decoded, a PIN noted and dropped, the attributes ignored and those
 * refused, repeated attributes, bad escapes, over-long values, URIs that
 * name no object, matching a client's URI against a reference, and the canonical form (which parses
 * back to the same object).
 */
#include <check.h>
#include <string.h>

#include "check_main.h"
#include "p11uri.h"

static char err[256];

START_TEST(test_attributes)
{
	struct p11uri u;

	ck_assert_int_eq(
	    p11uri_parse("pkcs11:token=My%20HSM;object=swu;type=private;id=%01%aB;"
			 "manufacturer=SoftHSM%20project;serial=1234;model=SoftHSM%20v2",
			 &u, err, sizeof(err)),
	    0);
	ck_assert_str_eq(u.token, "My HSM");
	ck_assert_str_eq(u.object, "swu");
	ck_assert_str_eq(u.type, "private");
	ck_assert_str_eq(u.manufacturer, "SoftHSM project");
	ck_assert_str_eq(u.serial, "1234");
	ck_assert_str_eq(u.model, "SoftHSM v2");
	ck_assert_uint_eq(u.id_len, 2);
	ck_assert_int_eq(u.id[0], 1);
	ck_assert_int_eq(u.id[1], 0xab);
	ck_assert_int_eq(u.has_pin, 0);
}
END_TEST

START_TEST(test_pin)
{
	struct p11uri u;

	/* upstream's form: pin-value among the path attributes */
	ck_assert_int_eq(
	    p11uri_parse("pkcs11:token=test;object=swu;type=private;pin-value=password", &u, err,
			 sizeof(err)),
	    0);
	ck_assert_int_eq(u.has_pin, 1);
	ck_assert_ptr_null(memmem(&u, sizeof(u), "password", 8));
	ck_assert_int_eq(
	    p11uri_parse("pkcs11:object=a?pin-source=file:/etc/pin", &u, err, sizeof(err)), 0);
	ck_assert_int_eq(u.has_pin, 1);
	ck_assert_str_eq(u.object, "a");
}
END_TEST

START_TEST(test_ignored_and_refused)
{
	struct p11uri u;

	ck_assert_int_eq(p11uri_parse("pkcs11:object=a;slot-id=3;library-version=1;x-vendor=1", &u,
				      err, sizeof(err)),
			 0);
	ck_assert_int_eq(
	    p11uri_parse("pkcs11:object=a?module-path=/tmp/evil.so", &u, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "module-path"));
	ck_assert_int_eq(p11uri_parse("pkcs11:object=a;bogus=1", &u, err, sizeof(err)), -1);
	ck_assert_int_eq(p11uri_parse("pkcs11:object=a;object=b", &u, err, sizeof(err)), -1);
	ck_assert_int_eq(p11uri_parse("pkcs11:id=%01;id=%02", &u, err, sizeof(err)), -1);
	ck_assert_int_eq(p11uri_parse("pkcs11:object=a%2", &u, err, sizeof(err)), -1);
	ck_assert_int_eq(p11uri_parse("pkcs11:object=a%zz", &u, err, sizeof(err)), -1);
	ck_assert_int_eq(p11uri_parse("pkcs11:object=a%0a", &u, err, sizeof(err)), -1);
	ck_assert_int_eq(p11uri_parse("pkcs11:object=a;type=weird", &u, err, sizeof(err)), -1);
	ck_assert_int_eq(p11uri_parse("pkcs11:token=t", &u, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "names no object"));
	ck_assert_int_eq(p11uri_parse("pkcs11:", &u, err, sizeof(err)), -1);
	ck_assert_int_eq(p11uri_parse("file:///x", &u, err, sizeof(err)), -1);
	ck_assert_int_eq(p11uri_parse("pkcs11:=x;object=a", &u, err, sizeof(err)), -1);
	ck_assert_int_eq(p11uri_parse("pkcs11:object", &u, err, sizeof(err)), -1);
	/* a token label has 32 bytes at most */
	ck_assert_int_eq(p11uri_parse("pkcs11:object=a;token=0123456789abcdef0123456789abcdefX", &u,
				      err, sizeof(err)),
			 -1);
	ck_assert_int_eq(p11uri_parse("pkcs11:object=a;token=0123456789abcdef0123456789abcdef", &u,
				      err, sizeof(err)),
			 0);
}
END_TEST

START_TEST(test_too_long)
{
	static char text[P11URI_MAX + 64];
	struct p11uri u;

	strcpy(text, "pkcs11:object=a;x-pad=");
	memset(text + strlen(text), 'z', P11URI_MAX);
	ck_assert_int_eq(p11uri_parse(text, &u, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_same_and_format)
{
	struct p11uri a, b;
	char buf[P11URI_MAX];

	ck_assert_int_eq(
	    p11uri_parse("pkcs11:token=t;object=k%3bx;id=%00%ff", &a, err, sizeof(err)), 0);
	ck_assert_int_eq(p11uri_parse("pkcs11:object=k%3Bx;id=%00%FF;token=t;type=private;"
				      "pin-value=password",
				      &b, err, sizeof(err)),
			 0);
	ck_assert(p11uri_matches(&a, &b));
	ck_assert(p11uri_matches(&b, &a));
	ck_assert_int_gt(p11uri_format(&a, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "pkcs11:token=t;object=k%3Bx;id=%00%FF");
	ck_assert_int_eq(p11uri_parse(buf, &b, err, sizeof(err)), 0);
	ck_assert(p11uri_matches(&a, &b));
	/* fewer attributes still fit; another token or object does not */
	ck_assert_int_eq(p11uri_parse("pkcs11:object=k%3bx", &b, err, sizeof(err)), 0);
	ck_assert(p11uri_matches(&b, &a));
	ck_assert(!p11uri_matches(&a, &b));
	ck_assert_int_eq(
	    p11uri_parse("pkcs11:token=u;object=k%3bx;id=%00%ff", &b, err, sizeof(err)), 0);
	ck_assert(!p11uri_matches(&b, &a));
	ck_assert_int_eq(p11uri_parse("pkcs11:token=t;object=other", &b, err, sizeof(err)), 0);
	ck_assert(!p11uri_matches(&b, &a));
	ck_assert_int_eq(p11uri_format(&a, buf, 12), -1);
}
END_TEST

CHECK_MAIN(.name = "p11uri",
	   .tests = CHECK_TESTS(test_attributes, test_pin, test_ignored_and_refused, test_too_long,
				test_same_and_format));
