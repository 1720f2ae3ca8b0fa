/* SPDX-License-Identifier: MIT */
/*
 * check_tokens.c: unit tests of lib/tokens.c, the tokens file of access
 * control: its syntax (comments, blank lines, tabs, CRLF), bearer tokens
 * found by the SHA-256 of the token, certificate subjects with spaces,
 * endpoint and selector globs, and bad lines refused with file:line and a
 * reason.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "check_main.h"
#include "tokens.h"

static char err[512];

/* "sha256:" and the hex of the SHA-256 of token, as a tokens file has it. */
static const char *
cred(const char *token)
{
	static char out[4][8 + 2 * SHA256_DIGEST_LENGTH];
	static int i;
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *p;

	/* four at a time: a test passes several to one snprintf */
	i = (i + 1) % 4;
	SHA256((const unsigned char *)token, strlen(token), md);
	p = out[i] + sprintf(out[i], "sha256:");
	for (int k = 0; k < SHA256_DIGEST_LENGTH; k++)
		p += sprintf(p, "%02x", md[k]);
	return out[i];
}

/* Parse text as file "tokens"; the table (the test fails if refused). */
static struct tokens *
parse_ok(const char *text)
{
	struct tokens *t = NULL;

	err[0] = '\0';
	ck_assert_msg(tokens_parse(text, strlen(text), "tokens", &t, err, sizeof(err)) == 0,
		      "refused: %s", err);
	ck_assert_ptr_nonnull(t);
	return t;
}

/* Parse text that must be refused with exactly the reason want. */
static void
parse_bad(const char *text, size_t len, const char *want)
{
	struct tokens *t = (struct tokens *)&t; /* must come back NULL */

	err[0] = '\0';
	ck_assert_int_eq(tokens_parse(text, len, "tokens", &t, err, sizeof(err)), -1);
	ck_assert_ptr_null(t);
	ck_assert_str_eq(err, want);
}

START_TEST(test_file_syntax)
{
	char text[1024];
	struct tokens *t;
	const struct token_client *c;

	snprintf(text, sizeof(text),
		 "# name endpoints selectors credential\n"
		 "\n"
		 "   \t \n"
		 "  # an indented comment\n"
		 "ci\tswupdate,mod*\td1   %s  \n"
		 "dev * d* %s\r\n"
		 "last * * %s",
		 cred("ci-token"), cred("dev-token"), cred("last-token"));
	t = parse_ok(text);
	ck_assert_ptr_nonnull(c = tokens_by_bearer(t, "ci-token"));
	ck_assert_str_eq(tokens_name(c), "ci");
	ck_assert_ptr_nonnull(c = tokens_by_bearer(t, "dev-token"));
	ck_assert_str_eq(tokens_name(c), "dev");
	/* the last line needs no newline */
	ck_assert_ptr_nonnull(c = tokens_by_bearer(t, "last-token"));
	ck_assert_str_eq(tokens_name(c), "last");
	tokens_free(t);

	/* an empty file, or comments only, is an empty table */
	t = parse_ok("");
	ck_assert_ptr_null(tokens_by_bearer(t, ""));
	tokens_free(t);
	t = parse_ok("# nobody yet\n\n");
	ck_assert_ptr_null(tokens_by_bearer(t, "anything"));
	tokens_free(t);
}
END_TEST

typedef const struct token_client *(*lookup_fn)(const struct tokens *, const char *);

/* lookup(t, key) finds no client for any of the n keys (NULL among them). */
static void
finds_none(lookup_fn lookup, const struct tokens *t, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(lookup(t, keys[i]) == NULL, "\"%s\" found",
			      keys[i] ? keys[i] : "(null)");
}

START_TEST(test_bearer)
{
	/* a subject entry is never found by a bearer token */
	static const char *const not_tokens[] = {"gamma", "",     "alpha ",      "alph",
						 NULL,    "CN=c", "subject:CN=c"};
	char text[1024];
	struct tokens *t;
	const char *hex;

	snprintf(text, sizeof(text), "a * * %s\nb * * %s\nc * * subject:CN=c\n", cred("alpha"),
		 cred("beta"));
	t = parse_ok(text);
	ck_assert_str_eq(tokens_name(tokens_by_bearer(t, "alpha")), "a");
	ck_assert_str_eq(tokens_name(tokens_by_bearer(t, "beta")), "b");
	finds_none(tokens_by_bearer, t, not_tokens, sizeof(not_tokens) / sizeof(not_tokens[0]));
	ck_assert_ptr_null(tokens_by_bearer(NULL, "alpha"));
	/* the file holds the hash: presenting the hash itself is no token */
	hex = cred("alpha") + 7;
	ck_assert_ptr_null(tokens_by_bearer(t, hex));
	tokens_free(t);
}
END_TEST

/* Every entry is compared (constant time per entry, whatever matched):
 * one at the end of a long table is found, and upper-case hex is the same
 * hash. */
START_TEST(test_bearer_every_entry)
{
	char *text = malloc(200 * 100 + 200), *p = text, upper[80];
	struct tokens *t;

	ck_assert_ptr_nonnull(text);
	for (int i = 0; i < 200; i++) {
		char tok[32];

		snprintf(tok, sizeof(tok), "token-%d", i);
		p += sprintf(p, "client%d * * %s\n", i, cred(tok));
	}
	snprintf(upper, sizeof(upper), "%s", cred("shout"));
	for (char *u = upper + 7; *u; u++)
		if (*u >= 'a' && *u <= 'f')
			*u = (char)(*u - 32);
	sprintf(p, "loud * * %s\n", upper);
	t = parse_ok(text);
	ck_assert_str_eq(tokens_name(tokens_by_bearer(t, "token-0")), "client0");
	ck_assert_str_eq(tokens_name(tokens_by_bearer(t, "token-7")), "client7");
	ck_assert_str_eq(tokens_name(tokens_by_bearer(t, "token-199")), "client199");
	ck_assert_str_eq(tokens_name(tokens_by_bearer(t, "shout")), "loud");
	ck_assert_ptr_null(tokens_by_bearer(t, "token-200"));
	tokens_free(t);
	free(text);
}
END_TEST

/* Each credential is one line's: a repeat is refused, naming both
 * clients (the first line would otherwise win unseen); a name may have
 * several lines with credentials of their own (a token being rotated, a
 * token and a subject). */
START_TEST(test_repeated)
{
	char text[512];
	struct tokens *t;

	snprintf(text, sizeof(text), "ci modules demo %s\ncd swupdate demo %s\n", cred("a"),
		 cred("a"));
	parse_bad(text, strlen(text), "tokens:2: client cd: a credential an earlier line gives ci");
	snprintf(text, sizeof(text), "ci modules demo %s\n# new\nci swupdate demo %s\n", cred("a"),
		 cred("a"));
	parse_bad(text, strlen(text), "tokens:3: client ci: a credential an earlier line gives ci");
	snprintf(text, sizeof(text), "p * * subject:CN=x\nq * * subject:CN=x\n");
	parse_bad(text, strlen(text), "tokens:2: client q: a credential an earlier line gives p");
	snprintf(text, sizeof(text), "ci modules demo %s\nci modules demo %s\nci * * subject:CN=ci\n",
		 cred("old"), cred("new"));
	t = parse_ok(text);
	ck_assert_str_eq(tokens_name(tokens_by_bearer(t, "old")), "ci");
	ck_assert_str_eq(tokens_name(tokens_by_bearer(t, "new")), "ci");
	ck_assert_str_eq(tokens_name(tokens_by_subject(t, "CN=ci")), "ci");
	tokens_free(t);
}
END_TEST

START_TEST(test_subjects)
{
	struct tokens *t =
	    parse_ok("builder modules,swupdate * subject:CN=builder, O=Example Corp\n"
		     "other * * subject:CN=other\t \n");
	static const char *const not_subjects[] = {
	    "CN=builder", "CN=builder, O=Example Corp ", "cn=other", "CN=other\t", "", NULL};
	const struct token_client *c;

	/* the rest of the line, inner spaces kept, trailing blanks dropped */
	ck_assert_ptr_nonnull(c = tokens_by_subject(t, "CN=builder, O=Example Corp"));
	ck_assert_str_eq(tokens_name(c), "builder");
	ck_assert_str_eq(tokens_name(tokens_by_subject(t, "CN=other")), "other");
	/* exact match only */
	finds_none(tokens_by_subject, t, not_subjects,
		   sizeof(not_subjects) / sizeof(not_subjects[0]));
	ck_assert_ptr_null(tokens_by_subject(NULL, "CN=other"));
	/* a subject is no bearer token */
	ck_assert_ptr_null(tokens_by_bearer(t, "CN=other"));
	tokens_free(t);
}
END_TEST

/* Each of the space-separated names is allowed (want 1) or not (want 0). */
static void
allowed(int (*allows)(const struct token_client *, const char *), const struct token_client *c,
	const char *names, int want)
{
	char one[64];
	const char *p = names;
	int n;

	while (sscanf(p, " %63s%n", one, &n) == 1) {
		ck_assert_msg(allows(c, one) == want, "%s: expected %d", one, want);
		p += n;
	}
}

/* The endpoints and selectors client c may and may not ask for. */
static void
client_allows(const struct token_client *c, const char *endpoints, const char *not_endpoints,
	      const char *selectors, const char *not_selectors)
{
	allowed(tokens_allows_endpoint, c, endpoints, 1);
	allowed(tokens_allows_endpoint, c, not_endpoints, 0);
	allowed(tokens_allows_selector, c, selectors, 1);
	allowed(tokens_allows_selector, c, not_selectors, 0);
}

START_TEST(test_globs)
{
	char text[1024];
	struct tokens *t;
	const struct token_client *ci, *dev, *one;

	snprintf(text, sizeof(text),
		 "ci swupdate,mod* d1,rel-[ab] %s\n"
		 "dev * * %s\n"
		 "one tegra jetson-?? %s\n",
		 cred("ci"), cred("dev"), cred("one"));
	t = parse_ok(text);
	ci = tokens_by_bearer(t, "ci");
	dev = tokens_by_bearer(t, "dev");
	one = tokens_by_bearer(t, "one");
	ck_assert_ptr_nonnull(ci);
	ck_assert_ptr_nonnull(dev);
	ck_assert_ptr_nonnull(one);

	client_allows(ci, "swupdate modules mod", "mender swupdate2 xmodules", "d1 rel-a rel-b",
		      "d2 d10 rel-c");
	ck_assert_int_eq(tokens_allows_selector(ci, ""), 0);
	client_allows(dev, "tegra", "", "anything-at-all", "");
	client_allows(one, "tegra", "Tegra", "jetson-tx", "jetson-t jetson-tx2");
	tokens_free(t);
}
END_TEST

START_TEST(test_bad_lines)
{
	char text[1024];
	const char *good = cred("good");

	/* fields missing, with the line number counting comments and blanks */
	snprintf(text, sizeof(text), "# c\n\nok * * %s\nname swupdate d1\n", good);
	parse_bad(text, strlen(text), "tokens:4: expected NAME ENDPOINTS SELECTORS CREDENTIAL");
	parse_bad("onlyname\n", 9, "tokens:1: expected NAME ENDPOINTS SELECTORS CREDENTIAL");
	parse_bad("a b\n", 4, "tokens:1: expected NAME ENDPOINTS SELECTORS CREDENTIAL");
	parse_bad("a b c   \t\n", 10, "tokens:1: expected NAME ENDPOINTS SELECTORS CREDENTIAL");

	/* sha256: exactly 64 hex digits */
	snprintf(text, sizeof(text), "a * * %.70s\n", good);
	parse_bad(text, strlen(text), "tokens:1: sha256: needs 64 hex digits");
	snprintf(text, sizeof(text), "a * * %s0\n", good);
	parse_bad(text, strlen(text), "tokens:1: sha256: needs 64 hex digits");
	snprintf(text, sizeof(text), "a * * %.70sg\n", good);
	parse_bad(text, strlen(text), "tokens:1: sha256: needs 64 hex digits");
	snprintf(text, sizeof(text), "a * * %.70s x\n", good);
	parse_bad(text, strlen(text), "tokens:1: sha256: needs 64 hex digits");
	snprintf(text, sizeof(text), "a * * sha256: %s\n", good + 7);
	parse_bad(text, strlen(text), "tokens:1: sha256: needs 64 hex digits");
	parse_bad("a * * sha256:\n", 14, "tokens:1: sha256: needs 64 hex digits");
	/* 0x prefixes and signs are no hex digits, even where sscanf takes them */
	snprintf(text, sizeof(text), "a * * sha256:0x%s\n", good + 9);
	parse_bad(text, strlen(text), "tokens:1: sha256: needs 64 hex digits");
	snprintf(text, sizeof(text), "a * * sha256:+f%s\n", good + 9);
	parse_bad(text, strlen(text), "tokens:1: sha256: needs 64 hex digits");

	/* other credentials */
	snprintf(text, sizeof(text), "a * * md5:%s\n", good + 7);
	parse_bad(text, strlen(text), "tokens:1: credential must be sha256:HEX or subject:DN");
	snprintf(text, sizeof(text), "a * * %s\n", good + 7);
	parse_bad(text, strlen(text), "tokens:1: credential must be sha256:HEX or subject:DN");
	parse_bad("a * * subject:\n", 15, "tokens:1: credential must be sha256:HEX or subject:DN");
	parse_bad("a * * subject:   \n", 18,
		  "tokens:1: credential must be sha256:HEX or subject:DN");
	parse_bad("a * * SUBJECT:CN=x\n", 19,
		  "tokens:1: credential must be sha256:HEX or subject:DN");
	parse_bad("a * * plain-token\n", 18,
		  "tokens:1: credential must be sha256:HEX or subject:DN");

	/* a NUL byte anywhere */
	snprintf(text, sizeof(text), "a * * %s\n", good);
	text[2] = '\0';
	parse_bad(text, strlen(good) + 7, "tokens: NUL byte");
	parse_bad("# comment\0\n", 11, "tokens: NUL byte");
}
END_TEST

START_TEST(test_load)
{
	char dir[] = "/tmp/check_tokens.XXXXXX", path[256], want[512];
	struct tokens *t = NULL;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/tokens", dir);

	ck_assert_int_eq(tokens_load(path, &t, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	ck_assert_str_eq(err, want);

	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "# ci\nci swupdate d1 %s\n", cred("ci"));
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(tokens_load(path, &t, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(tokens_name(tokens_by_bearer(t, "ci")), "ci");
	tokens_free(t);

	/* a bad line is named by the file's path and the line number */
	ck_assert_ptr_nonnull(f = fopen(path, "a"));
	fprintf(f, "broken line\n");
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(tokens_load(path, &t, err, sizeof(err)), -1);
	ck_assert_ptr_null(t);
	snprintf(want, sizeof(want), "%s:3: expected NAME ENDPOINTS SELECTORS CREDENTIAL", path);
	ck_assert_str_eq(err, want);

	ck_assert_int_eq(check_sh(NULL, "rm -rf '%s'", dir), 0);
}
END_TEST

START_TEST(test_current)
{
	char text[256];
	struct tokens *a, *b;

	snprintf(text, sizeof(text), "a * * %s\n", cred("a"));
	a = parse_ok(text);
	snprintf(text, sizeof(text), "b * * %s\n", cred("b"));
	b = parse_ok(text);
	ck_assert_ptr_null(tokens_current());
	tokens_set_current(a);
	ck_assert_ptr_eq(tokens_current(), a);
	ck_assert_str_eq(tokens_name(tokens_by_bearer(tokens_current(), "a")), "a");
	/* a new table replaces (and frees) the one in force */
	tokens_set_current(b);
	ck_assert_ptr_eq(tokens_current(), b);
	ck_assert_ptr_null(tokens_by_bearer(tokens_current(), "a"));
	tokens_set_current(NULL);
	ck_assert_ptr_null(tokens_current());
	ck_assert_ptr_null(tokens_by_bearer(tokens_current(), "b"));
	tokens_free(NULL);
}
END_TEST

static Suite *
tokens_suite(void)
{
	Suite *s = suite_create("tokens");
	TCase *tc = tcase_create("tokens");

	tcase_add_test(tc, test_file_syntax);
	tcase_add_test(tc, test_bearer);
	tcase_add_test(tc, test_bearer_every_entry);
	tcase_add_test(tc, test_repeated);
	tcase_add_test(tc, test_subjects);
	tcase_add_test(tc, test_globs);
	tcase_add_test(tc, test_bad_lines);
	tcase_add_test(tc, test_load);
	tcase_add_test(tc, test_current);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = tokens_suite);
