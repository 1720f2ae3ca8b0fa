/* SPDX-License-Identifier: MIT */
/*
 * modules.c: /sign/modules, Linux kernel module signing.
 *
 * Names: this signer is "modules" everywhere it is ours (the endpoint
 * /sign/modules, this file, modules_* functions, t/regress/modules.sh).
 * Two names are not ours to choose: the key store tag "kmodsign"
 * (MODULES_TAG; the original's store layout, kept for compatibility) and
 * lib/modsign.c, the module signature format (what the kernel's sign-file
 * appends), which this signer applies to each module of the tree.
 *
 * The client uploads a gzip tarball holding lib/modules/<version>/...; the
 * answer is the same tree, every regular file whose name ends in ".ko"
 * signed as the kernel's sign-file would sign it (lib/modsign.c), with
 * member names starting "./", in the same order, with the same modes,
 * times, directories and symbolic links.  The original runs sign-file
 * once per module; here the key is parsed once, the tree is extracted
 * safely (lib/dss_archive.c) and each module, as soon as it is on disk, is
 * queued for a pool of signing threads (DIGSIGSERVER_SIGN_THREADS, 0 =
 * one per core).  Once the whole archive has passed its checks, this
 * thread writes the answer in archive order, waiting for each module's
 * signature while the signers go on with the next ones, and as many
 * threads compress it (lib/dss_archive.c: parallel gzip).  Modules are
 * mapped from disk and streamed into the answer: memory does not grow
 * with the tree (a few hundred bytes of signature per module).
 *
 * A module larger than 2 GiB, which the kernel would not load, is refused
 * (400) before any of it is written, whatever the archive limits allow;
 * a disk that fills up while extracting gives 507, as for the upload.
 *
 * Hard links: each name gets the contents its name calls for (a name
 * ending in ".ko" is signed, others are not), so a hard link is kept as a
 * link only when neither it nor its file is a module; otherwise it is
 * written as a file, as the original's sign-file + tar did.
 *
 * Audit: one record (job_audit_send cuts a long one into several, which
 * the supervisor merges back) with hashalg, key_sha256, count,
 * list_sha256 and "signed": every signed module, by the SHA-256 of its
 * signed bytes, sorted by name.  list_sha256 is the SHA-256 of the same list in
 * `sha256sum` format ("<hex>  ./<name>\n" lines, sorted by name), so that
 *   find ./lib -name '*.ko' -type f | LC_ALL=C sort | xargs sha256sum | sha256sum
 * in the unpacked answer gives it back.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "dss_archive.h"
#include "buf.h"
#include "cpus.h"
#include "job.h"
#include "keyclient.h"
#include "log.h"
#include "modsign.h"
#include "pkey.h"
#include "signer.h"
#include "util.h"

#define MODULES_TAG "kmodsign"
#define MODULES_KEY "kernel-signkey.priv"
#define MODULES_CERT "kernel-signkey.x509"
#define MODULES_ANSWER "signed-artifact.tar.gz"
#define MODULES_PROGRESS_EVERY 100

struct modules_item {
	char *name;   /* member name */
	int state;    /* 0 pending, 1 signed, -1 failed */
	struct modsign_sig sig;
};

/* The work shared by the extracting/packing thread and the signers. */
struct modules_ctx {
	const struct modsign_key *key;
	const EVP_MD *md;
	int rootfd;
	struct modules_item **items; /* modules in archive order: list's data */
	size_t nitems;
	struct buf list;	  /* owns items */
	size_t next;		  /* next item to sign */
	int extracted;		  /* no more items will come */
	int stop;		  /* signers must quit */
	pthread_mutex_t lock;
	pthread_cond_t work; /* signers: an item came, or the end */
	pthread_cond_t done; /* packer: an item was signed */
	char err[256];	     /* the first signing failure */
};

static int
is_module(const char *name)
{
	size_t n = strlen(name);

	return n >= 3 && strcmp(name + n - 3, ".ko") == 0;
}

/* Extraction's admit hook: a module larger than the kernel loads, which
 * the signer cannot sign either, is refused before any of it is written
 * (whatever the archive size limits allow). */
static int
admit_member(const char *name, enum ar_type type, uint64_t size, void *arg, char *why,
	     size_t whylen)
{
	(void)type;
	(void)arg;
	if (!is_module(name) || size <= (uint64_t)MODSIGN_MAX_LEN)
		return 0;
	snprintf(why, whylen, "module larger than 2 GiB (%llu bytes): the kernel cannot load it",
		 (unsigned long long)size);
	return -1;
}

/* Extraction callback: queue a module for the signers as soon as it is on
 * disk. */
static void
queue_member(const struct ar_entry *e, void *arg)
{
	struct modules_ctx *c = arg;
	struct modules_item *it;

	if ((e->type != AR_FILE && e->type != AR_HARDLINK) || !is_module(e->name))
		return;
	it = xcalloc(1, sizeof(*it));
	it->name = xstrdup(e->name);
	pthread_mutex_lock(&c->lock);
	if (buf_append(&c->list, &it, sizeof(it)) < 0)
		log_panic("the module list cannot grow"); /* BUF_UNLIMITED */
	c->items = (struct modules_item **)c->list.data;
	c->nitems++;
	pthread_cond_signal(&c->work);
	pthread_mutex_unlock(&c->lock);
}

/* A signing thread: take the next module, sign it, publish the result. */
static void *
sign_thread(void *arg)
{
	struct modules_ctx *c = arg;
	char err[256];

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct modules_item *it;
		int fd, rc;

		while (!c->stop && c->next == c->nitems && !c->extracted)
			pthread_cond_wait(&c->work, &c->lock);
		if (c->stop || c->next == c->nitems)
			break;
		it = c->items[c->next++];
		pthread_mutex_unlock(&c->lock);

		err[0] = '\0';
		if ((fd = ar_openat(c->rootfd, it->name, O_RDONLY, 0)) < 0) {
			snprintf(err, sizeof(err), "%s", strerror(errno));
			rc = -1;
		} else {
			rc =
			    modsign_sign_fd(&c->key->signer, c->md, fd, &it->sig, err, sizeof(err));
			close(fd);
		}

		pthread_mutex_lock(&c->lock);
		it->state = rc == 0 ? 1 : -1;
		if (rc != 0 && c->err[0] == '\0')
			snprintf(c->err, sizeof(c->err), "%s: %s", it->name, err);
		pthread_cond_broadcast(&c->done);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Start up to n signing threads; the number started (0 on failure). */
static int
start_signers(struct modules_ctx *c, pthread_t *threads, int n)
{
	int started = 0;

	if (n > 1)
		(void)cpus_unpin(); /* on failure they share the worker's CPU */
	for (; started < n; started++)
		if (pthread_create(&threads[started], NULL, sign_thread, c) != 0)
			break; /* fewer threads will do */
	return started;
}

/* Tell the signers to quit (after the current module) and wait for them. */
static void
stop_signers(struct modules_ctx *c, pthread_t *threads, int n)
{
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->lock);
	for (int i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
}

/* Wait until item k is signed; 0, or -1 when it failed. */
static int
wait_item(struct modules_ctx *c, size_t k)
{
	int state;

	pthread_mutex_lock(&c->lock);
	while ((state = c->items[k]->state) == 0)
		pthread_cond_wait(&c->done, &c->lock);
	pthread_mutex_unlock(&c->lock);
	return state > 0 ? 0 : -1;
}

/* Write member e to w; item is its signature, or NULL. */
static int
pack_member(struct modules_ctx *c, struct ar_writer *w, const struct ar_entry *e,
	    const struct modules_item *item, char *err, size_t errlen)
{
	struct ar_entry copy;
	int fd, rc, saved;

	if (e->type == AR_HARDLINK) {
		if (item == NULL && !is_module(e->link))
			return ar_writer_add(w, e, -1, NULL, 0, err, errlen);
		copy = *e;
		copy.type = AR_FILE;
		e = &copy;
	}
	if (e->type != AR_FILE)
		return ar_writer_add(w, e, -1, NULL, 0, err, errlen);
	if ((fd = ar_openat(c->rootfd, e->name, O_RDONLY, 0)) < 0) {
		snprintf(err, errlen, "%s: %s", e->name, strerror(errno));
		errno = 0; /* reading, not writing, failed */
		return -1;
	}
	rc = ar_writer_add(w, e, fd, item ? item->sig.trailer : NULL, item ? item->sig.len : 0,
			   err, errlen);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/* Write the answer in archive order, each module once its signature is
 * there, compressed by that many threads; 0 or -1 with err and errno (a
 * failed write's, else 0: dss_archive.h). */
static int
pack(struct job *job, struct modules_ctx *c, const struct ar_list *list, const char *out,
     int threads, char *err, size_t errlen)
{
	struct ar_writer *w;
	size_t k = 0;

	if ((w = ar_writer_open_threads(out, (int)job->cfg->gzip_level, threads, err, errlen)) == NULL)
		return -1;
	for (size_t i = 0; i < list->n; i++) {
		const struct ar_entry *e = &list->v[i];
		const struct modules_item *item = NULL;

		if ((e->type == AR_FILE || e->type == AR_HARDLINK) && is_module(e->name)) {
			if (k >= c->nitems || strcmp(c->items[k]->name, e->name) != 0) {
				snprintf(err, errlen, "%s: not queued for signing", e->name);
				errno = 0;
				goto fail;
			}
			if (wait_item(c, k) < 0) {
				pthread_mutex_lock(&c->lock);
				snprintf(err, errlen, "signing %s", c->err);
				pthread_mutex_unlock(&c->lock);
				errno = 0;
				goto fail;
			}
			item = c->items[k++];
		}
		if (pack_member(c, w, e, item, err, errlen) < 0)
			goto fail;
		if (item != NULL && (k % MODULES_PROGRESS_EVERY == 0 || k == c->nitems))
			job_progress(job, "signed %zu/%zu", k, c->nitems);
	}
	return ar_writer_close(w, err, errlen);
fail:
	ar_writer_abort(w);
	return -1;
}

static int
cmp_items(const void *a, const void *b)
{
	const struct modules_item *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* The audit record of the signed modules (see the top of this file). */
static void
audit(struct job *job, const struct modules_ctx *c, const char *hashalg)
{
	size_t n = c->nitems;
	struct modules_item **items = xcalloc(n ? n : 1, sizeof(*items));
	struct json_t *record = job_audit_new();
	char hex[65], listsum[65], *name;
	unsigned char md[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (n > 0) { /* c->items is NULL for a tree without modules */
		memcpy(items, c->items, n * sizeof(*items));
		qsort(items, n, sizeof(*items), cmp_items);
	}
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		fatalx("out of memory");
	/* list_sha256: of what sha256sum would print for the signed tree */
	for (size_t i = 0; i < n; i++) {
		util_hex(items[i]->sig.sha256, sizeof(items[i]->sig.sha256), hex);
		EVP_DigestUpdate(ctx, hex, 64);
		EVP_DigestUpdate(ctx, "  ./", 4);
		EVP_DigestUpdate(ctx, items[i]->name, strlen(items[i]->name));
		EVP_DigestUpdate(ctx, "\n", 1);
	}
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	util_hex(md, sizeof(md), listsum);
	job_audit_text(record, "hashalg", hashalg);
	job_audit_text(record, "key_sha256", c->key->fingerprint);
	job_audit_int(record, "count", (long long)n);
	job_audit_text(record, "list_sha256", listsum);
	job_audit_list(record); /* even when empty */
	for (size_t i = 0; i < n; i++) {
		util_hex(items[i]->sig.sha256, sizeof(items[i]->sig.sha256), hex);
		name = xasprintf("./%s", items[i]->name);
		job_audit_item(record, name, hex);
		free(name);
	}
	job_audit_send(job, record);
	free(items);
}

/*
 * The job's signer: the certificate <selector>/kmodsign/kernel-signkey.x509
 * and signatures made by the key process with the private key beside it
 * (keyclient.h).  Both are asked for before the upload is extracted, so a
 * missing key is a 404 at once.  0, or the status of a job_fail.
 */
static int
signer_of(struct job *job, struct kc_key *kk, struct modsign_key *key)
{
	EVP_PKEY *pub;
	char err[KEYPROTO_REASON_MAX];
	int st;

	memset(key, 0, sizeof(*key));
	/* the key first: the answer for a machine without keys names it */
	if ((st = kc_key_public(kk, NULL, &pub, err, sizeof(err))) != 0)
		return job_fail(job, st, "%s", err);
	if ((st = kc_key_cert(kk, MODULES_CERT, &key->cert, err, sizeof(err))) != 0 ||
	    (st = kc_key_pair(kk, pub, key->cert, err, sizeof(err))) != 0) {
		EVP_PKEY_free(pub);
		modsign_key_free(key);
		return job_fail(job, st, "%s", err);
	}
	st = pkey_fingerprint(pub, key->fingerprint);
	EVP_PKEY_free(pub);
	if (st < 0) {
		modsign_key_free(key);
		return job_fail(job, 500, "Signing error");
	}
	X509_check_purpose(key->cert, -1, 0); /* caches extensions: threads share it */
	key->signer = (struct pkey_signer){.cert = key->cert, .sign = kc_key_sign, .arg = kk};
	return 0;
}

/* The answer when signing or packing failed (e: pack's errno): the key
 * process's own status (503, 404 ...) when it was the one to fail, 507
 * for a full file system, else 500. */
static void
sign_failed(struct job *job, const struct kc_key *kk, const char *err, int e)
{
	if (kk->status != 0) {
		log_warnx("job %s: %s", job->idstr, err);
		job_fail(job, kk->status, "%s", kk->reason);
	} else {
		job_write_failed(job, e, err);
	}
}

/* The job's summary line. */
static void
log_signed(const struct job *job, const struct modules_ctx *c, const struct ar_list *list,
	   const char *hashalg, uint64_t t0, uint64_t t1, int threads)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	log_info("job %s: %zu members extracted in %llu ms; %zu modules signed with %s "
		 "(key %.16s) and packed %llu ms later; %d threads, %lld ms of CPU, "
		 "max RSS %ld KiB",
		 job->idstr, list->n, (unsigned long long)(t1 - t0), c->nitems, hashalg,
		 c->key->fingerprint, (unsigned long long)(util_now_ms() - t1), threads,
		 (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
			 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000,
		 ru.ru_maxrss);
}

/* The signing threads wanted: SIGN_THREADS, or one per processor. */
static long
signing_threads(const struct job *job)
{
	long n = job->cfg->sign_threads;

	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

/* Set up the context: the job's tree directory (its path in tree) and
 * the answer's path in out; 0, or -1 with the job failed. */
static int
ctx_init(struct job *job, struct modules_ctx *c, const struct modsign_key *key, const char *hashalg,
	 char tree[PATH_MAX], char out[PATH_MAX])
{
	memset(c, 0, sizeof(*c));
	buf_init(&c->list, BUF_UNLIMITED, 0);
	c->key = key;
	c->md = modsign_md(hashalg);
	c->rootfd = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->done, NULL);
	if (job_path(job, "tree", tree, PATH_MAX) < 0 ||
	    job_path(job, MODULES_ANSWER, out, PATH_MAX) < 0 || mkdir(tree, 0700) < 0 ||
	    (c->rootfd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		log_error("job %s: job directory", job->idstr);
		job_fail(job, 500, "Signing error");
		return -1;
	}
	return 0;
}

/* Free what the context holds (threads stopped). */
static void
ctx_free(struct modules_ctx *c)
{
	for (size_t i = 0; i < c->nitems; i++) {
		modsign_sig_free(&c->items[i]->sig);
		free(c->items[i]->name);
		free(c->items[i]);
	}
	buf_free(&c->list);
	if (c->rootfd >= 0)
		close(c->rootfd);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->done);
}

static int
modules_run(struct job *job)
{
	const struct form_file *f = job_file(job, "artifact");
	const char *hashalg = job_field(job, "hashalg");
	struct kc_key kk;
	struct modsign_key key;
	struct modules_ctx c;
	struct ar_limits lim;
	struct ar_list list = {0};
	pthread_t *threads = NULL;
	long nthreads = signing_threads(job);
	char err[512], tree[PATH_MAX] = "", out[PATH_MAX];
	uint64_t t0, t1;
	int st, started = 0;

	if (f == NULL || strcmp(f->type, "application/octet-stream") != 0)
		return job_fail(job, 400, "Invalid artifact");
	if (hashalg == NULL)
		hashalg = "sha512";
	if (strcmp(hashalg, "sha256") != 0 && strcmp(hashalg, "sha384") != 0 &&
	    strcmp(hashalg, "sha512") != 0)
		return job_fail(job, 400, "Invalid parameters");

	kc_key_init(&kk, job->keys, job->selector, MODULES_TAG, MODULES_KEY);
	if ((st = signer_of(job, &kk, &key)) != 0) {
		kc_key_free(&kk);
		return st;
	}

	if (ctx_init(job, &c, &key, hashalg, tree, out) < 0)
		goto done;

	/* the signers start at once and sign modules as they come out */
	threads = xcalloc((size_t)nthreads, sizeof(*threads));
	if ((started = start_signers(&c, threads, (int)nthreads)) == 0) {
		log_errorx("job %s: cannot start signing threads", job->idstr);
		job_fail(job, 500, "Signing error");
		goto done;
	}
	ar_limits_from_config(&lim, job->cfg);
	lim.admit = admit_member;
	job_progress(job, "extracting");
	t0 = util_now_ms();
	st = ar_extract_each(f->path, tree, &lim, &list, queue_member, &c, err, sizeof(err));
	t1 = util_now_ms();
	if (st != 0) {
		(void)job_extract_failed(job, st, err);
		goto done;
	}
	pthread_mutex_lock(&c.lock);
	c.extracted = 1;
	pthread_cond_broadcast(&c.work);
	pthread_mutex_unlock(&c.lock);
	log_debug("job %s: %zu modules, %d signing threads", job->idstr, c.nitems, started);

	if (pack(job, &c, &list, out, started, err, sizeof(err)) < 0) {
		int e = errno;

		unlink(out);
		sign_failed(job, &kk, err, e);
		goto done;
	}
	audit(job, &c, hashalg);
	log_signed(job, &c, &list, hashalg, t0, t1, started);
	job_reply_file(job, out, MODULES_ANSWER);
done:
	if (started > 0)
		stop_signers(&c, threads, started);
	free(threads);
	ctx_free(&c);
	modsign_key_free(&key);
	kc_key_free(&kk);
	ar_list_free(&list);
	if (tree[0] != '\0' && util_rm_rf(tree) < 0 && errno != ENOENT)
		log_warn("job %s: removing %s", job->idstr, tree);
	return job->status;
}

SIGNER_DEFINE(modules, .selector_field = "machine", .selector_missing = "Invalid parameters",
	      .run = modules_run);
