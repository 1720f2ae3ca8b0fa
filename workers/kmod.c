/*
 * kmod.c: /sign/modules, Linux kernel module signing.
 *
 * The client uploads a gzip tarball holding lib/modules/<version>/...; the
 * answer is the same tree, every regular file whose name ends in ".ko"
 * signed as the kernel's sign-file would sign it (lib/modsign.c), with
 * member names starting "./", in the same order, with the same modes,
 * times, directories and symbolic links.  The original runs sign-file
 * once per module; here the tree is extracted safely (lib/archive.c),
 * the key is parsed once, and modules are signed by a pool of threads
 * (DIGSIGSERVER_SIGN_THREADS, 0 = one per core) while this thread writes
 * the answer in archive order, waiting for each module's signature.
 * Modules are streamed from disk, so memory does not grow with the tree.
 *
 * Hard links: each name gets the contents its name calls for (a name
 * ending in ".ko" is signed, others are not), so a hard link is kept as a
 * link only when neither it nor its file is a module; otherwise it is
 * written as a file, as the original's sign-file + tar did.
 *
 * Audit: the supervisor merges a job's PROTO_AUDIT records into one
 * line, concatenating their "signed" arrays.  The first record holds
 * hashalg, key_sha256, count and list_sha256; it and the ones after it
 * each carry as many {name, sha256} items of "signed" as fit in
 * PROTO_AUDIT_MAX: every signed module, by the SHA-256 of its signed
 * bytes, sorted by name.  list_sha256 is the SHA-256 of the same list in
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
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "archive.h"
#include "job.h"
#include "keystore.h"
#include "log.h"
#include "modsign.h"
#include "proto.h"
#include "signer.h"
#include "util.h"

#define KMOD_TAG "kmodsign"
#define KMOD_KEY "kernel-signkey.priv"
#define KMOD_CERT "kernel-signkey.x509"
#define KMOD_ANSWER "signed-artifact.tar.gz"
#define KMOD_PROGRESS_EVERY 100
#define KMOD_GZIP_LEVEL 6

struct kmod_item {
	size_t entry; /* index in the member list */
	int state;    /* 0 pending, 1 signed, -1 failed */
	struct modsign_sig sig;
};

struct kmod_ctx {
	const struct modsign_key *key;
	const EVP_MD *md;
	int rootfd;
	const struct ar_list *list;
	struct kmod_item *items;
	size_t nitems;
	size_t next; /* next item to sign */
	int stop;    /* the packer gave up */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char err[256]; /* the first signing failure */
};

static int
is_module(const char *name)
{
	size_t n = strlen(name);

	return n >= 3 && strcmp(name + n - 3, ".ko") == 0;
}

/* A signing thread: take the next module, sign it, publish the result. */
static void *
sign_thread(void *arg)
{
	struct kmod_ctx *c = arg;
	char err[256];

	for (;;) {
		struct kmod_item *it;
		int fd, rc;

		pthread_mutex_lock(&c->lock);
		if (c->stop || c->next == c->nitems) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		it = &c->items[c->next++];
		pthread_mutex_unlock(&c->lock);

		err[0] = '\0';
		fd = ar_openat(c->rootfd, c->list->v[it->entry].name, O_RDONLY, 0);
		if (fd < 0) {
			snprintf(err, sizeof(err), "%s", strerror(errno));
			rc = -1;
		} else {
			rc = modsign_sign_fd(c->key, c->md, fd, &it->sig, err, sizeof(err));
			close(fd);
		}
		pthread_mutex_lock(&c->lock);
		it->state = rc == 0 ? 1 : -1;
		if (rc != 0 && c->err[0] == '\0')
			snprintf(c->err, sizeof(c->err), "%s: %s", c->list->v[it->entry].name, err);
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

/* Wait until item i is signed; 0, or -1 when it failed. */
static int
wait_item(struct kmod_ctx *c, size_t i)
{
	int state;

	pthread_mutex_lock(&c->lock);
	while ((state = c->items[i].state) == 0)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	return state > 0 ? 0 : -1;
}

/* Write member e (index idx) to w; item is its signature or NULL. */
static int
pack_member(struct kmod_ctx *c, struct ar_writer *w, size_t idx, const struct kmod_item *item,
	    char *err, size_t errlen)
{
	const struct ar_entry *e = &c->list->v[idx];
	struct ar_entry copy;
	int fd, rc;

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
		return -1;
	}
	rc = ar_writer_add(w, e, fd, item ? item->sig.trailer : NULL, item ? item->sig.len : 0,
			   err, errlen);
	close(fd);
	return rc;
}

/* JSON string contents for name: ASCII kept, quotes, backslashes,
 * control characters and bytes past ASCII escaped. */
static void
json_escape(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s && o + 7 < outlen; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20 || ch >= 0x7f)
			o += (size_t)snprintf(out + o, outlen - o, "\\u%04x", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
}

static const struct ar_list *sort_list; /* for cmp_items only */

static int
cmp_items(const void *a, const void *b)
{
	const struct kmod_item *x = a, *y = b;

	return strcmp(sort_list->v[x->entry].name, sort_list->v[y->entry].name);
}

/* The end of the record that starts at elems[i]: as many elements as fit
 * in budget bytes, at least one. */
static size_t
chunk_end(char *const *elems, size_t n, size_t i, size_t budget)
{
	size_t used = 0;

	for (; i < n && (used == 0 || used + strlen(elems[i]) + 1 < budget); i++)
		used += strlen(elems[i]) + 1;
	return i;
}

/* The audit records for the signed modules (see the top of this file). */
static void
audit(struct job *job, const struct kmod_ctx *c, const char *hashalg)
{
	const size_t budget = PROTO_AUDIT_MAX - 512;
	size_t n = c->nitems, i, end;
	struct kmod_item *items = xcalloc(n ? n : 1, sizeof(*items));
	char **elems = xcalloc(n ? n : 1, sizeof(*elems));
	char hex[65], listsum[65], head[512], name[8192]; /* long names are cut */
	unsigned char md[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	memcpy(items, c->items, n * sizeof(*items));
	sort_list = c->list;
	qsort(items, n, sizeof(*items), cmp_items);
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		fatalx("out of memory");
	for (i = 0; i < n; i++) {
		const char *mod = c->list->v[items[i].entry].name;

		util_hex(items[i].sig.sha256, sizeof(items[i].sig.sha256), hex);
		EVP_DigestUpdate(ctx, hex, 64);
		EVP_DigestUpdate(ctx, "  ./", 4);
		EVP_DigestUpdate(ctx, mod, strlen(mod));
		EVP_DigestUpdate(ctx, "\n", 1);
		json_escape(mod, name, sizeof(name));
		elems[i] = xasprintf("{\"name\":\"./%s\",\"sha256\":\"%s\"}", name, hex);
	}
	EVP_DigestFinal_ex(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	util_hex(md, sizeof(md), listsum);

	/* the first record always goes, even without modules */
	for (size_t start = 0, first = 1; first || start < n; start = end, first = 0) {
		size_t len = 0, size;
		char *json;

		end = chunk_end(elems, n, start, budget);
		if (first)
			snprintf(head, sizeof(head),
				 "{\"hashalg\":\"%s\",\"key_sha256\":\"%s\",\"count\":%zu,"
				 "\"list_sha256\":\"%s\",\"signed\":[",
				 hashalg, c->key->fingerprint, n, listsum);
		else
			snprintf(head, sizeof(head), "{\"signed\":[");
		size = strlen(head) + 3;
		for (i = start; i < end; i++)
			size += strlen(elems[i]) + 1;
		json = xmalloc(size);
		len = (size_t)snprintf(json, size, "%s", head);
		for (i = start; i < end; i++)
			len += (size_t)snprintf(json + len, size - len, "%s%s", i > start ? "," : "",
						elems[i]);
		snprintf(json + len, size - len, "]}");
		job_audit(job, json);
		free(json);
	}
	for (i = 0; i < n; i++)
		free(elems[i]);
	free(elems);
	free(items);
}

/* Sign and pack the extracted tree; 0 or -1 with err (a local failure). */
static int
sign_and_pack(struct job *job, struct kmod_ctx *c, const char *out, char *err, size_t errlen)
{
	struct ar_writer *w;
	pthread_t *threads = NULL;
	long nthreads = job->cfg->sign_threads;
	size_t i, k = 0, done = 0;
	int started = 0, rc = 0;

	for (i = 0; i < c->list->n; i++)
		if ((c->list->v[i].type == AR_FILE || c->list->v[i].type == AR_HARDLINK) &&
		    is_module(c->list->v[i].name))
			c->nitems++;
	c->items = xcalloc(c->nitems ? c->nitems : 1, sizeof(*c->items));
	for (i = 0; i < c->list->n; i++)
		if ((c->list->v[i].type == AR_FILE || c->list->v[i].type == AR_HARDLINK) &&
		    is_module(c->list->v[i].name))
			c->items[k++].entry = i;

	if ((w = ar_writer_open(out, KMOD_GZIP_LEVEL, err, errlen)) == NULL)
		return -1;
	if (nthreads <= 0)
		nthreads = sysconf(_SC_NPROCESSORS_ONLN);
	if (nthreads <= 0)
		nthreads = 1;
	if ((size_t)nthreads > c->nitems)
		nthreads = (long)c->nitems;
	threads = xcalloc(nthreads ? (size_t)nthreads : 1, sizeof(*threads));
	for (; started < nthreads; started++) {
		int e = pthread_create(&threads[started], NULL, sign_thread, c);

		if (e != 0) {
			if (started > 0)
				break; /* fewer threads will do */
			snprintf(err, errlen, "pthread_create: %s", strerror(e));
			rc = -1;
			break;
		}
	}
	log_debug("job %s: %zu modules, %d signing threads", job->idstr, c->nitems, started);
	job_progress(job, "signed 0/%zu", c->nitems);

	for (i = 0, k = 0; rc == 0 && i < c->list->n; i++) {
		const struct kmod_item *item = NULL;

		if (k < c->nitems && c->items[k].entry == i) {
			if (wait_item(c, k) < 0) {
				pthread_mutex_lock(&c->lock);
				snprintf(err, errlen, "signing %s", c->err);
				pthread_mutex_unlock(&c->lock);
				rc = -1;
				break;
			}
			item = &c->items[k++];
		}
		if (pack_member(c, w, i, item, err, errlen) < 0) {
			rc = -1;
			break;
		}
		if (item != NULL && (++done % KMOD_PROGRESS_EVERY == 0 || done == c->nitems))
			job_progress(job, "signed %zu/%zu", done, c->nitems);
	}

	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_mutex_unlock(&c->lock);
	for (int t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	free(threads);
	if (rc == 0)
		rc = ar_writer_close(w, err, errlen);
	else
		ar_writer_abort(w);
	return rc;
}

static int
kmod_run(struct job *job)
{
	const struct form_file *f = job_file(job, "artifact");
	const char *hashalg = job_field(job, "hashalg");
	struct ks_blob keyblob = {0}, certblob = {0};
	struct modsign_key key;
	struct kmod_ctx c;
	struct ar_limits lim;
	struct ar_list list = {0};
	char err[512], tree[PATH_MAX], out[PATH_MAX];
	int st;

	if (f == NULL || strcmp(f->type, "application/octet-stream") != 0)
		return job_fail(job, 400, "Invalid artifact");
	if (hashalg == NULL)
		hashalg = "sha512";
	if (strcmp(hashalg, "sha256") != 0 && strcmp(hashalg, "sha384") != 0 &&
	    strcmp(hashalg, "sha512") != 0)
		return job_fail(job, 400, "Invalid parameters");

	if ((st = ks_load(job->cfg, job->selector, KMOD_TAG, KMOD_KEY, &keyblob, err,
			  sizeof(err))) != 0)
		return job_fail(job, st, "%s", err);
	if ((st = ks_load(job->cfg, job->selector, KMOD_TAG, KMOD_CERT, &certblob, err,
			  sizeof(err))) != 0) {
		ks_blob_free(&keyblob);
		return job_fail(job, st, "%s", err);
	}
	st = modsign_key_load(&key, keyblob.data, keyblob.len, certblob.data, certblob.len, err,
			      sizeof(err));
	ks_blob_free(&keyblob);
	ks_blob_free(&certblob);
	if (st < 0) {
		log_errorx("job %s: %s/%s: %s", job->idstr, job->selector, KMOD_TAG, err);
		return job_fail(job, 500, "Signing error");
	}

	if (job_path(job, "tree", tree, sizeof(tree)) < 0 ||
	    job_path(job, KMOD_ANSWER, out, sizeof(out)) < 0 || mkdir(tree, 0700) < 0) {
		log_errorx("job %s: job directory: %s", job->idstr, strerror(errno));
		modsign_key_free(&key);
		return job_fail(job, 500, "Signing error");
	}
	ar_limits_from_config(&lim, job->cfg);
	job_progress(job, "extracting");
	st = ar_extract(f->path, tree, &lim, &list, err, sizeof(err));
	if (st != 0) {
		if (st == 400) {
			log_warnx("job %s: invalid artifact: %s", job->idstr, err);
			job_fail(job, 400, "Invalid artifact: %s", err);
		} else {
			log_errorx("job %s: extracting: %s", job->idstr, err);
			job_fail(job, 500, "Signing error");
		}
		goto done;
	}

	memset(&c, 0, sizeof(c));
	c.key = &key;
	c.md = modsign_md(hashalg);
	c.list = &list;
	pthread_mutex_init(&c.lock, NULL);
	pthread_cond_init(&c.cond, NULL);
	if ((c.rootfd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || c.md == NULL) {
		snprintf(err, sizeof(err), "tree: %s", c.md ? strerror(errno) : "no digest");
		st = -1;
	} else
		st = sign_and_pack(job, &c, out, err, sizeof(err));
	if (st == 0) {
		audit(job, &c, hashalg);
		log_info("job %s: signed %zu modules with %s (key %.16s)", job->idstr, c.nitems,
			 hashalg, key.fingerprint);
		job_reply_file(job, out, KMOD_ANSWER);
	} else {
		log_errorx("job %s: %s", job->idstr, err);
		unlink(out);
		job_fail(job, 500, "Signing error");
	}
	if (c.rootfd >= 0)
		close(c.rootfd);
	for (size_t i = 0; i < c.nitems; i++)
		modsign_sig_free(&c.items[i].sig);
	free(c.items);
	pthread_mutex_destroy(&c.lock);
	pthread_cond_destroy(&c.cond);
done:
	modsign_key_free(&key);
	ar_list_free(&list);
	if (util_rm_rf(tree) < 0)
		log_warnx("job %s: removing %s: %s", job->idstr, tree, strerror(errno));
	return job->status;
}

const struct signer signer_modules = {
	.path = "/sign/modules",
	.name = "modules",
	.selector_field = "machine",
	.selector_missing = "Invalid parameters",
	.takes_files = 1,
	.run = kmod_run,
};
