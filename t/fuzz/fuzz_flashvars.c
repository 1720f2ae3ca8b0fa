/* SPDX-License-Identifier: MIT */
/*
 * fuzz_flashvars.c: libFuzzer harness for the reader of the files the
 * Tegra flash helpers source (flashvars, bsp_version).
 *
 * Beyond "no crash, no leak", it checks what makes the rewrite safe to
 * source: every line of the text the helper gets is NAME='value' with a
 * value free of quotes and of every character a shell interprets, and the
 * rewrite of the rewrite is the same text.
 */
/* fuzz-sources: lib/flashvars.c lib/util.c lib/log.c */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flashvars.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *out)
{
	for (const char *line = out; *line;) {
		const char *eol = strchr(line, '\n'), *eq = strchr(line, '=');

		if (eol == NULL || eq == NULL || eq > eol || eq[1] != '\'' || eol[-1] != '\'' ||
		    eol - eq < 3)
			abort();
		for (const char *p = eq + 2; p < eol - 1; p++)
			if (strchr("'\"$`;&|<>\\()\t\r", *p) != NULL || (unsigned char)*p < 0x20)
				abort();
		line = eol + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int which = 0; which < 2; which++) {
		char err[256], *out = NULL, *again = NULL;

		err[0] = '\0';
		if (flashvars_rewrite((enum flashvars_file)which, (const char *)data, size, &out, err,
				      sizeof(err)) < 0) {
			if (err[0] == '\0' || out != NULL)
				abort();
			continue;
		}
		check_text(out);
		if (flashvars_rewrite((enum flashvars_file)which, out, strlen(out), &again, err,
				      sizeof(err)) < 0 ||
		    strcmp(out, again) != 0)
			abort();
		free(out);
		free(again);
	}
	return 0;
}
