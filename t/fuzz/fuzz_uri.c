/* SPDX-License-Identifier: MIT */
/*
 * fuzz_uri.c: libFuzzer harness for the artifact URI checks (lib/uri.c),
 * the s3:// parser and URL encoder (lib/s3.c) and the key store's names
 * and locations (lib/keystore.c).
 *
 * Input: a first line of artifact URI prefixes, then the URI.  Beyond "no
 * crash, no leak", it checks what the callers rely on: uri_check answers
 * 0, 400 or 403 with a reason; an accepted URI has no control character
 * and no "." or ".." segment; a URI is always allowed under itself as the
 * only prefix; an encoded S3 key holds only unreserved characters, '/'
 * and %XX; a valid selector is one segment that key locations keep whole;
 * a pkcs11: URI (lib/p11uri.c) that parses names an object, its canonical
 * form parses back to the same object and never holds a PIN.
 */
/* fuzz-sources: lib/p11uri.c lib/uri.c lib/scheme.c lib/s3.c lib/keystore.c lib/config.c lib/acl.c lib/buf.c lib/fsutil.c lib/util.c lib/log.c */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "keystore.h"
#include "log.h"
#include "p11uri.h"
#include "s3.h"
#include "uri.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config cfg;
static int ready;

static int
has_dot_segment(const char *path)
{
	for (const char *s = path; *s;) {
		size_t n = strcspn(s, "/");

		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 1;
		s += n;
		while (*s == '/')
			s++;
	}
	return 0;
}

static void
check_uri(const char *prefixes, const char *uri)
{
	char err[512];
	int st, st0;

	cfg.artifact_uri_prefixes = NULL;
	err[0] = '\0';
	st0 = uri_check(&cfg, uri, err, sizeof(err));
	if ((st0 != 0 && st0 != 400) || (st0 != 0 && err[0] == '\0'))
		abort();
	if (st0 == 0) {
		for (const char *p = uri; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
		if (strncmp(uri, "s3://", 5) == 0) {
			if (has_dot_segment(strchr(uri + 5, '/') ? strchr(uri + 5, '/') + 1 : ""))
				abort();
		} else if (strncmp(uri, "file://", 7) == 0) {
			if (uri[7] != '/' || has_dot_segment(uri + 7))
				abort();
		} else if (uri[0] != '/' || has_dot_segment(uri)) {
			abort();
		}
		/* A valid URI is allowed under itself (commas split the list). */
		if (strpbrk(uri, ", \t") == NULL) {
			cfg.artifact_uri_prefixes = (char *)uri;
			if (uri_check(&cfg, uri, err, sizeof(err)) != 0)
				abort();
		}
	}
	if (prefixes != NULL) {
		/* Syntax is judged first; prefixes only ever add 403. */
		cfg.artifact_uri_prefixes = (char *)prefixes;
		err[0] = '\0';
		st = uri_check(&cfg, uri, err, sizeof(err));
		if (st0 == 400 ? st != 400 : (st != 0 && st != 403))
			abort();
		if (st != 0 && err[0] == '\0')
			abort();
	}
	cfg.artifact_uri_prefixes = NULL;
}

static void
check_s3(const char *uri)
{
	char err[256], *bucket, *key, *url;

	if (s3_parse_uri(uri, &bucket, &key, err, sizeof(err)) < 0) {
		if (bucket != NULL || key != NULL)
			abort();
		return;
	}
	url = s3_object_url(&cfg, bucket, key, NULL);
	/* After "<endpoint>/<bucket>/" only the encoded key follows. */
	const char *k = url + strlen("http://127.0.0.1:9/") + strlen(bucket);
	if (*key) {
		if (*k != '/')
			abort();
		for (k++; *k; k++) {
			if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/%",
				   *k) == NULL)
				abort();
			if (*k == '%' && (!k[1] || !strchr("0123456789ABCDEF", k[1]) || !k[2] ||
					  !strchr("0123456789ABCDEF", k[2])))
				abort();
		}
	}
	free(url);
	free(bucket);
	free(key);
}

static void
check_selector(const char *sel)
{
	char err[256], *loc;

	if (ks_selector_valid(sel)) {
		if (strchr(sel, '/') != NULL || strcmp(sel, ".") == 0 || strcmp(sel, "..") == 0 ||
		    strlen(sel) > 100)
			abort();
		if (ks_key_location("s3://b/p", sel, "mender", "private.key", &loc, err,
				    sizeof(err)) != 0)
			abort();
		if (strncmp(loc, "s3://b/p/", 9) != 0 || strncmp(loc + 9, sel, strlen(sel)) != 0 ||
		    strcmp(loc + 9 + strlen(sel), "/mender/private.key") != 0)
			abort();
		free(loc);
	} else if (ks_key_location("/k", sel, "t", "f", &loc, err, sizeof(err)) == 0 ||
		   loc != NULL) {
		abort();
	}
	ks_store_uri_valid(sel, err, sizeof(err));
}

static void
check_p11uri(const char *text)
{
	struct p11uri u, back;
	char err[256], canon[3 * P11URI_MAX + 64];

	err[0] = '\0';
	if (p11uri_parse(text, &u, err, sizeof(err)) < 0) {
		if (err[0] == '\0')
			abort();
		return;
	}
	if (u.object[0] == '\0' && u.id_len == 0)
		abort();
	if (p11uri_format(&u, canon, sizeof(canon)) < 0)
		return; /* %-encoding may triple a value past P11URI_MAX */
	if (strstr(canon, ";pin-") != NULL || strchr(canon, '?') != NULL) /* no PIN attribute */
		abort();
	if (strlen(canon) <= P11URI_MAX &&
	    (p11uri_parse(canon, &back, err, sizeof(err)) < 0 || !p11uri_matches(&u, &back) ||
	     !p11uri_matches(&back, &u)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *nl, *uri;

	if (!ready) {
		conf_defaults(&cfg);
		cfg.s3_endpoint = xstrdup("http://127.0.0.1:9");
		log_init("fuzz", LOG_LVL_ERROR + 1, 0);
		ready = 1;
	}
	if (size > 8192)
		return 0;
	buf = xstrndup((const char *)data, size); /* stops at a NUL, as a C caller would */
	nl = strchr(buf, '\n');
	if (nl != NULL) {
		*nl = '\0';
		uri = nl + 1;
		check_uri(buf, uri);
	} else {
		uri = buf;
		check_uri(NULL, uri);
	}
	check_s3(uri);
	check_selector(uri);
	check_p11uri(uri);
	free(buf);
	return 0;
}
