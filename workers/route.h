/* SPDX-License-Identifier: MIT */
/*
 * route.h: what the supervisor knows of the signers: the path each one
 * answers, the method it takes and whether its job has a directory in
 * the work directory; nothing of what it signs or how.
 *
 * A route is an index into the signer table (signers.c).  The supervisor
 * routes a request once, on its request line, and sends the index in the
 * job record (proto.h); the worker runs that signer (signer_at) without
 * looking at the path again.
 */
#ifndef DSS_ROUTE_H
#define DSS_ROUTE_H

/* Every signer takes a form by POST. */
#define ROUTE_METHOD "POST"

/* The route of a normalised path (reqline.h), or -1 when no signer has it. */
int route_find(const char *path);

/* 1 when a job of route has a directory of its own in the work
 * directory (a signer that is not digest_only, signer.h); 0 otherwise. */
int route_has_dir(int route);

#endif
