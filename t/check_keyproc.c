/* SPDX-License-Identifier: MIT */
/*
 * check_keyproc.c: unit tests of the key process (keys/).
 *
 * The grant checks (kgrant_check) directly: a channel granted to an
 * endpoint and the client's selector globs may ask for nothing else,
 * and MATERIALIZE only for the fixed table.  Then the key process itself:
 * keyd_main runs in a forked child on a socketpair as its supervisor
 * channel, over a temporary file:// store, and the test speaks the
 * records to it as the supervisor (GRANT, REPORT) and as a worker
 * (SIGN, PUBLIC, MATERIALIZE): a SIGN outside the grant is refused 403
 * and reported; a SIGN inside it verifies with the key's public half; a
 * changed key file changes the next signature, a removed one is a 404; a
 * malformed record gets the channel closed and reported, and the key
 * process carries on with the next job.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "check_main.h"
#include "config.h"
#include "keyd.h"
#include "keygrant.h"
#include "keyproto.h"
#include "proto.h"

static char store[] = "/tmp/check_keyproc.XXXXXX";
static struct config cfg;
static pid_t kpid;
static int sup = -1; /* our end of the key process's supervisor channel */
static union keyproto_msg *m;
static char why[512];

/* ---- grants ------------------------------------------------------------ */

static void
ref(struct keyproto_keyref *k, const char *sel, const char *tag, const char *file)
{
	memset(k, 0, sizeof(*k));
	strcpy(k->selector, sel);
	strcpy(k->tag, tag);
	strcpy(k->file, file);
}

/* One question to kgrant_check: a grant (endpoint, any selector or the
 * globs), a record type and a key; the status it must answer and, when
 * set, a word the reason must hold. */
static const struct grant_case {
	const char *endpoint;
	int any;
	const char *globs;
	uint32_t type;
	const char *sel, *tag, *file;
	int status;
	const char *why;
} grant_cases[] = {
    /* selectors: the client's globs */
    {"tegra", 0, "jetson-*,orin-nx", KEYPROTO_SIGN, "jetson-a", "tegrasign", "rsa_priv.pem", 0,
     NULL},
    {"tegra", 0, "jetson-*,orin-nx", KEYPROTO_PUBLIC, "orin-nx", "tegrasign", "rsa_priv.pem", 0,
     NULL},
    {"tegra", 0, "jetson-*,orin-nx", KEYPROTO_SIGN, "other-machine", "tegrasign", "rsa_priv.pem",
     403, "other-machine"},
    /* a grant with no globs grants no key */
    {"tegra", 0, "", KEYPROTO_SIGN, "jetson-a", "tegrasign", "rsa_priv.pem", 403, NULL},
    /* no access control: every selector */
    {"tegra", 1, "", KEYPROTO_SIGN, "jetson-a", "tegrasign", "rsa_priv.pem", 0, NULL},
    /* endpoint tags: a mender job cannot reach the module signing key, nor the reverse */
    {"mender", 1, "", KEYPROTO_SIGN, "demo", "kmodsign", "kernel-signkey.priv", 403, NULL},
    {"mender", 1, "", KEYPROTO_SIGN, "demo", "mender", "private.key", 0, NULL},
    {"modules", 1, "", KEYPROTO_SIGN, "demo", "mender", "private.key", 403, NULL},
    {"no-such-endpoint", 1, "", KEYPROTO_PUBLIC, "demo", "mender", "private.key", 403, NULL},
    /* MATERIALIZE: only the fixed table */
    {"tegra", 1, "", KEYPROTO_MATERIALIZE, "jetson-a", "tegrasign", "sbk.key", 0, NULL},
    {"mender", 1, "", KEYPROTO_MATERIALIZE, "demo", "mender", "private.key", 403,
     "never handed out"},
    {"swupdate", 1, "", KEYPROTO_MATERIALIZE, "demo", "swupdate", "rsa-private.key", 403, NULL},
    /* names: no way out of the store, no record type but the three */
    {"tegra", 1, "", KEYPROTO_SIGN, "..", "tegrasign", "rsa_priv.pem", 400, NULL},
    {"tegra", 1, "", KEYPROTO_MATERIALIZE, "jetson-a", "tegrasign", "../../etc/shadow", 400, NULL},
    {"tegra", 1, "", KEYPROTO_REPORT, "jetson-a", "tegrasign", "rsa_priv.pem", 400, NULL},
    /* /sign/tegra/ueficapsule and /sign/tegra/ekb are endpoints "tegra/ueficapsule" and
     * "tegra/ekb" (the path past /sign/): their tools get their own tags' files only */
    {"tegra/ueficapsule", 1, "", KEYPROTO_MATERIALIZE, "orin", "ueficapsulesign",
     "signer_private_cert.pem", 0, NULL},
    {"tegra/ueficapsule", 1, "", KEYPROTO_MATERIALIZE, "orin", "ekbsign", "oem_k1.key", 403, NULL},
    {"tegra/ueficapsule", 1, "", KEYPROTO_MATERIALIZE, "orin", "tegrasign", "rsa_priv.pem", 403,
     NULL},
    {"tegra/ekb", 0, "orin*", KEYPROTO_MATERIALIZE, "orin", "ekbsign", "oem_k1.key", 0, NULL},
    {"tegra/ekb", 0, "orin*", KEYPROTO_MATERIALIZE, "xavier", "ekbsign", "oem_k1.key", 403, NULL},
    {"tegra/ekb", 0, "orin*", KEYPROTO_MATERIALIZE, "orin", "ueficapsulesign",
     "signer_private_cert.pem", 403, NULL},
    /* /sign/tegra's jobs do not reach the EKB keys */
    {"tegra", 1, "", KEYPROTO_MATERIALIZE, "orin", "ekbsign", "oem_k1.key", 403, NULL},
    /* mkimage's key for /sign/fitimage, and only there */
    {"fitimage", 1, "", KEYPROTO_MATERIALIZE, "imx", "fitimagesign", "dev.key", 0, NULL},
    {"optee", 1, "", KEYPROTO_MATERIALIZE, "imx", "opteesign", "optee-signing-key.pem", 403, NULL},
    {"optee", 1, "", KEYPROTO_SIGN, "imx", "opteesign", "optee-signing-key.pem", 0, NULL},
    /* Rockchip's tools: each endpoint its own tag's files only */
    {"rk", 1, "", KEYPROTO_MATERIALIZE, "idea3588", "rksign", "dev.key", 0, NULL},
    {"rk", 1, "", KEYPROTO_MATERIALIZE, "idea3588", "rkopteesign", "optee-signing-key.pem", 403,
     NULL},
    {"rkoptee-tee", 1, "", KEYPROTO_MATERIALIZE, "idea3588", "rkopteesign",
     "optee-signing-pubkey.pem", 0, NULL},
    {"rkoptee-ta", 1, "", KEYPROTO_MATERIALIZE, "idea3588", "rkopteesign", "optee-signing-key.pem",
     0, NULL},
    {"rkoptee-ta", 1, "", KEYPROTO_MATERIALIZE, "idea3588", "rksign", "dev.key", 403, NULL},
    {"optee", 1, "", KEYPROTO_MATERIALIZE, "idea3588", "rkopteesign", "optee-signing-key.pem", 403,
     NULL},
    /* NXP's cst: the key tarball and, for backend=pkcs11, the PIN; nothing
     * else of imxsign, and neither for any other endpoint */
    {"imx", 1, "", KEYPROTO_MATERIALIZE, "imx", "imxsign", "imx-cst-keys.tar.gz", 0, NULL},
    {"imx", 0, "imx*", KEYPROTO_MATERIALIZE, "imx8m", "imxsign", "pkcs11-pin", 0, NULL},
    {"imx", 0, "other", KEYPROTO_MATERIALIZE, "imx8m", "imxsign", "pkcs11-pin", 403, "imx8m"},
    {"imx", 1, "", KEYPROTO_MATERIALIZE, "imx", "imxsign", "CSF1_1_key.pem", 403,
     "never handed out"},
    {"imx", 1, "", KEYPROTO_SIGN, "imx", "imxsign", "pkcs11-pin", 403, "not a key"},
    {"imx", 1, "", KEYPROTO_PUBLIC, "imx", "imxsign", "pkcs11-pin", 403, "not a key"},
    {"imx", 1, "", KEYPROTO_MATERIALIZE, "imx", "fitimagesign", "dev.key", 403, NULL},
    {"fitimage", 1, "", KEYPROTO_MATERIALIZE, "imx", "imxsign", "pkcs11-pin", 403, NULL},
    {"tegra", 1, "", KEYPROTO_MATERIALIZE, "imx", "imxsign", "imx-cst-keys.tar.gz", 403, NULL},
};

START_TEST(test_grant)
{
	const struct grant_case *c = &grant_cases[_i];
	struct keyproto_grant g;
	struct keyproto_keyref k;

	memset(&g, 0, sizeof(g));
	strcpy(g.endpoint, c->endpoint);
	g.any_selector = (uint32_t)c->any;
	strcpy(g.selectors, c->globs);
	ref(&k, c->sel, c->tag, c->file);
	ck_assert_msg(kgrant_check(&g, c->type, &k, why, sizeof(why)) == c->status,
		      "case %d: %s %s/%s/%s: expected %d (%s)", _i, c->endpoint, c->sel, c->tag,
		      c->file, c->status, why);
	if (c->why != NULL)
		ck_assert_ptr_nonnull(strstr(why, c->why));
}
END_TEST

START_TEST(test_grant_materializable_tags)
{
	ck_assert_int_eq(kgrant_materializable_tag("tegrasign"), 1);
	ck_assert_int_eq(kgrant_materializable_tag("ekbsign"), 1);
	ck_assert_int_eq(kgrant_materializable_tag("ueficapsulesign"), 1);
	ck_assert_int_eq(kgrant_materializable_tag("fitimagesign"), 1);
	ck_assert_int_eq(kgrant_materializable_tag("rksign"), 1);
	ck_assert_int_eq(kgrant_materializable_tag("rkopteesign"), 1);
	ck_assert_int_eq(kgrant_materializable_tag("imxsign"), 1);
	ck_assert_int_eq(kgrant_materializable_tag("mender"), 0);
	ck_assert_int_eq(kgrant_materializable_tag("opteesign"), 0);
}
END_TEST

/* ---- the key process ---------------------------------------------------- */

static int
before(void)
{
	char uri[sizeof(store) + 16], err[256];

	if (mkdtemp(store) == NULL)
		return 1;
	conf_defaults(&cfg);
	snprintf(uri, sizeof(uri), "file://%s", store);
	if (conf_set(&cfg, "KEYFILE_URI", uri, err, sizeof(err)) < 0 ||
	    conf_set(&cfg, "SIGN_THREADS", "2", err, sizeof(err)) < 0 ||
	    conf_set(&cfg, "STORE_PROBE_INTERVAL", "0", err, sizeof(err)) < 0)
		return 1;
	return check_sh(
		   store,
		   "mkdir -p jetson-a/tegrasign other-machine/tegrasign demo/mender && "
		   "openssl genrsa -out jetson-a/tegrasign/rsa_priv.pem 2048 2>/dev/null && "
		   "openssl genrsa -out other-machine/tegrasign/rsa_priv.pem 2048 2>/dev/null && "
		   "echo 0x11223344 >jetson-a/tegrasign/sbk.key && "
		   "openssl ecparam -name prime256v1 -genkey -noout -out "
		   "demo/mender/private.key") != 0;
}

static void
after(void)
{
	check_sh(NULL, "rm -rf %s", store);
}

/* Fork keyd_main on a new supervisor channel; wait for its READY. */
static void
start_keyd(void)
{
	int sp[2], fd;

	m = calloc(1, sizeof(*m));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	if ((kpid = fork()) == 0) {
		struct proc_ctx ctx = {.cfg = &cfg};

		close(sp[0]);
		if (dup2(sp[1], PROTO_CHANNEL_FD) < 0)
			_exit(1);
		keyd_main(&ctx);
	}
	ck_assert_int_gt(kpid, 0);
	close(sp[1]);
	sup = sp[0];
	ck_assert_int_eq(keyproto_recv(sup, m, &fd, why, sizeof(why)), 1);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_READY);
}

static void
stop_keyd(void)
{
	int status;

	close(sup); /* its supervisor's channel ends: it exits */
	ck_assert_int_eq(waitpid(kpid, &status, 0), kpid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(m);
}

/* A key channel for job, granted endpoint and selectors; the worker's end. */
static int
channel(uint64_t job, const char *endpoint, const char *selectors)
{
	int sp[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	keyproto_init(m, KEYPROTO_GRANT, job);
	strcpy(m->grant.endpoint, endpoint);
	strcpy(m->grant.selectors, selectors);
	ck_assert_int_eq(keyproto_send(sup, m, sp[0]), 0);
	close(sp[0]);
	return sp[1];
}

/* The scheme sign() asks for. */
static uint32_t sign_scheme = KEYPROTO_RSA_PKCS1;

/* Ask for a signature of a SHA-256 digest; the answer in m. */
static void
sign(int ch, uint64_t id, const char *sel, const char *tag, const char *file,
     const unsigned char digest[32])
{
	int fd;

	keyproto_init(m, KEYPROTO_SIGN, id);
	ref(&m->sign.key, sel, tag, file);
	m->sign.scheme = sign_scheme;
	m->sign.md = KEYPROTO_MD_SHA256;
	m->sign.digest_len = 32;
	memcpy(m->sign.digest, digest, 32);
	ck_assert_int_eq(keyproto_send(ch, m, -1), 0);
	ck_assert_int_eq(keyproto_recv(ch, m, &fd, why, sizeof(why)), 1);
	ck_assert_uint_eq(m->hdr.id, id);
}

/* The next report on the supervisor channel, in m. */
static void
next_report(uint64_t job, uint32_t status)
{
	int fd;

	ck_assert_int_eq(keyproto_recv(sup, m, &fd, why, sizeof(why)), 1);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_REPORT);
	ck_assert_uint_eq(m->hdr.id, job);
	ck_assert_uint_eq(m->report.status, status);
}

/* Verify sig over digest with the public key of the PEM file at path. */
static int
verifies(const char *path, const unsigned char *sig, size_t len, const unsigned char digest[32])
{
	char cmd[512];
	FILE *fp;
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx;
	int ok;

	snprintf(cmd, sizeof(cmd), "%s/%s", store, path);
	ck_assert_ptr_nonnull(fp = fopen(cmd, "r"));
	ck_assert_ptr_nonnull(key = PEM_read_PrivateKey(fp, NULL, NULL, NULL));
	fclose(fp);
	ctx = EVP_PKEY_CTX_new(key, NULL);
	ok = EVP_PKEY_verify_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
	     EVP_PKEY_verify(ctx, sig, len, digest, 32) == 1;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	return ok;
}

/* Ask jetson-a's tegrasign key for a signature of digest; it must come,
 * and verify with the key's public half. */
static void
sign_verified(int ch, uint64_t id, const unsigned char digest[32])
{
	sign(ch, id, "jetson-a", "tegrasign", "rsa_priv.pem", digest);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_SIGNATURE);
	ck_assert(verifies("jetson-a/tegrasign/rsa_priv.pem", m->signature.sig, m->signature.len,
			   digest));
}

/* Ask for a key's bytes; the answer in m, its descriptor in *fd. */
static void
materialize(int ch, const char *sel, const char *tag, const char *file, int *fd)
{
	keyproto_init(m, KEYPROTO_MATERIALIZE, 1);
	ref(&m->materialize.key, sel, tag, file);
	ck_assert_int_eq(keyproto_send(ch, m, -1), 0);
	ck_assert_int_eq(keyproto_recv(ch, m, fd, why, sizeof(why)), 1);
}

/* Start the key process with a tegra channel for job, granted jetson-*;
 * digest: the SHA-256 of text. */
static int
keyd_with_channel(uint64_t job, const char *text, unsigned char digest[32])
{
	SHA256((const unsigned char *)text, strlen(text), digest);
	start_keyd();
	return channel(job, "tegra", "jetson-*");
}

START_TEST(test_keyd_sign_within_and_outside_the_grant)
{
	unsigned char digest[32], first[256];
	char fpr[65];
	int ch;

	ch = keyd_with_channel(5, "hello", digest);
	/* outside the grant: refused, and the supervisor hears of it */
	sign(ch, 1, "other-machine", "tegrasign", "rsa_priv.pem", digest);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_ERROR);
	ck_assert_uint_eq(m->error.status, 403);
	next_report(5, 403);
	ck_assert_str_eq(m->report.key.selector, "other-machine");
	/* inside it: a signature that verifies, reported with its digest */
	sign_verified(ch, 2, digest);
	ck_assert_uint_eq(m->signature.len, 256);
	memcpy(first, m->signature.sig, 256);
	snprintf(fpr, sizeof(fpr), "%s", m->signature.key_sha256);
	ck_assert_uint_eq(strlen(fpr), 64);
	next_report(5, 200);
	ck_assert_uint_eq(m->report.op, KEYPROTO_SIGN);
	ck_assert_str_eq(m->report.key_sha256, fpr); /* the answer names the key too */
	ck_assert_str_eq(m->report.digest,
			 "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
	/* the scheme of the key's type: PKCS#1 v1.5 for RSA, the same bytes */
	sign_scheme = KEYPROTO_BY_KEY;
	sign(ch, 3, "jetson-a", "tegrasign", "rsa_priv.pem", digest);
	sign_scheme = KEYPROTO_RSA_PKCS1;
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_SIGNATURE);
	ck_assert_uint_eq(m->signature.len, 256);
	ck_assert_int_eq(memcmp(m->signature.sig, first, 256), 0);
	next_report(5, 200);
	close(ch);
	stop_keyd();
}
END_TEST

START_TEST(test_keyd_key_changes_and_removal)
{
	unsigned char digest[32], first[KEYPROTO_SIG_MAX];
	int ch;

	ch = keyd_with_channel(6, "x", digest);
	sign(ch, 1, "jetson-a", "tegrasign", "rsa_priv.pem", digest);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_SIGNATURE);
	memcpy(first, m->signature.sig, m->signature.len);
	next_report(6, 200);
	/* a new key in the file: the next signature is made with it */
	ck_assert_int_eq(check_sh(store, "openssl genrsa -out jetson-a/tegrasign/new.pem 2048 "
					 "2>/dev/null && mv jetson-a/tegrasign/new.pem "
					 "jetson-a/tegrasign/rsa_priv.pem"),
			 0);
	sign_verified(ch, 2, digest);
	ck_assert_int_ne(memcmp(first, m->signature.sig, m->signature.len), 0);
	next_report(6, 200);
	/* removed: 404 at once, no stale signature from the cache */
	ck_assert_int_eq(check_sh(store, "mv jetson-a/tegrasign/rsa_priv.pem jetson-a/gone.pem"),
			 0);
	sign(ch, 3, "jetson-a", "tegrasign", "rsa_priv.pem", digest);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_ERROR);
	ck_assert_uint_eq(m->error.status, 404);
	next_report(6, 404);
	ck_assert_int_eq(check_sh(store, "mv jetson-a/gone.pem jetson-a/tegrasign/rsa_priv.pem"),
			 0);
	close(ch);
	stop_keyd();
}
END_TEST

/* Sign digest with sel's tegrasign key; the signature must verify with
 * that key's file, never another cached key's. */
static void
sign_with(int ch, uint64_t id, const char *sel, const unsigned char digest[32])
{
	char path[128];

	snprintf(path, sizeof(path), "%s/tegrasign/rsa_priv.pem", sel);
	sign(ch, id, sel, "tegrasign", "rsa_priv.pem", digest);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_SIGNATURE);
	ck_assert(verifies(path, m->signature.sig, m->signature.len, digest));
}

/* Two keys cached: the one whose file changed or went is read again, not
 * answered with the other (the entry after it in the cache). */
START_TEST(test_keyd_key_changes_beside_another)
{
	unsigned char digest[32];
	int ch;

	ck_assert_int_eq(check_sh(store, "mkdir -p jetson-b/tegrasign && openssl genrsa -out "
					 "jetson-b/tegrasign/rsa_priv.pem 2048 2>/dev/null"),
			 0);
	ch = keyd_with_channel(7, "y", digest);
	sign_with(ch, 1, "jetson-a", digest);
	next_report(7, 200);
	sign_with(ch, 2, "jetson-b", digest); /* the newest entry, first in the cache */
	next_report(7, 200);
	ck_assert_int_eq(check_sh(store, "openssl genrsa -out jetson-b/new.pem 2048 2>/dev/null && "
					 "mv jetson-b/new.pem jetson-b/tegrasign/rsa_priv.pem"),
			 0);
	sign_with(ch, 3, "jetson-b", digest);
	next_report(7, 200);
	sign_with(ch, 4, "jetson-a", digest);
	next_report(7, 200);
	ck_assert_int_eq(check_sh(store, "rm -r jetson-b"), 0);
	sign(ch, 5, "jetson-b", "tegrasign", "rsa_priv.pem", digest);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_ERROR);
	ck_assert_uint_eq(m->error.status, 404);
	next_report(7, 404);
	sign_with(ch, 6, "jetson-a", digest);
	next_report(7, 200);
	close(ch);
	stop_keyd();
}
END_TEST

/* A key rewritten in place with its old size and modification time
 * (tar --mtime, cp -p): only the change time says so, and the next
 * signature is made with the new key. */
START_TEST(test_keyd_key_rewritten_in_place)
{
	unsigned char digest[32];
	int ch;

	ch = keyd_with_channel(12, "w", digest);
	sign_with(ch, 1, "jetson-a", digest);
	next_report(12, 200);
	ck_assert_int_eq(
	    check_sh(store,
		     "f=jetson-a/tegrasign/rsa_priv.pem && cp -p $f ref.pem && n=$(stat -c %%s $f) && "
		     "while :; do openssl genrsa -out new.pem 2048 2>/dev/null; "
		     "[ $(stat -c %%s new.pem) -le $n ] && break; done && "
		     "while [ $(stat -c %%s new.pem) -lt $n ]; do echo >>new.pem; done && "
		     "cat new.pem >$f && touch -r ref.pem $f && rm ref.pem new.pem && "
		     "[ $(stat -c %%s $f) -eq $n ]"),
	    0);
	sign_with(ch, 2, "jetson-a", digest);
	next_report(12, 200);
	close(ch);
	stop_keyd();
}
END_TEST

/* ---- a slow store holds up only its own key ------------------------------ */

/* An S3 endpoint serving the store's files; a GET of a path holding
 * "slow" is answered only once released, or after 20 s (gave_up). */
struct slow_store {
	int fd;
	volatile int stop, slow_asked, released, gave_up;
};

static void
slow_store_answer(int c, const char *path)
{
	char file[PATH_MAX + 64], head[256];
	const char *rel = strstr(path, "/store/");
	FILE *fp = NULL;
	static char body[16384];
	size_t n = 0;

	if (rel != NULL) {
		snprintf(file, sizeof(file), "%s/%s", store, rel + strlen("/store/"));
		fp = fopen(file, "r");
	}
	if (fp != NULL) {
		n = fread(body, 1, sizeof(body), fp);
		fclose(fp);
		snprintf(head, sizeof(head),
			 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
	} else {
		snprintf(head, sizeof(head), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
					     "Connection: close\r\n\r\n");
	}
	(void)!write(c, head, strlen(head));
	if (n > 0)
		(void)!write(c, body, n);
}

struct slow_conn {
	struct slow_store *b;
	int c;
};

/* One connection: its request, then the answer. */
static void *
slow_store_conn(void *arg)
{
	struct slow_conn *sc = arg;
	struct slow_store *b = sc->b;
	char buf[4096], path[1024] = "";
	size_t got = 0;
	ssize_t n;

	while (got < sizeof(buf) - 1 && (n = read(sc->c, buf + got, sizeof(buf) - 1 - got)) > 0) {
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	buf[got] = '\0';
	(void)sscanf(buf, "%*s %1023s", path);
	if (strstr(path, "slow") != NULL) {
		b->slow_asked = 1;
		for (int i = 0; i < 2000 && !b->released && !b->stop; i++)
			usleep(10000);
		b->gave_up = !b->released;
	}
	slow_store_answer(sc->c, path);
	close(sc->c);
	free(sc);
	return NULL;
}

/* Each connection in a thread of its own: a held one holds no other. */
static void *
slow_store_serve(void *arg)
{
	struct slow_store *b = arg;

	while (!b->stop) {
		struct slow_conn *sc;
		pthread_t t;
		int c = accept(b->fd, NULL, NULL);

		if (c < 0)
			continue;
		sc = malloc(sizeof(*sc));
		sc->b = b;
		sc->c = c;
		if (pthread_create(&t, NULL, slow_store_conn, sc) != 0) {
			close(c);
			free(sc);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

/* An s3:// store whose GET of one key hangs: another job's request for
 * another key is answered meanwhile (the cache's lock is not held while a
 * key is read), and the slow one is answered once the store answers. */
START_TEST(test_keyd_slow_store_holds_up_only_its_key)
{
	struct slow_store b = {.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	unsigned char digest[32];
	char endpoint[64], err[256];
	pthread_t srv;
	int slow, fast, fd, released_before;

	ck_assert_int_eq(check_sh(store, "mkdir -p jetson-slow/tegrasign jetson-fast/tegrasign && "
					 "openssl genrsa -out jetson-slow/tegrasign/rsa_priv.pem 2048 "
					 "2>/dev/null && openssl genrsa -out "
					 "jetson-fast/tegrasign/rsa_priv.pem 2048 2>/dev/null"),
			 0);
	ck_assert_int_ge(b.fd, 0);
	ck_assert_int_eq(bind(b.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(b.fd, 16), 0);
	ck_assert_int_eq(getsockname(b.fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
	ck_assert_int_eq(conf_set(&cfg, "KEYFILE_URI", "s3://keys/store", err, sizeof(err)), 0);
	ck_assert_int_eq(conf_set(&cfg, "S3_ENDPOINT", endpoint, err, sizeof(err)), 0);
	setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	ck_assert_int_eq(pthread_create(&srv, NULL, slow_store_serve, &b), 0);
	SHA256((const unsigned char *)"z", 1, digest);
	start_keyd();
	slow = channel(10, "tegra", "jetson-*");
	fast = channel(11, "tegra", "jetson-*");
	/* the slow key asked for, and its GET under way */
	keyproto_init(m, KEYPROTO_SIGN, 1);
	ref(&m->sign.key, "jetson-slow", "tegrasign", "rsa_priv.pem");
	m->sign.scheme = KEYPROTO_RSA_PKCS1;
	m->sign.md = KEYPROTO_MD_SHA256;
	m->sign.digest_len = 32;
	memcpy(m->sign.digest, digest, 32);
	ck_assert_int_eq(keyproto_send(slow, m, -1), 0);
	for (int i = 0; i < 3000 && !b.slow_asked; i++)
		usleep(10000);
	ck_assert(b.slow_asked);
	/* another job's key: answered while the store still holds the first */
	sign_with(fast, 2, "jetson-fast", digest);
	released_before = b.released || b.gave_up;
	b.released = 1;
	ck_assert_int_eq(released_before, 0);
	next_report(11, 200);
	ck_assert_int_eq(keyproto_recv(slow, m, &fd, why, sizeof(why)), 1);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_SIGNATURE);
	ck_assert(verifies("jetson-slow/tegrasign/rsa_priv.pem", m->signature.sig, m->signature.len,
			   digest));
	next_report(10, 200);
	close(slow);
	close(fast);
	stop_keyd();
	b.stop = 1;
	shutdown(b.fd, SHUT_RDWR);
	close(b.fd);
	pthread_join(srv, NULL);
}
END_TEST

START_TEST(test_keyd_materialize)
{
	int ch, fd;
	char buf[64];
	ssize_t n;

	start_keyd();
	ch = channel(7, "tegra", "jetson-*");
	materialize(ch, "jetson-a", "tegrasign", "sbk.key", &fd);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_MATERIAL);
	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_eq(n, 11);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "0x11223344\n");
	/* sealed: the worker cannot change what it was given */
	ck_assert_int_lt(write(fd, "y", 1), 0);
	close(fd);
	next_report(7, 200);
	close(ch);
	/* a mender job may not have its key's bytes */
	ch = channel(8, "mender", "*");
	materialize(ch, "demo", "mender", "private.key", &fd);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_ERROR);
	ck_assert_uint_eq(m->error.status, 403);
	next_report(8, 403);
	close(ch);
	stop_keyd();
}
END_TEST

/* The PIN for NXP's cst (/sign/imx): the PIN the key process holds,
 * never a file of the store of that name; a 500 saying so without one. */
START_TEST(test_keyd_pin)
{
	char path[sizeof(store) + 16], buf[64], err[256];
	int ch, fd;
	ssize_t n;

	ck_assert_int_eq(check_sh(store, "mkdir -p imx/imxsign && echo from-the-store "
					 ">imx/imxsign/pkcs11-pin && printf '0001secret\\n' >pin"),
			 0);
	start_keyd();
	ch = channel(9, "imx", "*");
	materialize(ch, "imx", "imxsign", "pkcs11-pin", &fd);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_ERROR);
	ck_assert_uint_eq(m->error.status, 500);
	ck_assert_ptr_nonnull(strstr(m->error.reason, "No PKCS#11 PIN is configured"));
	next_report(9, 500);
	close(ch);
	stop_keyd();

	snprintf(path, sizeof(path), "%s/pin", store);
	ck_assert_int_eq(conf_set(&cfg, "PKCS11_PIN_FILE", path, err, sizeof(err)), 0);
	start_keyd();
	ch = channel(10, "imx", "*");
	materialize(ch, "imx", "imxsign", "pkcs11-pin", &fd);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_MATERIAL);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_eq(n, 10);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "0001secret");
	ck_assert_int_lt(write(fd, "y", 1), 0);
	close(fd);
	next_report(10, 200);
	ck_assert_str_eq(m->report.key.file, "pkcs11-pin");
	close(ch);
	/* another endpoint: refused */
	ch = channel(11, "fitimage", "*");
	materialize(ch, "imx", "imxsign", "pkcs11-pin", &fd);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_ERROR);
	ck_assert_uint_eq(m->error.status, 403);
	next_report(11, 403);
	close(ch);
	stop_keyd();
	ck_assert_int_eq(conf_set(&cfg, "PKCS11_PIN_FILE", "", err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_keyd_malformed_record)
{
	unsigned char digest[32];
	int ch, fd;
	char junk[40] = "not a record";

	ch = keyd_with_channel(9, "x", digest);
	ck_assert_int_eq(send(ch, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	/* answered, reported as op 0 (the supervisor kills the worker), closed */
	ck_assert_int_eq(keyproto_recv(ch, m, &fd, why, sizeof(why)), 1);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_ERROR);
	next_report(9, 400);
	ck_assert_uint_eq(m->report.op, 0);
	ck_assert_int_eq(keyproto_recv(ch, m, &fd, why, sizeof(why)), 0);
	close(ch);
	/* the key process carries on */
	ch = channel(10, "tegra", "jetson-*");
	sign(ch, 1, "jetson-a", "tegrasign", "rsa_priv.pem", digest);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_SIGNATURE);
	next_report(10, 200);
	close(ch);
	stop_keyd();
}
END_TEST

/* With STORE_PROBE_INTERVAL, the key process tells the supervisor
 * whether its store answers: at start, and again when it has gone. */
START_TEST(test_keyd_store_probe)
{
	char moved[sizeof(store) + 8];
	int fd;

	cfg.store_probe_interval = 1;
	start_keyd();
	ck_assert_int_eq(keyproto_recv(sup, m, &fd, why, sizeof(why)), 1);
	ck_assert_uint_eq(m->hdr.type, KEYPROTO_STORE);
	ck_assert_uint_eq(m->store.ok, 1);
	snprintf(moved, sizeof(moved), "%s.away", store);
	ck_assert_int_eq(rename(store, moved), 0);
	do {
		ck_assert_int_eq(keyproto_recv(sup, m, &fd, why, sizeof(why)), 1);
		ck_assert_uint_eq(m->hdr.type, KEYPROTO_STORE);
	} while (m->store.ok == 1);
	ck_assert_ptr_nonnull(strstr(m->store.reason, store));
	ck_assert_int_eq(rename(moved, store), 0);
	stop_keyd();
	cfg.store_probe_interval = 0;
}
END_TEST

static Suite *
keyproc_suite(void)
{
	Suite *s = suite_create("keyproc");
	TCase *tc = tcase_create("grant");
	TCase *kd = tcase_create("keyd");

	tcase_add_loop_test(tc, test_grant, 0, (int)(sizeof(grant_cases) / sizeof(grant_cases[0])));
	tcase_add_test(tc, test_grant_materializable_tags);
	suite_add_tcase(s, tc);
	tcase_set_timeout(kd, 60);
	tcase_add_test(kd, test_keyd_sign_within_and_outside_the_grant);
	tcase_add_test(kd, test_keyd_key_changes_and_removal);
	tcase_add_test(kd, test_keyd_key_changes_beside_another);
	tcase_add_test(kd, test_keyd_slow_store_holds_up_only_its_key);
	tcase_add_test(kd, test_keyd_key_rewritten_in_place);
	tcase_add_test(kd, test_keyd_materialize);
	tcase_add_test(kd, test_keyd_pin);
	tcase_add_test(kd, test_keyd_malformed_record);
	tcase_add_test(kd, test_keyd_store_probe);
	suite_add_tcase(s, kd);
	return s;
}

CHECK_MAIN(.suite = keyproc_suite, .before = before, .after = after);
