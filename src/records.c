/* SPDX-License-Identifier: MIT */
/*
 * records.c: the table of records a worker may send (records.h).
 *
 * The sequences the worker really sends (workers/worker.c), one job:
 *   READY                                  once, when forked
 *   STARTED [STARTED [STARTED]]            endpoint, then its selector
 *   PROGRESS and AUDIT, any number         while the signer runs
 *   RESPONDING, then DONE                  every job, whatever its answer
 * and a job refused before its head was read has no STARTED.  A worker
 * told to exit while starting may still send its READY.
 */
#include "records.h"

#include <stdio.h>

#define PHASE(p) (1u << (p))
#define BUSY (PHASE(RECORD_JOB) | PHASE(RECORD_STARTED) | PHASE(RECORD_RESPONDING))
/* the phase a record does not change */
#define STAY -1

static const struct record_rule {
	uint32_t type;
	const char *name;
	unsigned phases; /* PHASE() of each phase it may arrive in */
	int job;	 /* carries the current job's id */
	int once;	 /* at most once per job (READY: per worker) */
	int next;	 /* the phase it leads to, or STAY */
} rules[] = {
	{PROTO_READY, "READY", PHASE(RECORD_STARTING) | PHASE(RECORD_EXITING), 0, 1, RECORD_IDLE},
	{PROTO_STARTED, "STARTED", PHASE(RECORD_JOB) | PHASE(RECORD_STARTED), 1, 0, RECORD_STARTED},
	{PROTO_PROGRESS, "PROGRESS", PHASE(RECORD_STARTED), 1, 0, STAY},
	{PROTO_AUDIT, "AUDIT", PHASE(RECORD_STARTED), 1, 0, STAY},
	{PROTO_RESPONDING, "RESPONDING", PHASE(RECORD_JOB) | PHASE(RECORD_STARTED), 1, 1,
	 RECORD_RESPONDING},
	{PROTO_DONE, "DONE", PHASE(RECORD_RESPONDING), 1, 1, RECORD_IDLE},
};

static const char *const phase_names[] = {
	[RECORD_STARTING] = "starting",
	[RECORD_IDLE] = "idle",
	[RECORD_JOB] = "in a job before STARTED",
	[RECORD_STARTED] = "signing (before RESPONDING)",
	[RECORD_RESPONDING] = "responding",
	[RECORD_EXITING] = "exiting",
};

static const struct record_rule *
rule_of(uint32_t type)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].type == type)
			return &rules[i];
	return NULL;
}

int
record_busy(enum record_phase phase)
{
	return (BUSY & PHASE(phase)) != 0;
}

int
record_check(const struct record_state *st, const struct proto_hdr *hdr, char *why,
	     size_t whylen)
{
	const struct record_rule *r = rule_of(hdr->type);

	if (r == NULL) {
		snprintf(why, whylen, "unexpected record type %u", hdr->type);
		return -1;
	}
	if (hdr->generation != st->generation) {
		snprintf(why, whylen, "record with a wrong generation");
		return -1;
	}
	if (r->job && record_busy(st->phase) && hdr->job_id != st->job_id) {
		snprintf(why, whylen, "record for a job it does not have");
		return -1;
	}
	if (r->once && (st->seen & RECORD_BIT(r->type))) {
		snprintf(why, whylen, "%s twice", r->name);
		return -1;
	}
	if (!(r->phases & PHASE(st->phase))) {
		snprintf(why, whylen, "%s while %s", r->name, phase_names[st->phase]);
		return -1;
	}
	return 0;
}

void
record_taken(struct record_state *st, uint32_t type)
{
	const struct record_rule *r = rule_of(type);

	if (r == NULL)
		return;
	st->seen |= RECORD_BIT(type);
	if (r->next != STAY && st->phase != RECORD_EXITING)
		st->phase = (enum record_phase)r->next;
}

void
record_job(struct record_state *st, uint64_t job_id)
{
	st->phase = RECORD_JOB;
	st->job_id = job_id;
	st->seen &= RECORD_BIT(PROTO_READY);
}
