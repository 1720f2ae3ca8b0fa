/* SPDX-License-Identifier: MIT */
/*
 * check_fitsign.c: unit tests of lib/fdtedit.c and lib/fitsign.c.  The
 * editor makes libfdt's bytes: a new property goes first in its node, a
 * name the strings block holds (also as the tail of another) is reused,
 * the padding of a new property keeps the bytes that were there, an edit
 * without room is FE_ERR_NOSPACE and changes nothing, a new node goes
 * after its parent's properties, pack drops the free space; values
 * longer than FE_INLINE_MAX stay ranges of the file.  The signer, with a
 * key file as callback, gives what Debian's mkimage -E -F -k gives (when
 * mkimage is installed), signs RSA-PSS nodes, and refuses what it does not
 * do (ECDSA) with a reason.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "check_main.h"
#include "fdtedit.h"
#include "fitsign.h"
#include "util.h"

static char dir[] = "/tmp/check_fitsign.XXXXXX";

/* dts compiled by dtc into dir/name; its fd open for reading, size in *size. */
static int
compile(const char *dts, const char *name, size_t *size)
{
	char src[256], out[256];
	struct stat st;
	FILE *f;
	int fd;

	snprintf(src, sizeof(src), "%s/%s.dts", dir, name);
	snprintf(out, sizeof(out), "%s/%s", dir, name);
	f = fopen(src, "w");
	ck_assert_ptr_nonnull(f);
	fputs(dts, f);
	fclose(f);
	ck_assert_int_eq(check_sh(dir, "dtc -q -I dts -O dtb -o %s %s.dts", name, name), 0);
	fd = open(out, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	*size = (size_t)st.st_size;
	return fd;
}

/* The blob's bytes (len of them) into a malloc'ed buffer. */
static unsigned char *
bytes(const struct fe_blob *b, size_t len)
{
	char path[256];
	unsigned char *buf = xmalloc(len);
	int fd;

	snprintf(path, sizeof(path), "%s/out", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fe_write_out(b, len, fd, 0), 0);
	ck_assert_int_eq(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
	return buf;
}

static const char small_dts[] = "/dts-v1/;\n"
				"/ { a-name = \"x\"; n { p = <1>; }; };\n";

START_TEST(test_setprop_first)
{
	struct fe_arena a = {0};
	struct fe_blob b;
	size_t size;
	char err[128], name[64];
	int fd = compile(small_dts, "s.dtb", &size), n, len, at, next;

	ck_assert_int_eq(fe_load(&b, &a, fd, size, err, sizeof(err)), 0);
	n = fe_path(&b, "/n");
	ck_assert_int_gt(n, 0);
	/* no room: NOSPACE, nothing changed */
	ck_assert_int_eq(fe_setprop_u32(&b, n, "q", 7), FE_ERR_NOSPACE);
	ck_assert_int_eq(fe_getprop(&b, n, "q", &len), FE_ERR_NOTFOUND);
	fe_grow(&b, 256);
	ck_assert_int_eq(fe_setprop_u32(&b, n, "q", 7), 0);
	/* q is the node's first property now */
	ck_assert_int_eq(fe_next_tag(&b, n, &next), FE_BEGIN_NODE);
	at = fe_getprop(&b, n, "q", &len);
	ck_assert_int_eq(at, (int)b.h.off_struct + next + 12);
	ck_assert_int_eq(len, 4);
	/* "name" is the tail of "a-name": no new string */
	{
		uint32_t before = b.h.size_strings;

		ck_assert_int_eq(fe_setprop_string(&b, n, "name", "v"), 0);
		ck_assert_uint_eq(b.h.size_strings, before);
	}
	ck_assert_int_eq(fe_getprop_copy(&b, n, "name", name, sizeof(name) - 1), 2);
	ck_assert_str_eq(name, "v");
	/* a new node after the properties; the path of it */
	ck_assert_int_gt(fe_add_subnode(&b, n, "sub"), n);
	ck_assert_int_eq(fe_add_subnode(&b, n, "sub"), FE_ERR_EXISTS);
	ck_assert_int_eq(fe_get_path(&b, fe_path(&b, "/n/sub"), name, sizeof(name)), 0);
	ck_assert_str_eq(name, "/n/sub");
	ck_assert_int_eq(fe_delprop(&b, n, "q"), 0);
	ck_assert_int_eq(fe_getprop(&b, n, "q", &len), FE_ERR_NOTFOUND);
	fe_free(&b);
	fe_arena_free(&a);
	close(fd);
}
END_TEST

/* A new property's padding keeps what was there, as in libfdt. */
START_TEST(test_stale_padding)
{
	struct fe_arena a = {0};
	struct fe_blob b;
	size_t size;
	char err[128];
	unsigned char *out, pad;
	int fd = compile(small_dts, "s.dtb", &size), n, len, at;

	ck_assert_int_eq(fe_load(&b, &a, fd, size, err, sizeof(err)), 0);
	fe_grow(&b, 64);
	n = fe_path(&b, "/n");
	/* the 12 + 4 bytes before the splice point: p's header and value */
	ck_assert_int_eq(fe_setprop(&b, n, "b", "xyz", 3), 0);
	at = fe_getprop(&b, n, "b", &len);
	out = bytes(&b, b.total);
	/* the stale byte is p's old byte at the same place: the last of its
	 * value <1>, 0x01 */
	pad = out[at + 3];
	ck_assert_uint_eq(pad, 0x01);
	free(out);
	fe_pack(&b);
	ck_assert_uint_eq(b.h.totalsize, b.h.off_strings + b.h.size_strings);
	fe_free(&b);
	fe_arena_free(&a);
	close(fd);
}
END_TEST

/* A value longer than FE_INLINE_MAX stays in the file. */
START_TEST(test_big_value)
{
	struct fe_arena a = {0};
	struct fe_blob b;
	size_t size;
	char err[128];
	int fd, len, at;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char d1[32], d2[32];
	unsigned dl;

	ck_assert_int_eq(check_sh(dir, "head -c 100000 /dev/urandom > big.bin"), 0);
	fd = compile("/dts-v1/;\n/ { data = /incbin/(\"big.bin\"); };\n", "b.dtb", &size);
	ck_assert_int_eq(fe_load(&b, &a, fd, size, err, sizeof(err)), 0);
	ck_assert_uint_lt(a.bytes, 4096);
	at = fe_getprop(&b, 0, "data", &len);
	ck_assert_int_eq(len, 100000);
	ck_assert_int_eq(EVP_DigestInit_ex(m, EVP_sha256(), NULL), 1);
	ck_assert_int_eq(fe_hash(&b, (size_t)at, (size_t)len, m), 0);
	EVP_DigestFinal_ex(m, d1, &dl);
	{
		char *raw = NULL;
		size_t rl = 0;
		char path[256];

		snprintf(path, sizeof(path), "%s/big.bin", dir);
		ck_assert_int_eq(util_read_file(path, 1 << 20, &raw, &rl), 0);
		EVP_Digest(raw, rl, d2, &dl, EVP_sha256(), NULL);
		free(raw);
	}
	ck_assert_mem_eq(d1, d2, 32);
	EVP_MD_CTX_free(m);
	fe_free(&b);
	fe_arena_free(&a);
	close(fd);
}
END_TEST

START_TEST(test_refused)
{
	struct fe_arena a = {0};
	struct fe_blob b;
	char err[128];
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/junk", dir);
	ck_assert_int_eq(check_sh(dir, "printf 'not a tree at all, no, no, no, no, no' > junk"), 0);
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(fe_load(&b, &a, fd, 40, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a device tree"));
	close(fd);
	fe_arena_free(&a);
}
END_TEST

/* --- the signer against Debian's mkimage ------------------------------------ */

static EVP_PKEY *key;

static int
sign_file(void *arg, const char *hint, int pss, const EVP_MD *md, const unsigned char *d,
	  size_t dlen, unsigned char *sig, size_t *siglen, char *err, size_t errlen)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(key, NULL);
	int ok =
	    c && EVP_PKEY_sign_init(c) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(c, pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) == 1 &&
	    (!pss || EVP_PKEY_CTX_set_rsa_pss_saltlen(c, RSA_PSS_SALTLEN_MAX) == 1) &&
	    EVP_PKEY_CTX_set_signature_md(c, md) == 1 &&
	    EVP_PKEY_sign(c, sig, siglen, d, dlen) == 1;

	(void)arg;
	EVP_PKEY_CTX_free(c);
	if (strcmp(hint, "dev") != 0) {
		snprintf(err, errlen, "no key %s", hint);
		return 404;
	}
	return ok ? 0 : 500;
}

static int
public_file(void *arg, const char *hint, EVP_PKEY **pub, char *err, size_t errlen)
{
	(void)arg, (void)hint, (void)err, (void)errlen;
	EVP_PKEY_up_ref(key);
	*pub = key;
	return 0;
}

static const char conf_its[] =
    "/dts-v1/;\n/ { description = \"t\"; timestamp = <1700000000>; images {\n"
    " kernel-1 { data = /incbin/(\"big.bin\"); type = \"kernel\"; arch = \"arm64\";\n"
    "  os = \"linux\"; compression = \"none\"; hash-1 { algo = \"sha256\"; }; };\n"
    " fdt-1 { data = [00 01 02]; type = \"flat_dt\"; hash-1 { algo = \"%s\"; }; }; };\n"
    " configurations { default = \"conf-1\"; conf-1 { kernel = \"kernel-1\"; fdt = \"fdt-1\";\n"
    "  signature-1 { algo = \"%s\"; key-name-hint = \"%s\";%s }; }; }; };\n";

/* What the last run reported. */
static struct fitsign_result last;
/* The fdt image's hash algorithm in the next run's FIT. */
static const char *fdt_hash = "crc32";

/* Sign dir/fit with the callbacks into dir/fit.native; the status. */
static int
run(const char *algo, const char *hint, const char *extra, int dtb, char *err, size_t errlen)
{
	char its[2048], p[256];
	struct fitsign_opts o = {.timestamp = 1700000000, .require = 1, .comment = "c"};
	struct fitsign_key k = {.sign = sign_file, .public_key = public_file};
	size_t size;
	struct stat st;
	int fd, out, dfd = -1, dout = -1, rc;

	snprintf(its, sizeof(its), conf_its, fdt_hash, algo, hint, extra);
	fd = compile(its, "fit", &size);
	snprintf(p, sizeof(p), "%s/fit.native", dir);
	out = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (dtb) {
		dfd = compile("/dts-v1/;\n/ { model = \"u\"; };\n", "u.dtb", &size);
		fstat(dfd, &st);
		snprintf(p, sizeof(p), "%s/u.dtb.native", dir);
		dout = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	}
	fstat(fd, &st);
	rc = fitsign_run(fd, (size_t)st.st_size, dfd, dtb ? size : 0, &o, &k, out, dout, &last, err,
			 errlen);
	close(fd);
	close(out);
	if (dtb) {
		close(dfd);
		close(dout);
	}
	return rc;
}

START_TEST(test_like_mkimage)
{
	char err[256] = "";

	if (check_sh(dir, "command -v mkimage >/dev/null") != 0)
		return; /* the regress test needs it anyway */
	ck_assert_int_eq(check_sh(dir, "head -c 100000 /dev/urandom > big.bin"), 0);
	ck_assert_int_eq(run("sha256,rsa2048", "dev", "", 1, err, sizeof(err)), 0);
	ck_assert_int_eq(check_sh(dir,
				  "cp fit fit.ref && cp u.dtb u.dtb.ref && mkdir -p k && "
				  "cp key.pem k/dev.key && openssl req -batch -new -x509 -key "
				  "key.pem -out k/dev.crt -subj /CN=dev 2>/dev/null && "
				  "SOURCE_DATE_EPOCH=1700000000 "
				  "mkimage -E -F -k k -r -c c -K u.dtb.ref fit.ref >/dev/null"),
			 0);
	ck_assert_int_eq(check_sh(dir, "cmp fit.native fit.ref && cmp u.dtb.native u.dtb.ref"), 0);
}
END_TEST

START_TEST(test_refusals)
{
	char err[256] = "";

	ck_assert_int_eq(check_sh(dir, "head -c 100 /dev/urandom > big.bin"), 0);
	ck_assert_int_eq(run("sha256,rsa2048", "other", "", 0, err, sizeof(err)), 404);
	ck_assert_str_eq(err, "no key other");
	ck_assert_int_eq(run("sha256,rsa2048", "dev", " padding = \"pss\";", 0, err, sizeof(err)),
			 0);
	ck_assert_int_eq(run("sha256,ecdsa256", "dev", "", 0, err, sizeof(err)), 400);
	ck_assert_ptr_nonnull(strstr(err, "ecdsa256"));
	ck_assert_int_eq(last.unsupported, 1); /* mkimage signs it */
	ck_assert_int_eq(run("sha256,foo2048", "dev", "", 0, err, sizeof(err)), 400);
	ck_assert_ptr_nonnull(strstr(err, "foo2048"));
	ck_assert_int_eq(last.unsupported, 0); /* mkimage refuses it too */
	/* a hash mkimage makes and this does not: its limit, not the FIT's */
	fdt_hash = "crc16-ccitt";
	ck_assert_int_eq(run("sha256,rsa2048", "dev", "", 0, err, sizeof(err)), 400);
	fdt_hash = "crc32";
	ck_assert_ptr_nonnull(strstr(err, "crc16-ccitt"));
	ck_assert_int_eq(last.unsupported, 1);
	fdt_hash = "crc99";
	ck_assert_int_eq(run("sha256,rsa2048", "dev", "", 0, err, sizeof(err)), 400);
	fdt_hash = "crc32";
	ck_assert_int_eq(last.unsupported, 0);
}
END_TEST

static int
before(void)
{
	char p[256];
	FILE *f;

	if (mkdtemp(dir) == NULL)
		return 1;
	key = EVP_RSA_gen(2048);
	snprintf(p, sizeof(p), "%s/key.pem", dir);
	if (key == NULL || (f = fopen(p, "w")) == NULL)
		return 1;
	PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	return 0;
}

static void
after(void)
{
	EVP_PKEY_free(key);
	util_rm_rf(dir);
}

CHECK_MAIN(.name = "fitsign",
	   .tests = CHECK_TESTS(test_setprop_first, test_stale_padding, test_big_value,
				test_refused, test_like_mkimage, test_refusals),
	   .before = before, .after = after, .timeout = 120);
