/* SPDX-License-Identifier: MIT */
/*
 * check_util.c: unit tests of lib/util.c: tree removal that never follows
 * links and copes with any depth, bounded whole-file reads.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "util.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_util.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	/* not util_rm_rf(): that is what is under test */
	if (check_sh(NULL, "rm -rf '%s'", dir) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

START_TEST(test_rm_deep_tree)
{
	char top[128];
	int fd;

	snprintf(top, sizeof(top), "%s/t", dir);
	ck_assert_int_eq(mkdir(top, 0700), 0);
	fd = open(top, O_RDONLY | O_DIRECTORY);
	/* far deeper than PATH_MAX allows to name */
	for (int i = 0; i < 3000; i++) {
		int sub;

		ck_assert_int_eq(mkdirat(fd, "directory", 0700), 0);
		sub = openat(fd, "directory", O_RDONLY | O_DIRECTORY);
		ck_assert_int_ge(sub, 0);
		close(fd);
		fd = sub;
	}
	close(openat(fd, "file", O_WRONLY | O_CREAT, 0600));
	fchmod(fd, 0500); /* a tool may leave a directory without write bits */
	close(fd);
	ck_assert_int_eq(util_rm_rf(top), 0);
	ck_assert_int_eq(access(top, F_OK), -1);
}
END_TEST

START_TEST(test_rm_does_not_follow_links)
{
	char top[128], outside[128], link[160], kept[160];

	snprintf(top, sizeof(top), "%s/t", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	snprintf(link, sizeof(link), "%s/link", top);
	snprintf(kept, sizeof(kept), "%s/keep", outside);
	ck_assert_int_eq(mkdir(top, 0700), 0);
	ck_assert_int_eq(mkdir(outside, 0700), 0);
	close(open(kept, O_WRONLY | O_CREAT, 0600));
	ck_assert_int_eq(symlink(outside, link), 0);
	ck_assert_int_eq(util_rm_rf(top), 0);
	ck_assert_int_eq(access(top, F_OK), -1);
	ck_assert_int_eq(access(kept, F_OK), 0);
	/* a link given as the path itself is removed, not followed */
	ck_assert_int_eq(symlink(outside, top), 0);
	ck_assert_int_eq(util_rm_rf(top), 0);
	ck_assert_int_eq(access(kept, F_OK), 0);
	ck_assert_int_eq(util_rm_rf(top), 0); /* absent: fine */
}
END_TEST

START_TEST(test_read_file_bound)
{
	char path[128], *buf;
	size_t len;
	int fd;

	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_eq(util_write_all(fd, "0123456789", 10), 0);
	close(fd);
	ck_assert_int_eq(util_read_file(path, 10, &buf, &len), 0);
	ck_assert_uint_eq(len, 10);
	ck_assert_str_eq(buf, "0123456789");
	free(buf);
	ck_assert_int_eq(util_read_file(path, 9, &buf, &len), -1);
	ck_assert_int_eq(errno, EFBIG);
}
END_TEST

/* util_wipe clears a buffer holding anything, down to its last byte, and
 * writes nothing to one that holds nothing: here a read-only page, which
 * a write would fault on. */
START_TEST(test_wipe)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	p[pg - 1] = 0x5a;
	util_wipe(p, (size_t)pg);
	for (long i = 0; i < pg; i++)
		ck_assert_uint_eq(p[i], 0);
	ck_assert_int_eq(mprotect(p, (size_t)pg, PROT_READ), 0);
	util_wipe(p, (size_t)pg);
	munmap(p, (size_t)pg);
}
END_TEST

CHECK_MAIN(.name = "util", .setup = setup, .teardown = teardown, .timeout = 60,
	   .tests = CHECK_TESTS(test_rm_deep_tree, test_rm_does_not_follow_links,
				test_read_file_bound, test_wipe));
