/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rkparams.c: libFuzzer harness for lib/rkparams.c, the Rockchip
 * signers' readers of client fields (the input as one NUL-terminated
 * field value).
 *
 * Beyond "no crash", it checks what workers/rk.c relies on: an accepted
 * soctype is one of the three and its chip is its last four characters;
 * an accepted artifact_type is an index of the three; an accepted
 * external_data_offset holds only hex digits (after an optional 0x), at
 * most 16, so mkimage's -p cannot misread it as an option.
 */
/* fuzz-sources: lib/rkparams.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rkparams.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *v = malloc(size + 1);
	const char *chip, *h;
	int t;

	if (v == NULL)
		return 0;
	memcpy(v, data, size);
	v[size] = '\0';
	if ((chip = rk_soctype_chip(v)) != NULL &&
	    (strlen(v) != 6 || chip != v + 2 ||
	     (strcmp(v, "rk3588") && strcmp(v, "rk3566") && strcmp(v, "rk3568"))))
		abort();
	if ((t = rk_artifact_type(v)) < -1 || t > RK_USBLOADER || (t >= 0 && strlen(v) > 9))
		abort();
	if (rk_to_boolean(v) && (strlen(v) > 4 || strlen(v) == 0))
		abort();
	if (rk_hex_offset(v)) {
		h = strncmp(v, "0x", 2) == 0 || strncmp(v, "0X", 2) == 0 ? v + 2 : v;
		if (*h == '\0' || strlen(h) > 16 ||
		    strspn(h, "0123456789abcdefABCDEF") != strlen(h))
			abort();
	}
	if (rk_ta_name(v) != (strlen(v) >= 3 && strcmp(v + strlen(v) - 3, ".ta") == 0))
		abort();
	free(v);
	return 0;
}
