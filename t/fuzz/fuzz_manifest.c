/* SPDX-License-Identifier: MIT */
/*
 * fuzz_manifest.c: libFuzzer harness for the Tegra MANIFEST parser.
 *
 * Beyond "no crash, no leak", it checks what the signer relies on: a
 * parsed manifest has non-empty names without '=' or line breaks, values
 * without line breaks or trailing blanks, no duplicate names, lookups
 * that find each value, and it parses back to itself when written out
 * as NAME=VALUE lines.
 */
/* fuzz-sources: lib/manifest.c lib/buf.c lib/util.c lib/log.c */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m, again;
	char err[256], *text;
	size_t len = 0, off = 0;

	if (manifest_parse((const char *)data, size, &m, err, sizeof(err)) < 0) {
		if (m.n != 0 || m.vars != NULL || err[0] == '\0')
			abort();
		return 0;
	}
	for (size_t i = 0; i < m.n; i++) {
		const char *n = m.vars[i].name, *v = m.vars[i].value;
		size_t vl = strlen(v);

		if (n[0] == '\0' || strpbrk(n, "=\r\n") != NULL || strpbrk(v, "\r\n") != NULL)
			abort();
		if (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			abort();
		if (manifest_get(&m, n) != v)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(m.vars[j].name, n) == 0)
				abort();
		len += strlen(n) + vl + 2;
	}
	text = xmalloc(len + 1);
	for (size_t i = 0; i < m.n; i++) {
		size_t nl = strlen(m.vars[i].name), vl = strlen(m.vars[i].value);

		memcpy(text + off, m.vars[i].name, nl);
		text[off + nl] = '=';
		memcpy(text + off + nl + 1, m.vars[i].value, vl);
		text[off + nl + 1 + vl] = '\n';
		off += nl + vl + 2;
	}
	if (manifest_parse(text, len, &again, err, sizeof(err)) < 0 || again.n != m.n)
		abort();
	for (size_t i = 0; i < m.n; i++)
		if (strcmp(again.vars[i].name, m.vars[i].name) != 0 ||
		    strcmp(again.vars[i].value, m.vars[i].value) != 0)
			abort();
	free(text);
	manifest_free(&again);
	manifest_free(&m);
	return 0;
}
