/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tokens.c: libFuzzer harness for the tokens file parser
 * (tokens_parse in lib/tokens.c, DIGSIGSERVER_TOKENS_FILE).  What it
 * takes is one line per client and each credential one client's: no two
 * names are the same, and the client found for a bearer token or a
 * subject is the one whose line holds it.
 */
/* fuzz-sources: lib/tokens.c lib/buf.c lib/util.c lib/log.c */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "tokens.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	static const char *const probes[] = {"", "a", "token", "CN=x", "sha256:", "subject:CN=x"};
	struct tokens *t = NULL;
	char err[512];

	if (!init) {
		log_init("fuzz", LOG_LVL_ERROR + 1, 0);
		init = 1;
	}
	if (tokens_parse((const char *)data, size, "fuzz", &t, err, sizeof(err)) < 0) {
		if (t != NULL || err[0] == '\0')
			__builtin_trap(); /* refused: no table, and a reason */
		return 0;
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		const struct token_client *b = tokens_by_bearer(t, probes[i]);
		const struct token_client *s = tokens_by_subject(t, probes[i]);

		/* a client found names itself, and answers for its endpoints */
		if (b != NULL && tokens_name(b) == NULL)
			__builtin_trap();
		if (s != NULL && tokens_name(s) == NULL)
			__builtin_trap();
		if (b != NULL)
			(void)tokens_allows_endpoint(b, "swupdate");
	}
	tokens_free(t);
	return 0;
}
