/* SPDX-License-Identifier: MIT */
/*
 * tegra.c: /sign/tegra, NVIDIA Jetson (L4T) secure-boot signing.
 *
 * The client (meta-tegra's tegrasign bbclass) uploads its whole flash
 * package as a tar.gz with a MANIFEST of KEY=VALUE lines.  As the
 * original's TegraSigner does, the job extracts it into a work directory,
 * stages copies of the BSP's signing scripts from
 * $L4T_TOOLS_BASE/L4T-<bspversion>-<tree>/Linux_for_Tegra into
 * <work>/_tools (python2 launchers for the Python 2 ones), links a few of
 * them into the work directory, writes the keys for the tool into a 0600
 * directory beside it, and runs meta-tegra's <soc>-flash-helper (or
 * tegra-signimage-helper for SIGNFILES) there with an environment of
 * exactly the MANIFEST variables plus PATH and MACHINE:
 *
 *   BUPGENSPECS  one --bup run per spec, each with its settings upper-cased
 *                as environment overrides; only payloads* is answered
 *   SIGNFILES    tegra-signimage-helper on every uploaded file; only the
 *                <file>.sig files are answered
 *   otherwise    one --no-flash run; what was there before the run (inputs,
 *                MANIFEST, staged tools and links) and the tool's scratch
 *                files are removed (with BUPGEN, only payloads* is kept)
 *
 * The rest of the work directory is answered as signed-artifact.tar.gz
 * with members "./...".  Stricter than the original: every bad input is a
 * 400 with a reason (the original answers several with 500), and the file
 * names the MANIFEST gives the command line must stay inside the artifact.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "dss_archive.h"
#include "buf.h"
#include "job.h"
#include "flashvars.h"
#include "fsutil.h"
#include "keystore.h"
#include "keyclient.h"
#include "l4t.h"
#include "log.h"
#include "manifest.h"
#include "mask.h"
#include "pkey.h"
#include "signer.h"
#include "tool.h"
#include "util.h"

#define TEGRA_TAG "tegrasign"
#define TEGRA_ANSWER "signed-artifact.tar.gz"
#define TEGRA_WORK "tegra-work" /* the original's workdir, inside the job dir */
#define TEGRA_KEYS "tegra-keys" /* key files for the tool (0700 dir, 0600 files) */
#define TEGRA_TOOLS_DIR "_tools" /* in the work directory: the staged tools */
#define TEGRA_MANIFEST_MAX (1024 * 1024)
#define TEGRA_TAIL_LINES 20
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum tegra_mode { MODE_SIGN, MODE_BUPGEN, MODE_BUPGENSPECS, MODE_SIGNFILES };

static const char *const mode_names[] = {"sign", "bupgen", "bupgenspecs", "signfiles"};

struct tegra {
	struct job *job;
	const char *machine, *soctype, *bspversion;
	int major, minor, maint;
	int tegrasign_v3, encrypted_kernel;
	enum tegra_mode mode;
	char tools[PATH_MAX]; /* the BSP's Linux_for_Tegra */
	char work[PATH_MAX];  /* extraction, staging and the tool's cwd */
	char local[PATH_MAX]; /* <work>/_tools */
	char keys[PATH_MAX];  /* <job>/tegra-keys */
	char pkc[PATH_MAX], sbk[PATH_MAX], user_key[PATH_MAX]; /* "" when absent */
	char key_fpr[65];
	struct manifest mf;
	struct strv scripts;  /* relative to Linux_for_Tegra */
	struct mask *mask;    /* key material a tool might echo */
	struct strv execs;    /* "<mode> <name>" of uploaded files extracted non-executable */
};

static void
add_all(struct strv *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		strv_add(s, list[i]);
}

/* Set (or replace) name=value in an environment list. */
static void
env_set(struct strv *env, const char *name, const char *value)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < env->n; i++) {
		if (strncmp(env->v[i], name, nl) == 0 && env->v[i][nl] == '=') {
			free(env->v[i]);
			env->v[i] = xasprintf("%s=%s", name, value);
			return;
		}
	}
	strv_addf(env, "%s=%s", name, value);
}

static int
at_least(const struct tegra *t, int major, int minor)
{
	return t->major > major || (t->major == major && t->minor >= minor);
}

/* The first three dot-separated parts of v as numbers, as the original's
 * int() of each does (lib/l4t.c); 0 or -1.  The whole string must be one
 * safe path segment: it names a directory. */
static int
parse_bspversion(struct tegra *t, const char *v)
{
	int parts[3];

	if (v == NULL || !ks_selector_valid(v) || l4t_version_parse(v, 3, parts) < 0)
		return -1;
	t->major = parts[0];
	t->minor = parts[1];
	t->maint = parts[2];
	return 0;
}

/*
 * Check soctype and bspversion and find the BSP tree, as the original's
 * TegraSigner constructor does; 0, or -1 with the reason logged.
 */
static int
tegra_params(struct tegra *t, struct job *job)
{
	static const char *const socs[] = {"tegra186", "tegra194", "tegra210", "tegra234"};
	size_t i;

	t->job = job;
	t->soctype = job_field(job, "soctype");
	t->bspversion = job_field(job, "bspversion");
	for (i = 0; i < NELEM(socs); i++)
		if (t->soctype != NULL && strcmp(t->soctype, socs[i]) == 0)
			break;
	if (i == NELEM(socs)) {
		log_info("job %s: soctype invalid", job->idstr);
		return -1;
	}
	if (parse_bspversion(t, t->bspversion) < 0) {
		log_info("job %s: bspversion invalid", job->idstr);
		return -1;
	}
	if (l4t_tools_dir(job->cfg->l4t_tools_base, t->bspversion, t->soctype, t->tools,
			  sizeof(t->tools)) < 0) {
		log_info("job %s: no tools for soctype=%s bspversion=%s (%s)", job->idstr,
			 t->soctype, t->bspversion, t->tools);
		return -1;
	}
	if (strcmp(t->soctype, "tegra210") == 0) {
		t->tegrasign_v3 = 0;
		t->encrypted_kernel = 0;
	} else {
		t->tegrasign_v3 = at_least(t, 32, 5);
		if (strcmp(t->soctype, "tegra194") == 0 || strcmp(t->soctype, "tegra234") == 0)
			t->encrypted_kernel = t->major < 34;
		else
			t->encrypted_kernel = at_least(t, 32, 6);
	}
	return 0;
}

/* The BSP files staged for this soc and version (TegraSigner.__init__). */
static void
tegra_script_list(struct tegra *t)
{
	static const char *const signing[] = {
		"bootloader/tegraflash.py", "bootloader/tegraflash_internal.py",
		"bootloader/BUP_generator.py", "bootloader/odmsign.func",
		"bootloader/l4t_bup_gen.func",
	};
	static const char *const v3_scripts[] = {"tegra-signimage-helper", "l4t_sign_image.sh"};
	static const char *const v3_support[] = {
		"bootloader/tegrasign_v3.py", "bootloader/tegrasign_v3_internal.py",
		"bootloader/tegrasign_v3_util.py",
	};
	static const char *const r35[] = {
		"bootloader/dtbcheck.py", "bootloader/tegraflash_impl_t234.py",
		"bootloader/t194.py", "bootloader/t234.py", "bootloader/ed25519.py",
		"bootloader/tegrasign_v3_hsm.py", "bootloader/tegraopenssl", "bootloader/pyfdt",
	};
	add_all(&t->scripts, signing, NELEM(signing));
	strv_addf(&t->scripts, "bootloader/%s-flash-helper", t->soctype);
	if (strcmp(t->soctype, "tegra210") == 0) {
		if (at_least(t, 32, 6))
			strv_add(&t->scripts, "bootloader/nvflashxmlparse");
	} else {
		strv_add(&t->scripts, "bootloader/nvflashxmlparse");
		strv_add(&t->scripts, "bootloader/rollback/rollback_parser.py");
		if (t->major == 32 && (t->minor > 7 || (t->minor == 7 && t->maint >= 4)))
			strv_add(&t->scripts, "bootloader/rewrite-tegraflash-args");
	}
	if (t->tegrasign_v3) {
		add_all(&t->scripts, v3_scripts, NELEM(v3_scripts));
		add_all(&t->scripts, v3_support, NELEM(v3_support));
	} else if (at_least(t, 32, 6)) {
		add_all(&t->scripts, v3_support, NELEM(v3_support));
	}
	if (t->major == 35)
		strv_add(&t->scripts, "bootloader/tegrasign_v3_oemkey.yaml");
	else if (t->major >= 36)
		strv_add(&t->scripts, "bootloader/tegrasign_v3_oemkey_t234.yaml");
	if (t->major >= 35)
		add_all(&t->scripts, r35, NELEM(r35));
}

/* Does the script at path start with "#!...python" or "#!...python2"
 * (the original's re.match(r'#!.*(python|python2)$', first line))? */
static int
needs_python2(const char *path)
{
	char line[4096];
	size_t n;
	FILE *fp = fopen(path, "re");

	if (fp == NULL)
		return -1;
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	n = strlen(line);
	while (n > 0 && isspace((unsigned char)line[n - 1]))
		line[--n] = '\0';
	if (strncmp(line, "#!", 2) != 0)
		return 0;
	return (n >= 8 && strcmp(line + n - 6, "python") == 0) ||
	       (n >= 9 && strcmp(line + n - 7, "python2") == 0);
}

/* Make the directories of dst below <work>/_tools (bootloader,
 * bootloader/rollback); 0 or -1 (logged). */
static int
stage_parents(const struct tegra *t, char *dst)
{
	for (char *q = strchr(dst + strlen(t->local) + 1, '/'); q != NULL; q = strchr(q + 1, '/')) {
		int rc;

		*q = '\0';
		rc = mkdir(dst, 0700) < 0 && errno != EEXIST ? -1 : 0;
		if (rc < 0)
			log_error("mkdir %s", dst);
		*q = '/';
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Is script one the original runs through a python2 launcher, and does
 * its first line ask for Python?  1, 0, or -1 (logged). */
static int
stage_needs_python2(const struct tegra *t, const char *script, const char *src)
{
	int wrap;

	if (strcmp(script, "bootloader/BUP_generator.py") != 0 &&
	    (strcmp(script, "bootloader/rollback/rollback_parser.py") != 0 ||
	     strcmp(t->soctype, "tegra210") == 0))
		return 0;
	if ((wrap = needs_python2(src)) < 0)
		log_error("read %s", src);
	return wrap;
}

/* Stage src as <dst>.real with a launcher dst that runs it with python2;
 * 0 or -1 (logged). */
static int
stage_wrapped(const char *src, const char *dst)
{
	char *real = xasprintf("%s.real", dst), *body;
	int rc;

	if (fs_copy_file(src, real) < 0) {
		log_error("copy %s", src);
		free(real);
		return -1;
	}
	body = xasprintf("#!/bin/sh\npython2 %s \"$@\"\n", real);
	rc = util_write_file(dst, body, strlen(body), 0700);
	if (rc == 0)
		rc = chmod(dst, 0755);
	if (rc < 0)
		log_error("write %s", dst);
	log_debug("copy-wrapped %s -> %s", src, dst);
	free(body);
	free(real);
	return rc;
}

/* Copy one BSP file into <work>/_tools (TegraSigner._prepare_scripts). */
static int
stage_one(struct tegra *t, const char *script)
{
	static const char *const no_pycache[] = {"__pycache__", NULL};
	char *src = xasprintf("%s/%s", t->tools, script);
	char *dst = xasprintf("%s/%s", t->local, script);
	struct stat st;
	int rc = -1, wrap;

	if (stage_parents(t, dst) < 0)
		goto done;
	if (stat(src, &st) < 0) {
		log_error("BSP file %s", src);
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		if ((rc = fs_copy_tree(src, dst, no_pycache)) < 0)
			log_error("copy %s", src);
		goto done;
	}
	if ((wrap = stage_needs_python2(t, script, src)) < 0)
		goto done;
	if (wrap) {
		rc = stage_wrapped(src, dst);
		goto done;
	}
	if (fs_copy_file(src, dst) < 0) {
		log_error("copy %s", src);
		goto done;
	}
	log_debug("copied %s -> %s", src, dst);
	rc = 0;
done:
	free(src);
	free(dst);
	return rc;
}

/* Replace whatever is at <work>/<name> by a link to <_tools>/bootloader/<name>. */
static int
link_tool(struct tegra *t, const char *name)
{
	char *target = xasprintf("%s/bootloader/%s", t->local, name);
	char *path = xasprintf("%s/%s", t->work, name);
	int rc;

	if ((rc = util_rm_rf(path)) == 0)
		rc = symlink(target, path);
	if (rc < 0)
		log_error("symlink %s", path);
	free(target);
	free(path);
	return rc;
}

/* The links to the tools tegra_stage makes in the work directory: every
 * time, from R35, for tegra210, and for the others (in a real directory). */
static const char *const links[] = {"tegraflash.py", "BUP_generator.py"};
static const char *const links_r35[] = {"dtbcheck.py", "t194.py", "t234.py"};
static const char *const links_t210[] = {"tegra210-flash-helper", "odmsign.func",
					 "l4t_bup_gen.func"};
#define ROLLBACK_LINK "rollback/rollback_parser.py"

/* Stage the tools and the links the helpers expect; 0 or -1 (logged). */
static int
tegra_stage(struct tegra *t)
{
	char *dir;
	struct stat st;
	int rc = 0;

	if (util_rm_rf(t->local) < 0 || mkdir(t->local, 0700) < 0) {
		log_error("mkdir %s", t->local);
		return -1;
	}
	for (size_t i = 0; i < t->scripts.n; i++)
		if (stage_one(t, t->scripts.v[i]) < 0)
			return -1;
	for (size_t i = 0; i < NELEM(links); i++)
		if (link_tool(t, links[i]) < 0)
			return -1;
	if (t->major >= 35)
		for (size_t i = 0; i < NELEM(links_r35); i++)
			if (link_tool(t, links_r35[i]) < 0)
				return -1;
	if (strcmp(t->soctype, "tegra210") == 0) {
		for (size_t i = 0; i < NELEM(links_t210); i++)
			if (link_tool(t, links_t210[i]) < 0)
				return -1;
		return 0;
	}
	/* rollback/rollback_parser.py: a real directory, never the upload's link. */
	dir = xasprintf("%s/rollback", t->work);
	if (lstat(dir, &st) == 0 && !S_ISDIR(st.st_mode) && unlink(dir) < 0)
		rc = -1;
	if (rc == 0 && mkdir(dir, 0700) < 0 && errno != EEXIST)
		rc = -1;
	if (rc < 0)
		log_error("mkdir %s", dir);
	free(dir);
	if (rc == 0)
		rc = link_tool(t, ROLLBACK_LINK);
	return rc;
}

/* A name from the MANIFEST that the helper reads: relative, no "..", and
 * never taken for an option (no leading '-'). */
static int
inside_name(const char *name)
{
	const char *why;
	char norm[PATH_MAX];

	return name[0] != '\0' && name[0] != '-' && ar_normalize(name, norm, sizeof(norm), &why) == 0 &&
	       strcmp(norm, ".") != 0;
}

/* os.path.splitext: split a path at the last '.' of its last component,
 * leading dots of that component excepted. */
static void
split_ext(const char *path, char **root, const char **ext)
{
	const char *base = strrchr(path, '/'), *dot;

	base = base ? base + 1 : path;
	while (*base == '.')
		base++;
	dot = strrchr(base, '.');
	if (dot == NULL)
		dot = path + strlen(path);
	*root = xstrndup(path, (size_t)(dot - path));
	*ext = dot;
}

/* White space as Python's str.split() sees it in ASCII text. */
static int
spec_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* The white-space separated specs of BUPGENSPECS. */
static void
split_specs(const char *specs, struct strv *out)
{
	for (const char *p = specs; *p;) {
		const char *end;

		while (*p && spec_space(*p))
			p++;
		if (*p == '\0')
			break;
		for (end = p; *end && !spec_space(*end);)
			end++;
		strv_addn(out, p, (size_t)(end - p));
		p = end;
	}
}

/* Check one spec "var=value;var=value...": every setting has exactly one
 * '=' and a name (the original's var, val = setting.split('=')). */
static int
check_spec(const char *spec)
{
	const char *s = spec;

	for (;;) {
		size_t len = strcspn(s, ";");
		const char *eq = memchr(s, '=', len);

		if (eq == NULL || eq == s || memchr(eq + 1, '=', len - (size_t)(eq - s) - 1) != NULL)
			return -1;
		if (!manifest_env_name_ok(s, (size_t)(eq - s)))
			return -2;
		if (strcspn(eq + 1, "$`&|<>\\()\"'") < len - (size_t)(eq - s) - 1)
			return -3;
		if (s[len] == '\0')
			return 0;
		s += len + 1;
	}
}

/*
 * The MANIFEST variables become the helper's environment.  Names that
 * would make a shell, Python or the dynamic linker load code are refused
 * (as before); of the rest, only those the helpers read are passed on
 * (the allowlist of flashvars.h), and their values may hold nothing a
 * shell interprets: the helpers eval command lines built from them.
 * 0, or 400 set.
 */
static int
tegra_check_vars(struct tegra *t)
{
	for (size_t i = 0; i < t->mf.n; i++) {
		const char *name = t->mf.vars[i].name, *v = t->mf.vars[i].value;

		if (!manifest_env_name_ok(name, strlen(name)))
			return job_fail(t->job, 400, "Invalid manifest: %.64s may not be set", name);
		if (!flashvars_env_passed(name)) {
			log_info("job %s: MANIFEST %.64s is not passed to the helper (not one it reads)",
				 t->job->idstr, name);
			continue;
		}
		if (strcmp(name, "ODMDATA") == 0 && !flashvars_odmdata_ok(v))
			return job_fail(t->job, 400,
					"Invalid artifact: ODMDATA must be 0x<hex>, a number or a "
					"comma-separated list of words");
		if (strcmp(name, "BUPGENSPECS") != 0 &&
		    !flashvars_env_value_ok(v, strcmp(name, "SIGNFILES") == 0))
			return job_fail(t->job, 400,
					"Invalid artifact: MANIFEST %s has characters a shell would "
					"interpret",
					name);
	}
	return 0;
}

/* Check the syntax of BUPGENSPECS (check_spec); 0, or 400 set. */
static int
tegra_check_specs(struct tegra *t, const char *specs)
{
	struct strv list = {0};
	size_t n, bad = 0;
	int why = 0;

	split_specs(specs, &list);
	for (size_t i = 0; i < list.n && bad == 0; i++)
		if ((why = check_spec(list.v[i])) < 0)
			bad = i + 1;
	n = list.n;
	strv_free(&list);
	if (n == 0)
		return job_fail(t->job, 400, "Invalid BUPGENSPECS: no spec");
	if (bad && why == -2)
		return job_fail(t->job, 400,
				"Invalid BUPGENSPECS: spec %zu: a setting names a variable that may "
				"not be set",
				bad);
	if (bad && why == -3)
		return job_fail(t->job, 400,
				"Invalid BUPGENSPECS: spec %zu: a value has characters a shell would "
				"interpret",
				bad);
	if (bad)
		return job_fail(t->job, 400,
				"Invalid BUPGENSPECS: spec %zu: each setting must be name=value", bad);
	return 0;
}

/* Does every comma-separated name in list stay inside the artifact? */
static int
inside_names(const char *list)
{
	char *copy = xstrdup(list), *save = NULL;
	int ok = 1;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!inside_name(tok))
			ok = 0;
	free(copy);
	return ok;
}

/* 0 if the upload has a regular file (or a link to one, inside it) at
 * name, else 400 set. */
static int
need_file(struct tegra *t, const char *name)
{
	char *path = xasprintf("%s/%s", t->work, name);
	struct stat st;
	int ok = stat(path, &st) == 0 && S_ISREG(st.st_mode);

	free(path);
	if (!ok)
		return job_fail(t->job, 400, "Invalid artifact: %s missing or not a regular file",
				name);
	return 0;
}

/*
 * Check the MANIFEST for the mode: the variables the command line needs,
 * the file names it passes, and the BUPGENSPECS syntax.  0, or 400 set.
 */
static int
tegra_check_manifest(struct tegra *t)
{
	static const char *const need[] = {"DTBFILE", "ODMDATA", "LNXFILE"};
	const char *specs, *v;
	int rc;

	if ((specs = manifest_get(&t->mf, "BUPGENSPECS")) != NULL)
		t->mode = MODE_BUPGENSPECS;
	else if (manifest_get(&t->mf, "SIGNFILES") != NULL)
		t->mode = MODE_SIGNFILES;
	else if (manifest_get(&t->mf, "BUPGEN") != NULL)
		t->mode = MODE_BUPGEN;
	else
		t->mode = MODE_SIGN;
	if ((rc = tegra_check_vars(t)) != 0)
		return rc;
	if (t->mode == MODE_SIGNFILES)
		return 0;
	for (size_t i = 0; i < NELEM(need); i++)
		if (manifest_get(&t->mf, need[i]) == NULL)
			return job_fail(t->job, 400, "Invalid manifest: %s missing", need[i]);
	if (!inside_name(manifest_get(&t->mf, "DTBFILE")) ||
	    !inside_name(manifest_get(&t->mf, "LNXFILE")))
		return job_fail(t->job, 400,
				"Invalid manifest: DTBFILE and LNXFILE must name files in the artifact");
	if ((v = manifest_get(&t->mf, "EMMC_BCTS")) != NULL && !inside_names(v))
		return job_fail(t->job, 400,
				"Invalid manifest: EMMC_BCTS must name files in the artifact");
	if (strcmp(t->soctype, "tegra210") == 0 && (v = manifest_get(&t->mf, "boardcfg")) != NULL &&
	    *v != '\0' && !inside_name(v))
		return job_fail(t->job, 400,
				"Invalid manifest: boardcfg must name a file in the artifact");
	/* the helper fails on a missing input: that is the upload's fault,
	 * not a server error for curl --retry to upload again */
	if ((rc = need_file(t, "flash.xml.in")) != 0 ||
	    (rc = need_file(t, manifest_get(&t->mf, "DTBFILE"))) != 0 ||
	    (rc = need_file(t, manifest_get(&t->mf, "LNXFILE"))) != 0)
		return rc;
	if (t->mode == MODE_BUPGENSPECS)
		return tegra_check_specs(t, specs);
	return 0;
}

/* The environment: the MANIFEST variables, PATH and MACHINE (_prepare_path). */
static void
tegra_env(struct tegra *t, struct strv *env)
{
	const char *cur = getenv("PATH");
	char *path;

	for (size_t i = 0; i < t->mf.n; i++)
		if (flashvars_env_passed(t->mf.vars[i].name))
			env_set(env, t->mf.vars[i].name, t->mf.vars[i].value);
	path = xasprintf("%s:%s/bootloader:%s:%s/bootloader%s%s", t->local, t->local, t->tools,
			 t->tools, cur && *cur ? ":" : "", cur && *cur ? cur : "");
	env_set(env, "PATH", path);
	free(path);
	env_set(env, "MACHINE", t->machine);
}

/* The flash helper's command line (_prepare_cmd). */
static void
tegra_cmd(struct tegra *t, struct strv *argv)
{
	const char *bcts = manifest_get(&t->mf, "EMMC_BCTS"), *boardcfg;
	int t210 = strcmp(t->soctype, "tegra210") == 0;

	strv_addf(argv, "%s%s-flash-helper", t210 ? "./" : "", t->soctype);
	strv_add(argv, t->mode == MODE_BUPGENSPECS ? "--bup" : "--no-flash");
	strv_add(argv, "-u");
	strv_add(argv, t->pkc);
	if (!t210 && t->sbk[0]) {
		strv_add(argv, "-v");
		strv_add(argv, t->sbk);
	}
	if (!t210 && t->user_key[0]) {
		strv_add(argv, "--user_key");
		strv_add(argv, t->user_key);
	}
	strv_add(argv, "flash.xml.in");
	strv_add(argv, manifest_get(&t->mf, "DTBFILE"));
	if (bcts != NULL)
		strv_add(argv, bcts);
	else if (strcmp(t->soctype, "tegra194") == 0)
		strv_addf(argv, "%s.cfg,%s-override.cfg", t->machine, t->machine);
	else
		strv_addf(argv, "%s.cfg", t->machine);
	strv_add(argv, manifest_get(&t->mf, "ODMDATA"));
	/* Present but empty in most clients' MANIFEST: an empty argument. */
	if (t210 && (boardcfg = manifest_get(&t->mf, "boardcfg")) != NULL)
		strv_add(argv, boardcfg);
	strv_add(argv, manifest_get(&t->mf, "LNXFILE"));
}

/* Run one tool; 0 when it succeeded, else 500 set (the reason is logged). */
static int
tegra_run(struct tegra *t, struct strv *argv, struct strv *env)
{
	struct tool tool = {
	    .argv = argv->v,
	    .envp = env->v,
	    .cwd = t->work,
	    .mask = t->mask,
	    .tail_lines = TEGRA_TAIL_LINES,
	};

	return tool_run(t->job, &tool);
}

/* Remove <work>/<name>; name may have several components (from LNXFILE),
 * which are opened without following links. */
static void
remove_name(struct tegra *t, const char *name)
{
	char *path;

	if (strchr(name, '/') == NULL) {
		path = xasprintf("%s/%s", t->work, name);
		if (util_rm_rf(path) < 0)
			log_warn("remove %s", path);
		free(path);
		return;
	}
	int root = open(t->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *base;
	char norm[PATH_MAX];
	const char *why;
	int dfd;

	if (root < 0)
		return;
	if (ar_normalize(name, norm, sizeof(norm), &why) == 0 &&
	    (dfd = ar_open_parent(root, norm, 0, &base)) >= 0) {
		if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT)
			log_warn("remove %s", norm);
		close(dfd);
	}
	close(root);
}

static int
keep_payloads(const char *name, void *arg)
{
	(void)arg;
	return strncmp(name, "payloads", 8) == 0;
}

static int
keep_listed(const char *name, void *arg)
{
	return strv_find(arg, name) >= 0;
}

/* Get a key (MATERIALIZE: the Tegra tools read key files), write it for
 * the tool, add it to the output mask (whatever form a tool might print
 * it in, mask.h); path gets where, "" when optional and absent.
 * 0, 1 when optional and absent, or the answer's status. */
static int
tegra_key(struct tegra *t, const char *file, int optional, char *path)
{
	struct tool_key k = {
	    .selector = t->machine,
	    .tag = TEGRA_TAG,
	    .file = file,
	    .dir = t->keys,
	    .optional = optional,
	    .mask = t->mask,
	    .fpr = strcmp(file, "rsa_priv.pem") == 0 ? t->key_fpr : NULL,
	    .path = path,
	};

	return tool_key_fetch(t->job, &k);
}

/* The SHA-256 of the list as sha256sum prints it ("<sha256>  <name>\n"). */
static void
list_digest(const struct strv *files, const struct strv *sums, char hex[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[SHA256_DIGEST_LENGTH];

	hex[0] = '\0';
	if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		for (size_t i = 0; i < files->n; i++) {
			EVP_DigestUpdate(ctx, sums->v[i], strlen(sums->v[i]));
			EVP_DigestUpdate(ctx, "  ", 2);
			EVP_DigestUpdate(ctx, files->v[i], strlen(files->v[i]));
			EVP_DigestUpdate(ctx, "\n", 1);
		}
		if (EVP_DigestFinal_ex(ctx, md, NULL))
			util_hex(md, sizeof(md), hex);
	}
	EVP_MD_CTX_free(ctx);
}

/* One audit record: mode, key, and the answered files with their SHA-256,
 * their count and the SHA-256 of the list (as for /sign/modules).  Names
 * are escaped by job_audit_item, whatever their bytes. */
static void
tegra_audit(struct tegra *t, int runs)
{
	struct strv files = {0}, sums = {0};
	struct json_t *o = job_audit_new();
	char hex[65];
	int root = open(t->work, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	fs_walk_files(t->work, ".", &files);
	for (size_t i = 0; i < files.n; i++) {
		/* by name below the work directory: however long the path */
		int fd = root < 0 ? -1 : ar_openat(root, files.v[i] + 2, O_RDONLY | O_NONBLOCK, 0);
		char sum[65] = "";

		if (fd < 0 || pkey_sha256_fd(fd, sum) < 0)
			log_warn("job %s: sha256 %s", t->job->idstr, files.v[i]);
		if (fd >= 0)
			close(fd);
		strv_add(&sums, sum);
	}
	if (root >= 0)
		close(root);
	job_audit_text(o, "method", mode_names[t->mode]);
	job_audit_text(o, "soctype", t->soctype);
	job_audit_text(o, "bspversion", t->bspversion);
	job_audit_text(o, "key_sha256", t->key_fpr);
	job_audit_bool(o, "sbk", t->sbk[0] != '\0');
	job_audit_bool(o, "user_key", t->user_key[0] != '\0');
	job_audit_int(o, "runs", runs);
	list_digest(&files, &sums, hex);
	job_audit_int(o, "count", (long long)files.n);
	job_audit_text(o, "list_sha256", hex);
	job_audit_list(o);
	for (size_t i = 0; i < files.n; i++)
		job_audit_item(o, files.v[i], sums.v[i]);
	job_audit_send(t->job, o);
	strv_free(&files);
	strv_free(&sums);
}

static int
tegra_precheck(struct job *job)
{
	const struct form_file *f = job_file(job, "artifact");
	struct tegra t;

	/* The original's order: the artifact, then soctype/bspversion/tree. */
	if (f == NULL || strcmp(f->type, "application/octet-stream") != 0)
		return job_fail(job, 400, "Invalid artifact");
	memset(&t, 0, sizeof(t));
	if (tegra_params(&t, job) < 0)
		return job_fail(job, 400, "Invalid parameters");
	return 0;
}

/* Into names, the names tegra_stage makes in the work directory, all of
 * them whatever the release: the tools' directory and the links. */
static void
staged_names(const char **names)
{
	size_t n = 0;

	names[n++] = TEGRA_TOOLS_DIR;
	names[n++] = ROLLBACK_LINK;
	for (size_t i = 0; i < NELEM(links); i++)
		names[n++] = links[i];
	for (size_t i = 0; i < NELEM(links_r35); i++)
		names[n++] = links_r35[i];
	for (size_t i = 0; i < NELEM(links_t210); i++)
		names[n++] = links_t210[i];
	names[n] = NULL;
}

/* Extract the upload and read its MANIFEST; 0 or the status set. */
static int
tegra_unpack(struct tegra *t)
{
	const struct form_file *f = job_file(t->job, "artifact");
	const char *names[2 + NELEM(links) + NELEM(links_r35) + NELEM(links_t210) + 1];
	struct ar_limits lim;
	struct ar_list list = {0};
	char err[256], *buf = NULL, *path;
	size_t len;
	struct stat st;
	int st_code;

	job_progress(t->job, "extracting");
	ar_limits_from_config(&lim, t->job->cfg);
	/* no uploaded file executable while the helpers run (one that puts
	 * its working directory on PATH cannot run one); the modes come back
	 * before packing (tegra_restore_modes) */
	lim.flags |= AR_NO_EXEC;
	/* what tegra_stage puts there: no uploaded link may lead into it */
	staged_names(names);
	lim.caller_names = names;
	if (mkdir(t->work, 0700) < 0) {
		log_error("job %s: mkdir %s", t->job->idstr, t->work);
		return job_fail(t->job, 500, "Signing error");
	}
	st_code = ar_extract(f->path, t->work, &lim, &list, err, sizeof(err));
	for (size_t i = 0; st_code == 0 && i < list.n; i++)
		if (list.v[i].type == AR_FILE && (list.v[i].mode & 0111) != 0)
			/* with owner rw, as on disk: packing must read it */
			strv_addf(&t->execs, "%o %s", (unsigned)(list.v[i].mode | S_IRUSR | S_IWUSR),
				  list.v[i].name);
	ar_list_free(&list);
	if (st_code == 400)
		return job_fail(t->job, 400, "%s", err);
	if (st_code == 507) {
		log_errorx("job %s: extracting: %s", t->job->idstr, err);
		return job_fail(t->job, 507, "not enough storage to extract the artifact");
	}
	if (st_code != 0) {
		log_errorx("job %s: extracting: %s", t->job->idstr, err);
		return job_fail(t->job, 500, "Signing error");
	}
	/* The upload is no longer needed: give its space back. */
	(void)unlink(f->path);

	path = xasprintf("%s/MANIFEST", t->work);
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		free(path);
		return job_fail(t->job, 400, "Invalid manifest: no MANIFEST in the artifact");
	}
	if (util_read_file(path, TEGRA_MANIFEST_MAX, &buf, &len) < 0) {
		int e = errno;

		free(path);
		if (e == EFBIG)
			return job_fail(t->job, 400, "Invalid manifest: too large");
		log_errorx("job %s: read MANIFEST: %s", t->job->idstr, strerror(e));
		return job_fail(t->job, 500, "Signing error");
	}
	free(path);
	if (manifest_parse(buf, len, &t->mf, err, sizeof(err)) < 0) {
		free(buf);
		return job_fail(t->job, 400, "Invalid manifest: %s", err);
	}
	free(buf);
	for (size_t i = 0; i < t->mf.n; i++)
		log_debug("job %s: manifest %s=%s", t->job->idstr, t->mf.vars[i].name,
			  t->mf.vars[i].value);
	return 0;
}

/* Replace a file the helpers source by the server's rewrite of it; 0 or
 * 400 set. */
static int
rewrite_sourced(struct tegra *t, const char *name, enum flashvars_file which)
{
	char *path = xasprintf("%s/%s", t->work, name), *buf = NULL, *out = NULL, err[256];
	struct stat st;
	size_t len;
	int rc = 0;

	if (lstat(path, &st) < 0)
		goto done; /* absent: nothing to source */
	if (!S_ISREG(st.st_mode)) {
		rc = job_fail(t->job, 400, "Invalid artifact: %s is not a regular file", name);
		goto done;
	}
	if (util_read_file(path, TEGRA_MANIFEST_MAX, &buf, &len) < 0) {
		rc = job_fail(t->job, 400, "Invalid artifact: %s: %s", name, strerror(errno));
		goto done;
	}
	if (flashvars_rewrite(which, buf, len, &out, err, sizeof(err)) < 0) {
		rc = job_fail(t->job, 400, "Invalid artifact: %s", err);
		goto done;
	}
	if (unlink(path) < 0 || util_write_file(path, out, strlen(out), 0644) < 0) {
		log_error("job %s: rewriting %s", t->job->idstr, name);
		rc = job_fail(t->job, 500, "Signing error");
	}
done:
	free(path);
	free(buf);
	free(out);
	return rc;
}

/*
 * The upload as the helpers will see it: no top-level name they could
 * take for an option, and the files they source rewritten from their
 * parsed values (flashvars.h); no uploaded file is executable since the
 * extraction (tegra_unpack).  0 or the status set.
 */
static int
tegra_prepare_upload(struct tegra *t)
{
	struct strv names = {0};
	int rc;

	if (fs_list_dir(t->work, &names) < 0) {
		log_error("job %s: listing %s", t->job->idstr, t->work);
		return job_fail(t->job, 500, "Signing error");
	}
	for (size_t i = 0; i < names.n; i++) {
		if (names.v[i][0] == '-') {
			strv_free(&names);
			return job_fail(t->job, 400, "Invalid artifact: a file name starts with '-'");
		}
	}
	strv_free(&names);
	if ((rc = rewrite_sourced(t, "flashvars", FLASHVARS_FLASHVARS)) != 0 ||
	    (rc = rewrite_sourced(t, "bsp_version", FLASHVARS_BSP_VERSION)) != 0)
		return rc;
	return 0;
}

/* Give the uploaded files that are still there their modes back (by name
 * below the work directory, following no link: whatever the helpers left
 * there, and however long the path). */
static void
tegra_restore_modes(struct tegra *t)
{
	int root;

	if (t->execs.n == 0)
		return;
	if ((root = open(t->work, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		log_warn("job %s: %s", t->job->idstr, t->work);
		return;
	}
	for (size_t i = 0; i < t->execs.n; i++) {
		char *sp = strchr(t->execs.v[i], ' ');
		int fd = ar_openat(root, sp + 1, O_RDONLY | O_NONBLOCK, 0);
		struct stat st;

		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    fchmod(fd, (mode_t)strtoul(t->execs.v[i], NULL, 8)) < 0)
			log_warn("job %s: chmod %s", t->job->idstr, sp + 1);
		if (fd >= 0)
			close(fd);
	}
	close(root);
}

/* Load the keys the mode needs into <job>/tegra-keys; 0 or the status set. */
static int
tegra_keys(struct tegra *t)
{
	int st;

	if (mkdir(t->keys, 0700) < 0) {
		log_error("job %s: mkdir %s", t->job->idstr, t->keys);
		return job_fail(t->job, 500, "Signing error");
	}
	if ((st = tegra_key(t, "rsa_priv.pem", 0, t->pkc)) != 0)
		return st;
	/* SBK and user key: only for the flash helper, never for tegra210. */
	if (t->mode == MODE_SIGNFILES || strcmp(t->soctype, "tegra210") == 0)
		return 0;
	if ((st = tegra_key(t, "sbk.txt", 1, t->sbk)) > 1)
		return st;
	if ((st = tegra_key(t, "user_key.txt", 1, t->user_key)) > 1)
		return st;
	return 0;
}

/* SIGNFILES: tegra-signimage-helper on every uploaded file; only the
 * <file>.sig files stay.  0 or the status set. */
static int
sign_files(struct tegra *t, struct strv *env, int *runs)
{
	struct strv argv = {0}, uploaded = {0}, keep = {0};
	int rc;

	/* Everything uploaded (MANIFEST included), listed before staging. */
	if (fs_list_dir(t->work, &uploaded) < 0)
		return job_fail(t->job, 500, "Signing error");
	if (tegra_stage(t) < 0) {
		rc = job_fail(t->job, 500, "Signing error");
		goto done;
	}
	strv_add(&argv, "tegra-signimage-helper");
	strv_addf(&argv, "--chip 0x%.2s", t->soctype + 5);
	strv_add(&argv, "-u");
	strv_add(&argv, t->pkc);
	for (size_t i = 0; i < uploaded.n; i++) {
		strv_add(&argv, uploaded.v[i]);
		strv_addf(&keep, "%s.sig", uploaded.v[i]);
	}
	job_progress(t->job, "signing");
	if ((rc = tegra_run(t, &argv, env)) == 0) {
		*runs = 1;
		fs_remove_except(t->work, keep_listed, &keep);
	}
done:
	strv_free(&argv);
	strv_free(&uploaded);
	strv_free(&keep);
	return rc;
}

/* The environment of one BUPGENSPECS spec ("var=value;..." checked
 * already): env with the settings the helpers read, names upper-cased,
 * set over it.  The spec is cut up in place. */
static void
spec_env(struct tegra *t, const struct strv *env, char *spec, struct strv *out)
{
	char *save = NULL;

	for (size_t k = 0; k < env->n; k++)
		strv_add(out, env->v[k]);
	for (char *set = strtok_r(spec, ";", &save); set; set = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(set, '=');

		*eq = '\0';
		for (char *c = set; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		if (!flashvars_env_passed(set)) {
			log_info("job %s: BUPGENSPECS %.64s is not passed to the helper (not one it "
				 "reads)",
				 t->job->idstr, set);
			continue;
		}
		log_debug("job %s: setting %s=%s", t->job->idstr, set, eq + 1);
		env_set(out, set, eq + 1);
	}
}

/* BUPGENSPECS: one --bup run per spec; only payloads* stays.  0 or the
 * status set. */
static int
sign_bupgenspecs(struct tegra *t, struct strv *env, int *runs)
{
	struct strv argv = {0}, specs = {0};
	int rc = 0, n;

	if (tegra_stage(t) < 0)
		return job_fail(t->job, 500, "Signing error");
	tegra_cmd(t, &argv);
	split_specs(manifest_get(&t->mf, "BUPGENSPECS"), &specs);
	n = (int)specs.n;
	for (int i = 0; i < n && rc == 0; i++) {
		struct strv local = {0};

		spec_env(t, env, specs.v[i], &local);
		job_progress(t->job, "bupgen spec %d/%d", i + 1, n);
		rc = tegra_run(t, &argv, &local);
		strv_free(&local);
	}
	if (rc == 0) {
		*runs = n;
		fs_remove_except(t->work, keep_payloads, NULL);
	}
	strv_free(&argv);
	strv_free(&specs);
	return rc;
}

/* What a --no-flash run leaves that is not answered: what is in the work
 * directory before it (inputs, MANIFEST, staged tools and links) and the
 * tool's scratch files.  0 or -1. */
static int
sign_leftovers(struct tegra *t, struct strv *names)
{
	if (fs_list_dir(t->work, names) < 0)
		return -1;
	strv_add(names, "signed");
	strv_add(names, "encrypted_signed");
	strv_add(names, "flash.xml.tmp");
	if (strcmp(t->soctype, "tegra210") != 0) {
		strv_add(names, "flash.xml");
		if (!t->encrypted_kernel) {
			char *root;
			const char *ext;

			split_ext(manifest_get(&t->mf, "LNXFILE"), &root, &ext);
			strv_addf(names, "%s_sigheader%s.encrypt.signed", root, ext);
			free(root);
		}
	}
	return 0;
}

/* SIGN and BUPGEN: one --no-flash run, then the leftovers go (with
 * BUPGEN, all but payloads*).  0 or the status set. */
static int
sign_once(struct tegra *t, struct strv *env, int *runs)
{
	struct strv argv = {0}, leftovers = {0};
	int rc;

	if (tegra_stage(t) < 0)
		return job_fail(t->job, 500, "Signing error");
	tegra_cmd(t, &argv);
	if (sign_leftovers(t, &leftovers) < 0) {
		rc = job_fail(t->job, 500, "Signing error");
		goto done;
	}
	job_progress(t->job, "signing");
	if ((rc = tegra_run(t, &argv, env)) == 0) {
		*runs = 1;
		if (t->mode == MODE_BUPGEN)
			fs_remove_except(t->work, keep_payloads, NULL);
		else
			for (size_t i = 0; i < leftovers.n; i++)
				remove_name(t, leftovers.v[i]);
	}
done:
	strv_free(&argv);
	strv_free(&leftovers);
	return rc;
}

/* The signing itself, for the mode; 0 or the status set. */
static int
tegra_sign(struct tegra *t, int *runs)
{
	struct strv env = {0};
	int rc;

	tegra_env(t, &env);
	if (t->mode == MODE_SIGNFILES)
		rc = sign_files(t, &env, runs);
	else if (t->mode == MODE_BUPGENSPECS)
		rc = sign_bupgenspecs(t, &env, runs);
	else
		rc = sign_once(t, &env, runs);
	strv_free(&env);
	return rc;
}

static int
tegra_run_job(struct job *job)
{
	struct tegra t;
	char out[PATH_MAX], err[256];
	int rc, runs = 0;

	memset(&t, 0, sizeof(t));
	if (tegra_params(&t, job) < 0)
		return job_fail(job, 400, "Invalid parameters");
	t.machine = job->selector;
	t.mask = mask_new();
	if (job_path(job, TEGRA_WORK, t.work, sizeof(t.work)) < 0 ||
	    job_path(job, TEGRA_KEYS, t.keys, sizeof(t.keys)) < 0 ||
	    job_path(job, TEGRA_ANSWER, out, sizeof(out)) < 0 ||
	    job_path(job, TEGRA_WORK "/" TEGRA_TOOLS_DIR, t.local, sizeof(t.local)) < 0)
		return job_fail(job, 500, "Signing error");
	tegra_script_list(&t);
	log_debug("job %s: machine=%s soctype=%s bspversion=%s tools=%s", job->idstr, t.machine,
		  t.soctype, t.bspversion, t.tools);

	if ((rc = tegra_unpack(&t)) != 0 || (rc = tegra_check_manifest(&t)) != 0 ||
	    (rc = tegra_prepare_upload(&t)) != 0 || (rc = tegra_keys(&t)) != 0)
		goto done;
	rc = tegra_sign(&t, &runs);
	tegra_restore_modes(&t);
	/* The keys are not needed past the tool's run. */
	if (util_rm_rf(t.keys) < 0)
		log_warn("job %s: removing %s", job->idstr, t.keys);
	if (rc != 0)
		goto done;
	job_progress(job, "packing");
	if (ar_pack_tree(t.work, out, (int)t.job->cfg->gzip_level, NULL, NULL, err, sizeof(err)) < 0) {
		rc = job_write_failed(job, errno, err);
		goto done;
	}
	tegra_audit(&t, runs);
	rc = job_reply_file(job, out, TEGRA_ANSWER);
done:
	util_rm_rf(t.keys);
	manifest_free(&t.mf);
	strv_free(&t.scripts);
	mask_free(t.mask);
	strv_free(&t.execs);
	return rc;
}

SIGNER_DEFINE(tegra, .selector_field = "machine", .selector_missing = "Invalid parameters",
	      .run = tegra_run_job, .precheck = tegra_precheck);
