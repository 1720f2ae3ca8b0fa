/* SPDX-License-Identifier: MIT */
/*
 * keyd.h: what the rest of the daemon (src/) may ask of keys/: the key
 * process's main function, for the role table (src/roles.c), and the
 * start-up and birth steps around the token's PIN.  What it does: keyd.c;
 * its records: keyproto.h.
 */
#ifndef DSS_KEYD_H
#define DSS_KEYD_H

#include <stdio.h>

#include "proc.h"

struct config;

void keyd_main(const struct proc_ctx *ctx) __attribute__((noreturn));
/* At start, before anything logs or forks: take the token's PIN out of
 * the environment (DIGSIGSERVER_YUBIHSM_PASSWORD), for the key process. */
void keyd_take_env_secrets(void);
/* A process born of the supervisor that is not the key process (a
 * worker): wipe what keyd_take_env_secrets took. */
void keyd_forget_secrets(void);
/* --check-config: each token reference of the store and whether it
 * resolves (no PIN printed); 0, or -1 when one does not. */
int keyd_check_tokens(const struct config *cfg, FILE *report);

#endif
