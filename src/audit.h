/* SPDX-License-Identifier: MIT */
/*
 * audit.h: the hash-chained audit trail (DIGSIGSERVER_AUDIT_FILE).
 */
#ifndef DSS_AUDIT_H
#define DSS_AUDIT_H

#include <stdint.h>
#include <stdio.h>

struct json_t;

struct audit_job {
	uint64_t job_id;
	const char *client, *identity, *endpoint, *selector;
	const char *key_sha256;
	struct json_t *signed_items; /* array of {name, sha256}, or NULL */
	struct json_t *extra;	     /* other fields the signer reported, or NULL */
	int status;
	const char *result; /* signed, refused, failed, timeout, crashed */
	uint64_t duration_ms;
};

/* Open (or switch to) the trail at path; NULL turns it off.  0 or -1. */
int audit_open(const char *path);
/* The instance name every record carries from now on ("instance"). */
void audit_set_instance(const char *name);
/* 1 when records can be written (or no trail is configured). */
int audit_ready(void);
void audit_record(const struct audit_job *aj);
uint64_t audit_write_failures(void);
/* Check a trail's chain, reporting to out; 0 intact, -1 broken. */
int audit_verify(const char *path, FILE *out);

#endif
