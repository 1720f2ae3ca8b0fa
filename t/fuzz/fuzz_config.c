/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c: libFuzzer harness for the configuration file parser
 * (conf_load_buffer in lib/config.c) and the WORKER_UIDS range in it
 * (conf_worker_uids): a range it takes is within its bounds.
 */
/* fuzz-sources: lib/config.c lib/acl.c lib/buf.c lib/scheme.c lib/util.c lib/log.c */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct config cfg;
	char err[512];

	if (!init) {
		log_init("fuzz", LOG_LVL_ERROR + 1, 0);
		init = 1;
	}
	conf_defaults(&cfg);
	if (conf_load_buffer(&cfg, (const char *)data, size, "fuzz", err, sizeof(err)) == 0) {
		unsigned long first, count;

		(void)conf_validate(&cfg, err, sizeof(err));
		if (conf_worker_uids(&cfg, &first, &count, err, sizeof(err)) == 0 && count > 0 &&
		    (first == 0 || count > 4096 || first + count - 1 > 0x7ffffffeUL ||
		     count < 2 * (unsigned long)cfg.workers))
			abort();
	}
	conf_free(&cfg);
	return 0;
}
