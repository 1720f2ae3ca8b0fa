/* SPDX-License-Identifier: MIT */
/*
 * rkparams.c: the Rockchip signers' form fields (rkparams.h).
 */
#include "rkparams.h"

#include <string.h>
#include <strings.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The index of v in list (case-insensitive with fold), or -1. */
static int
one_of(const char *v, const char *const *list, size_t n, int fold)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		if ((fold ? strcasecmp(v, list[i]) : strcmp(v, list[i])) == 0)
			return (int)i;
	return -1;
}

const char *
rk_soctype_chip(const char *soctype)
{
	static const char *const socs[] = {"rk3588", "rk3566", "rk3568"};

	return one_of(soctype, socs, NELEM(socs), 0) < 0 ? NULL : soctype + 2;
}

int
rk_artifact_type(const char *v)
{
	/* in enum rk_artifact's order */
	static const char *const types[] = {"fit-image", "idblock", "usbloader"};

	return one_of(v, types, NELEM(types), 1);
}

int
rk_to_boolean(const char *v)
{
	static const char *const yes[] = {"y", "yes", "1", "t", "true", "on"};

	return one_of(v, yes, NELEM(yes), 1) >= 0;
}

int
rk_hex_offset(const char *v)
{
	size_t n;

	if (v == NULL)
		return 0;
	if (strncmp(v, "0x", 2) == 0 || strncmp(v, "0X", 2) == 0)
		v += 2;
	n = strlen(v);
	return n > 0 && n <= 16 && strspn(v, "0123456789abcdefABCDEF") == n;
}

int
rk_ta_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n >= 3 && strcmp(name + n - 3, ".ta") == 0;
}
