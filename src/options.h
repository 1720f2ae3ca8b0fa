/* SPDX-License-Identifier: MIT */
/*
 * options.h: where the configuration comes from, at start and on SIGHUP.
 *
 * Settings come from the built-in defaults, then --config FILE, then the
 * DIGSIGSERVER_* environment, then the command line; the command line's
 * are kept, so a SIGHUP re-reads the file and the environment and applies
 * them again.  Calls only lib/ (config, log, util).
 */
#ifndef DSS_OPTIONS_H
#define DSS_OPTIONS_H

#include <stddef.h>

#include "config.h"

/* A setting from the command line (NAME without the prefix; copied). */
void options_set(const char *name, const char *value);
/* The --config file (copied). */
void options_set_file(const char *path);
/* Build a configuration from every source; 0, or -1 with err. */
int options_load(struct config *cfg, char *err, size_t errlen);
/*
 * SIGHUP: build a fresh configuration and, when it is valid, put it in
 * *cfg (in place) and apply its log level.  Address, port and user stay
 * as they are: they need a restart (a warning says so).  0 or -1 (logged;
 * *cfg unchanged).
 */
int options_reload(struct config *cfg);

#endif
