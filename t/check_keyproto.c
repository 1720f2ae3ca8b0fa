/* SPDX-License-Identifier: MIT */
/*
 * check_keyproto.c: unit tests of the key channel's records
 * (lib/keyproto.h): round trips of every type, with the descriptor the
 * GRANT and MATERIAL records must carry; refusal of short, long and
 * unknown records, unterminated strings, lengths and enums out of range,
 * a missing descriptor, a descriptor where none belongs, and more than
 * one descriptor.
 */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "keyproto.h"
#include "proto.h"

static int sp[2];
static union keyproto_msg *out, *in;
static char why[256];

static void
setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	out = calloc(1, sizeof(*out));
	in = calloc(1, sizeof(*in));
	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(in);
}

static void
teardown(void)
{
	close(sp[0]);
	close(sp[1]);
	free(out);
	free(in);
}

static void
keyref(struct keyproto_keyref *k)
{
	strcpy(k->selector, "jetson-a");
	strcpy(k->tag, "tegrasign");
	strcpy(k->file, "rsa_priv.pem");
}

/* A valid SIGN record in out. */
static void
make_sign(void)
{
	keyproto_init(out, KEYPROTO_SIGN, 9);
	keyref(&out->sign.key);
	out->sign.scheme = KEYPROTO_RSA_PKCS1;
	out->sign.md = KEYPROTO_MD_SHA256;
	out->sign.digest_len = 32;
	memset(out->sign.digest, 0xab, 32);
}

/* keyproto_check on out as it is, without a descriptor. */
static int
check_out(void)
{
	return keyproto_check(out, keyproto_size(out->hdr.type), 0, why, sizeof(why));
}

START_TEST(test_sign_round_trip)
{
	int fd;

	make_sign();
	ck_assert_int_eq(keyproto_send(sp[0], out, -1), 0);
	ck_assert_int_eq(keyproto_recv(sp[1], in, &fd, why, sizeof(why)), 1);
	ck_assert_int_eq(fd, -1);
	ck_assert_uint_eq(in->hdr.type, KEYPROTO_SIGN);
	ck_assert_uint_eq(in->hdr.id, 9);
	ck_assert_str_eq(in->sign.key.selector, "jetson-a");
	ck_assert_uint_eq(in->sign.digest_len, 32);
	ck_assert_int_eq(memcmp(in->sign.digest, out->sign.digest, 32), 0);
}
END_TEST

START_TEST(test_every_type_has_a_size)
{
	for (uint32_t t = KEYPROTO_GRANT; t < KEYPROTO_TYPE_END; t++) {
		ck_assert_uint_ge(keyproto_size(t), sizeof(struct keyproto_hdr));
		ck_assert_str_ne(keyproto_type_name(t), "?");
	}
	ck_assert_uint_eq(keyproto_size(0), 0);
	ck_assert_uint_eq(keyproto_size(KEYPROTO_TYPE_END), 0);
	ck_assert_str_eq(keyproto_type_name(999), "?");
}
END_TEST

START_TEST(test_grant_needs_its_descriptor)
{
	int pipefd[2], fd;

	ck_assert_int_eq(pipe(pipefd), 0);
	keyproto_init(out, KEYPROTO_GRANT, 17);
	strcpy(out->grant.endpoint, "tegra");
	strcpy(out->grant.selectors, "jetson-*");
	/* without it: refused, and the reason says so */
	ck_assert_int_eq(keyproto_send(sp[0], out, -1), 0);
	ck_assert_int_eq(keyproto_recv(sp[1], in, &fd, why, sizeof(why)), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "without a descriptor"));
	/* with it: taken */
	ck_assert_int_eq(keyproto_send(sp[0], out, pipefd[0]), 0);
	ck_assert_int_eq(keyproto_recv(sp[1], in, &fd, why, sizeof(why)), 1);
	ck_assert_int_ge(fd, 0);
	ck_assert_str_eq(in->grant.selectors, "jetson-*");
	close(fd);
	close(pipefd[0]);
	close(pipefd[1]);
}
END_TEST

START_TEST(test_descriptor_where_none_belongs)
{
	int pipefd[2], fd = 99;

	ck_assert_int_eq(pipe(pipefd), 0);
	make_sign();
	ck_assert_int_eq(keyproto_send(sp[0], out, pipefd[0]), 0);
	ck_assert_int_eq(keyproto_recv(sp[1], in, &fd, why, sizeof(why)), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_int_eq(fd, -1); /* closed, not handed over */
	ck_assert_ptr_nonnull(strstr(why, "with a descriptor"));
	close(pipefd[0]);
	close(pipefd[1]);
}
END_TEST

START_TEST(test_two_descriptors)
{
	struct iovec iov = {.iov_base = out, .iov_len = keyproto_size(KEYPROTO_MATERIAL)};
	int fds[2] = {0, 1}, fd;

	keyproto_init(out, KEYPROTO_MATERIAL, 3);
	ck_assert_int_eq(proto_sendmsg_fds(sp[0], &iov, 1, fds, 2), 0);
	ck_assert_int_eq(keyproto_recv(sp[1], in, &fd, why, sizeof(why)), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_int_eq(fd, -1);
}
END_TEST

START_TEST(test_sizes)
{
	size_t size;

	make_sign();
	size = keyproto_size(KEYPROTO_SIGN);
	ck_assert_int_eq(keyproto_check(out, size, 0, why, sizeof(why)), 0);
	/* shorter or longer than the type's size, or than the header says */
	ck_assert_int_eq(keyproto_check(out, size - 1, 0, why, sizeof(why)), -1);
	ck_assert_int_eq(keyproto_check(out, sizeof(struct keyproto_hdr) - 1, 0, why, sizeof(why)),
			 -1);
	out->hdr.size = (uint32_t)size + 1;
	ck_assert_int_eq(keyproto_check(out, size, 0, why, sizeof(why)), -1);
	/* a record longer than any is cut by the receiver: refused */
	out->hdr.size = (uint32_t)size;
	{
		char *big = calloc(1, sizeof(union keyproto_msg) + 100);

		memcpy(big, out, size);
		ck_assert_int_eq(send(sp[0], big, sizeof(union keyproto_msg) + 100, 0),
				 (ssize_t)(sizeof(union keyproto_msg) + 100));
		free(big);
	}
	{
		int fd;

		ck_assert_int_eq(keyproto_recv(sp[1], in, &fd, why, sizeof(why)), -1);
		ck_assert_int_eq(errno, EPROTO);
	}
	/* an unknown type */
	out->hdr.type = KEYPROTO_TYPE_END;
	ck_assert_int_eq(keyproto_check(out, size, 0, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "unknown"));
}
END_TEST

START_TEST(test_unterminated_strings)
{
	make_sign();
	memset(out->sign.key.selector, 'a', sizeof(out->sign.key.selector));
	ck_assert_int_eq(check_out(), -1);
	make_sign();
	memset(out->sign.key.tag, 'a', sizeof(out->sign.key.tag));
	ck_assert_int_eq(check_out(), -1);
	make_sign();
	memset(out->sign.key.file, 'a', sizeof(out->sign.key.file));
	ck_assert_int_eq(check_out(), -1);
	make_sign();
	out->sign.key.file[0] = '\0'; /* an empty name */
	ck_assert_int_eq(check_out(), -1);
	make_sign();
	memset(out->sign.key_uri, 'p', sizeof(out->sign.key_uri));
	ck_assert_int_eq(check_out(), -1);
	out->sign.key_uri[sizeof(out->sign.key_uri) - 1] = '\0';
	ck_assert_int_eq(check_out(), 0);

	keyproto_init(out, KEYPROTO_ERROR, 1);
	out->error.status = 404;
	memset(out->error.reason, 'x', sizeof(out->error.reason));
	ck_assert_int_eq(check_out(), -1);
	out->error.reason[3] = '\0';
	ck_assert_int_eq(check_out(), 0);

	/* a signature names its key by a fingerprint that must end */
	keyproto_init(out, KEYPROTO_SIGNATURE, 1);
	out->signature.len = 256;
	memset(out->signature.key_sha256, 'f', sizeof(out->signature.key_sha256));
	ck_assert_int_eq(check_out(), -1);
	out->signature.key_sha256[64] = '\0';
	ck_assert_int_eq(check_out(), 0);

	keyproto_init(out, KEYPROTO_GRANT, 1);
	memset(out->grant.selectors, '*', sizeof(out->grant.selectors));
	ck_assert_int_eq(keyproto_check(out, keyproto_size(KEYPROTO_GRANT), 1, why, sizeof(why)),
			 -1);
	memset(out->grant.endpoint, 'e', sizeof(out->grant.endpoint));
	out->grant.selectors[0] = '\0';
	ck_assert_int_eq(keyproto_check(out, keyproto_size(KEYPROTO_GRANT), 1, why, sizeof(why)),
			 -1);
}
END_TEST

START_TEST(test_lengths_and_enums)
{
	make_sign();
	out->sign.digest_len = 20; /* not SHA-256's length */
	ck_assert_int_eq(check_out(), -1);
	make_sign();
	out->sign.digest_len = KEYPROTO_DIGEST_MAX + 1;
	ck_assert_int_eq(check_out(), -1);
	make_sign();
	out->sign.scheme = KEYPROTO_SCHEME_END;
	ck_assert_int_eq(check_out(), -1);
	make_sign();
	out->sign.md = KEYPROTO_MD_END;
	ck_assert_int_eq(check_out(), -1);
	make_sign();
	out->sign.md = KEYPROTO_MD_NONE; /* only Ed25519 signs without a digest */
	ck_assert_int_eq(check_out(), -1);
	make_sign();
	out->sign.scheme = KEYPROTO_RSA_PSS;
	out->sign.saltlen = -4;
	ck_assert_int_eq(check_out(), -1);
	out->sign.saltlen = -1;
	ck_assert_int_eq(check_out(), 0);

	keyproto_init(out, KEYPROTO_SIGNATURE, 1);
	ck_assert_int_eq(check_out(), -1); /* empty */
	out->signature.len = KEYPROTO_SIG_MAX + 1;
	ck_assert_int_eq(check_out(), -1);
	out->signature.len = 256;
	ck_assert_int_eq(check_out(), 0);

	keyproto_init(out, KEYPROTO_PUBKEY, 1);
	out->pubkey.pub_len = 100;
	out->pubkey.cert_len = KEYPROTO_BLOB_MAX - 99; /* past the end together */
	ck_assert_int_eq(check_out(), -1);
	out->pubkey.cert_len = KEYPROTO_BLOB_MAX - 100;
	ck_assert_int_eq(check_out(), 0);

	keyproto_init(out, KEYPROTO_ERROR, 1);
	out->error.status = 200; /* an error is 4xx or 5xx */
	ck_assert_int_eq(check_out(), -1);
	keyproto_init(out, KEYPROTO_GRANT, 1);
	out->grant.any_selector = 2;
	ck_assert_int_eq(keyproto_check(out, keyproto_size(KEYPROTO_GRANT), 1, why, sizeof(why)),
			 -1);
}
END_TEST

START_TEST(test_eof)
{
	int fd;

	close(sp[0]);
	sp[0] = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	ck_assert_int_eq(keyproto_recv(sp[1], in, &fd, why, sizeof(why)), 0);
}
END_TEST

START_TEST(test_send_refuses_a_bad_header)
{
	make_sign();
	out->hdr.size = 3;
	ck_assert_int_eq(keyproto_send(sp[0], out, -1), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

CHECK_MAIN(.name = "keyproto", .setup = setup, .teardown = teardown,
	   .tests = CHECK_TESTS(test_sign_round_trip, test_every_type_has_a_size,
				test_grant_needs_its_descriptor, test_descriptor_where_none_belongs,
				test_two_descriptors, test_sizes, test_unterminated_strings,
				test_lengths_and_enums, test_eof, test_send_refuses_a_bad_header));
