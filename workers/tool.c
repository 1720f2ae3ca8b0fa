/* SPDX-License-Identifier: MIT */
/*
 * tool.c: running a signer's external tool (tool.h).
 */
#include "tool.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "buf.h"
#include "job.h"
#include "keyclient.h"
#include "keystore.h"
#include "log.h"
#include "mask.h"
#include "pkey.h"
#include "spawn.h"
#include "util.h"

/* The command line as it is logged: each argument quoted. */
static void
log_command(const struct job *job, const struct tool *t)
{
	struct buf cmd;

	buf_init(&cmd, BUF_UNLIMITED, 0);
	for (size_t i = 0; t->argv[i] != NULL; i++)
		buf_printf(&cmd, "%s'%s'", i ? " " : "", t->argv[i]);
	log_info("job %s: running %s", job->idstr, buf_str(&cmd));
	buf_free(&cmd);
	for (size_t i = 0; t->envp[i] != NULL; i++)
		log_debug("job %s: env %s", job->idstr, t->envp[i]);
}

/*
 * Whether execve would take the command line: no string longer than the
 * kernel's MAX_ARG_STRLEN (32 pages), and all of them with their
 * pointers within _SC_ARG_MAX (a quarter of the stack limit).  What
 * makes it longer is the upload's (a MANIFEST value, thousands of file
 * names): 1, or 0 with the reason.
 */
static int
command_fits(const struct tool *t, char *why, size_t whylen)
{
	long page = sysconf(_SC_PAGESIZE), argmax = sysconf(_SC_ARG_MAX);
	size_t strmax = (size_t)(page > 0 ? page : 4096) * 32, total = 0;
	char *const *lists[] = {t->argv, t->envp};

	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; lists[l] != NULL && lists[l][i] != NULL; i++) {
			size_t n = strlen(lists[l][i]) + 1;

			if (n > strmax) {
				snprintf(why, whylen, "an argument of %zu bytes (at most %zu)", n - 1,
					 strmax - 1);
				return 0;
			}
			total += n + sizeof(char *);
		}
	if (argmax > 0 && total > (size_t)argmax) {
		snprintf(why, whylen, "%zu bytes of arguments (at most %ld)", total, argmax);
		return 0;
	}
	return 1;
}

int
tool_run(struct job *job, const struct tool *t)
{
	const char *hide[JOB_HIDE_MAX];
	struct spawn_opts o = {
	    .argv = t->argv,
	    .envp = t->envp,
	    .cwd = t->cwd,
	    .log_name = t->argv[0],
	    .tail_lines = t->tail_lines,
	    .mask = t->mask,
	    .hide = job_tool_hide(job, hide),
	    .keep = job->dir,
	    .as_max = t->as_max,
	    .cpu_max = t->cpu_max,
	};
	struct spawn_result r;
	char err[256], how[64];

	if (!command_fits(t, err, sizeof(err))) {
		log_info("job %s: %s not run: %s", job->idstr, t->argv[0], err);
		return job_fail(job, 400, "Invalid parameters: %s would get %s", t->argv[0], err);
	}
	log_command(job, t);
	if (spawn_run(&o, &r, err, sizeof(err)) < 0) {
		log_errorx("job %s: %s: %s", job->idstr, t->argv[0], err);
		return job_fail(job, 500, "Signing error");
	}
	if (spawn_ok(r.status)) {
		spawn_result_free(&r);
		return 0;
	}
	spawn_describe(r.status, how, sizeof(how));
	log_warnx("job %s: %s failed: %s; its last output:", job->idstr, t->argv[0], how);
	for (char *line = r.tail, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		log_warnx("job %s: | %s", job->idstr, line);
	}
	spawn_result_free(&r);
	return job_fail(job, 500, "Signing error");
}

/* The fingerprint of the key in a PEM file's bytes: the private key's
 * public half, or the public key; "" when neither parses. */
static void
key_fingerprint(const unsigned char *data, size_t len, char out[65])
{
	EVP_PKEY *k = pkey_load_private(data, len);
	BIO *bio;

	if (k == NULL && (bio = BIO_new_mem_buf(data, (int)len)) != NULL) {
		k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	if (k == NULL || pkey_fingerprint(k, out) < 0)
		out[0] = '\0';
	EVP_PKEY_free(k);
}

int
tool_key_fetch(struct job *job, const struct tool_key *k)
{
	struct ks_blob b = {0};
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char err[KEYPROTO_REASON_MAX];
	int st;

	if (k->path != NULL)
		k->path[0] = '\0';
	st = kc_materialize(job->keys, k->selector, k->tag, k->file, &b.data, &b.len, err,
			    sizeof(err));
	if (st == 404 && k->optional)
		return 1;
	if (st != 0)
		return job_fail(job, st, "%s", err);
	if ((k->path != NULL &&
	     snprintf(k->path, PATH_MAX, "%s/%s", k->dir, k->file) >= PATH_MAX) ||
	    ks_write_temp(&b, k->dir, k->file) < 0) {
		log_error("job %s: writing key %s", job->idstr, k->file);
		ks_blob_free(&b);
		return job_fail(job, 500, "Signing error");
	}
	if (k->mask != NULL)
		mask_add_key(k->mask, b.data, b.len);
	if (k->fpr != NULL)
		key_fingerprint(b.data, b.len, k->fpr);
	if (k->sha256 != NULL && EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL) == 1)
		util_hex(md, mdlen, k->sha256);
	ks_blob_free(&b);
	return 0;
}

const char *
tool_path(void)
{
	const char *path = getenv("PATH");

	return path && *path ? path : "/usr/bin:/bin";
}
