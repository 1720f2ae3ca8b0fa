/*
 * keyd.h: the key process's main function, for the role table
 * (src/roles.c).  What it does: keyd.c; its records: keyproto.h.
 */
#ifndef DSS_KEYD_H
#define DSS_KEYD_H

#include "proc.h"

void keyd_main(const struct proc_ctx *ctx) __attribute__((noreturn));
/*
 * The key tags whose files the workers still read themselves
 * (NULL-terminated): the module and swupdate signers, until their
 * signature formats sign through a callback (then this list is empty and
 * the workers' user can read no key at all).  --check-config allows the
 * workers' user these and no other.
 */
const char *const *keyd_worker_tags(void);

#endif
