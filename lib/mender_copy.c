/* SPDX-License-Identifier: MIT */
/*
 * mender_copy.c: see mender_copy.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* copy_file_range, sync_file_range */
#endif
#include "mender_copy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "cpus.h"
#include "fsutil.h"

#define COPY_CHUNK (8 * 1024 * 1024) /* bytes per copy_file_range */
#define BUF_CHUNK (256 * 1024)       /* bytes per read where it cannot be used */

/* Write errors surface at the final fsync, so a failed hint is ignored on purpose. */
void
mender_writeback_hint(int fd, uint64_t off, uint64_t len)
{
	if (sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE) < 0)
		return;
}

/* Copy up to want bytes through *buf (allocated on first use); bytes or -1. */
static ssize_t
copy_by_hand(struct mender_copy *c, unsigned char **buf, size_t want)
{
	ssize_t n;

	if (*buf == NULL && (*buf = malloc(BUF_CHUNK)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (want > BUF_CHUNK)
		want = BUF_CHUNK;
	n = fs_pread_full(c->in, *buf, want, c->in_off);
	if (n > 0 && fs_pwrite_full(c->out, *buf, (size_t)n, c->out_off) < 0)
		return -1;
	return n;
}

/* Copy up to want bytes with copy_file_range: bytes, -1, or -2 when it
 * cannot copy between these files (then copy by hand). */
static ssize_t
copy_in_kernel(struct mender_copy *c, size_t want)
{
	for (;;) {
		loff_t io = (loff_t)c->in_off, oo = (loff_t)c->out_off;
		ssize_t n = copy_file_range(c->in, &io, c->out, &oo, want, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 &&
		    (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS))
			return -2;
		return n;
	}
}

static void *
copy_main(void *arg)
{
	struct mender_copy *c = arg;
	unsigned char *buf = NULL;
	int use_cfr = 1;

	while (c->len > 0 && !atomic_load(&c->stop)) {
		size_t want = c->len < COPY_CHUNK ? (size_t)c->len : COPY_CHUNK;
		ssize_t n = use_cfr ? copy_in_kernel(c, want) : copy_by_hand(c, &buf, want);

		if (n == -2) {
			use_cfr = 0;
			continue;
		}
		if (n < 0) {
			c->error = errno;
			break;
		}
		if (n == 0) {
			c->shrunk = 1;
			break;
		}
		if (c->writeback)
			mender_writeback_hint(c->out, c->out_off, (uint64_t)n);
		c->in_off += (uint64_t)n;
		c->out_off += (uint64_t)n;
		c->len -= (uint64_t)n;
	}
	free(buf);
	return NULL;
}

int
mender_copy_start(struct mender_copy *c, int in, int out, uint64_t in_off, uint64_t out_off,
		  uint64_t len, int writeback)
{
	int e;

	c->in = in;
	c->out = out;
	c->writeback = writeback;
	c->in_off = in_off;
	c->out_off = out_off;
	c->len = len;
	c->error = 0;
	c->shrunk = 0;
	atomic_store(&c->stop, 0);
	(void)cpus_unpin(); /* on failure it shares the worker's CPU */
	if ((e = pthread_create(&c->thread, NULL, copy_main, c)) != 0)
		return e;
	c->running = 1;
	return 0;
}

int
mender_copy_join(struct mender_copy *c, int abort)
{
	if (!c->running)
		return 0;
	if (abort)
		atomic_store(&c->stop, 1);
	pthread_join(c->thread, NULL);
	c->running = 0;
	if (abort)
		return 0;
	return c->error || c->shrunk ? -1 : 0;
}
