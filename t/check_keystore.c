/* SPDX-License-Identifier: MIT */
/*
 * check_keystore.c: unit tests of lib/keystore.c: selector validation,
 * key locations, loading from a file:// store (missing files, symbolic
 * links, FIFOs, size bound, unreadable files), temporary key files,
 * --check-config reports, and the S3 failure mapping that needs no S3
 * (no credentials, nothing listening).  S3 against an emulator is tested
 * by t/regress/s3.sh.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "config.h"
#include "keystore.h"
#include "util.h"

static struct config cfg;
static char err[512];
static char store[64];

static void
put_file(const char *rel, const char *content, size_t len, mode_t mode)
{
	char path[PATH_MAX];
	char *dirs = xstrdup(rel), *p;

	for (p = strchr(dirs, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		snprintf(path, sizeof(path), "%s/%s", store, dirs);
		mkdir(path, 0755);
		chmod(path, 0755);
		*p = '/';
	}
	free(dirs);
	snprintf(path, sizeof(path), "%s/%s", store, rel);
	unlink(path);
	ck_assert_int_eq(util_write_file(path, content, len, mode), 0);
	chmod(path, mode);
}

static void
setup(void)
{
	char uri[PATH_MAX + 8];

	conf_defaults(&cfg);
	snprintf(store, sizeof(store), "/tmp/check_keystore.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(store));
	chmod(store, 0755);
	snprintf(uri, sizeof(uri), "file://%s", store);
	ck_assert_int_eq(conf_set(&cfg, "KEYFILE_URI", uri, err, sizeof(err)), 0);
	err[0] = '\0';
}

static void
teardown(void)
{
	util_rm_rf(store);
	conf_free(&cfg);
}

START_TEST(test_selector)
{
	static const char *good[] = {"a", "jetson-agx-orin-devkit", "x.y_z+1", "A-Z.0+9_", "..a",
				     "a..", ".hidden"};
	static const char *bad[] = {"", ".", "..", "a/b", "/a", "a b", "a\n", "m\xc3\xa4",
				    "a\\b", "a:b", "a%2f", "*"};
	char longsel[102];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(ks_selector_valid(good[i]), "\"%s\" refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!ks_selector_valid(bad[i]), "\"%s\" accepted", bad[i]);
	ck_assert(!ks_selector_valid(NULL));
	memset(longsel, 'm', 100);
	longsel[100] = '\0';
	ck_assert(ks_selector_valid(longsel));
	longsel[100] = 'm';
	longsel[101] = '\0';
	ck_assert(!ks_selector_valid(longsel));
}
END_TEST

START_TEST(test_location)
{
	static const struct {
		const char *store, *want;
	} cases[] = {
		{"file:///srv/keys", "/srv/keys/m1/kmodsign/kernel-signkey.priv"},
		{"file:///srv/keys/", "/srv/keys/m1/kmodsign/kernel-signkey.priv"},
		{"/srv/keys", "/srv/keys/m1/kmodsign/kernel-signkey.priv"},
		{"/srv/keys//", "/srv/keys/m1/kmodsign/kernel-signkey.priv"},
		{"file:///", "/m1/kmodsign/kernel-signkey.priv"},
		{"s3://bucket/pre/fix", "s3://bucket/pre/fix/m1/kmodsign/kernel-signkey.priv"},
		{"s3://bucket/pre/fix/", "s3://bucket/pre/fix/m1/kmodsign/kernel-signkey.priv"},
		{"s3://bucket", "s3://bucket/m1/kmodsign/kernel-signkey.priv"},
		{"s3://bucket/", "s3://bucket/m1/kmodsign/kernel-signkey.priv"},
	};
	static const char *badstores[] = {"", "keys", "./keys", "file://host/keys", "http://x/y",
					  "s3://", "s3:///x", "s3://b/a//c", "s3://b/../c",
					  "s3://bad bucket/x", "file:///a\tb"};
	char *out;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(ks_key_location(cases[i].store, "m1", "kmodsign",
						 "kernel-signkey.priv", &out, err, sizeof(err)),
				 0);
		ck_assert_str_eq(out, cases[i].want);
		ck_assert_int_eq(ks_store_uri_valid(cases[i].store, err, sizeof(err)), 0);
		free(out);
	}
	for (size_t i = 0; i < sizeof(badstores) / sizeof(badstores[0]); i++) {
		ck_assert_msg(ks_key_location(badstores[i], "m1", "t", "f", &out, err,
					      sizeof(err)) == -1,
			      "store \"%s\" accepted", badstores[i]);
		ck_assert_ptr_null(out);
		ck_assert_int_eq(ks_store_uri_valid(badstores[i], err, sizeof(err)), -1);
	}
	ck_assert_int_eq(ks_key_location("/k", "..", "t", "f", &out, err, sizeof(err)), -1);
	ck_assert_int_eq(ks_key_location("/k", "m", "t/x", "f", &out, err, sizeof(err)), -1);
	ck_assert_int_eq(ks_key_location("/k", "m", "t", "../f", &out, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_load_file)
{
	struct ks_blob b = {0};
	static const char key[] = "-----BEGIN PRIVATE KEY-----\nnot really\n";

	put_file("m1/mender/private.key", key, sizeof(key) - 1, 0600);
	ck_assert_int_eq(ks_load(&cfg, "m1", "mender", "private.key", &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b.len, sizeof(key) - 1);
	ck_assert_mem_eq(b.data, key, b.len);
	ck_assert_int_eq(b.data[b.len], '\0');
	ks_blob_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);

	/* A bare path store works the same. */
	ck_assert_int_eq(conf_set(&cfg, "KEYFILE_URI", store, err, sizeof(err)), 0);
	ck_assert_int_eq(ks_load(&cfg, "m1", "mender", "private.key", &b, err, sizeof(err)), 0);
	ks_blob_free(&b);

	/* An empty key file loads as an empty, NUL-terminated blob. */
	put_file("m1/mender/empty", "", 0, 0600);
	ck_assert_int_eq(ks_load(&cfg, "m1", "mender", "empty", &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_nonnull(b.data);
	ks_blob_free(&b);
}
END_TEST

START_TEST(test_missing)
{
	struct ks_blob b = {0};

	put_file("m1/mender/private.key", "k", 1, 0600);
	ck_assert_int_eq(ks_load(&cfg, "m1", "mender", "nope.key", &b, err, sizeof(err)), 404);
	ck_assert_str_eq(err, "Key file missing: m1/mender/nope.key");
	ck_assert_ptr_null(b.data);
	ck_assert_int_eq(ks_load(&cfg, "m2", "mender", "private.key", &b, err, sizeof(err)), 404);
	ck_assert_str_eq(err, "Key file missing: m2/mender/private.key");
	ck_assert_int_eq(ks_load(&cfg, "m1", "swupdate", "rsa-private.key", &b, err, sizeof(err)),
			 404);
	ck_assert_str_eq(err, "Key file missing: m1/swupdate/rsa-private.key");
	/* A file where a directory should be is also "missing" (ENOTDIR). */
	put_file("m3", "x", 1, 0600);
	ck_assert_int_eq(ks_load(&cfg, "m3", "mender", "private.key", &b, err, sizeof(err)), 404);

	/* Optional keys: 1 when absent, 0 when there. */
	ck_assert_int_eq(ks_load_optional(&cfg, "m1", "mender", "sbk.txt", &b, err, sizeof(err)), 1);
	ck_assert_ptr_null(b.data);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(
		ks_load_optional(&cfg, "m1", "mender", "private.key", &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b.len, 1);
	ks_blob_free(&b);

	/* Bad selectors never reach the file system. */
	ck_assert_int_eq(ks_load(&cfg, "..", "mender", "private.key", &b, err, sizeof(err)), 400);
	ck_assert_int_eq(ks_load(&cfg, "a/b", "mender", "private.key", &b, err, sizeof(err)), 400);
}
END_TEST

START_TEST(test_store_unavailable)
{
	struct ks_blob b = {0};
	char uri[PATH_MAX + 32];

	snprintf(uri, sizeof(uri), "file://%s/not-mounted", store);
	ck_assert_int_eq(conf_set(&cfg, "KEYFILE_URI", uri, err, sizeof(err)), 0);
	ck_assert_int_eq(ks_load(&cfg, "m1", "mender", "private.key", &b, err, sizeof(err)), 503);
	ck_assert_str_eq(err, "Key store unavailable");
	ck_assert_ptr_null(strstr(err, store)); /* no server path to the client */
	ck_assert_int_eq(conf_set(&cfg, "KEYFILE_URI", "relative/keys", err, sizeof(err)), 0);
	ck_assert_int_eq(ks_load(&cfg, "m1", "mender", "private.key", &b, err, sizeof(err)), 500);
}
END_TEST

START_TEST(test_symlinks_followed)
{
	struct ks_blob b = {0};
	char src[PATH_MAX], dst[PATH_MAX];

	/* Admins share keys between machines with links: both kinds work. */
	put_file("common/kmodsign/kernel-signkey.priv", "shared", 6, 0600);
	snprintf(src, sizeof(src), "%s/common", store);
	snprintf(dst, sizeof(dst), "%s/m-linked", store);
	ck_assert_int_eq(symlink(src, dst), 0);
	ck_assert_int_eq(
		ks_load(&cfg, "m-linked", "kmodsign", "kernel-signkey.priv", &b, err, sizeof(err)),
		0);
	ck_assert_mem_eq(b.data, "shared", 6);
	ks_blob_free(&b);

	put_file("m4/kmodsign/placeholder", "", 0, 0600);
	snprintf(src, sizeof(src), "%s/common/kmodsign/kernel-signkey.priv", store);
	snprintf(dst, sizeof(dst), "%s/m4/kmodsign/kernel-signkey.priv", store);
	ck_assert_int_eq(symlink(src, dst), 0);
	ck_assert_int_eq(
		ks_load(&cfg, "m4", "kmodsign", "kernel-signkey.priv", &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b.len, 6);
	ks_blob_free(&b);

	/* A dangling link is a missing key. */
	snprintf(dst, sizeof(dst), "%s/m4/kmodsign/dangling", store);
	ck_assert_int_eq(symlink("/nonexistent/key", dst), 0);
	ck_assert_int_eq(ks_load(&cfg, "m4", "kmodsign", "dangling", &b, err, sizeof(err)), 404);
}
END_TEST

START_TEST(test_not_regular)
{
	struct ks_blob b = {0};
	char path[PATH_MAX];

	put_file("m1/mender/placeholder", "", 0, 0600);
	snprintf(path, sizeof(path), "%s/m1/mender/private.key", store);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_int_eq(ks_load(&cfg, "m1", "mender", "private.key", &b, err, sizeof(err)), 500);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	/* A FIFO must neither hang the worker nor load. */
	snprintf(path, sizeof(path), "%s/m1/mender/fifo.key", store);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(ks_load(&cfg, "m1", "mender", "fifo.key", &b, err, sizeof(err)), 500);
	ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(test_size_bound)
{
	struct ks_blob b = {0};
	char *big = xmalloc(KS_MAX_SIZE + 1);

	memset(big, 'k', KS_MAX_SIZE + 1);
	put_file("m1/t/max", big, KS_MAX_SIZE, 0600);
	ck_assert_int_eq(ks_load(&cfg, "m1", "t", "max", &b, err, sizeof(err)), 0);
	ck_assert_uint_eq(b.len, KS_MAX_SIZE);
	ks_blob_free(&b);
	put_file("m1/t/toobig", big, KS_MAX_SIZE + 1, 0600);
	ck_assert_int_eq(ks_load(&cfg, "m1", "t", "toobig", &b, err, sizeof(err)), 500);
	ck_assert_str_eq(err, "Key file too large: m1/t/toobig");
	ck_assert_ptr_null(b.data);
	free(big);
}
END_TEST

/* Run ks_load as an unprivileged user in a child; its status. */
static int
load_as_nobody(const char *sel, const char *tag, const char *file)
{
	pid_t pid = fork();
	int ws;

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct ks_blob b = {0};
		int st;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(99);
		st = ks_load(&cfg, sel, tag, file, &b, err, sizeof(err));
		if (st == 500 && strstr(err, "not readable by the service user") == NULL)
			_exit(98);
		_exit(st == 0 ? 0 : st / 100);
	}
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFEXITED(ws));
	return WEXITSTATUS(ws);
}

START_TEST(test_unreadable)
{
	if (geteuid() != 0) {
		/* Unprivileged: a 0000 file is unreadable to us directly. */
		struct ks_blob b = {0};

		put_file("m1/t/locked", "k", 1, 0000);
		ck_assert_int_eq(ks_load(&cfg, "m1", "t", "locked", &b, err, sizeof(err)), 500);
		ck_assert_ptr_nonnull(strstr(err, "not readable by the service user"));
		return;
	}
	put_file("m1/t/open", "k", 1, 0644);
	put_file("m1/t/locked", "k", 1, 0600);
	ck_assert_int_eq(load_as_nobody("m1", "t", "open"), 0);
	ck_assert_int_eq(load_as_nobody("m1", "t", "locked"), 5);
}
END_TEST

START_TEST(test_write_temp)
{
	static const char key[] = "secret bytes";
	struct ks_blob b = {(unsigned char *)xstrdup(key), sizeof(key) - 1};
	char path[PATH_MAX], *back;
	size_t len;
	struct stat st;

	umask(022);
	ck_assert_int_eq(ks_write_temp(&b, store, "key.pem"), 0);
	snprintf(path, sizeof(path), "%s/key.pem", store);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(util_read_file(path, 1024, &back, &len), 0);
	ck_assert_uint_eq(len, b.len);
	ck_assert_mem_eq(back, key, len);
	free(back);
	/* Never over an existing file, never through a link. */
	ck_assert_int_eq(ks_write_temp(&b, store, "key.pem"), -1);
	ck_assert_int_eq(errno, EEXIST);
	snprintf(path, sizeof(path), "%s/link.pem", store);
	ck_assert_int_eq(symlink("/tmp/check_keystore-victim", path), 0);
	ck_assert_int_eq(ks_write_temp(&b, store, "link.pem"), -1);
	ck_assert_int_eq(access("/tmp/check_keystore-victim", F_OK), -1);
	ck_assert_int_eq(ks_write_temp(&b, store, "../escape"), -1);
	ck_assert_int_eq(errno, EINVAL);
	ks_blob_free(&b);
	ks_blob_free(&b); /* twice is harmless */
}
END_TEST

static char *
check_report(int *rc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(fp);
	*rc = ks_check_access(&cfg, fp);
	fclose(fp);
	return text;
}

START_TEST(test_check_access)
{
	char *r;
	int rc;

	put_file("m1/mender/private.key", "k", 1, 0600);
	put_file("m1/kmodsign/kernel-signkey.x509", "c", 1, 0644);
	if (geteuid() == 0) {
		/* Checked for the key process's user: root-owned 0600 keys are
		 * unreadable to it. */
		free(cfg.user);
		cfg.user = xstrdup("nobody");
		free(cfg.key_user);
		cfg.key_user = xstrdup("nobody");
		r = check_report(&rc);
		ck_assert_int_eq(rc, -1);
		ck_assert_msg(strstr(r, "private.key is not readable by nobody") != NULL, "%s", r);
		free(r);
		put_file("m1/mender/private.key", "k", 1, 0600);
		ck_assert_int_eq(chown(store, 65534, 65534), 0);
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/m1/mender/private.key", store);
		ck_assert_int_eq(chown(p, 65534, 65534), 0);
	}
	r = check_report(&rc);
	ck_assert_msg(rc == 0, "%s", r);
	ck_assert_msg(strstr(r, "2 key files readable") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "warning: ") && strstr(r, "kernel-signkey.x509 is accessible to group "
							 "or others (mode 0644)"),
		      "%s", r);
	ck_assert_ptr_null(strstr(r, "private.key is accessible"));
	free(r);

	ck_assert_int_eq(conf_set(&cfg, "KEYFILE_URI", "/nonexistent/keys", err, sizeof(err)), 0);
	r = check_report(&rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strstr(r, "error: key store /nonexistent/keys") != NULL, "%s", r);
	free(r);
	ck_assert_int_eq(conf_set(&cfg, "KEYFILE_URI", "ftp://x/y", err, sizeof(err)), 0);
	r = check_report(&rc);
	ck_assert_int_eq(rc, -1);
	free(r);
}
END_TEST

START_TEST(test_s3_failures)
{
	struct ks_blob b = {0};
	char *r;
	int rc;

	ck_assert_int_eq(conf_set(&cfg, "KEYFILE_URI", "s3://keys/store", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_set(&cfg, "S3_ENDPOINT", "http://127.0.0.1:1", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_set(&cfg, "S3_RETRIES", "1", err, sizeof(err)), 0);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	ck_assert_int_eq(ks_load(&cfg, "m1", "mender", "private.key", &b, err, sizeof(err)), 500);
	ck_assert_str_eq(err, "Key store credentials missing");
	r = check_report(&rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strstr(r, "credentials missing") != NULL, "%s", r);
	free(r);

	/* Nothing listens on port 1: unreachable after the retries, 503. */
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
	ck_assert_int_eq(ks_load(&cfg, "m1", "mender", "private.key", &b, err, sizeof(err)), 503);
	ck_assert_str_eq(err, "Key store unavailable");
	ck_assert_ptr_null(b.data);
	r = check_report(&rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_null(strstr(r, "wJalrXUtnFEMI")); /* never the secret */
	free(r);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
}
END_TEST

static Suite *
keystore_suite(void)
{
	Suite *s = suite_create("keystore");
	TCase *tc = tcase_create("keystore");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_selector);
	tcase_add_test(tc, test_location);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_missing);
	tcase_add_test(tc, test_store_unavailable);
	tcase_add_test(tc, test_symlinks_followed);
	tcase_add_test(tc, test_not_regular);
	tcase_add_test(tc, test_size_bound);
	tcase_add_test(tc, test_unreadable);
	tcase_add_test(tc, test_write_temp);
	tcase_add_test(tc, test_check_access);
	tcase_add_test(tc, test_s3_failures);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = keystore_suite);
