/* SPDX-License-Identifier: MIT */
/*
 * l4t.h: what the Jetson signers (workers/tegra.c, workers/uefitegra.c)
 * read of their L4T parameters: the BSP version as the original's int()
 * of its dot parts reads it, the BSP tree it names under L4T_TOOLS_BASE,
 * and a UEFI capsule's GUID.
 */
#ifndef DSS_L4T_H
#define DSS_L4T_H

#include <stddef.h>

/* Digits one version part may have (a larger one is refused). */
#define L4T_PART_DIGITS 6

/*
 * Parse the first n (1 to 3) dot-separated parts of v as decimal numbers
 * into parts[0..n-1], as upstream's int() of v.split('.')[i] does for
 * i < n: each has 1 to L4T_PART_DIGITS digits; what follows the n-th part
 * must be the end or a '.' (the rest is not looked at).  0 or -1.
 */
int l4t_version_parse(const char *v, int n, int parts[]);
/*
 * The BSP tree "<base>/L4T-<bspversion>-<tree>/Linux_for_Tegra" into out,
 * where tree is tegra186 for soctype tegra194 and soctype otherwise (one
 * tree serves both Xavier and TX2).  0 when it is a directory, else -1.
 */
int l4t_tools_dir(const char *base, const char *bspversion, const char *soctype, char *out,
		  size_t outlen);
/*
 * 1 when s is a GUID as EDK2's GenerateCapsule.py takes it (Python's
 * uuid.UUID): 8-4-4-4-12 hexadecimal digits or 32 of them without
 * hyphens, either one optionally in braces; else 0.
 */
int l4t_guid_valid(const char *s);
/* The capsule's 32-bit version of major.minor.maint as upstream's
 * hex(major << 16 | minor << 8 | maint) prints it ("0x230401"). */
void l4t_version_hex(const int parts[3], char *out, size_t outlen);

#endif
