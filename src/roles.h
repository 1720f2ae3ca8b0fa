/* SPDX-License-Identifier: MIT */
/*
 * roles.h: the process roles of digsigserver (proc.h), one line each in
 * roles.c.  The supervisor is the parent; it forks the key process and
 * the spawner with proc_spawn(&roles[ROLE_...], ...), and the spawner
 * forks the workers (spawner.h).
 */
#ifndef DSS_ROLES_H
#define DSS_ROLES_H

#include "proc.h"

enum role { ROLE_SUPERVISOR, ROLE_KEYS, ROLE_SPAWNER, ROLE_WORKER, ROLE_COUNT };

extern const struct proc_role roles[ROLE_COUNT];

#endif
