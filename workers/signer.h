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
 *
 * A new signer comes with:
 *  - its format parsed in lib/<format>.c, with a unit test (t/check_*.c)
 *    and a libFuzzer harness (t/fuzz/), never in the signer;
 *  - a run() that only maps: form fields -> key references (keyclient.h:
 *    kc_key_* for signatures, kc_materialize only where the key process's
 *    table allows an external tool a key file) -> the lib call -> the
 *    answer (job_reply_*) -> the audit record (job_audit_*);
 *  - its key tags in the key process's grant table (keys/keygrant.c);
 *  - no state kept across jobs (job_keep_fd for what must outlive the
 *    answer), no proto.h, no JSON built by hand;
 *  - a regress script that signs through the real daemon with a real
 *    client and checks the result with an independent verifier, and its
 *    man page and README sections.
 */
#ifndef DSS_SIGNER_H
#define DSS_SIGNER_H

struct job;

struct signer {
	const char *path;	      /* "/sign/modules" */
	const char *name;	      /* short name for logs, /status, metrics */
	const char *selector_field;   /* form field naming the key set */
	const char *selector_missing; /* 400 body when that field is absent */
	const char *selector_default; /* or the selector then (upstream's "imx") */
	int digest_only;	      /* files are only hashed (form_file.sha256):
				       * no job directory at all */
	int (*run)(struct job *job);
	/* Optional: checks the original makes before it looks at the selector
	 * (for the same error body when several things are wrong); 0 or the
	 * status set with job_fail(). */
	int (*precheck)(struct job *job);
};

/*
 * Define signer_<name>, the signer of /sign/<name>: one name for the
 * endpoint, the logs and the symbol; the other fields as designated
 * initializers, e.g.
 *   SIGNER_DEFINE(mender, .selector_field = "distro", .run = mender_run);
 */
#define SIGNER_DEFINE(name_, ...)                                                                  \
	const struct signer signer_##name_ = {.path = "/sign/" #name_, .name = #name_, __VA_ARGS__}

/* The signer of a route (route.h) the supervisor chose, or NULL. */
const struct signer *signer_at(unsigned route);

#endif
