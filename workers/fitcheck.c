/* SPDX-License-Identifier: MIT */
/*
 * fitcheck.c: see fitcheck.h.
 */
#include "fitcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdtedit.h"
#include "fit.h"

/* The dtb at path read as a device tree, as mkimage -K maps it: 0, or -1
 * with the reason. */
static int
dtb_check(const char *path, char *why, size_t whylen)
{
	struct fe_arena arena = {0};
	struct fe_blob b = {0};
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc = -1;

	if (fd < 0 || fstat(fd, &st) < 0)
		snprintf(why, whylen, "cannot read it: %s", strerror(errno));
	else if (st.st_size == 0)
		snprintf(why, whylen, "empty");
	else
		rc = fe_load(&b, &arena, fd, (size_t)st.st_size, why, whylen);
	if (fd >= 0)
		close(fd);
	fe_free(&b);
	fe_arena_free(&arena);
	return rc;
}

/* The FIT at path scanned (fit.h); 0, or -1 with the reason. */
static int
fit_check(const char *path, struct fit_info *fi, char *why, size_t whylen)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, whylen, "cannot read it: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (st.st_size == 0) {
		close(fd);
		snprintf(why, whylen, "empty");
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(why, whylen, "cannot map it: %s", strerror(errno));
		return -1;
	}
	rc = fit_scan(p, (size_t)st.st_size, fi, why, whylen);
	munmap(p, (size_t)st.st_size);
	return rc;
}

int
fitcheck_refused(const char *fit, const char *dtb, char *why, size_t whylen)
{
	struct fit_info fi;
	char r[160];

	if (dtb != NULL && dtb_check(dtb, r, sizeof(r)) < 0) {
		snprintf(why, whylen, "Invalid dtb: %s", r);
		return 1;
	}
	if (fit_check(fit, &fi, r, sizeof(r)) < 0) {
		snprintf(why, whylen, "Invalid artifact: not a valid FIT image: %s", r);
		return 1;
	}
	if (!fi.has_description || !fi.has_timestamp) {
		snprintf(why, whylen, "Invalid artifact: mkimage refuses a FIT without a %s at its root",
			 !fi.has_description ? "description" : "timestamp");
		return 1;
	}
	for (size_t i = 0; i < fi.nsigs; i++)
		if (fi.sigs[i].hint[0] == '\0') {
			snprintf(why, whylen, "Invalid artifact: %s has no key-name-hint",
				 fi.sigs[i].node);
			return 1;
		}
	return 0;
}
