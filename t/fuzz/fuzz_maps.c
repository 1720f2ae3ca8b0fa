/* SPDX-License-Identifier: MIT */
/*
 * fuzz_maps.c: libFuzzer harness for the /proc/self/maps line parser
 * (lib/maps.c): any bytes, read as one line, are a mapping or refused,
 * and what a mapping is said to be holds.
 */
/* fuzz-sources: lib/maps.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maps.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	struct maps_entry e;

	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (maps_parse_line(line, &e) == 0) {
		size_t len = strlen(line);

		if (e.start > e.end || strlen(e.perms) != 4 || strspn(e.perms, "rwxsp-") != 4)
			__builtin_trap();
		/* the name is the line's tail, without its newline */
		if (e.name < line || e.name > line + len || strchr(e.name, '\n') != NULL)
			__builtin_trap();
		if (maps_is_stack(&e) && (e.inode != 0 || strcmp(e.name, "[stack]") != 0))
			__builtin_trap();
		if (maps_is_file(&e) && e.name[0] != '/')
			__builtin_trap();
	}
	free(line);
	return 0;
}
