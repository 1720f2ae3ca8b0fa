/* SPDX-License-Identifier: MIT */
/*
 * fitcheck.h: after mkimage -F failed, whether the upload made it fail
 * whatever the key: what mkimage checks besides the signing (fitimage.c,
 * rk.c).  mkimage -F maps the -K dtb as a device tree; once it has
 * signed it checks the FIT's root for a description and a timestamp
 * (and fails a FIT that lacks either, signed); it signs a node with the
 * key its key-name-hint names and fails a node without one.
 */
#ifndef DSS_FITCHECK_H
#define DSS_FITCHECK_H

#include <stddef.h>

struct fit_info;
struct fe_blob;

/* The server's SOURCE_DATE_EPOCH when it is a number (digits only), the
 * timestamp mkimage writes then; else NULL. */
const char *fitcheck_epoch(void);
struct fe_arena;

/* Map the file at path read-only and scan it as a FIT (fit.h); 0, or -1
 * with the reason ("cannot read it: ...", "not a valid FIT image:
 * empty", or fit_scan's). */
int fitcheck_scan_file(const char *path, struct fit_info *fi, char *why, size_t whylen);
/* The regular, non-empty file at path (not followed if a link) as a
 * device tree blob (fdtedit.h) in b with a; *fd stays open for the
 * blob's file ranges (the caller closes it, then fe_free).  0, or -1 with
 * the reason and nothing held. */
int fitcheck_load(const char *path, struct fe_blob *b, struct fe_arena *a, int *fd, char *why,
		  size_t whylen);
/*
 * The FIT at fit and the dtb at dtb (NULL: none) as mkimage -F had them:
 * 1 with the client's reason in why ("Invalid dtb: empty", "Invalid
 * artifact: ..."), or 0 when nothing here explains the failure.
 */
int fitcheck_refused(const char *fit, const char *dtb, char *why, size_t whylen);

#endif
