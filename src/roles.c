/* SPDX-License-Identifier: MIT */
/*
 * roles.c: the table of process roles: what each kind of process is
 * called (its log tag and process title), whether it drops privileges,
 * and the function it runs once born (proc.h).  A new kind of process
 * (the key process, which will hold the keys and sign for the workers) is
 * one more line here and its main function.  Calls nothing; names
 * worker_main (worker.h), spawnd_main (spawnd.h) and keyd_main
 * (keys/keyd.h).
 */
#include "roles.h"

#include "keyd.h"
#include "spawnd.h"
#include "worker.h"

const struct proc_role roles[ROLE_COUNT] = {
    [ROLE_SUPERVISOR] = {.name = "supervisor", .drop_privileges = 0, .main = NULL},
    /* drops to DIGSIGSERVER_KEY_USER: its proc_ctx names that user */
    [ROLE_KEYS] = {.name = "keys", .drop_privileges = 1, .locks_itself = 1, .main = keyd_main},
    /* stays root when started as root: each worker it forks drops
     * privileges itself; it needs the PIN no more than they do */
    [ROLE_SPAWNER] = {.name = "spawner",
		      .drop_privileges = 0,
		      .forget = keyd_forget_secrets,
		      .main = spawnd_main},
    [ROLE_WORKER] = {.name = "worker",
		     .drop_privileges = 1,
		     .hide_keys = 1,
		     .own_domain = 1,
		     /* nothing of the token's PIN the supervisor took from
		      * DIGSIGSERVER_YUBIHSM_PASSWORD, nor its copy for redacting logs */
		     .forget = keyd_forget_secrets,
		     .main = worker_main},
};
