/* SPDX-License-Identifier: MIT */
/*
 * signer.h: the interface between the worker loop and one signer.
 *
 * Each signer is one file in workers/ exporting one const struct signer,
 * listed in signers.c.  The supervisor has routed the request to it on its
 * path (route.h).  The worker loop has read the request, put
 * uploaded files into the job directory (or, digest_only, hashed them
 * without one), checked the key selector (it is
 * one safe path segment) and told the supervisor the job started; run()
 * signs and leaves the answer in the job (job_reply_file, job_reply_data or
 * job_fail) and
 * returns its HTTP status.
 */
#ifndef DSS_SIGNER_H
#define DSS_SIGNER_H

struct job;

struct signer {
	const char *path;	      /* "/sign/modules" */
	const char *name;	      /* short name for logs, /status, metrics */
	const char *selector_field;   /* form field naming the key set */
	const char *selector_missing; /* 400 body when that field is absent */
	int digest_only;	      /* files are only hashed (form_file.sha256):
				       * no job directory at all */
	int (*run)(struct job *job);
	/* Optional: checks the original makes before it looks at the selector
	 * (for the same error body when several things are wrong); 0 or the
	 * status set with job_fail(). */
	int (*precheck)(struct job *job);
};

/* The signer of a route (route.h) the supervisor chose, or NULL. */
const struct signer *signer_at(unsigned route);

#endif
