/* SPDX-License-Identifier: MIT */
/*
 * uefi.c: /sign/tegra/uefi, UEFI payloads of a Jetson (L4T R35/R36) signed
 * with the machine's db key, as meta-tegra's tegra-uefi-signing class and
 * the signing-server layer's digsigserver-uefi-signing class ask for them.
 *
 * Fields: machine (the key set), signing_type and the file artifact.  The
 * original runs sbsign or openssl cms with <machine>/uefisign/db.key and
 * db.crt; here every type is built in the worker and the one raw
 * signature asked of the key process (keyclient.h), after the public half
 * of db.key has been checked against db.crt:
 *   sbsign            the PE image with an Authenticode signature appended,
 *                     as `sbsign --key db.key --cert db.crt` (lib/pe.c,
 *                     lib/cmssign.c's cmssign_authenticode)
 *   signature         a detached DER CMS SignedData of the artifact, as
 *                     `openssl cms -sign -binary -outform der` (with the
 *                     S/MIME capabilities, as openssl writes them)
 *   attach_signature  the artifact zero-padded to a multiple of 2048
 *                     (`truncate --size=%2048`), then that signature
 * The answer is always artifact.signed.  Upstream's checks in its order:
 * the artifact (400 Invalid artifact), the signing type (400 Invalid
 * parameters); then the keys, a missing one a 404 naming it (upstream
 * 500).  Stricter than upstream: an artifact that is not a PE image that
 * sbsign can sign is 400 "Invalid artifact: <reason>" (upstream 500).
 *
 * The upload is not read into memory: the digest is made as it is read
 * (signature, attach_signature) or over a read-only mapping (sbsign); the
 * answer is written into the job directory.
 *
 * Audit: signing_type, key_sha256, input_sha256, answer_sha256.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cmssign.h"
#include "job.h"
#include "keyclient.h"
#include "log.h"
#include "pe.h"
#include "pkey.h"
#include "signer.h"
#include "util.h"

#define UEFI_TAG "uefisign"
#define UEFI_KEY "db.key"
#define UEFI_CERT "db.crt"
#define UEFI_ANSWER "artifact.signed"
#define UEFI_ATTACH_ALIGN 2048 /* truncate --size=%2048 */

enum uefi_type { UEFI_SBSIGN, UEFI_SIGNATURE, UEFI_ATTACH };

static const char *const type_names[] = {"sbsign", "signature", "attach_signature"};

/* One request: the key, its certificate and what the audit says. */
struct uefi {
	struct job *job;
	enum uefi_type type;
	struct kc_key kk;
	struct pkey_signer signer;
	X509 *cert;
	char key_fpr[65];
	char in_sha256[65];
	char out[PATH_MAX];
};

/* The signing type, exactly as upstream takes it; -1 for anything else. */
static int
uefi_type(const struct job *job)
{
	const char *t = job_field(job, "signing_type");

	for (int i = 0; t != NULL && i < 3; i++)
		if (strcmp(t, type_names[i]) == 0)
			return i;
	return -1;
}

static int
uefi_precheck(struct job *job)
{
	const struct form_file *f = job_file(job, "artifact");

	if (f == NULL || f->path == NULL || strcmp(f->type, "application/octet-stream") != 0)
		return job_fail(job, 400, "Invalid artifact");
	if (uefi_type(job) < 0)
		return job_fail(job, 400, "Invalid parameters");
	return 0;
}

/* db.crt, then db.key's public half checked against it (a missing file
 * is the key process's 404 naming it); 0 or the status set. */
static int
load_keys(struct uefi *u)
{
	char err[KEYPROTO_REASON_MAX];
	EVP_PKEY *pub = NULL;
	int st;

	if ((st = kc_key_cert(&u->kk, UEFI_CERT, &u->cert, err, sizeof(err))) != 0 ||
	    (st = kc_key_public(&u->kk, u->cert, &pub, err, sizeof(err))) != 0)
		return job_fail(u->job, st, "%s", err);
	if (pkey_fingerprint(pub, u->key_fpr) < 0)
		log_warnx("job %s: cannot compute the key's fingerprint", u->job->idstr);
	EVP_PKEY_free(pub);
	u->signer.cert = u->cert;
	return 0;
}

/* A signing failure: the key process's own answer (503, 404 ...) when it
 * was the one to fail, else 500; logged. */
static int
sign_failed(struct uefi *u, const char *err)
{
	log_warnx("job %s: signing (%s): %s", u->job->idstr, type_names[u->type], err);
	if (u->kk.status != 0)
		return job_fail(u->job, u->kk.status, "%s", u->kk.reason);
	return job_fail(u->job, 500, "Signing error");
}

/* SHA-256 of the file at fd, read from its start, into md; 0 or -1. */
static int
digest_fd(int fd, unsigned char md[32])
{
	unsigned char buf[65536];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	ssize_t n;
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

	while (ok && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		ok = n > 0 && EVP_DigestUpdate(ctx, buf, (size_t)n) == 1;
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/*
 * signature and attach_signature: the CMS over the upload, answered as is
 * (signature) or after the upload padded to 2048 (attach_signature, the
 * upload renamed to the answer, never copied).  0 or the status set.
 */
static int
sign_cms(struct uefi *u, const struct form_file *f)
{
	unsigned char md[32], *der = NULL;
	size_t derlen = 0;
	char err[KEYPROTO_REASON_MAX];
	int fd = -1, st;

	if ((st = load_keys(u)) != 0)
		return st;
	if ((fd = open(f->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0 || digest_fd(fd, md) < 0) {
		log_error("job %s: reading the artifact", u->job->idstr);
		st = job_fail(u->job, 500, "Signing error");
		goto done;
	}
	util_hex(md, 32, u->in_sha256);
	if (cmssign_detached_opts(&u->signer, EVP_sha256(), md, 32, time(NULL), CMSSIGN_SMIMECAP,
				  &der, &derlen, err, sizeof(err)) < 0) {
		st = sign_failed(u, err);
		goto done;
	}
	if (u->type == UEFI_SIGNATURE) {
		st = util_write_file(u->out, der, derlen, 0600);
	} else {
		/* the size read, not the one the form counted (they are one) */
		off_t size = lseek(fd, 0, SEEK_END);
		off_t padded =
		    (size + UEFI_ATTACH_ALIGN - 1) / UEFI_ATTACH_ALIGN * UEFI_ATTACH_ALIGN;

		st = -1;
		if (size >= 0 && ftruncate(fd, padded) == 0 &&
		    lseek(fd, padded, SEEK_SET) == padded && util_write_all(fd, der, derlen) == 0 &&
		    rename(f->path, u->out) == 0)
			st = 0;
	}
	if (st < 0) {
		log_error("job %s: writing %s", u->job->idstr, u->out);
		st = job_fail(u->job, 500, "Signing error");
	}
done:
	if (fd >= 0)
		close(fd);
	free(der);
	return st;
}

/* Map the upload read-only; NULL with err (an empty file is no PE). */
static const unsigned char *
map_file(const struct form_file *f, size_t *len, char *err, size_t errlen)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	void *p;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot read it: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	*len = (size_t)st.st_size;
	if (*len == 0) {
		close(fd);
		snprintf(err, errlen, "not a PE image: empty");
		return NULL;
	}
	p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "cannot map it: %s", strerror(errno));
		return NULL;
	}
	return p;
}

/* The Authenticode signature of the mapped image into u->out. */
static int
sign_image(struct uefi *u, const struct pe_image *img)
{
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	size_t derlen = 0;
	char err[KEYPROTO_REASON_MAX];
	int fd, st;

	if (pe_digest(img, EVP_sha256(), md) != 32) {
		log_warnx("job %s: the image digest failed", u->job->idstr);
		return job_fail(u->job, 500, "Signing error");
	}
	if (cmssign_authenticode(&u->signer, md, time(NULL), &der, &derlen, err, sizeof(err)) < 0)
		return sign_failed(u, err);
	fd = open(u->out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	st = fd < 0 ? -1 : pe_write_signed(img, fd, der, derlen, err, sizeof(err));
	if (fd >= 0 && close(fd) < 0)
		st = -1;
	free(der);
	if (st < 0) {
		log_warnx("job %s: writing the signed image: %s", u->job->idstr,
			  fd < 0 ? strerror(errno) : err);
		return job_fail(u->job, 500, "Signing error");
	}
	return 0;
}

/* sbsign: the upload read as a PE image (400 when it is none, before
 * the keys are asked for), signed. */
static int
sign_pe(struct uefi *u, const struct form_file *f)
{
	struct pe_image img;
	const unsigned char *data;
	unsigned char md[32];
	size_t len = 0;
	char err[256];
	int st;

	if ((data = map_file(f, &len, err, sizeof(err))) == NULL)
		return job_fail(u->job, 400, "Invalid artifact: %s", err);
	if (pe_parse(data, len, &img, err, sizeof(err)) < 0) {
		munmap((void *)data, len);
		return job_fail(u->job, 400, "Invalid artifact: %s", err);
	}
	if (EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL) == 1)
		util_hex(md, 32, u->in_sha256);
	if ((st = load_keys(u)) == 0)
		st = sign_image(u, &img);
	pe_free(&img);
	munmap((void *)data, len);
	return st;
}

static void
audit(struct uefi *u)
{
	struct json_t *o = job_audit_new();
	char sum[65] = "";

	job_audit_text(o, "signing_type", type_names[u->type]);
	job_audit_text(o, "key_sha256", u->key_fpr);
	job_audit_text(o, "input_sha256", u->in_sha256);
	if (pkey_sha256_file(u->out, sum) == 0)
		job_audit_text(o, "answer_sha256", sum);
	job_audit_send(u->job, o);
}

static int
uefi_run(struct job *job)
{
	const struct form_file *f = job_file(job, "artifact");
	int type = uefi_type(job), st;
	struct uefi u = {.job = job, .type = (enum uefi_type)type};

	if (f == NULL || f->path == NULL || type < 0) /* the precheck's answer */
		return uefi_precheck(job);
	if (job_path(job, UEFI_ANSWER, u.out, sizeof(u.out)) < 0)
		return job_fail(job, 500, "Signing error");
	kc_key_init(&u.kk, job->keys, job->selector, UEFI_TAG, UEFI_KEY);
	u.signer.sign = kc_key_sign;
	u.signer.arg = &u.kk;
	job_progress(job, "%s", type_names[u.type]);
	st = u.type == UEFI_SBSIGN ? sign_pe(&u, f) : sign_cms(&u, f);
	if (st == 0) {
		audit(&u);
		st = job_reply_file(job, u.out, UEFI_ANSWER);
	}
	X509_free(u.cert);
	kc_key_free(&u.kk);
	return st;
}

const struct signer signer_uefi = {
    .path = "/sign/tegra/uefi",
    .name = "tegra/uefi", /* the path after /sign/, as every route (supervisor.c) */
    .selector_field = "machine",
    .selector_missing = "Invalid parameters",
    .run = uefi_run,
    .precheck = uefi_precheck,
};
