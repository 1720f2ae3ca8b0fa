/* SPDX-License-Identifier: MIT */
/*
 * supervisor.h: the supervisor, the parent of every other process: it
 * listens, routes each request on its request line, queues what waits
 * for a worker and keeps the pool filled (supervisor.c).
 */
#ifndef DSS_SUPERVISOR_H
#define DSS_SUPERVISOR_H

#include "config.h"
#include "privdrop.h"

/*
 * Serve until SIGTERM or SIGINT and the end of the accepted jobs.  cfg is
 * the configuration loaded by options.h (a SIGHUP replaces it in place),
 * user the one workers become.  Returns the exit status.
 */
int supervisor_run(struct config *cfg, const struct priv_user *user, const struct priv_user *key_user);

#endif
