/*
 * main.c: digsigserver's command line and start-up.
 *
 * Settings come from the built-in defaults, then --config FILE, then the
 * DIGSIGSERVER_* environment, then the command line.  The supervisor
 * (supervisor.c) then runs until SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "audit.h"
#include "config.h"
#include "keystore.h"
#include "log.h"
#include "privdrop.h"
#include "supervisor.h"
#include "util.h"

extern char **environ;

/* Command-line settings, kept to re-apply over a SIGHUP re-read. */
struct override {
	const char *name;
	const char *value;
};
static struct override overrides[16];
static int noverrides;
static char *config_path;
static struct supervisor supervisor;

static void
usage(FILE *fp)
{
	fprintf(fp,
		"usage: digsigserver [--address ADDR] [--port PORT] [--debug] [--workers N]\n"
		"                    [--user NAME] [--config FILE] [--check-config]\n"
		"                    [--help] [--version]\n"
		"       digsigserver --verify-audit FILE\n"
		"\n"
		"  --address ADDR    listen address (DIGSIGSERVER_ADDRESS)\n"
		"  --port PORT       listen port (DIGSIGSERVER_PORT)\n"
		"  --debug           log at debug level (DIGSIGSERVER_LOG_LEVEL=debug)\n"
		"  --workers N       worker pool size (DIGSIGSERVER_WORKERS)\n"
		"  --user NAME       user the workers run as when started as root\n"
		"  --config FILE     KEY=VALUE settings file (systemd EnvironmentFile format)\n"
		"  --check-config    validate the settings, print them, exit 0 or 1\n"
		"  --help            this text\n"
		"  --version         print the version\n"
		"  --verify-audit FILE  check the audit trail's hash chain, exit 0 or 1\n"
		"\n"
		"Settings (environment variables; precedence: command line > environment >\n"
		"config file > default):\n");
	conf_print_help(fp);
}

static void
add_override(const char *name, const char *value)
{
	if (noverrides == (int)(sizeof(overrides) / sizeof(overrides[0])))
		fatalx("too many options");
	overrides[noverrides].name = name;
	overrides[noverrides].value = value;
	noverrides++;
}

/* Build a configuration from every source; 0 or -1 with err. */
static int
load_config(struct config *cfg, char *err, size_t errlen)
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
	return conf_validate(cfg, err, errlen);
}

/* Called on SIGHUP: take new settings if they are valid. */
int
supervisor_reload(void)
{
	struct config fresh;
	char err[512];

	if (load_config(&fresh, err, sizeof(err)) < 0) {
		log_errorx("configuration not reloaded: %s", err);
		conf_free(&fresh);
		return -1;
	}
	if (strcmp(fresh.address, sv->cfg.address) != 0 || fresh.port != sv->cfg.port)
		log_warnx("address and port changes need a restart; keeping %s:%lld",
			  sv->cfg.address, sv->cfg.port);
	free(fresh.address);
	fresh.address = xstrdup(sv->cfg.address);
	fresh.port = sv->cfg.port;
	if (strcmp(fresh.user ? fresh.user : "", sv->cfg.user ? sv->cfg.user : "") != 0)
		log_warnx("a user change needs a restart; keeping %s",
			  sv->cfg.user ? sv->cfg.user : "-");
	free(fresh.user);
	fresh.user = sv->cfg.user ? xstrdup(sv->cfg.user) : NULL;
	conf_free(&sv->cfg);
	sv->cfg = fresh;
	log_set_level(sv->cfg.log_level);
	return 0;
}

/* Create the work directory for the service user and clear jobs left by
 * a previous run; 0 or -1 with err. */
static int
prepare_work_dir(const struct config *cfg, const struct priv_user *pu, int fix, char *err,
		 size_t errlen)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (fix && mkdir(cfg->work_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "work directory %s: %s", cfg->work_dir, strerror(errno));
		return -1;
	}
	if (lstat(cfg->work_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "work directory %s: %s", cfg->work_dir,
			 errno ? strerror(errno) : "not a directory");
		return -1;
	}
	if (fix && pu->valid && (st.st_uid != pu->uid || (st.st_mode & 0777) != 0700)) {
		if (chown(cfg->work_dir, pu->uid, pu->gid) < 0 || chmod(cfg->work_dir, 0700) < 0) {
			snprintf(err, errlen, "work directory %s: %s", cfg->work_dir,
				 strerror(errno));
			return -1;
		}
	}
	if (!fix)
		return access(cfg->work_dir, W_OK | X_OK) == 0 || pu->valid ? 0 : -1;
	if ((d = opendir(cfg->work_dir)) == NULL) {
		snprintf(err, errlen, "work directory %s: %s", cfg->work_dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "job-", 4) == 0) {
			char *p = xasprintf("%s/%s", cfg->work_dir, de->d_name);
			log_info("removing %s left by an earlier run", p);
			if (util_rm_rf(p) < 0)
				log_warnx("removing %s: %s", p, strerror(errno));
			free(p);
		}
	}
	closedir(d);
	return 0;
}

/*
 * Raise the descriptor limit to its hard maximum and keep MAX_CONNECTIONS
 * below it, with room for the workers' channels and their clients.
 */
static void
fit_connections(struct config *cfg)
{
	struct rlimit rl;
	long long room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	room = rl.rlim_cur == RLIM_INFINITY ? LLONG_MAX : (long long)rl.rlim_cur - 4 * cfg->workers - 64;
	if (room < 16)
		room = 16;
	if (cfg->max_connections > room) {
		log_warnx("DIGSIGSERVER_MAX_CONNECTIONS lowered from %lld to %lld to fit the descriptor "
			  "limit of %llu",
			  cfg->max_connections, room, (unsigned long long)rl.rlim_cur);
		cfg->max_connections = room;
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"address", required_argument, NULL, 'a'},
		{"port", required_argument, NULL, 'p'},
		{"debug", no_argument, NULL, 'd'},
		{"workers", required_argument, NULL, 'w'},
		{"user", required_argument, NULL, 'u'},
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"env-template", no_argument, NULL, 'E'},
		{"verify-audit", required_argument, NULL, 'A'},
		{NULL, 0, NULL, 0},
	};
	struct supervisor *s = &supervisor;
	int ch, check = 0;
	char err[512];

	log_init("digsigserver", LOG_LVL_INFO, 0);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			add_override("ADDRESS", optarg);
			break;
		case 'p':
			add_override("PORT", optarg);
			break;
		case 'd':
			add_override("LOG_LEVEL", "debug");
			break;
		case 'w':
			add_override("WORKERS", optarg);
			break;
		case 'u':
			add_override("USER", optarg);
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'A':
			return audit_verify(optarg, stdout) == 0 ? 0 : 1;
		case 'E':
			conf_print_env_template(stdout);
			return 0;
		case 'V':
			printf("digsigserver %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "digsigserver: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	snprintf(s->version, sizeof(s->version), "%s", PACKAGE_VERSION);
	if (load_config(&s->cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "digsigserver: %s\n", err);
		return 1;
	}
	log_init("digsigserver", s->cfg.log_level, s->cfg.syslog);
	if (priv_lookup(s->cfg.user, &s->user, err, sizeof(err)) < 0) {
		fprintf(stderr, "digsigserver: %s\n", err);
		return 1;
	}
	if (check) {
		int ok = 1;

		conf_print(&s->cfg, stdout);
		if (prepare_work_dir(&s->cfg, &s->user, 0, err, sizeof(err)) < 0) {
			printf("# warning: %s\n", err);
		}
		if (conf_warning(&s->cfg) != NULL)
			printf("# warning: %s\n", conf_warning(&s->cfg));
		if (ks_check_access(&s->cfg, stdout) < 0)
			ok = 0;
		printf("# configuration %s\n", ok ? "OK" : "has errors");
		return ok ? 0 : 1;
	}
	if (prepare_work_dir(&s->cfg, &s->user, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "digsigserver: %s\n", err);
		return 1;
	}
	if (!s->user.valid)
		log_info("not started as root: workers run as uid %u", (unsigned)getuid());
	if (conf_warning(&s->cfg) != NULL)
		log_warnx("%s", conf_warning(&s->cfg));
	fit_connections(&s->cfg);
	supervisor_init(s);
	return supervisor_run(s);
}
