/* SPDX-License-Identifier: MIT */
/*
 * tokens.c: see tokens.h.
 */
#include "tokens.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "buf.h"
#include "log.h"
#include "util.h"

struct token_client {
	char *name;
	char *endpoints; /* comma-separated globs */
	char *selectors;
	int kind;	 /* 1 bearer, 2 subject */
	unsigned char hash[SHA256_DIGEST_LENGTH];
	char *subject;
};

struct tokens {
	struct buf clients; /* struct token_client[], in file order */
};

/* The clients as an array; their number in *n. */
static struct token_client *
clients(const struct tokens *t, size_t *n)
{
	*n = t->clients.len / sizeof(struct token_client);
	return (struct token_client *)t->clients.data;
}

static struct tokens *current;

/* Parse 64 hex digits into 32 bytes; 0 or -1. */
static int
parse_hash(const char *s, unsigned char out[SHA256_DIGEST_LENGTH])
{
	if (strlen(s) != 2 * SHA256_DIGEST_LENGTH)
		return -1;
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		unsigned v;
		if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

/* Next white-space-separated word of *p, NUL-terminated in place. */
static char *
word(char **p)
{
	char *s = *p, *w;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return NULL;
	w = s;
	while (*s && *s != ' ' && *s != '\t')
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return w;
}

/* One line of the file into c: 1, 0 for a blank or comment line, or -1
 * with the reason in err. */
static int
parse_line(char *line, struct token_client *c, char *err, size_t errlen)
{
	char *p, *name, *eps, *sels, *cred;

	for (p = line + strlen(line); p > line && isspace((unsigned char)p[-1]); p--)
		p[-1] = '\0';
	p = line;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	name = word(&p);
	eps = word(&p);
	sels = word(&p);
	while (*p == ' ' || *p == '\t')
		p++;
	cred = p;
	if (!name || !eps || !sels || *cred == '\0') {
		snprintf(err, errlen, "expected NAME ENDPOINTS SELECTORS CREDENTIAL");
		return -1;
	}
	if (strncmp(cred, "sha256:", 7) == 0) {
		c->kind = 1;
		if (parse_hash(cred + 7, c->hash) < 0) {
			snprintf(err, errlen, "sha256: needs 64 hex digits");
			return -1;
		}
	} else if (strncmp(cred, "subject:", 8) == 0 && cred[8] != '\0') {
		c->kind = 2;
		c->subject = xstrdup(cred + 8);
	} else {
		snprintf(err, errlen, "credential must be sha256:HEX or subject:DN");
		return -1;
	}
	c->name = xstrdup(name);
	c->endpoints = xstrdup(eps);
	c->selectors = xstrdup(sels);
	return 1;
}

/*
 * 1 with the reason when c holds a credential that an earlier line has:
 * each credential is one line's, or the first line would win unseen (a
 * token two clients share, or a second line's endpoints for it, answered
 * as the first's).  A name may have several lines, each with a
 * credential of its own (an old and a new token, a token and a subject).
 */
static int
repeated(const struct tokens *t, const struct token_client *c, char *err, size_t errlen)
{
	size_t n;
	const struct token_client *v = clients(t, &n);

	for (size_t i = 0; i < n; i++) {
		if (v[i].kind == c->kind &&
		    (c->kind == 1 ? memcmp(v[i].hash, c->hash, sizeof(c->hash)) == 0
				  : strcmp(v[i].subject, c->subject) == 0)) {
			snprintf(err, errlen, "client %.64s: a credential an earlier line gives %.64s",
				 c->name, v[i].name);
			return 1;
		}
	}
	return 0;
}

int
tokens_parse(const char *buf, size_t len, const char *what, struct tokens **out, char *err,
	     size_t errlen)
{
	struct tokens *t = xcalloc(1, sizeof(*t));
	char *copy = xstrndup(buf, len), *line, *save = NULL;
	int lineno = 0;

	buf_init(&t->clients, BUF_UNLIMITED, 0);
	*out = NULL;
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: NUL byte", what);
		goto fail;
	}
	for (line = copy; line != NULL; line = save) {
		char *nl = strchr(line, '\n');
		struct token_client c = {0};
		int rc;

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		if ((rc = parse_line(line, &c, err, errlen)) < 0) {
			/* prefix "file:line: " to the reason */
			char why[256];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "%s:%d: %s", what, lineno, why);
			goto fail;
		}
		if (rc == 0)
			continue;
		if (repeated(t, &c, err, errlen)) {
			char why[256];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "%s:%d: %s", what, lineno, why);
			free(c.name);
			free(c.endpoints);
			free(c.selectors);
			free(c.subject);
			goto fail;
		}
		if (buf_append(&t->clients, &c, sizeof(c)) < 0)
			log_panic("the client list cannot grow"); /* BUF_UNLIMITED */
	}
	free(copy);
	*out = t;
	return 0;
fail:
	free(copy);
	tokens_free(t);
	return -1;
}

static int
tokens_load_parse(const char *buf, size_t len, const char *what, void *out, char *err,
		  size_t errlen)
{
	return tokens_parse(buf, len, what, out, err, errlen);
}

int
tokens_load(const char *path, struct tokens **out, char *err, size_t errlen)
{
	return util_load_file(path, 1 << 20, tokens_load_parse, out, err, errlen);
}

void
tokens_free(struct tokens *t)
{
	struct token_client *v;
	size_t n;

	if (t == NULL)
		return;
	v = clients(t, &n);
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].endpoints);
		free(v[i].selectors);
		free(v[i].subject);
	}
	buf_free(&t->clients);
	free(t);
}

const struct token_client *
tokens_by_bearer(const struct tokens *t, const char *token)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	const struct token_client *found = NULL, *v;
	size_t n;

	if (t == NULL || token == NULL)
		return NULL;
	v = clients(t, &n);
	SHA256((const unsigned char *)token, strlen(token), md);
	/* Look at every entry, whatever matched, in constant time per entry. */
	for (size_t i = 0; i < n; i++)
		if (v[i].kind == 1 && CRYPTO_memcmp(md, v[i].hash, sizeof(md)) == 0 &&
		    found == NULL)
			found = &v[i];
	OPENSSL_cleanse(md, sizeof(md));
	return found;
}

const struct token_client *
tokens_by_subject(const struct tokens *t, const char *subject)
{
	const struct token_client *v;
	size_t n;

	if (t == NULL || subject == NULL)
		return NULL;
	v = clients(t, &n);
	for (size_t i = 0; i < n; i++)
		if (v[i].kind == 2 && strcmp(v[i].subject, subject) == 0)
			return &v[i];
	return NULL;
}

const char *
tokens_name(const struct token_client *c)
{
	return c->name;
}

/* 1 if value matches one of the comma-separated globs in list. */
static int
glob_list_match(const char *list, const char *value)
{
	char *copy = xstrdup(list), *tok, *save = NULL;
	int hit = 0;

	for (tok = strtok_r(copy, ",", &save); tok && !hit; tok = strtok_r(NULL, ",", &save))
		hit = fnmatch(tok, value, 0) == 0;
	free(copy);
	return hit;
}

int
tokens_allows_endpoint(const struct token_client *c, const char *endpoint)
{
	return glob_list_match(c->endpoints, endpoint);
}

int
tokens_allows_selector(const struct token_client *c, const char *selector)
{
	return glob_list_match(c->selectors, selector);
}

const char *
tokens_selectors(const struct token_client *c)
{
	return c->selectors;
}

void
tokens_set_current(struct tokens *t)
{
	tokens_free(current);
	current = t;
}

const struct tokens *
tokens_current(void)
{
	return current;
}
