/* SPDX-License-Identifier: MIT */
/*
 * fitcheck.c: see fitcheck.h.
 */
#include "fitcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdtedit.h"
#include "fit.h"

const char *
fitcheck_epoch(void)
{
	const char *epoch = getenv("SOURCE_DATE_EPOCH");

	return epoch && *epoch && strspn(epoch, "0123456789") == strlen(epoch) ? epoch : NULL;
}

int
fitcheck_load(const char *path, struct fe_blob *b, struct fe_arena *a, int *fd, char *why,
	      size_t whylen)
{
	struct stat st;

	if ((*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(*fd, &st) < 0) {
		snprintf(why, whylen, "cannot read it: %s", strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
	} else if (st.st_size == 0) {
		snprintf(why, whylen, "empty");
	} else if (fe_load(b, a, *fd, (size_t)st.st_size, why, whylen) == 0) {
		return 0;
	}
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	fe_free(b);
	fe_arena_free(a);
	return -1;
}

/* The dtb at path read as a device tree, as mkimage -K maps it: 0, or -1
 * with the reason. */
static int
dtb_check(const char *path, char *why, size_t whylen)
{
	struct fe_arena arena = {0};
	struct fe_blob b = {0};
	int fd;

	if (fitcheck_load(path, &b, &arena, &fd, why, whylen) < 0)
		return -1;
	close(fd);
	fe_free(&b);
	fe_arena_free(&arena);
	return 0;
}

int
fitcheck_scan_file(const char *path, struct fit_info *fi, char *why, size_t whylen)
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
		snprintf(why, whylen, "not a valid FIT image: empty");
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
	if (fitcheck_scan_file(fit, &fi, r, sizeof(r)) < 0) {
		snprintf(why, whylen, "Invalid artifact: %s%s", strstr(r, "FIT image") ? "" :
			 "not a valid FIT image: ", r);
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
