/* SPDX-License-Identifier: MIT */
/*
 * check_modsign.c: unit tests of lib/modsign.c, module signatures made in
 * process.  The oracles are the real tools: Debian's sign-file (RSA
 * signatures must be byte-identical to its output), `openssl cms -verify`
 * and modinfo.  Keys are made by openssl req -x509 with a configuration
 * like the kernel's certs/x509.genkey; the module is a gcc -c object with
 * a .modinfo section.  The callback tests sign without the private key
 * in the modsign_key, as with a separate key process.
 */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "check_signer.h"
#include "modsign.h"
#include "pkey.h"
#include "util.h"

#define SIGN_FILE "/usr/lib/linux-kbuild-6.1/scripts/sign-file"

static char tmp[PATH_MAX], err[512];

/* A shell command in the scratch directory (the current one); its exit
 * status (t/check_main.h). */
#define sh(...) check_sh(NULL, __VA_ARGS__)

static const char genkey[] = "[ req ]\n"
			     "default_bits = 2048\n"
			     "distinguished_name = req_distinguished_name\n"
			     "prompt = no\n"
			     "string_mask = utf8only\n"
			     "x509_extensions = myexts\n"
			     "[ req_distinguished_name ]\n"
			     "O = digsigserver tests\n"
			     "CN = Module signing test key\n"
			     "emailAddress = test@example.com\n"
			     "[ myexts ]\n"
			     "basicConstraints=critical,CA:FALSE\n"
			     "keyUsage=digitalSignature\n"
			     "subjectKeyIdentifier=hash\n"
			     "authorityKeyIdentifier=keyid\n";

static const char modsrc[] =
    "__attribute__((section(\".modinfo\"), used)) static const char l[] = \"license=GPL\";\n"
    "__attribute__((section(\".modinfo\"), used)) static const char n[] = \"name=checkmod\";\n"
    "unsigned char payload[70000] = { 1 };\n"
    "int checkmod_init(void) { return payload[0]; }\n";

/* Keys, certificates and the module, once for all tests. */
static void
setup_once(void)
{
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "/tmp/check_modsign.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	ck_assert_int_eq(chdir(tmp), 0);
	ck_assert_ptr_nonnull(fp = fopen("x509.genkey", "w"));
	fputs(genkey, fp);
	fclose(fp);
	ck_assert_ptr_nonnull(fp = fopen("mod.c", "w"));
	fputs(modsrc, fp);
	fclose(fp);
	ck_assert_int_eq(
	    sh("openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 -config x509.genkey "
	       "-newkey rsa:2048 -outform PEM -out rsa.x509 -keyout rsa.priv 2>/dev/null && "
	       "openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 -config x509.genkey "
	       "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -outform PEM -out ec.x509 "
	       "-keyout ec.priv 2>/dev/null && "
	       "openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 -config x509.genkey "
	       "-newkey rsa:2048 -outform PEM -out other.x509 -keyout other.priv 2>/dev/null && "
	       "openssl x509 -in rsa.x509 -outform DER -out rsa.der && "
	       "gcc -c -o mod.ko mod.c && : > empty.ko"),
	    0);
}

static void
teardown_once(void)
{
	if (chdir("/") == 0)
		util_rm_rf(tmp);
}

static void
load(struct modsign_key *k, const char *key, const char *cert)
{
	char *kb, *cb;
	size_t kl, cl;
	int rc;

	ck_assert_int_eq(util_read_file(key, 1 << 20, &kb, &kl), 0);
	ck_assert_int_eq(util_read_file(cert, 1 << 20, &cb, &cl), 0);
	rc =
	    modsign_key_load(k, (unsigned char *)kb, kl, (unsigned char *)cb, cl, err, sizeof(err));
	util_cleanse_free(kb, kl);
	free(cb);
	ck_assert_msg(rc == 0, "%s", err);
}

/* Sign in with modsign_file and with sign-file; compare the two. */
static void
assert_like_sign_file(const char *key, const char *cert, const char *hash, const char *module)
{
	struct modsign_key k;

	load(&k, key, cert);
	unlink("ours.ko");
	ck_assert_msg(
	    modsign_file(&k.signer, modsign_md(hash), module, "ours.ko", err, sizeof(err)) == 0,
	    "%s", err);
	modsign_key_free(&k);
	ck_assert_int_eq(
	    sh("cp %s theirs.ko && " SIGN_FILE " %s %s %s theirs.ko", module, hash, key, cert), 0);
	ck_assert_msg(sh("cmp ours.ko theirs.ko") == 0, "%s %s differs from sign-file", key, hash);
}

START_TEST(test_sign_file_available)
{
	ck_assert_msg(access(SIGN_FILE, X_OK) == 0, SIGN_FILE " is missing (linux-kbuild-6.1)");
}
END_TEST

START_TEST(test_rsa_like_sign_file)
{
	assert_like_sign_file("rsa.priv", "rsa.x509", "sha512", "empty.ko");
	assert_like_sign_file("rsa.priv", "rsa.x509", "sha256", "mod.ko");
	assert_like_sign_file("rsa.priv", "rsa.x509", "sha384", "mod.ko");
	assert_like_sign_file("rsa.priv", "rsa.x509", "sha512", "mod.ko");
	/* a DER certificate, as sign-file also accepts */
	assert_like_sign_file("rsa.priv", "rsa.der", "sha512", "mod.ko");
	ck_assert_int_eq(sh("modinfo -F signer ours.ko | grep -qx 'Module signing test key'"), 0);
	ck_assert_int_eq(sh("modinfo -F sig_hashalgo ours.ko | grep -qx sha512"), 0);
}
END_TEST

/* sign-file appends a second signature to a signed module: so do we. */
START_TEST(test_signed_twice)
{
	ck_assert_int_eq(sh("cp mod.ko once.ko && " SIGN_FILE " sha256 rsa.priv rsa.x509 once.ko"),
			 0);
	assert_like_sign_file("rsa.priv", "rsa.x509", "sha512", "once.ko");
}
END_TEST

START_TEST(test_ec_verifies)
{
	struct modsign_key k;
	unsigned char *buf;
	size_t len, content, off, cmslen;

	load(&k, "ec.priv", "ec.x509");
	unlink("ec.ko");
	ck_assert_msg(
	    modsign_file(&k.signer, modsign_md("sha384"), "mod.ko", "ec.ko", err, sizeof(err)) == 0,
	    "%s", err);
	modsign_key_free(&k);
	ck_assert_int_eq(util_read_file("ec.ko", 1 << 24, (char **)&buf, &len), 0);
	ck_assert_int_eq(modsign_find(buf, len, &content, &off, &cmslen), 1);
	ck_assert_int_eq(util_write_file("ec.content", buf, content, 0600), 0);
	ck_assert_int_eq(util_write_file("ec.p7", buf + off, cmslen, 0600), 0);
	free(buf);
	ck_assert_int_eq(sh("cmp ec.content mod.ko"), 0);
	ck_assert_int_eq(
	    sh("openssl cms -verify -binary -inform DER -in ec.p7 -content ec.content "
	       "-CAfile ec.x509 -certfile ec.x509 -purpose any -out /dev/null 2>/dev/null"),
	    0);
	/* and not with the wrong content */
	ck_assert_int_ne(
	    sh("openssl cms -verify -binary -inform DER -in ec.p7 -content rsa.x509 "
	       "-CAfile ec.x509 -certfile ec.x509 -purpose any -out /dev/null 2>/dev/null"),
	    0);
	ck_assert_int_eq(sh("modinfo -F signer ec.ko | grep -qx 'Module signing test key'"), 0);
	ck_assert_int_eq(sh("modinfo -F sig_hashalgo ec.ko | grep -qx sha384"), 0);
}
END_TEST

/* The in-memory and the file paths agree, and sha256 is that of the
 * signed module. */
START_TEST(test_mem_fd_sha256)
{
	struct modsign_key k;
	struct modsign_sig a, b;
	char *buf, hex[65];
	size_t len;
	int fd;

	load(&k, "rsa.priv", "rsa.x509");
	ck_assert_int_eq(util_read_file("mod.ko", 1 << 24, &buf, &len), 0);
	ck_assert_int_eq(
	    modsign_sign_mem(&k.signer, modsign_md("sha256"), buf, len, &a, err, sizeof(err)), 0);
	ck_assert_int_ge(fd = open("mod.ko", O_RDONLY), 0);
	ck_assert_int_eq(lseek(fd, 100, SEEK_SET), 100); /* the offset does not matter */
	ck_assert_int_eq(modsign_sign_fd(&k.signer, modsign_md("sha256"), fd, &b, err, sizeof(err)),
			 0);
	close(fd);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_int_eq(memcmp(a.trailer, b.trailer, a.len), 0);
	ck_assert_int_eq(memcmp(a.sha256, b.sha256, 32), 0);
	ck_assert_int_eq(
	    memcmp(a.trailer + a.len - MODSIGN_MARKER_LEN, MODSIGN_MARKER, MODSIGN_MARKER_LEN), 0);
	util_hex(a.sha256, 32, hex);
	unlink("ours.ko");
	ck_assert_int_eq(
	    modsign_file(&k.signer, modsign_md("sha256"), "mod.ko", "ours.ko", err, sizeof(err)),
	    0);
	ck_assert_int_eq(sh("[ \"$(sha256sum < ours.ko | cut -d' ' -f1)\" = %s ]", hex), 0);
	ck_assert_int_eq(sh("[ \"$(openssl pkey -in rsa.priv -pubout -outform DER | sha256sum | "
			    "cut -d' ' -f1)\" = %s ]",
			    k.fingerprint),
			 0);
	modsign_sig_free(&a);
	modsign_sig_free(&b);
	modsign_key_free(&k);
	free(buf);
}
END_TEST

START_TEST(test_bad_keys)
{
	struct modsign_key k;
	char *kb, *cb;
	size_t kl, cl;

	ck_assert_int_eq(util_read_file("rsa.priv", 1 << 20, &kb, &kl), 0);
	ck_assert_int_eq(util_read_file("other.x509", 1 << 20, &cb, &cl), 0);
	ck_assert_int_eq(modsign_key_load(&k, (unsigned char *)kb, kl, (unsigned char *)cb, cl, err,
					  sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "the certificate does not match the private key");
	ck_assert_int_eq(modsign_key_load(&k, (unsigned char *)cb, cl, (unsigned char *)cb, cl, err,
					  sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "the private key does not parse");
	ck_assert_int_eq(modsign_key_load(&k, (unsigned char *)kb, kl, (unsigned char *)kb, kl, err,
					  sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "the certificate does not parse");
	util_cleanse_free(kb, kl);
	free(cb);
}
END_TEST

START_TEST(test_md_names)
{
	static const struct {
		const char *name;
		int known;
	} names[] = {{"sha256", 1}, {"sha384", 1},  {"sha512", 1}, {"md5", 0},
		     {"SHA512", 0}, {"sha512 ", 0}, {"", 0}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg((modsign_md(names[i].name) != NULL) == names[i].known, "\"%s\"",
			      names[i].name);
}
END_TEST

START_TEST(test_find)
{
	static const char unsigned_[] = "\x7f"
					"ELF plain";
	unsigned char bad[64];
	size_t content, off, len;

	ck_assert_int_eq(modsign_find((const unsigned char *)unsigned_, sizeof(unsigned_) - 1,
				      &content, &off, &len),
			 0);
	/* a marker with a descriptor claiming more than there is */
	memset(bad, 0, sizeof(bad));
	bad[64 - MODSIGN_MARKER_LEN - 10] = 2;
	bad[64 - MODSIGN_MARKER_LEN - 1] = 200;
	memcpy(bad + 64 - MODSIGN_MARKER_LEN, MODSIGN_MARKER, MODSIGN_MARKER_LEN);
	ck_assert_int_eq(modsign_find(bad, sizeof(bad), &content, &off, &len), -1);
	ck_assert_int_eq(modsign_find((const unsigned char *)MODSIGN_MARKER, MODSIGN_MARKER_LEN,
				      &content, &off, &len),
			 -1);
}
END_TEST

struct thread_arg {
	const struct modsign_key *k;
	const char *buf;
	size_t len;
	const struct modsign_sig *want;
	int mismatches;
};

static void *
sign_many(void *p)
{
	struct thread_arg *a = p;
	char e[256];

	for (int i = 0; i < 40; i++) {
		struct modsign_sig s;

		if (modsign_sign_mem(&a->k->signer, modsign_md("sha512"), a->buf, a->len, &s, e,
				     sizeof(e)) < 0 ||
		    s.len != a->want->len || memcmp(s.trailer, a->want->trailer, s.len) != 0)
			a->mismatches++;
		modsign_sig_free(&s);
	}
	return NULL;
}

/* One key shared by four threads signing at once gives the same bytes. */
START_TEST(test_threads_share_key)
{
	struct modsign_key k;
	struct modsign_sig want;
	struct thread_arg args[4];
	pthread_t th[4];
	char *buf;
	size_t len;

	load(&k, "rsa.priv", "rsa.x509");
	ck_assert_int_eq(util_read_file("mod.ko", 1 << 24, &buf, &len), 0);
	ck_assert_int_eq(
	    modsign_sign_mem(&k.signer, modsign_md("sha512"), buf, len, &want, err, sizeof(err)),
	    0);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){&k, buf, len, &want, 0};
		ck_assert_int_eq(pthread_create(&th[i], NULL, sign_many, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].mismatches, 0);
	}
	modsign_sig_free(&want);
	modsign_key_free(&k);
	free(buf);
}
END_TEST

static EVP_PKEY *
load_private(const char *path)
{
	EVP_PKEY *key;
	char *kb;
	size_t kl;

	ck_assert_int_eq(util_read_file(path, 1 << 20, &kb, &kl), 0);
	key = pkey_load_private((unsigned char *)kb, kl);
	util_cleanse_free(kb, kl);
	ck_assert_ptr_nonnull(key);
	return key;
}

/* k holds cert only; its signer calls check_signer_sign with a key from keypath. */
static void
load_remote(struct modsign_key *k, struct check_signer *f, const char *keypath, const char *cert)
{
	char *cb;
	size_t cl;
	int rc;

	ck_assert_int_eq(util_read_file(cert, 1 << 20, &cb, &cl), 0);
	rc = modsign_cert_load(k, (unsigned char *)cb, cl, err, sizeof(err));
	free(cb);
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_ptr_null(k->pkey);
	ck_assert_ptr_eq(k->signer.cert, k->cert);
	memset(f, 0, sizeof(*f));
	f->key = load_private(keypath);
	f->why = "the key process is gone";
	k->signer.sign = check_signer_sign;
	k->signer.arg = f;
}

/* Without the private key, through the callback: still sign-file's bytes;
 * the callback was asked for PKCS#1 v1.5 over the SHA-512 digest. */
START_TEST(test_callback_like_sign_file)
{
	struct modsign_key k, local;
	struct check_signer f;

	load_remote(&k, &f, "rsa.priv", "rsa.x509");
	load(&local, "rsa.priv", "rsa.x509");
	ck_assert_str_eq(k.fingerprint, local.fingerprint);
	modsign_key_free(&local);
	unlink("ours.ko");
	ck_assert_msg(modsign_file(&k.signer, modsign_md("sha512"), "mod.ko", "ours.ko", err,
				   sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(f.calls, 1);
	ck_assert_int_eq(f.last.scheme, SIG_RSA_PKCS1);
	ck_assert_uint_eq(f.last.len, 64);
	ck_assert_int_eq(
	    sh("cp mod.ko theirs.ko && " SIGN_FILE " sha512 rsa.priv rsa.x509 theirs.ko"), 0);
	ck_assert_msg(sh("cmp ours.ko theirs.ko") == 0, "the callback path differs from sign-file");
	EVP_PKEY_free(f.key);
	modsign_key_free(&k);
}
END_TEST

/* An EC certificate: the callback is asked for ECDSA; the module verifies. */
START_TEST(test_callback_ec)
{
	struct modsign_key k;
	struct check_signer f;
	unsigned char *buf;
	size_t len, content, off, cmslen;

	load_remote(&k, &f, "ec.priv", "ec.x509");
	unlink("ec-cb.ko");
	ck_assert_msg(modsign_file(&k.signer, modsign_md("sha256"), "mod.ko", "ec-cb.ko", err,
				   sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(f.last.scheme, SIG_ECDSA);
	ck_assert_int_eq(util_read_file("ec-cb.ko", 1 << 24, (char **)&buf, &len), 0);
	ck_assert_int_eq(modsign_find(buf, len, &content, &off, &cmslen), 1);
	ck_assert_int_eq(util_write_file("ec-cb.p7", buf + off, cmslen, 0600), 0);
	free(buf);
	ck_assert_int_eq(
	    sh("openssl cms -verify -binary -inform DER -in ec-cb.p7 -content mod.ko "
	       "-CAfile ec.x509 -certfile ec.x509 -purpose any -out /dev/null 2>/dev/null"),
	    0);
	EVP_PKEY_free(f.key);
	modsign_key_free(&k);
}
END_TEST

/* A failing callback, a short signature, a signature by another key: a
 * clean error each time, no trailer, no output file. */
START_TEST(test_callback_refused)
{
	struct modsign_key k;
	struct check_signer f;
	struct modsign_sig sig;

	load_remote(&k, &f, "rsa.priv", "rsa.x509");
	f.mode = 1;
	ck_assert_int_eq(
	    modsign_sign_mem(&k.signer, modsign_md("sha256"), "abc", 3, &sig, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "the key process is gone");
	ck_assert_ptr_null(sig.trailer);
	f.mode = 2;
	ck_assert_int_eq(
	    modsign_sign_mem(&k.signer, modsign_md("sha256"), "abc", 3, &sig, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "the signer gave a 255-byte signature; the key makes 256");
	ck_assert_ptr_null(sig.trailer);
	f.mode = 0;
	EVP_PKEY_free(f.key);
	f.key = load_private("other.priv");
	unlink("bad.ko");
	ck_assert_int_eq(
	    modsign_file(&k.signer, modsign_md("sha256"), "mod.ko", "bad.ko", err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "the signer's RSA PKCS#1 v1.5 signature does not verify with the "
			      "public key");
	ck_assert_int_ne(access("bad.ko", F_OK), 0);
	EVP_PKEY_free(f.key);
	/* a certificate-only key whose caller set no callback */
	k.signer.sign = NULL;
	ck_assert_int_eq(
	    modsign_sign_mem(&k.signer, modsign_md("sha256"), "abc", 3, &sig, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "no signer is set");
	modsign_key_free(&k);
}
END_TEST

/* The kernel has no Ed25519 module signatures: refused, not attempted. */
START_TEST(test_ed25519_refused)
{
	struct modsign_key k;
	struct modsign_sig sig;

	ck_assert_int_eq(sh("openssl req -new -nodes -batch -x509 -subj /CN=ed -newkey ed25519 "
			    "-keyout ed.priv -out ed.x509 2>/dev/null"),
			 0);
	load(&k, "ed.priv", "ed.x509");
	ck_assert_int_eq(
	    modsign_sign_mem(&k.signer, modsign_md("sha256"), "abc", 3, &sig, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "the certificate's key is not an RSA or EC key");
	modsign_key_free(&k);
}
END_TEST

CHECK_MAIN(.name = "modsign", .setup_once = setup_once, .teardown_once = teardown_once,
	   .timeout = 120,
	   .tests = CHECK_TESTS(test_sign_file_available, test_rsa_like_sign_file,
				test_signed_twice, test_ec_verifies, test_mem_fd_sha256,
				test_bad_keys, test_md_names, test_find, test_threads_share_key,
				test_callback_like_sign_file, test_callback_ec,
				test_callback_refused, test_ed25519_refused));
