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
 * Any bytes are accepted as sw-description.  The answer is the raw
 * signature, sw-description.sig.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
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

/* Sign the file at path with PKCS#1 v1.5 or PSS over SHA-256 into sig. */
static int
sign_rsa(EVP_PKEY *key, int pss, const char *path, unsigned char **sig, size_t *siglen)
{
	unsigned char buf[65536];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int fd = -1, rc = -1;
	ssize_t n;

	*sig = NULL;
	if (ctx == NULL || EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key) != 1)
		goto done;
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto done;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		goto done;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto done;
		}
		if (EVP_DigestSignUpdate(ctx, buf, (size_t)n) != 1)
			goto done;
	}
	if (EVP_DigestSignFinal(ctx, NULL, siglen) != 1)
		goto done;
	*sig = xmalloc(*siglen);
	if (EVP_DigestSignFinal(ctx, *sig, siglen) != 1)
		goto done;
	rc = 0;
done:
	if (rc < 0) {
		free(*sig);
		*sig = NULL;
	}
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* Make a detached CMS SignedData over the file at path into sig. */
static int
sign_cms(EVP_PKEY *key, X509 *cert, const char *path, unsigned char **sig, size_t *siglen)
{
	BIO *in = BIO_new_file(path, "rb");
	CMS_ContentInfo *cms = NULL;
	unsigned char *der = NULL;
	int n;

	*sig = NULL;
	if (in == NULL)
		return -1;
	cms = CMS_sign(cert, key, NULL, in, CMS_BINARY | CMS_DETACHED | CMS_NOSMIMECAP);
	BIO_free(in);
	if (cms == NULL)
		return -1;
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
audit(struct job *job, const char *method, EVP_PKEY *key, const char *path)
{
	char fpr[65] = "", sum[65] = "", json[512];

	if (pkey_fingerprint(key, fpr) < 0 || pkey_sha256_file(path, sum) < 0)
		log_warnx("job %s: cannot compute audit digests", job->idstr);
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
	char out[PATH_MAX];
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
		struct ks_blob cb = {0};
		char err[256];

		if ((st = ks_load(job->cfg, job->selector, SWU_TAG, "cms.cert", &cb, err,
				  sizeof(err))) != 0)
			return job_fail(job, st, "%s", err);
		cert = pkey_load_cert(cb.data, cb.len);
		ks_blob_free(&cb);
		if (cert == NULL) {
			log_warnx("job %s: %s/swupdate/cms.cert is not a certificate", job->idstr,
				  job->selector);
			return job_fail(job, 500, "Signing error");
		}
		if ((st = load_key(job, "cms-private.key", &key)) != 0)
			goto done;
		st = sign_cms(key, cert, f->path, &sig, &siglen);
	} else {
		pss = strcmp(method, "RSA-PSS") == 0;
		if ((st = load_key(job, "rsa-private.key", &key)) != 0)
			goto done;
		st = sign_rsa(key, pss, f->path, &sig, &siglen);
	}
	if (st < 0) {
		log_openssl("signing sw-description");
		st = job_fail(job, 500, "Signing error");
		goto done;
	}
	if (job_path(job, "sw-description.sig", out, sizeof(out)) < 0 ||
	    util_write_file(out, sig, siglen, 0600) < 0) {
		log_warnx("job %s: writing the signature: %s", job->idstr, strerror(errno));
		st = job_fail(job, 500, "Signing error");
		goto done;
	}
	audit(job, method, key, f->path);
	st = job_reply_file(job, out, "sw-description.sig");
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
	.takes_files = 1,
	.run = swupdate_run,
};
