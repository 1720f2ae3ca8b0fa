/* SPDX-License-Identifier: MIT */
/*
 * fsutil.c: see fsutil.h.
 *
 * These were the Tegra signer's and the Mender reader's own helpers; they
 * live here so that every signer copies, lists and walks the same way.
 */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "util.h"

#define FS_COPY_CHUNK (256 * 1024)
#define FS_COPY_DEPTH 32
#define FS_WALK_DEPTH 64

ssize_t
fs_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
fs_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n = pwrite(fd, (const char *)buf + put, len - put, (off_t)(off + put));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		put += (size_t)n;
	}
	return 0;
}

int
fs_same_version(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int
fs_who_can(const struct fs_who *who, const char *path, const struct stat *st, int need)
{
	int bits;

	if (who->as_process)
		return faccessat(AT_FDCWD, path, (need & 4 ? R_OK : 0) | (need & 1 ? X_OK : 0),
				 AT_EACCESS) == 0;
	if (st->st_uid == who->uid) {
		bits = (st->st_mode >> 6) & 7;
	} else {
		int in_group = 0;

		for (int i = 0; i < who->ngroups; i++)
			if (who->groups[i] == st->st_gid)
				in_group = 1;
		bits = in_group ? (st->st_mode >> 3) & 7 : st->st_mode & 7;
	}
	return (bits & need) == need;
}

int
fs_copy_fd(int in, int out)
{
	char *buf = xmalloc(FS_COPY_CHUNK);
	int rc = 0;

	for (;;) {
		ssize_t n = read(in, buf, FS_COPY_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		if (util_write_all(out, buf, (size_t)n) < 0) {
			rc = -1;
			break;
		}
	}
	free(buf);
	return rc;
}

/* Open src, a regular file, for reading; its status into st.  fd or -1. */
static int
fs_open_regular(const char *src, struct stat *st)
{
	int in = open(src, O_RDONLY | O_CLOEXEC), e;

	if (in < 0)
		return -1;
	if (fstat(in, st) < 0) {
		e = errno;
		close(in);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(in);
		errno = EINVAL;
		return -1;
	}
	return in;
}

int
fs_copy_file(const char *src, const char *dst)
{
	struct stat st = {0};
	int in, out, rc = -1, e;

	if ((in = fs_open_regular(src, &st)) < 0)
		return -1;
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		e = errno;
		close(in);
		errno = e;
		return -1;
	}
	if (fs_copy_fd(in, out) == 0 && fchmod(out, st.st_mode & 0777) == 0)
		rc = 0;
	e = errno;
	if (close(out) < 0 && rc == 0) {
		e = errno;
		rc = -1;
	}
	close(in);
	errno = e;
	return rc;
}

static int
fs_skipped(const char *name, const char *const *skip)
{
	for (; skip != NULL && *skip != NULL; skip++)
		if (strcmp(name, *skip) == 0)
			return 1;
	return 0;
}

static int
fs_copy_tree_at(const char *src, const char *dst, const char *const *skip, int depth)
{
	struct strv names = {0};
	struct stat st;
	int rc = 0;

	if (depth > FS_COPY_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	if (stat(src, &st) < 0 || mkdir(dst, 0700) < 0 || fs_list_dir(src, &names) < 0)
		return -1;
	for (size_t i = 0; i < names.n && rc == 0; i++) {
		char *s, *d;
		struct stat cst;

		if (fs_skipped(names.v[i], skip))
			continue;
		s = xasprintf("%s/%s", src, names.v[i]);
		d = xasprintf("%s/%s", dst, names.v[i]);
		if (stat(s, &cst) < 0)
			rc = -1;
		else if (S_ISDIR(cst.st_mode))
			rc = fs_copy_tree_at(s, d, skip, depth + 1);
		else
			rc = fs_copy_file(s, d);
		if (rc < 0)
			log_warn("copy %s", s);
		free(s);
		free(d);
	}
	strv_free(&names);
	if (rc == 0 && chmod(dst, st.st_mode & 0777) < 0)
		rc = -1;
	return rc;
}

int
fs_copy_tree(const char *src, const char *dst, const char *const *skip)
{
	return fs_copy_tree_at(src, dst, skip, 0);
}

/* The entries of d but "." and "..", sorted, into names. */
static void
read_names(DIR *d, struct strv *names)
{
	struct dirent *de;

	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			strv_add(names, de->d_name);
	strv_sort(names);
}

int
fs_list_dir(const char *dir, struct strv *out)
{
	struct strv names = {0};
	DIR *d = opendir(dir);

	if (d == NULL)
		return -1;
	read_names(d, &names);
	closedir(d);
	for (size_t i = 0; i < names.n; i++)
		strv_add(out, names.v[i]);
	strv_free(&names);
	return 0;
}

/* The regular files below the directory dfd (closed here), as rel/name
 * in out; by descriptor, so that no path grows past PATH_MAX. */
static void
fs_walk_fd(int dfd, const char *rel, struct strv *out, int depth)
{
	struct strv names = {0};
	DIR *d;

	if (depth > FS_WALK_DEPTH || (d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return;
	}
	read_names(d, &names);
	for (size_t i = 0; i < names.n; i++) {
		char *r = xasprintf("%s/%s", rel, names.v[i]);
		struct stat st;
		int sub;

		if (fstatat(dirfd(d), names.v[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			; /* gone meanwhile: nothing to list */
		else if (S_ISDIR(st.st_mode) &&
			 (sub = openat(dirfd(d), names.v[i],
				       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0)
			fs_walk_fd(sub, r, out, depth + 1);
		else if (S_ISREG(st.st_mode))
			strv_add(out, r);
		free(r);
	}
	closedir(d);
	strv_free(&names);
}

void
fs_walk_files(const char *dir, const char *rel, struct strv *out)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd >= 0)
		fs_walk_fd(dfd, rel, out, 0);
}

int
fs_remove_except(const char *dir, int (*keep)(const char *name, void *arg), void *arg)
{
	struct strv names = {0};

	if (fs_list_dir(dir, &names) < 0)
		return -1;
	for (size_t i = 0; i < names.n; i++) {
		char *path;

		if (keep(names.v[i], arg))
			continue;
		path = xasprintf("%s/%s", dir, names.v[i]);
		if (util_rm_rf(path) < 0)
			log_warn("remove %s", path);
		free(path);
	}
	strv_free(&names);
	return 0;
}

/* Read len bytes from fd, through interruptions; 0 or -1. */
static int
read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, (char *)buf + got, len - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

int
fs_grouplist(const char *user, gid_t gid, gid_t *groups, int *n)
{
	int fds[2], rc = -1, status, got = 0, room = *n;
	pid_t pid;

	if (room <= 0 || pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int k = room, r = getgrouplist(user, gid, groups, &k);

		if (r < 0)
			k = -1;
		if (util_write_all(fds[1], &k, sizeof(k)) < 0 ||
		    (k > 0 && util_write_all(fds[1], groups, (size_t)k * sizeof(*groups)) < 0))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (read_full(fds[0], &got, sizeof(got)) == 0 && got > 0 && got <= room &&
	    read_full(fds[0], groups, (size_t)got * sizeof(*groups)) == 0) {
		*n = got;
		rc = 0;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return rc;
}
