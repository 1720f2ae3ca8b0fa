/* SPDX-License-Identifier: MIT */
/*
 * bsptool.c: the Jetson signers that run one Python tool of the L4T BSP
 * (UPSTREAM-SIGNERS.md), both for L4T R35/R36 (UEFI boot):
 *
 *  /sign/tegra/ueficapsule (machine, soctype, bspversion, guid, artifact):
 *    the BSP's generate_capsule/Capsule/GenerateCapsule.py makes a signed
 *    UEFI capsule of a BUP payload, with the three certificate files of
 *    <machine>/ueficapsulesign/; answer artifact.cap.
 *  /sign/tegra/ekb (machine, soctype, bspversion; fields only): the OP-TEE
 *    sources' gen_ekb.py makes the encrypted key blob from the keys of
 *    <machine>/ekbsign/; answer ekb.img.
 *
 * The BSP tree is <L4T_TOOLS_BASE>/L4T-<bspversion>-<tree>/Linux_for_Tegra
 * (lib/l4t.c, as /sign/tegra finds it).  The tool runs as "python3 <script>"
 * with upstream's argv, in <job>/work (input and output), confined and
 * masked as every signer's tool (tool.h); the keys come from the key
 * process (MATERIALIZE, allowed for these endpoint/tag pairs only) into a
 * 0700 <job>/keys removed as soon as the tool is done.  Keys are audited and
 * logged by the SHA-256 of their bytes only.
 * Stricter than upstream: a bspversion without three numeric parts
 * (capsule), a missing guid or one that is not a GUID are 400 "Invalid
 * parameters" (upstream: 500); EKB needs fixed-vector only below R36,
 * where gen_ekb.py takes it; a missing key file is a 404 naming it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "buf.h"
#include "job.h"
#include "keyclient.h"
#include "keystore.h"
#include "l4t.h"
#include "log.h"
#include "mask.h"
#include "pkey.h"
#include "signer.h"
#include "tool.h"
#include "util.h"

#define CAPSULE_TAG "ueficapsulesign"
#define CAPSULE_SCRIPT "generate_capsule/Capsule/GenerateCapsule.py"
#define EKB_TAG "ekbsign"
#define EKB_SCRIPT "source/public/optee/samples/hwkey-agent/host/tool/gen_ekb/gen_ekb.py"
#define BSP_TAIL_LINES 20
#define BSP_KEYS_MAX 5
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* One key file the tool is given. */
struct bspkey {
	const char *file;   /* in <machine>/<tag>/ */
	const char *option; /* the tool's option before its path */
	int optional;       /* absent: the option is left out */
	int secret;         /* masked in the tool's output */
	int signer;         /* holds the private key whose fingerprint is key_sha256 */
	int present;
	char path[PATH_MAX];
	char sha256[65]; /* of its bytes: all the log and audit see */
};

struct bsp {
	struct job *job;
	const char *name; /* "capsule", "ekb": progress and logs */
	const char *tag;
	const char *soctype, *bspversion;
	int version[3];
	char tools[PATH_MAX]; /* the BSP's Linux_for_Tegra */
	char work[PATH_MAX];  /* <job>/work: the tool's cwd, input, output */
	char keys[PATH_MAX];  /* <job>/keys: the key files, for the tool only */
	char out[PATH_MAX];
	struct mask *mask;
	struct bspkey key[BSP_KEYS_MAX];
	size_t nkeys;
	char key_fpr[65]; /* the signer key's public key fingerprint, or "" */
};

/*
 * soctype, bspversion (its first nparts parts numbers) and the BSP tree,
 * in upstream's order; 0, or -1 with the reason logged (400 "Invalid
 * parameters" for the client).
 */
static int
bsp_params(struct bsp *b, struct job *job, int nparts)
{
	b->job = job;
	b->soctype = job_field(job, "soctype");
	b->bspversion = job_field(job, "bspversion");
	if (b->soctype == NULL ||
	    (strcmp(b->soctype, "tegra194") != 0 && strcmp(b->soctype, "tegra234") != 0)) {
		log_info("job %s: soctype invalid", job->idstr);
		return -1;
	}
	/* it names a directory: one safe path segment first */
	if (!ks_selector_valid(b->bspversion) ||
	    l4t_tools_dir(job->cfg->l4t_tools_base, b->bspversion, b->soctype, b->tools,
			  sizeof(b->tools)) < 0) {
		log_info("job %s: no tools for soctype=%s bspversion=%s", job->idstr, b->soctype,
			 b->bspversion ? b->bspversion : "(none)");
		return -1;
	}
	if (l4t_version_parse(b->bspversion, nparts, b->version) < 0) {
		log_info("job %s: bspversion %s needs %d numeric parts", job->idstr, b->bspversion,
			 nparts);
		return -1;
	}
	return 0;
}

/* <job>/work, <job>/keys (made later) and <job>/work/<answer>. */
static int
bsp_dirs(struct bsp *b, const char *answer)
{
	if (job_path(b->job, "work", b->work, sizeof(b->work)) < 0 ||
	    job_path(b->job, "keys", b->keys, sizeof(b->keys)) < 0 ||
	    snprintf(b->out, sizeof(b->out), "%s/%s", b->work, answer) >= (int)sizeof(b->out) ||
	    mkdir(b->work, 0700) < 0) {
		log_error("job %s: making the work directory", b->job->idstr);
		return job_fail(b->job, 500, "Signing error");
	}
	return 0;
}

static struct bspkey *
add_key(struct bsp *b, const char *file, const char *option, int optional, int secret)
{
	struct bspkey *k = &b->key[b->nkeys++];

	k->file = file;
	k->option = option;
	k->optional = optional;
	k->secret = secret;
	return k;
}

/* One key file from the key process into the keys directory.  0 (also
 * when optional and absent) or the status set. */
static int
fetch_key(struct bsp *b, struct bspkey *k)
{
	struct tool_key tk = {
	    .selector = b->job->selector,
	    .tag = b->tag,
	    .file = k->file,
	    .dir = b->keys,
	    .optional = k->optional,
	    .mask = k->secret ? b->mask : NULL,
	    .fpr = k->signer ? b->key_fpr : NULL,
	    .sha256 = k->sha256,
	    .path = k->path,
	};
	int st = tool_key_fetch(b->job, &tk);

	if (st != 0)
		return st == 1 ? 0 : st;
	k->present = 1;
	log_info("job %s: key %s/%s sha256 %s", b->job->idstr, b->tag, k->file, k->sha256);
	return 0;
}

/* The key options in order: "<option> <path>" for each present key. */
static void
key_args(const struct bsp *b, struct strv *argv)
{
	for (size_t i = 0; i < b->nkeys; i++) {
		if (!b->key[i].present)
			continue;
		strv_add(argv, b->key[i].option);
		strv_add(argv, b->key[i].path);
	}
}

/* The tool's environment: PATH, and no bytecode written into the BSP. */
static void
environment(struct strv *env)
{
	strv_addf(env, "PATH=%s", tool_path());
	strv_add(env, "PYTHONDONTWRITEBYTECODE=1");
}

/*
 * Fetch the keys, complete argv with them (args_fn), run the tool, remove
 * the keys whatever happened.  0 or the status set.
 */
static int
bsp_run(struct bsp *b, const char *script, void (*args_fn)(const struct bsp *, struct strv *))
{
	struct strv argv = {0}, env = {0};
	struct tool tool = {.cwd = b->work, .tail_lines = BSP_TAIL_LINES};
	int st = 0;

	if (mkdir(b->keys, 0700) < 0) {
		log_error("job %s: mkdir %s", b->job->idstr, b->keys);
		return job_fail(b->job, 500, "Signing error");
	}
	b->mask = mask_new();
	for (size_t i = 0; i < b->nkeys && st == 0; i++)
		st = fetch_key(b, &b->key[i]);
	if (st == 0) {
		strv_add(&argv, "python3");
		strv_addf(&argv, "%s/%s", b->tools, script);
		args_fn(b, &argv);
		environment(&env);
		tool.argv = argv.v;
		tool.envp = env.v;
		tool.mask = b->mask;
		job_progress(b->job, "%s: %s", b->name, strrchr(script, '/') + 1);
		st = tool_run(b->job, &tool);
	}
	if (util_rm_rf(b->keys) < 0)
		log_warn("job %s: removing the key directory", b->job->idstr);
	mask_free(b->mask);
	b->mask = NULL;
	strv_free(&argv);
	strv_free(&env);
	return st;
}

/* The answer must be there, a regular file; 0 or 500 set. */
static int
bsp_check_out(struct bsp *b, char sha256[65])
{
	struct stat st;

	if (lstat(b->out, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_errorx("job %s: the tool exited 0 but made no %s", b->job->idstr, b->out);
		return job_fail(b->job, 500, "Signing error");
	}
	if (pkey_sha256_file(b->out, sha256) < 0)
		sha256[0] = '\0';
	return 0;
}

/* The audit's key fields: "<file with . and - as _>_sha256" (null when
 * an optional key is absent). */
static void
audit_keys(const struct bsp *b, struct json_t *o)
{
	for (size_t i = 0; i < b->nkeys; i++) {
		char name[80];

		snprintf(name, sizeof(name), "%s_sha256", b->key[i].file);
		for (char *p = name; *p; p++)
			if (*p == '.' || *p == '-')
				*p = '_';
		job_audit_text(o, name, b->key[i].present ? b->key[i].sha256 : NULL);
	}
}

/* ------------------------------------------------------------------------
 * /sign/tegra/ueficapsule
 */

/* The capsule's fields after the BSP's: guid; 0 or 400 set. */
static int
capsule_params(struct bsp *b, struct job *job)
{
	const char *guid;

	if (bsp_params(b, job, 3) < 0)
		return job_fail(job, 400, "Invalid parameters");
	guid = job_field(job, "guid");
	if (guid == NULL || *guid == '\0')
		return job_fail(job, 400, "Invalid parameters");
	if (!l4t_guid_valid(guid))
		return job_fail(job, 400, "Invalid parameters: guid is not a GUID");
	return 0;
}

static int
capsule_precheck(struct job *job)
{
	const struct form_file *f = job_file(job, "artifact");
	struct bsp b = {0};

	/* upstream's order: the artifact, then the parameters */
	if (f == NULL || f->path == NULL || strcmp(f->type, "application/octet-stream") != 0)
		return job_fail(job, 400, "Invalid artifact");
	return capsule_params(&b, job);
}

static void
capsule_args(const struct bsp *b, struct strv *argv)
{
	char ver[32];

	l4t_version_hex(b->version, ver, sizeof(ver));
	strv_add(argv, "-v");
	strv_add(argv, "--encode");
	strv_add(argv, "--monotonic-count");
	strv_add(argv, "1");
	strv_add(argv, "--fw-version");
	strv_add(argv, ver);
	strv_add(argv, "--lsv");
	strv_add(argv, ver);
	strv_add(argv, "--guid");
	strv_add(argv, job_field(b->job, "guid"));
	key_args(b, argv);
	strv_add(argv, "-o");
	strv_add(argv, b->out);
	strv_addf(argv, "%s/artifact", b->work);
}

static void
capsule_audit(struct bsp *b, const char *in_sha256, const char *out_sha256)
{
	struct json_t *o = job_audit_new();
	char ver[32];

	l4t_version_hex(b->version, ver, sizeof(ver));
	job_audit_text(o, "soctype", b->soctype);
	job_audit_text(o, "bspversion", b->bspversion);
	job_audit_text(o, "fw_version", ver);
	job_audit_text(o, "guid", job_field(b->job, "guid"));
	job_audit_text(o, "input_sha256", in_sha256);
	job_audit_text(o, "key_sha256", b->key_fpr[0] ? b->key_fpr : NULL);
	audit_keys(b, o);
	job_audit_list(o);
	job_audit_item(o, "artifact.cap", out_sha256);
	job_audit_send(b->job, o);
}

static int
capsule_run(struct job *job)
{
	const struct form_file *f = job_file(job, "artifact");
	struct bsp b = {.name = "capsule", .tag = CAPSULE_TAG};
	char in[PATH_MAX], in_sha256[65] = "", out_sha256[65];
	int st;

	/* the worker ran capsule_precheck: the artifact is there */
	if ((st = capsule_params(&b, job)) != 0 || (st = bsp_dirs(&b, "artifact.cap")) != 0)
		return st;
	/* upstream's <workdir>/artifact */
	if (snprintf(in, sizeof(in), "%s/artifact", b.work) >= (int)sizeof(in) ||
	    rename(f->path, in) < 0) {
		log_error("job %s: moving the upload", job->idstr);
		return job_fail(job, 500, "Signing error");
	}
	if (pkey_sha256_file(in, in_sha256) < 0)
		in_sha256[0] = '\0';
	add_key(&b, "signer_private_cert.pem", "--signer-private-cert", 0, 1)->signer = 1;
	add_key(&b, "other_public_cert.pem", "--other-public-cert", 0, 0);
	add_key(&b, "trusted_public_cert.pem", "--trusted-public-cert", 0, 0);
	if ((st = bsp_run(&b, CAPSULE_SCRIPT, capsule_args)) != 0 ||
	    (st = bsp_check_out(&b, out_sha256)) != 0)
		return st;
	capsule_audit(&b, in_sha256, out_sha256);
	return job_reply_file(job, b.out, "artifact.cap");
}

const struct signer signer_ueficapsule = {
    .path = "/sign/tegra/ueficapsule",
    .name = "tegra/ueficapsule",
    .selector_field = "machine",
    .selector_missing = "Invalid parameters",
    .run = capsule_run,
    .precheck = capsule_precheck,
};

/* ------------------------------------------------------------------------
 * /sign/tegra/ekb
 */

static int
ekb_precheck(struct job *job)
{
	struct bsp b = {0};

	if (bsp_params(&b, job, 1) < 0)
		return job_fail(job, 400, "Invalid parameters");
	return 0;
}

static void
ekb_args(const struct bsp *b, struct strv *argv)
{
	strv_add(argv, "-chip");
	strv_add(argv, strcmp(b->soctype, "tegra234") == 0 ? "t234" : "t194");
	/* upstream's order: the two required keys, -out, then the rest */
	for (size_t i = 0; i < 2; i++) {
		strv_add(argv, b->key[i].option);
		strv_add(argv, b->key[i].path);
	}
	strv_add(argv, "-out");
	strv_add(argv, b->out);
	for (size_t i = 2; i < b->nkeys; i++) {
		if (!b->key[i].present)
			continue;
		strv_add(argv, b->key[i].option);
		strv_add(argv, b->key[i].path);
	}
}

static void
ekb_audit(struct bsp *b, const char *out_sha256)
{
	struct json_t *o = job_audit_new();

	job_audit_text(o, "soctype", b->soctype);
	job_audit_text(o, "bspversion", b->bspversion);
	audit_keys(b, o);
	job_audit_list(o);
	job_audit_item(o, "ekb.img", out_sha256);
	job_audit_send(b->job, o);
}

static int
ekb_run(struct job *job)
{
	struct bsp b = {.name = "ekb", .tag = EKB_TAG};
	char out_sha256[65];
	int st;

	if (bsp_params(&b, job, 1) < 0)
		return job_fail(job, 400, "Invalid parameters");
	if ((st = bsp_dirs(&b, "ekb.img")) != 0)
		return st;
	add_key(&b, "oem_k1.key", "-oem_k1_key", 0, 1);
	add_key(&b, "uefi-variable-authentication.key", "-in_auth_key", 0, 1);
	/* gen_ekb.py v1.6 (R36) has no -fv: it makes its own */
	if (b.version[0] < 36)
		add_key(&b, "fixed-vector", "-fv", 0, 1);
	add_key(&b, "kernel-encryption.key", "-in_sym_key", 1, 1);
	add_key(&b, "disk-encryption.key", "-in_sym_key2", 1, 1);
	if ((st = bsp_run(&b, EKB_SCRIPT, ekb_args)) != 0 ||
	    (st = bsp_check_out(&b, out_sha256)) != 0)
		return st;
	ekb_audit(&b, out_sha256);
	return job_reply_file(job, b.out, "ekb.img");
}

const struct signer signer_ekb = {
    .path = "/sign/tegra/ekb",
    .name = "tegra/ekb",
    .selector_field = "machine",
    .selector_missing = "Invalid parameters",
    .run = ekb_run,
    .precheck = ekb_precheck,
};
