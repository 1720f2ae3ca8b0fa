/* SPDX-License-Identifier: MIT */
/*
 * keygrant.c: the grant checks of the key process (keygrant.h).
 */
#include "keygrant.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "keystore.h"

/* The key tags each endpoint's signer uses (workers/<signer>.c). */
static const struct {
	const char *endpoint, *tag;
} endpoint_tags[] = {
    {"modules", "kmodsign"},
    {"swupdate", "swupdate"},
    {"mender", "mender"},
    {"tegra", "tegrasign"},
    {"fitimage", "fitimagesign"},
    {"optee", "opteesign"},
    {"tegra/ueficapsule", "ueficapsulesign"},
    {"tegra/ekb", "ekbsign"},
    {"tegra/uefi", "uefisign"},
    {"rk", "rksign"},
    {"rkoptee-tee", "rkopteesign"},
    {"rkoptee-ta", "rkopteesign"},
    {"imx", "imxsign"},
};

/* The only keys whose bytes may leave the key process: those an external
 * tool reads from files (tegraflash/tegrasign, mkimage, the BSP's
 * GenerateCapsule.py and gen_ekb.py, Rockchip's mkimage, rk_sign_tool,
 * change_puk and resign_ta.py; NXP's cst).  file NULL: any file of the
 * tag.  A route /sign/a/b is endpoint "a/b". */
static const struct {
	const char *endpoint, *tag, *file;
} materialize_pairs[] = {
    {"tegra", "tegrasign", NULL},
    {"fitimage", "fitimagesign", NULL},
    {"tegra/ueficapsule", "ueficapsulesign", NULL},
    {"tegra/ekb", "ekbsign", NULL},
    {"rk", "rksign", NULL},
    {"rkoptee-tee", "rkopteesign", NULL},
    {"rkoptee-ta", "rkopteesign", NULL},
    /* cst reads the keys and certificates the CSF names from this
     * tarball; with backend=pkcs11 its engine logs in with the PIN the
     * CSF carries, which only the key process holds */
    {"imx", "imxsign", "imx-cst-keys.tar.gz"},
    {"imx", "imxsign", KEYPROTO_PIN_FILE},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int
endpoint_has_tag(const char *endpoint, const char *tag)
{
	for (size_t i = 0; i < NELEM(endpoint_tags); i++)
		if (strcmp(endpoint_tags[i].endpoint, endpoint) == 0 &&
		    strcmp(endpoint_tags[i].tag, tag) == 0)
			return 1;
	return 0;
}

static int
may_materialize(const char *endpoint, const struct keyproto_keyref *key)
{
	for (size_t i = 0; i < NELEM(materialize_pairs); i++)
		if (strcmp(materialize_pairs[i].endpoint, endpoint) == 0 &&
		    strcmp(materialize_pairs[i].tag, key->tag) == 0 &&
		    (materialize_pairs[i].file == NULL ||
		     strcmp(materialize_pairs[i].file, key->file) == 0))
			return 1;
	return 0;
}

int
kgrant_is_pin(const struct keyproto_keyref *key)
{
	return strcmp(key->tag, KEYPROTO_PIN_TAG) == 0 && strcmp(key->file, KEYPROTO_PIN_FILE) == 0;
}

int
kgrant_materializable_tag(const char *tag)
{
	for (size_t i = 0; i < NELEM(materialize_pairs); i++)
		if (strcmp(materialize_pairs[i].tag, tag) == 0)
			return 1;
	return 0;
}

/* 1 when selector matches one of the grant's comma-separated globs, as
 * tokens.c matches a client's line. */
static int
selector_granted(const struct keyproto_grant *g, const char *selector)
{
	char list[sizeof(g->selectors)], *tok, *save = NULL;

	if (g->any_selector)
		return 1;
	snprintf(list, sizeof(list), "%s", g->selectors);
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
		if (fnmatch(tok, selector, 0) == 0)
			return 1;
	return 0;
}

int
kgrant_check(const struct keyproto_grant *g, uint32_t op, const struct keyproto_keyref *key,
	     char *why, size_t whylen)
{
	if (!ks_selector_valid(key->selector) || !ks_selector_valid(key->tag) ||
	    !ks_selector_valid(key->file)) {
		snprintf(why, whylen, "key names must be one path segment each");
		return 400;
	}
	if (!endpoint_has_tag(g->endpoint, key->tag)) {
		snprintf(why, whylen, "endpoint %s has no keys of tag %s", g->endpoint, key->tag);
		return 403;
	}
	if (!selector_granted(g, key->selector)) {
		snprintf(why, whylen, "the client may not use the keys of %s", key->selector);
		return 403;
	}
	if (op == KEYPROTO_MATERIALIZE && !may_materialize(g->endpoint, key)) {
		snprintf(why, whylen, "key %s/%s is never handed out to %s", key->tag, key->file,
			 g->endpoint);
		return 403;
	}
	if (op != KEYPROTO_MATERIALIZE && kgrant_is_pin(key)) {
		snprintf(why, whylen, "%s is not a key", key->file);
		return 403;
	}
	if (op != KEYPROTO_SIGN && op != KEYPROTO_PUBLIC && op != KEYPROTO_MATERIALIZE) {
		snprintf(why, whylen, "not a key request");
		return 400;
	}
	return 0;
}
