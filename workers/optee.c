/* SPDX-License-Identifier: MIT */
/*
 * optee.c: /sign/optee, OP-TEE trusted application signing.
 *
 * The client uploads a gzip tarball of its TA build outputs; every
 * regular file <dir>/<uuid>.stripped.elf in it becomes <dir>/<uuid>.ta, the
 * bootstrap TA of OP-TEE's sign_encrypt.py (lib/optee_ta.h), with the
 * version from <dir>/<uuid>.ta-version (0 when there is none, as the
 * original since its issue #28); the ELF and its .ta-version are removed
 * and the rest of the tree is answered unchanged, signed-artifact.tar.gz
 * with "./" members.  The original does this in-process in Python; here
 * the digest is made in the worker and the RSA-PSS signature (MGF1-SHA256,
 * salt 32) by the key process with <machine>/opteesign/optee-signing-key.pem,
 * checked with its public half before it is written.
 *
 * Stricter than the original, which answers 500 for these: a TA name that
 * is not a UUID, a .ta-version that does not parse or does not fit in 32
 * bits, an ELF of 4 GiB or more, a TA image that is a symbolic link, and
 * every archive the safe extraction refuses are 400 with a reason.  All
 * names and versions are checked before anything is signed.
 *
 * Audit: artifact_sha256 (the upload), key_sha256, algo, count,
 * answer_sha256 and "signed": each <dir>/<uuid>.ta by its SHA-256.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "dss_archive.h"
#include "fsutil.h"
#include "job.h"
#include "keyclient.h"
#include "log.h"
#include "optee_ta.h"
#include "pkey.h"
#include "signer.h"
#include "util.h"

#define OPTEE_TAG "opteesign"
#define OPTEE_KEY "optee-signing-key.pem"
#define OPTEE_ANSWER "signed-artifact.tar.gz"

/* One TA to sign. */
struct ta {
	char *elf;     /* member name: <dir><uuid>.stripped.elf */
	char *version; /* <dir><uuid>.ta-version */
	char *out;     /* <dir><uuid>.ta */
	unsigned char uuid[16];
	uint32_t ta_version;
	char sha256[65]; /* of the .ta */
};

struct optee {
	struct job *job;
	struct kc_key kk;
	EVP_PKEY *pub;
	char fpr[65];
	int rootfd;
	char tree[PATH_MAX];
	struct ta *tas;
	size_t n;
};

/* The reason for a file of the client's: its name escaped, then why. */
static int
fail_file(struct job *job, int status, const char *name, const char *why)
{
	char esc[LOG_ESCAPED_SIZE(128)];

	log_warnx("job %s: %s: %s", job->idstr, log_escape(name, esc, sizeof(esc)), why);
	return job_fail(job, status, "Invalid artifact: %s: %s", esc, why);
}

/* Extraction's admit hook: a TA image must have a UUID for a name and
 * fit the format, checked before any of it is written. */
static int
admit_member(const char *name, enum ar_type type, uint64_t size, void *arg, char *why,
	     size_t whylen)
{
	unsigned char uuid[16];
	int r;

	(void)arg;
	if ((r = optee_ta_name(name, uuid, why, whylen)) <= 0)
		return r;
	if (type == AR_FILE && size > OPTEE_IMG_MAX) {
		snprintf(why, whylen, "%s: %llu bytes, larger than a TA can be (4 GiB - 1)", name,
			 (unsigned long long)size);
		return -1;
	}
	return 0;
}

/* Read the .ta-version of t, if there is one; 0 or the status of a
 * job_fail. */
static int
read_version(struct optee *o, struct ta *t)
{
	char text[OPTEE_VERSION_LINE_MAX + 2], why[128];
	ssize_t n;
	int fd;

	t->ta_version = 0;
	if ((fd = ar_openat(o->rootfd, t->version, O_RDONLY, 0)) < 0) {
		if (errno == ENOENT)
			return 0; /* as the original (its issue #28) */
		snprintf(why, sizeof(why), "cannot be read: %s", strerror(errno));
		return fail_file(o->job, 400, t->version, why);
	}
	n = fs_pread_full(fd, text, sizeof(text), 0);
	close(fd);
	if (n < 0) {
		snprintf(why, sizeof(why), "cannot be read: %s", strerror(errno));
		return fail_file(o->job, 400, t->version, why);
	}
	if (optee_version_parse(text, (size_t)n, &t->ta_version, why, sizeof(why)) < 0)
		return fail_file(o->job, 400, t->version, why);
	return 0;
}

static int
cmp_ta(const void *a, const void *b)
{
	return strcmp(((const struct ta *)a)->elf, ((const struct ta *)b)->elf);
}

/* The TAs of the extracted tree, sorted by name, versions read; 0 or the
 * status of a job_fail. */
static int
find_tas(struct optee *o, const struct ar_list *list)
{
	size_t sl = strlen(OPTEE_ELF_SUFFIX);
	char why[128];
	int r, st;

	o->tas = xcalloc(list->n ? list->n : 1, sizeof(*o->tas));
	for (size_t i = 0; i < list->n; i++) {
		const struct ar_entry *e = &list->v[i];
		struct ta *t = &o->tas[o->n];
		size_t stem;

		if (e->type == AR_DIR ||
		    (r = optee_ta_name(e->name, t->uuid, why, sizeof(why))) == 0)
			continue;
		if (r < 0)
			return fail_file(o->job, 400, e->name, why);
		if (e->type == AR_SYMLINK)
			return fail_file(o->job, 400, e->name,
					 "a TA image must not be a symbolic link");
		stem = strlen(e->name) - sl;
		t->elf = xstrdup(e->name);
		t->version = xasprintf("%.*s%s", (int)stem, e->name, OPTEE_VERSION_SUFFIX);
		t->out = xasprintf("%.*s.ta", (int)stem, e->name);
		o->n++;
	}
	qsort(o->tas, o->n, sizeof(*o->tas), cmp_ta);
	for (size_t i = 0; i < o->n; i++)
		if ((st = read_version(o, &o->tas[i])) != 0)
			return st;
	return 0;
}

/* Create t's .ta, replacing a member of that name; the descriptor, or -1
 * with the job failed. */
static int
create_out(struct optee *o, const struct ta *t)
{
	const char *base;
	char why[128];
	int dfd, fd;

	if ((dfd = ar_open_parent(o->rootfd, t->out, 0, &base)) < 0 ||
	    (unlinkat(dfd, base, 0) < 0 && errno != ENOENT)) {
		snprintf(why, sizeof(why), "cannot be replaced: %s", strerror(errno));
		if (dfd >= 0)
			close(dfd);
		fail_file(o->job, 400, t->out, why);
		return -1;
	}
	fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	/* 0644 whatever the worker's umask (077): the answer's tar keeps
	 * the mode, and upstream's TAs come back readable by all */
	if (fd < 0 || fchmod(fd, 0644) < 0) {
		log_error("job %s: creating a TA", o->job->idstr);
		job_fail(o->job, 500, "Signing error");
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	close(dfd);
	return fd;
}

/* The signature of t's digest, made by the key process and checked with
 * the public key, written into out; 0 or the status of a job_fail. */
static int
sign_digest(struct optee *o, int out, const struct optee_ta *ta)
{
	struct pkey_signer s = {.sign = kc_key_sign, .arg = &o->kk};
	struct pkey_sign_req req = {.scheme = SIG_RSA_PSS,
				    .saltlen = OPTEE_SALT_LEN,
				    .md = EVP_sha256(),
				    .data = ta->digest,
				    .len = sizeof(ta->digest)};
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char err[256];
	int rc;

	rc = pkey_signer_sign(&s, o->pub, &req, &sig, &siglen, err, sizeof(err));
	if (rc == 0)
		rc = optee_ta_write_sig(out, ta, sig, siglen, err, sizeof(err));
	free(sig);
	if (rc == 0)
		return 0;
	log_warnx("job %s: signing a TA: %s", o->job->idstr, err);
	/* the key process's answer (503, 404 ...) when it was the one to fail */
	if (o->kk.status != 0)
		return job_fail(o->job, o->kk.status, "%s", o->kk.reason);
	return job_fail(o->job, 500, "Signing error");
}

/* Write t's .ta; 0 or the status of a job_fail. */
static int
sign_ta(struct optee *o, struct ta *t)
{
	struct optee_ta ta;
	struct stat sb;
	char why[256], path[PATH_MAX];
	int img, out = -1, st = 0;

	if ((img = ar_openat(o->rootfd, t->elf, O_RDONLY, 0)) < 0 || fstat(img, &sb) < 0) {
		snprintf(why, sizeof(why), "cannot be read: %s", strerror(errno));
		st = fail_file(o->job, 400, t->elf, why);
		goto done;
	}
	if (optee_ta_init(&ta, t->uuid, t->ta_version, (uint64_t)sb.st_size,
			  (size_t)EVP_PKEY_get_size(o->pub), why, sizeof(why)) < 0) {
		st = fail_file(o->job, 400, t->elf, why);
		goto done;
	}
	if ((out = create_out(o, t)) < 0) {
		st = o->job->status;
		goto done;
	}
	if (optee_ta_write_body(out, &ta, img, why, sizeof(why)) < 0) {
		log_errorx("job %s: %s: %s", o->job->idstr, t->elf, why);
		st = job_fail(o->job, 500, "Signing error");
		goto done;
	}
	if ((st = sign_digest(o, out, &ta)) != 0)
		goto done;
	if (snprintf(path, sizeof(path), "%s/%s", o->tree, t->out) >= (int)sizeof(path) ||
	    pkey_sha256_file(path, t->sha256) < 0) {
		log_error("job %s: hashing a TA", o->job->idstr);
		st = job_fail(o->job, 500, "Signing error");
	}
done:
	if (img >= 0)
		close(img);
	if (out >= 0)
		close(out);
	return st;
}

/* Remove a member (it may be gone already: hard links, a missing
 * .ta-version); 0 or -1. */
static int
remove_member(int rootfd, const char *name)
{
	const char *base;
	int dfd, rc;

	if ((dfd = ar_open_parent(rootfd, name, 0, &base)) < 0)
		return errno == ENOENT ? 0 : -1;
	rc = unlinkat(dfd, base, 0) < 0 && errno != ENOENT ? -1 : 0;
	close(dfd);
	return rc;
}

/* Sign every TA, then remove the ELFs and versions; 0 or the status of a
 * job_fail. */
static int
sign_all(struct optee *o)
{
	int st;

	for (size_t i = 0; i < o->n; i++) {
		if ((st = sign_ta(o, &o->tas[i])) != 0)
			return st;
		job_progress(o->job, "signed %zu/%zu", i + 1, o->n);
	}
	for (size_t i = 0; i < o->n; i++)
		if (remove_member(o->rootfd, o->tas[i].elf) < 0 ||
		    remove_member(o->rootfd, o->tas[i].version) < 0) {
			log_error("job %s: removing a signed TA's inputs", o->job->idstr);
			return job_fail(o->job, 500, "Signing error");
		}
	return 0;
}

/* The key: its public half (an RSA key, as the original requires) and
 * fingerprint, asked for before the upload is extracted so that a machine
 * without the key is answered at once; 0 or the status of a job_fail. */
static int
key_of(struct optee *o)
{
	char err[KEYPROTO_REASON_MAX];
	int st;

	if ((st = kc_key_public(&o->kk, NULL, &o->pub, err, sizeof(err))) != 0)
		return job_fail(o->job, st, "%s", err);
	if (EVP_PKEY_get_base_id(o->pub) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_size(o->pub) > OPTEE_SIG_MAX) {
		log_errorx("job %s: %s/%s/%s is not an RSA key of up to %d bits", o->job->idstr,
			   o->job->selector, OPTEE_TAG, OPTEE_KEY, OPTEE_SIG_MAX * 8);
		return job_fail(o->job, 500, "Signing error");
	}
	if (pkey_fingerprint(o->pub, o->fpr) < 0)
		return job_fail(o->job, 500, "Signing error");
	return 0;
}

/* Extract the upload into the job's tree; 0 or the status of a job_fail. */
static int
extract(struct optee *o, const char *path, struct ar_list *list)
{
	struct ar_limits lim;
	char err[512];
	int st;

	if (job_path(o->job, "tree", o->tree, sizeof(o->tree)) < 0)
		o->tree[0] = '\0';
	if (o->tree[0] == '\0' || mkdir(o->tree, 0700) < 0 ||
	    (o->rootfd = open(o->tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		log_error("job %s: job directory", o->job->idstr);
		return job_fail(o->job, 500, "Signing error");
	}
	ar_limits_from_config(&lim, o->job->cfg);
	lim.admit = admit_member;
	job_progress(o->job, "extracting");
	if ((st = ar_extract(path, o->tree, &lim, list, err, sizeof(err))) != 0)
		return job_extract_failed(o->job, st, err);
	return 0;
}

/* The audit record (see the top of this file). */
static void
audit(struct optee *o, const char *artifact, const char *answer)
{
	struct json_t *record = job_audit_new();
	char sum[65], *name;

	job_audit_text(record, "artifact_sha256",
		       pkey_sha256_file(artifact, sum) == 0 ? sum : NULL);
	job_audit_text(record, "key_sha256", o->fpr);
	job_audit_text(record, "algo", "TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256");
	job_audit_int(record, "count", (long long)o->n);
	job_audit_text(record, "answer_sha256", pkey_sha256_file(answer, sum) == 0 ? sum : NULL);
	job_audit_list(record); /* even when empty */
	for (size_t i = 0; i < o->n; i++) {
		name = xasprintf("./%s", o->tas[i].out);
		job_audit_item(record, name, o->tas[i].sha256);
		free(name);
	}
	job_audit_send(o->job, record);
}

/* Free what o holds and remove its tree. */
static void
optee_free(struct optee *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->tas[i].elf);
		free(o->tas[i].version);
		free(o->tas[i].out);
	}
	free(o->tas);
	EVP_PKEY_free(o->pub);
	kc_key_free(&o->kk);
	if (o->rootfd >= 0)
		close(o->rootfd);
	if (o->tree[0] != '\0' && util_rm_rf(o->tree) < 0 && errno != ENOENT)
		log_warn("job %s: removing %s", o->job->idstr, o->tree);
}

/* The original checks the artifact before anything else. */
static int
optee_precheck(struct job *job)
{
	const struct form_file *f = job_file(job, "artifact");

	if (f == NULL || strcmp(f->type, "application/octet-stream") != 0)
		return job_fail(job, 400, "Invalid artifact");
	return 0;
}

static int
optee_run(struct job *job)
{
	const struct form_file *f = job_file(job, "artifact");
	struct optee o = {.job = job, .rootfd = -1};
	struct ar_list list = {0};
	char out[PATH_MAX], err[512];

	kc_key_init(&o.kk, job->keys, job->selector, OPTEE_TAG, OPTEE_KEY);
	if (optee_precheck(job) != 0 || key_of(&o) != 0 || extract(&o, f->path, &list) != 0 ||
	    find_tas(&o, &list) != 0 || sign_all(&o) != 0)
		goto done;
	if (job_path(job, OPTEE_ANSWER, out, sizeof(out)) < 0) {
		job_fail(job, 500, "Signing error");
		goto done;
	}
	if (ar_pack_tree(o.tree, out, (int)job->cfg->gzip_level, NULL, NULL, err, sizeof(err)) <
	    0) {
		job_write_failed(job, errno, err);
		goto done;
	}
	audit(&o, f->path, out);
	log_info("job %s: %zu TAs signed (key %.16s)", job->idstr, o.n, o.fpr);
	job_reply_file(job, out, OPTEE_ANSWER);
done:
	ar_list_free(&list);
	optee_free(&o);
	return job->status;
}

SIGNER_DEFINE(optee, .selector_field = "machine", .selector_missing = "Invalid parameters",
	      .run = optee_run, .precheck = optee_precheck);
