/* SPDX-License-Identifier: MIT */
/*
 * imx.c: /sign/imx (machine, soctype, cstversion, backend, csf,
 * artifact): NXP's Code Signing Tool turns a HABv4 CSF description into
 * the binary CSF blob, answered as artifact.signed (UPSTREAM-SIGNERS.md
 * "POST /sign/imx").  The client puts the blob into its image.
 *
 * cst is <IMX_CST_BASE>/cst-<cstversion>/linux64/bin/cst, found on a PATH
 * that begins with that directory, run as upstream runs it: cwd <job>/work,
 * "cst -i csf-input.txt -o <job>/csf.bin [-b pkcs11]", confined and masked
 * as every signer's tool (tool.h).  The work directory holds what the CSF
 * names by relative paths: the CSF text (csf-input.txt), the artifact
 * under its upload name, and the key tarball <machine>/imxsign/
 * imx-cst-keys.tar.gz from the key process (MATERIALIZE, allowed for this
 * file only), written 0600 into <job>/keys, extracted by the safe
 * extraction (dss_archive.h) and removed at once.  The whole work
 * directory (keys, certificates, the CSF) is removed as soon as cst is
 * done, whatever happened; the supervisor removes the job directory of a
 * job it kills.
 *
 * backend=pkcs11: every "pin-value=password" of the CSF becomes the
 * token's PIN, which only the key process holds: it hands it to this job
 * (MATERIALIZE of the pseudo key KEYPROTO_PIN_FILE, allowed for /sign/imx
 * only and reported to the audit trail like a key) only when the CSF has
 * the placeholder.  The PIN is written only into csf-input.txt (0600, in
 * the job's directory), never into cst's argv or environment, redacted
 * from every log line and masked in cst's output.
 *
 * Stricter than upstream: a CSF that is not UTF-8 or holds a NUL is 400
 * "Invalid CSF: <why>" (upstream 500), and so is one whose data sections
 * name another file than the artifact, or that names csf-input.txt
 * (imx_csf_blocks_check: upstream signs whatever a block names, the CSF
 * with the PIN or a key file included); an artifact name that could leave
 * the work directory or is not a plain file name is 400 "Invalid
 * artifact: <why>" (upstream writes it where it points); soctype may be
 * absent (upstream PR #43); a cstversion that is not a version is 400; a
 * missing key file is a 404 naming it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "dss_archive.h"
#include "imxcsf.h"
#include "job.h"
#include "keyclient.h"
#include "keyproto.h"
#include "keystore.h"
#include "log.h"
#include "mask.h"
#include "pkey.h"
#include "signer.h"
#include "tool.h"
#include "util.h"

#define IMX_TAG "imxsign"
#define IMX_KEYS "imx-cst-keys.tar.gz"
#define IMX_CSF "csf-input.txt"
#define IMX_OUT "csf.bin"
#define IMX_ANSWER "artifact.signed"
#define IMX_TAIL_LINES 20
#define IMX_PIN_MAX 256

struct imx {
	struct job *job;
	const char *cstversion, *soctype;
	int pkcs11;
	char bin[PATH_MAX];  /* the CST tree's linux64/bin */
	char work[PATH_MAX]; /* <job>/work: cst's cwd, the CSF, the artifact, the keys */
	char keys[PATH_MAX]; /* <job>/keys: the key tarball, until it is extracted */
	char out[PATH_MAX];  /* <job>/csf.bin */
	const char *name;    /* the artifact's upload name */
	char *csf;           /* the CSF text as uploaded (malloc'ed) */
	size_t csf_len;
	char csf_sha256[65], artifact_sha256[65], keys_sha256[65];
	struct mask *mask;
	int pins; /* placeholders replaced */
};

static int
is_pkcs11(const struct job *job)
{
	const char *b = job_field(job, "backend");

	return b != NULL && strcmp(b, "pkcs11") == 0;
}

/* The CST tree of cstversion into bin; 0, or -1 (400 for the client). */
static int
cst_bin(struct job *job, char bin[PATH_MAX])
{
	const char *v = job_field(job, "cstversion");
	struct stat st;
	char cst[PATH_MAX];

	if (!imx_cstversion_valid(v)) {
		log_info("job %s: cstversion is not a version", job->idstr);
		return -1;
	}
	if (snprintf(bin, PATH_MAX, "%s/cst-%s/linux64/bin", job->cfg->imx_cst_base, v) >=
		PATH_MAX ||
	    snprintf(cst, sizeof(cst), "%s/cst", bin) >= (int)sizeof(cst) || stat(cst, &st) < 0 ||
	    !S_ISREG(st.st_mode)) {
		log_info("job %s: no cst in DIGSIGSERVER_IMX_CST_BASE for cstversion %s",
			 job->idstr, v);
		return -1;
	}
	return 0;
}

/* Upstream's checks in its order; 0 or the status set. */
static int
imx_precheck(struct job *job)
{
	const struct form_file *csf = job_file(job, "csf");
	const struct form_file *art = job_file(job, "artifact");
	const char *soc = job_field(job, "soctype");
	char bin[PATH_MAX];

	if (csf == NULL || csf->path == NULL || strcmp(csf->type, "text/plain") != 0)
		return job_fail(job, 400, "Invalid CSF");
	if (art == NULL || art->path == NULL || strcmp(art->type, "application/octet-stream") != 0)
		return job_fail(job, 400, "Invalid artifact");
	/* upstream PR #43 drops soctype: absent is fine, only mx8m otherwise */
	if (soc != NULL && *soc != '\0' && strcmp(soc, "mx8m") != 0)
		return job_fail(job, 400, "Invalid parameters");
	if (cst_bin(job, bin) < 0)
		return job_fail(job, 400, "Invalid parameters");
	return 0;
}

/* The CSF upload into i->csf, checked as text; 0 or the status set. */
static int
read_csf(struct imx *i)
{
	const struct form_file *f = job_file(i->job, "csf");
	size_t max = (size_t)i->job->cfg->imx_csf_max_size, len = 0;
	char why[128], *text = NULL;

	if (util_read_file(f->path, max, &text, &len) < 0) {
		if (errno == EFBIG)
			return job_fail(i->job, 400, "Invalid CSF: larger than %zu bytes", max);
		log_error("job %s: reading the CSF", i->job->idstr);
		return job_fail(i->job, 500, "Signing error");
	}
	i->csf = text;
	i->csf_len = len;
	if (imx_csf_text_check((const unsigned char *)text, len, why, sizeof(why)) < 0)
		return job_fail(i->job, 400, "Invalid CSF: %s", why);
	if (pkey_sha256_file(f->path, i->csf_sha256) < 0)
		i->csf_sha256[0] = '\0';
	return 0;
}

/* The fields, the CSF, the artifact's name and the directories; 0 or the
 * status set. */
static int
imx_init(struct imx *i, struct job *job)
{
	const struct form_file *art = job_file(job, "artifact");
	char why[128];
	int st;

	i->job = job;
	i->cstversion = job_field(job, "cstversion");
	i->soctype = job_field(job, "soctype");
	i->pkcs11 = is_pkcs11(job);
	i->name = art->filename;
	/* the worker ran imx_precheck: the files are there, cst too */
	if (cst_bin(job, i->bin) < 0)
		return job_fail(job, 400, "Invalid parameters");
	if ((st = read_csf(i)) != 0)
		return st;
	if (imx_name_check(i->name, why, sizeof(why)) < 0)
		return job_fail(job, 400, "Invalid artifact: %s", why);
	if (imx_csf_blocks_check((const unsigned char *)i->csf, i->csf_len, i->name, why,
				 sizeof(why)) < 0)
		return job_fail(job, 400, "Invalid CSF: %s", why);
	if (pkey_sha256_file(art->path, i->artifact_sha256) < 0)
		i->artifact_sha256[0] = '\0';
	if (job_path(job, "work", i->work, sizeof(i->work)) < 0 ||
	    job_path(job, "keys", i->keys, sizeof(i->keys)) < 0 ||
	    job_path(job, IMX_OUT, i->out, sizeof(i->out)) < 0 || mkdir(i->work, 0700) < 0) {
		log_error("job %s: making the work directory", job->idstr);
		return job_fail(job, 500, "Signing error");
	}
	i->mask = mask_new();
	return 0;
}

/* Every file the key tarball held, masked in cst's output (a failing
 * tool may print the key it read). */
static void
mask_members(struct imx *i, const struct ar_list *list)
{
	for (size_t n = 0; n < list->n; n++) {
		char path[PATH_MAX], *data;
		size_t len;

		if (list->v[n].type != AR_FILE ||
		    snprintf(path, sizeof(path), "%s/%s", i->work, list->v[n].name) >=
			(int)sizeof(path) ||
		    util_read_file(path, KS_MAX_SIZE, &data, &len) < 0)
			continue;
		mask_add_key(i->mask, (const unsigned char *)data, len);
		util_cleanse_free(data, len);
	}
}

/* The key tarball from the key process, extracted into the work
 * directory and removed; 0 or the status set. */
static int
imx_keys(struct imx *i)
{
	struct tool_key k = {
	    .selector = i->job->selector,
	    .tag = IMX_TAG,
	    .file = IMX_KEYS,
	    .dir = i->keys,
	    .sha256 = i->keys_sha256,
	};
	struct ar_limits lim;
	struct ar_list list = {0};
	char path[PATH_MAX], err[512] = "the key directory's path is too long";
	int st;

	if (mkdir(i->keys, 0700) < 0) {
		log_error("job %s: mkdir %s", i->job->idstr, i->keys);
		return job_fail(i->job, 500, "Signing error");
	}
	job_progress(i->job, "keys");
	if ((st = tool_key_fetch(i->job, &k)) == 0) {
		log_info("job %s: key %s/%s sha256 %s", i->job->idstr, IMX_TAG, IMX_KEYS,
			 i->keys_sha256);
		ar_limits_from_config(&lim, i->job->cfg);
		if (snprintf(path, sizeof(path), "%s/%s", i->keys, IMX_KEYS) >= (int)sizeof(path) ||
		    ar_extract(path, i->work, &lim, &list, err, sizeof(err)) != 0) {
			/* the operator's tarball: a 500, the reason in the log */
			log_errorx("job %s: extracting %s/%s: %s", i->job->idstr, IMX_TAG, IMX_KEYS,
				   err);
			st = job_fail(i->job, 500, "Signing error");
		} else {
			mask_members(i, &list);
		}
		ar_list_free(&list);
	}
	if (util_rm_rf(i->keys) < 0)
		log_warn("job %s: removing the key directory", i->job->idstr);
	return st;
}

/* The artifact moved to <work>/<upload name>, which the key tarball must
 * not have taken; 0 or the status set. */
static int
imx_place(struct imx *i)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/%s", i->work, i->name) >= (int)sizeof(path))
		return job_fail(i->job, 400, "Invalid artifact: the file name is too long");
	if (lstat(path, &st) == 0)
		return job_fail(i->job, 400,
				"Invalid artifact: the file name is one of the key tarball's");
	if (rename(job_file(i->job, "artifact")->path, path) < 0) {
		log_error("job %s: moving the upload", i->job->idstr);
		return job_fail(i->job, 500, "Signing error");
	}
	return 0;
}

/* backend=pkcs11 and the CSF has placeholders: the PIN from the key
 * process into pin (cleansed by the caller); 0 or the status set. */
static int
imx_pin(struct imx *i, char pin[IMX_PIN_MAX])
{
	unsigned char *data = NULL;
	size_t len = 0;
	char err[KEYPROTO_REASON_MAX];
	int st;

	st = kc_materialize(i->job->keys, i->job->selector, KEYPROTO_PIN_TAG, KEYPROTO_PIN_FILE,
			    &data, &len, err, sizeof(err));
	if (st != 0) {
		log_errorx("job %s: the PIN: %s", i->job->idstr, err);
		return job_fail(i->job, st, "%s", err);
	}
	if (len == 0 || len >= IMX_PIN_MAX || memchr(data, '\0', len) != NULL) {
		log_errorx("job %s: the PIN is empty, too long or holds a NUL", i->job->idstr);
		st = job_fail(i->job, 500, "Signing error");
	} else {
		memcpy(pin, data, len);
		pin[len] = '\0';
	}
	OPENSSL_cleanse(data, len);
	free(data);
	return st;
}

/* <work>/csf-input.txt, 0600, new: the CSF with the PIN when pkcs11; 0
 * or the status set. */
static int
write_csf(struct imx *i)
{
	struct buf text;
	char path[PATH_MAX], pin[IMX_PIN_MAX] = "";
	int fd = -1, st = 0;

	buf_init(&text, BUF_UNLIMITED, 1);
	i->pins = i->pkcs11 ? (int)imx_pin_count((const unsigned char *)i->csf, i->csf_len) : 0;
	if (i->pins > 0 && (st = imx_pin(i, pin)) == 0) {
		/* from here until cst is done the PIN is "<redacted>" in every log
		 * line, cst's output included (spawn.h logs it line by line) */
		log_redact(pin);
		if (imx_pin_substitute((const unsigned char *)i->csf, i->csf_len, pin, &text) < 0)
			st = job_fail(i->job, 500, "Signing error");
	} else if (st == 0 && buf_append(&text, i->csf, i->csf_len) < 0) {
		st = job_fail(i->job, 500, "Signing error");
	}
	OPENSSL_cleanse(pin, sizeof(pin));
	if (st == 0 &&
	    (snprintf(path, sizeof(path), "%s/%s", i->work, IMX_CSF) >= (int)sizeof(path) ||
	     (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
	     util_write_all(fd, text.data, text.len) < 0)) {
		log_error("job %s: writing %s", i->job->idstr, IMX_CSF);
		st = job_fail(i->job, 500, "Signing error");
	}
	if (fd >= 0 && close(fd) < 0 && st == 0) {
		log_error("job %s: writing %s", i->job->idstr, IMX_CSF);
		st = job_fail(i->job, 500, "Signing error");
	}
	buf_free(&text);
	return st;
}

/* cst's environment: PATH with the CST tree first; with pkcs11 also the
 * variables that point its OpenSSL engine at the token, if the daemon has
 * them (never the PIN). */
static void
environment(const struct imx *i, struct strv *env)
{
	static const char *const pass[] = {"OPENSSL_CONF", "PKCS11_MODULE_PATH", "SOFTHSM2_CONF",
					   "YUBIHSM_PKCS11_CONF"};
	strv_addf(env, "PATH=%s:%s", i->bin, tool_path());
	for (size_t n = 0; i->pkcs11 && n < sizeof(pass) / sizeof(pass[0]); n++) {
		const char *v = getenv(pass[n]);

		if (v != NULL)
			strv_addf(env, "%s=%s", pass[n], v);
	}
}

/* cst, then the work directory removed whatever happened; 0 or the
 * status set. */
static int
imx_cst(struct imx *i)
{
	struct strv argv = {0}, env = {0};
	struct tool tool = {.cwd = i->work, .tail_lines = IMX_TAIL_LINES, .mask = i->mask};
	int st;

	if ((st = imx_keys(i)) == 0 && (st = imx_place(i)) == 0 && (st = write_csf(i)) == 0) {
		strv_add(&argv, "cst");
		strv_add(&argv, "-i");
		strv_add(&argv, IMX_CSF);
		strv_add(&argv, "-o");
		strv_add(&argv, i->out);
		if (i->pkcs11) {
			strv_add(&argv, "-b");
			strv_add(&argv, "pkcs11");
		}
		environment(i, &env);
		tool.argv = argv.v;
		tool.envp = env.v;
		job_progress(i->job, "cst");
		st = tool_run(i->job, &tool);
	}
	/* the keys, the certificates, the CSF (with the PIN) and the artifact */
	if (util_rm_rf(i->work) < 0) {
		log_warn("job %s: removing the work directory", i->job->idstr);
		st = st ? st : job_fail(i->job, 500, "Signing error");
	}
	log_redact(NULL);
	strv_free(&argv);
	strv_free(&env);
	return st;
}

static void
imx_audit(struct imx *i, const char *out_sha256)
{
	struct json_t *o = job_audit_new();

	job_audit_text(o, "cstversion", i->cstversion);
	job_audit_text(o, "soctype", i->soctype && *i->soctype ? i->soctype : NULL);
	job_audit_text(o, "backend", i->pkcs11 ? "pkcs11" : "file");
	job_audit_int(o, "pin_placeholders", i->pins);
	job_audit_text(o, "csf_sha256", i->csf_sha256[0] ? i->csf_sha256 : NULL);
	job_audit_text(o, "artifact", i->name);
	job_audit_text(o, "artifact_sha256", i->artifact_sha256[0] ? i->artifact_sha256 : NULL);
	job_audit_text(o, "keys_sha256", i->keys_sha256[0] ? i->keys_sha256 : NULL);
	job_audit_list(o);
	job_audit_item(o, IMX_ANSWER, out_sha256);
	job_audit_send(i->job, o);
}

static int
imx_run(struct job *job)
{
	struct imx i = {0};
	struct stat sb;
	char out_sha256[65];
	int st;

	if ((st = imx_init(&i, job)) == 0 && (st = imx_cst(&i)) == 0) {
		if (lstat(i.out, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			log_errorx("job %s: cst exited 0 but made no %s", job->idstr, IMX_OUT);
			st = job_fail(job, 500, "Signing error");
		} else {
			if (pkey_sha256_file(i.out, out_sha256) < 0)
				out_sha256[0] = '\0';
			imx_audit(&i, out_sha256);
			st = job_reply_file(job, i.out, IMX_ANSWER);
		}
	}
	free(i.csf);
	mask_free(i.mask);
	return st;
}

SIGNER_DEFINE(imx, .selector_field = "machine", .selector_missing = "Invalid parameters",
	      .run = imx_run, .precheck = imx_precheck);
