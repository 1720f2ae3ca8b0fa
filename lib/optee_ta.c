/* SPDX-License-Identifier: MIT */
/*
 * optee_ta.c: OP-TEE bootstrap TAs (optee_ta.h).
 */
#include "optee_ta.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fsutil.h"
#include "util.h"

int
optee_uuid_parse(const char *text, size_t len, unsigned char uuid[16])
{
	const char *p = text, *end = text + len;
	int n = 0, v;

	if (len >= 9 && strncmp(p, "urn:uuid:", 9) == 0)
		p += 9;
	if (p < end && *p == '{') {
		if (end[-1] != '}' || end - p < 2)
			return -1;
		p++;
		end--;
	}
	for (; p < end; p++) {
		if (*p == '-')
			continue;
		if ((v = util_hexval((unsigned char)*p)) < 0 || n == 32)
			return -1;
		if (n % 2 == 0)
			uuid[n / 2] = (unsigned char)(v << 4);
		else
			uuid[n / 2] |= (unsigned char)v;
		n++;
	}
	return n == 32 ? 0 : -1;
}

int
optee_ta_name(const char *name, unsigned char uuid[16], char *why, size_t whylen)
{
	const char *base = strrchr(name, '/');
	size_t n, sl = strlen(OPTEE_ELF_SUFFIX);

	base = base != NULL ? base + 1 : name;
	n = strlen(base);
	if (n < sl || strcmp(base + n - sl, OPTEE_ELF_SUFFIX) != 0)
		return 0;
	if (optee_uuid_parse(base, n - sl, uuid) < 0) {
		util_err(why, whylen, -1, "the TA's name (before %s) is not a UUID",
			 OPTEE_ELF_SUFFIX);
		return -1;
	}
	return 1;
}

/* White space as Python's str.strip() sees it in ASCII. */
static int
py_space(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* The digits of base in [p, end) with single '_' between them (and one
 * allowed first when lead_ok, after a 0x prefix), into *v (capped);
 * 0, or -1 when they are not such digits. */
static int
digits(const char *p, const char *end, int base, int lead_ok, uint64_t *v)
{
	int prev_us = lead_ok ? 0 : 1, any = 0, d;

	*v = 0;
	for (; p < end; p++) {
		if (*p == '_') {
			if (prev_us)
				return -1;
			prev_us = 1;
			continue;
		}
		d = util_hexval((unsigned char)*p);
		if (d < 0 || d >= base)
			return -1;
		*v = *v > UINT32_MAX ? *v : *v * (uint64_t)base + (uint64_t)d;
		prev_us = 0;
		any = 1;
	}
	return any && !prev_us ? 0 : -1;
}

/* Python's int(text, 0) of the stripped [p, end) into *v (capped above
 * UINT32_MAX); *neg set for a '-'.  0, or -1. */
static int
py_int0(const char *p, const char *end, uint64_t *v, int *neg)
{
	int base = 10;

	*neg = 0;
	if (p < end && (*p == '+' || *p == '-'))
		*neg = *p++ == '-';
	if (end - p >= 2 && p[0] == '0') {
		switch (p[1]) {
		case 'x':
		case 'X':
			base = 16;
			break;
		case 'o':
		case 'O':
			base = 8;
			break;
		case 'b':
		case 'B':
			base = 2;
			break;
		default:
			break;
		}
	}
	if (base != 10)
		return digits(p + 2, end, base, 1, v);
	if (digits(p, end, 10, 0, v) < 0)
		return -1;
	/* "010" is refused (it would be octal in C), "00" and "0_0" are 0 */
	return p < end && *p == '0' && *v != 0 ? -1 : 0;
}

int
optee_version_parse(const char *text, size_t len, uint32_t *version, char *why, size_t whylen)
{
	const char *p = text, *end = text, *stop = text + len;
	uint64_t v;
	int neg;

	while (end < stop && *end != '\n' && *end != '\r')
		end++;
	if (end - text > OPTEE_VERSION_LINE_MAX)
		return util_err(why, whylen, -1, "its first line is longer than %d bytes",
				OPTEE_VERSION_LINE_MAX);
	while (p < end && py_space((unsigned char)*p))
		p++;
	while (end > p && py_space((unsigned char)end[-1]))
		end--;
	if (p == end)
		return util_err(why, whylen, -1, "its first line is empty");
	if (py_int0(p, end, &v, &neg) < 0)
		return util_err(why, whylen, -1, "not a number (decimal, 0x, 0o or 0b)");
	if ((neg && v != 0) || v > UINT32_MAX)
		return util_err(why, whylen, -1, "not a 32-bit unsigned number");
	*version = (uint32_t)v;
	return 0;
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

int
optee_ta_init(struct optee_ta *ta, const unsigned char uuid[16], uint32_t version,
	      uint64_t img_size, size_t sig_size, char *why, size_t whylen)
{
	memset(ta, 0, sizeof(*ta));
	if (img_size > OPTEE_IMG_MAX)
		return util_err(why, whylen, -1, "%llu bytes: larger than a TA can be (4 GiB - 1)",
				(unsigned long long)img_size);
	if (sig_size == 0 || sig_size > OPTEE_SIG_MAX)
		return util_err(why, whylen, -1, "a %zu-byte signature does not fit", sig_size);
	ta->img_size = (uint32_t)img_size;
	ta->sig_size = sig_size;
	put32(ta->shdr, OPTEE_SHDR_MAGIC);
	put32(ta->shdr + 4, OPTEE_SHDR_BOOTSTRAP_TA);
	put32(ta->shdr + 8, ta->img_size);
	put32(ta->shdr + 12, OPTEE_ALG_RSA_PSS_SHA256);
	ta->shdr[16] = OPTEE_HASH_SIZE;
	ta->shdr[17] = 0;
	ta->shdr[18] = (unsigned char)sig_size;
	ta->shdr[19] = (unsigned char)(sig_size >> 8);
	memcpy(ta->boot, uuid, 16);
	put32(ta->boot + 16, version);
	return 0;
}

/* Copy the image from img to out at off while hashing it into md; the
 * bytes copied, or -1 with err. */
static int64_t
copy_hash(int img, int out, uint64_t off, EVP_MD_CTX *md, char *err, size_t errlen)
{
	unsigned char b[65536];
	uint64_t total = 0;
	ssize_t n;

	for (;;) {
		n = read(img, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return util_err(err, errlen, -1, "reading the ELF: %s", strerror(errno));
		if (n == 0)
			return (int64_t)total;
		if (EVP_DigestUpdate(md, b, (size_t)n) != 1)
			return util_err(err, errlen, -1, "hashing the ELF");
		if (fs_pwrite_full(out, b, (size_t)n, off + total) < 0)
			return util_err(err, errlen, -1, "writing the TA: %s", strerror(errno));
		total += (uint64_t)n;
		if (total > OPTEE_IMG_MAX)
			return util_err(err, errlen, -1, "the ELF grew past 4 GiB");
	}
}

int
optee_ta_write_body(int out, struct optee_ta *ta, int img, char *err, size_t errlen)
{
	uint64_t boot_off = OPTEE_SHDR_SIZE + OPTEE_HASH_SIZE + ta->sig_size;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int64_t n = -1;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, ta->shdr, sizeof(ta->shdr)) != 1 ||
	    EVP_DigestUpdate(md, ta->boot, sizeof(ta->boot)) != 1) {
		util_err(err, errlen, -1, "hashing the TA");
		goto done;
	}
	if (fs_pwrite_full(out, ta->shdr, sizeof(ta->shdr), 0) < 0 ||
	    fs_pwrite_full(out, ta->boot, sizeof(ta->boot), boot_off) < 0) {
		util_err(err, errlen, -1, "writing the TA: %s", strerror(errno));
		goto done;
	}
	if ((n = copy_hash(img, out, boot_off + OPTEE_BOOT_SIZE, md, err, errlen)) < 0)
		goto done;
	if ((uint64_t)n != ta->img_size) {
		util_err(err, errlen, -1, "the ELF has %lld bytes, not %u", (long long)n,
			 ta->img_size);
		n = -1;
		goto done;
	}
	if (EVP_DigestFinal_ex(md, ta->digest, NULL) != 1) {
		util_err(err, errlen, -1, "hashing the TA");
		n = -1;
	}
done:
	EVP_MD_CTX_free(md);
	return n < 0 ? -1 : 0;
}

int
optee_ta_write_sig(int out, const struct optee_ta *ta, const unsigned char *sig, size_t siglen,
		   char *err, size_t errlen)
{
	if (siglen != ta->sig_size)
		return util_err(err, errlen, -1, "a %zu-byte signature, not %zu", siglen,
				ta->sig_size);
	if (fs_pwrite_full(out, ta->digest, sizeof(ta->digest), OPTEE_SHDR_SIZE) < 0 ||
	    fs_pwrite_full(out, sig, siglen, OPTEE_SHDR_SIZE + OPTEE_HASH_SIZE) < 0)
		return util_err(err, errlen, -1, "writing the TA: %s", strerror(errno));
	return 0;
}
