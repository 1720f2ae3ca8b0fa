/* SPDX-License-Identifier: MIT */
/*
 * fitimage.c: /sign/fitimage, U-Boot FIT images signed by Debian's (or
 * the PATH's) mkimage, as upstream does it (UPSTREAM-SIGNERS.md), with
 * its fields and defaults: artifact, dtb (optional, gets the public key,
 * -K), machine (default "imx"), keyname (default "dev"), backend,
 * external_data_offset (-p, hex), mark_required (-r when non-empty),
 * algo (-o), comment (-c).
 *
 * The key <machine>/fitimagesign/<keyname>.key and its certificate .crt
 * come from the key process (the MATERIALIZE table allows this pair: the
 * tool reads key files) into a 0700 directory of the job, removed as soon
 * as mkimage is done; the tool runs in the job's sandbox (tool.h).
 * Stricter than upstream:
 *  - the FIT is read first (lib/fit.c): what is not a FIT is a 400;
 *  - mkimage exits 0 when the FIT's key-name-hint names another key and
 *    leaves the node as it came, unsigned or with a value someone else
 *    made: every signature node is checked afterwards, and one unsigned
 *    or of another hint is a 400 naming the hint and the key used, never
 *    a 200 with a FIT the server did not sign;
 *  - SOURCE_DATE_EPOCH is the server's when set, else the FIT's own
 *    timestamp, so the same request gives the same bytes;
 *  - the dtb's upload name is reduced to a safe base name, and the
 *    option fields are checked before they reach mkimage's command line.
 * The answer: fitImage.signed, or with a dtb signed-fitImage.tar.gz with
 * the members fitImage and the dtb's name (no "./", as upstream).
 *
 * backend=pkcs11 (upstream runs `mkimage -E -F -N pkcs11 -k <keyname>`):
 * no mkimage, no engine; lib/fitsign.c makes mkimage -E -F's bytes here
 * and the key process signs each digest on the token.  keyname is the
 * URI's body ("pkcs11:" in front is accepted too); the key of a
 * signature node is <machine>/fitimagesign/<name>.pkcs11, <name> the
 * URI's object= or else the node's key-name-hint (mkimage's rule), and
 * the client's URI must fit that reference (the key process checks it:
 * 403).  A PIN in it is ignored: the key process is logged in already.
 * The timestamp is the file path's (SOURCE_DATE_EPOCH, else the FIT's).
 */
#include <ctype.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dss_archive.h"
#include "fit.h"
#include "fitcheck.h"
#include "fitsign.h"
#include "job.h"
#include "keyclient.h"
#include "keystore.h"
#include "log.h"
#include "mask.h"
#include "p11uri.h"
#include "pkey.h"
#include "signer.h"
#include "tool.h"
#include "util.h"

#define FIT_TAG "fitimagesign"
#define FIT_NAME "fitImage"
#define FIT_DTB_DEFAULT "u-boot.dtb"
#define FIT_TAIL_LINES 20
#define FIT_COMMENT_MAX 256

struct fitjob {
	struct job *job;
	char work[PATH_MAX]; /* <job>/fit: fitImage and the dtb */
	char keys[PATH_MAX]; /* <job>/fitkeys: the key and certificate, for mkimage only */
	char fit[PATH_MAX];
	char dtb[PATH_MAX]; /* "" without a dtb */
	char dtbname[128];
	char keyname[64];
	char key_fpr[65];
	char in_sha256[65];
	struct mask *mask;
};

/* dir/name into out; 0, or -1 when it does not fit. */
static int
join(char *out, size_t outlen, const char *dir, const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int
is_pkcs11(const struct job *job)
{
	const char *b = job_field(job, "backend");

	return b != NULL && strcmp(b, "pkcs11") == 0;
}

static int
fit_precheck(struct job *job)
{
	const struct form_file *f = job_file(job, "artifact");
	const char *keyname = job_field(job, "keyname");

	/* upstream's order: the artifact, then the PKCS#11 key name */
	if (f == NULL || strcmp(f->type, "application/octet-stream") != 0)
		return job_fail(job, 400, "Invalid artifact");
	if (is_pkcs11(job) && (keyname == NULL || *keyname == '\0'))
		return job_fail(job, 400, "Key URI missing for PKCS#11 backend");
	return 0;
}

/* The dtb's name in the job: the base name of the upload's, when it is a
 * safe file name other than fitImage and not ending in ".new" (the native
 * signer's temporary names: fitImage.new); else u-boot.dtb. */
static void
dtb_name(const struct form_file *f, char *out, size_t outlen)
{
	const char *base = f->filename ? strrchr(f->filename, '/') : NULL;
	size_t n;

	base = base ? base + 1 : f->filename;
	n = base ? strlen(base) : 0;
	if (base == NULL || !ks_selector_valid(base) || strcmp(base, FIT_NAME) == 0 ||
	    n >= outlen || (n >= 4 && strcmp(base + n - 4, ".new") == 0))
		base = FIT_DTB_DEFAULT;
	snprintf(out, outlen, "%s", base);
}

/* The uploads into the work directory; 0 or the status set. */
static int
stage(struct fitjob *fj)
{
	struct job *job = fj->job;
	const struct form_file *art = job_file(job, "artifact"), *dtb = job_file(job, "dtb");

	if (job_path(job, "fit", fj->work, sizeof(fj->work)) < 0 ||
	    job_path(job, "fitkeys", fj->keys, sizeof(fj->keys)) < 0 ||
	    join(fj->fit, sizeof(fj->fit), fj->work, FIT_NAME) < 0 || mkdir(fj->work, 0700) < 0)
		return job_fail(job, 500, "Signing error");
	if (rename(art->path, fj->fit) < 0) {
		log_error("job %s: rename %s", job->idstr, art->path);
		return job_fail(job, 500, "Signing error");
	}
	/* upstream ignores a dtb of another type, silently */
	if (dtb != NULL && dtb->path != NULL &&
	    strcmp(dtb->type, "application/octet-stream") == 0) {
		dtb_name(dtb, fj->dtbname, sizeof(fj->dtbname));
		if (join(fj->dtb, sizeof(fj->dtb), fj->work, fj->dtbname) < 0 ||
		    rename(dtb->path, fj->dtb) < 0) {
			log_error("job %s: rename %s", job->idstr, dtb->path);
			return job_fail(job, 500, "Signing error");
		}
	}
	return 0;
}

/* Upstream's fallback for a key name that normalises to nothing: the
 * first key-<name> in the dtb; 1 when found. */
static int
keyname_from_dtb(const char *path, char *out, size_t outlen)
{
	struct fit_keyname k;
	unsigned char buf[16384];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return 0;
	fit_keyname_init(&k);
	while (!k.done && (n = read(fd, buf, sizeof(buf))) > 0)
		fit_keyname_feed(&k, buf, (size_t)n);
	close(fd);
	if (!fit_keyname_done(&k))
		return 0;
	snprintf(out, outlen, "%s", k.name);
	return 1;
}

/*
 * The key name as upstream resolves it: the field without surrounding
 * white space and one trailing ".key"; when that leaves nothing, the
 * dtb's key-<name>, else the FIT's first key-name-hint, else "dev".
 * 0, or the status set (a name that is not one safe file name).
 */
static int
resolve_keyname(struct fitjob *fj, const struct fit_info *fi)
{
	const char *field = job_field(fj->job, "keyname");
	char name[128] = "";
	size_t n;

	if (field == NULL || *field == '\0')
		field = "dev";
	while (isspace((unsigned char)*field))
		field++;
	snprintf(name, sizeof(name), "%s", field);
	n = strlen(name);
	while (n > 0 && isspace((unsigned char)name[n - 1]))
		name[--n] = '\0';
	if (n >= 4 && strcmp(name + n - 4, ".key") == 0)
		name[n -= 4] = '\0';
	if (n == 0 && !(fj->dtb[0] && keyname_from_dtb(fj->dtb, name, sizeof(name)))) {
		const char *hint = "dev";

		for (size_t i = 0; i < fi->nsigs; i++)
			if (fi->sigs[i].hint[0]) {
				hint = fi->sigs[i].hint;
				break;
			}
		snprintf(name, sizeof(name), "%s", hint);
	}
	if (strlen(name) + 4 >= sizeof(fj->keyname) || !ks_selector_valid(name))
		return job_fail(fj->job, 400, "Invalid parameters: keyname");
	snprintf(fj->keyname, sizeof(fj->keyname), "%s", name);
	return 0;
}

/* One key file from the key process into the keys directory; the
 * private key masked and its fingerprint kept for the audit.  0 or the
 * status set. */
static int
fetch_key(struct fitjob *fj, const char *ext)
{
	char file[80];
	int secret = strcmp(ext, ".key") == 0;
	struct tool_key k = {
	    .selector = fj->job->selector,
	    .tag = FIT_TAG,
	    .file = file,
	    .dir = fj->keys,
	    .mask = secret ? fj->mask : NULL,
	    .fpr = secret ? fj->key_fpr : NULL,
	};

	snprintf(file, sizeof(file), "%s%s", fj->keyname, ext);
	return tool_key_fetch(fj->job, &k);
}

/* 1 when text is a hexadecimal number as mkimage's -p takes it. */
static int
is_hex_offset(const char *text)
{
	size_t n;

	if (strncmp(text, "0x", 2) == 0 || strncmp(text, "0X", 2) == 0)
		text += 2;
	n = strlen(text);
	return n > 0 && n <= 16 && strspn(text, "0123456789abcdefABCDEF") == n;
}

/* 1 when text is printable ASCII (a -c comment, a -o algorithm list). */
static int
is_plain_text(const char *text, size_t max, const char *allowed)
{
	size_t n = strlen(text);

	if (n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isprint((unsigned char)text[i]) || (allowed && !strchr(allowed, text[i])))
			return 0;
	return 1;
}

/* The option fields, checked once for both ways of signing (mkimage's
 * command line, the native signer); NULL or 0 when absent or empty. */
struct fit_fields {
	const char *comment;    /* -c */
	const char *offset;     /* -p, hexadecimal text */
	unsigned long long off; /* its value */
	int require;            /* -r: any non-empty value, as upstream */
	const char *algo;       /* -o */
};

/* Read and check the option fields, in upstream's order; bounded: the
 * offset must also fit the native signer's 32 bits.  0 or the status set
 * for a field mkimage would misread. */
static int
read_fields(struct fitjob *fj, struct fit_fields *f, int bounded)
{
	const char *comment = job_field(fj->job, "comment");
	const char *offset = job_field(fj->job, "external_data_offset");
	const char *required = job_field(fj->job, "mark_required");
	const char *algo = job_field(fj->job, "algo");

	memset(f, 0, sizeof(*f));
	if (comment && *comment) {
		if (!is_plain_text(comment, FIT_COMMENT_MAX, NULL))
			return job_fail(fj->job, 400,
					"Invalid parameters: comment must be printable text");
		f->comment = comment;
	}
	if (offset && *offset) {
		f->off = strtoull(offset, NULL, 16);
		if (!is_hex_offset(offset) || (bounded && f->off > UINT32_MAX))
			return job_fail(fj->job, 400,
					"Invalid parameters: external_data_offset "
					"must be a hexadecimal number");
		if (f->off > FIT_EXTERNAL_OFFSET_MAX)
			return job_fail(fj->job, 400,
					"Invalid parameters: external_data_offset above %#llx",
					FIT_EXTERNAL_OFFSET_MAX);
		f->offset = offset;
	}
	f->require = required && *required;
	if (algo && *algo) {
		if (!is_plain_text(algo, 64, "abcdefghijklmnopqrstuvwxyz0123456789,-"))
			return job_fail(fj->job, 400, "Invalid parameters: algo");
		f->algo = algo;
	}
	return 0;
}

/* mkimage's options from the fields, in upstream's order; 0 or the status
 * set. */
static int
options(struct fitjob *fj, struct strv *argv)
{
	struct fit_fields f;
	int st = read_fields(fj, &f, 0);

	if (st != 0)
		return st;
	if (f.comment) {
		strv_add(argv, "-c");
		strv_add(argv, f.comment);
	}
	if (f.offset) {
		strv_add(argv, "-p");
		strv_add(argv, f.offset);
	}
	if (f.require)
		strv_add(argv, "-r");
	if (fj->dtb[0]) {
		strv_add(argv, "-K");
		strv_add(argv, fj->dtb);
	}
	if (f.algo) {
		strv_add(argv, "-o");
		strv_add(argv, f.algo);
	}
	return 0;
}

/* The tool's environment: PATH, and the timestamp mkimage writes. */
static void
environment(const struct fit_info *fi, struct strv *env)
{
	const char *epoch = fitcheck_epoch();

	strv_addf(env, "PATH=%s", tool_path());
	if (epoch != NULL)
		strv_addf(env, "SOURCE_DATE_EPOCH=%s", epoch);
	else if (fi->has_timestamp)
		strv_addf(env, "SOURCE_DATE_EPOCH=%u", (unsigned)fi->timestamp);
}

/* Run mkimage with the key in a directory of its own, removed at once;
 * *ran set when mkimage was started. */
static int
run_mkimage(struct fitjob *fj, const struct fit_info *fi, int *ran)
{
	struct strv argv = {0}, env = {0};
	struct tool tool = {.cwd = fj->work, .tail_lines = FIT_TAIL_LINES};
	int st, made = 0;

	strv_add(&argv, "mkimage");
	strv_add(&argv, "-F");
	strv_add(&argv, "-k");
	strv_add(&argv, fj->keys);
	if ((st = options(fj, &argv)) != 0)
		goto done;
	strv_add(&argv, fj->fit);
	if (mkdir(fj->keys, 0700) < 0) {
		log_error("job %s: mkdir %s", fj->job->idstr, fj->keys);
		st = job_fail(fj->job, 500, "Signing error");
		goto done;
	}
	made = 1;
	if ((st = fetch_key(fj, ".key")) != 0 || (st = fetch_key(fj, ".crt")) != 0)
		goto done;
	environment(fi, &env);
	tool.argv = argv.v;
	tool.envp = env.v;
	tool.mask = fj->mask;
	job_progress(fj->job, "signing");
	*ran = 1;
	st = tool_run(fj->job, &tool);
done:
	if (made && util_rm_rf(fj->keys) < 0)
		log_warn("job %s: removing the key directory", fj->job->idstr);
	strv_free(&argv);
	strv_free(&env);
	return st;
}

/* Every signature node of the signed FIT holds a value made with the
 * key fetched: its key-name-hint is that key's (mkimage leaves a node of
 * another hint as it came, unsigned or signed by someone else); 0 or 400
 * set. */
static int
check_signed(struct fitjob *fj)
{
	struct fit_info out;
	char err[256];

	if (fitcheck_scan_file(fj->fit, &out, err, sizeof(err)) < 0) {
		log_warnx("job %s: mkimage's output: %s", fj->job->idstr, err);
		return job_fail(fj->job, 500, "Signing error");
	}
	if (out.nsigs == 0)
		return job_fail(fj->job, 400, "FIT image not signed: it has no signature node");
	for (size_t i = 0; i < out.nsigs; i++) {
		/* the right hint and still no value: mkimage could not sign
		 * with that key (an ECDSA algo wants <name>.pem, which the
		 * store does not hand over; it says so and exits 0) */
		if (!out.sigs[i].has_value && strcmp(out.sigs[i].hint, fj->keyname) == 0)
			return job_fail(fj->job, 400,
					"FIT image not signed: mkimage made no signature for %s "
					"with the key \"%s\" (does its algo fit an RSA key?)",
					out.sigs[i].node, fj->keyname);
		if (!out.sigs[i].has_value || strcmp(out.sigs[i].hint, fj->keyname) != 0)
			return job_fail(fj->job, 400,
					"FIT image not signed: %s has key-name-hint \"%s\", "
					"the key found is \"%s\"",
					out.sigs[i].node, out.sigs[i].hint, fj->keyname);
	}
	return 0;
}

/* The tarball of fitImage and the dtb, members without "./". */
static int
pack(struct fitjob *fj, char *out, size_t outlen, char *err, size_t errlen)
{
	const char *names[] = {FIT_NAME, fj->dtbname};
	struct ar_writer *w;

	if (job_path(fj->job, "signed-fitImage.tar.gz", out, outlen) < 0) {
		snprintf(err, errlen, "the answer's path is too long");
		errno = 0;
		return -1;
	}
	if ((w = ar_writer_open(out, 0, err, errlen)) == NULL)
		return -1;
	ar_writer_plain_names(w);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[PATH_MAX];
		struct stat st;
		struct ar_entry e = {.name = (char *)names[i], .type = AR_FILE, .mode = 0644};
		int fd = -1, rc, saved;

		if (join(path, sizeof(path), fj->work, names[i]) < 0 ||
		    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 ||
		    fstat(fd, &st) < 0) {
			snprintf(err, errlen, "%s: %s", names[i], strerror(errno));
			if (fd >= 0)
				close(fd);
			ar_writer_abort(w);
			errno = 0; /* reading, not writing, failed */
			return -1;
		}
		e.mtime = st.st_mtime;
		e.size = (uint64_t)st.st_size;
		rc = ar_writer_add(w, &e, fd, NULL, 0, err, errlen);
		saved = errno; /* the failed write's, for the caller */
		close(fd);
		if (rc < 0) {
			ar_writer_abort(w);
			errno = saved;
			return -1;
		}
	}
	return ar_writer_close(w, err, errlen);
}

static void
audit(struct fitjob *fj)
{
	struct json_t *o = job_audit_new();
	char sum[65] = "";

	job_audit_text(o, "keyname", fj->keyname);
	job_audit_text(o, "key_sha256", fj->key_fpr);
	job_audit_text(o, "input_sha256", fj->in_sha256);
	job_audit_list(o);
	if (pkey_sha256_file(fj->fit, sum) == 0)
		job_audit_item(o, FIT_NAME, sum);
	if (fj->dtb[0] && pkey_sha256_file(fj->dtb, sum) == 0)
		job_audit_item(o, fj->dtbname, sum);
	job_audit_send(fj->job, o);
}

/* --- backend=pkcs11: signed here (lib/fitsign.c), keys on a token ----------- */

/* The client's key URI, as mkimage builds it from -k: the keyname field
 * after "pkcs11:" (a field that already starts with it is taken as is). */
struct p11key {
	struct fitjob *fj;
	char base[P11URI_MAX]; /* "pkcs11:<keyname>" */
	char object[256];      /* its object=, or "": each node's hint */
	char used[256];        /* the last key name signed with, for the audit */
};

/* The key name of a signature node: the URI's object, else the node's
 * key-name-hint (mkimage appends ";object=<hint>").  Sets the channel's
 * URI; 0 or a status with err. */
static int
p11_name(struct p11key *pk, const char *hint, char *name, size_t namelen, char *err, size_t errlen)
{
	char uri[P11URI_MAX + 300], why[160] = "";
	struct p11uri u;

	if (pk->object[0]) {
		snprintf(uri, sizeof(uri), "%s", pk->base);
		snprintf(name, namelen, "%s", pk->object);
	} else {
		if (*hint == '\0' || !ks_selector_valid(hint)) {
			snprintf(err, errlen,
				 "Invalid parameters: the key URI names no object and a "
				 "signature node has no usable key-name-hint");
			return 400;
		}
		snprintf(uri, sizeof(uri), "%s;object=%s", pk->base, hint);
		snprintf(name, namelen, "%s", hint);
	}
	if (p11uri_parse(uri, &u, why, sizeof(why)) < 0)
		; /* why says it */
	else if (!ks_selector_valid(name))
		snprintf(why, sizeof(why), "the object is not a key name");
	else if (kc_set_key_uri(pk->fj->job->keys, uri) < 0)
		snprintf(why, sizeof(why), "too long");
	else
		why[0] = '\0';
	if (why[0]) {
		snprintf(err, errlen, "Invalid key URI: %s", why);
		return 400;
	}
	snprintf(pk->used, sizeof(pk->used), "%s", name);
	return 0;
}

static int
p11_sign(void *arg, const char *hint, int pss, const EVP_MD *md, const unsigned char *digest,
	 size_t dlen, unsigned char *sig, size_t *siglen, char *err, size_t errlen)
{
	struct p11key *pk = arg;
	struct job *job = pk->fj->job;
	char name[256];
	int st = p11_name(pk, hint, name, sizeof(name), err, errlen);

	if (st != 0)
		return st;
	return kc_sign(job->keys, job->selector, FIT_TAG, name,
		       pss ? KEYPROTO_RSA_PSS : KEYPROTO_RSA_PKCS1, pss ? RSA_PSS_SALTLEN_MAX : 0,
		       kc_md(md), digest, dlen, sig, siglen, pk->fj->key_fpr, err, errlen);
}

static int
p11_public(void *arg, const char *hint, EVP_PKEY **pub, char *err, size_t errlen)
{
	struct p11key *pk = arg;
	struct job *job = pk->fj->job;
	unsigned char *der = NULL, *cert = NULL;
	const unsigned char *p;
	size_t derlen = 0, certlen = 0;
	char name[256];
	int st = p11_name(pk, hint, name, sizeof(name), err, errlen);

	if (st == 0)
		st = kc_public(job->keys, job->selector, FIT_TAG, name, &der, &derlen, &cert,
			       &certlen, err, errlen);
	if (st == 0) {
		p = der;
		if ((*pub = d2i_PUBKEY(NULL, &p, (long)derlen)) == NULL) {
			snprintf(err, errlen, "Signing error");
			st = 500;
		}
	}
	free(der);
	free(cert);
	return st;
}

/* The keyname field as a URI body; 0 or the status set. */
static int
p11_key(struct fitjob *fj, struct p11key *pk)
{
	const char *field = job_field(fj->job, "keyname");
	struct p11uri u;
	char why[160];
	int n;

	if (strncmp(field, "pkcs11:", 7) == 0)
		field += 7;
	n = snprintf(pk->base, sizeof(pk->base), "pkcs11:%s", field);
	if (n < 0 || (size_t)n >= sizeof(pk->base))
		return job_fail(fj->job, 400, "Invalid key URI: too long");
	pk->object[0] = '\0';
	if (strstr(field, "object=") != NULL) { /* mkimage's test */
		if (p11uri_parse(pk->base, &u, why, sizeof(why)) < 0)
			return job_fail(fj->job, 400, "Invalid key URI: %s", why);
		snprintf(pk->object, sizeof(pk->object), "%s", u.object);
		if (!ks_selector_valid(pk->object))
			return job_fail(fj->job, 400, "Invalid key URI: object must be a key name");
	}
	pk->fj = fj;
	return 0;
}

/* mkimage's options from the fields, for the native signer; 0 or the
 * status set. */
static int
native_opts(struct fitjob *fj, const struct fit_info *fi, struct fitsign_opts *o)
{
	const char *epoch = fitcheck_epoch();
	struct fit_fields f;
	int st = read_fields(fj, &f, 1);

	if (st != 0)
		return st;
	memset(o, 0, sizeof(*o));
	o->comment = f.comment;
	o->external_offset = (uint32_t)f.off;
	o->require = f.require;
	o->algo = f.algo;
	/* the timestamp mkimage would write, as environment() gives it */
	if (epoch != NULL)
		o->timestamp = (uint32_t)strtoull(epoch, NULL, 10);
	else
		o->timestamp = fi->has_timestamp ? fi->timestamp : (uint32_t)time(NULL);
	return 0;
}

/* Open path's new version path.new for writing; the fd or -1. */
static int
open_new(const char *path, char *tmp, size_t tmplen)
{
	if (snprintf(tmp, tmplen, "%s.new", path) >= (int)tmplen)
		return -1;
	return open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
}

/*
 * One pass of the native signer (lib/fitsign.c) with k over fj->fit and,
 * with_dtb, fj->dtb, into <fit>.new and <dtb>.new.  commit: they then
 * replace the originals when it succeeded; otherwise they are removed
 * (a check).  The status, with err set (500 "Signing error" when a file
 * cannot be opened, closed or renamed); *res what it did.
 */
static int
native_pass(struct fitjob *fj, const struct fitsign_opts *o, const struct fitsign_key *k,
	    int with_dtb, int commit, struct fitsign_result *res, char *err, size_t errlen)
{
	char fitnew[PATH_MAX + 8], dtbnew[PATH_MAX + 8];
	struct stat fs, ds = {0};
	int fd = open(fj->fit, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), dfd = -1, out, dout = -1;
	int st = 500;

	snprintf(err, errlen, "Signing error");
	memset(res, 0, sizeof(*res));
	if (fd < 0 || fstat(fd, &fs) < 0 || (out = open_new(fj->fit, fitnew, sizeof(fitnew))) < 0)
		goto done;
	if (with_dtb &&
	    ((dfd = open(fj->dtb, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(dfd, &ds) < 0 ||
	     (dout = open_new(fj->dtb, dtbnew, sizeof(dtbnew))) < 0)) {
		close(out);
		goto done;
	}
	st = fitsign_run(fd, (size_t)fs.st_size, dfd, (size_t)ds.st_size, o, k, out, dout, res,
			 err, errlen);
	if (close(out) < 0 || (dout >= 0 && close(dout) < 0))
		st = st ? st : 500;
	if (!commit) {
		if (unlink(fitnew) < 0 || (dout >= 0 && unlink(dtbnew) < 0))
			log_warn("job %s: removing the checked FIT", fj->job->idstr);
	} else if (st == 0 &&
		   (rename(fitnew, fj->fit) < 0 || (dfd >= 0 && rename(dtbnew, fj->dtb) < 0))) {
		st = 500;
	}
done:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return st;
}

/* Sign fj->fit (and its dtb) into new files, then put them in place. */
static int
native_sign(struct fitjob *fj, const struct fitsign_opts *o, struct p11key *pk)
{
	struct fitsign_key k = {.sign = p11_sign, .public_key = p11_public, .arg = pk};
	struct fitsign_result res;
	char err[KEYPROTO_REASON_MAX];
	int st;

	job_progress(fj->job, "signing");
	if ((st = native_pass(fj, o, &k, fj->dtb[0] != '\0', 1, &res, err, sizeof(err))) != 0)
		return job_fail(fj->job, st, "%s", err);
	log_info("job %s: FIT signed on the token: %u signature nodes, %u hashes, %u attempts",
		 fj->job->idstr, res.nsigned, res.nhashes, res.attempts);
	return 0;
}

/* backend=pkcs11: mkimage -E -F -N pkcs11 -k <keyname> as upstream runs
 * it, done here with the key process signing on the token. */
static int
native_run(struct fitjob *fj, const struct fit_info *fi)
{
	struct fitsign_opts o;
	struct p11key pk = {0};
	char out[PATH_MAX], err[256];
	int st;

	if ((st = p11_key(fj, &pk)) != 0 || (st = native_opts(fj, fi, &o)) != 0 ||
	    (st = native_sign(fj, &o, &pk)) != 0)
		return st;
	if (snprintf(fj->keyname, sizeof(fj->keyname), "%s", pk.used) >= (int)sizeof(fj->keyname))
		fj->keyname[sizeof(fj->keyname) - 1] = '\0'; /* the audit's, only */
	audit(fj);
	if (!fj->dtb[0])
		return job_reply_file(fj->job, fj->fit, "fitImage.signed");
	if (pack(fj, out, sizeof(out), err, sizeof(err)) < 0)
		return job_write_failed(fj->job, errno, err);
	return job_reply_file(fj->job, out, "signed-fitImage.tar.gz");
}

/* Stand-in signatures and no public key: the check of mkimage_refused
 * asks the key process for nothing. */
static int
blank_sign(void *arg, const char *hint, int pss, const EVP_MD *md, const unsigned char *digest,
	   size_t dlen, unsigned char *sig, size_t *siglen, char *err, size_t errlen)
{
	(void)arg, (void)hint, (void)pss, (void)md, (void)digest, (void)dlen, (void)err,
	    (void)errlen;
	if (*siglen > 512) /* RSA-4096's */
		*siglen = 512;
	memset(sig, 0, *siglen);
	return 0;
}

static int
no_public(void *arg, const char *hint, EVP_PKEY **pub, char *err, size_t errlen)
{
	(void)arg, (void)hint;
	*pub = NULL;
	snprintf(err, errlen, "Signing error");
	return 500;
}

/*
 * mkimage failed (st, its 500 set): was it the FIT?  First what mkimage
 * -F checks besides the signing (fitcheck.h: the dtb, the FIT's root,
 * a key-name-hint in every signature node).  Then the native signer
 * (lib/fitsign.c), which stops where mkimage stops, with the reason: run
 * on the FIT (mkimage -F leaves the file as it was when it fails) with
 * blank signatures, without the dtb and without asking for any key.  A
 * 400 from it, unless it is one of the native signer's own limits (an
 * ECDSA algorithm, which mkimage signs), is the answer: the client's
 * FIT, not the server, is at fault.  Anything else keeps st.
 */
static int
mkimage_refused(struct fitjob *fj, const struct fit_info *fi, int st)
{
	struct fitsign_key k = {.sign = blank_sign, .public_key = no_public};
	struct fitsign_opts o;
	struct fitsign_result res;
	char err[KEYPROTO_REASON_MAX];
	int rc;

	if (fitcheck_refused(fj->fit, fj->dtb[0] != '\0' ? fj->dtb : NULL, err, sizeof(err))) {
		log_info("job %s: mkimage refused the FIT: %s", fj->job->idstr, err);
		return job_fail(fj->job, 400, "%s", err);
	}
	if (native_opts(fj, fi, &o) != 0)
		return st; /* checked before mkimage: not reached */
	rc = native_pass(fj, &o, &k, 0, 0, &res, err, sizeof(err));
	if (rc != 400 || res.unsupported)
		return st;
	log_info("job %s: mkimage refused the FIT: %s", fj->job->idstr, err);
	return job_fail(fj->job, 400, "%s", err);
}

static int
fit_run(struct job *job)
{
	struct fitjob fj = {.job = job};
	struct fit_info in;
	char err[256], out[PATH_MAX];
	int st, ran = 0;

	if ((st = stage(&fj)) != 0)
		return st;
	if (fitcheck_scan_file(fj.fit, &in, err, sizeof(err)) < 0)
		return job_fail(job, 400, "Invalid artifact: %s", err);
	if (pkey_sha256_file(fj.fit, fj.in_sha256) < 0)
		fj.in_sha256[0] = '\0';
	if (is_pkcs11(job))
		return native_run(&fj, &in);
	if ((st = resolve_keyname(&fj, &in)) != 0)
		return st;
	fj.mask = mask_new();
	st = run_mkimage(&fj, &in, &ran);
	mask_free(fj.mask);
	if (st != 0 && ran)
		st = mkimage_refused(&fj, &in, st);
	if (st != 0 || (st = check_signed(&fj)) != 0)
		return st;
	audit(&fj);
	if (!fj.dtb[0])
		return job_reply_file(job, fj.fit, "fitImage.signed");
	if (pack(&fj, out, sizeof(out), err, sizeof(err)) < 0)
		return job_write_failed(job, errno, err);
	return job_reply_file(job, out, "signed-fitImage.tar.gz");
}

SIGNER_DEFINE(fitimage, .selector_field = "machine", .selector_default = "imx",
	      .selector_missing = "Invalid parameters", .run = fit_run, .precheck = fit_precheck);
