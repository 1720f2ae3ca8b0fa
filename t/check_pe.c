/* SPDX-License-Identifier: MIT */
/*
 * check_pe.c: unit tests of lib/pe.c (the PE/COFF reader, Authenticode
 * digest and signed image) and cmssign_authenticode, the /sign/tegra/uefi
 * sbsign type.  The oracle is Debian's sbsign: with the same key and the
 * signing time sbsign put in, our signed image must be sbsign's bytes, for
 * a real UEFI application (systemd-boot, whose size is no multiple of 8 and
 * which has data after its sections) and for one signed a second time.
 * Broken images are refused with a reason and never read out of bounds
 * (the fuzz harness t/fuzz/fuzz_pe.c goes further).
 */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "check_main.h"
#include "cmssign.h"
#include "pe.h"
#include "pkey.h"
#include "util.h"

#define EFI "/usr/lib/systemd/boot/efi/systemd-bootx64.efi"

static char dir[] = "/tmp/check_pe.XXXXXX", err[512];

#define SH_OK(...) CHECK_SH_OK(dir, __VA_ARGS__)

/* A WIN_CERTIFICATE's length, padded to 8. */
static size_t
entry_len(const unsigned char *e)
{
	uint32_t n =
	    (uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 | (uint32_t)e[3] << 24;

	return ((size_t)n + 7) & ~(size_t)7;
}

/* The signingTime of the last signature in the signed image dir/name. */
static time_t
sbsign_time(const char *name)
{
	char *buf;
	size_t len;
	const unsigned char *p, *entry;
	struct pe_image img;
	PKCS7 *p7;
	ASN1_TYPE *t;
	ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
	int days, secs;

	check_slurp(dir, name, &buf, &len);
	/* the image without its table parses; the table's entries follow */
	ck_assert_int_eq(pe_parse((unsigned char *)buf, len, &img, err, sizeof(err)), 0);
	entry = (unsigned char *)buf + img.cert_addr;
	while (entry + entry_len(entry) < (unsigned char *)buf + len)
		entry += entry_len(entry);
	p = entry + 8;
	ck_assert_ptr_nonnull(p7 = d2i_PKCS7(NULL, &p, (long)(buf + len - (char *)p)));
	t = PKCS7_get_signed_attribute(sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0),
				       NID_pkcs9_signingTime);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, epoch, t->value.utctime), 1);
	ASN1_TIME_free(epoch);
	PKCS7_free(p7);
	pe_free(&img);
	free(buf);
	return (time_t)days * 86400 + secs;
}

/* Sign dir/in at time when with dir/keyfile and certfile into dir/out. */
static void
sign_file_with(const char *in, const char *out, time_t when, const char *keyfile,
	       const char *certfile)
{
	char *buf, *kbuf, path[PATH_MAX];
	size_t len, klen, derlen;
	unsigned char md[EVP_MAX_MD_SIZE], *der;
	struct pe_image img;
	EVP_PKEY *key;
	X509 *cert;
	struct pkey_signer s = {.sign = pkey_sign_with_key};
	int fd;

	check_slurp(dir, keyfile, &kbuf, &klen);
	ck_assert_ptr_nonnull(key = pkey_load_private((unsigned char *)kbuf, klen));
	util_cleanse_free(kbuf, klen);
	check_slurp(dir, certfile, &kbuf, &klen);
	ck_assert_ptr_nonnull(cert = pkey_load_cert((unsigned char *)kbuf, klen));
	free(kbuf);
	s.cert = cert;
	s.arg = key;
	check_slurp(dir, in, &buf, &len);
	ck_assert_msg(pe_parse((unsigned char *)buf, len, &img, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(pe_digest(&img, EVP_sha256(), md), 32);
	ck_assert_msg(cmssign_authenticode(&s, md, when, &der, &derlen, err, sizeof(err)) == 0,
		      "%s", err);
	snprintf(path, sizeof(path), "%s/%s", dir, out);
	ck_assert_int_ge(fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	ck_assert_msg(pe_write_signed(&img, fd, der, derlen, err, sizeof(err)) == 0, "%s", err);
	close(fd);
	free(der);
	pe_free(&img);
	free(buf);
	X509_free(cert);
	EVP_PKEY_free(key);
}

/* Sign dir/in at time when with db.key into dir/out. */
static void
sign_file(const char *in, const char *out, time_t when)
{
	sign_file_with(in, out, when, "db.key", "db.crt");
}

/* sbsign's bytes: for an unsigned image, and for one signed once more. */
START_TEST(test_like_sbsign)
{
	SH_OK("cp " EFI " in.efi && sbsign --key db.key --cert db.crt --output sb1.efi in.efi "
	      "2>/dev/null");
	sign_file("in.efi", "our1.efi", sbsign_time("sb1.efi"));
	SH_OK("cmp sb1.efi our1.efi");
	SH_OK("sbverify --cert db.crt our1.efi >/dev/null 2>&1");
	SH_OK("osslsigncode verify -CAfile db.crt -in our1.efi >/dev/null 2>&1");
	/* a second signature: the first table kept, the new entry after it */
	SH_OK("sbsign --key db.key --cert db.crt --output sb2.efi sb1.efi 2>/dev/null");
	sign_file("sb1.efi", "our2.efi", sbsign_time("sb2.efi"));
	SH_OK("cmp sb2.efi our2.efi");
}
END_TEST

/* A minimal PE32+ (2 sections) into buf (0x600 bytes); offsets for tests. */
#define MINI_SIZE 0x600
#define MINI_OPT (0x40 + 24)
#define MINI_SECT (MINI_OPT + 240)
static void
put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}
static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}
static void
mini_pe(unsigned char *b)
{
	memset(b, 0, MINI_SIZE);
	b[0] = 'M', b[1] = 'Z';
	put32(b + 0x3c, 0x40);
	memcpy(b + 0x40, "PE\0\0", 4);
	put16(b + 0x44, 0x8664);
	put16(b + 0x46, 2);
	put16(b + 0x54, 240);
	put16(b + MINI_OPT, 0x20b);
	put32(b + MINI_OPT + 36, 0x200); /* FileAlignment */
	put32(b + MINI_OPT + 60, 0x200); /* SizeOfHeaders */
	put32(b + MINI_OPT + 108, 16);
	memcpy(b + MINI_SECT, ".text", 5);
	put32(b + MINI_SECT + 16, 0x200);
	put32(b + MINI_SECT + 20, 0x200);
	memcpy(b + MINI_SECT + 40, ".data", 5);
	put32(b + MINI_SECT + 56, 0x200);
	put32(b + MINI_SECT + 60, 0x400);
	for (int i = 0x200; i < MINI_SIZE; i++)
		b[i] = (unsigned char)(i * 7);
}

static void
assert_refused(const unsigned char *b, size_t len, const char *why)
{
	struct pe_image img;

	ck_assert_int_eq(pe_parse(b, len, &img, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, why) != NULL, "\"%s\" does not say \"%s\"", err, why);
	ck_assert_ptr_null(img.regions);
}

/* The minimal image parses; each broken header is refused with a reason. */
START_TEST(test_refused)
{
	unsigned char b[MINI_SIZE + 16];
	struct pe_image img;

	mini_pe(b);
	ck_assert_msg(pe_parse(b, MINI_SIZE, &img, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(img.data_size, MINI_SIZE);
	ck_assert_uint_eq(img.nregions, 5);
	pe_free(&img);
	assert_refused(b, 0, "no DOS header");
	assert_refused((const unsigned char *)"MZ", 2, "no DOS header");
	b[0] = 'X';
	assert_refused(b, MINI_SIZE, "no DOS header");
	mini_pe(b);
	put32(b + 0x3c, 0xfffffff0);
	assert_refused(b, MINI_SIZE, "no PE signature");
	mini_pe(b);
	put16(b + MINI_OPT, 0x10c);
	assert_refused(b, MINI_SIZE, "optional header magic");
	mini_pe(b);
	put16(b + 0x54, 112 + 32);
	assert_refused(b, MINI_SIZE, "no certificate table entry");
	mini_pe(b);
	put16(b + 0x46, 40);
	assert_refused(b, 0x200, "section table");
	mini_pe(b);
	put32(b + MINI_OPT + 60, MINI_SIZE + 1);
	assert_refused(b, MINI_SIZE, "SizeOfHeaders");
	mini_pe(b);
	put32(b + MINI_SECT + 60, 0x500);
	assert_refused(b, MINI_SIZE, "past the end");
	mini_pe(b);
	put32(b + MINI_SECT + 60, 0x300);
	assert_refused(b, MINI_SIZE, "overlap");
	mini_pe(b);
	put32(b + MINI_SECT + 16, 2); /* over the checksum: signing would change it */
	put32(b + MINI_SECT + 20, MINI_OPT + 64);
	assert_refused(b, MINI_SIZE, "inside the headers");
	mini_pe(b);
	put32(b + MINI_OPT + 144, 0x400); /* a certificate table over .data */
	put32(b + MINI_OPT + 148, 0x200);
	assert_refused(b, MINI_SIZE, "certificate table");
}
END_TEST

/* The minimal image, odd-sized (x86-64) or not (arm64): sbsign signs it
 * to the same bytes. */
START_TEST(test_small_image)
{
	unsigned char b[MINI_SIZE];
	char path[PATH_MAX];

	mini_pe(b);
	snprintf(path, sizeof(path), "%s/mini.efi", dir);
	ck_assert_int_eq(util_write_file(path, b, MINI_SIZE - 3, 0600), 0);
	SH_OK("sbsign --key db.key --cert db.crt --output sbmini.efi mini.efi 2>/dev/null");
	sign_file("mini.efi", "ourmini.efi", sbsign_time("sbmini.efi"));
	SH_OK("cmp sbmini.efi ourmini.efi");
	/* an arm64 one (BOOTAA64.efi, a kernel Image), the size a multiple of 8 */
	put16(b + 0x44, 0xaa64);
	snprintf(path, sizeof(path), "%s/aa64.efi", dir);
	ck_assert_int_eq(util_write_file(path, b, MINI_SIZE, 0600), 0);
	SH_OK("sbsign --key db.key --cert db.crt --output sbaa64.efi aa64.efi 2>/dev/null");
	sign_file("aa64.efi", "ouraa64.efi", sbsign_time("sbaa64.efi"));
	SH_OK("cmp sbaa64.efi ouraa64.efi");
}
END_TEST

/* An EC db key: ECDSA is asked for, and both verifiers accept the image. */
START_TEST(test_ec_key)
{
	SH_OK("openssl req -new -nodes -batch -x509 -days 30 -subj /CN=ecdb -newkey ec "
	      "-pkeyopt ec_paramgen_curve:P-256 -keyout ec.key -out ec.crt 2>/dev/null && "
	      "cp " EFI " ecin.efi");
	sign_file_with("ecin.efi", "ecout.efi", 1700000000, "ec.key", "ec.crt");
	SH_OK("sbverify --cert ec.crt ecout.efi >/dev/null 2>&1");
	SH_OK("osslsigncode verify -CAfile ec.crt -in ecout.efi >/dev/null 2>&1");
	SH_OK("! sbverify --cert db.crt ecout.efi >/dev/null 2>&1");
}
END_TEST

static int
setup(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	pkey_warm_up();
	return check_sh(dir, "openssl req -new -nodes -batch -x509 -days 30 -subj /CN=db "
			     "-newkey rsa:2048 -keyout db.key -out db.crt 2>/dev/null") == 0
		   ? 0
		   : -1;
}

static void
teardown(void)
{
	if (check_sh(NULL, "rm -rf '%s'", dir) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

CHECK_MAIN(.name = "pe",
	   .tests = CHECK_TESTS(test_like_sbsign, test_refused, test_small_image, test_ec_key),
	   .timeout = 60, .before = setup, .after = teardown);
