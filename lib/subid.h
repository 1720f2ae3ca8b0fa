/* SPDX-License-Identifier: MIT */
/*
 * subid.h: the subordinate id file (/etc/subuid, subuid(5)): lines
 * "owner:first:count", the owner a user name or id, each a range of ids
 * that newuidmap(1) lets that owner map into a user namespace of its own.
 * The daemon reads it to refuse DIGSIGSERVER_WORKER_UIDS ids someone may
 * map: as root of such a namespace that user could read the workers'
 * files and signal their processes.
 */
#ifndef DSS_SUBID_H
#define DSS_SUBID_H

#include <stddef.h>

struct subid_range {
	char owner[64]; /* as written (cut to fit) */
	unsigned long first, count;
};

/*
 * The first range of the text buf (len bytes, the file's contents) that
 * holds any of the ids lo..hi: 1 with it in *r; 0 when none does.  The
 * numbers are read as newuidmap reads them (strtoul, base 0: white space
 * before, hexadecimal or octal; fields after the third ignored); a line
 * that is not "owner:first:count" with count above 0 is skipped, as
 * newuidmap skips it.
 */
int subid_overlap(const char *buf, size_t len, unsigned long lo, unsigned long hi,
		  struct subid_range *r);
/* The same for the file at path: 1 or 0 (0 when there is no such file:
 * nobody has subordinate ids), or -1 with err when it cannot be read. */
int subid_file_overlap(const char *path, unsigned long lo, unsigned long hi, struct subid_range *r,
		       char *err, size_t errlen);

#endif
