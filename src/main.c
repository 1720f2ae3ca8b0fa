/* SPDX-License-Identifier: MIT */
/*
 * main.c: digsigserver's command line and start-up.
 *
 * The command line and the settings it names go to options.c, which also
 * reads the file and the environment; main checks what the supervisor
 * needs (the work directory, the descriptor limit), sets the process
 * title (proc.h) and runs the supervisor (supervisor.c) until SIGTERM.
 * Calls: options, supervisor, roles, audit (--verify-audit), statusview
 * (--status, --watch) and lib/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "audit.h"
#include "config.h"
#include "fsutil.h"
#include "hugetext.h"
#include "keyd.h"
#include "keystore.h"
#include "log.h"
#include "options.h"
#include "privdrop.h"
#include "proc.h"
#include "roles.h"
#include "statusview.h"
#include "subid.h"
#include "supervisor.h"
#include "tokens.h"
#include "util.h"

/* What the command line asks for besides serving. */
enum action { SERVE, CHECK_CONFIG, STATUS_VIEW, EXIT_OK, EXIT_USAGE };

/* --status [URL] and --watch (statusview.h) */
static const char *status_url;
static int status_watch;
static const char *status_port; /* --port, for when the settings do not load */

static void
usage(FILE *fp)
{
	fprintf(fp,
		"usage: digsigserver [--address ADDR] [--port PORT] [--debug] [--workers N]\n"
		"                    [--user NAME] [--config FILE] [--check-config]\n"
		"                    [--help] [--version]\n"
		"       digsigserver --verify-audit FILE [FILE...]\n"
		"       digsigserver --status|--watch [URL]\n"
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
		"  --verify-audit FILE...  check each audit trail's hash chain (one per\n"
		"                    instance), exit 0 when all are intact, else 1\n"
		"  --status [URL]    print a running instance's pool as a table, exit 0\n"
		"                    when it is healthy, else 1 (URL: its /status, default\n"
		"                    http://127.0.0.1:PORT/status)\n"
		"  --watch [URL]     the same, redrawn every second\n"
		"\n"
		"Settings (environment variables; precedence: command line > environment >\n"
		"config file > default):\n");
	conf_print_help(fp);
}

/* Who may map which ids into a user namespace of their own (subuid(5)). */
#define SUBUID_FILE "/etc/subuid"

/* Ranges of ids that others hand out while the system runs (systemd's
 * DynamicUser= services, its containers and foreign ids; nobody and the
 * 16-bit -1), where no entry in the user database shows their use. */
static const struct {
	unsigned long lo, hi;
	const char *what;
} taken_ranges[] = {
    {61184, 65519, "systemd's DynamicUser= ids"},
    {65534, 65535, "nobody and the 16-bit -1"},
    {524288, 1879048191, "systemd's container ids"},
    {2147352576, 2147418111, "systemd's foreign ids"},
};

/* The first process running as an id of first..first+count-1 (real,
 * effective or saved: its /proc/<pid>/status; not a zombie), or 0. */
static pid_t
id_in_use(unsigned long first, unsigned long count, unsigned long *id)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	if (d == NULL)
		return 0;
	while (found == 0 && (de = readdir(d)) != NULL) {
		char path[64], line[256];
		unsigned long u[3];
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.20s/status", de->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			if (strncmp(line, "State:\tZ", 8) == 0)
				break; /* a zombie runs nothing (State comes first) */
			if (sscanf(line, "Uid: %lu %lu %lu", &u[0], &u[1], &u[2]) == 3) {
				for (int i = 0; i < 3 && found == 0; i++)
					if (u[i] >= first && u[i] - first < count) {
						found = (pid_t)strtol(de->d_name, NULL, 10);
						*id = u[i];
					}
				break;
			}
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

/*
 * DIGSIGSERVER_WORKER_UIDS (uids.h): only when started as root, and none
 * of the ids may be someone else's: not in a range others hand out, not
 * in the user database, no process running as one (a worker born with an
 * id kills every other process of it; a second daemon with the same
 * range).  *ids: the range's first id, or 0 when none is set.  0 or -1
 * with err.
 */
static int
check_worker_ids(const struct config *cfg, const struct priv_user *pu, uid_t *ids, char *err,
		 size_t errlen)
{
	unsigned long first, count, last, id;
	struct subid_range sub;
	struct passwd *pw;
	pid_t pid;

	*ids = 0;
	if (conf_worker_uids(cfg, &first, &count, err, errlen) < 0)
		return -1;
	if (count == 0)
		return 0;
	if (!pu->valid) {
		snprintf(err, errlen,
			 "DIGSIGSERVER_WORKER_UIDS needs the daemon started as root "
			 "(it switches each worker to an id of its own)");
		return -1;
	}
	last = first + count - 1;
	for (size_t i = 0; i < sizeof(taken_ranges) / sizeof(taken_ranges[0]); i++)
		if (first <= taken_ranges[i].hi && last >= taken_ranges[i].lo) {
			snprintf(err, errlen,
				 "DIGSIGSERVER_WORKER_UIDS: %lu-%lu overlaps %s (%lu-%lu); choose "
				 "ids no one else hands out, e.g. 70000-70063",
				 first, last, taken_ranges[i].what, taken_ranges[i].lo,
				 taken_ranges[i].hi);
			return -1;
		}
	switch (subid_file_overlap(SUBUID_FILE, first, last, &sub, err, errlen)) {
	case -1:
		return -1;
	case 1:
		snprintf(err, errlen,
			 "DIGSIGSERVER_WORKER_UIDS: %lu-%lu overlaps the subordinate ids of \"%s\" "
			 "in " SUBUID_FILE " (%lu-%lu): that user may map them into a user "
			 "namespace and reach the workers; choose ids no one has",
			 first, last, sub.owner, sub.first, sub.first + (sub.count - 1));
		return -1;
	}
	for (id = first; id <= last; id++)
		if ((pw = getpwuid((uid_t)id)) != NULL) {
			snprintf(
			    err, errlen,
			    "DIGSIGSERVER_WORKER_UIDS: %lu is the id of user \"%.64s\"; the "
			    "range must be ids no one has (a worker kills every process of its id)",
			    id, pw->pw_name);
			return -1;
		}
	if ((pid = id_in_use(first, count, &id)) != 0) {
		snprintf(
		    err, errlen,
		    "DIGSIGSERVER_WORKER_UIDS: process %ld runs as %lu, an id of the range "
		    "(another daemon with the same range, or what an earlier run left: stop it)",
		    (long)pid, id);
		return -1;
	}
	*ids = (uid_t)first;
	return 0;
}

/* With WORKER_UIDS: every directory above the work directory must let a
 * worker id through (who: the first id, with the workers' group).  0,
 * or -1 with err naming the first that does not. */
static int
ids_reach(const char *dir, const struct fs_who *who, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	char *slash;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return 0;
	while ((slash = strrchr(path, '/')) != NULL) {
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(path, &st) == 0 && !fs_who_can(who, path, &st, 1)) {
			snprintf(
			    err, errlen,
			    "work directory %.200s: the workers' ids (DIGSIGSERVER_WORKER_UIDS) "
			    "cannot pass through %.200s (mode %03o, group %lu)",
			    dir, path, (unsigned)(st.st_mode & 0777), (unsigned long)st.st_gid);
			return -1;
		}
		if (slash == path)
			break;
	}
	return 0;
}

/* Create the work directory for the service user (with WORKER_UIDS, ids
 * the first id: root's, in which the workers' group may create what it
 * cannot list or remove: 01730) and clear jobs left by a previous run; 0
 * or -1 with err. */
static int
prepare_work_dir(const struct config *cfg, const struct priv_user *pu, uid_t ids, int fix,
		 char *err, size_t errlen)
{
	const struct fs_who who = {
	    .name = "a worker id", .uid = ids, .groups = {pu->gid}, .ngroups = 1};
	uid_t owner = ids ? 0 : pu->uid;
	mode_t mode = ids ? 01730 : 0700;
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
	if (ids && ids_reach(cfg->work_dir, &who, err, errlen) < 0)
		return -1;
	if (fix && pu->valid &&
	    (st.st_uid != owner || st.st_gid != pu->gid || (st.st_mode & 07777) != mode)) {
		if (chown(cfg->work_dir, owner, pu->gid) < 0 || chmod(cfg->work_dir, mode) < 0) {
			snprintf(err, errlen, "work directory %s: %s", cfg->work_dir,
				 strerror(errno));
			return -1;
		}
	}
	if (!fix) {
		if (access(cfg->work_dir, W_OK | X_OK) == 0 || pu->valid)
			return 0;
		snprintf(err, errlen, "work directory %s: %s", cfg->work_dir, strerror(errno));
		return -1;
	}
	if ((d = opendir(cfg->work_dir)) == NULL) {
		snprintf(err, errlen, "work directory %s: %s", cfg->work_dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "job-", 4) == 0) {
			char *p = xasprintf("%s/%s", cfg->work_dir, de->d_name);
			log_info("removing %s left by an earlier run", p);
			if (util_rm_rf(p) < 0)
				log_warn("removing %s", p);
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

/* The options that are settings: --port 1 is PORT=1, --debug LOG_LEVEL=debug. */
static const struct {
	int ch;
	const char *setting;
	const char *value; /* NULL: the option's argument */
} option_settings[] = {
	{'a', "ADDRESS", NULL}, {'p', "PORT", NULL},   {'d', "LOG_LEVEL", "debug"},
	{'w', "WORKERS", NULL}, {'u', "USER", NULL},
};

/* If option ch is a setting, give it to options.h; 1 if it was. */
static int
option_setting(int ch)
{
	for (size_t i = 0; i < sizeof(option_settings) / sizeof(option_settings[0]); i++)
		if (option_settings[i].ch == ch) {
			options_set(option_settings[i].setting,
				    option_settings[i].value ? option_settings[i].value : optarg);
			return 1;
		}
	return 0;
}

/*
 * Read the command line into options.h; what to do, or the exit status
 * of an answer given here (--help, --version, --verify-audit) in *rc.
 */
static enum action
parse_args(int argc, char **argv, int *rc)
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
		{"status", no_argument, NULL, 'S'},
		{"watch", no_argument, NULL, 'W'},
		{NULL, 0, NULL, 0},
	};
	enum action act = SERVE;
	int ch;

	*rc = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'p')
			status_port = optarg;
		if (option_setting(ch))
			continue;
		switch (ch) {
		case 'c':
			options_set_file(optarg);
			break;
		case 'C':
			act = CHECK_CONFIG;
			break;
		case 'W':
			status_watch = 1;
			/* fall through */
		case 'S':
			act = STATUS_VIEW;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'A':
			/* FILE, and any further arguments: one trail per instance */
			*rc = audit_verify(optarg, stdout) == 0 ? 0 : 1;
			for (int i = optind; i < argc; i++)
				if (audit_verify(argv[i], stdout) != 0)
					*rc = 1;
			return EXIT_OK;
		case 'E':
			conf_print_env_template(stdout);
			return EXIT_OK;
		case 'V':
			printf("digsigserver %s\n", PACKAGE_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			*rc = 2;
			return EXIT_USAGE;
		}
	}
	if (act == STATUS_VIEW && optind < argc)
		status_url = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "digsigserver: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		*rc = 2;
		return EXIT_USAGE;
	}
	return act;
}

/* --status, --watch: the port of the settings (a client needs no key
 * store: when they are incomplete, --port, DIGSIGSERVER_PORT or 9999). */
static int
status_view(struct config *cfg)
{
	char err[512];
	const char *port = status_port ? status_port : getenv("DIGSIGSERVER_PORT");

	if (options_load(cfg, err, sizeof(err)) == 0)
		return statusview_run(status_url, cfg->port, status_watch);
	return statusview_run(status_url, port ? atoll(port) : 9999, status_watch);
}

/* --check-config: the tokens file loads, as the daemon will not start
 * without it; 0 or -1 (said). */
static int
check_access_control(const struct config *cfg)
{
	struct tokens *t = NULL;
	char err[512];

	if (cfg->tokens_file == NULL)
		return 0;
	if (tokens_load(cfg->tokens_file, &t, err, sizeof(err)) < 0) {
		printf("error: DIGSIGSERVER_TOKENS_FILE: %s\n", err);
		return -1;
	}
	tokens_free(t);
	return 0;
}

/* --check-config: the audit trail can be appended to, or made in its
 * directory (it is not made here); -1 (said) when it cannot and
 * AUDIT_REQUIRED keeps the daemon from starting, else 0. */
static int
check_audit_trail(const struct config *cfg)
{
	const char *p = cfg->audit_file;
	char dir[PATH_MAX], why[PATH_MAX + 64] = "";
	int fd;

	if (p == NULL)
		return 0;
	if ((fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		close(fd);
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(why, sizeof(why), "%s: %s", p, strerror(errno));
	} else {
		const char *slash = strrchr(p, '/');

		snprintf(dir, sizeof(dir), "%.*s", slash && slash != p ? (int)(slash - p) : 1,
			 slash ? p : ".");
		if (access(dir, W_OK | X_OK) < 0)
			snprintf(why, sizeof(why), "%s cannot be made: %s: %s", p, dir,
				 strerror(errno));
	}
	if (why[0] == '\0')
		return 0;
	printf("%s: DIGSIGSERVER_AUDIT_FILE: %s\n", cfg->audit_required ? "error" : "# warning",
	       why);
	return cfg->audit_required ? -1 : 0;
}

/* 1 when the file at path holds only public material: a certificate or
 * a public key (PEM or DER) and no private key. */
static int
public_material(const char *path)
{
	static const char *const pem[] = {"-----BEGIN CERTIFICATE-----",
					  "-----BEGIN PUBLIC KEY-----",
					  "-----BEGIN RSA PUBLIC KEY-----"};
	unsigned char *buf = xmalloc(1 << 20);
	const unsigned char *p = buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC), pub = 0;
	ssize_t n = fd >= 0 ? read(fd, buf, (1 << 20) - 1) : -1;
	X509 *x;
	EVP_PKEY *k;

	if (fd >= 0)
		close(fd);
	if (n > 0 && memmem(buf, (size_t)n, "PRIVATE KEY", 11) == NULL) {
		for (size_t i = 0; i < sizeof(pem) / sizeof(pem[0]) && !pub; i++)
			pub = memmem(buf, (size_t)n, pem[i], strlen(pem[i])) != NULL;
		if (!pub && (x = d2i_X509(NULL, &p, n)) != NULL) {
			pub = p == buf + n;
			X509_free(x);
		}
		p = buf;
		if (!pub && (k = d2i_PUBKEY(NULL, &p, n)) != NULL) {
			pub = p == buf + n;
			EVP_PKEY_free(k);
		}
	}
	OPENSSL_cleanse(buf, 1 << 20);
	free(buf);
	return pub;
}

/*
 * Started as root, file permissions alone keep a file:// key store from
 * the workers, which run with the service user's groups: refuse to start
 * when one of them can read a key file that is not public (a certificate,
 * a public key), naming each.  0 or -1 (said).
 */
static int
check_keys_hidden(const struct config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *report = open_memstream(&text, &len);
	int rc;

	if (report == NULL) {
		fprintf(stderr, "digsigserver: open_memstream: %s\n", strerror(errno));
		return -1;
	}
	rc = ks_check_secrets_hidden(cfg, report, public_material);
	fclose(report);
	if (rc < 0)
		fprintf(stderr, "%sdigsigserver: the workers' user can read the key store: make it "
				"readable by DIGSIGSERVER_KEY_USER only\n",
			text ? text : "");
	free(text);
	return rc;
}

/* --check-config: print the settings and what is wrong; 0 or 1. */
static int
check_config(const struct config *cfg, const struct priv_user *user, uid_t ids)
{
	char err[512];
	int ok = 1;

	conf_print(cfg, stdout);
	if (prepare_work_dir(cfg, user, ids, 0, err, sizeof(err)) < 0)
		printf("# warning: %s\n", err);
	if (conf_warning(cfg) != NULL)
		printf("# warning: %s\n", conf_warning(cfg));
	if (ks_check_access(cfg, stdout) < 0)
		ok = 0;
	else if (ks_check_separation(cfg, stdout) < 0)
		ok = 0;
	if (keyd_check_tokens(cfg, stdout) < 0)
		ok = 0;
	if (check_access_control(cfg) < 0 || check_audit_trail(cfg) < 0)
		ok = 0;
	printf("# configuration %s\n", ok ? "OK" : "has errors");
	return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
	static struct config cfg;
	static struct priv_user user, key_user;
	enum action act;
	char err[512];
	char names[256];
	size_t moved;
	uid_t ids;
	int rc;

	/* argv's memory becomes the process title: from here on, its copy */
	argv = proc_title_init(argc, argv, "digsigserver");
	log_init("digsigserver", LOG_LVL_INFO, 0);
	keyd_take_env_secrets(); /* before anything logs or forks */
	if ((act = parse_args(argc, argv, &rc)) == EXIT_OK || act == EXIT_USAGE)
		return rc;
	if (act == STATUS_VIEW)
		return status_view(&cfg);
	if (options_load(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "digsigserver: %s\n", err);
		return 1;
	}
	log_init("digsigserver", cfg.log_level, cfg.syslog);
	if (priv_lookup(cfg.user, &user, err, sizeof(err)) < 0) {
		fprintf(stderr, "digsigserver: DIGSIGSERVER_USER: %s\n", err);
		return 1;
	}
	if (priv_lookup(cfg.key_user, &key_user, err, sizeof(err)) < 0) {
		/* started as root: the key process needs a user of its own */
		fprintf(stderr,
			"digsigserver: DIGSIGSERVER_KEY_USER: %s (the key process runs as "
			"this user, the only one that may read the key store; create it, "
			"e.g. useradd --system --no-create-home %s)\n",
			err, cfg.key_user ? cfg.key_user : "digsigserver-keys");
		return 1;
	}
	if (user.valid && key_user.valid && user.uid == key_user.uid) {
		fprintf(stderr, "digsigserver: DIGSIGSERVER_KEY_USER must not be the workers' user "
				"(%s): the workers must not read the keys\n",
			cfg.user);
		return 1;
	}
	if (check_worker_ids(&cfg, &user, &ids, err, sizeof(err)) < 0) {
		fprintf(stderr, "digsigserver: %s\n", err);
		return 1;
	}
	if (user.valid && act == SERVE && check_keys_hidden(&cfg) < 0)
		return 1;
	if (act == CHECK_CONFIG)
		return check_config(&cfg, &user, ids);
	if (ks_credentials_check(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "digsigserver: %s\n", err);
		return 1;
	}
	if (ks_credentials_warning(&cfg) != NULL)
		log_warnx("%s", ks_credentials_warning(&cfg));
	if (ids)
		log_info("each worker runs as a user id of its own (DIGSIGSERVER_WORKER_UIDS=%s), "
			 "with the groups of %s",
			 cfg.worker_uids, cfg.user);
	if (prepare_work_dir(&cfg, &user, ids, 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "digsigserver: %s\n", err);
		return 1;
	}
	if (conf_warning(&cfg) != NULL)
		log_warnx("%s", conf_warning(&cfg));
	fit_connections(&cfg);
	/* before the first fork: every process after shares the pages */
	if (!cfg.huge_text)
		log_debug("the code of the program stays on 4 kB pages: DIGSIGSERVER_HUGE_TEXT=0");
	else if ((rc = hugetext_remap(err, sizeof(err))) > 0 && err[0] == '\0')
		log_info("the code and constant data of the program are on huge pages");
	else if (rc > 0)
		log_info("part of the code and constant data of the program stays on 4 kB pages: %s",
			 err);
	else
		log_info("the code of the program stays on 4 kB pages: %s", err);
	if (cfg.huge_text && (moved = hugetext_remap_libraries(names, sizeof(names), err,
							       sizeof(err))) > 0)
		log_info("%zu MB of the code and constant data of the libraries are on huge "
			 "pages (%s)%s%s", moved >> 20, names,
			 err[0] != '\0' ? "; some stay on 4 kB pages: " : "", err);
	else if (cfg.huge_text && err[0] != '\0')
		log_info("the code of the libraries stays on 4 kB pages: %s", err);
	/* after the moves, which make memory executable; each child locks
	 * itself (lib/proc.c) */
	if (!cfg.memory_deny_write_execute)
		log_info("the daemon does not lock its memory against execution: "
			 "DIGSIGSERVER_MEMORY_DENY_WRITE_EXECUTE=0");
	else if (priv_lock_wx(0, err, sizeof(err)) == 0)
		log_info("no memory can be made executable after it is mapped, nor be "
			 "writable and executable (PR_SET_MDWE)");
	else
		log_info("the daemon does not lock its memory against execution itself: %s", err);
	proc_title("%s", roles[ROLE_SUPERVISOR].name);
	return supervisor_run(&cfg, &user, &key_user);
}
