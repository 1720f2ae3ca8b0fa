/* SPDX-License-Identifier: MIT */
/*
 * fuzz_urlencoded.c: libFuzzer harness for the
 * application/x-www-form-urlencoded parser (lib/form.c).
 *
 * Checks the limits hold (field size, number of fields), that names are
 * unique and values NUL-terminated without a NUL inside, and that a
 * failed parse leaves an empty form.
 */
/* fuzz-sources: lib/form.c lib/multipart.c lib/http.c lib/reqline.c lib/reply.c lib/buf.c lib/util.c lib/log.c lib/pkey.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct form f;
	char err[256];
	size_t field_max = 64;
	int max_parts = 8;

	if (form_parse_urlencoded(data, size, field_max, max_parts, &f, err, sizeof(err)) != 0) {
		if (f.nfields != 0 || f.fields != NULL)
			abort();
		return 0;
	}
	if (f.nfields > (size_t)max_parts || f.nfiles != 0)
		abort();
	for (size_t i = 0; i < f.nfields; i++) {
		const struct form_field *fl = &f.fields[i];

		if (fl->len > field_max || fl->value[fl->len] != '\0' ||
		    strlen(fl->value) != fl->len || fl->name[0] == '\0' ||
		    strlen(fl->name) > field_max || strcmp(fl->type, "text/plain") != 0)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(f.fields[j].name, fl->name) == 0)
				abort();
		if (form_field(&f, fl->name) != fl->value)
			abort();
	}
	form_free(&f);
	return 0;
}
