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

int
options_load(struct config *cfg, char *err, size_t errlen)
{
	conf_defaults(cfg);
	if (config_path != NULL) {
		if (conf_load_file(cfg, config_path, err, errlen) < 0)
			return -1;
		cfg->config_file = xstrdup(config_path);
	}
	if (conf_load_env(cfg, environ, err, errlen) < 0)
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
