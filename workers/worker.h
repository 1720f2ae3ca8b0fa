/*
 * worker.h: the worker process.  Forked by the supervisor, it drops its
 * privileges, says it is ready, then serves jobs handed to it over its
 * channel one at a time, and exits after cfg->jobs_per_worker of them.
 */
#ifndef DSS_WORKER_H
#define DSS_WORKER_H

#include <stdint.h>

#include "config.h"
#include "privdrop.h"

/* Never returns. chan is the worker's end of its socketpair. */
void worker_main(const struct config *cfg, int chan, uint32_t generation,
		 const struct priv_user *pu) __attribute__((noreturn));

#endif
