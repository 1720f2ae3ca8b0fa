/* SPDX-License-Identifier: MIT */
/*
 * check_uri.c: unit tests of lib/uri.c (and the URI parts of lib/s3.c):
 * URI syntax, prefix checks (textual and through symbolic links), opening
 * file:// artifacts, atomic replacement (mode and group kept, no temporary
 * left, concurrent replacement detected, unwritable directory refused), a
 * SIGKILL in the middle of a write-back leaving the original intact, the
 * generic download/upload, and S3 URL building.  S3 transfers are tested
 * against an emulator by t/regress/s3.sh.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "config.h"
#include "s3.h"
#include "uri.h"
#include "util.h"

static struct config cfg;
static char err[512];
static char dir[64];
static char jobdir[PATH_MAX];

static void
setup(void)
{
	conf_defaults(&cfg);
	snprintf(dir, sizeof(dir), "/tmp/check_uri.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(jobdir, sizeof(jobdir), "%s/job", dir);
	ck_assert_int_eq(mkdir(jobdir, 0700), 0);
	err[0] = '\0';
}

static void
teardown(void)
{
	util_rm_rf(dir);
	conf_free(&cfg);
}

static char *
path_in(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void
write_file(const char *path, const char *content, size_t len, mode_t mode)
{
	unlink(path);
	ck_assert_int_eq(util_write_file(path, content, len, mode), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static char *
read_back(const char *path, size_t *len)
{
	char *buf;

	ck_assert_msg(util_read_file(path, 1 << 30, &buf, len) == 0, "%s: %s", path,
		      strerror(errno));
	return buf;
}

/* Names in dir starting with prefix. */
static int
count_entries(const char *d, const char *prefix)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(dp);
	while ((de = readdir(dp)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(dp);
	return n;
}

START_TEST(test_syntax)
{
	static const char *good[] = {
		"file:///srv/builds/core-image.mender", "/srv/builds/a.mender",
		"file:////srv//builds/a", "file:///a b/c%20d", "s3://bucket/key",
		"s3://my.bucket/deep/er/key.mender", "s3://Legacy_Bucket/x",
		"file:///srv/..a/b..", "s3://b/.x/y.",
	};
	static const char *bad[] = {
		"", "relative/path", "http://example.com/a", "ftp://x/y", "file://host/a",
		"file:/a", "file:///", "file:///a/../b", "file:///a/./b", "file:///a/..",
		"file:///srv/builds/", "/srv/builds/", "file:///a\nb", "file:///a\x7f",
		"s3://", "s3://bucket", "s3://bucket/", "s3://bucket/dir/", "s3://b/a//c",
		"s3://b/../x", "s3://b/./x", "s3://bad bucket/x", "s3:///key", "S3://b/k",
		"s3://./store/k", "s3://../store/k", "s3://.b/k", "s3://b-/k", "s3://a..b/k",
		"s3://b/k\r",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(uri_check(&cfg, good[i], err, sizeof(err)) == 0, "\"%s\" refused: %s",
			      good[i], err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(uri_check(&cfg, bad[i], err, sizeof(err)) == 400, "\"%s\" accepted",
			      bad[i]);
		ck_assert_msg(strncmp(err, "Invalid artifact URI", 20) == 0, "%s", err);
	}
	char *huge = xmalloc(5000);
	memset(huge, 'a', 4999);
	memcpy(huge, "file:///", 8);
	huge[4999] = '\0';
	ck_assert_int_eq(uri_check(&cfg, huge, err, sizeof(err)), 400);
	free(huge);
}
END_TEST

START_TEST(test_prefixes)
{
	static const char *allowed[] = {
		"file:///srv/builds/a.mender", "file:///srv/builds/sub/dir/a.mender",
		"file:////srv//builds//a.mender", "/srv/builds/b.mender", "file:///opt/exact.mender",
		"s3://artifacts/ci/a.mender", "s3://artifacts/ci/x/y", "s3://open/anything",
	};
	static const char *denied[] = {
		"file:///srv/buildsX/a.mender", "file:///srv/a.mender", "file:///opt/exact.mender2",
		"file:///etc/passwd", "s3://artifacts/cia/a", "s3://artifacts/other",
		"s3://artifactsX/ci/a", "s3://other/ci/a",
	};

	ck_assert_int_eq(conf_set(&cfg, "ARTIFACT_URI_PREFIXES",
				  " file:///srv/builds/ , s3://artifacts/ci,/opt/exact.mender,"
				  "s3://open,,bogus://x",
				  err, sizeof(err)),
			 0);
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		ck_assert_msg(uri_check(&cfg, allowed[i], err, sizeof(err)) == 0,
			      "\"%s\" refused: %s", allowed[i], err);
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		ck_assert_msg(uri_check(&cfg, denied[i], err, sizeof(err)) == 403, "\"%s\" allowed",
			      denied[i]);
		ck_assert_str_eq(err, "Artifact URI not allowed");
	}
	/* Syntax comes first: a bad URI is 400 even outside the prefixes. */
	ck_assert_int_eq(uri_check(&cfg, "file:///srv/builds/../../etc/x", err, sizeof(err)), 400);
	/* An empty list allows everything. */
	ck_assert_int_eq(conf_set(&cfg, "ARTIFACT_URI_PREFIXES", "", err, sizeof(err)), 0);
	ck_assert_int_eq(uri_check(&cfg, "file:///etc/passwd", err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_prefix_symlinks)
{
	char *allowed = path_in("allowed"), *outside = path_in("outside");
	char *link = path_in("allowed/escape"), *alias = path_in("alias");
	char *uri, *pfx = xasprintf("file://%s/", allowed), *f;
	struct uri_artifact *art;

	ck_assert_int_eq(mkdir(allowed, 0755), 0);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	f = path_in("outside/secret.mender");
	write_file(f, "outside", 7, 0644);
	free(f);
	f = path_in("allowed/ok.mender");
	write_file(f, "inside", 6, 0644);
	free(f);
	ck_assert_int_eq(symlink(outside, link), 0);
	ck_assert_int_eq(symlink(allowed, alias), 0);
	ck_assert_int_eq(conf_set(&cfg, "ARTIFACT_URI_PREFIXES", pfx, err, sizeof(err)), 0);

	/* Textually inside, but the directory resolves outside: refused on open. */
	uri = xasprintf("file://%s/secret.mender", link);
	ck_assert_int_eq(uri_check(&cfg, uri, err, sizeof(err)), 0);
	ck_assert_int_eq(uri_open(&cfg, uri, jobdir, &art, err, sizeof(err)), 403);
	ck_assert_ptr_null(art);
	free(uri);
	uri = xasprintf("file://%s/ok.mender", allowed);
	ck_assert_int_eq(uri_open(&cfg, uri, jobdir, &art, err, sizeof(err)), 0);
	uri_close(art);
	free(uri);

	/* A prefix that is itself a link allows what it points to. */
	free(pfx);
	pfx = xasprintf("file://%s", alias);
	ck_assert_int_eq(conf_set(&cfg, "ARTIFACT_URI_PREFIXES", pfx, err, sizeof(err)), 0);
	uri = xasprintf("file://%s/ok.mender", alias);
	ck_assert_int_eq(uri_open(&cfg, uri, jobdir, &art, err, sizeof(err)), 0);
	uri_close(art);
	free(uri);
	free(allowed);
	free(outside);
	free(link);
	free(alias);
	free(pfx);
}
END_TEST

START_TEST(test_open_file)
{
	char *p = path_in("a.mender"), *uri = xasprintf("file://%s", p), *u2;
	struct uri_artifact *art;
	char buf[64];

	write_file(p, "artifact-v1", 11, 0640);
	ck_assert_int_eq(uri_open(&cfg, uri, jobdir, &art, err, sizeof(err)), 0);
	ck_assert_int_eq(uri_size(art), 11);
	ck_assert_str_eq(uri_path(art), p);
	ck_assert_int_eq(read(uri_fd(art), buf, sizeof(buf)), 11);
	ck_assert_mem_eq(buf, "artifact-v1", 11);
	ck_assert_ptr_null(uri_temp_path(art));
	uri_close(art);
	uri_close(NULL);

	u2 = xasprintf("file://%s/missing.mender", dir);
	ck_assert_int_eq(uri_open(&cfg, u2, jobdir, &art, err, sizeof(err)), 404);
	ck_assert_str_eq(err, "Artifact not found");
	free(u2);
	u2 = xasprintf("file://%s/nodir/missing.mender", dir);
	ck_assert_int_eq(uri_open(&cfg, u2, jobdir, &art, err, sizeof(err)), 404);
	free(u2);

	/* The artifact itself may not be a link (it would be replaced by a file). */
	u2 = path_in("link.mender");
	ck_assert_int_eq(symlink(p, u2), 0);
	free(u2);
	u2 = xasprintf("file://%s/link.mender", dir);
	ck_assert_int_eq(uri_open(&cfg, u2, jobdir, &art, err, sizeof(err)), 400);
	ck_assert_str_eq(err, "Artifact is a symbolic link");
	free(u2);
	u2 = xasprintf("file://%s/job", dir);
	ck_assert_int_eq(uri_open(&cfg, u2, jobdir, &art, err, sizeof(err)), 400);
	ck_assert_str_eq(err, "Artifact is not a regular file");
	free(u2);
	u2 = path_in("fifo");
	ck_assert_int_eq(mkfifo(u2, 0644), 0);
	free(u2);
	u2 = xasprintf("file://%s/fifo", dir);
	ck_assert_int_eq(uri_open(&cfg, u2, jobdir, &art, err, sizeof(err)), 400);
	free(u2);
	/* what the client named is at fault: 400, not a server error */
	u2 = xasprintf("file://%s/%0300d.mender", dir, 0);
	ck_assert_int_eq(uri_open(&cfg, u2, jobdir, &art, err, sizeof(err)), 400);
	ck_assert_str_eq(err, "Invalid artifact URI (File name too long)");
	free(u2);
	u2 = xasprintf("file://%s/%0300d/a.mender", dir, 0);
	ck_assert_int_eq(uri_open(&cfg, u2, jobdir, &art, err, sizeof(err)), 400);
	free(u2);
	u2 = path_in("loop1");
	ck_assert_int_eq(symlink("loop2", u2), 0);
	free(u2);
	u2 = path_in("loop2");
	ck_assert_int_eq(symlink("loop1", u2), 0);
	free(u2);
	u2 = xasprintf("file://%s/loop1/a.mender", dir);
	ck_assert_int_eq(uri_open(&cfg, u2, jobdir, &art, err, sizeof(err)), 400);
	ck_assert_str_eq(err, "Invalid artifact URI (Too many levels of symbolic links)");
	free(u2);
	free(p);
	free(uri);
}
END_TEST

START_TEST(test_replace)
{
	char *p = path_in("b.mender"), *uri = xasprintf("/%s", p), *back;
	struct uri_artifact *art;
	struct stat before, after, tst;
	size_t len;
	int out, out2;

	write_file(p, "unsigned", 8, 0640);
	if (geteuid() == 0)
		ck_assert_int_eq(chown(p, 65534, 4), 0);
	ck_assert_int_eq(stat(p, &before), 0);
	ck_assert_int_eq(uri_open(&cfg, uri, jobdir, &art, err, sizeof(err)), 0);
	ck_assert_int_eq(uri_begin_replace(art, &out, err, sizeof(err)), 0);
	ck_assert_int_ge(out, 0);
	/*
	 * The replacement is private and in the artifact's directory: unnamed
	 * (O_TMPFILE) where the file system allows, else named for it.
	 */
	ck_assert_int_eq(fstat(out, &tst), 0);
	ck_assert_uint_eq(tst.st_mode & 07777, 0600);
	ck_assert_uint_eq(tst.st_dev, before.st_dev);
	if (uri_temp_path(art) == NULL) {
		ck_assert_int_eq(count_entries(dir, ".b.mender"), 0);
	} else {
		ck_assert_int_eq(strncmp(uri_temp_path(art), dir, strlen(dir)), 0);
		ck_assert_ptr_nonnull(strstr(uri_temp_path(art), "/.b.mender.dss-"));
		ck_assert_int_eq(strlen(strstr(uri_temp_path(art), ".dss-")), 11);
		ck_assert_int_eq(count_entries(dir, ".b.mender.dss-"), 1);
	}
	ck_assert_int_eq(uri_begin_replace(art, &out2, err, sizeof(err)), 500);
	ck_assert_int_eq(util_write_all(out, "signed!!!", 9), 0);
	/* Until the commit the original is untouched. */
	back = read_back(p, &len);
	ck_assert_mem_eq(back, "unsigned", 8);
	free(back);
	ck_assert_int_eq(uri_commit(art, err, sizeof(err)), 0);
	uri_close(art);

	back = read_back(p, &len);
	ck_assert_uint_eq(len, 9);
	ck_assert_mem_eq(back, "signed!!!", 9);
	free(back);
	ck_assert_int_eq(stat(p, &after), 0);
	ck_assert_uint_eq(after.st_mode & 07777, 0640);
	ck_assert_uint_eq(after.st_gid, before.st_gid);
	if (geteuid() == 0)
		ck_assert_uint_eq(after.st_uid, before.st_uid);
	ck_assert(after.st_ino != before.st_ino);
	ck_assert_int_eq(count_entries(dir, ".b.mender"), 0);
	free(p);
	free(uri);
}
END_TEST

START_TEST(test_abort)
{
	char *p = path_in("d.mender"), *uri = xasprintf("file://%s", p), *back;
	struct uri_artifact *art;
	size_t len;
	int out;

	write_file(p, "keep me", 7, 0644);
	ck_assert_int_eq(uri_open(&cfg, uri, jobdir, &art, err, sizeof(err)), 0);
	ck_assert_int_eq(uri_begin_replace(art, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(util_write_all(out, "half", 4), 0);
	uri_close(art); /* no commit: the signing failed */
	back = read_back(p, &len);
	ck_assert_uint_eq(len, 7);
	ck_assert_mem_eq(back, "keep me", 7);
	free(back);
	ck_assert_int_eq(count_entries(dir, ".d.mender"), 0);

	/* Explicit abort, then close. */
	ck_assert_int_eq(uri_open(&cfg, uri, jobdir, &art, err, sizeof(err)), 0);
	ck_assert_int_eq(uri_begin_replace(art, &out, err, sizeof(err)), 0);
	uri_abort(art);
	ck_assert_int_eq(count_entries(dir, ".d.mender"), 0);
	ck_assert_int_eq(uri_commit(art, err, sizeof(err)), 500);
	uri_close(art);
	free(p);
	free(uri);
}
END_TEST

START_TEST(test_changed_meanwhile)
{
	char *p = path_in("e.mender"), *uri = xasprintf("file://%s", p), *back;
	char *other = path_in("e.other");
	struct uri_artifact *art;
	size_t len;
	int out;

	write_file(p, "v1", 2, 0644);
	ck_assert_int_eq(uri_open(&cfg, uri, jobdir, &art, err, sizeof(err)), 0);
	ck_assert_int_eq(uri_begin_replace(art, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(util_write_all(out, "signed v1", 9), 0);
	/* The build replaces the artifact while we sign the old one. */
	write_file(other, "v2", 2, 0644);
	ck_assert_int_eq(rename(other, p), 0);
	ck_assert_int_eq(uri_commit(art, err, sizeof(err)), 409);
	ck_assert_str_eq(err, "Artifact changed during signing");
	uri_close(art);
	back = read_back(p, &len);
	ck_assert_mem_eq(back, "v2", 2);
	free(back);
	ck_assert_int_eq(count_entries(dir, ".e.mender"), 0);
	free(p);
	free(uri);
	free(other);
}
END_TEST

START_TEST(test_unwritable_dir)
{
	char *sub = path_in("ro"), *p = path_in("ro/f.mender"), *uri = xasprintf("file://%s", p);
	pid_t pid;
	int ws;

	ck_assert_int_eq(mkdir(sub, 0755), 0);
	write_file(p, "orig", 4, 0666);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct uri_artifact *art;
		int out, st;

		/* As an unprivileged user the 0755 root-owned directory is read-only. */
		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(90);
		if (geteuid() != 0)
			chmod(sub, 0555);
		if (uri_open(&cfg, uri, jobdir, &art, err, sizeof(err)) != 0)
			_exit(91);
		st = uri_begin_replace(art, &out, err, sizeof(err));
		uri_close(art);
		if (st != 403)
			_exit(92);
		if (strstr(err, "service user needs write access") == NULL || strstr(err, sub) == NULL)
			_exit(93);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	chmod(sub, 0755);
	ck_assert(WIFEXITED(ws));
	ck_assert_int_eq(WEXITSTATUS(ws), 0);
	free(sub);
	free(p);
	free(uri);
}
END_TEST

/* Compare a file with an expected buffer. */
static int
same_content(const char *path, const char *want, size_t wlen)
{
	size_t len;
	char *buf = read_back(path, &len);
	int same = len == wlen && memcmp(buf, want, len) == 0;

	free(buf);
	return same;
}

START_TEST(test_kill_during_writeback)
{
	char *p = path_in("big.mender"), *uri = xasprintf("file://%s", p);
	size_t olen = 4 << 20;
	char *orig = xmalloc(olen);
	struct stat st;
	pid_t pid;
	int ws, found = 0, pfd[2];
	char c;

	for (size_t i = 0; i < olen; i++)
		orig[i] = (char)(i * 7 + (i >> 13));
	write_file(p, orig, olen, 0644);
	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct uri_artifact *art;
		char chunk[65536];
		int out;

		memset(chunk, 'S', sizeof(chunk));
		if (uri_open(&cfg, uri, jobdir, &art, err, sizeof(err)) != 0 ||
		    uri_begin_replace(art, &out, err, sizeof(err)) != 0)
			_exit(1);
		/* Write more than the original, say so, and wait to be killed. */
		close(pfd[0]);
		for (int i = 0; i < 128; i++)
			if (util_write_all(out, chunk, sizeof(chunk)) < 0)
				_exit(2);
		if (write(pfd[1], uri_temp_path(art) ? "n" : "u", 1) != 1)
			_exit(4);
		pause();
		_exit(3);
	}
	close(pfd[1]);
	found = read(pfd[0], &c, 1) == 1;
	close(pfd[0]);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert_msg(found, "the write-back never started");
	ck_assert(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
	/* The original is whole; an unnamed replacement leaves nothing behind
	 * (a named one is left, its name saying what it is). */
	ck_assert(same_content(p, orig, olen));
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_int_eq(count_entries(dir, ".big.mender.dss-"), c == 'u' ? 0 : 1);
	ck_assert_int_eq(count_entries(dir, "big.mender"), 1);

	/* And a later signing of the same artifact still works. */
	struct uri_artifact *art;
	int out;

	ck_assert_int_eq(uri_open(&cfg, uri, jobdir, &art, err, sizeof(err)), 0);
	ck_assert_int_eq(uri_begin_replace(art, &out, err, sizeof(err)), 0);
	ck_assert_int_eq(util_write_all(out, "ok", 2), 0);
	ck_assert_int_eq(uri_commit(art, err, sizeof(err)), 0);
	uri_close(art);
	ck_assert(same_content(p, "ok", 2));
	free(orig);
	free(p);
	free(uri);
}
END_TEST

START_TEST(test_download_upload)
{
	char *src = path_in("src.bin"), *dst = path_in("dst.bin"), *target = path_in("new.mender");
	char *uri = xasprintf("file://%s", target), *srcuri = xasprintf("file://%s", src);
	struct stat st;

	write_file(src, "payload", 7, 0600);
	/* Upload to a new name: created 0644, atomically. */
	ck_assert_int_eq(uri_upload(&cfg, src, uri, err, sizeof(err)), 0);
	ck_assert(same_content(target, "payload", 7));
	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	/* Upload over an existing file keeps its mode. */
	ck_assert_int_eq(chmod(target, 0664), 0);
	write_file(src, "payload two", 11, 0600);
	ck_assert_int_eq(uri_upload(&cfg, src, uri, err, sizeof(err)), 0);
	ck_assert(same_content(target, "payload two", 11));
	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0664);
	ck_assert_int_eq(count_entries(dir, ".new.mender"), 0);

	ck_assert_int_eq(uri_download(&cfg, srcuri, dst, err, sizeof(err)), 0);
	ck_assert(same_content(dst, "payload two", 11));
	ck_assert_int_eq(stat(dst, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	/* Never over an existing file. */
	ck_assert_int_eq(uri_download(&cfg, srcuri, dst, err, sizeof(err)), 500);
	ck_assert(same_content(dst, "payload two", 11));
	unlink(dst);
	/* No room for it (a file-size limit, as a full disk): 507, and no
	 * half-written download left */
	{
		pid_t pid = fork();
		int wst;

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			struct rlimit rl = {4, 4};

			signal(SIGXFSZ, SIG_IGN);
			if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
				_exit(2);
			_exit(uri_download(&cfg, srcuri, dst, err, sizeof(err)) == 507 &&
					      strstr(err, "not enough storage") != NULL
				      ? 0
				      : 1);
		}
		ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
		ck_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
		ck_assert_int_eq(access(dst, F_OK), -1);
	}
	free(srcuri);
	srcuri = xasprintf("file://%s/none", dir);
	ck_assert_int_eq(uri_download(&cfg, srcuri, dst, err, sizeof(err)), 404);
	ck_assert_int_eq(access(dst, F_OK), -1);
	ck_assert_int_eq(uri_download(&cfg, "http://x/y", dst, err, sizeof(err)), 400);
	ck_assert_int_eq(uri_upload(&cfg, src, "file:///a/../b", err, sizeof(err)), 400);
	free(src);
	free(dst);
	free(target);
	free(uri);
	free(srcuri);
}
END_TEST

START_TEST(test_s3_urls)
{
	char *b, *k, *url, region[64];

	ck_assert_int_eq(s3_parse_uri("s3://bucket/a/b+c d.txt", &b, &k, err, sizeof(err)), 0);
	ck_assert_str_eq(b, "bucket");
	ck_assert_str_eq(k, "a/b+c d.txt");
	ck_assert_int_eq(conf_set(&cfg, "S3_ENDPOINT", "http://127.0.0.1:9000//", err, sizeof(err)),
			 0);
	url = s3_object_url(&cfg, b, k, NULL);
	ck_assert_str_eq(url, "http://127.0.0.1:9000/bucket/a/b%2Bc%20d.txt");
	free(url);
	url = s3_object_url(&cfg, b, k, "partNumber=1&uploadId=x");
	ck_assert_str_eq(url, "http://127.0.0.1:9000/bucket/a/b%2Bc%20d.txt?partNumber=1&uploadId=x");
	free(url);
	url = s3_object_url(&cfg, b, "", "list-type=2");
	ck_assert_str_eq(url, "http://127.0.0.1:9000/bucket?list-type=2");
	free(url);
	free(b);
	free(k);

	/* AWS: virtual-host style where the bucket is a DNS label, else path style. */
	free(cfg.s3_endpoint);
	cfg.s3_endpoint = NULL;
	setenv("AWS_REGION", "eu-west-1", 1);
	url = s3_object_url(&cfg, "my-bucket", "x/\xc3\xa9~_.-", NULL);
	ck_assert_str_eq(url, "https://my-bucket.s3.eu-west-1.amazonaws.com/x/%C3%A9~_.-");
	free(url);
	url = s3_object_url(&cfg, "my.bucket", "k", NULL);
	ck_assert_str_eq(url, "https://s3.eu-west-1.amazonaws.com/my.bucket/k");
	free(url);
	unsetenv("AWS_REGION");
	setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
	s3_region(region, sizeof(region));
	ck_assert_str_eq(region, "ap-south-1");
	unsetenv("AWS_DEFAULT_REGION");
	s3_region(region, sizeof(region));
	ck_assert_str_eq(region, "us-east-1");

	ck_assert_int_eq(s3_parse_uri("s3://b", &b, &k, err, sizeof(err)), 0);
	ck_assert_str_eq(k, "");
	free(b);
	free(k);
	ck_assert_int_eq(s3_parse_uri("s3://b/x//y", &b, &k, err, sizeof(err)), -1);
	ck_assert_ptr_null(b);
}
END_TEST

START_TEST(test_s3_unreachable)
{
	struct uri_artifact *art;
	char *dst = path_in("dl");

	ck_assert_int_eq(conf_set(&cfg, "S3_ENDPOINT", "http://127.0.0.1:1", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_set(&cfg, "S3_RETRIES", "0", err, sizeof(err)), 0);
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	ck_assert_int_eq(uri_open(&cfg, "s3://b/a.mender", jobdir, &art, err, sizeof(err)), 503);
	ck_assert_str_eq(err, "Artifact store unavailable");
	ck_assert_ptr_null(art);
	/* The failed download leaves nothing in the job directory. */
	ck_assert_int_eq(count_entries(jobdir, "artifact"), 0);
	ck_assert_int_eq(uri_download(&cfg, "s3://b/a.mender", dst, err, sizeof(err)), 503);
	ck_assert_int_eq(access(dst, F_OK), -1);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	free(dst);
}
END_TEST

/* An S3 endpoint that answers every request 503 (a store that is busy),
 * until *stop. */
struct busy_store {
	int fd;
	volatile int stop;
};

static void *
busy_store_serve(void *arg)
{
	struct busy_store *b = arg;
	static const char answer[] = "HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\n"
				     "Connection: close\r\n\r\n";

	while (!b->stop) {
		char buf[4096];
		int c = accept(b->fd, NULL, NULL);
		ssize_t n;
		size_t got = 0;

		if (c < 0)
			continue;
		/* the head, then the answer */
		while (got < sizeof(buf) - 1 && (n = read(c, buf + got, sizeof(buf) - 1 - got)) > 0) {
			got += (size_t)n;
			buf[got] = '\0';
			if (strstr(buf, "\r\n\r\n") != NULL)
				break;
		}
		(void)!write(c, answer, sizeof(answer) - 1);
		close(c);
	}
	return NULL;
}

/* A download from the busy store, in a thread: its status. */
struct busy_download {
	const char *dst;
	int status;
	volatile int done;
};

static void *
busy_download(void *arg)
{
	struct busy_download *d = arg;
	char why[256];

	d->status = uri_download(&cfg, "s3://b/a.mender", d->dst, why, sizeof(why));
	d->done = 1;
	return NULL;
}

/* The process's own S3 credentials replaced (a SIGHUP in the key process)
 * while a request sleeps between its retries: the request keeps its own
 * copy (the sanitizer build tells a freed one). */
START_TEST(test_s3_credentials_reloaded_during_a_request)
{
	static const char text[] = "AWS_ACCESS_KEY_ID=AKIDEXAMPLE\nAWS_SECRET_ACCESS_KEY=secret\n"
				   "AWS_SESSION_TOKEN=token\nAWS_REGION=eu-west-1\n";
	struct busy_store b = {.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	char endpoint[64], *creds = path_in("creds");
	struct busy_download d = {.dst = path_in("dl")};
	pthread_t srv, dl;
	int reloads = 0;

	ck_assert_int_ge(b.fd, 0);
	ck_assert_int_eq(bind(b.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(b.fd, 16), 0);
	ck_assert_int_eq(getsockname(b.fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
	ck_assert_int_eq(conf_set(&cfg, "S3_ENDPOINT", endpoint, err, sizeof(err)), 0);
	ck_assert_int_eq(conf_set(&cfg, "S3_RETRIES", "2", err, sizeof(err)), 0);
	write_file(creds, text, sizeof(text) - 1, 0600);
	ck_assert_int_eq(s3_credentials_load(creds, 1, err, sizeof(err)), 0);
	ck_assert_int_eq(pthread_create(&srv, NULL, busy_store_serve, &b), 0);
	ck_assert_int_eq(pthread_create(&dl, NULL, busy_download, &d), 0);
	/* the request retries twice, 125 to 1,000 ms apart: reload all along */
	while (!d.done) {
		ck_assert_int_eq(s3_credentials_load(creds, 1, err, sizeof(err)), 0);
		reloads++;
		usleep(2000);
	}
	pthread_join(dl, NULL);
	ck_assert_int_eq(d.status, 503);
	ck_assert_int_gt(reloads, 10);
	b.stop = 1;
	shutdown(b.fd, SHUT_RDWR);
	close(b.fd);
	pthread_join(srv, NULL);
	free(creds);
	free((char *)d.dst);
}
END_TEST

/* uri_scheme tells the kinds apart by their form alone. */
START_TEST(test_scheme)
{
	static const struct {
		const char *uri;
		enum uri_kind kind;
		const char *rest;
	} cases[] = {
		{"s3://bucket/key", URI_S3, "bucket/key"},
		{"s3://", URI_S3, ""},
		{"file:///srv/a", URI_FILE, "/srv/a"},
		{"file://relative", URI_FILE, "relative"},
		{"/srv/a", URI_PATH, "/srv/a"},
		{"srv/a", URI_OTHER, "srv/a"},
		{"S3://bucket/key", URI_OTHER, "S3://bucket/key"},
		{"s3:/bucket", URI_OTHER, "s3:/bucket"},
		{"http://x/y", URI_OTHER, "http://x/y"},
		{"", URI_OTHER, ""},
	};
	const char *rest;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(uri_scheme(cases[i].uri, &rest), cases[i].kind);
		ck_assert_str_eq(rest, cases[i].rest);
		ck_assert_int_eq(uri_scheme(cases[i].uri, NULL), cases[i].kind);
	}
	ck_assert_int_eq(uri_scheme(NULL, &rest), URI_OTHER);
	ck_assert_ptr_null(rest);
}
END_TEST

static Suite *
uri_suite(void)
{
	Suite *s = suite_create("uri");
	TCase *tc = tcase_create("uri");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_scheme);
	tcase_add_test(tc, test_syntax);
	tcase_add_test(tc, test_prefixes);
	tcase_add_test(tc, test_prefix_symlinks);
	tcase_add_test(tc, test_open_file);
	tcase_add_test(tc, test_replace);
	tcase_add_test(tc, test_abort);
	tcase_add_test(tc, test_changed_meanwhile);
	tcase_add_test(tc, test_unwritable_dir);
	tcase_add_test(tc, test_kill_during_writeback);
	tcase_add_test(tc, test_download_upload);
	tcase_add_test(tc, test_s3_urls);
	tcase_add_test(tc, test_s3_unreachable);
	tcase_add_test(tc, test_s3_credentials_reloaded_during_a_request);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = uri_suite);
