/* SPDX-License-Identifier: MIT */
/*
 * fuzz_fit.c: libFuzzer harness for lib/fit.c: the FIT reader
 * (fit_scan) on the input as an uploaded fitImage, and the DTB key-name
 * search on the same bytes fed in two chunks.
 */
/* fuzz-sources: lib/fit.c */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fit.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fit_info fi;
	struct fit_keyname k;
	char err[256];
	size_t half = size / 2;

	if (fit_scan(data, size, &fi, err, sizeof(err)) == 0) {
		if (fi.nsigs > FIT_SIGS_MAX)
			__builtin_trap();
		for (size_t i = 0; i < fi.nsigs; i++)
			if (strlen(fi.sigs[i].hint) >= sizeof(fi.sigs[i].hint))
				__builtin_trap();
	} else if (strlen(err) == 0) {
		__builtin_trap();
	}
	fit_keyname_init(&k);
	fit_keyname_feed(&k, data, half);
	fit_keyname_feed(&k, data + half, size - half);
	if (fit_keyname_done(&k) && strlen(k.name) >= sizeof(k.name))
		__builtin_trap();
	return 0;
}
