/* SPDX-License-Identifier: MIT */
/*
 * grant.h: which client a job is for, as the supervisor sees it, so that
 * the key process can be told what the job's worker may ask of it
 * (keyproc.h).  The worker authenticates the client again, on its own
 * parse of the request, and answers 401/403; this is the bound a worker
 * taken over by its upload cannot pass.
 *
 * The supervisor reads no more of the head than it must: one pass over
 * its lines for the Authorization header (a bearer token) and the
 * certificate-subject header a trusted proxy sets, and the tokens table
 * (tokens.h).  A header that appears twice names no client.
 */
#ifndef DSS_GRANT_H
#define DSS_GRANT_H

#include <stddef.h>
#include <sys/socket.h>

#include "config.h"

struct tokens;
struct token_client;

/*
 * The client of the request whose head is head[0..len) (request line,
 * headers, blank line), from peer: NULL when none is named or tk is
 * NULL.
 */
const struct token_client *grant_client(const struct tokens *tk, const struct config *cfg,
					const char *head, size_t len,
					const struct sockaddr_storage *peer);

#endif
