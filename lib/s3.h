/* SPDX-License-Identifier: MIT */
/*
 * s3.h: a small S3 client on libcurl, for the key store and for artifact
 * URIs: GET (into memory or a file), HEAD, PUT (single or multipart) and a
 * bucket probe.
 *
 * Requests are signed with AWS Signature V4 by libcurl (CURLOPT_AWS_SIGV4,
 * "aws:amz:<region>:s3").  Credentials come from AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (sent as x-amz-security-token);
 * the region from AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1.  The
 * endpoint is DIGSIGSERVER_S3_ENDPOINT with path-style addressing
 * (<endpoint>/<bucket>/<key>); without it, AWS's regional endpoint with
 * virtual-host addressing (path-style for bucket names holding dots).
 * Every request carries x-amz-content-sha256: the payload's SHA-256 for
 * uploads (so S3 rejects a body damaged in transit), the empty hash else.
 *
 * Transient failures (connect errors, timeouts, HTTP 5xx and 429) are
 * retried with exponential backoff up to cfg->s3_retries times; the connect
 * and transfer timeouts are cfg->net_connect_timeout and
 * cfg->net_transfer_timeout.  Credentials are never logged.
 */
#ifndef DSS_S3_H
#define DSS_S3_H

#include <stddef.h>

struct config;

/*
 * What went wrong.  Every s3_ call returns 0, or one of these statuses
 * (also stored in status):
 *   404  the object or bucket does not exist (code tells which)
 *   403  S3 refused the request (bad credentials, signature, permission)
 *   503  S3 could not be reached, or kept failing (5xx, 429) past the retries
 *   507  writing what was fetched found the file system full (ENOSPC,
 *        EDQUOT, EFBIG)
 *   500  anything else (other 4xx, protocol, local I/O, too large)
 */
struct s3_error {
	int status;
	long http;	 /* S3's HTTP status; 0 when no answer came */
	char code[64];	 /* S3's error code ("NoSuchKey"), one of S3_CODE_*, or "" */
	char msg[256];	 /* one line for logs (never holds credentials) */
};

/* Codes of failures found on this side (S3's own codes never start with "dss:"). */
#define S3_CODE_NO_CREDENTIALS "dss:NoCredentials"
#define S3_CODE_TOO_LARGE "dss:TooLarge"
#define S3_CODE_LOCAL_IO "dss:LocalIO"
#define S3_CODE_NETWORK "dss:Network"

/* Call once before any thread starts (optional: s3_ calls do it lazily). */
void s3_global_init(void);

/*
 * Split "s3://bucket/key" into newly allocated bucket and key ("" when the
 * URI names the bucket, with or without a trailing slash).  The bucket is
 * 1-255 characters of [A-Za-z0-9._-]; the key may not hold control
 * characters, empty segments or "." / ".." segments.  0, or -1 with err.
 */
int s3_parse_uri(const char *uri, char **bucket, char **key, char *err, size_t errlen);
/* The region requests are signed for (AWS_REGION, AWS_DEFAULT_REGION,
 * us-east-1), copied into buf. */
void s3_region(char *buf, size_t len);
/*
 * Read an EnvironmentFile-format credentials file (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN and AWS_REGION); with
 * keep, this process's S3 requests use it instead of the AWS_*
 * environment from now on (the key process, DIGSIGSERVER_KEYFILE_CREDENTIALS);
 * without, the file is only checked.  0, or -1 and err.
 */
int s3_credentials_load(const char *path, int keep, char *err, size_t errlen);
/* 1 when an S3 error code says the credentials or the signature made with
 * them were refused (an expired session token, a wrong region, a clock
 * off): the server's to mend, whatever the request named. */
int s3_bad_credentials(const char *code);
/*
 * The URL of an object (or of the bucket when key is ""), with an already
 * canonical query string (or NULL), newly allocated.  The key is encoded
 * the way SigV4 canonicalizes it (every byte but [A-Za-z0-9-._~/]).
 */
char *s3_object_url(const struct config *cfg, const char *bucket, const char *key,
		    const char *query);

/* GET an object of at most max bytes into a NUL-terminated buffer that is
 * cleansed on every reallocation (for key material). */
int s3_get_mem(const struct config *cfg, const char *bucket, const char *key, size_t max,
	       unsigned char **out, size_t *len, struct s3_error *e);
/* GET an object into fd (from its current start; truncated and rewritten on a
 * retry), at most max bytes; its ETag into etag when not NULL. */
int s3_get_fd(const struct config *cfg, const char *bucket, const char *key, int fd,
	      long long max, char *etag, size_t etaglen, struct s3_error *e);
/* HEAD an object: its size and ETag (either may be NULL). */
int s3_head(const struct config *cfg, const char *bucket, const char *key, long long *size,
	    char *etag, size_t etaglen, struct s3_error *e);
/*
 * Upload all of fd (size from fstat, read with pread) to bucket/key: one
 * PUT when it is at most cfg->s3_part_size bytes, else a multipart upload
 * in parts of that size (more when 10,000 parts would not do), aborted on
 * any failure, so the object changes only when the whole upload succeeded.
 */
int s3_put_fd(const struct config *cfg, const char *bucket, const char *key, int fd,
	      struct s3_error *e);
/* List at most one key under prefix: 0 with *found 0/1, or a status. */
int s3_probe(const struct config *cfg, const char *bucket, const char *prefix, int *found,
	     struct s3_error *e);

#endif
