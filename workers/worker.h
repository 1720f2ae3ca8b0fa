/* SPDX-License-Identifier: MIT */
/*
 * worker.h: the worker process.  Born by proc_spawn (proc.h) with its
 * privileges dropped and its channel on PROTO_CHANNEL_FD, it says it is
 * ready, then serves jobs handed to it over its channel one at a time,
 * and exits after cfg->jobs_per_worker of them.
 */
#ifndef DSS_WORKER_H
#define DSS_WORKER_H

#include "proc.h"

/* The worker role's main function (roles.c); never returns. */
void worker_main(const struct proc_ctx *ctx) __attribute__((noreturn));

#endif
