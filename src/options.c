/* SPDX-License-Identifier: MIT */
/*
 * options.c: see options.h.
 */
#include "options.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keystore.h"
#include "log.h"
#include "util.h"

extern char **environ;

/* Command-line settings, kept to re-apply over a SIGHUP re-read. */
static struct override {
	char *name;
	char *value;
} overrides[16];
static int noverrides;
static char *config_path;
/*
 * The DIGSIGSERVER_* variables whose value at start was the --config
 * file's: what systemd's EnvironmentFile= put there from the same file
 * (the shipped unit names the file both ways).  The environment cannot
 * change after start, so on SIGHUP these follow the file, which can;
 * every other variable keeps its precedence over the file.
 */
static char **mirrored;
static size_t nmirrored;
static int mirrors_known;

void
options_set(const char *name, const char *value)
{
	if (noverrides == (int)(sizeof(overrides) / sizeof(overrides[0])))
		fatalx("too many options");
	overrides[noverrides].name = xstrdup(name);
	overrides[noverrides].value = xstrdup(value);
	noverrides++;
}

void
options_set_file(const char *path)
{
	free(config_path);
	config_path = xstrdup(path);
}

/* A pair of the --config file: note its name when the environment holds
 * the same value under it. */
static int
note_mirror(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
	const char *env = getenv(key);

	(void)ctx;
	(void)err;
	(void)errlen;
	if (strncmp(key, "DIGSIGSERVER_", strlen("DIGSIGSERVER_")) == 0 && env != NULL &&
	    strcmp(env, val) == 0) {
		mirrored = xrealloc(mirrored, (nmirrored + 1) * sizeof(*mirrored));
		mirrored[nmirrored++] = xstrdup(key);
	}
	return 0;
}

static int
parse_mirrors(const char *buf, size_t len, const char *what, void *ctx, char *err, size_t errlen)
{
	return conf_parse_pairs(buf, len, what, note_mirror, ctx, err, errlen);
}

/* 1 when the environment entry "NAME=value" is one the file mirrors. */
static int
is_mirrored(const char *entry)
{
	for (size_t i = 0; i < nmirrored; i++) {
		size_t n = strlen(mirrored[i]);

		if (strncmp(entry, mirrored[i], n) == 0 && entry[n] == '=')
			return 1;
	}
	return 0;
}

int
options_load(struct config *cfg, char *err, size_t errlen)
{
	char **env;
	size_t n = 0, k = 0;
	int rc;

	conf_defaults(cfg);
	if (config_path != NULL) {
		if (conf_load_file(cfg, config_path, err, errlen) < 0)
			return -1;
		cfg->config_file = xstrdup(config_path);
		if (!mirrors_known &&
		    util_load_file(config_path, 1024 * 1024, parse_mirrors, NULL, err, errlen) < 0)
			return -1;
		mirrors_known = 1;
	}
	for (char **e = environ; *e != NULL; e++)
		n++;
	env = xcalloc(n + 1, sizeof(*env));
	for (char **e = environ; *e != NULL; e++)
		if (!is_mirrored(*e))
			env[k++] = *e;
	rc = conf_load_env(cfg, env, err, errlen);
	free(env);
	if (rc < 0)
		return -1;
	for (int i = 0; i < noverrides; i++)
		if (conf_set(cfg, overrides[i].name, overrides[i].value, err, errlen) < 0)
			return -1;
	if (cfg->instance == NULL || *cfg->instance == '\0') {
		char host[256] = "";

		if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "digsigserver");
		free(cfg->instance);
		cfg->instance = xstrdup(host);
	}
	return conf_validate(cfg, err, errlen);
}

/* A string setting that needs a restart: keep the running one. */
static void
keep_string(char **fresh, const char *running)
{
	free(*fresh);
	*fresh = running != NULL ? xstrdup(running) : NULL;
}

int
options_reload(struct config *cfg)
{
	struct config fresh;
	unsigned long first, count;
	char err[512];

	if (options_load(&fresh, err, sizeof(err)) < 0 ||
	    ks_credentials_check(&fresh, err, sizeof(err)) < 0) {
		log_errorx("configuration not reloaded: %s", err);
		conf_free(&fresh);
		return -1;
	}
	if (strcmp(fresh.address, cfg->address) != 0 || fresh.port != cfg->port)
		log_warnx("address and port changes need a restart; keeping %s:%lld", cfg->address,
			  cfg->port);
	keep_string(&fresh.address, cfg->address);
	fresh.port = cfg->port;
	if (strcmp(fresh.user ? fresh.user : "", cfg->user ? cfg->user : "") != 0)
		log_warnx("a user change needs a restart; keeping %s", cfg->user ? cfg->user : "-");
	keep_string(&fresh.user, cfg->user);
	if (strcmp(fresh.key_user ? fresh.key_user : "", cfg->key_user ? cfg->key_user : "") != 0)
		log_warnx("a key user change needs a restart; keeping %s",
			  cfg->key_user ? cfg->key_user : "-");
	keep_string(&fresh.key_user, cfg->key_user);
	if (strcmp(fresh.worker_uids ? fresh.worker_uids : "",
		   cfg->worker_uids ? cfg->worker_uids : "") != 0)
		log_warnx("a change of the workers' ids needs a restart; keeping %s",
			  cfg->worker_uids ? cfg->worker_uids : "-");
	keep_string(&fresh.worker_uids, cfg->worker_uids);
	/* set up at start (its mode, the workers' access, a stale job's
	 * leftovers cleared): a new one would be used unprepared */
	if (strcmp(fresh.work_dir, cfg->work_dir) != 0)
		log_warnx("a work directory change needs a restart; keeping %s", cfg->work_dir);
	keep_string(&fresh.work_dir, cfg->work_dir);
	/* the kept ids must still be enough for the new WORKERS */
	if (conf_worker_uids(&fresh, &first, &count, err, sizeof(err)) < 0) {
		log_errorx("configuration not reloaded: %s", err);
		conf_free(&fresh);
		return -1;
	}
	conf_free(cfg);
	*cfg = fresh;
	log_set_level(cfg->log_level);
	return 0;
}
