/* SPDX-License-Identifier: MIT */
/*
 * fit.h: what /sign/fitimage needs to know of a U-Boot FIT image (a
 * flattened device tree, devicetree.org's "DTB format"): its timestamp,
 * and each signature node with its key-name-hint and whether it holds a
 * signature value.  The reader checks every offset and length against the
 * blob and follows the structure block token by token; it never reads an
 * image's data (a property value is skipped by its length), so a FIT of
 * any size costs the pages of its structure only.
 *
 * Also upstream's fallback for the key name: the first "key-<name>" in
 * the bytes of a U-Boot control DTB.
 */
#ifndef DSS_FIT_H
#define DSS_FIT_H

#include <stddef.h>
#include <stdint.h>

/* Signature nodes kept; a FIT with more is refused. */
#define FIT_SIGS_MAX 64
/* Deepest node nesting followed. */
#define FIT_DEPTH_MAX 32
/* The largest external_data_offset (mkimage -p) a signer passes on: the
 * FIT is padded up to it, so a few bytes of request would otherwise make
 * an answer of gigabytes (0xffffffff: 4 GB). */
#define FIT_EXTERNAL_OFFSET_MAX 0x1000000ULL

struct fit_sig {
	char node[160];	 /* "/configurations/conf-1/signature-1" */
	char hint[64];	 /* its key-name-hint, or "" */
	int has_value;	 /* a non-empty "value" property: signed */
};

struct fit_info {
	int has_timestamp;
	uint32_t timestamp; /* the root's "timestamp" */
	int has_description; /* the root has a "description" (mkimage -F wants both) */
	int has_images;	    /* a node /images */
	size_t nsigs;
	struct fit_sig sigs[FIT_SIGS_MAX];
};

/*
 * Read the FIT in blob (len bytes).  0, or -1 with a one-line reason in
 * err (not a device tree, a truncated or malformed one, too many
 * signature nodes, too deep).
 */
int fit_scan(const unsigned char *blob, size_t len, struct fit_info *fi, char *err,
	     size_t errlen);

/*
 * A streaming search for upstream's key-name fallback, the first match of
 * "key-([A-Za-z0-9_.-]+)" in a DTB's bytes: feed it chunk after chunk;
 * fit_keyname_done() says whether name holds a match.
 */
struct fit_keyname {
	int state;	/* how much of "key-" has matched, 4: in the name */
	size_t n;	/* bytes of name */
	int done;
	char name[64];
};

void fit_keyname_init(struct fit_keyname *k);
void fit_keyname_feed(struct fit_keyname *k, const unsigned char *p, size_t len);
/* 1 and name set when a match ended (or the data ended in one), else 0. */
int fit_keyname_done(struct fit_keyname *k);

#endif
