/* SPDX-License-Identifier: MIT */
/*
 * keygrant.h: what a job's key channel may ask for (keys/keyd.c).
 *
 * A channel is bound to one job's grant (keyproto.h GRANT): the endpoint
 * the supervisor routed the job to and, with access control on, the
 * client's selector globs.  A request names a key by selector, tag and
 * file; it is allowed only when the tag is one of the endpoint's (the
 * table in keygrant.c), the selector matches the grant, and every name is
 * one path segment.  MATERIALIZE, which hands key bytes out of the key
 * process, is allowed only for the (endpoint, tag) pairs of a second,
 * fixed table: the files an external tool reads from disk (Tegra's
 * "tegrasign" files, i.MX's imx-cst-keys.tar.gz, ...).  Pure functions: t/check_keyproc.c.
 */
#ifndef DSS_KEYGRANT_H
#define DSS_KEYGRANT_H

#include <stddef.h>
#include <stdint.h>

#include "keyproto.h"

/*
 * May a channel holding grant ask op (KEYPROTO_SIGN, _PUBLIC or
 * _MATERIALIZE) for key?  0 when it may; else 403 (outside the grant) or
 * 400 (a name that is not one path segment) with the one-line reason in
 * why, which names the refused selector, tag or file.
 */
int kgrant_check(const struct keyproto_grant *grant, uint32_t op, const struct keyproto_keyref *key,
		 char *why, size_t whylen);
/* 1 when key names the token's PIN (keyproto.h KEYPROTO_PIN_FILE). */
int kgrant_is_pin(const struct keyproto_keyref *key);
/* 1 when some endpoint may materialize the files of tag (the cache
 * keeps their bytes only then). */
int kgrant_materializable_tag(const char *tag);

#endif
