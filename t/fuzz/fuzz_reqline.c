/*
 * fuzz_reqline.c: libFuzzer harness for the supervisor's request-line
 * parser (lib/reqline.c), the first client bytes the daemon reads.
 */
/* fuzz-sources: lib/reqline.c lib/util.c lib/log.c */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "reqline.h"

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
	return 0;
}
