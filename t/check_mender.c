/* SPDX-License-Identifier: MIT */
/*
 * check_mender.c: unit tests of the Mender artifact reader and re-writer
 * (lib/mender_artifact.c with mender_tar.c, mender_manifest.c and
 * mender_copy.c) and of its keys and signatures (lib/mender_key.c).
 *
 * Real artifacts come from Debian's mender-artifact (3.9): what we write
 * must be byte for byte what `mender-artifact sign` writes with the same
 * RSA key, and `mender-artifact validate` must accept our EC signatures.
 * Damaged artifacts are built here with a small tar writer, so that each
 * way an artifact can lie or break is tried on its own.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "check_main.h"
#include "mender_artifact.h"
#include "mender_key.h"
#include "mender_manifest.h"
#include "mender_tar.h"
#include "pkey.h"
#include "util.h"

static char dir[] = "/tmp/check_mender.XXXXXX";
static int have_tool; /* mender-artifact is installed */

/* A command in the scratch directory, its output discarded; its exit status. */
#ifndef TOP_SRCDIR
#define TOP_SRCDIR ".."
#endif
#define sh(...) check_sh(dir, "exec >/dev/null 2>&1; " __VA_ARGS__)

static char *
path(const char *name)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static char *
slurp(const char *name, size_t *len)
{
	char *data;

	ck_assert_int_eq(util_read_file(path(name), 1 << 30, &data, len), 0);
	return data;
}

static void
spit(const char *name, const void *data, size_t len)
{
	unlink(path(name));
	ck_assert_int_eq(util_write_file(path(name), data, len, 0644), 0);
}

static struct mender_key *
key(const char *name)
{
	struct mender_key *k = NULL;
	char err[256], *pem;
	size_t len;

	pem = slurp(name, &len);
	ck_assert_msg(mender_key_load(pem, len, &k, err, sizeof(err)) == 0, "%s: %s", name, err);
	free(pem);
	return k;
}

/*
 * Sign in into out with k (NULL: no slot).  Returns the status; err and
 * the result (freed here) are kept in the globals below for checks.
 */
static char err[512];
static struct mender_result res;

static int
sign_file(const char *in, const char *out, struct mender_key *k, int copy_range)
{
	struct mender_opts o;
	int ifd, ofd, rc;
	char *sig = NULL;
	size_t siglen;

	mender_opts_init(&o);
	o.copy_range = copy_range;
	o.start_writeback = copy_range;
	o.sig_len = k ? mender_key_sig_len(k) : 0;
	ifd = open(path(in), O_RDONLY);
	ck_assert_int_ge(ifd, 0);
	unlink(path(out));
	ofd = open(path(out), O_RDWR | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(ofd, 0);
	rc = mender_rewrite(ifd, ofd, &o, &res, err, sizeof(err));
	if (rc == 0 && k) {
		ck_assert_int_eq(mender_sign(k, res.manifest, res.manifest_len, &sig, &siglen, err,
					     sizeof(err)),
				 0);
		ck_assert_int_eq(mender_write_signature(ofd, &res, sig, siglen, err, sizeof(err)),
				 0);
	}
	free(sig);
	mender_result_free(&res);
	close(ifd);
	close(ofd);
	return rc;
}

static int
same_files(const char *a, const char *b)
{
	size_t la, lb;
	char *da = slurp(a, &la), *db = slurp(b, &lb);
	int same = la == lb && memcmp(da, db, la) == 0;

	free(da);
	free(db);
	return same;
}

/* A small tar writer for hand-made artifacts. */
struct tarbuf {
	unsigned char *p;
	size_t len;
};

static void
tar_raw(struct tarbuf *t, const void *data, size_t len)
{
	t->p = xrealloc(t->p, t->len + len);
	memcpy(t->p + t->len, data, len);
	t->len += len;
}

static void
tar_member(struct tarbuf *t, const char *name, char type, const void *data, size_t len)
{
	unsigned char h[512] = {0}, pad[512] = {0};
	unsigned sum = 0;

	snprintf((char *)h, 100, "%s", name);
	snprintf((char *)h + 100, 8, "%07o", 0600);
	snprintf((char *)h + 108, 8, "%07o", 0);
	snprintf((char *)h + 116, 8, "%07o", 0);
	snprintf((char *)h + 124, 12, "%011zo", len);
	snprintf((char *)h + 136, 12, "%011o", 0);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 7, "%06o", sum);
	tar_raw(t, h, 512);
	tar_raw(t, data, len);
	if (len % 512)
		tar_raw(t, pad, 512 - len % 512);
}

static void
tar_end(struct tarbuf *t)
{
	unsigned char z[1024] = {0};

	tar_raw(t, z, sizeof(z));
}

static void
hex_sha256(const void *p, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int l;

	EVP_Digest(p, len, md, &l, EVP_sha256(), NULL);
	util_hex(md, 32, out);
}

/* The parts of a hand-made artifact, each replaceable by a test. */
struct parts {
	const char *version;
	const char *manifest; /* NULL: the true one */
	const char *extra_line; /* appended to the true manifest */
	const char *payload;	/* contents of data/0000/file */
	const char *listed_payload; /* what the manifest claims it holds */
	const char *skip;	/* member left out */
	int old_sig;		/* add a manifest.sig */
	const char *zip;	/* payload compressor command ("zstd") and */
	const char *ext;	/* its extension (".zst") */
};

static void
build(const char *name, const struct parts *p)
{
	struct tarbuf art = {0}, inner = {0};
	const char *version = p->version ? p->version : "{\"format\":\"mender\",\"version\":3}";
	const char *payload = p->payload ? p->payload : "payload bytes\n";
	const char *listed = p->listed_payload ? p->listed_payload : payload;
	const char *header = "not parsed: only hashed";
	char manifest[1024], hv[65], hh[65], hp[65], dname[64];

	tar_member(&inner, "file", '0', payload, strlen(payload));
	tar_end(&inner);
	snprintf(dname, sizeof(dname), "data/0000.tar%s", p->ext ? p->ext : "");
	if (p->zip) {
		size_t zlen;

		spit("inner.tar", inner.p, inner.len);
		ck_assert_int_eq(sh("%s -q -c inner.tar >inner.z", p->zip), 0);
		free(inner.p);
		inner.p = (unsigned char *)slurp("inner.z", &zlen);
		inner.len = zlen;
	}
	hex_sha256(version, strlen(version), hv);
	hex_sha256(header, strlen(header), hh);
	hex_sha256(listed, strlen(listed), hp);
	snprintf(manifest, sizeof(manifest), "%s  data/0000/file\n%s  header.tar\n%s  version\n%s",
		 hp, hh, hv, p->extra_line ? p->extra_line : "");
	if (p->manifest)
		snprintf(manifest, sizeof(manifest), "%s", p->manifest);
	tar_member(&art, "version", '0', version, strlen(version));
	if (!p->skip || strcmp(p->skip, "manifest") != 0)
		tar_member(&art, "manifest", '0', manifest, strlen(manifest));
	if (p->old_sig)
		tar_member(&art, "manifest.sig", '0', "b2xk", 4);
	if (!p->skip || strcmp(p->skip, "header.tar") != 0)
		tar_member(&art, "header.tar", '0', header, strlen(header));
	if (!p->skip || strcmp(p->skip, "data") != 0)
		tar_member(&art, dname, '0', inner.p, inner.len);
	tar_end(&art);
	spit(name, art.p, art.len);
	free(art.p);
	free(inner.p);
}

/* Rewrite a hand-made artifact without a key; its status. */
static int
try(const struct parts *p)
{
	build("made.mender", p);
	return sign_file("made.mender", "made.out", NULL, 0);
}

START_TEST(test_rsa_identical)
{
	struct mender_key *k;

	if (!have_tool)
		return;
	k = key("rsa.key");
	ck_assert_int_eq(sign_file("plain.mender", "ours.mender", k, 0), 0);
	ck_assert_int_eq(sh("mender-artifact sign -k rsa.key -o ref.mender plain.mender"), 0);
	ck_assert(same_files("ours.mender", "ref.mender"));
	/* the copy_file_range path writes the same bytes */
	ck_assert_int_eq(sign_file("plain.mender", "ours2.mender", k, 1), 0);
	ck_assert(same_files("ours2.mender", "ref.mender"));
	ck_assert_int_eq(sh("mender-artifact validate -k rsa.pub ours.mender"), 0);
	mender_key_free(k);
}
END_TEST

START_TEST(test_rsa_pkcs8_gzip)
{
	struct mender_key *k;

	if (!have_tool)
		return;
	/* mender-artifact reads PKCS#1 only: the same key in PKCS#8 must sign alike */
	k = key("rsa8.key");
	ck_assert_str_eq(mender_key_describe(k), "RSA-2048");
	ck_assert_int_eq(sign_file("gz.mender", "ours.mender", k, 1), 0);
	ck_assert_int_eq(sh("mender-artifact sign -k rsa.key -o ref.mender gz.mender"), 0);
	ck_assert(same_files("ours.mender", "ref.mender"));
	mender_key_free(k);
}
END_TEST

START_TEST(test_ec_validates)
{
	static const char *const keys[] = {"ec.key", "ec8.key"};

	if (!have_tool)
		return;
	for (int i = 0; i < 2; i++) {
		struct mender_key *k = key(keys[i]);

		ck_assert_str_eq(mender_key_describe(k), "EC-P256");
		ck_assert_uint_eq(mender_key_sig_len(k), 88);
		ck_assert_int_eq(sign_file("gz.mender", "ec.mender", k, i), 0);
		ck_assert_int_eq(sh("mender-artifact validate -k ec.pub ec.mender"), 0);
		ck_assert_int_ne(sh("mender-artifact validate -k rsa.pub ec.mender"), 0);
		mender_key_free(k);
	}
}
END_TEST

START_TEST(test_resign)
{
	struct mender_key *k, *ek;

	if (!have_tool)
		return;
	k = key("rsa.key");
	ek = key("ec.key");
	/* signed by mender-artifact with EC, re-signed here with RSA */
	ck_assert_int_eq(sh("mender-artifact sign -k ec.key -o ecref.mender plain.mender"), 0);
	ck_assert_int_eq(sign_file("ecref.mender", "again.mender", k, 0), 0);
	ck_assert_int_eq(sh("mender-artifact sign -k rsa.key -o ref.mender plain.mender"), 0);
	ck_assert(same_files("again.mender", "ref.mender"));
	/* and the reader says it was signed */
	{
		struct mender_opts o;
		int ifd = open(path("ecref.mender"), O_RDONLY);
		int ofd = open(path("scratch"), O_RDWR | O_CREAT | O_TRUNC, 0600);

		mender_opts_init(&o);
		o.sig_len = mender_key_sig_len(ek);
		ck_assert_int_eq(mender_rewrite(ifd, ofd, &o, &res, err, sizeof(err)), 0);
		ck_assert_int_eq(res.was_signed, 1);
		ck_assert_int_eq(res.format_version, 3);
		ck_assert_uint_eq(res.payload_files, 1);
		mender_result_free(&res);
		close(ifd);
		close(ofd);
	}
	mender_key_free(k);
	mender_key_free(ek);
}
END_TEST

START_TEST(test_other_layouts)
{
	static const char *const arts[] = {"v2.mender", "module.mender", "augment.mender"};
	struct mender_key *k;

	if (!have_tool)
		return;
	k = key("rsa.key");
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(sign_file(arts[i], "ours.mender", k, i % 2) == 0, "%s: %s", arts[i],
			      err);
		ck_assert_int_eq(sh("mender-artifact sign -k rsa.key -o ref.mender %s", arts[i]),
				 0);
		ck_assert_msg(same_files("ours.mender", "ref.mender"), "%s differs", arts[i]);
		ck_assert_int_eq(sh("mender-artifact validate -k rsa.pub ours.mender"), 0);
	}
	mender_key_free(k);
}
END_TEST

START_TEST(test_sig_header)
{
	unsigned char blk[512];
	size_t len;
	char *signed_art;
	const char *at;

	if (!have_tool)
		return;
	/* the header block Go's archive/tar wrote for manifest.sig */
	ck_assert_int_eq(sh("mender-artifact sign -k rsa.key -o ref.mender plain.mender"), 0);
	signed_art = slurp("ref.mender", &len);
	at = memmem(signed_art, len, "manifest.sig\0", 13);
	ck_assert_ptr_nonnull(at);
	mender_sig_header(blk, 344);
	ck_assert(memcmp(blk, at, 512) == 0);
	free(signed_art);
}
END_TEST

START_TEST(test_made_ok)
{
	struct parts p = {0};

	ck_assert_msg(try(&p) == 0, "%s", err);
	p.old_sig = 1;
	ck_assert_msg(try(&p) == 0, "%s", err);
}
END_TEST

START_TEST(test_compressed_payloads)
{
	static const char *const zips[][2] = {{"gzip", ".gz"}, {"xz", ".xz"}, {"zstd", ".zst"}};

	for (int i = 0; i < 3; i++) {
		struct parts p = {.zip = zips[i][0], .ext = zips[i][1]};

		if (sh("command -v %s", zips[i][0]) != 0)
			continue;
		ck_assert_msg(try(&p) == 0, "%s: %s", zips[i][0], err);
		p.payload = "tampered\n";
		p.listed_payload = "payload bytes\n";
		ck_assert_int_eq(try(&p), 400);
		ck_assert_str_eq(err, "checksum of data/0000/file does not match the manifest");
	}
}
END_TEST

START_TEST(test_pax_member)
{
	struct tarbuf art = {0}, inner = {0};
	const char *version = "{\"format\":\"mender\",\"version\":3}";
	char manifest[512], hv[65], hh[65], hp[65], pax[128];
	size_t len;
	char *out;

	/* the data member named and sized by a pax header, as Go writes past 8 GiB */
	tar_member(&inner, "file", '0', "x", 1);
	tar_end(&inner);
	hex_sha256(version, strlen(version), hv);
	hex_sha256("h", 1, hh);
	hex_sha256("x", 1, hp);
	snprintf(manifest, sizeof(manifest), "%s  data/0000/file\n%s  header.tar\n%s  version\n",
		 hp, hh, hv);
	{
		char num[32];
		int digits = snprintf(num, sizeof(num), "%zu", inner.len);

		/* a record's length counts itself: "NN size=<digits>\n" */
		snprintf(pax, sizeof(pax), "22 path=data/0000.tar\n%d size=%s\n", 9 + digits, num);
	}
	tar_member(&art, "version", '0', version, strlen(version));
	tar_member(&art, "manifest", '0', manifest, strlen(manifest));
	tar_member(&art, "header.tar", '0', "h", 1);
	tar_member(&art, "PaxHeaders/x", 'x', pax, strlen(pax));
	tar_member(&art, "short-name", '0', inner.p, inner.len);
	tar_end(&art);
	spit("pax.mender", art.p, art.len);
	ck_assert_msg(sign_file("pax.mender", "pax.out", NULL, 0) == 0, "%s", err);
	/* copied as it was: the output is the input (no slot asked for) */
	out = slurp("pax.out", &len);
	ck_assert_uint_eq(len, art.len);
	ck_assert(memcmp(out, art.p, len) == 0);
	free(out);
	/* a malformed pax record */
	memcpy(art.p + 3 * 1024 + 512, "99", 2);
	spit("pax.mender", art.p, art.len);
	ck_assert_int_eq(sign_file("pax.mender", "pax.out", NULL, 0), 400);
	ck_assert_ptr_nonnull(strstr(err, "pax header"));
	free(art.p);
	free(inner.p);
}
END_TEST

START_TEST(test_tampered_payload)
{
	struct parts p = {.payload = "evil bytes\n", .listed_payload = "payload bytes\n"};

	ck_assert_int_eq(try(&p), 400);
	ck_assert_str_eq(err, "checksum of data/0000/file does not match the manifest");
}
END_TEST

START_TEST(test_tampered_real)
{
	size_t len;
	char *a;
	char *at;

	if (!have_tool)
		return;
	/* flip one payload byte of a real artifact, after its manifest was written */
	a = slurp("plain.mender", &len);
	at = memmem(a, len, "data/0000.tar", 14);
	ck_assert_ptr_nonnull(at);
	at[512 + 512 + 100] ^= 1;
	spit("bad.mender", a, len);
	free(a);
	ck_assert_int_eq(sign_file("bad.mender", "out.mender", NULL, 1), 400);
	ck_assert_ptr_nonnull(strstr(err, "does not match the manifest"));
}
END_TEST

START_TEST(test_manifest_lies)
{
	struct parts p = {0};

	/* lists a file the artifact does not have */
	p.extra_line = "0000000000000000000000000000000000000000000000000000000000000000  "
		       "data/0000/other\n";
	ck_assert_int_eq(try(&p), 400);
	ck_assert_str_eq(err, "manifest lists data/0000/other, which is not in the artifact");
	/* a listed member is missing */
	memset(&p, 0, sizeof(p));
	p.skip = "data";
	ck_assert_int_eq(try(&p), 400);
	ck_assert_ptr_nonnull(strstr(err, "data/0000/file, which is not in the artifact"));
	/* the version file does not match */
	memset(&p, 0, sizeof(p));
	p.manifest = "0000000000000000000000000000000000000000000000000000000000000000  version\n";
	ck_assert_int_eq(try(&p), 400);
	ck_assert_str_eq(err, "checksum of version does not match the manifest");
	/* an empty manifest */
	p.manifest = "";
	ck_assert_int_eq(try(&p), 400);
	ck_assert_str_eq(err, "manifest does not list version");
}
END_TEST

START_TEST(test_manifest_syntax)
{
	struct parts p = {0};
	char line[256];

	p.manifest = "not a manifest line\n";
	ck_assert_int_eq(try(&p), 400);
	ck_assert_str_eq(err, "manifest: line 1 is malformed");
	/* upper-case hex is not what mender compares against */
	p.manifest = "ABCDEF0000000000000000000000000000000000000000000000000000000000  version\n";
	ck_assert_int_eq(try(&p), 400);
	ck_assert_str_eq(err, "manifest: line 1 is malformed");
	snprintf(line, sizeof(line), "%064d  version", 0);
	p.manifest = line;
	ck_assert_int_eq(try(&p), 400);
	ck_assert_str_eq(err, "manifest: line 1 has no newline");
	p.manifest = NULL;
	p.extra_line = "0000000000000000000000000000000000000000000000000000000000000000"
		       "  version\n";
	ck_assert_int_eq(try(&p), 400);
	ck_assert_str_eq(err, "manifest lists version twice");
}
END_TEST

START_TEST(test_not_artifacts)
{
	struct parts p = {0};
	struct tarbuf t = {0};

	spit("junk", "hello", 5);
	ck_assert_int_eq(sign_file("junk", "out", NULL, 0), 400);
	ck_assert_str_eq(err, "not a Mender artifact: not a tar archive");
	spit("empty", "", 0);
	ck_assert_int_eq(sign_file("empty", "out", NULL, 0), 400);
	ck_assert_str_eq(err, "not a Mender artifact: empty archive");
	tar_member(&t, "README", '0', "hi", 2);
	tar_end(&t);
	spit("plain.tar", t.p, t.len);
	free(t.p);
	ck_assert_int_eq(sign_file("plain.tar", "out", NULL, 0), 400);
	ck_assert_str_eq(err, "not a Mender artifact: first member is README, not version");

	p.version = "{\"format\":\"other\",\"version\":3}";
	ck_assert_int_eq(try(&p), 400);
	ck_assert_str_eq(err, "not a Mender artifact: format is not \"mender\"");
	p.version = "{\"format\":\"mender\",\"version\":1}";
	ck_assert_int_eq(try(&p), 400);
	ck_assert_str_eq(err, "unsupported Mender artifact version 1");
	p.version = "[1,2]";
	ck_assert_int_eq(try(&p), 400);
	ck_assert_str_eq(err, "not a Mender artifact: version is not a JSON object");
	p.version = NULL;
	p.skip = "manifest";
	ck_assert_int_eq(try(&p), 400);
	ck_assert_str_eq(err, "Mender artifact has header.tar where its manifest should be");
	p.skip = "header.tar";
	ck_assert_int_eq(try(&p), 400);
	ck_assert_str_eq(err,
			 "Mender artifact has no header.tar after its manifest, but data/0000.tar");
}
END_TEST

START_TEST(test_broken_tar)
{
	struct parts p = {0};
	size_t len;
	char *a;

	build("made.mender", &p);
	a = slurp("made.mender", &len);
	/* truncated in the middle of the payload member */
	spit("cut.mender", a, len - 1024 - 300);
	ck_assert_int_eq(sign_file("cut.mender", "out", NULL, 0), 400);
	ck_assert_str_eq(err, "artifact is truncated in member data/0000.tar");
	/* a damaged header checksum */
	a[1024 + 148] ^= 1; /* the manifest's header */
	spit("bad.mender", a, len);
	ck_assert_int_eq(sign_file("bad.mender", "out", NULL, 0), 400);
	ck_assert_str_eq(err, "bad tar header checksum at offset 1024");
	free(a);
}
END_TEST

START_TEST(test_unexpected_members)
{
	struct tarbuf art = {0}, inner = {0};
	const char *version = "{\"format\":\"mender\",\"version\":3}";
	char manifest[512], hv[65], hh[65];

	hex_sha256(version, strlen(version), hv);
	hex_sha256("h", 1, hh);
	snprintf(manifest, sizeof(manifest), "%s  header.tar\n%s  version\n", hh, hv);
	tar_member(&art, "version", '0', version, strlen(version));
	tar_member(&art, "manifest", '0', manifest, strlen(manifest));
	tar_member(&art, "header.tar", '0', "h", 1);
	tar_end(&inner); /* an empty payload archive */
	tar_member(&art, "data/0000.tar", '0', inner.p, inner.len);
	tar_member(&art, "evil", '0', "x", 1);
	tar_end(&art);
	spit("u.mender", art.p, art.len);
	ck_assert_int_eq(sign_file("u.mender", "out", NULL, 0), 400);
	ck_assert_str_eq(err, "unexpected member evil in Mender artifact");
	inner.len = 0;

	/* a header-only artifact (no payload) is fine */
	art.len = 0;
	tar_member(&art, "version", '0', version, strlen(version));
	tar_member(&art, "manifest", '0', manifest, strlen(manifest));
	tar_member(&art, "header.tar", '0', "h", 1);
	tar_end(&art);
	spit("h.mender", art.p, art.len);
	ck_assert_msg(sign_file("h.mender", "out", NULL, 0) == 0, "%s", err);

	/* a symbolic link where a payload should be */
	art.len = 0;
	tar_member(&inner, "link", '2', "", 0);
	tar_end(&inner);
	tar_member(&art, "version", '0', version, strlen(version));
	tar_member(&art, "manifest", '0', manifest, strlen(manifest));
	tar_member(&art, "header.tar", '0', "h", 1);
	tar_member(&art, "data/0000.tar", '0', inner.p, inner.len);
	tar_end(&art);
	spit("l.mender", art.p, art.len);
	ck_assert_int_eq(sign_file("l.mender", "out", NULL, 0), 400);
	ck_assert_str_eq(err, "data/0000.tar: link is not a regular file");

	/* an outer member that is not a regular file */
	art.len = 0;
	tar_member(&art, "version", '5', "", 0);
	tar_end(&art);
	spit("d.mender", art.p, art.len);
	ck_assert_int_eq(sign_file("d.mender", "out", NULL, 0), 400);
	ck_assert_str_eq(err, "member version is not a regular file");
	free(art.p);
	free(inner.p);
}
END_TEST

START_TEST(test_limits)
{
	struct parts p = {0};
	struct mender_opts o;
	int ifd, ofd;

	build("made.mender", &p);
	ifd = open(path("made.mender"), O_RDONLY);
	ofd = open(path("scratch"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	mender_opts_init(&o);
	o.meta_max = 100;
	ck_assert_int_eq(mender_rewrite(ifd, ofd, &o, &res, err, sizeof(err)), 400);
	ck_assert_str_eq(err, "manifest is larger than 100 bytes");
	mender_opts_init(&o);
	o.max_members = 4;
	ck_assert_int_eq(mender_rewrite(ifd, ofd, &o, &res, err, sizeof(err)), 400);
	ck_assert_str_eq(err, "artifact has more than 4 members");
	mender_opts_init(&o);
	o.max_expanded = 5;
	ck_assert_int_eq(mender_rewrite(ifd, ofd, &o, &res, err, sizeof(err)), 400);
	ck_assert_str_eq(err, "payload expands past 5 bytes");
	close(ifd);
	close(ofd);
	/* the holes of sparse payload files: 8 MiB of zeros in a few kB */
	ck_assert_int_eq(sh("python3 " TOP_SRCDIR "/t/fixtures/mksparse_mender.py sparse.mender %d",
			    8 << 20),
			 0);
	ifd = open(path("sparse.mender"), O_RDONLY);
	ofd = open(path("scratch"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	mender_opts_init(&o);
	o.max_holes = 1 << 20;
	ck_assert_int_eq(mender_rewrite(ifd, ofd, &o, &res, err, sizeof(err)), 400);
	ck_assert_str_eq(err, "sparse payload files with more than 1048576 bytes of holes");
	close(ifd);
	close(ofd);
	/* a pipe is no artifact */
	{
		int pfd[2];

		ck_assert_int_eq(pipe(pfd), 0);
		mender_opts_init(&o);
		ck_assert_int_eq(mender_rewrite(pfd[0], pfd[1], &o, &res, err, sizeof(err)), 400);
		close(pfd[0]);
		close(pfd[1]);
	}
}
END_TEST

START_TEST(test_keys)
{
	struct mender_key *k = NULL;
	char *pem;
	size_t len;
	char e[256], fpr[65];

	k = key("rsa.key");
	ck_assert_uint_eq(mender_key_sig_len(k), 344);
	ck_assert_int_eq(mender_key_fingerprint(k, fpr), 0);
	ck_assert_uint_eq(strlen(fpr), 64);
	mender_key_free(k);
	k = NULL;
	ck_assert_int_eq(mender_key_load("garbage", 7, &k, e, sizeof(e)), -1);
	ck_assert_ptr_null(k);
	pem = slurp("p384.key", &len);
	ck_assert_int_eq(mender_key_load(pem, len, &k, e, sizeof(e)), -1);
	ck_assert_str_eq(e, "EC key is not on curve P-256");
	free(pem);
	pem = slurp("ed.key", &len);
	ck_assert_int_eq(mender_key_load(pem, len, &k, e, sizeof(e)), -1);
	ck_assert_str_eq(e, "key type is neither RSA nor EC");
	free(pem);
	pem = slurp("enc.key", &len);
	ck_assert_int_eq(mender_key_load(pem, len, &k, e, sizeof(e)), -1);
	free(pem);
}
END_TEST

START_TEST(test_ec_signature_form)
{
	struct mender_key *k = key("ec.key");
	char *sig = NULL, e[256];
	size_t len;
	unsigned char raw[80];

	/* base64 of exactly 64 bytes (r||s), padded, no newline */
	ck_assert_int_eq(mender_sign(k, "abc", 3, &sig, &len, e, sizeof(e)), 0);
	ck_assert_uint_eq(len, 88);
	ck_assert_uint_eq(strlen(sig), 88);
	ck_assert_ptr_null(strchr(sig, '\n'));
	ck_assert_int_eq(sig[87], '=');
	ck_assert_int_eq(EVP_DecodeBlock(raw, (unsigned char *)sig, 88), 66); /* 64 + padding */
	free(sig);
	mender_key_free(k);
}
END_TEST

/* mender_sign_fn for the tests: sign the digest with the EVP_PKEY in arg,
 * as the key process does (RSA PKCS#1 v1.5 or ECDSA DER over SHA-256). */
static int
sign_elsewhere(void *arg, int ecdsa, const unsigned char digest[32], unsigned char *sig,
	       size_t *siglen, char *e, size_t elen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(arg, NULL);
	int ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
		 EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
		 (ecdsa || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1) &&
		 EVP_PKEY_sign(ctx, sig, siglen, digest, 32) == 1;

	EVP_PKEY_CTX_free(ctx);
	snprintf(e, elen, "sign_elsewhere failed");
	return ok ? 0 : -1;
}

/* sign_elsewhere with one bit of the signature flipped. */
static int
sign_flipped(void *arg, int ecdsa, const unsigned char digest[32], unsigned char *sig,
	     size_t *siglen, char *e, size_t elen)
{
	int rc = sign_elsewhere(arg, ecdsa, digest, sig, siglen, e, elen);

	if (rc == 0)
		sig[*siglen / 2] ^= 1;
	return rc;
}

/* A key known by its public half, signed elsewhere: the same RSA bytes as
 * mender_sign, and an ECDSA signature of the same form that verifies. */
START_TEST(test_sign_with_public_key)
{
	static const char *const names[] = {"rsa.key", "ec.key"};

	for (size_t i = 0; i < 2; i++) {
		char *pem, *a = NULL, *b = NULL, e[256];
		size_t len, alen, blen;
		unsigned char *der = NULL;
		struct mender_key *priv = key(names[i]), *pub = NULL;
		EVP_PKEY *pk;
		int n;

		pem = slurp(names[i], &len);
		pk = pkey_load_private((unsigned char *)pem, len);
		free(pem);
		ck_assert_ptr_nonnull(pk);
		ck_assert_int_gt(n = i2d_PUBKEY(pk, &der), 0);
		ck_assert_int_eq(mender_key_from_public(der, (size_t)n, &pub, e, sizeof(e)), 0);
		ck_assert_str_eq(mender_key_describe(pub), mender_key_describe(priv));
		ck_assert_uint_eq(mender_key_sig_len(pub), mender_key_sig_len(priv));
		ck_assert_int_eq(mender_sign(priv, "abc", 3, &a, &alen, e, sizeof(e)), 0);
		ck_assert_int_eq(mender_sign_with(pub, sign_elsewhere, pk, "abc", 3, &b, &blen, e,
						  sizeof(e)),
				 0);
		ck_assert_uint_eq(alen, blen);
		if (i == 0)
			ck_assert_str_eq(a, b); /* PKCS#1 v1.5 is deterministic */
		/* a signature that does not verify never goes into an artifact */
		free(b);
		b = NULL;
		ck_assert_int_eq(mender_sign_with(pub, sign_flipped, pk, "abc", 3, &b, &blen, e,
						  sizeof(e)),
				 -1);
		ck_assert_ptr_null(b);
		ck_assert_str_eq(e, "the signature made does not verify with the key");
		mender_key_free(pub);
		/* a DER cut short is no public key */
		ck_assert_int_eq(mender_key_from_public(der, (size_t)n - 1, &pub, e, sizeof(e)), -1);
		ck_assert_ptr_null(pub);
		free(a);
		free(b);
		OPENSSL_free(der);
		EVP_PKEY_free(pk);
		mender_key_free(priv);
	}
}
END_TEST

/* A pax record "<len> key=value\n" whose length counts itself. */
static void
pax_record(char *out, size_t outlen, const char *key, const char *value)
{
	size_t body = strlen(key) + strlen(value) + 3, n = body + 1;

	while ((size_t)snprintf(NULL, 0, "%zu", n) + body != n)
		n = (size_t)snprintf(NULL, 0, "%zu", n) + body;
	snprintf(out, outlen, "%zu %s=%s\n", n, key, value);
}

/* mender_tar_next reads pax paths and sizes, GNU long names and USTAR
 * prefixes, keeps every header block raw, and stops at the end. */
START_TEST(test_tar_reader)
{
	struct tarbuf t = {0};
	struct mender_tar_member m;
	char rec[256], longname[300], why[512];
	int fd;

	pax_record(rec, sizeof(rec), "path", "pax/given/name");
	tar_member(&t, "PaxHeader", 'x', rec, strlen(rec));
	tar_member(&t, "short", '0', "12345", 5);
	memset(longname, 'n', 200);
	longname[200] = '\0';
	tar_member(&t, "././@LongLink", 'L', longname, 201);
	tar_member(&t, "truncated", '0', "", 0);
	tar_member(&t, "plain", '0', "x", 1);
	tar_end(&t);
	spit("reader.tar", t.p, t.len);
	fd = open(path("reader.tar"), O_RDONLY);
	ck_assert_int_ge(fd, 0);
	mender_tar_member_init(&m);

	ck_assert_int_eq(mender_tar_next(fd, 0, t.len, &m, why, sizeof(why)), 1);
	ck_assert_str_eq(m.name, "pax/given/name");
	ck_assert_uint_eq(m.start, 0);
	ck_assert_uint_eq(m.hdrs.len, 3 * 512); /* pax header, its data, the member's */
	ck_assert_int_eq(memcmp(m.hdrs.data, t.p, m.hdrs.len), 0);
	ck_assert_uint_eq(m.data, 3 * 512);
	ck_assert_uint_eq(m.size, 5);
	ck_assert_uint_eq(m.end, 4 * 512);

	ck_assert_int_eq(mender_tar_next(fd, m.end, t.len, &m, why, sizeof(why)), 1);
	ck_assert_str_eq(m.name, longname);
	ck_assert_uint_eq(m.hdrs.len, 3 * 512);
	ck_assert_uint_eq(m.size, 0);

	ck_assert_int_eq(mender_tar_next(fd, m.end, t.len, &m, why, sizeof(why)), 1);
	ck_assert_str_eq(m.name, "plain");
	ck_assert_uint_eq(m.hdrs.len, 512);
	ck_assert_uint_eq(m.end, t.len - 1024);

	ck_assert_int_eq(mender_tar_next(fd, m.end, t.len, &m, why, sizeof(why)), 0);
	mender_tar_member_free(&m);
	close(fd);
	free(t.p);
}
END_TEST

/* What mender_tar_next refuses, with its reason. */
START_TEST(test_tar_reader_refuses)
{
	static const struct {
		char type;
		const char *why;
	} cases[] = {
		{'5', "member dir is not a regular file"},
		{'2', "member dir is not a regular file"},
		{'g', "pax global headers are not supported in an artifact"},
	};
	struct mender_tar_member m;
	char why[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tarbuf t = {0};
		int fd;

		tar_member(&t, "dir", cases[i].type, "", 0);
		tar_end(&t);
		spit("refused.tar", t.p, t.len);
		fd = open(path("refused.tar"), O_RDONLY);
		mender_tar_member_init(&m);
		ck_assert_int_eq(mender_tar_next(fd, 0, t.len, &m, why, sizeof(why)), 400);
		ck_assert_str_eq(why, cases[i].why);
		mender_tar_member_free(&m);
		close(fd);
		free(t.p);
	}
	/* cut short inside the member's data: truncated */
	{
		struct tarbuf t = {0};
		int fd;

		tar_member(&t, "big", '0', "0123456789", 10);
		spit("short.tar", t.p, 512 + 5);
		fd = open(path("short.tar"), O_RDONLY);
		mender_tar_member_init(&m);
		ck_assert_int_eq(mender_tar_next(fd, 0, 512 + 5, &m, why, sizeof(why)), 400);
		ck_assert_str_eq(why, "artifact is truncated in member big");
		mender_tar_member_free(&m);
		close(fd);
		free(t.p);
	}
}
END_TEST

/* The checksum table: lines checked once each, unseen names told, a
 * name listed twice (across manifest and augment) refused. */
START_TEST(test_manifest_table)
{
	struct mender_manifest mf;
	unsigned char md_a[32], md_b[32];
	char text[512], hex_a[65], hex_b[65], why[512];
	unsigned int l;

	EVP_Digest("a", 1, md_a, &l, EVP_sha256(), NULL);
	EVP_Digest("b", 1, md_b, &l, EVP_sha256(), NULL);
	util_hex(md_a, 32, hex_a);
	util_hex(md_b, 32, hex_b);
	mender_manifest_init(&mf);
	snprintf(text, sizeof(text), "%s  file-b\n\n  %s  file-a \n", hex_b, hex_a);
	ck_assert_int_eq(mender_manifest_add(&mf, "manifest", text, strlen(text), why, sizeof(why)),
			 0);
	ck_assert_str_eq(mender_manifest_unseen(&mf), "file-a");
	ck_assert_int_eq(mender_manifest_check(&mf, "file-a", md_b, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "checksum of file-a does not match the manifest");
	ck_assert_int_eq(mender_manifest_check(&mf, "file-c", md_a, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "manifest does not list file-c");
	ck_assert_int_eq(mender_manifest_check(&mf, "file-a", md_a, why, sizeof(why)), 0);
	ck_assert_str_eq(mender_manifest_unseen(&mf), "file-b");
	ck_assert_int_eq(mender_manifest_check(&mf, "file-b", md_b, why, sizeof(why)), 0);
	ck_assert_ptr_null(mender_manifest_unseen(&mf));
	snprintf(text, sizeof(text), "%s  file-a\n", hex_a);
	ck_assert_int_eq(
		mender_manifest_add(&mf, "manifest-augment", text, strlen(text), why, sizeof(why)),
		-1);
	ck_assert_str_eq(why, "manifest-augment lists file-a twice");
	mender_manifest_free(&mf);

	mender_manifest_init(&mf);
	ck_assert_int_eq(mender_manifest_add(&mf, "manifest", "x  y\n", 5, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "manifest: line 1 is malformed");
	snprintf(text, sizeof(text), "%s  file-a", hex_a);
	ck_assert_int_eq(mender_manifest_add(&mf, "manifest", text, strlen(text), why, sizeof(why)),
			 -1);
	ck_assert_str_eq(why, "manifest: line 1 has no newline");
	mender_manifest_free(&mf);
}
END_TEST

static Suite *
mender_suite(void)
{
	Suite *s = suite_create("mender");
	TCase *real = tcase_create("mender-artifact");
	TCase *made = tcase_create("hand-made");

	tcase_set_timeout(real, 120);
	tcase_add_test(real, test_rsa_identical);
	tcase_add_test(real, test_sign_with_public_key);
	tcase_add_test(real, test_rsa_pkcs8_gzip);
	tcase_add_test(real, test_ec_validates);
	tcase_add_test(real, test_resign);
	tcase_add_test(real, test_other_layouts);
	tcase_add_test(real, test_sig_header);
	tcase_add_test(real, test_tampered_real);
	suite_add_tcase(s, real);
	tcase_add_test(made, test_made_ok);
	tcase_add_test(made, test_compressed_payloads);
	tcase_add_test(made, test_pax_member);
	tcase_add_test(made, test_tampered_payload);
	tcase_add_test(made, test_manifest_lies);
	tcase_add_test(made, test_manifest_syntax);
	tcase_add_test(made, test_not_artifacts);
	tcase_add_test(made, test_broken_tar);
	tcase_add_test(made, test_unexpected_members);
	tcase_add_test(made, test_limits);
	tcase_add_test(made, test_keys);
	tcase_add_test(made, test_ec_signature_form);
	tcase_add_test(made, test_tar_reader);
	tcase_add_test(made, test_tar_reader_refuses);
	tcase_add_test(made, test_manifest_table);
	suite_add_tcase(s, made);
	return s;
}

/* Keys and real artifacts, made once for every test; 0 or -1. */
static int
fixtures(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return -1;
	}
	if (sh("openssl genrsa -traditional -out rsa.key 2048 && "
	       "openssl pkcs8 -topk8 -nocrypt -in rsa.key -out rsa8.key && "
	       "openssl pkey -in rsa.key -pubout -out rsa.pub && "
	       "openssl ecparam -name prime256v1 -genkey -noout -out ec.key && "
	       "openssl pkcs8 -topk8 -nocrypt -in ec.key -out ec8.key && "
	       "openssl pkey -in ec.key -pubout -out ec.pub && "
	       "openssl ecparam -name secp384r1 -genkey -noout -out p384.key && "
	       "openssl genpkey -algorithm ed25519 -out ed.key && "
	       "openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:1024 "
	       "  -aes128 -pass pass:secret -out enc.key") != 0) {
		fprintf(stderr, "cannot make keys with openssl\n");
		return -1;
	}
	have_tool = sh("command -v mender-artifact") == 0;
	if (!have_tool) {
		fprintf(stderr, "mender-artifact is missing: its tests pass vacuously\n");
		return 0;
	}
	if (sh("head -c 3000000 /dev/urandom >rootfs.ext4 && echo one >f1 && echo two >f2 && "
	       "mender-artifact write rootfs-image -t dev -n plain -f rootfs.ext4 -o plain.mender "
	       "  --compression none && "
	       "mender-artifact write rootfs-image -t dev -n gz -f rootfs.ext4 -o gz.mender && "
	       "mender-artifact write rootfs-image -v 2 -t dev -n v2 -f f1 -o v2.mender && "
	       "mender-artifact write module-image -T mod -t dev -n mod -f f1 -f f2 "
	       "  -o module.mender --compression lzma && "
	       "mender-artifact write module-image -T mod -t dev -n aug -f f1 --augment-type mod "
	       "  --augment-file f2 -o augment.mender") != 0) {
		fprintf(stderr, "mender-artifact write failed\n");
		return -1;
	}
	return 0;
}

static void
remove_fixtures(void)
{
	if (util_rm_rf(dir) < 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

CHECK_MAIN(.suite = mender_suite, .before = fixtures, .after = remove_fixtures);
