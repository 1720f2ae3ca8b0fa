/* SPDX-License-Identifier: MIT */
/*
 * fuzz_archive.c: libFuzzer harness for safe extraction (lib/dss_archive.c).
 *
 * Each input is extracted into a fresh directory "dest" beside an empty
 * sentinel "outside" in a scratch directory of its own.  Inputs that start
 * like gzip go through the gzip-only path that clients meet; others are
 * read as any tar (so that the fuzzer can mutate tar headers directly).
 * The limits are those of a server, scaled down: members, size, ratio (past
 * a 1 MiB floor), CPU time, and an admit hook that refuses large ".ko"
 * files as the module signer does.
 * Beyond "no crash, no leak" it checks:
 *   - a refusal is 400, 500 or 507 with a reason;
 *   - nothing appears outside dest, in the scratch directory or the
 *     sentinel;
 *   - every member listed is a normalised name, is on disk with its type
 *     (reached without following links), and hard links name a file;
 *   - the writer's tarball of the tree (compressed by one thread or two)
 *     extracts again to the same list.
 */
/* fuzz-sources: lib/dss_archive.c lib/cpus.c lib/buf.c lib/util.c lib/log.c */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dss_archive.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char scratch[PATH_MAX];

static void
path(char *out, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", scratch, name);
}

/* Number of entries in directory name of the scratch directory. */
static int
count_entries(const char *name)
{
	char p[PATH_MAX];
	int n = 0;
	DIR *d;
	struct dirent *de;

	path(p, name);
	if ((d = opendir(p)) == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
check_tree(const struct ar_list *list, const char *dest)
{
	int root = open(dest, O_RDONLY | O_DIRECTORY);

	if (root < 0)
		abort();
	for (size_t i = 0; i < list->n; i++) {
		const struct ar_entry *e = &list->v[i];
		char norm[PATH_MAX];
		const char *why, *base;
		struct stat sb;
		int pfd;

		if (ar_normalize(e->name, norm, sizeof(norm), &why) < 0 || strcmp(norm, e->name) != 0)
			abort();
		if (strcmp(e->name, ".") == 0) {
			if (e->type != AR_DIR)
				abort();
			continue;
		}
		if ((pfd = ar_open_parent(root, e->name, 0, &base)) < 0)
			abort();
		if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			abort();
		close(pfd);
		switch (e->type) {
		case AR_DIR:
			if (!S_ISDIR(sb.st_mode))
				abort();
			break;
		case AR_SYMLINK:
			if (!S_ISLNK(sb.st_mode) || e->link == NULL || e->link[0] == '/')
				abort();
			break;
		case AR_FILE:
			if (!S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != e->size)
				abort();
			break;
		case AR_HARDLINK: {
			ssize_t t = ar_list_find(list, e->link);

			if (!S_ISREG(sb.st_mode) || t < 0 || list->v[t].type != AR_FILE)
				abort();
			break;
		}
		default:
			abort();
		}
	}
	close(root);
}

/* Write the tree back as a tarball, compressed by threads threads. */
static void
repack(const struct ar_list *list, const char *dest, const char *out, int threads)
{
	char err[512];
	struct ar_writer *w;
	int root = open(dest, O_RDONLY | O_DIRECTORY);

	unlink(out);
	if (root < 0 || (w = ar_writer_open_threads(out, 1, threads, err, sizeof(err))) == NULL)
		abort();
	for (size_t i = 0; i < list->n; i++) {
		int fd = -1;

		if (list->v[i].type == AR_FILE &&
		    (fd = ar_openat(root, list->v[i].name, O_RDONLY, 0)) < 0)
			abort();
		if (ar_writer_add(w, &list->v[i], fd, NULL, 0, err, sizeof(err)) < 0)
			abort();
		if (fd >= 0)
			close(fd);
	}
	if (ar_writer_close(w, err, sizeof(err)) < 0)
		abort();
	close(root);
}

/* Refuses a ".ko" file or link of more than 64 kB, as /sign/modules refuses
 * modules the kernel cannot load. */
static int
admit(const char *name, enum ar_type type, uint64_t size, void *arg, char *why, size_t whylen)
{
	size_t n = strlen(name);

	(void)type;
	(void)arg;
	if (n < 3 || strcmp(name + n - 3, ".ko") != 0 || size <= 65536)
		return 0;
	snprintf(why, whylen, "module too large");
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ar_limits lim = {.max_members = 2000,
				.max_size = 8 << 20,
				.max_ratio = 100,
				.ratio_floor = 1 << 20,
				.max_cpu_ms = 10000,
				.flags = AR_ANY_FILTER,
				.admit = admit};
	struct ar_list list = {0}, again = {0};
	char dest[PATH_MAX], dest2[PATH_MAX], out[PATH_MAX], outside[PATH_MAX], err[512];
	int fd, st;

	if (scratch[0] == '\0') {
		snprintf(scratch, sizeof(scratch), "%s/fuzz_archive.XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (mkdtemp(scratch) == NULL)
			abort();
	}
	path(dest, "dest");
	path(dest2, "dest2");
	path(out, "out.tar.gz");
	path(outside, "outside");
	util_rm_rf(dest);
	util_rm_rf(dest2);
	util_rm_rf(outside);
	unlink(out);
	if (mkdir(dest, 0700) < 0 || mkdir(outside, 0700) < 0)
		abort();
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
		lim.flags = 0;

	if ((fd = memfd_create("fuzz", 0)) < 0 || util_write_all(fd, data, size) < 0 ||
	    lseek(fd, 0, SEEK_SET) != 0)
		abort();
	err[0] = '\0';
	st = ar_extract_fd(fd, dest, &lim, &list, err, sizeof(err));
	close(fd);
	if (count_entries("outside") != 0 || count_entries(".") != 2)
		abort();
	if (st != 0) {
		if ((st != 400 && st != 500 && st != 507) || err[0] == '\0')
			abort();
		ar_list_free(&list);
		return 0;
	}
	check_tree(&list, dest);

	repack(&list, dest, out, 1 + (int)(size & 1));
	if (mkdir(dest2, 0700) < 0)
		abort();
	/* the writer's pax headers may expand the stream: no ratio here */
	lim.flags = 0;
	lim.max_ratio = 0;
	lim.max_cpu_ms = 0;
	if (ar_extract(out, dest2, &lim, &again, err, sizeof(err)) != 0 || again.n != list.n)
		abort();
	for (size_t i = 0; i < list.n; i++) {
		const struct ar_entry *a = &list.v[i], *b = &again.v[i];

		if (strcmp(a->name, b->name) != 0 || a->type != b->type || a->mode != b->mode ||
		    a->size != b->size || (a->link == NULL) != (b->link == NULL) ||
		    (a->link && strcmp(a->link, b->link) != 0))
			abort();
	}
	ar_list_free(&again);
	ar_list_free(&list);
	return 0;
}
