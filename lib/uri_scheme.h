/* SPDX-License-Identifier: MIT */
/*
 * uri_scheme.h: what kind of place a URI names, by its scheme alone.
 *
 * A leaf beside uri.h so that lib/s3.c (which lib/uri.c uses) can tell an
 * s3:// URI without depending on lib/uri.c.
 */
#ifndef DSS_URI_SCHEME_H
#define DSS_URI_SCHEME_H

/* What a URI (an artifact's, a prefix, the key store's) names, by its form. */
enum uri_kind {
	URI_OTHER,	/* none of these: a relative path, http://, "" */
	URI_FILE,	/* file://... */
	URI_PATH,	/* a bare absolute path, taken as file:// */
	URI_S3,		/* s3://... */
};

/*
 * The one place a URI's scheme is told: its kind, with *rest (when rest
 * is not NULL) pointing past "file://" or "s3://", else at uri itself.
 * Only the form is looked at: uri_check says whether the rest is valid.
 * NULL is URI_OTHER.
 */
enum uri_kind uri_scheme(const char *uri, const char **rest);

#endif
