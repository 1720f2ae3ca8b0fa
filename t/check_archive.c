/*
 * check_archive.c: unit tests of lib/archive.c, safe extraction and
 * repacking.  Archives are made with the real tools: GNU tar for honest
 * trees, python3's tarfile (t/fixtures/mktar.py) for hostile ones; GNU
 * tar also reads back what the writer makes, the way clients do.  Each
 * test works in a fresh scratch directory holding the archive, the
 * destination "dest" and a sentinel directory "outside" that must stay
 * empty.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "archive.h"
#include "util.h"

#ifndef TOP_SRCDIR
#define TOP_SRCDIR ".."
#endif

static char tmp[PATH_MAX], dest[PATH_MAX], err[512];
static struct ar_list list;
static struct ar_limits lim;

static void
setup(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/check_archive.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	ck_assert_uint_lt(strlen(tmp), sizeof(dest) - 8);
	snprintf(dest, sizeof(dest), "%.*s/dest", (int)(sizeof(dest) - 8), tmp);
	ck_assert_int_eq(mkdir(dest, 0700), 0);
	ck_assert_int_eq(chdir(tmp), 0);
	ck_assert_int_eq(mkdir("outside", 0700), 0);
	memset(&list, 0, sizeof(list));
	lim.max_members = 1000;
	lim.max_size = 100000000;
	lim.flags = 0;
	err[0] = '\0';
}

static void
teardown(void)
{
	ar_list_free(&list);
	if (chdir("/") == 0)
		util_rm_rf(tmp);
}

/* A shell command in the scratch directory (setup() made it the current
 * one); its exit status (t/check_main.h). */
#define sh(...) check_sh(NULL, __VA_ARGS__)

/* mktar.py with the given member specs into t.tar.gz. */
#define MKTAR(...) ck_assert_int_eq(sh("python3 " TOP_SRCDIR "/t/fixtures/mktar.py " __VA_ARGS__), 0)

static int
extract(const char *name)
{
	return ar_extract(name, dest, &lim, &list, err, sizeof(err));
}

/* The sentinel is empty and nothing but dest, outside, the archives and
 * the test's own source tree sits in the scratch directory. */
static void
assert_nothing_outside(void)
{
	ck_assert_int_eq(sh("[ -z \"$(ls -A outside)\" ] && "
			    "[ -z \"$(ls -A | grep -v -e '^dest$' -e '^outside$' -e '^src$' "
			    "-e '\\.tar')\" ]"),
			 0);
}

/* Empty the destination for the next archive of a test. */
static void
reset(void)
{
	ar_list_free(&list);
	ck_assert_int_eq(util_rm_rf(dest), 0);
	ck_assert_int_eq(mkdir(dest, 0700), 0);
}

static void
assert_refused(const char *what)
{
	int st = extract("t.tar.gz");

	ck_assert_msg(st == 400, "%s: status %d (%s)", what, st, err);
	ck_assert_msg(strstr(err, what) != NULL, "reason '%s' lacks '%s'", err, what);
	assert_nothing_outside();
}

static const struct ar_entry *
entry(const char *name)
{
	ssize_t i = ar_list_find(&list, name);

	ck_assert_msg(i >= 0, "no member %s", name);
	return &list.v[i];
}

START_TEST(test_normalize)
{
	char out[PATH_MAX];
	const char *why;

	ck_assert_int_eq(ar_normalize("./lib/modules/", out, sizeof(out), &why), 0);
	ck_assert_str_eq(out, "lib/modules");
	ck_assert_int_eq(ar_normalize("a//b/./c", out, sizeof(out), &why), 0);
	ck_assert_str_eq(out, "a/b/c");
	ck_assert_int_eq(ar_normalize("./", out, sizeof(out), &why), 0);
	ck_assert_str_eq(out, ".");
	ck_assert_int_eq(ar_normalize("", out, sizeof(out), &why), 0);
	ck_assert_str_eq(out, ".");
	ck_assert_int_eq(ar_normalize("..a/b..", out, sizeof(out), &why), 0);
	ck_assert_str_eq(out, "..a/b..");
	ck_assert_int_eq(ar_normalize("/etc/passwd", out, sizeof(out), &why), -1);
	ck_assert_str_eq(why, "absolute path");
	ck_assert_int_eq(ar_normalize("a/../../b", out, sizeof(out), &why), -1);
	ck_assert_int_eq(ar_normalize("..", out, sizeof(out), &why), -1);
	ck_assert_int_eq(ar_normalize("a/..", out, sizeof(out), &why), -1);
	ck_assert_int_eq(ar_normalize("abc/def", out, 5, &why), -1);
}
END_TEST

/* A tree made by GNU tar comes out whole, with modes and times. */
START_TEST(test_gnu_tar_tree)
{
	struct stat sb;
	const struct ar_entry *e;

	ck_assert_int_eq(sh("mkdir -p src/lib/modules/1/kernel src/lib/modules/1/ro && "
			    "printf hello > src/lib/modules/1/kernel/a.ko && "
			    "printf '#!/bin/sh\\n' > src/lib/modules/1/run.sh && "
			    "printf secret > src/lib/modules/1/private && "
			    "printf inro > src/lib/modules/1/ro/f && "
			    "chmod 0644 src/lib/modules/1/kernel/a.ko && chmod 4755 src/lib/modules/1/run.sh && "
			    "chmod 0600 src/lib/modules/1/private && "
			    "ln -s kernel/a.ko src/lib/modules/1/link.ko && "
			    "ln src/lib/modules/1/kernel/a.ko src/lib/modules/1/hard.ko && "
			    "find src -exec touch -h -d '2023-05-06 07:08:09.5' {} + && "
			    "chmod 0555 src/lib/modules/1/ro && "
			    "tar -C src -czf t.tar.gz ."),
			 0);
	ck_assert_int_eq(extract("t.tar.gz"), 0);
	ck_assert_str_eq(list.v[0].name, ".");
	e = entry("lib/modules/1/kernel/a.ko");
	ck_assert_int_eq(e->type, AR_FILE);
	ck_assert_uint_eq(e->mode, 0644);
	ck_assert_uint_eq(e->size, 5);
	e = entry("lib/modules/1/run.sh");
	ck_assert_uint_eq(e->mode, 0755); /* setuid dropped */
	e = entry("lib/modules/1/link.ko");
	ck_assert_int_eq(e->type, AR_SYMLINK);
	ck_assert_str_eq(e->link, "kernel/a.ko");
	e = entry("lib/modules/1/ro");
	ck_assert_int_eq(e->type, AR_DIR);
	ck_assert_uint_eq(e->mode, 0555);
	/* one of the two names is the hard link, to the other */
	e = entry("lib/modules/1/hard.ko");
	if (e->type == AR_HARDLINK)
		ck_assert_str_eq(e->link, "lib/modules/1/kernel/a.ko");
	else
		ck_assert_str_eq(entry("lib/modules/1/kernel/a.ko")->link, "lib/modules/1/hard.ko");

	ck_assert_int_eq(sh("diff -r --no-dereference src dest"), 0);
	ck_assert_int_eq(lstat("dest/lib/modules/1/run.sh", &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0755);
	ck_assert_int_eq(sb.st_mtim.tv_sec, entry("lib/modules/1/run.sh")->mtime);
	ck_assert_int_eq(lstat("dest/lib/modules/1/private", &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0600);
	ck_assert_int_eq(lstat("dest/lib/modules/1/ro", &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 07777, 0755); /* 0555 + owner rwx on disk */
	ck_assert_int_eq(lstat("dest/lib/modules/1", &sb), 0);
	ck_assert_int_eq(sb.st_mtim.tv_sec, entry("lib/modules/1")->mtime);
	ck_assert_int_eq(lstat("dest/lib/modules/1/link.ko", &sb), 0);
	ck_assert(S_ISLNK(sb.st_mode));
	ck_assert_int_eq(sb.st_mtim.tv_sec, entry("lib/modules/1/link.ko")->mtime);
	ck_assert_int_eq(lstat("dest/lib/modules/1/hard.ko", &sb), 0);
	ck_assert_uint_eq(sb.st_nlink, 2);
	assert_nothing_outside();
}
END_TEST

/* Names without "./", parents left implicit, pax and ustar formats. */
START_TEST(test_implicit_parents)
{
	struct stat sb;

	MKTAR("--format pax t.tar.gz file:lib/modules/v/a.ko=AAA 'file:lib/modules/v/b c.ko=B'");
	ck_assert_int_eq(extract("t.tar.gz"), 0);
	ck_assert_uint_eq(list.n, 2);
	ck_assert_str_eq(list.v[0].name, "lib/modules/v/a.ko");
	ck_assert_str_eq(list.v[1].name, "lib/modules/v/b c.ko");
	ck_assert_int_eq(stat("dest/lib/modules/v", &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0755);
	ck_assert_int_eq(sh("[ \"$(cat dest/lib/modules/v/a.ko)\" = AAA ]"), 0);
}
END_TEST

START_TEST(test_long_names)
{
	char spec[1024], name[600];

	memset(name, 'n', 250);
	name[250] = '\0';
	snprintf(name + 250, sizeof(name) - 250, "/%.*s.ko", 200, name);
	snprintf(spec, sizeof(spec), "t.tar.gz file:%s=long", name);
	MKTAR("%s", spec);
	ck_assert_int_eq(extract("t.tar.gz"), 0);
	ck_assert_str_eq(list.v[0].name, name);
}
END_TEST

START_TEST(test_absolute)
{
	MKTAR("t.tar.gz file:ok file:%s/outside/abs", tmp);
	assert_refused("absolute path");
}
END_TEST

START_TEST(test_dotdot)
{
	MKTAR("t.tar.gz file:../outside/x");
	assert_refused("\"..\"");
	reset();
	MKTAR("t.tar.gz dir:a file:a/../../outside/y");
	assert_refused("\"..\"");
}
END_TEST

START_TEST(test_symlink_absolute)
{
	MKTAR("t.tar.gz sym:l=%s/outside", tmp);
	assert_refused("absolute");
}
END_TEST

START_TEST(test_symlink_climbs)
{
	MKTAR("t.tar.gz dir:a sym:a/l=../../outside");
	assert_refused("leaves the tree");
}
END_TEST

/* Inside the tree when read lexically, outside when resolved: a/b/s
 * points at the top, so a/b/s/.. is above it. */
START_TEST(test_symlink_chain)
{
	MKTAR("t.tar.gz dir:a dir:a/b sym:a/b/s=../.. sym:t=a/b/s/..");
	assert_refused("leaves the tree");
	reset();
	/* the same, with the links in the other order */
	MKTAR("t.tar.gz sym:t=a/b/s/.. dir:a dir:a/b sym:a/b/s=../..");
	assert_refused("leaves the tree");
	reset();
	/* a loop */
	MKTAR("t.tar.gz sym:x=y sym:y=x");
	assert_refused("leaves the tree");
}
END_TEST

/* Links inside the tree, dangling ones included, are fine. */
START_TEST(test_symlink_inside)
{
	MKTAR("t.tar.gz dir:a dir:a/b sym:a/b/s=../.. sym:t=a/b/s/a sym:u=a/b/s/a/b/s/missing "
	      "sym:v=./a/../a/b");
	ck_assert_int_eq(extract("t.tar.gz"), 0);
	ck_assert_uint_eq(list.n, 6);
}
END_TEST

START_TEST(test_symlink_long)
{
	MKTAR("--format pax t.tar.gz \"sym:l=$(printf 'a/%%.0s' $(seq 1 2100))\"");
	assert_refused("too long");
}
END_TEST

static void
count_each(const struct ar_entry *e, void *arg)
{
	char *seen = arg;

	strcat(seen, e->name);
	strcat(seen, e->type == AR_FILE ? "(f) " : e->type == AR_DIR ? "(d) " : "(l) ");
}

/* The callback sees each member once it is on disk, in order. */
START_TEST(test_each)
{
	char seen[256] = "";

	MKTAR("t.tar.gz dir:d file:d/a=1 dir:d@0700 sym:d/s=a hard:h=d/a file:z");
	ck_assert_int_eq(ar_extract_each("t.tar.gz", dest, &lim, &list, count_each, seen, err,
					 sizeof(err)),
			 0);
	ck_assert_str_eq(seen, "d(d) d/a(f) d/s(l) h(l) z(f) ");
}
END_TEST

/* A member below a symbolic link is never written through it. */
START_TEST(test_write_through_symlink)
{
	MKTAR("t.tar.gz dir:sub sym:d=sub file:d/x");
	assert_refused("link");
	ck_assert_int_eq(access("dest/sub/x", F_OK), -1);
	reset();
	/* a link replacing a directory already extracted */
	MKTAR("t.tar.gz dir:d sym:d=e dir:e file:d/x");
	assert_refused("appears twice");
}
END_TEST

START_TEST(test_hardlink_outside)
{
	MKTAR("t.tar.gz hard:h=%s/outside/f", tmp);
	assert_refused("absolute path");
	reset();
	MKTAR("t.tar.gz hard:h=../outside/f");
	assert_refused("\"..\"");
	reset();
	MKTAR("t.tar.gz hard:h=/etc/passwd");
	assert_refused("absolute path");
}
END_TEST

START_TEST(test_hardlink_later)
{
	MKTAR("t.tar.gz hard:h=f file:f");
	assert_refused("not an earlier member");
	reset();
	MKTAR("t.tar.gz dir:d hard:h=d");
	assert_refused("not a regular file");
	reset();
	MKTAR("t.tar.gz sym:s=f file:f hard:h=s");
	assert_refused("not a regular file");
}
END_TEST

START_TEST(test_hardlink_chain)
{
	struct stat sb;

	MKTAR("t.tar.gz file:f=data hard:g=f hard:h=g");
	ck_assert_int_eq(extract("t.tar.gz"), 0);
	ck_assert_str_eq(entry("h")->link, "f");
	ck_assert_uint_eq(entry("h")->size, 4);
	ck_assert_int_eq(stat("dest/h", &sb), 0);
	ck_assert_uint_eq(sb.st_nlink, 3);
}
END_TEST

START_TEST(test_special_files)
{
	MKTAR("t.tar.gz chr:null");
	assert_refused("device nodes");
	reset();
	MKTAR("t.tar.gz blk:disk");
	assert_refused("device nodes");
	reset();
	MKTAR("t.tar.gz fifo:pipe");
	assert_refused("FIFOs");
}
END_TEST

START_TEST(test_duplicates)
{
	MKTAR("t.tar.gz file:f=one file:f=two");
	assert_refused("appears twice");
	reset();
	MKTAR("t.tar.gz dir:d@0700 file:d/x dir:d@0750");
	ck_assert_int_eq(extract("t.tar.gz"), 0);
	ck_assert_uint_eq(list.n, 2);
	ck_assert_uint_eq(entry("d")->mode, 0750);
	reset();
	MKTAR("t.tar.gz file:d dir:d");
	ck_assert_int_eq(extract("t.tar.gz"), 400);
}
END_TEST

START_TEST(test_member_limit)
{
	lim.max_members = 3;
	MKTAR("t.tar.gz file:a file:b file:c");
	ck_assert_int_eq(extract("t.tar.gz"), 0);
	reset();
	MKTAR("t.tar.gz file:a file:b file:c file:d");
	assert_refused("more than 3 members");
}
END_TEST

/* 200 MB of zeros in a 200 kB gzip stops at the size limit. */
START_TEST(test_size_limit)
{
	struct stat sb;

	lim.max_size = 1000000;
	MKTAR("t.tar.gz big:a=600000 big:b=600000");
	assert_refused("more than 1000000 bytes");
	reset();
	MKTAR("bomb.tar.gz big:zero=200000000");
	ck_assert_int_eq(stat("bomb.tar.gz", &sb), 0);
	ck_assert_int_lt(sb.st_size, 1000000);
	ck_assert_int_eq(extract("bomb.tar.gz"), 400);
	ck_assert_int_eq(access("dest/zero", F_OK), -1);
}
END_TEST

START_TEST(test_not_gzip)
{
	MKTAR("--compress none t.tar file:a");
	ck_assert_int_eq(extract("t.tar"), 400);
	ck_assert_str_eq(err, "not gzip-compressed");
	reset();
	lim.flags = AR_ANY_FILTER;
	ck_assert_int_eq(extract("t.tar"), 0);
	lim.flags = 0;
	reset();
	MKTAR("--compress bz2 t.tar.bz2 file:b");
	ck_assert_int_eq(extract("t.tar.bz2"), 400);
	ck_assert_int_eq(sh("head -c 5000 /dev/urandom > t.tar.gz"), 0);
	ck_assert_int_eq(extract("t.tar.gz"), 400);
	ck_assert_int_eq(sh(": > t.tar.gz"), 0);
	ck_assert_int_eq(extract("t.tar.gz"), 400);
	/* gzip, but not a tar */
	ck_assert_int_eq(sh("head -c 5000 /dev/urandom | gzip > t.tar.gz"), 0);
	ck_assert_int_eq(extract("t.tar.gz"), 400);
	assert_nothing_outside();
}
END_TEST

START_TEST(test_truncated)
{
	MKTAR("t.tar.gz big:a=300000 file:b");
	ck_assert_int_eq(sh("head -c 200 t.tar.gz > cut.tar.gz"), 0);
	ck_assert_int_eq(extract("cut.tar.gz"), 400);
	ck_assert_msg(strstr(err, "truncated") != NULL, "%s", err);
	ck_assert_int_eq(sh("s=$(stat -c %%s t.tar.gz); head -c $((s / 2)) t.tar.gz > cut.tar.gz"),
			 0);
	reset();
	ck_assert_int_eq(extract("cut.tar.gz"), 400);
}
END_TEST

START_TEST(test_openat)
{
	int root, fd;

	ck_assert_int_eq(sh("mkdir -p dest/a/b && ln -s ../../outside dest/a/l && "
			    "echo x > dest/a/b/f && ln -s f dest/a/b/g"),
			 0);
	ck_assert_int_ge(root = open(dest, O_RDONLY | O_DIRECTORY), 0);
	ck_assert_int_ge(fd = ar_openat(root, "a/b/f", O_RDONLY, 0), 0);
	close(fd);
	ck_assert_int_eq(ar_openat(root, "a/b/g", O_RDONLY, 0), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_int_eq(ar_openat(root, "a/l/new", O_WRONLY | O_CREAT, 0600), -1);
	ck_assert_int_eq(ar_openat(root, "a/l/x/new", O_WRONLY | O_CREAT, 0600), -1);
	ck_assert_int_eq(ar_openat(root, "a/b/f/x", O_RDONLY, 0), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_int_ge(fd = ar_openat(root, "n/e/w", O_WRONLY | O_CREAT | O_EXCL, 0600), 0);
	close(fd);
	ck_assert_int_eq(access("dest/n/e/w", F_OK), 0);
	close(root);
	assert_nothing_outside();
}
END_TEST

/* Extract, write every member back, and let GNU tar unpack the result the
 * way the modules client does. */
START_TEST(test_writer_roundtrip)
{
	struct ar_writer *w;
	int root;

	ck_assert_int_eq(sh("sh " TOP_SRCDIR "/t/fixtures/mkmodules.sh src 6.1.0-rt 4 && "
			    "ln src/lib/modules/6.1.0-rt/modules.dep src/lib/modules/6.1.0-rt/dep.hard && "
			    "touch -d '2024-01-02 03:04:05' src/lib/modules/6.1.0-rt && "
			    "tar -C src -czf t.tar.gz lib"),
			 0);
	ck_assert_int_eq(extract("t.tar.gz"), 0);
	ck_assert_int_ge(root = open(dest, O_RDONLY | O_DIRECTORY), 0);
	ck_assert_ptr_nonnull(w = ar_writer_open("out.tar.gz", 1, err, sizeof(err)));
	for (size_t i = 0; i < list.n; i++) {
		int fd = -1;

		if (list.v[i].type == AR_FILE)
			ck_assert_int_ge(fd = ar_openat(root, list.v[i].name, O_RDONLY, 0), 0);
		ck_assert_msg(ar_writer_add(w, &list.v[i], fd, NULL, 0, err, sizeof(err)) == 0, "%s",
			      err);
		if (fd >= 0)
			close(fd);
	}
	ck_assert_msg(ar_writer_close(w, err, sizeof(err)) == 0, "%s", err);
	close(root);
	ck_assert_int_eq(sh("tar -tzf out.tar.gz | grep -v '^\\./lib' ; test $? = 1"), 0);
	ck_assert_int_eq(sh("mkdir back && tar -C back -x --no-same-owner -f out.tar.gz ./lib/modules"),
			 0);
	ck_assert_int_eq(sh("diff -r --no-dereference src back"), 0);
	ck_assert_int_eq(sh("cd src && find lib/modules -printf '%%p %%y %%m %%T@ %%n %%l\\n' | sort > ../a && "
			    "cd ../back && find lib/modules -printf '%%p %%y %%m %%T@ %%n %%l\\n' | sort > ../b && "
			    "cd .. && diff a b"),
			 0);
	/* same member order as the input */
	ck_assert_int_eq(sh("tar -tzf t.tar.gz | sed 's|^|./|; s|/$||' > in.list && "
			    "tar -tzf out.tar.gz | sed 's|/$||' > out.list && diff in.list out.list"),
			 0);
}
END_TEST

/* Parallel compression: a series of gzip members that GNU tar, gzip and
 * the extractor read as one stream, with the same contents as one thread
 * makes. */
START_TEST(test_writer_threads)
{
	struct ar_writer *w1, *w4;
	int root;

	ck_assert_int_eq(sh("mkdir -p src/d && head -c 3500000 /dev/urandom > src/d/random && "
			    "seq 1 400000 > src/d/text && printf small > src/d/small && "
			    "tar -C src -czf t.tar.gz d"),
			 0);
	ck_assert_int_eq(extract("t.tar.gz"), 0);
	ck_assert_int_ge(root = open(dest, O_RDONLY | O_DIRECTORY), 0);
	ck_assert_ptr_nonnull(w1 = ar_writer_open_threads("one.tar.gz", 1, 1, err, sizeof(err)));
	ck_assert_ptr_nonnull(w4 = ar_writer_open_threads("four.tar.gz", 1, 4, err, sizeof(err)));
	for (size_t i = 0; i < list.n; i++) {
		int fd = -1;

		if (list.v[i].type == AR_FILE)
			ck_assert_int_ge(fd = ar_openat(root, list.v[i].name, O_RDONLY, 0), 0);
		ck_assert_int_eq(ar_writer_add(w1, &list.v[i], fd, "tail", 4, err, sizeof(err)), 0);
		ck_assert_int_eq(ar_writer_add(w4, &list.v[i], fd, "tail", 4, err, sizeof(err)), 0);
		if (fd >= 0)
			close(fd);
	}
	ck_assert_msg(ar_writer_close(w1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(ar_writer_close(w4, err, sizeof(err)) == 0, "%s", err);
	close(root);
	ck_assert_int_eq(sh("gzip -t four.tar.gz && gzip -dc one.tar.gz > one.tar && "
			    "gzip -dc four.tar.gz > four.tar && cmp one.tar four.tar && "
			    "[ $(gzip -dc four.tar.gz | wc -c) -gt 3500000 ]"),
			 0);
	ck_assert_int_eq(sh("mkdir back && tar -C back -x --no-same-owner -f four.tar.gz ./d && "
			    "[ \"$(tail -c 4 back/d/random)\" = tail ]"),
			 0);
	reset();
	ck_assert_int_eq(extract("four.tar.gz"), 0);
	ck_assert_uint_eq(entry("d/random")->size, 3500004);
	ck_assert_int_eq(sh("python3 -c \"import tarfile; t = tarfile.open('four.tar.gz'); "
			    "assert t.extractfile('./d/text').read()[-4:] == b'tail'\""),
			 0);
}
END_TEST

START_TEST(test_writer_tail)
{
	struct ar_writer *w;
	struct ar_entry e = {.name = "f.ko", .type = AR_FILE, .mode = 0640, .mtime = 1234567890};
	int fd;

	ck_assert_int_eq(sh("printf body > f"), 0);
	ck_assert_int_ge(fd = open("f", O_RDONLY), 0);
	ck_assert_ptr_nonnull(w = ar_writer_open("o.tar.gz", 0, err, sizeof(err)));
	ck_assert_int_eq(ar_writer_add(w, &e, fd, "+tail", 5, err, sizeof(err)), 0);
	ck_assert_int_eq(ar_writer_close(w, err, sizeof(err)), 0);
	close(fd);
	ck_assert_int_eq(sh("[ \"$(tar -xOzf o.tar.gz ./f.ko)\" = body+tail ]"), 0);
	ck_assert_int_eq(sh("tar -tvzf o.tar.gz | grep -q '^-rw-r----- .* 2009-02-1[34] .* \\./f\\.ko$'"),
			 0);
	/* the output file must not exist yet */
	ck_assert_ptr_null(ar_writer_open("o.tar.gz", 0, err, sizeof(err)));
}
END_TEST

static int
skip_b(const char *rel, const struct stat *st, void *arg)
{
	(void)st;
	(void)arg;
	if (strcmp(rel, "b") == 0)
		return 0;
	if (strcmp(rel, "c") == 0)
		return 2;
	return 1;
}

START_TEST(test_pack_tree)
{
	ck_assert_int_eq(sh("mkdir -p t/a t/b t/c && echo 1 > t/a/one && echo 2 > t/b/two && "
			    "echo 3 > t/c/three && ln -s a/one t/link && ln t/a/one t/z && "
			    "mkfifo t/fifo"),
			 0);
	ck_assert_int_eq(ar_pack_tree("t", "p.tar.gz", 0, skip_b, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(sh("tar -tzf p.tar.gz > got && "
			    "printf './a/\\n./a/one\\n./c/three\\n./link\\n./z\\n' > want && diff want got"),
			 0);
	ck_assert_int_eq(sh("tar -tvzf p.tar.gz ./z | grep -q '^h.*link to ./a/one'"), 0);
	ck_assert_int_eq(sh("mkdir back && tar -C back -xzf p.tar.gz && [ \"$(cat back/z)\" = 1 ] && "
			    "[ \"$(readlink back/link)\" = a/one ]"),
			 0);
	ck_assert_int_eq(ar_pack_tree("t", "p.tar.gz", 0, NULL, NULL, err, sizeof(err)), -1);
}
END_TEST

static Suite *
archive_suite(void)
{
	Suite *s = suite_create("archive");
	TCase *tc = tcase_create("extract");
	TCase *tw = tcase_create("write");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_normalize);
	tcase_add_test(tc, test_gnu_tar_tree);
	tcase_add_test(tc, test_implicit_parents);
	tcase_add_test(tc, test_long_names);
	tcase_add_test(tc, test_absolute);
	tcase_add_test(tc, test_dotdot);
	tcase_add_test(tc, test_symlink_absolute);
	tcase_add_test(tc, test_symlink_climbs);
	tcase_add_test(tc, test_symlink_chain);
	tcase_add_test(tc, test_symlink_inside);
	tcase_add_test(tc, test_symlink_long);
	tcase_add_test(tc, test_each);
	tcase_add_test(tc, test_write_through_symlink);
	tcase_add_test(tc, test_hardlink_outside);
	tcase_add_test(tc, test_hardlink_later);
	tcase_add_test(tc, test_hardlink_chain);
	tcase_add_test(tc, test_special_files);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_member_limit);
	tcase_add_test(tc, test_size_limit);
	tcase_add_test(tc, test_not_gzip);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_openat);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tw, setup, teardown);
	tcase_set_timeout(tw, 120);
	tcase_add_test(tw, test_writer_roundtrip);
	tcase_add_test(tw, test_writer_tail);
	tcase_add_test(tw, test_writer_threads);
	tcase_add_test(tw, test_pack_tree);
	suite_add_tcase(s, tw);
	return s;
}

CHECK_MAIN(.suite = archive_suite);
