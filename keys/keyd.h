/* SPDX-License-Identifier: MIT */
/*
 * keyd.h: the key process's main function, for the role table
 * (src/roles.c).  What it does: keyd.c; its records: keyproto.h.
 */
#ifndef DSS_KEYD_H
#define DSS_KEYD_H

#include "proc.h"

void keyd_main(const struct proc_ctx *ctx) __attribute__((noreturn));

#endif
