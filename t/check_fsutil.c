/* SPDX-License-Identifier: MIT */
/*
 * check_fsutil.c: unit tests of lib/fsutil.c: full positional reads and
 * writes, file and tree copies (modes kept without setuid, skipped names
 * left out, nothing overwritten), sorted listings, walks that list only
 * regular files and never follow a link, and clearing a directory but for
 * what is kept.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "buf.h"
#include "fsutil.h"
#include "util.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_fsutil.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	umask(022);
}

static void
teardown(void)
{
	util_rm_rf(dir);
}

/* dir/<name>, in one of a few rotating buffers. */
static const char *
at(const char *name)
{
	static char bufs[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(bufs[i], sizeof(bufs[i]), "%s/%s", dir, name);
	return bufs[i];
}

static void
put(const char *name, const char *content, mode_t mode)
{
	ck_assert_int_eq(util_write_file(at(name), content, strlen(content), 0600), 0);
	ck_assert_int_eq(chmod(at(name), mode), 0);
}

/* One entry of a test tree, made in order: 'd' a directory, 'f' a file
 * holding data, 'l' a symbolic link to dir/<data>, 'p' a FIFO. */
struct entry {
	char kind;
	const char *name, *data;
	mode_t mode;
};

static void
make_tree(const struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++, e++) {
		switch (e->kind) {
		case 'd':
			ck_assert_int_eq(mkdir(at(e->name), e->mode), 0);
			break;
		case 'f':
			put(e->name, e->data, e->mode);
			break;
		case 'l':
			ck_assert_int_eq(symlink(at(e->data), at(e->name)), 0);
			break;
		default:
			ck_assert_int_eq(mkfifo(at(e->name), e->mode), 0);
		}
	}
}

#define MAKE_TREE(...)                                                                             \
	do {                                                                                       \
		static const struct entry tree_[] = {__VA_ARGS__};                                 \
		make_tree(tree_, sizeof(tree_) / sizeof(tree_[0]));                                \
	} while (0)

static void
check_content(const char *name, const char *want)
{
	char *got;
	size_t len;

	ck_assert_int_eq(util_read_file(at(name), 1 << 20, &got, &len), 0);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(test_pread_pwrite_full)
{
	char buf[16] = "";
	int fd = open(at("f"), O_RDWR | O_CREAT | O_EXCL, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fs_pwrite_full(fd, "hello world", 11, 4), 0);
	/* a hole before offset 4 reads as zeros; the end of file stops the read */
	ck_assert_int_eq(fs_pread_full(fd, buf, sizeof(buf), 0), 15);
	ck_assert_int_eq(buf[0], '\0');
	ck_assert_int_eq(memcmp(buf + 4, "hello world", 11), 0);
	ck_assert_int_eq(fs_pread_full(fd, buf, 5, 10), 5);
	ck_assert_int_eq(memcmp(buf, "world", 5), 0);
	ck_assert_int_eq(fs_pread_full(fd, buf, 5, 100), 0);
	close(fd);
	ck_assert_int_eq(fs_pread_full(fd, buf, 5, 0), -1);
	ck_assert_int_eq(fs_pwrite_full(fd, "x", 1, 0), -1);
}
END_TEST

START_TEST(test_copy_file)
{
	struct stat st;

	put("src", "#!/bin/sh\necho hi\n", 04755);
	ck_assert_int_eq(fs_copy_file(at("src"), at("dst")), 0);
	check_content("dst", "#!/bin/sh\necho hi\n");
	ck_assert_int_eq(stat(at("dst"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755); /* no setuid */
	/* never over an existing file or through a link */
	ck_assert_int_eq(fs_copy_file(at("src"), at("dst")), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(symlink(at("elsewhere"), at("link")), 0);
	ck_assert_int_eq(fs_copy_file(at("src"), at("link")), -1);
	ck_assert_int_eq(access(at("elsewhere"), F_OK), -1);
	/* only a regular file is copied */
	ck_assert_int_eq(mkdir(at("d"), 0700), 0);
	ck_assert_int_eq(fs_copy_file(at("d"), at("d2")), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(fs_copy_file(at("missing"), at("d3")), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_copy_fd)
{
	struct buf big;
	char *got;
	size_t len;
	int in, out;

	buf_init(&big, BUF_UNLIMITED, 0);
	for (int i = 0; i < 100000; i++)
		buf_printf(&big, "%d\n", i);
	ck_assert_int_eq(util_write_file(at("in"), big.data, big.len, 0600), 0);
	in = open(at("in"), O_RDONLY);
	out = open(at("out"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_eq(fs_copy_fd(in, out), 0);
	close(in);
	close(out);
	ck_assert_int_eq(util_read_file(at("out"), 1 << 24, &got, &len), 0);
	ck_assert_uint_eq(len, big.len);
	ck_assert_int_eq(memcmp(got, big.data, len), 0);
	free(got);
	buf_free(&big);
}
END_TEST

START_TEST(test_copy_tree)
{
	static const char *const skip[] = {"__pycache__", NULL};
	struct stat st;

	MAKE_TREE({'d', "t", NULL, 0750}, {'d', "t/sub", NULL, 0700},
		  {'d', "t/__pycache__", NULL, 0700}, {'f', "t/a", "a", 0644},
		  {'f', "t/sub/b", "b", 0700}, {'f', "t/__pycache__/c.pyc", "c", 0644},
		  {'f', "outside", "o", 0644}, {'l', "t/link", "outside", 0});
	ck_assert_int_eq(fs_copy_tree(at("t"), at("u"), skip), 0);
	check_content("u/a", "a");
	check_content("u/sub/b", "b");
	/* a link in the source is followed: the copy is a file */
	ck_assert_int_eq(lstat(at("u/link"), &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(access(at("u/__pycache__"), F_OK), -1);
	ck_assert_int_eq(stat(at("u"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0750);
	ck_assert_int_eq(stat(at("u/sub/b"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	/* the destination must be new */
	ck_assert_int_eq(fs_copy_tree(at("t"), at("u"), NULL), -1);
}
END_TEST

START_TEST(test_copy_tree_loop)
{
	ck_assert_int_eq(mkdir(at("loop"), 0700), 0);
	ck_assert_int_eq(symlink(at("loop"), at("loop/again")), 0);
	ck_assert_int_eq(fs_copy_tree(at("loop"), at("copy"), NULL), -1);
}
END_TEST

START_TEST(test_list_dir)
{
	struct strv names = {0};

	MAKE_TREE({'d', "l", NULL, 0700}, {'f', "l/b", "", 0600}, {'f', "l/a", "", 0600},
		  {'f', "l/.hidden", "", 0600}, {'d', "l/c", NULL, 0700});
	ck_assert_int_eq(fs_list_dir(at("l"), &names), 0);
	ck_assert_uint_eq(names.n, 4);
	ck_assert_str_eq(names.v[0], ".hidden");
	ck_assert_str_eq(names.v[1], "a");
	ck_assert_str_eq(names.v[2], "b");
	ck_assert_str_eq(names.v[3], "c");
	ck_assert_ptr_null(names.v[4]);
	strv_free(&names);
	ck_assert_int_eq(fs_list_dir(at("nowhere"), &names), -1);
	ck_assert_uint_eq(names.n, 0);
}
END_TEST

START_TEST(test_walk_files)
{
	struct strv files = {0};

	MAKE_TREE({'d', "w", NULL, 0700}, {'d', "w/d", NULL, 0700}, {'d', "w/d/e", NULL, 0700},
		  {'d', "target", NULL, 0700}, {'f', "target/secret", "s", 0600},
		  {'f', "w/z", "", 0600}, {'f', "w/d/y", "", 0600}, {'f', "w/d/e/x", "", 0600},
		  {'l', "w/dirlink", "target", 0}, {'l', "w/filelink", "w/z", 0},
		  {'p', "w/fifo", NULL, 0600});
	fs_walk_files(at("w"), ".", &files);
	ck_assert_uint_eq(files.n, 3);
	ck_assert_str_eq(files.v[0], "./d/e/x");
	ck_assert_str_eq(files.v[1], "./d/y");
	ck_assert_str_eq(files.v[2], "./z");
	strv_free(&files);
	fs_walk_files(at("nowhere"), ".", &files);
	ck_assert_uint_eq(files.n, 0);
	/* a file whose path is longer than PATH_MAX is listed too */
	{
		char name[201];
		int dfd = open(at("w"), O_RDONLY | O_DIRECTORY), n;

		memset(name, 'd', 200);
		name[200] = '\0';
		ck_assert_int_ge(dfd, 0);
		for (int i = 0; i < 24; i++) {
			ck_assert_int_eq(mkdirat(dfd, name, 0700), 0);
			n = openat(dfd, name, O_RDONLY | O_DIRECTORY);
			ck_assert_int_ge(n, 0);
			close(dfd);
			dfd = n;
		}
		n = openat(dfd, "deep", O_WRONLY | O_CREAT, 0600);
		ck_assert_int_ge(n, 0);
		close(n);
		close(dfd);
		fs_walk_files(at("w"), ".", &files);
		ck_assert_uint_eq(files.n, 4);
		ck_assert_uint_gt(strlen(files.v[2]), 4096);
		ck_assert_str_eq(files.v[2] + strlen(files.v[2]) - 5, "/deep");
		strv_free(&files);
	}
}
END_TEST

static int
keep_k(const char *name, void *arg)
{
	(void)arg;
	return name[0] == 'k';
}

START_TEST(test_remove_except)
{
	struct strv left = {0};

	MAKE_TREE({'d', "r", NULL, 0700}, {'d', "r/gone", NULL, 0700}, {'d', "keepdir", NULL, 0700},
		  {'f', "keepdir/precious", "p", 0600}, {'f', "r/gone/f", "", 0600},
		  {'f', "r/kept", "", 0600}, {'f', "r/other", "", 0600},
		  {'l', "r/link", "keepdir", 0});
	ck_assert_int_eq(fs_remove_except(at("r"), keep_k, NULL), 0);
	ck_assert_int_eq(fs_list_dir(at("r"), &left), 0);
	ck_assert_uint_eq(left.n, 1);
	ck_assert_str_eq(left.v[0], "kept");
	strv_free(&left);
	/* the link went, not what it pointed to */
	check_content("keepdir/precious", "p");
	ck_assert_int_eq(fs_remove_except(at("nowhere"), keep_k, NULL), -1);
}
END_TEST

static Suite *
fsutil_suite(void)
{
	Suite *s = suite_create("fsutil");
	TCase *tc = tcase_create("fsutil");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pread_pwrite_full);
	tcase_add_test(tc, test_copy_file);
	tcase_add_test(tc, test_copy_fd);
	tcase_add_test(tc, test_copy_tree);
	tcase_add_test(tc, test_copy_tree_loop);
	tcase_add_test(tc, test_list_dir);
	tcase_add_test(tc, test_walk_files);
	tcase_add_test(tc, test_remove_except);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = fsutil_suite);
