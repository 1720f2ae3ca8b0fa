/* SPDX-License-Identifier: MIT */
/*
 * l4t.c: L4T version, BSP tree and GUID (l4t.h).
 */
#include "l4t.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int
l4t_version_parse(const char *v, int n, int parts[])
{
	const char *p = v;

	if (v == NULL || n < 1 || n > 3)
		return -1;
	for (int i = 0; i < n; i++) {
		int val = 0, digits = 0;

		for (; isdigit((unsigned char)*p); p++, digits++)
			if (digits < L4T_PART_DIGITS)
				val = val * 10 + (*p - '0');
		if (digits == 0 || digits > L4T_PART_DIGITS)
			return -1;
		/* between parts a '.'; after the last one '.' or the end */
		if (*p != '.' && !(i == n - 1 && *p == '\0'))
			return -1;
		parts[i] = val;
		if (*p == '.')
			p++;
	}
	return 0;
}

int
l4t_tools_dir(const char *base, const char *bspversion, const char *soctype, char *out,
	      size_t outlen)
{
	struct stat st;
	int n;

	n = snprintf(out, outlen, "%s/L4T-%s-%s/Linux_for_Tegra", base, bspversion,
		     strcmp(soctype, "tegra194") == 0 ? "tegra186" : soctype);
	if (n < 0 || (size_t)n >= outlen || stat(out, &st) < 0 || !S_ISDIR(st.st_mode))
		return -1;
	return 0;
}

/* n hexadecimal digits at s. */
static int
hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int
l4t_guid_valid(const char *s)
{
	static const size_t groups[] = {8, 4, 4, 4, 12};
	size_t len, i;

	if (s == NULL)
		return 0;
	len = strlen(s);
	if (len >= 2 && s[0] == '{' && s[len - 1] == '}')
		s++, len -= 2;
	else if (strchr(s, '{') != NULL || strchr(s, '}') != NULL)
		return 0;
	if (len == 32)
		return hex_run(s, 32);
	if (len != 36)
		return 0;
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (!hex_run(s, groups[i]))
			return 0;
		s += groups[i];
		if (i < 4 && *s++ != '-')
			return 0;
	}
	return 1;
}

void
l4t_version_hex(const int parts[3], char *out, size_t outlen)
{
	unsigned long v = ((unsigned long)parts[0] << 16) | ((unsigned long)parts[1] << 8) |
			  (unsigned long)parts[2];

	snprintf(out, outlen, "0x%lx", v);
}
