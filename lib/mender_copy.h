/* SPDX-License-Identifier: MIT */
/*
 * mender_copy.h: a helper thread that copies one range of the input
 * artifact to the output while the calling thread reads and hashes it.
 *
 * On Linux both threads then share the page cache: copy_file_range copies
 * without a trip through user space and write-back starts while hashing
 * goes on (measured on ext4: as fast as cp + sync, where reading, hashing
 * and writing through one buffer took twice as long).  Where the two files
 * cannot be copied between (another file system, no support), the thread
 * copies through a buffer instead.
 */
#ifndef DSS_MENDER_COPY_H
#define DSS_MENDER_COPY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct mender_copy {
	pthread_t thread;
	int running;
	int in, out, writeback;
	uint64_t in_off, out_off, len;
	atomic_int stop;
	int error;  /* errno of a failure */
	int shrunk; /* the input ended early */
};

/*
 * Start copying len bytes of in at in_off to out at out_off, hinting the
 * kernel to write the output out as it goes when writeback is set.  0, or
 * the error number when the thread cannot start.
 */
int mender_copy_start(struct mender_copy *c, int in, int out, uint64_t in_off, uint64_t out_off,
		      uint64_t len, int writeback);
/*
 * Wait for the copy to end (stopping it first when abort is set; nothing
 * when none runs).  0, or -1 when it failed: c->error holds the errno, or
 * c->shrunk says the input ended early.  Never -1 with abort.
 */
int mender_copy_join(struct mender_copy *c, int abort);
/* Ask the kernel to start writing [off, off+len) of fd out now, so that
 * the final fsync finds little left.  Only a hint. */
void mender_writeback_hint(int fd, uint64_t off, uint64_t len);

#endif
