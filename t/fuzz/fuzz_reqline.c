/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reqline.c: libFuzzer harness for the supervisor's request-line
 * parser and head scanner (lib/reqline.c), the first client bytes the
 * daemon reads, and the Accept check that picks the /status page.
 */
/* fuzz-sources: lib/reqline.c lib/util.c lib/log.c */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "reqline.h"

/* Scanning in pieces (sizes taken from the data) finds what one scan of
 * the whole finds, and what it finds is where it says. */
static void
check_scan(const char *data, size_t size)
{
	struct reqline_scan whole = {0}, parts = {0};
	int rw = reqline_scan(&whole, data, size), rp = 0;

	for (size_t n = 0; n < size && rp == 0;) {
		n += 1 + (unsigned char)data[n] % 7;
		rp = reqline_scan(&parts, data, n < size ? n : size);
	}
	if (rw != rp)
		__builtin_trap();
	if (rw < 0)
		return;
	if (whole.have_line != parts.have_line || whole.have_head != parts.have_head ||
	    whole.start != parts.start || whole.line_len != parts.line_len ||
	    whole.head_end != parts.head_end)
		__builtin_trap();
	if (whole.have_line && (whole.start + whole.line_len >= size ||
				data[whole.start + whole.line_len] != '\n' || whole.line_len == 0))
		__builtin_trap();
	if (whole.have_head &&
	    (!whole.have_line || whole.head_end > size || data[whole.head_end - 1] != '\n'))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reqline rl;
	int st = reqline_parse((const char *)data, size, &rl);

	if (st == 0) {
		/* a routed path is absolute, NUL-terminated, without "//" or a query */
		if (rl.path[0] != '/' || strstr(rl.path, "//") != NULL || strchr(rl.path, '?'))
			__builtin_trap();
		if (strlen(rl.method) == 0)
			__builtin_trap();
	}
	check_scan((const char *)data, size);
	/* the Accept header of GET /status: any head, no crash, a yes or no */
	if ((unsigned)reqline_accepts_html((const char *)data, size) > 1)
		__builtin_trap();
	return 0;
}
