/* SPDX-License-Identifier: MIT */
/*
 * keystore.h: signing keys from DIGSIGSERVER_KEYFILE_URI.
 *
 * Keys live at <uri>/<selector>/<tag>/<file>, where the selector is a
 * machine or distro name and the tag names the signer ("kmodsign",
 * "swupdate", "mender", "tegrasign" ...).  The uri is file://, a bare
 * absolute path, or s3://bucket/prefix.  Keys are read into memory; they
 * are written to disk only for an external tool (ks_write_temp), as a 0600
 * file in the job directory.
 *
 * Symbolic links inside a file:// store are followed: admins use them to
 * share one key between machines, and only the admin can write the store.
 * What keeps a client out of the rest of the file system is the selector
 * check (one segment, no ".."); the file must still be a regular file of at
 * most KS_MAX_SIZE bytes.  O_NOFOLLOW guards the job directory (ks_write_temp).
 *
 * Statuses of ks_load: 404 "Key file missing: <selector>/<tag>/<file>";
 * 503 when the store cannot be reached (file:// root missing or an I/O
 * error such as a stale NFS mount; S3 connection failures, timeouts and
 * 5xx past the retries), for which the caller adds Retry-After; 500 for a
 * server-side problem: unreadable or oversized key file, S3 refusing the
 * request (403: bad credentials, or no permission: note that S3 answers 403
 * rather than 404 for a missing key unless s3:ListBucket is granted), a
 * missing bucket, missing credentials.  Reasons name the key by
 * selector/tag/file, never by server path or bucket; details go to the log.
 */
#ifndef DSS_KEYSTORE_H
#define DSS_KEYSTORE_H

#include <stddef.h>
#include <stdio.h>

struct config;

/* Largest key file ks_load reads. */
#define KS_MAX_SIZE (1024 * 1024)

struct ks_blob {
	unsigned char *data; /* NUL-terminated for convenience */
	size_t len;
};

/* 1 if sel is one path segment of [A-Za-z0-9._+-], not "." or ".."; else 0. */
int ks_selector_valid(const char *sel);
/*
 * Load one key file into memory.  Returns 0, or an HTTP status with a
 * one-line reason: 404 naming the missing file ("<selector>/<tag>/<file>"),
 * 503 when the store cannot be reached, 500 otherwise.
 */
int ks_load(const struct config *cfg, const char *selector, const char *tag, const char *file,
	    struct ks_blob *out, char *err, size_t errlen);
/* Like ks_load for an optional file: 0 loaded, 1 absent (out empty), or a status. */
int ks_load_optional(const struct config *cfg, const char *selector, const char *tag,
		     const char *file, struct ks_blob *out, char *err, size_t errlen);
/* Write a blob to dir/name, 0600, for an external tool; 0 or -1 (errno). */
int ks_write_temp(const struct ks_blob *b, const char *dir, const char *name);
/* Cleanse and free. */
void ks_blob_free(struct ks_blob *b);
/*
 * Where a key lives: a file system path for a file:// (or bare path) store,
 * "s3://bucket/prefix/<selector>/<tag>/<file>" for an S3 one; newly
 * allocated into *out.  0, or -1 with err (bad store URI or name).
 */
int ks_key_location(const char *store_uri, const char *selector, const char *tag,
		    const char *file, char **out, char *err, size_t errlen);
/* 0 if uri is a usable store URI (file:///abs, /abs, s3://bucket[/prefix]). */
int ks_store_uri_valid(const char *uri, char *err, size_t errlen);
/*
 * For --check-config: check that the key process's user (cfg->key_user
 * when running as root, else this process) can reach and read the store, report one line
 * per finding to report (warning: key files readable by group or others),
 * and for s3:// that listing the prefix answers.  0 when usable, else -1.
 */
int ks_check_access(const struct config *cfg, FILE *report);
/* A cheap probe of the key store by the process that reads it: a file://
 * root opened, an s3:// prefix listed (a refused listing without bad
 * credentials counts as an answer).  0, or -1 with a one-line reason. */
int ks_probe_store(const struct config *cfg, char *why, size_t whylen);
/*
 * DIGSIGSERVER_KEYFILE_CREDENTIALS, when set: well formed and, when
 * running as root, readable by the key user and not by the workers' user.
 * 0, or -1 and err naming the setting and what is wrong.
 */
int ks_credentials_check(const struct config *cfg, char *err, size_t errlen);
/* A one-line warning when an s3:// key store is read with the AWS_*
 * credentials the workers hold too; or NULL. */
const char *ks_credentials_warning(const struct config *cfg);
/*
 * For --check-config when running as root: check that the workers' user
 * (cfg->user) can read no key file of a file:// store, one error line
 * per file it can read.  Not as root: a
 * note that keys are not separated.  0 when separated, else -1.
 */
int ks_check_separation(const struct config *cfg, FILE *report);
/* The same, passing over the files public(path) says hold only public
 * material (a certificate, a public key): what start-up refuses. */
int ks_check_secrets_hidden(const struct config *cfg, FILE *report, int (*public)(const char *));

#endif
