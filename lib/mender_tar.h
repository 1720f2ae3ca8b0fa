/* SPDX-License-Identifier: MIT */
/*
 * mender_tar.h: the outer tar of a Mender artifact, read header by header.
 *
 * A Mender artifact is a plain (uncompressed) tar.  Its members are not
 * extracted but copied, so this reader keeps each member's header blocks
 * (extended headers included) exactly as read, for the copy to reproduce
 * them byte for byte, and says where the member's data and padding lie.
 * It understands USTAR, star and GNU names, pax path and size records and
 * GNU long names; pax global headers and anything but regular files are
 * refused.  The data members inside (tar again, maybe compressed) are read
 * with libarchive by lib/mender_artifact.c.
 */
#ifndef DSS_MENDER_TAR_H
#define DSS_MENDER_TAR_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MENDER_TAR_BLOCK 512
#define MENDER_TAR_ROUND(n) (((n) + (MENDER_TAR_BLOCK - 1)) & ~(uint64_t)(MENDER_TAR_BLOCK - 1))
#define MENDER_TAR_NAME_MAX 1024

/* One member: its header blocks as read and where its parts are. */
struct mender_tar_member {
	char name[MENDER_TAR_NAME_MAX];
	uint64_t start;  /* input offset of its first header block */
	uint64_t data;   /* of its data */
	uint64_t size;   /* data bytes */
	uint64_t end;    /* past its padding */
	struct buf hdrs; /* header blocks and extended headers, raw */
};

/* Ready m for mender_tar_next; mender_tar_member_free releases it. */
void mender_tar_member_init(struct mender_tar_member *m);
/*
 * Read the headers of the member starting at pos in fd, a file of
 * in_size bytes, into m (which may hold the previous member).  1 with m
 * filled in, 0 at the end of the archive (end of file or two zero blocks
 * at a member boundary), or a status with a one-line reason in err: 400
 * for an archive that is damaged, truncated or holds what an artifact may
 * not, 500 when reading fails.  The reason may quote a member name as it
 * is in the archive.
 */
int mender_tar_next(int fd, uint64_t pos, uint64_t in_size, struct mender_tar_member *m, char *err,
		    size_t errlen);
void mender_tar_member_free(struct mender_tar_member *m);

#endif
