/* SPDX-License-Identifier: MIT */
/*
 * mender.c: POST /sign/mender (distro, artifact-uri).
 *
 * As mendersign.bbclass uses it: the artifact stays where the build left
 * it (file:// or s3://), the server signs it in place and answers
 * "Signing successful".  The artifact is read once: lib/mender_artifact.c
 * checks it is a Mender artifact whose manifest tells the truth about its
 * header and payload while copying it into a replacement file with room
 * for manifest.sig; only then is the manifest signed with
 * <distro>/mender/private.key and the replacement committed in one atomic
 * step (lib/uri.h), so a failure or a kill at any moment leaves the
 * original artifact as it was.  An already signed artifact is re-signed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "job.h"
#include "keyclient.h"
#include "log.h"
#include "mender_artifact.h"
#include "mender_key.h"
#include "signer.h"
#include "uri.h"
#include "util.h"

/* The distro's key: <store>/<distro>/mender/private.key, held by the key
 * process, which signs the manifest's digest (keyclient.h). */
#define MENDER_TAG "mender"
#define MENDER_KEY "private.key"

/* Report reading progress to the supervisor (/status). */
static void
progress(void *arg, uint64_t done, uint64_t total)
{
	struct job *job = arg;

	job_progress(job, "checked %llu/%llu MiB", (unsigned long long)(done >> 20),
		     (unsigned long long)(total >> 20));
}

/* Record the signature in the audit trail; 0, or -1 when the record
 * could not be sent (the URI is the client's: job_audit_* escape it). */
static int
audit(struct job *job, const char *uri, const struct mender_key *key, const struct mender_result *r)
{
	char fpr[65] = "";
	struct json_t *o = job_audit_new();

	if (mender_key_fingerprint(key, fpr) < 0)
		log_warnx("job %s: cannot compute the key fingerprint", job->idstr);
	job_audit_text(o, "method", mender_key_describe(key));
	job_audit_text(o, "key_sha256", fpr);
	job_audit_text(o, "distro", job->selector);
	job_audit_text(o, "artifact_uri", uri);
	job_audit_text(o, "manifest_sha256", r->manifest_sha256);
	job_audit_bool(o, "resigned", r->was_signed);
	job_audit_int(o, "payload_files", (long long)r->payload_files);
	job_audit_item(o, "manifest", r->manifest_sha256);
	return job_audit_send(job, o);
}

/* The distro's key as the key process knows it (its public half): 0, or
 * the status of a job_fail. */
static int
load_key(struct job *job, struct mender_key **key)
{
	unsigned char *pub, *cert;
	size_t publen, certlen;
	char err[KEYPROTO_REASON_MAX];
	int st;

	st = kc_public(job->keys, job->selector, MENDER_TAG, MENDER_KEY, &pub, &publen, &cert,
		       &certlen, err, sizeof(err));
	if (st != 0)
		return job_fail(job, st, "%s", err);
	st = mender_key_from_public(pub, publen, key, err, sizeof(err));
	free(pub);
	free(cert);
	if (st != 0) {
		/* a key the server cannot use is its operator's problem */
		log_errorx("job %s: %s/mender/private.key: %s", job->idstr, job->selector, err);
		return job_fail(job, 500, "Signing error");
	}
	return 0;
}

/* One signing in progress. */
struct msign {
	struct job *job;
	const char *uri;
	struct mender_key *key;
	struct uri_artifact *art;
	struct mender_result r;
	char *sig;
	int key_status; /* the key process's answer to SIGN, when not 0 */
	int outfd;
	uint64_t t_read, t_commit; /* ms spent reading and committing */
};

/* Open the artifact and copy it, checked, into its replacement with a
 * slot for manifest.sig; 0 or the status of a job_fail. */
static int
copy_checked(struct msign *ms)
{
	const struct config *cfg = ms->job->cfg;
	struct mender_opts o;
	char err[512];
	int st;

	if ((st = uri_open(cfg, ms->uri, ms->job->dir, &ms->art, err, sizeof(err))) != 0 ||
	    (st = uri_begin_replace(ms->art, &ms->outfd, err, sizeof(err))) != 0)
		return job_fail(ms->job, st, "%s", err);
	mender_opts_init(&o);
	o.copy_range = 1;
	/* a local artifact is replaced in place: get its pages to disk early */
	o.start_writeback = uri_scheme(ms->uri, NULL) != URI_S3;
	o.sig_len = mender_key_sig_len(ms->key);
	o.max_members = (uint64_t)cfg->archive_max_members;
	/*
	 * Payloads are hashed as they stream by, in flat memory, and the
	 * response timeout bounds the time: rootfs images larger than
	 * ARCHIVE_MAX_SIZE are common, so their expanded size is not capped.
	 */
	o.max_expanded = UINT64_MAX;
	o.max_holes = (uint64_t)cfg->archive_max_size;
	o.progress = progress;
	o.progress_arg = ms->job;
	ms->t_read = util_now_ms();
	st = mender_rewrite(uri_fd(ms->art), ms->outfd, &o, &ms->r, err, sizeof(err));
	ms->t_read = util_now_ms() - ms->t_read;
	if (st == 400)
		return job_fail(ms->job, st, "Invalid artifact: %s", err);
	if (st != 0) {
		log_errorx("job %s: %s", ms->job->idstr, err);
		return job_fail(ms->job, st, "%s", err);
	}
	return 0;
}

/* mender_sign_fn: the key process signs the manifest's digest; the
 * status it answered is kept in ms->key_status. */
static int
sign_by_key_process(void *arg, int ecdsa, const unsigned char digest[32], unsigned char *sig,
		    size_t *siglen, char *err, size_t errlen)
{
	struct msign *ms = arg;

	ms->key_status = kc_sign(ms->job->keys, ms->job->selector, MENDER_TAG, MENDER_KEY,
				 ecdsa ? KEYPROTO_ECDSA : KEYPROTO_RSA_PKCS1, 0, KEYPROTO_MD_SHA256,
				 digest, 32, sig, siglen, NULL, err, errlen);
	return ms->key_status;
}

/* Sign the manifest into the slot and record it; 0 or the status of a
 * job_fail. */
static int
sign_slot(struct msign *ms)
{
	char err[512];
	size_t siglen = 0;
	int st;

	if (mender_sign_with(ms->key, sign_by_key_process, ms, ms->r.manifest,
			     ms->r.manifest_len, &ms->sig, &siglen, err, sizeof(err)) != 0) {
		if (ms->key_status != 0) /* the key process's answer: 503, 404 ... */
			return job_fail(ms->job, ms->key_status, "%s", err);
		log_errorx("job %s: %s", ms->job->idstr, err);
		return job_fail(ms->job, 500, "Signing error");
	}
	if ((st = mender_write_signature(ms->outfd, &ms->r, ms->sig, siglen, err, sizeof(err))) !=
	    0) {
		log_errorx("job %s: %s", ms->job->idstr, err);
		return st == 507 ? job_fail(ms->job, 507, "%s", err)
				 : job_fail(ms->job, 500, "Signing error");
	}
	/* before the commit: a signature whose record cannot be kept is not made */
	if (audit(ms->job, ms->uri, ms->key, &ms->r) < 0 && ms->job->cfg->audit_required)
		return job_fail(ms->job, 500, "Signing error");
	return 0;
}

/* Replace the artifact by the signed one; 0 or the status of a job_fail. */
static int
commit(struct msign *ms)
{
	char err[512];
	int st;

	job_progress(ms->job, "replacing artifact");
	ms->t_commit = util_now_ms();
	if ((st = uri_commit(ms->art, err, sizeof(err))) != 0) {
		log_errorx("job %s: %s", ms->job->idstr, err);
		return job_fail(ms->job, st, "%s", err);
	}
	ms->t_commit = util_now_ms() - ms->t_commit;
	/*
	 * The replaced original is kept open past the answer: closing the
	 * last reference to it frees its blocks and page cache, which for a
	 * large file takes a noticeable part of the job (150 ms for 512 MB on
	 * ext4).  The dup may fail: then it is freed at uri_close, as usual.
	 */
	job_keep_fd(ms->job, fcntl(uri_fd(ms->art), F_DUPFD_CLOEXEC, 0));
	return 0;
}

static int
mender_run(struct job *job)
{
	struct msign ms = {.job = job, .uri = job_field(job, "artifact-uri"), .outfd = -1};
	char err[512], shown[1024];
	uint64_t t0 = util_now_ms();
	int st;

	if (ms.uri == NULL || *ms.uri == '\0')
		return job_fail(job, 400, "Artifact URI missing");
	if ((st = uri_check(job->cfg, ms.uri, err, sizeof(err))) != 0)
		return job_fail(job, st, "%s", err);
	if ((st = load_key(job, &ms.key)) != 0)
		return st;
	if ((st = copy_checked(&ms)) != 0 || (st = sign_slot(&ms)) != 0 ||
	    (st = commit(&ms)) != 0)
		goto done;
	log_info("job %s: signed %s (%s, %llu bytes, %llu payload files%s) in %llu ms "
		 "(read, check and copy %llu ms, commit %llu ms)",
		 job->idstr, log_escape(ms.uri, shown, sizeof(shown)), mender_key_describe(ms.key),
		 (unsigned long long)ms.r.out_size, (unsigned long long)ms.r.payload_files,
		 ms.r.was_signed ? ", re-signed" : "", (unsigned long long)(util_now_ms() - t0),
		 (unsigned long long)ms.t_read, (unsigned long long)ms.t_commit);
	st = job_reply_text(job, "Signing successful");
done:
	uri_close(ms.art);
	free(ms.sig);
	mender_result_free(&ms.r);
	mender_key_free(ms.key);
	return st;
}

/* The original checks the URI before the distro. */
static int
mender_precheck(struct job *job)
{
	const char *uri = job_field(job, "artifact-uri");

	if (uri == NULL || *uri == '\0')
		return job_fail(job, 400, "Artifact URI missing");
	return 0;
}

SIGNER_DEFINE(mender, .selector_field = "distro", .selector_missing = "Distro name missing",
	      .run = mender_run, .precheck = mender_precheck);
