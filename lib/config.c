/* SPDX-License-Identifier: MIT */
/*
 * config.c: the settings table, and loading settings from defaults, a
 * config file, the environment and the command line.
 */
#include "config.h"

#include <ctype.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl.h"
#include "log.h"
#include "scheme.h"
#include "util.h"

#define CONF_PREFIX "DIGSIGSERVER_"

const struct conf_setting conf_settings[] = {
#define SETTING(NAME, member, type, def, min, max, help) \
	{#NAME, offsetof(struct config, member), type, def, min, max, help},
#include "settings.def"
#undef SETTING
};
const size_t conf_nsettings = sizeof(conf_settings) / sizeof(conf_settings[0]);

static const struct conf_setting *
conf_find(const char *name)
{
	for (size_t i = 0; i < conf_nsettings; i++)
		if (strcmp(conf_settings[i].name, name) == 0)
			return &conf_settings[i];
	return NULL;
}

const char *
conf_loglevel_name(int level)
{
	static const char *const names[] = {"debug", "info", "warning", "error"};

	return level >= 0 && level <= 3 ? names[level] : "info";
}

/* Parse a decimal integer within [min, max]; 0 or -1. */
static int
parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s) && *s != '-')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(s, yes[i]) == 0)
			return *out = 1, 0;
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcasecmp(s, no[i]) == 0)
			return *out = 0, 0;
	return -1;
}

/* Store value into the field described by s; 0 or -1 and err. */
static int
conf_apply(struct config *cfg, const struct conf_setting *s, const char *value, char *err,
	   size_t errlen)
{
	char *base = (char *)cfg + s->offset;

	switch (s->type) {
	case CONF_STR: {
		char **p = (char **)base;
		free(*p);
		*p = value && *value ? xstrdup(value) : NULL;
		return 0;
	}
	case CONF_INT:
		if (parse_int(value, s->min, s->max, (long long *)base) < 0) {
			snprintf(err, errlen, "DIGSIGSERVER_%s: \"%s\" is not an integer in %lld..%lld",
				 s->name, value, s->min, s->max);
			return -1;
		}
		return 0;
	case CONF_BOOL:
		/* an empty value is no "off": it would turn off unseen what
		 * is on by default (the tool sandbox) */
		if (parse_bool(value, (int *)base) < 0) {
			snprintf(err, errlen, "DIGSIGSERVER_%s: \"%s\" is not a boolean (0/1, yes/no)",
				 s->name, value);
			return -1;
		}
		return 0;
	case CONF_LOGLEVEL: {
		int lvl = log_level_parse(value);
		if (lvl < 0) {
			snprintf(err, errlen,
				 "DIGSIGSERVER_%s: \"%s\" is not debug, info, warning or error",
				 s->name, value);
			return -1;
		}
		*(int *)base = lvl;
		return 0;
	}
	}
	return -1;
}

void
conf_defaults(struct config *cfg)
{
	char err[256];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < conf_nsettings; i++)
		if (conf_settings[i].def != NULL &&
		    conf_apply(cfg, &conf_settings[i], conf_settings[i].def, err, sizeof(err)) < 0)
			fatalx("bad built-in default: %s", err);
}

int
conf_set(struct config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
	const struct conf_setting *s;

	if (strncmp(name, CONF_PREFIX, strlen(CONF_PREFIX)) == 0)
		name += strlen(CONF_PREFIX);
	if ((s = conf_find(name)) == NULL) {
		snprintf(err, errlen, "unknown setting DIGSIGSERVER_%.64s", name);
		return -1;
	}
	return conf_apply(cfg, s, value, err, errlen);
}

/* 1 when s is a shell variable name: [A-Za-z_][A-Za-z0-9_]*. */
static int
conf_var_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (s++; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

int
conf_parse_pairs(const char *buf, size_t len, const char *what, conf_pair_fn fn, void *ctx,
		 char *err, size_t errlen)
{
	size_t pos = 0;
	int lineno = 0;

	/* a UTF-8 byte order mark, as some editors write one */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	while (pos < len) {
		char line[4096], *key, *val, *eq, *end;
		size_t n = 0;

		lineno++;
		while (pos < len && buf[pos] != '\n') {
			if (n + 1 >= sizeof(line)) {
				snprintf(err, errlen, "%s:%d: line too long", what, lineno);
				return -1;
			}
			if (buf[pos] == '\0') {
				snprintf(err, errlen, "%s:%d: NUL byte", what, lineno);
				return -1;
			}
			line[n++] = buf[pos++];
		}
		pos++; /* the newline */
		line[n] = '\0';
		key = line;
		while (isspace((unsigned char)*key))
			key++;
		if (*key == '\0' || *key == '#' || *key == ';')
			continue;
		if (strncmp(key, "export", 6) == 0 && isspace((unsigned char)key[6]))
			for (key += 6; isspace((unsigned char)*key); key++)
				;
		if ((eq = strchr(key, '=')) == NULL) {
			snprintf(err, errlen, "%s:%d: expected KEY=VALUE", what, lineno);
			return -1;
		}
		*eq = '\0';
		for (end = eq; end > key && isspace((unsigned char)end[-1]); end--)
			end[-1] = '\0';
		/* a line that is no assignment of a variable is a mistake, not
		 * a foreign variable to pass over */
		if (!conf_var_name(key)) {
			snprintf(err, errlen, "%s:%d: \"%.64s\" is not a variable name", what, lineno,
				 key);
			explicit_bzero(line, sizeof(line));
			return -1;
		}
		val = eq + 1;
		while (isspace((unsigned char)*val))
			val++;
		end = val + strlen(val);
		while (end > val && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (end - val >= 2 && (*val == '"' || *val == '\'') && end[-1] == *val) {
			end[-1] = '\0';
			val++;
		}
		if (fn(ctx, key, val, err, errlen) < 0) {
			char tmp[512];
			snprintf(tmp, sizeof(tmp), "%s:%d: %s", what, lineno, err);
			snprintf(err, errlen, "%s", tmp);
			explicit_bzero(line, sizeof(line));
			return -1;
		}
		explicit_bzero(line, sizeof(line)); /* a value may be a secret */
	}
	return 0;
}

static int
conf_pair(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
	if (strncasecmp(key, CONF_PREFIX, strlen(CONF_PREFIX)) == 0 &&
	    strncmp(key, CONF_PREFIX, strlen(CONF_PREFIX)) != 0) {
		snprintf(err, errlen, "%.64s: setting names are upper case (DIGSIGSERVER_...)", key);
		return -1;
	}
	if (strncmp(key, CONF_PREFIX, strlen(CONF_PREFIX)) != 0 && conf_find(key) == NULL)
		return 0; /* foreign variables in a shared EnvironmentFile are fine */
	return conf_set(ctx, key, val, err, errlen);
}

int
conf_load_buffer(struct config *cfg, const char *buf, size_t len, const char *what, char *err,
		 size_t errlen)
{
	return conf_parse_pairs(buf, len, what, conf_pair, cfg, err, errlen);
}

static int
conf_load_parse(const char *buf, size_t len, const char *what, void *cfg, char *err,
		size_t errlen)
{
	return conf_load_buffer(cfg, buf, len, what, err, errlen);
}

int
conf_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	return util_load_file(path, 1 << 20, conf_load_parse, cfg, err, errlen);
}

int
conf_load_env(struct config *cfg, char *const *envp, char *err, size_t errlen)
{
	for (; *envp; envp++) {
		const char *eq;
		char name[128];

		if (strncmp(*envp, CONF_PREFIX, strlen(CONF_PREFIX)) != 0)
			continue;
		if ((eq = strchr(*envp, '=')) == NULL || (size_t)(eq - *envp) >= sizeof(name))
			continue;
		memcpy(name, *envp, (size_t)(eq - *envp));
		name[eq - *envp] = '\0';
		if (conf_find(name + strlen(CONF_PREFIX)) == NULL) {
			log_warnx("ignoring unknown environment variable %s", name);
			continue;
		}
		if (conf_set(cfg, name, eq + 1, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* 1 for a name that is one field of a log line and a label value. */
static int
conf_plain_name(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 64 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

/* A decimal id at *s up to the first character not a digit: 0 or -1. */
static int
parse_id(const char **s, unsigned long *out)
{
	unsigned long v = 0;
	const char *p = *s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (0x7ffffffeUL - (unsigned long)(*p - '0')) / 10)
			return -1; /* past 2^31 - 2: (uid_t)-1 and its neighbours */
		v = v * 10 + (unsigned long)(*p - '0');
	}
	*s = p;
	*out = v;
	return 0;
}

int
conf_job_dir(const struct config *cfg, uint64_t job_id, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/job-%llu", cfg->work_dir, (unsigned long long)job_id);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
conf_worker_uids(const struct config *cfg, unsigned long *first, unsigned long *count, char *err,
		 size_t errlen)
{
	const char *p = cfg->worker_uids;
	unsigned long lo, hi;

	*first = *count = 0;
	if (p == NULL || *p == '\0')
		return 0;
	if (parse_id(&p, &lo) < 0 || *p++ != '-' || parse_id(&p, &hi) < 0 || *p != '\0' ||
	    lo == 0 || hi < lo || hi - lo >= 4096) {
		snprintf(err, errlen,
			 "DIGSIGSERVER_WORKER_UIDS: \"%s\" is not a range first-last of 1 to "
			 "4096 user ids above 0",
			 cfg->worker_uids);
		return -1;
	}
	if (hi - lo + 1 < 2 * (unsigned long)cfg->workers) {
		snprintf(err, errlen,
			 "DIGSIGSERVER_WORKER_UIDS: %lu ids for %lld workers; it needs at least "
			 "twice WORKERS (a worker's id is free again only once it has ended)",
			 hi - lo + 1, cfg->workers);
		return -1;
	}
	*first = lo;
	*count = hi - lo + 1;
	return 0;
}

/* An address list setting (acl.h): 0, or -1 with err naming the entry. */
static int
conf_check_acl(const char *name, const char *spec, char *err, size_t errlen)
{
	struct acl *acl;
	char why[256];

	if (acl_parse(spec, &acl, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "DIGSIGSERVER_%s: %s", name, why);
		return -1;
	}
	acl_free(acl);
	return 0;
}

/* 1 when s is an HTTP header name (RFC 9110 token). */
static int
conf_http_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return 0;
	return 1;
}

int
conf_validate(const struct config *cfg, char *err, size_t errlen)
{
	const char *k = cfg->keyfile_uri, *rest;
	enum uri_kind kind = uri_scheme(k, &rest);

	if (k == NULL) {
		snprintf(err, errlen, "DIGSIGSERVER_KEYFILE_URI is not set");
		return -1;
	}
	if (kind == URI_OTHER) {
		snprintf(err, errlen,
			 "DIGSIGSERVER_KEYFILE_URI: \"%s\" is not a file://, s3:// URI or an absolute path",
			 k);
		return -1;
	}
	if (kind == URI_S3 && (rest[0] == '\0' || rest[0] == '/')) {
		snprintf(err, errlen, "DIGSIGSERVER_KEYFILE_URI: \"%s\" names no bucket", k);
		return -1;
	}
	if (cfg->work_dir == NULL || cfg->work_dir[0] != '/') {
		snprintf(err, errlen, "DIGSIGSERVER_WORK_DIR must be an absolute path");
		return -1;
	}
	if (cfg->address == NULL) {
		snprintf(err, errlen, "DIGSIGSERVER_ADDRESS is empty");
		return -1;
	}
	if (cfg->instance != NULL && !conf_plain_name(cfg->instance)) {
		snprintf(err, errlen, "DIGSIGSERVER_INSTANCE must be 1 to 64 characters of "
				      "[A-Za-z0-9._:-]");
		return -1;
	}
	if (conf_check_acl("STATUS_ALLOW", cfg->status_allow, err, errlen) < 0 ||
	    conf_check_acl("TRUSTED_PROXIES", cfg->trusted_proxies, err, errlen) < 0)
		return -1;
	if (cfg->subject_header != NULL && !conf_http_token(cfg->subject_header)) {
		snprintf(err, errlen, "DIGSIGSERVER_SUBJECT_HEADER: \"%.64s\" is not a header name",
			 cfg->subject_header);
		return -1;
	}
	return 0;
}

const char *
conf_warning(const struct config *cfg)
{
	const char *p = cfg->artifact_uri_prefixes;

	/* a list of only commas and blanks limits nothing either (uri.c) */
	for (; p != NULL && *p != '\0'; p++)
		if (*p != ',' && *p != ' ' && *p != '\t')
			return NULL;
	return "DIGSIGSERVER_ARTIFACT_URI_PREFIXES is not set: a client may name as artifact-uri "
	       "any file the service user can write";
}

void
conf_print(const struct config *cfg, FILE *fp)
{
	for (size_t i = 0; i < conf_nsettings; i++) {
		const struct conf_setting *s = &conf_settings[i];
		const char *base = (const char *)cfg + s->offset;

		fprintf(fp, "DIGSIGSERVER_%s=", s->name);
		switch (s->type) {
		case CONF_STR:
			fprintf(fp, "%s\n", *(char *const *)base ? *(char *const *)base : "");
			break;
		case CONF_INT:
			fprintf(fp, "%lld\n", *(const long long *)base);
			break;
		case CONF_BOOL:
			fprintf(fp, "%d\n", *(const int *)base);
			break;
		case CONF_LOGLEVEL:
			fprintf(fp, "%s\n", conf_loglevel_name(*(const int *)base));
			break;
		}
	}
}

void
conf_print_env_template(FILE *fp)
{
	fprintf(fp, "# digsigserver settings (systemd EnvironmentFile format, also read by\n"
		    "# digsigserver --config FILE).  Every setting is shown with its default;\n"
		    "# uncomment and change what you need.  The environment and the command\n"
		    "# line take precedence over this file.\n");
	for (size_t i = 0; i < conf_nsettings; i++) {
		const struct conf_setting *s = &conf_settings[i];

		fprintf(fp, "\n# %s\n#DIGSIGSERVER_%s=%s\n", s->help, s->name, s->def ? s->def : "");
	}
}

void
conf_print_help(FILE *fp)
{
	for (size_t i = 0; i < conf_nsettings; i++) {
		const struct conf_setting *s = &conf_settings[i];

		fprintf(fp, "  DIGSIGSERVER_%-24s %s\n  %-37s (default: %s)\n", s->name, s->help, "",
			s->def ? s->def : "unset");
	}
}

void
conf_free(struct config *cfg)
{
	for (size_t i = 0; i < conf_nsettings; i++)
		if (conf_settings[i].type == CONF_STR) {
			char **p = (char **)((char *)cfg + conf_settings[i].offset);
			free(*p);
			*p = NULL;
		}
	free(cfg->config_file);
	cfg->config_file = NULL;
}
