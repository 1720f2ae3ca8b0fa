/* SPDX-License-Identifier: MIT */
/*
 * s3test.c: a small driver of the key store and artifact URI code, for the
 * regress scripts (t/regress/s3.sh).  Settings come from the DIGSIGSERVER_*
 * environment like the daemon's; S3 credentials from AWS_*.
 *
 *   s3test key SELECTOR TAG FILE OUT   ks_load, then ks_write_temp to OUT
 *   s3test get URI OUT                 uri_download
 *   s3test put IN URI                  uri_upload
 *   s3test replace URI JOBDIR IN       uri_open, uri_begin_replace, copy IN
 *                                      (a file or a FIFO) to it, uri_commit
 *   s3test check                       ks_check_access
 *
 * Prints "<status> <reason>" (0 on success) on stdout; exits 0 on success,
 * 1 on a failure status, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "keystore.h"
#include "log.h"
#include "uri.h"
#include "util.h"

extern char **environ;

static int
usage(void)
{
	fprintf(stderr, "usage: s3test key SELECTOR TAG FILE OUT | get URI OUT | put IN URI |\n"
			"              replace URI JOBDIR IN | check\n");
	return 2;
}

static int
cmd_key(const struct config *cfg, char **av, char *err, size_t errlen)
{
	struct ks_blob b = {0};
	char *d, *n;
	int st;

	if ((st = ks_load(cfg, av[0], av[1], av[2], &b, err, errlen)) != 0)
		return st;
	d = xstrdup(av[3]);
	n = xstrdup(av[3]);
	if (ks_write_temp(&b, dirname(d), basename(n)) < 0) {
		snprintf(err, errlen, "ks_write_temp: %s", strerror(errno));
		st = 500;
	}
	free(d);
	free(n);
	ks_blob_free(&b);
	return st;
}

static int
cmd_replace(const struct config *cfg, char **av, char *err, size_t errlen)
{
	struct uri_artifact *art;
	char buf[65536];
	int st, in, out;

	if ((st = uri_open(cfg, av[0], av[1], &art, err, errlen)) != 0)
		return st;
	/* Read the current artifact through, as a signer would. */
	while (read(uri_fd(art), buf, sizeof(buf)) > 0)
		;
	if ((st = uri_begin_replace(art, &out, err, errlen)) != 0)
		goto out;
	if ((in = open(av[2], O_RDONLY)) < 0) {
		snprintf(err, errlen, "%s: %s", av[2], strerror(errno));
		st = 500;
		goto out;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (util_write_all(out, buf, (size_t)n) < 0) {
			snprintf(err, errlen, "write: %s", strerror(errno));
			st = 500;
			break;
		}
	}
	close(in);
	if (st == 0)
		st = uri_commit(art, err, errlen);
out:
	uri_close(art);
	return st;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	char err[512] = "";
	const char *lvl;
	int st;

	conf_defaults(&cfg);
	if (conf_load_env(&cfg, environ, err, sizeof(err)) < 0) {
		fprintf(stderr, "s3test: %s\n", err);
		return 2;
	}
	lvl = getenv("DIGSIGSERVER_LOG_LEVEL");
	log_init("s3test", lvl ? log_level_parse(lvl) : LOG_LVL_WARNING, 0);
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "key") == 0 && argc == 6)
		st = cmd_key(&cfg, argv + 2, err, sizeof(err));
	else if (strcmp(argv[1], "get") == 0 && argc == 4)
		st = uri_download(&cfg, argv[2], argv[3], err, sizeof(err));
	else if (strcmp(argv[1], "put") == 0 && argc == 4)
		st = uri_upload(&cfg, argv[2], argv[3], err, sizeof(err));
	else if (strcmp(argv[1], "replace") == 0 && argc == 5)
		st = cmd_replace(&cfg, argv + 2, err, sizeof(err));
	else if (strcmp(argv[1], "check") == 0 && argc == 2)
		st = ks_check_access(&cfg, stdout) == 0 ? 0 : 1;
	else
		return usage();
	printf("%d %s\n", st, st ? err : "ok");
	conf_free(&cfg);
	return st == 0 ? 0 : 1;
}
