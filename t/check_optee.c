/* SPDX-License-Identifier: MIT */
/*
 * check_optee.c: unit tests of lib/optee_ta.c: UUIDs in TA names as
 * Python's uuid.UUID reads them (and what is refused), .ta-version text as
 * Python's int(x, 0) reads it, the 32-bit limits of the format, and a TA
 * made with a local key checked field by field against the layout of
 * OP-TEE's sign_encrypt.py (header bytes written out by hand, the digest
 * recomputed, the RSA-PSS signature verified).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "check_main.h"
#include "optee_ta.h"
#include "pkey.h"

static const unsigned char U1[16] = {0x8a, 0xaa, 0xf2, 0x00, 0x24, 0x50, 0x11, 0xe4,
				     0xab, 0xe2, 0x00, 0x02, 0xa5, 0xd5, 0xc5, 0x1b};

static int
uuid_of(const char *s, unsigned char out[16])
{
	return optee_uuid_parse(s, strlen(s), out);
}

START_TEST(test_uuid)
{
	static const char *const good[] = {"8aaaf200-2450-11e4-abe2-0002a5d5c51b",
					   "8AAAF200-2450-11E4-ABE2-0002A5D5C51B",
					   "8aaaf200245011e4abe20002a5d5c51b",
					   "{8aaaf200-2450-11e4-abe2-0002a5d5c51b}",
					   "urn:uuid:8aaaf200-2450-11e4-abe2-0002a5d5c51b",
					   "8aaa-f200-2450-11e4abe2-0002a5d5c51b"};
	static const char *const bad[] = {"",
					  "8aaaf200-2450-11e4-abe2-0002a5d5c51",
					  "8aaaf200-2450-11e4-abe2-0002a5d5c51bb",
					  "8aaaf200-2450-11e4-abe2-0002a5d5c51g",
					  "{8aaaf200-2450-11e4-abe2-0002a5d5c51b",
					  "8aaaf200-2450-11e4-abe2-0002a5d5c51b}",
					  " 8aaaf200-2450-11e4-abe2-0002a5d5c51b",
					  "8aaaf200 2450 11e4 abe2 0002a5d5c51b",
					  "--------------------------------",
					  "{}",
					  "hello"};
	unsigned char u[16];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		memset(u, 0, sizeof(u));
		ck_assert_msg(uuid_of(good[i], u) == 0, "refused %s", good[i]);
		ck_assert_msg(memcmp(u, U1, 16) == 0, "wrong bytes for %s", good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(uuid_of(bad[i], u) < 0, "accepted %s", bad[i]);
	/* a NUL inside the length is no hex digit */
	ck_assert_int_lt(optee_uuid_parse("8aaaf200-2450-11e4-abe2-0002a5d5c5\0b", 36, u), 0);
}
END_TEST

START_TEST(test_name)
{
	unsigned char u[16];
	char why[128];

	ck_assert_int_eq(optee_ta_name("ta/8aaaf200-2450-11e4-abe2-0002a5d5c51b.stripped.elf", u,
				       why, sizeof(why)),
			 1);
	ck_assert_mem_eq(u, U1, 16);
	ck_assert_int_eq(
	    optee_ta_name("8aaaf200-2450-11e4-abe2-0002a5d5c51b.stripped.elf", u, why, sizeof(why)),
	    1);
	ck_assert_int_eq(optee_ta_name("ta/libfoo.stripped.so", u, why, sizeof(why)), 0);
	ck_assert_int_eq(optee_ta_name("ta/x.stripped.elf.bak", u, why, sizeof(why)), 0);
	ck_assert_int_eq(optee_ta_name("ta/8aaaf200-2450-11e4-abe2-0002a5d5c51b.ta-version", u, why,
				       sizeof(why)),
			 0);
	why[0] = '\0';
	ck_assert_int_eq(optee_ta_name("ta/hello.stripped.elf", u, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "not a UUID"));
	ck_assert_int_eq(optee_ta_name(".stripped.elf", u, why, sizeof(why)), -1);
	/* the UUID is the base name's: a directory named like one is not */
	ck_assert_int_eq(optee_ta_name("8aaaf200-2450-11e4-abe2-0002a5d5c51b/.stripped.elf", u, why,
				       sizeof(why)),
			 -1);
}
END_TEST

static int
version_of(const char *s, size_t len, uint32_t *v)
{
	char why[128];

	why[0] = '\0';
	if (optee_version_parse(s, len, v, why, sizeof(why)) < 0) {
		ck_assert_msg(why[0] != '\0' && strchr(why, '\n') == NULL, "no one-line reason");
		return -1;
	}
	return 0;
}

START_TEST(test_version)
{
	static const struct {
		const char *text;
		uint32_t v;
	} good[] = {{"0", 0},
		    {"16", 16},
		    {"0x10", 16},
		    {"0X1f", 31},
		    {"0o20", 16},
		    {"0b1_0000", 16},
		    {"0x_1f", 31},
		    {"1_000", 1000},
		    {"00", 0},
		    {"0_0", 0},
		    {"-0", 0},
		    {"+7", 7},
		    {"  7 \t", 7},
		    {"7\n8", 7},
		    {"7\r\n", 7},
		    {"7\rjunk", 7},
		    {"\x1c"
		     "5\x1f",
		     5},
		    {"4294967295", UINT32_MAX},
		    {"0xffffffff", UINT32_MAX}};
	static const char *const bad[] = {"",
					  "\n5",
					  "   ",
					  "010",
					  "0x",
					  "0b2",
					  "0o8",
					  "1__0",
					  "_1",
					  "1_",
					  "1 2",
					  "abc",
					  "-1",
					  "--1",
					  "4294967296",
					  "0x100000000",
					  "99999999999999999999999",
					  "1.0",
					  "0x-1",
					  "\xd9\xa3",
					  "1e3"};
	char longline[OPTEE_VERSION_LINE_MAX + 10];
	uint32_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		ck_assert_msg(version_of(good[i].text, strlen(good[i].text), &v) == 0, "refused %s",
			      good[i].text);
		ck_assert_msg(v == good[i].v, "%s: %u", good[i].text, v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(version_of(bad[i], strlen(bad[i]), &v) < 0, "accepted %s", bad[i]);
	ck_assert_int_lt(version_of("1\0", 2, &v), 0);
	memset(longline, ' ', sizeof(longline));
	longline[0] = '1';
	ck_assert_int_lt(version_of(longline, sizeof(longline), &v), 0);
	ck_assert_int_eq(version_of(longline, OPTEE_VERSION_LINE_MAX, &v), 0);
}
END_TEST

START_TEST(test_limits)
{
	struct optee_ta ta;
	char why[128];

	ck_assert_int_eq(optee_ta_init(&ta, U1, 1, UINT32_MAX, 256, why, sizeof(why)), 0);
	ck_assert_int_eq(ta.img_size, UINT32_MAX);
	ck_assert_int_lt(optee_ta_init(&ta, U1, 1, (uint64_t)UINT32_MAX + 1, 256, why, sizeof(why)),
			 0);
	ck_assert_int_lt(optee_ta_init(&ta, U1, 1, 10, 0, why, sizeof(why)), 0);
	ck_assert_int_lt(optee_ta_init(&ta, U1, 1, 10, OPTEE_SIG_MAX + 1, why, sizeof(why)), 0);
}
END_TEST

/* A temporary file holding len bytes of data (or empty); its descriptor. */
static int
tmpfile_with(const void *data, size_t len)
{
	char path[] = "/tmp/check_optee.XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	if (len > 0)
		ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static unsigned char *
read_all(int fd, size_t *len)
{
	off_t n = lseek(fd, 0, SEEK_END);
	unsigned char *b = malloc((size_t)n);

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(pread(fd, b, (size_t)n, 0), n);
	*len = (size_t)n;
	return b;
}

START_TEST(test_sign)
{
	/* the headers as sign_encrypt.py packs them, for img_size 5, version
	 * 0x10 and a 2048-bit key */
	static const unsigned char shdr[20] = {0x48, 0x53, 0x54, 0x4f, 1,    0,    0,  0, 5, 0,
					       0,    0,    0x30, 0x49, 0x41, 0x70, 32, 0, 0, 1};
	static const unsigned char ver[4] = {0x10, 0, 0, 0};
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	int img = tmpfile_with("\177ELF!", 5), out = tmpfile_with(NULL, 0);
	unsigned char *sig = NULL, *d, md[32];
	size_t siglen = 0, len;
	struct optee_ta ta;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	char err[128];

	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(optee_ta_init(&ta, U1, 0x10, 5, 256, err, sizeof(err)), 0);
	ck_assert_int_eq(optee_ta_write_body(out, &ta, img, err, sizeof(err)), 0);
	ck_assert_int_eq(pkey_sign_digest(k, SIG_RSA_PSS, OPTEE_SALT_LEN, EVP_sha256(), ta.digest,
					  32, &sig, &siglen),
			 0);
	ck_assert_int_lt(optee_ta_write_sig(out, &ta, sig, siglen - 1, err, sizeof(err)), 0);
	ck_assert_int_eq(optee_ta_write_sig(out, &ta, sig, siglen, err, sizeof(err)), 0);

	d = read_all(out, &len);
	ck_assert_uint_eq(len, 20 + 32 + 256 + 20 + 5);
	ck_assert_mem_eq(d, shdr, 20);
	ck_assert_mem_eq(d + 52, sig, 256);
	ck_assert_mem_eq(d + 308, U1, 16);
	ck_assert_mem_eq(d + 324, ver, 4);
	ck_assert_mem_eq(d + 328, "\177ELF!", 5);
	/* the digest: header, bootstrap header, image */
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_DigestUpdate(c, d, 20);
	EVP_DigestUpdate(c, d + 308, 20);
	EVP_DigestUpdate(c, d + 328, 5);
	EVP_DigestFinal_ex(c, md, NULL);
	ck_assert_mem_eq(d + 20, md, 32);
	ck_assert_int_eq(pkey_verify_digest(k, SIG_RSA_PSS, 32, EVP_sha256(), md, 32, d + 52, 256),
			 1);
	free(d);
	free(sig);
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	close(img);
	close(out);
}
END_TEST

/* An image that is not as long as declared is an error, shorter or longer. */
START_TEST(test_wrong_size)
{
	struct optee_ta ta;
	char err[128];
	int img, out;

	for (int declared = 4; declared <= 6; declared += 2) {
		img = tmpfile_with("12345", 5);
		out = tmpfile_with(NULL, 0);
		ck_assert_int_eq(
		    optee_ta_init(&ta, U1, 0, (uint64_t)declared, 256, err, sizeof(err)), 0);
		ck_assert_int_lt(optee_ta_write_body(out, &ta, img, err, sizeof(err)), 0);
		ck_assert_ptr_nonnull(strstr(err, "bytes"));
		close(img);
		close(out);
	}
}
END_TEST

CHECK_MAIN(.name = "optee", .tests = CHECK_TESTS(test_uuid, test_name, test_version, test_limits,
						 test_sign, test_wrong_size));
