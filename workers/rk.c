/* SPDX-License-Identifier: MIT */
/*
 * rk.c: the Rockchip signers, which run Rockchip's own tools from
 * DIGSIGSERVER_RK_TOOLS_PATH with upstream's argv (UPSTREAM-SIGNERS.md):
 *
 *  /sign/rk (machine, soctype, artifact_type, burn_key_hash,
 *    external_data_offset, artifact): fit-image runs mkimage on the
 *    extracted tarball with the key directory <machine>/rksign/ (dev.key,
 *    dev.crt) and answers the whole tree, "./" members (a fit.its is
 *    compiled with dtc first, before the keys are fetched); idblock and
 *    usbloader run rkbin-tools' rk_sign_tool (cc, lk, [ss], sb|sl) on the
 *    image, copied with boot_merger and setting.ini into _tools, with
 *    dev.key and dev.pubkey, and answer artifact.signed.
 *  /sign/rkoptee-tee (machine, artifact): change_puk puts
 *    <machine>/rkopteesign/optee-signing-pubkey.pem into tee.bin; answer
 *    tee.bin.signed.
 *  /sign/rkoptee-ta (machine, artifact): resign_ta.py re-signs every *.ta
 *    of the extracted tarball with optee-signing-key.pem; answer
 *    signed-artifact.tar.gz, the whole tree, "./" members.
 *
 * The tools run with cwd <job>/work and upstream's PATH (<work>/_tools,
 * RK_TOOLS_PATH, the server's PATH), confined and masked as every tool
 * (tool.h).  The keys come from the key process (MATERIALIZE, allowed for
 * these endpoint/tag pairs only) into a 0700 <job>/keys, next to the work
 * directory and so never in an answer, removed as soon as the tools are
 * done.  Uploaded tarballs go through the safe extraction (dss_archive.h).
 * Stricter than upstream: a missing artifact_type is 400 "Invalid artifact
 * type" (upstream 500); the fit-image answer is named
 * signed-artifact.tar.gz (upstream: the Python list "['fitImage',
 * 'uboot.dtb']"); external_data_offset must be hexadecimal; an archive the
 * safe extraction refuses is 400 with a reason (upstream 500); a missing
 * key file is a 404 naming it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "buf.h"
#include "dss_archive.h"
#include "fdtedit.h"
#include "fsutil.h"
#include "fit.h"
#include "fitcheck.h"
#include "job.h"
#include "keyclient.h"
#include "keystore.h"
#include "log.h"
#include "mask.h"
#include "pkey.h"
#include "rkparams.h"
#include "signer.h"
#include "tool.h"
#include "util.h"

#define RK_TAG "rksign"
#define RKOPTEE_TAG "rkopteesign"
#define RK_TAIL_LINES 20
#define RK_TREE_ANSWER "signed-artifact.tar.gz"
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct rk {
	struct job *job;
	const char *tag;
	const char *tools;   /* RK_TOOLS_PATH */
	char work[PATH_MAX]; /* <job>/work: the tools' cwd, the input, the tree */
	char keys[PATH_MAX]; /* <job>/keys: the key files, for the tools only */
	struct mask *mask;
	struct strv env;
	char key_fpr[65];   /* the private (or public) key's fingerprint */
	char in_sha256[65]; /* of the upload */
	int keys_made;
};

/* ------------------------------------------------------------------------
 * Shared
 */

/* The timestamp mkimage -f writes: the server's SOURCE_DATE_EPOCH, else
 * now. */
static uint32_t
rk_timestamp(void)
{
	const char *epoch = fitcheck_epoch();

	if (epoch != NULL)
		return (uint32_t)strtoull(epoch, NULL, 10);
	return (uint32_t)time(NULL);
}

/* dir/name into out (PATH_MAX); 0, or -1 when it does not fit. */
static int
join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

/* 400 "Invalid parameters" when dir/name is not there; 0 when it is. */
static int
need(struct job *job, const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if (join(path, dir, name) < 0 || stat(path, &st) < 0) {
		log_info("job %s: no %s in DIGSIGSERVER_RK_TOOLS_PATH", job->idstr, name);
		return job_fail(job, 400, "Invalid parameters");
	}
	return 0;
}

/* RK_TOOLS_PATH, in upstream's order: unset is a 500 (a server without
 * the tools), a missing directory a 400.  0 or the status set. */
static int
tools_dir(struct job *job)
{
	const char *t = job->cfg->rk_tools_path;
	struct stat st;

	if (t == NULL || *t == '\0') {
		log_errorx("job %s: DIGSIGSERVER_RK_TOOLS_PATH is not set", job->idstr);
		return job_fail(job, 500, "Signing error");
	}
	if (stat(t, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_info("job %s: DIGSIGSERVER_RK_TOOLS_PATH %s is not a directory", job->idstr, t);
		return job_fail(job, 400, "Invalid parameters");
	}
	return 0;
}

/* The artifact, as upstream's validate_upload takes it; 0 or 400 set. */
static int
need_artifact(struct job *job)
{
	const struct form_file *f = job_file(job, "artifact");

	if (f == NULL || f->path == NULL || strcmp(f->type, "application/octet-stream") != 0)
		return job_fail(job, 400, "Invalid artifact");
	return 0;
}

/* <job>/work made, <job>/keys named, the tools' environment (with
 * <work>/_tools first when own_tools); 0 or 500. */
static int
rk_init(struct rk *r, struct job *job, const char *tag, int own_tools)
{
	r->job = job;
	r->tag = tag;
	r->tools = job->cfg->rk_tools_path;
	if (pkey_sha256_file(job_file(job, "artifact")->path, r->in_sha256) < 0)
		r->in_sha256[0] = '\0';
	if (job_path(job, "work", r->work, sizeof(r->work)) < 0 ||
	    job_path(job, "keys", r->keys, sizeof(r->keys)) < 0 || mkdir(r->work, 0700) < 0) {
		log_error("job %s: making the work directory", job->idstr);
		return job_fail(job, 500, "Signing error");
	}
	/*
	 * upstream's PATH: the job's copies of rkbin-tools first, then the
	 * tree, then ours.  Upstream puts <work>/_tools first for fit-image
	 * too, where the work directory is the client's tarball: a member
	 * _tools/mkimage would run.  Nothing uploaded runs here: _tools only
	 * where the server made it.
	 */
	if (own_tools)
		strv_addf(&r->env, "PATH=%s/_tools:%s:%s", r->work, r->tools, tool_path());
	else
		strv_addf(&r->env, "PATH=%s:%s", r->tools, tool_path());
	/* the timestamps mkimage writes, as upstream's tools inherit it */
	if (getenv("SOURCE_DATE_EPOCH") != NULL && *getenv("SOURCE_DATE_EPOCH") != '\0')
		strv_addf(&r->env, "SOURCE_DATE_EPOCH=%" PRIu32, rk_timestamp());
	r->mask = mask_new();
	return 0;
}

/* Remove the keys (whatever happened) and free what r holds. */
static void
rk_free(struct rk *r)
{
	if (r->keys_made && util_rm_rf(r->keys) < 0)
		log_warn("job %s: removing the key directory", r->job->idstr);
	r->keys_made = 0;
	mask_free(r->mask);
	r->mask = NULL;
	strv_free(&r->env);
}

/* One key file from the key process into <job>/keys; secret: masked in
 * the tools' output; audit: its fingerprint is the record's key_sha256.
 * 0 or the status set (404 naming a missing file). */
static int
rk_key(struct rk *r, const char *file, int secret, int audit)
{
	struct tool_key k = {
	    .selector = r->job->selector,
	    .tag = r->tag,
	    .file = file,
	    .dir = r->keys,
	    .mask = secret ? r->mask : NULL,
	    .fpr = audit ? r->key_fpr : NULL,
	};

	if (!r->keys_made) {
		if (mkdir(r->keys, 0700) < 0) {
			log_error("job %s: mkdir %s", r->job->idstr, r->keys);
			return job_fail(r->job, 500, "Signing error");
		}
		r->keys_made = 1;
	}
	return tool_key_fetch(r->job, &k);
}

/* Run one tool (argv[0] found on the environment's PATH) within as_max
 * bytes of address space and cpu_max seconds (0: unlimited); 0 or
 * 500/504. */
static int
rk_tool_within(struct rk *r, struct strv *argv, unsigned long long as_max, unsigned long cpu_max)
{
	struct tool tool = {.argv = argv->v,
			    .envp = r->env.v,
			    .cwd = r->work,
			    .mask = r->mask,
			    .tail_lines = RK_TAIL_LINES,
			    .as_max = as_max,
			    .cpu_max = cpu_max};
	int st;

	job_progress(r->job, "%s %s", argv->v[0], argv->n > 1 ? argv->v[1] : "");
	st = tool_run(r->job, &tool);
	strv_free(argv);
	return st;
}

/* Run one tool, unlimited; 0 or 500/504. */
static int
rk_tool(struct rk *r, struct strv *argv)
{
	return rk_tool_within(r, argv, 0, 0);
}

/* The upload's tarball into the work directory; 0 or the status set. */
static int
rk_extract(struct rk *r, struct ar_list *list)
{
	struct ar_limits lim;
	char err[512];
	int st;

	ar_limits_from_config(&lim, r->job->cfg);
	job_progress(r->job, "extracting");
	st = ar_extract(job_file(r->job, "artifact")->path, r->work, &lim, list, err, sizeof(err));
	return st == 0 ? 0 : job_extract_failed(r->job, st, err);
}

/* The whole work tree as the answer, "./" members; 0 or 500 set. */
static int
rk_reply_tree(struct rk *r, char out[PATH_MAX], char sha256[65])
{
	char err[256];

	job_progress(r->job, "packing");
	if (job_path(r->job, RK_TREE_ANSWER, out, PATH_MAX) < 0)
		return job_fail(r->job, 500, "Signing error");
	if (ar_pack_tree(r->work, out, (int)r->job->cfg->gzip_level, NULL, NULL, err, sizeof(err)) <
	    0)
		return job_write_failed(r->job, errno, err);
	if (pkey_sha256_file(out, sha256) < 0)
		sha256[0] = '\0';
	return 0;
}

/* The upload moved to <work>/name; 0 or 500 set. */
static int
rk_place(struct rk *r, const char *name, char path[PATH_MAX])
{
	if (join(path, r->work, name) < 0 || rename(job_file(r->job, "artifact")->path, path) < 0) {
		log_error("job %s: moving the upload", r->job->idstr);
		return job_fail(r->job, 500, "Signing error");
	}
	return 0;
}

/* The record's common fields; the caller adds its own and sends it. */
static struct json_t *
rk_audit(const struct rk *r)
{
	struct json_t *o = job_audit_new();

	job_audit_text(o, "input_sha256", r->in_sha256[0] ? r->in_sha256 : NULL);
	job_audit_text(o, "key_sha256", r->key_fpr[0] ? r->key_fpr : NULL);
	return o;
}

/* ------------------------------------------------------------------------
 * /sign/rk
 */

static const char *const rk_types[] = {"fit-image", "idblock", "usbloader"};
static const char *const rk_bin_tools[] = {"boot_merger", "rk_sign_tool", "setting.ini"};

/* Upstream's checks in its order (the key directory comes later, from
 * the key process); 0 or the status set. */
static int
rk_precheck(struct job *job)
{
	char bin[PATH_MAX];
	int st;

	if ((st = need_artifact(job)) != 0)
		return st;
	if (rk_soctype_chip(job_field(job, "soctype")) == NULL)
		return job_fail(job, 400, "Invalid parameters");
	if ((st = tools_dir(job)) != 0 || (st = need(job, job->cfg->rk_tools_path, "rkbin-tools")))
		return st;
	snprintf(bin, sizeof(bin), "%s/rkbin-tools", job->cfg->rk_tools_path);
	for (size_t i = 0; i < NELEM(rk_bin_tools); i++)
		if ((st = need(job, bin, rk_bin_tools[i])) != 0)
			return st;
	/* upstream: absent is a 500 (AttributeError); a 400 here */
	if (rk_artifact_type(job_field(job, "artifact_type")) < 0)
		return job_fail(job, 400, "Invalid artifact type");
	return 0;
}

/* 1 when <work>/name exists (upstream's os.path.exists). */
static int
in_work(const struct rk *r, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	return join(path, r->work, name) == 0 && stat(path, &st) == 0;
}

/*
 * The root's timestamp in the fitImage dtc made, as mkimage -f sets it
 * before it hashes and signs (mkimage -F checks it is there: without it
 * every FIT made from a fit.its is refused).  Written to <job>/fitImage.ts
 * with the native editor, then renamed over it.  0 or the status set.
 */
static int
rk_stamp_fit(struct rk *r)
{
	char path[PATH_MAX], tmp[PATH_MAX] = "", why[160];
	struct fe_arena arena = {0};
	struct fe_blob fit = {0};
	int fd = -1, out = -1, rc, status = 500;

	if (join(path, r->work, "fitImage") < 0 || job_path(r->job, "fitImage.ts", tmp, sizeof(tmp)) < 0)
		goto done;
	if (fitcheck_load(path, &fit, &arena, &fd, why, sizeof(why)) < 0) {
		status = job_fail(r->job, 400, "Invalid artifact: fitImage from dtc: %s", why);
		goto done;
	}
	/* dtc's 500 bytes of padding hold it; mkimage would grow the blob
	 * by 1 KiB when they do not */
	if ((rc = fe_setprop_u32(&fit, 0, "timestamp", rk_timestamp())) == FE_ERR_NOSPACE) {
		fe_grow(&fit, 1024);
		rc = fe_setprop_u32(&fit, 0, "timestamp", rk_timestamp());
	}
	if (rc < 0) {
		status = job_fail(r->job, 400, "Invalid artifact: cannot set the FIT's timestamp");
		goto done;
	}
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    fe_write_out(&fit, fit.h.totalsize, out, 0) < 0) {
		status = job_write_failed(r->job, errno, "writing the FIT");
		goto done;
	}
	rc = close(out);
	out = -1;
	if (rc < 0) {
		status = job_write_failed(r->job, errno, "writing the FIT");
		goto done;
	}
	if (rename(tmp, path) < 0) {
		status = job_write_failed(r->job, errno, "renaming the FIT");
		goto done;
	}
	status = 0;
done:
	if (status == 500)
		status = job_fail(r->job, 500, "Signing error");
	if (out >= 0)
		close(out);
	if (status != 0 && tmp[0] != '\0')
		(void)unlink(tmp);
	if (fd >= 0)
		close(fd);
	fe_free(&fit);
	fe_arena_free(&arena);
	return status;
}

/*
 * fit.its into fitImage, before any key is in the job: its /incbin/ can
 * name any file the tools may read (../keys/dev.key), and the tree goes
 * back to the client.  What mkimage -f runs first (dtc with mkimage's
 * options, then the root's timestamp); mkimage -F then does the rest, as
 * -f would.  dtc reads what the .its names, so it runs within eight times
 * the tree's bytes and 512 MiB more, and ARCHIVE_MAX_SECONDS of CPU: an
 * /incbin/ of /dev/zero is the client's 400 at once, not a worker held
 * until the response timeout.  0 or the status.
 */
static int
rk_compile_its(struct rk *r, uint64_t tree_bytes)
{
	static const char *const dtc[] = {"dtc", "-I", "dts", "-O", "dtb", "-p", "500",
					  "-o", "fitImage", "fit.its"};
	/* dtc holds each /incbin/ file, then the blob it grows by realloc */
	unsigned long long as_max = 8 * (unsigned long long)tree_bytes + (512ULL << 20);
	struct strv argv = {0};
	int st;

	for (size_t i = 0; i < sizeof(dtc) / sizeof(dtc[0]); i++)
		strv_add(&argv, dtc[i]);
	/* what dtc refuses is the upload's (its reason is in the log) */
	st = rk_tool_within(r, &argv, as_max, (unsigned long)r->job->cfg->archive_max_seconds);
	if (st == 500)
		return job_fail(r->job, 400, "Invalid artifact: dtc cannot compile fit.its");
	return st != 0 ? st : rk_stamp_fit(r);
}

/* mkimage on the extracted tree; 0 or the status set. */
static int
rk_fit(struct rk *r, uint64_t tree_bytes)
{
	const char *off = job_field(r->job, "external_data_offset");
	struct strv argv = {0};
	int st;

	if (off && *off && !rk_hex_offset(off))
		return job_fail(r->job, 400,
				"Invalid parameters: external_data_offset "
				"must be a hexadecimal number");
	if (off && *off && strtoull(off, NULL, 16) > FIT_EXTERNAL_OFFSET_MAX)
		return job_fail(r->job, 400, "Invalid parameters: external_data_offset above %#llx",
				FIT_EXTERNAL_OFFSET_MAX);
	if (in_work(r, "fit.its") && (st = rk_compile_its(r, tree_bytes)) != 0)
		return st;
	/* mkimage requires the certificate next to the key, even unused */
	if ((st = rk_key(r, "dev.key", 1, 1)) != 0 || (st = rk_key(r, "dev.crt", 0, 0)) != 0)
		return st;
	strv_add(&argv, "mkimage");
	strv_add(&argv, "-F");
	if (in_work(r, "fit.its"))
		strv_add(&argv, "-E");
	if (in_work(r, "uboot.dtb")) {
		strv_add(&argv, "-K");
		strv_add(&argv, "uboot.dtb");
	}
	if (off && *off) {
		strv_add(&argv, "-p");
		strv_add(&argv, off);
	}
	strv_add(&argv, "-k");
	strv_add(&argv, r->keys);
	strv_add(&argv, "-r");
	strv_add(&argv, "fitImage");
	if ((st = rk_tool(r, &argv)) == 500) {
		/* the upload's fault, whatever the key? (fitcheck.h) */
		char fit[PATH_MAX], dtb[PATH_MAX], why[256];
		int has_dtb = in_work(r, "uboot.dtb");

		if (join(fit, r->work, "fitImage") == 0 && join(dtb, r->work, "uboot.dtb") == 0 &&
		    fitcheck_refused(fit, has_dtb ? dtb : NULL, why, sizeof(why))) {
			log_info("job %s: mkimage refused the FIT: %s", r->job->idstr, why);
			st = job_fail(r->job, 400, "%s", why);
		}
	}
	return st;
}

static int
rk_fit_run(struct rk *r)
{
	struct ar_list list = {0};
	char out[PATH_MAX], sum[65];
	struct json_t *o;
	uint64_t tree_bytes = 0;
	int st;

	st = rk_extract(r, &list);
	for (size_t i = 0; i < list.n; i++)
		tree_bytes += list.v[i].size;
	ar_list_free(&list);
	if (st != 0 || (st = rk_fit(r, tree_bytes)) != 0)
		return st;
	rk_free(r); /* the keys go before the tree is packed */
	if ((st = rk_reply_tree(r, out, sum)) != 0)
		return st;
	o = rk_audit(r);
	job_audit_text(o, "artifact_type", "fit-image");
	job_audit_text(o, "answer_sha256", sum);
	job_audit_list(o);
	if (in_work(r, "fitImage")) {
		char fit[PATH_MAX];

		if (join(fit, r->work, "fitImage") == 0 && pkey_sha256_file(fit, sum) == 0)
			job_audit_item(o, "./fitImage", sum);
	}
	job_audit_send(r->job, o);
	return job_reply_file(r->job, out, RK_TREE_ANSWER);
}

/* rkbin-tools' three files into <work>/_tools (rk_sign_tool rewrites its
 * setting.ini); 0 or 500 set. */
static int
copy_bin_tools(struct rk *r)
{
	char dir[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];

	if (join(dir, r->work, "_tools") < 0 || mkdir(dir, 0700) < 0)
		goto fail;
	for (size_t i = 0; i < NELEM(rk_bin_tools); i++) {
		if (snprintf(src, sizeof(src), "%s/rkbin-tools/%s", r->tools, rk_bin_tools[i]) >=
			(int)sizeof(src) ||
		    join(dst, dir, rk_bin_tools[i]) < 0 || fs_copy_file(src, dst) < 0)
			goto fail;
	}
	return 0;
fail:
	log_error("job %s: copying rkbin-tools", r->job->idstr);
	return job_fail(r->job, 500, "Signing error");
}

/* rk_sign_tool VERB [OPT ARG]...: one command of the sequence. */
static int
sign_tool(struct rk *r, const char *verb, const char *o1, const char *a1, const char *o2,
	  const char *a2)
{
	struct strv argv = {0};

	strv_add(&argv, "rk_sign_tool");
	strv_add(&argv, verb);
	strv_add(&argv, o1);
	strv_add(&argv, a1);
	if (o2 != NULL) {
		strv_add(&argv, o2);
		strv_add(&argv, a2);
	}
	return rk_tool(r, &argv);
}

/* idblock or usbloader: upstream's rk_sign_tool sequence, the image
 * signed in place; 0 or the status set. */
static int
rk_loader(struct rk *r, int idblock, const char *img)
{
	char key[PATH_MAX], pub[PATH_MAX];
	int st;

	if ((st = copy_bin_tools(r)) != 0 || (st = rk_key(r, "dev.key", 1, 1)) != 0 ||
	    (st = rk_key(r, "dev.crt", 0, 0)) != 0 || (st = rk_key(r, "dev.pubkey", 0, 0)) != 0)
		return st;
	if (join(key, r->keys, "dev.key") < 0 || join(pub, r->keys, "dev.pubkey") < 0)
		return job_fail(r->job, 500, "Signing error");
	if ((st = sign_tool(r, "cc", "--chip", rk_soctype_chip(job_field(r->job, "soctype")), NULL,
			    NULL)) ||
	    (st = sign_tool(r, "lk", "--key", key, "--pubkey", pub)))
		return st;
	if (rk_to_boolean(job_field(r->job, "burn_key_hash")) &&
	    (st = sign_tool(r, "ss", "--flag", "0x20", NULL, NULL)))
		return st;
	if (idblock)
		return sign_tool(r, "sb", "--idb", img, NULL, NULL);
	return sign_tool(r, "sl", "--loader", img, NULL, NULL);
}

static int
rk_loader_run(struct rk *r, const char *type)
{
	char img[PATH_MAX], sum[65];
	struct json_t *o;
	int st;

	/* "rk_sign_tool fails if there is no dot in the file name" */
	if ((st = rk_place(r, "artifact.bin", img)) != 0 ||
	    (st = rk_loader(r, rk_artifact_type(type) == RK_IDBLOCK, img)) != 0)
		return st;
	if (pkey_sha256_file(img, sum) < 0)
		sum[0] = '\0';
	o = rk_audit(r);
	job_audit_text(o, "artifact_type", type);
	job_audit_text(o, "soctype", job_field(r->job, "soctype"));
	job_audit_bool(o, "burn_key_hash", rk_to_boolean(job_field(r->job, "burn_key_hash")));
	job_audit_list(o);
	job_audit_item(o, "artifact.signed", sum);
	job_audit_send(r->job, o);
	return job_reply_file(r->job, img, "artifact.signed");
}

static int
rk_run(struct job *job)
{
	int t = rk_artifact_type(job_field(job, "artifact_type"));
	struct rk r = {0};
	int st;

	/* the worker ran rk_precheck: t is one of the three */
	if ((st = rk_init(&r, job, RK_TAG, t != RK_FIT_IMAGE)) == 0)
		st = t == RK_FIT_IMAGE ? rk_fit_run(&r) : rk_loader_run(&r, rk_types[t]);
	rk_free(&r);
	return st;
}

SIGNER_DEFINE(rk, .selector_field = "machine", .selector_missing = "Invalid parameters",
	      .run = rk_run, .precheck = rk_precheck);

/* ------------------------------------------------------------------------
 * /sign/rkoptee-tee, /sign/rkoptee-ta
 */

/* Both endpoints need both tools, in upstream's order; 0 or status. */
static int
rkoptee_precheck(struct job *job)
{
	int st;

	if ((st = need_artifact(job)) != 0 || (st = tools_dir(job)) != 0 ||
	    (st = need(job, job->cfg->rk_tools_path, "change_puk")) != 0 ||
	    (st = need(job, job->cfg->rk_tools_path, "resign_ta.py")) != 0)
		return st;
	return 0;
}

static int
tee_sign(struct rk *r)
{
	char tee[PATH_MAX], key[PATH_MAX], sum[65];
	struct strv argv = {0};
	struct json_t *o;
	int st;

	if ((st = rk_place(r, "tee.bin", tee)) != 0 ||
	    (st = rk_key(r, "optee-signing-pubkey.pem", 0, 1)) != 0)
		return st;
	if (join(key, r->keys, "optee-signing-pubkey.pem") < 0)
		return job_fail(r->job, 500, "Signing error");
	strv_add(&argv, "change_puk");
	strv_add(&argv, "--teebin");
	strv_add(&argv, tee);
	strv_add(&argv, "--key");
	strv_add(&argv, key);
	if ((st = rk_tool(r, &argv)) != 0)
		return st;
	if (pkey_sha256_file(tee, sum) < 0)
		sum[0] = '\0';
	o = rk_audit(r);
	job_audit_list(o);
	job_audit_item(o, "tee.bin.signed", sum);
	job_audit_send(r->job, o);
	return job_reply_file(r->job, tee, "tee.bin.signed");
}

static int
tee_run(struct job *job)
{
	struct rk r = {0};
	int st;

	if ((st = rk_init(&r, job, RKOPTEE_TAG, 0)) == 0)
		st = tee_sign(&r);
	rk_free(&r);
	return st;
}

const struct signer signer_rkoptee_tee = {
    .path = "/sign/rkoptee-tee",
    .name = "rkoptee-tee",
    .selector_field = "machine",
    .selector_missing = "Invalid parameters",
    .run = tee_run,
    .precheck = rkoptee_precheck,
};

/* 1 for a regular file (or a hard link to one) whose name ends in .ta. */
static int
is_ta(const struct ar_entry *e)
{
	return (e->type == AR_FILE || e->type == AR_HARDLINK) && rk_ta_name(e->name);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* resign_ta.py on every .ta, in name order, the first failure ending it;
 * the names signed added to tas.  0 or the status set. */
static int
ta_sign_all(struct rk *r, const struct ar_list *list, struct strv *tas)
{
	char key[PATH_MAX];
	int st;

	for (size_t i = 0; i < list->n; i++)
		if (is_ta(&list->v[i]))
			strv_add(tas, list->v[i].name);
	if (tas->n > 1)
		qsort(tas->v, tas->n, sizeof(*tas->v), cmp_name);
	if ((st = rk_key(r, "optee-signing-key.pem", 1, 1)) != 0)
		return st;
	if (join(key, r->keys, "optee-signing-key.pem") < 0)
		return job_fail(r->job, 500, "Signing error");
	for (size_t i = 0; i < tas->n; i++) {
		struct strv argv = {0};

		strv_add(&argv, "resign_ta.py");
		strv_add(&argv, "--key");
		strv_add(&argv, key);
		strv_add(&argv, "--in");
		strv_addf(&argv, "%s/%s", r->work, tas->v[i]);
		if ((st = rk_tool(r, &argv)) != 0)
			return st;
		job_progress(r->job, "re-signed %zu/%zu", i + 1, tas->n);
	}
	return 0;
}

static void
ta_audit(struct rk *r, const struct strv *tas, const char *answer_sha256)
{
	struct json_t *o = rk_audit(r);
	char path[PATH_MAX], sum[65], *name;

	job_audit_int(o, "count", (long long)tas->n);
	job_audit_text(o, "answer_sha256", answer_sha256);
	job_audit_list(o);
	for (size_t i = 0; i < tas->n; i++) {
		name = xasprintf("./%s", tas->v[i]);
		job_audit_item(
		    o, name,
		    join(path, r->work, tas->v[i]) == 0 && pkey_sha256_file(path, sum) == 0 ? sum
											    : NULL);
		free(name);
	}
	job_audit_send(r->job, o);
}

static int
ta_run(struct job *job)
{
	struct rk r = {0};
	struct ar_list list = {0};
	struct strv tas = {0};
	char out[PATH_MAX], sum[65];
	int st;

	if ((st = rk_init(&r, job, RKOPTEE_TAG, 0)) == 0 && (st = rk_extract(&r, &list)) == 0 &&
	    (st = ta_sign_all(&r, &list, &tas)) == 0) {
		rk_free(&r); /* the key goes before the tree is packed */
		if ((st = rk_reply_tree(&r, out, sum)) == 0) {
			ta_audit(&r, &tas, sum);
			st = job_reply_file(job, out, RK_TREE_ANSWER);
		}
	}
	rk_free(&r);
	ar_list_free(&list);
	strv_free(&tas);
	return st;
}

const struct signer signer_rkoptee_ta = {
    .path = "/sign/rkoptee-ta",
    .name = "rkoptee-ta",
    .selector_field = "machine",
    .selector_missing = "Invalid parameters",
    .run = ta_run,
    .precheck = rkoptee_precheck,
};
