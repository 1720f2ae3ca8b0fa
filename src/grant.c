/* SPDX-License-Identifier: MIT */
/*
 * grant.c: the client a job is for, from its head (grant.h).  Calls
 * lib/ (tokens, acl) only.
 */
#include "grant.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "acl.h"
#include "tokens.h"

/*
 * The value of header name in head (past the request line), trimmed, into
 * out: 1 when found once, 0 when absent, -1 when it appears twice or is
 * too long.
 */
static int
header_value(const char *head, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name), pos, found = 0;
	const char *eol = memchr(head, '\n', len);

	for (pos = eol ? (size_t)(eol - head) + 1 : len; pos < len;) {
		const char *line = head + pos, *end = memchr(line, '\n', len - pos);
		size_t llen = end ? (size_t)(end - line) : len - pos;

		pos += llen + 1;
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (llen == 0)
			break; /* the blank line: end of the head */
		if (llen <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
			continue;
		if (found++)
			return -1;
		line += nlen + 1;
		llen -= nlen + 1;
		while (llen > 0 && (*line == ' ' || *line == '\t'))
			line++, llen--;
		while (llen > 0 && (line[llen - 1] == ' ' || line[llen - 1] == '\t'))
			llen--;
		if (llen >= outlen)
			return -1;
		memcpy(out, line, llen);
		out[llen] = '\0';
	}
	return found ? 1 : 0;
}

/* A subject from a trusted proxy's header, as the worker takes it. */
static const struct token_client *
by_subject(const struct tokens *tk, const struct config *cfg, const char *head, size_t len,
	   const struct sockaddr_storage *peer)
{
	char subject[TOKENS_VALUE_MAX], err[256];
	const struct token_client *c = NULL;
	struct acl *acl = NULL;

	if (cfg->subject_header == NULL || cfg->trusted_proxies == NULL ||
	    header_value(head, len, cfg->subject_header, subject, sizeof(subject)) != 1 ||
	    subject[0] == '\0')
		return NULL;
	if (acl_parse(cfg->trusted_proxies, &acl, err, sizeof(err)) == 0 &&
	    acl_match(acl, (const struct sockaddr *)peer))
		c = tokens_by_subject(tk, subject);
	acl_free(acl);
	return c;
}

const struct token_client *
grant_client(const struct tokens *tk, const struct config *cfg, const char *head, size_t len,
	     const struct sockaddr_storage *peer)
{
	const struct token_client *c;
	char auth[TOKENS_VALUE_MAX];
	const char *tok = auth + 7;

	if (tk == NULL)
		return NULL;
	if ((c = by_subject(tk, cfg, head, len, peer)) != NULL)
		return c;
	if (header_value(head, len, "Authorization", auth, sizeof(auth)) != 1 ||
	    strncasecmp(auth, "Bearer ", 7) != 0)
		return NULL;
	while (*tok == ' ')
		tok++;
	return tokens_by_bearer(tk, tok);
}
