/* SPDX-License-Identifier: MIT */
/*
 * manifest.c: see manifest.h.  The rules follow the original server's
 * parse_manifest(): the file is decoded as strict UTF-8 (a decoding error
 * is a ValueError there, so an invalid manifest), iterated by lines with
 * universal newlines, each line rstrip()ped and matched against
 * "([^=]+)=(.*)".
 */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "log.h"
#include "util.h"

/*
 * Bytes of the white-space character that ends s[0..n), or 0: what
 * Python's str.rstrip() removes (str.isspace()).
 */
static size_t
trailing_space(const unsigned char *s, size_t n)
{
	static const char *const multi[] = {
		"\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\xa8", "\xe2\x80\xa9",
		"\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80",
	};
	unsigned char c;

	if (n == 0)
		return 0;
	c = s[n - 1];
	if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f))
		return 1;
	if (c < 0x80)
		return 0;
	/* U+2000 .. U+200A */
	if (n >= 3 && s[n - 3] == 0xe2 && s[n - 2] == 0x80 && c >= 0x80 && c <= 0x8a)
		return 3;
	for (size_t i = 0; i < sizeof(multi) / sizeof(multi[0]); i++) {
		size_t l = strlen(multi[i]);

		if (n >= l && memcmp(s + n - l, multi[i], l) == 0)
			return l;
	}
	return 0;
}

void
manifest_free(struct manifest *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->vars[i].name);
		free(m->vars[i].value);
	}
	buf_free(&m->store);
	m->vars = NULL;
	m->n = 0;
}

const char *
manifest_get(const struct manifest *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->vars[i].name, name) == 0)
			return m->vars[i].value;
	return NULL;
}

/* Set name (nlen bytes) to value (vlen bytes): the last duplicate wins. */
static void
manifest_set(struct manifest *m, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct manifest_var var;

	for (size_t i = 0; i < m->n; i++) {
		if (strlen(m->vars[i].name) == nlen && memcmp(m->vars[i].name, name, nlen) == 0) {
			free(m->vars[i].value);
			m->vars[i].value = xstrndup(value, vlen);
			return;
		}
	}
	var.name = xstrndup(name, nlen);
	var.value = xstrndup(value, vlen);
	if (buf_append(&m->store, &var, sizeof(var)) < 0)
		log_panic("the variable list cannot grow"); /* BUF_UNLIMITED */
	m->vars = (struct manifest_var *)m->store.data;
	m->n++;
}

int
manifest_parse(const char *buf, size_t len, struct manifest *m, char *err, size_t errlen)
{
	const unsigned char *u = (const unsigned char *)buf;
	size_t pos = 0, lineno = 0;

	m->vars = NULL;
	m->n = 0;
	buf_init(&m->store, BUF_UNLIMITED, 0);
	for (size_t i = 0; i < len;) {
		size_t l;

		if (u[i] == '\0') {
			snprintf(err, errlen, "NUL byte at offset %zu", i);
			return -1;
		}
		if ((l = util_utf8_seq(u + i, len - i)) == 0) {
			snprintf(err, errlen, "invalid UTF-8 at offset %zu", i);
			return -1;
		}
		i += l;
	}
	while (pos < len) {
		size_t end = pos, next, n;
		const char *eq;

		while (end < len && buf[end] != '\n' && buf[end] != '\r')
			end++;
		next = end;
		if (next < len) {
			if (buf[next] == '\r' && next + 1 < len && buf[next + 1] == '\n')
				next += 2;
			else
				next++;
		}
		lineno++;
		n = end - pos;
		while (n > 0) {
			size_t t = trailing_space(u + pos, n);

			if (t == 0)
				break;
			n -= t;
		}
		eq = memchr(buf + pos, '=', n);
		if (eq == NULL || eq == buf + pos) {
			snprintf(err, errlen, "line %zu: %s", lineno,
				 n == 0 ? "empty line" : eq == NULL ? "no '='" : "empty name");
			manifest_free(m);
			return -1;
		}
		manifest_set(m, buf + pos, (size_t)(eq - (buf + pos)), eq + 1,
			     n - (size_t)(eq - (buf + pos)) - 1);
		pos = next;
	}
	return 0;
}

int
manifest_env_name_ok(const char *name, size_t len)
{
	/* exact names */
	static const char *const deny[] = {
		"PATH", "MACHINE", "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "IFS", "PS4",
		"CDPATH", "GLOBIGNORE", "PROMPT_COMMAND", "HOME", "TMPDIR", "GCONV_PATH",
		"LOCPATH", "NLSPATH", "HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS", "TZDIR",
		"GETCONF_DIR", "LANGUAGE", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_HOME",
		"GIT_EXEC_PATH", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "MAKEFLAGS", "SHELL",
	};
	/* prefixes */
	static const char *const deny_prefix[] = {
		"LD_", "BASH_FUNC_", "PYTHON", "PERL", "RUBY", "NODE_", "OPENSSL_", "MALLOC_",
		"GLIBC_", "LUA_", "TCL", "JAVA_", "DYLD_", "GCONV", "SUDO_",
	};
	char buf[64];

	if (len == 0 || len >= sizeof(buf) || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!(isalnum((unsigned char)name[i]) || name[i] == '_'))
			return 0;
		buf[i] = (char)toupper((unsigned char)name[i]);
	}
	buf[len] = '\0';
	for (size_t i = 0; i < sizeof(deny) / sizeof(deny[0]); i++)
		if (strcmp(buf, deny[i]) == 0)
			return 0;
	for (size_t i = 0; i < sizeof(deny_prefix) / sizeof(deny_prefix[0]); i++)
		if (strncmp(buf, deny_prefix[i], strlen(deny_prefix[i])) == 0)
			return 0;
	return 1;
}
