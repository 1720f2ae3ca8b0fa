/* SPDX-License-Identifier: MIT */
/*
 * swupdate.c: /sign/swupdate, signatures of an SWUpdate sw-description.
 *
 * The original runs `openssl dgst` or `openssl cms` per request; this
 * signs inside the worker with the key loaded from the key store:
 *   RSA      PKCS#1 v1.5 over SHA-256 (as `openssl dgst -sha256 -sign`)
 *   RSA-PSS  PSS over SHA-256, salt length = digest length
 *   CMS      detached DER SignedData with the signer certificate, binary,
 *            no S/MIME capabilities (as `openssl cms -sign -binary
 *            -nosmimecap -outform DER`)
 * Any bytes are accepted as sw-description.  It is never stored: the
 * worker hashes it as it arrives (SHA-256, which every method signs) and
 * the job has no directory.  The answer is the raw signature,
 * sw-description.sig, sent from memory.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "job.h"
#include "keystore.h"
#include "log.h"
#include "pkey.h"
#include "signer.h"
#include "util.h"

#define SWU_TAG "swupdate"

/* Log the OpenSSL error queue at warning level and clear it. */
static void
log_openssl(const char *what)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("%s: %s", what, buf);
	}
}

/* Load a private key from the store into *key; 0 or the answer's status. */
static int
load_key(struct job *job, const char *file, EVP_PKEY **key)
{
	struct ks_blob blob = {0};
	char err[256];
	int st;

	if ((st = ks_load(job->cfg, job->selector, SWU_TAG, file, &blob, err, sizeof(err))) != 0)
		return job_fail(job, st, "%s", err);
	*key = pkey_load_private(blob.data, blob.len);
	ks_blob_free(&blob);
	if (*key == NULL)
		return job_fail(job, 500, "Signing error");
	return 0;
}

/* Load the CMS signer certificate from the store; 0 or the answer's status. */
static int
load_cert(struct job *job, X509 **cert)
{
	struct ks_blob cb = {0};
	char err[256];
	int st;

	if ((st = ks_load(job->cfg, job->selector, SWU_TAG, "cms.cert", &cb, err, sizeof(err))) != 0)
		return job_fail(job, st, "%s", err);
	*cert = pkey_load_cert(cb.data, cb.len);
	ks_blob_free(&cb);
	if (*cert == NULL) {
		log_warnx("job %s: %s/swupdate/cms.cert is not a certificate", job->idstr,
			  job->selector);
		return job_fail(job, 500, "Signing error");
	}
	return 0;
}

/* Sign a SHA-256 digest with PKCS#1 v1.5 or PSS (salt length = digest
 * length) into sig: the same signature EVP_DigestSign over the data gives. */
static int
sign_rsa(EVP_PKEY *key, int pss, const unsigned char md[32], unsigned char **sig, size_t *siglen)
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key, NULL);
	int rc = -1;

	*sig = NULL;
	if (pctx == NULL || EVP_PKEY_sign_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) != 1)
		goto done;
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto done;
	if (EVP_PKEY_sign(pctx, NULL, siglen, md, 32) != 1)
		goto done;
	*sig = xmalloc(*siglen);
	if (EVP_PKEY_sign(pctx, *sig, siglen, md, 32) != 1)
		goto done;
	rc = 0;
done:
	if (rc < 0) {
		free(*sig);
		*sig = NULL;
	}
	EVP_PKEY_CTX_free(pctx);
	return rc;
}

/*
 * A detached CMS SignedData over content whose SHA-256 is md, into sig:
 * what `openssl cms -sign -binary -nosmimecap -outform DER` makes from the
 * content itself.  The signer certificate is included; the signed
 * attributes are contentType (data), messageDigest and signingTime, and
 * the signature is over them, so the content is needed only as its digest.
 */
static int
sign_cms(EVP_PKEY *key, X509 *cert, const unsigned char md[32], unsigned char **sig,
	 size_t *siglen)
{
	const unsigned int flags = CMS_BINARY | CMS_DETACHED | CMS_NOSMIMECAP | CMS_PARTIAL;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	unsigned char *der = NULL;
	int n = -1;

	*sig = NULL;
	if ((cms = CMS_sign(NULL, NULL, NULL, NULL, flags)) == NULL)
		return -1;
	if ((si = CMS_add1_signer(cms, cert, key, EVP_sha256(), flags)) != NULL &&
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
					OBJ_nid2obj(NID_pkcs7_data), -1) == 1 &&
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, md,
					32) == 1 &&
	    CMS_set_detached(cms, 1) == 1 && CMS_SignerInfo_sign(si) == 1)
		n = i2d_CMS_ContentInfo(cms, &der);
	CMS_ContentInfo_free(cms);
	if (n <= 0)
		return -1;
	*sig = xmalloc((size_t)n);
	memcpy(*sig, der, (size_t)n);
	OPENSSL_free(der);
	*siglen = (size_t)n;
	return 0;
}

/* Record the signature in the audit trail. */
static void
audit(struct job *job, const char *method, EVP_PKEY *key, const unsigned char md[32])
{
	char fpr[65] = "", sum[65], json[512];

	if (pkey_fingerprint(key, fpr) < 0)
		log_warnx("job %s: cannot compute the key's fingerprint", job->idstr);
	util_hex(md, 32, sum);
	snprintf(json, sizeof(json),
		 "{\"method\":\"%s\",\"key_sha256\":\"%s\",\"signed\":[{\"name\":\"sw-description\","
		 "\"sha256\":\"%s\"}]}",
		 method, fpr, sum);
	job_audit(job, json);
}

static int
swupdate_run(struct job *job)
{
	const struct form_file *f;
	const char *method = job_field(job, "method");
	const char *backend = job_field(job, "backend");
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int st, pss = 0;

	f = job_file(job, "sw-description");
	if (f == NULL || strcmp(f->type, "application/octet-stream") != 0)
		return job_fail(job, 400, "Invalid sw-description");
	if (method == NULL || *method == '\0')
		method = "RSA";
	if (strcmp(method, "RSA") != 0 && strcmp(method, "CMS") != 0 &&
	    strcmp(method, "RSA-PSS") != 0)
		return job_fail(job, 400, "Invalid parameters: method must be RSA, RSA-PSS or CMS");
	if (backend != NULL && *backend != '\0' && strcmp(backend, "ssl") != 0)
		return job_fail(job, 400, "Invalid parameters: backend %s is not supported", backend);

	if (strcmp(method, "CMS") == 0) {
		if ((st = load_cert(job, &cert)) != 0)
			return st;
		if ((st = load_key(job, "cms-private.key", &key)) != 0)
			goto done;
		st = sign_cms(key, cert, f->sha256, &sig, &siglen);
	} else {
		pss = strcmp(method, "RSA-PSS") == 0;
		if ((st = load_key(job, "rsa-private.key", &key)) != 0)
			goto done;
		st = sign_rsa(key, pss, f->sha256, &sig, &siglen);
	}
	if (st < 0) {
		log_openssl("signing sw-description");
		st = job_fail(job, 500, "Signing error");
		goto done;
	}
	audit(job, method, key, f->sha256);
	st = job_reply_data(job, sig, siglen, "sw-description.sig");
	sig = NULL; /* the job's now */
done:
	free(sig);
	EVP_PKEY_free(key);
	X509_free(cert);
	return st;
}

const struct signer signer_swupdate = {
	.path = "/sign/swupdate",
	.name = "swupdate",
	.selector_field = "distro",
	.selector_missing = "Distro name missing",
	.digest_only = 1,
	.run = swupdate_run,
};
