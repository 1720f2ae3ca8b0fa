/* SPDX-License-Identifier: MIT */
/*
 * spawnd.h: the spawner process (spawner.h says what it is for), and the
 * records it exchanges with the supervisor.  It forks children of the
 * role its proc_ctx names (child_role: the worker), as that context's
 * user; it knows nothing else of the roles table.
 */
#ifndef DSS_SPAWND_H
#define DSS_SPAWND_H

#include <stdint.h>

#include "proc.h"
#include "proto.h"

/* The records between supervisor and spawner: one fixed-size type. */
enum spawn_type {
	SPAWN_FORK = 1, /* supervisor -> spawner: fork worker .generation (as .uid) */
	SPAWN_KILL,     /* supervisor -> spawner: SIGKILL worker .pid and its group */
	SPAWN_BORN,     /* spawner -> supervisor: .generation is .pid; its channel passed */
	SPAWN_FAILED,   /* spawner -> supervisor: fork of .generation failed, errno .status */
	SPAWN_EXIT,     /* spawner -> supervisor: .pid reaped, wait status .status */
};

struct spawn_msg {
	uint32_t type;
	uint32_t generation;
	int32_t pid;
	int32_t status;
	uint32_t uid; /* FORK: the worker's own user id (WORKER_UIDS), or 0 */
	uint32_t pad;
	uint64_t fork_us;     /* BORN: the spawner's CPU in proc_spawn */
	struct proto_cpu cpu; /* EXIT: the worker's whole use (wait4) */
};

/* The spawner's main loop (roles.c). */
void spawnd_main(const struct proc_ctx *ctx) __attribute__((noreturn));

#endif
