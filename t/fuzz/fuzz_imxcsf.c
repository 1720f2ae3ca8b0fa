/* SPDX-License-Identifier: MIT */
/*
 * fuzz_imxcsf.c: libFuzzer harness for lib/imxcsf.c, what /sign/imx
 * checks of its client's input: the bytes as a CSF text, and (up to the
 * first NUL) as an artifact name and a cstversion.
 *
 * Beyond "no crash", it checks what workers/imx.c relies on: an accepted
 * CSF has no NUL and every byte of it is ASCII or part of a well-formed
 * UTF-8 sequence (checked against a second, naive decoder); an accepted
 * name is one path segment that is neither "." nor "..", cannot be an
 * option and is not csf-input.txt; an accepted cstversion has no '/' and
 * no ".."; the PIN substitution replaces exactly the counted
 * placeholders; only a quoted name makes the data-block check refuse.
 */
/* fuzz-sources: lib/imxcsf.c lib/buf.c lib/util.c lib/log.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imxcsf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when data is UTF-8 as RFC 3629's table 3-7 lists it, without NUL. */
static int
naive_utf8(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		size_t k = c < 0x80                 ? 1
			   : c >= 0xc2 && c <= 0xdf ? 2
			   : c >= 0xe0 && c <= 0xef ? 3
			   : c >= 0xf0 && c <= 0xf4 ? 4
						    : 0;
		uint8_t lo = 0x80, hi = 0xbf;

		if (c == 0 || k == 0 || i + k > n)
			return 0;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		else if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		for (size_t j = 1; j < k; j++, lo = 0x80, hi = 0xbf)
			if (p[i + j] < lo || p[i + j] > hi)
				return 0;
		i += k;
	}
	return 1;
}

static void
check_pin(const uint8_t *data, size_t size)
{
	static const char pin[] = "0001PIN";
	size_t count = imx_pin_count(data, size), plen = sizeof(IMX_PIN_PLACEHOLDER) - 1;
	struct buf out;

	buf_init(&out, BUF_UNLIMITED, 1);
	if (imx_pin_substitute(data, size, pin, &out) < 0 ||
	    out.len != size + count * (strlen("pin-value=") + strlen(pin)) - count * plen)
		abort();
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[128], *s = malloc(size + 1);
	int ok;

	if (s == NULL)
		return 0;
	ok = imx_csf_text_check(data, size, why, sizeof(why)) == 0;
	if (ok != naive_utf8(data, size) || (ok && memchr(data, 0, size) != NULL))
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (imx_name_check(s, why, sizeof(why)) == 0 &&
	    (strchr(s, '/') != NULL || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || s[0] == '-' ||
	     s[0] == '.' || strcmp(s, "csf-input.txt") == 0 || strlen(s) > IMX_NAME_MAX))
		abort();
	if (imx_cstversion_valid(s) && (strchr(s, '/') != NULL || strstr(s, "..") != NULL))
		abort();
	check_pin(data, size);
	/* the data blocks: only a quoted name can be refused */
	if (imx_csf_blocks_check(data, size, "flash.bin", why, sizeof(why)) != 0 &&
	    memchr(data, '"', size) == NULL)
		abort();
	free(s);
	return 0;
}
