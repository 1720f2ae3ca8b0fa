/* SPDX-License-Identifier: MIT */
/*
 * swupdate.c: /sign/swupdate, signatures of an SWUpdate sw-description.
 *
 * The original runs `openssl dgst` or `openssl cms` per request; this
 * builds each format in the worker, and the key process (keyclient.h)
 * makes the raw signature with the distro's key:
 *   RSA      PKCS#1 v1.5 over SHA-256 (as `openssl dgst -sha256 -sign`)
 *   RSA-PSS  PSS over SHA-256, salt length = digest length
 *   CMS      detached DER SignedData with the signer certificate, binary,
 *            no S/MIME capabilities (as `openssl cms -sign -binary
 *            -nosmimecap -outform DER`)
 * Any bytes are accepted as sw-description.  It is never stored: the
 * worker hashes it as it arrives (SHA-256, which every method signs) and
 * the job has no directory.  The answer is the raw signature,
 * sw-description.sig, sent from memory.  Each format is made from that
 * digest (lib/cmssign.c builds the CMS), and the raw signature in it is
 * asked of a struct pkey_signer (lib/pkey.h) that asks the key process.
 *
 * Upstream's PKCS#11 fields: backend=pkcs11 with key-uri, a pkcs11: URI
 * (400 "Key URI missing for PKCS#11 backend" without it, before the
 * upload, as upstream checks it).  The key is still the distro's
 * rsa-private.key or cms-private.key: the key store must hold a
 * reference <name>.pkcs11 to a token object the client's URI fits
 * (keyd.c checks it: 403 otherwise).  A PIN in the URI (upstream's
 * pin-value=password placeholder, or a real one) is ignored: the key
 * process logs in with its own.  The URI is never logged here.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "cmssign.h"
#include "job.h"
#include "p11uri.h"
#include "keyclient.h"
#include "log.h"
#include "pkey.h"
#include "signer.h"
#include "util.h"

#define SWU_TAG "swupdate"

/*
 * The raw signature of RSA and RSA-PSS, made by the key process in one
 * request (no PUBLIC first): over the SHA-256 digest md, PKCS#1 v1.5 for
 * an RSA key and ECDSA for an EC one (what `openssl dgst -sign` does with
 * either), or PSS with a salt as long as the digest.  *sig is malloc'ed;
 * fpr gets the key's fingerprint.  0, or the status of a job_fail.
 */
static int
sign_raw(struct job *job, int pss, const unsigned char md[32], unsigned char **sig,
	 size_t *siglen, char fpr[65])
{
	char err[KEYPROTO_REASON_MAX];
	size_t n = KEYPROTO_SIG_MAX;
	int st;

	*sig = xmalloc(n);
	st = kc_sign(job->keys, job->selector, SWU_TAG, "rsa-private.key",
		     pss ? KEYPROTO_RSA_PSS : KEYPROTO_BY_KEY, pss ? RSA_PSS_SALTLEN_DIGEST : 0,
		     KEYPROTO_MD_SHA256, md, 32, *sig, &n, fpr, err, sizeof(err));
	if (st != 0) {
		free(*sig);
		*sig = NULL;
		return job_fail(job, st, "%s", err);
	}
	*siglen = n;
	return 0;
}

/* Record the signature in the audit trail. */
static void
audit(struct job *job, const char *method, const char *fpr, const unsigned char md[32])
{
	struct json_t *record = job_audit_new();
	char sum[65];

	util_hex(md, 32, sum);
	job_audit_text(record, "method", method);
	job_audit_text(record, "key_sha256", fpr);
	job_audit_item(record, "sw-description", sum);
	job_audit_send(job, record);
}

/*
 * The CMS signature: the certificate cms.cert asked for first (the answer
 * for a distro without keys names it), the public half of cms-private.key
 * checked against it, the SignedData built here around the key process's
 * raw signature and verified with the certificate's key.  *der is
 * malloc'ed, fpr gets the key's fingerprint; 0 or the status of a job_fail.
 */
static int
sign_cms(struct job *job, const unsigned char md[32], unsigned char **der, size_t *derlen,
	 char fpr[65])
{
	struct kc_key kk;
	struct pkey_signer signer = {.sign = kc_key_sign, .arg = &kk};
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char err[KEYPROTO_REASON_MAX];
	int st;

	kc_key_init(&kk, job->keys, job->selector, SWU_TAG, "cms-private.key");
	if ((st = kc_key_cert(&kk, "cms.cert", &cert, err, sizeof(err))) != 0 ||
	    (st = kc_key_public(&kk, cert, &key, err, sizeof(err))) != 0) {
		st = job_fail(job, st, "%s", err);
		goto done;
	}
	signer.cert = cert;
	if (cmssign_detached(&signer, EVP_sha256(), md, 32, time(NULL), der, derlen, err,
			     sizeof(err)) < 0) {
		log_warnx("job %s: signing sw-description (CMS): %s", job->idstr, err);
		free(*der);
		*der = NULL;
		/* the key process's answer (503, 404 ...) when it was the one to fail */
		st = kk.status != 0 ? job_fail(job, kk.status, "%s", kk.reason)
				    : job_fail(job, 500, "Signing error");
		goto done;
	}
	if (pkey_fingerprint(key, fpr) < 0)
		log_warnx("job %s: cannot compute the key's fingerprint", job->idstr);
done:
	EVP_PKEY_free(key);
	X509_free(cert);
	kc_key_free(&kk);
	return st;
}

static int
pkcs11_backend(struct job *job)
{
	const char *backend = job_field(job, "backend");

	return backend != NULL && strcmp(backend, "pkcs11") == 0;
}

/* Upstream's second check, after the distro's and before the upload. */
static int
swupdate_precheck(struct job *job)
{
	const char *distro = job_field(job, "distro"), *uri = job_field(job, "key-uri");

	if (distro != NULL && *distro != '\0' && pkcs11_backend(job) &&
	    (uri == NULL || *uri == '\0'))
		return job_fail(job, 400, "Key URI missing for PKCS#11 backend");
	return 0;
}

/* backend and key-uri: the URI every SIGN carries; 0 or a job_fail. */
static int
backend_fields(struct job *job)
{
	const char *backend = job_field(job, "backend"), *uri = job_field(job, "key-uri");
	struct p11uri u;
	char why[160];

	if (backend == NULL || *backend == '\0' || strcmp(backend, "ssl") == 0)
		return 0;
	if (!pkcs11_backend(job))
		return job_fail(job, 400, "Invalid parameters: backend must be ssl or pkcs11");
	if (p11uri_parse(uri, &u, why, sizeof(why)) < 0)
		return job_fail(job, 400, "Invalid key URI: %s", why);
	if (kc_set_key_uri(job->keys, uri) < 0)
		return job_fail(job, 400, "Invalid key URI: too long");
	return 0;
}

static int
swupdate_run(struct job *job)
{
	const struct form_file *f;
	const char *method = job_field(job, "method");
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char fpr[65] = "";
	int st;

	f = job_file(job, "sw-description");
	if (f == NULL || strcmp(f->type, "application/octet-stream") != 0)
		return job_fail(job, 400, "Invalid sw-description");
	if (method == NULL || *method == '\0')
		method = "RSA";
	if (strcmp(method, "RSA") != 0 && strcmp(method, "CMS") != 0 &&
	    strcmp(method, "RSA-PSS") != 0)
		return job_fail(job, 400, "Invalid parameters: method must be RSA, RSA-PSS or CMS");
	if ((st = backend_fields(job)) != 0)
		return st;

	if (strcmp(method, "CMS") == 0)
		st = sign_cms(job, f->sha256, &sig, &siglen, fpr);
	else
		st = sign_raw(job, strcmp(method, "RSA-PSS") == 0, f->sha256, &sig, &siglen, fpr);
	if (st != 0)
		return st;
	audit(job, method, fpr, f->sha256);
	return job_reply_data(job, sig, siglen, "sw-description.sig"); /* sig is the job's now */
}

SIGNER_DEFINE(swupdate, .selector_field = "distro", .selector_missing = "Distro name missing",
	      .digest_only = 1, .run = swupdate_run, .precheck = swupdate_precheck);
