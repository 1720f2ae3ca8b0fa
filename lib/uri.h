/* SPDX-License-Identifier: MIT */
/*
 * uri.h: artifact URIs, read and replaced in place (the Mender signer's
 * artifact-uri field).
 *
 * Accepted: file:///absolute/path (and, as the original server did, a bare
 * absolute path), with no "." or ".." segments and no control characters,
 * and s3://bucket/key (lib/s3.h).  When DIGSIGSERVER_ARTIFACT_URI_PREFIXES
 * is set, a URI must lie under one of its comma-separated prefixes,
 * compared segment by segment ("file:///srv/a" allows file:///srv/a/x, not
 * file:///srv/ab); for file:// the real path (symbolic links resolved) of
 * the artifact's directory must lie under one too.
 *
 * An artifact is opened, read through a file descriptor, and replaced
 * atomically:
 *
 *	uri_open(cfg, uri, jobdir, &art, err, errlen)     current artifact
 *	read uri_fd(art) (or uri_path(art) for a tool)
 *	uri_begin_replace(art, &outfd, err, errlen)       a temporary file
 *	write outfd (or uri_temp_path(art) for a tool)
 *	uri_commit(art, err, errlen)                      replace the original
 *	uri_close(art)                                    (aborts if not committed)
 *
 * file://: the artifact is opened O_NOFOLLOW and must be a regular file.
 * The replacement is made in the artifact's own directory (so rename(2)
 * can replace it): an unnamed O_TMPFILE where the file system has them,
 * else ".<name>.dss-XXXXXX" created O_EXCL 0600.  Committing copies the
 * original's permission bits and group onto it, fsyncs it, checks that the
 * original was not replaced meanwhile (409), links the unnamed file as
 * ".<name>.dss-XXXXXX", renames that over the original and fsyncs the
 * directory.  A kill at any moment leaves the original or the signed
 * artifact, never a partial one; only a kill in the instant between the
 * link and the rename (or, without O_TMPFILE, any time before the rename)
 * leaves the temporary file behind (its name says what it is).  The
 * signed file is owned by the service user.
 * s3://: the artifact is downloaded to <jobdir>/artifact.in (at most
 * DIGSIGSERVER_ARCHIVE_MAX_SIZE bytes), the replacement is
 * <jobdir>/artifact.out, and committing uploads it (multipart past
 * DIGSIGSERVER_S3_PART_SIZE), so the object changes only when the whole
 * signed artifact has arrived.  If the object's ETag changed since the
 * download, committing fails with 409.
 *
 * Every call returns 0 or an HTTP status with a one-line reason in err:
 * 400 invalid URI, not a regular file, a symbolic link; 403 outside the
 * allowed prefixes, not readable or not replaceable by the service user,
 * S3 refusal; 404 no such artifact; 409 changed during signing; 413 larger
 * than the limit; 503 store unreachable; 500 anything else.
 */
#ifndef DSS_URI_H
#define DSS_URI_H

#include <stddef.h>

#include "scheme.h"

struct config;
struct uri_artifact;

/* Check a URI's form and the configured prefixes: 0, 400 or 403. */
int uri_check(const struct config *cfg, const char *uri, char *err, size_t errlen);
/* Open the artifact at uri (see above); *art is NULL unless 0 is returned. */
int uri_open(const struct config *cfg, const char *uri, const char *jobdir,
	     struct uri_artifact **art, char *err, size_t errlen);
/* A read-only descriptor of the current artifact (owned by art). */
int uri_fd(const struct uri_artifact *art);
/* Its size in bytes when opened. */
long long uri_size(const struct uri_artifact *art);
/* A local path holding the current artifact (the file, or the download). */
const char *uri_path(const struct uri_artifact *art);
/* Create the replacement; *outfd (owned by art) is open for writing. */
int uri_begin_replace(struct uri_artifact *art, int *outfd, char *err, size_t errlen);
/* The replacement's path, for a tool that writes by name (after begin);
 * NULL when it has no name (O_TMPFILE): then only outfd can write it. */
const char *uri_temp_path(const struct uri_artifact *art);
/* Replace the artifact by what was written to the replacement. */
int uri_commit(struct uri_artifact *art, char *err, size_t errlen);
/* Drop the replacement, if any. */
void uri_abort(struct uri_artifact *art);
/* Abort if not committed, close and free (NULL is fine). */
void uri_close(struct uri_artifact *art);

/* Copy the artifact at uri to dest_path (created O_EXCL, 0600). */
int uri_download(const struct config *cfg, const char *uri, const char *dest_path, char *err,
		 size_t errlen);
/* Store src_path at uri, atomically as above (a new file:// artifact is 0644). */
int uri_upload(const struct config *cfg, const char *src_path, const char *uri, char *err,
	       size_t errlen);

#endif
