/* SPDX-License-Identifier: MIT */
/*
 * scheme.h: which kind of location a URI names (file://, a bare path,
 * s3://), told by its form alone.  A leaf: the key store, the S3 client
 * and the artifact URIs all ask it, and it asks nobody.
 */
#ifndef DSS_SCHEME_H
#define DSS_SCHEME_H

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
