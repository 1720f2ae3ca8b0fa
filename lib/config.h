/* SPDX-License-Identifier: MIT */
/*
 * config.h: the daemon's settings.
 *
 * Every setting is listed once in settings.def.  Values come from, in
 * rising precedence: the built-in default, a KEY=VALUE config file (the
 * EnvironmentFile format), the DIGSIGSERVER_* environment, the command line.
 */
#ifndef DSS_CONFIG_H
#define DSS_CONFIG_H

#include <stdint.h>
#include <stdio.h>

enum conf_type { CONF_STR, CONF_INT, CONF_BOOL, CONF_LOGLEVEL };

struct config {
#define SETTING(NAME, member, type, def, min, max, help) CONF_FIELD_##type(member)
#define CONF_FIELD_CONF_STR(m) char *m;
#define CONF_FIELD_CONF_INT(m) long long m;
#define CONF_FIELD_CONF_BOOL(m) int m;
#define CONF_FIELD_CONF_LOGLEVEL(m) int m;
#include "settings.def"
#undef SETTING
	char *config_file; /* --config, if any */
};

struct conf_setting {
	const char *name; /* without the DIGSIGSERVER_ prefix */
	size_t offset;
	enum conf_type type;
	const char *def;
	long long min, max;
	const char *help;
};

extern const struct conf_setting conf_settings[];
extern const size_t conf_nsettings;

/* Fill cfg with the built-in defaults. */
void conf_defaults(struct config *cfg);
/* Set one setting by name (without prefix) from text; 0, or -1 and err. */
int conf_set(struct config *cfg, const char *name, const char *value, char *err, size_t errlen);
/* Apply a KEY=VALUE file (DIGSIGSERVER_ prefix optional, # comments,
 * optional quotes); 0, or -1 and err naming file and line. */
int conf_load_file(struct config *cfg, const char *path, char *err, size_t errlen);
/* One KEY=VALUE pair handed over by conf_parse_pairs; 0, or -1 with err. */
typedef int (*conf_pair_fn)(void *ctx, const char *key, const char *value, char *err,
			    size_t errlen);
/* Read buf in the EnvironmentFile format (# and ; comments, "export ",
 * optional quotes), calling fn for every pair; 0, or -1 and err naming
 * what and the line.  Lines are cleansed after use (values may be secrets). */
int conf_parse_pairs(const char *buf, size_t len, const char *what, conf_pair_fn fn, void *ctx,
		     char *err, size_t errlen);
/* Parse a buffer in the config file format (for the file and the fuzzer). */
int conf_load_buffer(struct config *cfg, const char *buf, size_t len, const char *what, char *err,
		     size_t errlen);
/* Apply DIGSIGSERVER_* variables from the environment. */
int conf_load_env(struct config *cfg, char *const *envp, char *err, size_t errlen);
/* Whole-configuration checks (required settings); 0 or -1 and err. */
int conf_validate(const struct config *cfg, char *err, size_t errlen);
/* DIGSIGSERVER_WORKER_UIDS as *first and *count (0: unset); 0, or -1
 * with err when it is not a range "first-last" of 1 to 4096 ids from 1
 * to 2^31 - 2, or holds fewer than twice WORKERS.  Not in conf_validate:
 * checked at start with the ids' use (main.c), and at a reload once the
 * running range is kept (options.c). */
int conf_worker_uids(const struct config *cfg, unsigned long *first, unsigned long *count,
		     char *err, size_t errlen);
/* The directory of job job_id in the work directory, into buf (of
 * len bytes, PATH_MAX is enough); 0, or -1 when it does not fit.  The
 * worker makes it, the supervisor removes what a worker left. */
int conf_job_dir(const struct config *cfg, uint64_t job_id, char *buf, size_t len);
/* A one-line warning about a valid but open configuration (no
 * ARTIFACT_URI_PREFIXES), for --check-config and the start-up log; or NULL. */
const char *conf_warning(const struct config *cfg);
/* Print every effective setting as DIGSIGSERVER_NAME=value lines. */
void conf_print(const struct config *cfg, FILE *fp);
/* Print the sample environment file: every setting commented, with its
 * default (etc/digsigserver.env is this output). */
void conf_print_env_template(FILE *fp);
/* Print every setting with its default and help text. */
void conf_print_help(FILE *fp);
/* Free strings held by cfg. */
void conf_free(struct config *cfg);
const char *conf_loglevel_name(int level);

#endif
