/* SPDX-License-Identifier: MIT */
/*
 * mender_manifest.h: the table of checksums a Mender artifact's manifest
 * (and manifest-augment) lists, and the check of each member against it.
 *
 * A manifest is lines of "<sha256 hex>  <name>\n" (two spaces; blank
 * lines and surrounding white space allowed).  Every name may be listed
 * once, in the manifest and the augment together.  While the artifact is
 * read, each member's (or payload file's) digest is checked against its
 * line and the line marked seen; at the end, a line not seen names a file
 * the artifact lacks.  Not to be confused with lib/manifest.c, the
 * KEY=VALUE MANIFEST of a Tegra upload.
 */
#ifndef DSS_MENDER_MANIFEST_H
#define DSS_MENDER_MANIFEST_H

#include <stddef.h>

#include "buf.h"

struct mender_manifest {
	struct buf entries; /* struct mender_manifest_entry, sorted by name */
};

/* An empty table. */
void mender_manifest_init(struct mender_manifest *mf);
/*
 * Add the lines of text (len bytes, named what in reasons: "manifest",
 * "manifest-augment"); 0, or -1 with a one-line reason in err (a line
 * without newline, a malformed line, a name listed twice).
 */
int mender_manifest_add(struct mender_manifest *mf, const char *what, const char *text, size_t len,
			char *err, size_t errlen);
/*
 * Check the SHA-256 md of the file called name against its line and mark
 * it seen; 0, or -1 with a reason (not listed, different checksum).
 */
int mender_manifest_check(struct mender_manifest *mf, const char *name, const unsigned char md[32],
			  char *err, size_t errlen);
/* The first listed name not seen yet, or NULL. */
const char *mender_manifest_unseen(const struct mender_manifest *mf);
void mender_manifest_free(struct mender_manifest *mf);

#endif
