/* SPDX-License-Identifier: MIT */
/*
 * fuzz_grant.c: libFuzzer harness for the supervisor's reading of a
 * request head for a job's grant (src/grant.c): the only header lines the
 * supervisor reads.  The input is the head; a client it names must hold a
 * credential that appears, once, in it.
 */
/* fuzz-sources: src/grant.c lib/tokens.c lib/acl.c lib/config.c lib/scheme.c lib/buf.c lib/util.c lib/log.c */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../src/grant.h"
#include "config.h"
#include "tokens.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tokens *tk;
	static struct config cfg;
	static struct sockaddr_storage peer;
	const struct token_client *c;
	char err[256];

	if (tk == NULL) {
		/* "tok1" and a subject; the peer is a trusted proxy */
		const char *text =
		    "ci mender demo "
		    "sha256:80b3ad2d438bfafa1ea690c5a59f54548dcc76ad6a839c6704ac1d9d565d9c80\n"
		    "proxy tegra orin-* subject:CN=b\n";
		struct sockaddr_in *a = (struct sockaddr_in *)&peer;

		conf_defaults(&cfg);
		if (conf_set(&cfg, "TRUSTED_PROXIES", "127.0.0.1", err, sizeof(err)) < 0 ||
		    tokens_parse(text, strlen(text), "fuzz", &tk, err, sizeof(err)) < 0)
			__builtin_trap();
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	c = grant_client(tk, &cfg, (const char *)data, size, &peer);
	if (c != NULL && memmem(data, size, "tok1", 4) == NULL &&
	    memmem(data, size, "CN=b", 4) == NULL)
		__builtin_trap();
	return 0;
}
