/* SPDX-License-Identifier: MIT */
/*
 * tokens.h: access control (DIGSIGSERVER_TOKENS_FILE).
 *
 * One client per line:
 *
 *     NAME  ENDPOINTS  SELECTORS  CREDENTIAL
 *
 * ENDPOINTS and SELECTORS are comma-separated shell globs (fnmatch) over
 * the signer names (modules, swupdate, mender, tegra) and the machine or
 * distro names; CREDENTIAL is "sha256:<hex of the SHA-256 of the bearer
 * token>" or "subject:<certificate subject as the TLS proxy passes it>"
 * (the rest of the line, so a subject may contain spaces).  '#' starts a
 * comment line.  Tokens are compared by their SHA-256 in constant time.
 * Each credential is one line's (a repeat is refused); a client may have
 * several lines, one per credential.
 */
#ifndef DSS_TOKENS_H
#define DSS_TOKENS_H

#include <stddef.h>

/* The longest Authorization or subject header value (trimmed) either
 * side looks at: the supervisor's grant (src/grant.c) takes a longer one
 * as none, and the worker refuses it (400), so that the two never
 * disagree on who the client is. */
#define TOKENS_VALUE_MAX 1024

struct tokens;
struct token_client;

/* Parse a tokens file; 0, or -1 with err naming file and line. */
int tokens_load(const char *path, struct tokens **out, char *err, size_t errlen);
int tokens_parse(const char *buf, size_t len, const char *what, struct tokens **out, char *err,
		 size_t errlen);
void tokens_free(struct tokens *t);
/* The client holding this bearer token, or NULL. */
const struct token_client *tokens_by_bearer(const struct tokens *t, const char *token);
/* The client with this verified certificate subject, or NULL. */
const struct token_client *tokens_by_subject(const struct tokens *t, const char *subject);
const char *tokens_name(const struct token_client *c);
int tokens_allows_endpoint(const struct token_client *c, const char *endpoint);
int tokens_allows_selector(const struct token_client *c, const char *selector);
/* The client's selector globs as its line has them ("jetson-*,imx8-*"):
 * the supervisor passes them to the key process with each job's grant. */
const char *tokens_selectors(const struct token_client *c);

/* The table in force (set by the supervisor, inherited by workers). */
void tokens_set_current(struct tokens *t);
const struct tokens *tokens_current(void);

#endif
