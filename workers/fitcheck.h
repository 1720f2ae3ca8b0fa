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

/*
 * The FIT at fit and the dtb at dtb (NULL: none) as mkimage -F had them:
 * 1 with the client's reason in why ("Invalid dtb: empty", "Invalid
 * artifact: ..."), or 0 when nothing here explains the failure.
 */
int fitcheck_refused(const char *fit, const char *dtb, char *why, size_t whylen);

#endif
