/* SPDX-License-Identifier: MIT */
/*
 * imxcsf.c: the checks /sign/imx makes on its client's input (imxcsf.h).
 */
#include "imxcsf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "util.h"

int
imx_csf_text_check(const unsigned char *text, size_t len, char *why, size_t whylen)
{
	size_t i = 0, n;

	while (i < len) {
		if (text[i] == '\0') {
			snprintf(why, whylen, "a NUL byte at byte %zu", i);
			return -1;
		}
		if ((n = util_utf8_seq(text + i, len - i)) == 0) {
			snprintf(why, whylen, "not UTF-8 text at byte %zu", i);
			return -1;
		}
		i += n;
	}
	return 0;
}

int
imx_name_check(const char *name, char *why, size_t whylen)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				 "0123456789._+,=@~-";
	size_t n = name != NULL ? strlen(name) : 0;

	if (n == 0) {
		snprintf(why, whylen, "the file has no name");
		return -1;
	}
	if (n > IMX_NAME_MAX) {
		snprintf(why, whylen, "the file name is longer than %d bytes", IMX_NAME_MAX);
		return -1;
	}
	if (strspn(name, ok) != n) {
		snprintf(why, whylen,
			 "the file name may hold only letters, digits and ._+,=@~- "
			 "(no '/', no space)");
		return -1;
	}
	if (name[0] == '.' || name[0] == '-') {
		snprintf(why, whylen, "the file name may not start with '.' or '-'");
		return -1;
	}
	if (strcmp(name, "csf-input.txt") == 0) {
		snprintf(why, whylen, "the file name is the CSF's own");
		return -1;
	}
	return 0;
}

int
imx_cstversion_valid(const char *v)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				 "0123456789.";
	size_t n = v != NULL ? strlen(v) : 0;

	if (n == 0 || n > 32 || strspn(v, ok) != n)
		return 0;
	/* no empty part: no "..", no leading or trailing dot */
	return v[0] != '.' && v[n - 1] != '.' && strstr(v, "..") == NULL;
}

/* The next placeholder in text[from, len), or NULL. */
static const unsigned char *
next_placeholder(const unsigned char *text, size_t len, size_t from)
{
	const size_t plen = sizeof(IMX_PIN_PLACEHOLDER) - 1;

	for (size_t i = from; i + plen <= len; i++)
		if (memcmp(text + i, IMX_PIN_PLACEHOLDER, plen) == 0)
			return text + i;
	return NULL;
}

size_t
imx_pin_count(const unsigned char *text, size_t len)
{
	const size_t plen = sizeof(IMX_PIN_PLACEHOLDER) - 1;
	const unsigned char *p;
	size_t n = 0, at = 0;

	while ((p = next_placeholder(text, len, at)) != NULL) {
		n++;
		at = (size_t)(p - text) + plen;
	}
	return n;
}

int
imx_pin_substitute(const unsigned char *text, size_t len, const char *pin, struct buf *out)
{
	const size_t plen = sizeof(IMX_PIN_PLACEHOLDER) - 1;
	const unsigned char *p;
	size_t at = 0;

	while ((p = next_placeholder(text, len, at)) != NULL) {
		if (buf_append(out, text + at, (size_t)(p - text) - at) < 0 ||
		    buf_puts(out, "pin-value=") < 0 || buf_puts(out, pin) < 0)
			return -1;
		at = (size_t)(p - text) + plen;
	}
	return buf_append(out, text + at, len - at);
}

/* 1 when the section header [h, h + n) (without brackets) names a data
 * section: its last word is "Data", in any case. */
static int
data_section(const unsigned char *h, size_t n)
{
	while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	return n >= 4 && strncasecmp((const char *)h + n - 4, "data", 4) == 0 &&
	       (n == 4 || h[n - 5] == ' ' || h[n - 5] == '\t');
}

/* One quoted string [s, s + n) of the CSF: 0, or -1 with why. */
static int
check_quoted(const unsigned char *s, size_t n, int in_data, const char *name, char *why,
	     size_t whylen)
{
	static const char csf[] = "csf-input.txt";
	size_t nl = strlen(name);

	if (n >= 2 && s[0] == '.' && s[1] == '/') {
		s += 2;
		n -= 2;
	}
	if (n == sizeof(csf) - 1 && memcmp(s, csf, n) == 0) {
		snprintf(why, whylen, "it names csf-input.txt");
		return -1;
	}
	if (in_data && (n != nl || memcmp(s, name, n) != 0)) {
		snprintf(why, whylen, "a data block names \"%.*s\", not the artifact",
			 (int)(n > 64 ? 64 : n), (const char *)s);
		return -1;
	}
	return 0;
}

int
imx_csf_blocks_check(const unsigned char *text, size_t len, const char *name, char *why,
		     size_t whylen)
{
	int in_data = 0;

	for (size_t i = 0; i < len;) {
		size_t end = i;

		while (end < len && text[end] != '\n')
			end++;
		while (i < end && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
			i++;
		if (i < end && text[i] == '[') {
			const unsigned char *close = memchr(text + i, ']', end - i);

			if (close != NULL)
				in_data = data_section(text + i + 1, (size_t)(close - text) - i - 1);
		}
		for (; i < end && text[i] != '#'; i++) {
			size_t q;

			if (text[i] != '"')
				continue;
			for (q = i + 1; q < end && text[q] != '"'; q++)
				;
			if (check_quoted(text + i + 1, q - i - 1, in_data, name, why, whylen) < 0)
				return -1;
			i = q;
		}
		i = end + 1;
	}
	return 0;
}
