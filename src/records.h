/* SPDX-License-Identifier: MIT */
/*
 * records.h: which record a worker may send when: the supervisor's half
 * of the contract in proto.h, as one table (records.c).
 *
 * For each record type the table gives the phases of the worker in which
 * it may arrive, whether it belongs to the current job (and so carries its
 * id) and whether it may come only once per job; anything else is a
 * protocol violation, and the worker is killed (pool.c).  Like OpenSSH's
 * monitor table (MON_PERMIT, MON_ONCE), but fixed: the phase a worker is
 * in says what it may send.  Pure functions of the worker's state and a
 * record's header, so the whole contract is unit-tested
 * (t/check_records.c).  Calls nothing.
 */
#ifndef DSS_RECORDS_H
#define DSS_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* What a worker is doing, as far as its records tell. */
enum record_phase {
	RECORD_STARTING,   /* forked; READY not received yet */
	RECORD_IDLE,	   /* waiting for a job */
	RECORD_JOB,	   /* handed a job; it has said nothing of it yet */
	RECORD_STARTED,	   /* STARTED received: the endpoint is known, signing */
	RECORD_RESPONDING, /* RESPONDING received: writing the answer */
	RECORD_EXITING,	   /* told to exit, or will after its job */
};

struct record_state {
	enum record_phase phase;
	uint32_t generation; /* the worker's: every record it sends carries it */
	uint64_t job_id;     /* its job's (the last one's when it has none) */
	unsigned seen;	     /* RECORD_BIT of each record taken in this job, and READY */
};

#define RECORD_BIT(type) (1u << (type))

/* 1 when the phase is one of a job (JOB, STARTED, RESPONDING). */
int record_busy(enum record_phase phase);
/*
 * 0 when a record with header hdr may arrive from a worker in state st;
 * -1 when it may not, with the reason in why ("RESPONDING twice").
 */
int record_check(const struct record_state *st, const struct proto_hdr *hdr, char *why,
		 size_t whylen);
/* Take a record record_check allowed: note it and move to the phase it
 * leads to (a worker told to exit stays EXITING). */
void record_taken(struct record_state *st, uint32_t type);
/* The supervisor hands the worker job_id: phase JOB, the last job's
 * records forgotten. */
void record_job(struct record_state *st, uint64_t job_id);

#endif
