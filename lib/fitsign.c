/* SPDX-License-Identifier: MIT */
/*
 * fitsign.c: mkimage -E -F's signing of a FIT, natively (fitsign.h).
 * The steps and their order are mkimage's (tools/fit_image.c
 * fit_handle_file, tools/image-host.c, lib/rsa/rsa-sign.c
 * rsa_add_verify_data, boot/fdt_region.c fdt_find_regions); the errors
 * mkimage stops on are 400s with its reason.
 */
#include "fitsign.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "fdtedit.h"
#include "util.h"

#define SIGNER_VERSION "2023.01" /* mkimage's PLAIN_VERSION */
#define SIZE_INC 1024
#define SIZE_INC_MAX (64 * 1024)
#define PATH_LEN 200 /* mkimage's path buffers */
#define NAME_LEN 256
#define SIG_MAX 2048
#define CACHE_MAX 128
#define NODES_MAX 64
#define RETRY 1 /* -ENOSPC: start again with more room */

struct cached {
	char key[2 * PATH_LEN];
	unsigned char val[SIG_MAX];
	size_t len;
};

struct ctx {
	const struct fitsign_opts *o;
	const struct fitsign_key *k;
	struct fe_blob *fit, *dtb;
	struct fitsign_result *res;
	int status;
	char *err;
	size_t errlen;
	struct cached *cache; /* digests and signatures, the same in each attempt */
	size_t ncache;
};

/* Stop with status and a reason; -1. */
static int fail(struct ctx *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct ctx *c, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	c->status = status;
	return -1;
}

/* A libfdt error of an edit: ENOSPC retries, anything else is ours. */
static int
fdt_fail(struct ctx *c, int e, const char *what)
{
	if (e == FE_ERR_NOSPACE)
		return RETRY;
	return fail(c, 400, "Invalid artifact: cannot write %s (device tree error %d)", what, e);
}

static struct cached *
cache_find(struct ctx *c, const char *key)
{
	for (size_t i = 0; i < c->ncache; i++)
		if (strcmp(c->cache[i].key, key) == 0)
			return &c->cache[i];
	return NULL;
}

static void
cache_put(struct ctx *c, const char *key, const unsigned char *val, size_t len)
{
	struct cached *e;

	if (c->ncache == CACHE_MAX || len > SIG_MAX)
		return;
	e = &c->cache[c->ncache++];
	snprintf(e->key, sizeof(e->key), "%s", key);
	memcpy(e->val, val, len);
	e->len = len;
}

/* U-Boot's hash algorithms for hash nodes (common/hash.c). */
static const EVP_MD *
hash_md(const char *name, int *crc)
{
	*crc = strcmp(name, "crc32") == 0;
	if (strcmp(name, "md5") == 0)
		return EVP_md5();
	if (strcmp(name, "sha1") == 0)
		return EVP_sha1();
	if (strcmp(name, "sha256") == 0)
		return EVP_sha256();
	if (strcmp(name, "sha384") == 0)
		return EVP_sha384();
	if (strcmp(name, "sha512") == 0)
		return EVP_sha512();
	return NULL;
}

/* The digest of the blob's regions (absolute offset, length pairs). */
static int
digest(struct ctx *c, const EVP_MD *md, const size_t *reg, size_t nreg, unsigned char *out,
       unsigned *outlen)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	int ok = m && EVP_DigestInit_ex(m, md, NULL) == 1;

	for (size_t i = 0; ok && i < nreg; i++)
		ok = fe_hash(c->fit, reg[2 * i], reg[2 * i + 1], m) == 0;
	ok = ok && EVP_DigestFinal_ex(m, out, outlen) == 1;
	EVP_MD_CTX_free(m);
	return ok ? 0 : fail(c, 500, "Signing error");
}

/* fit_image_process_hash */
static int
process_hash(struct ctx *c, const char *image, int node, size_t data, size_t size)
{
	char algo[64], name[NAME_LEN], key[2 * PATH_LEN];
	unsigned char v[EVP_MAX_MD_SIZE];
	unsigned vlen = 0;
	const EVP_MD *md;
	struct cached *e;
	int crc, rc;

	fe_get_name(c->fit, node, name, sizeof(name));
	if (fe_getprop_copy(c->fit, node, "algo", algo, sizeof(algo) - 1) < 0)
		return fail(
		    c, 400,
		    "Invalid artifact: no algo property in the '%s' hash node of image '%s'", name,
		    image);
	md = hash_md(algo, &crc);
	if (!md && !crc) {
		c->res->unsupported = strcmp(algo, "crc16-ccitt") == 0;
		return fail(c, 400,
			    "Invalid artifact: hash algorithm %.60s of image '%s' is not "
			    "supported",
			    algo, image);
	}
	snprintf(key, sizeof(key), "hash %s %s", image, algo);
	if ((e = cache_find(c, key)) != NULL) {
		memcpy(v, e->val, e->len);
		vlen = (unsigned)e->len;
	} else if (crc) {
		uint32_t x;

		if (fe_crc32(c->fit, data, size, &x) < 0)
			return fail(c, 500, "Signing error");
		v[0] = (unsigned char)(x >> 24), v[1] = (unsigned char)(x >> 16);
		v[2] = (unsigned char)(x >> 8), v[3] = (unsigned char)x;
		vlen = 4;
	} else {
		size_t r[2] = {data, size};

		if (digest(c, md, r, 1, v, &vlen) < 0)
			return -1;
	}
	if (!e)
		cache_put(c, key, v, vlen);
	if ((rc = fe_setprop(c->fit, node, "value", v, (int)vlen)) != 0)
		return fdt_fail(c, rc, "a hash value");
	c->res->nhashes++;
	return 0;
}

struct siginfo {
	char node[NAME_LEN];
	char hint[NAME_LEN];
	char algo[64]; /* "sha256,rsa2048" */
	const EVP_MD *md;
	int pss;             /* padding = "pss" */
	const char *require; /* "image", "conf" or NULL */
};

/* fit_image_setup_sig: the algorithm (-o or the node's), the checksum and
 * crypto algorithms U-Boot knows, the padding. */
static int
setup_sig(struct ctx *c, int node, const char *where, struct siginfo *si)
{
	static const char *const sums[] = {"sha1", "sha256", "sha384", "sha512"};
	static const char *const cryptos[] = {"rsa2048", "rsa3072", "rsa4096"};
	const char *comma;
	char padding[32];
	int ok = 0;

	fe_get_name(c->fit, node, si->node, sizeof(si->node));
	if (c->o->algo)
		snprintf(si->algo, sizeof(si->algo), "%s", c->o->algo);
	else if (fe_getprop_copy(c->fit, node, "algo", si->algo, sizeof(si->algo) - 1) < 0)
		return fail(c, 400,
			    "Invalid artifact: no algo property in the '%s' signature node of %s",
			    si->node, where);
	si->hint[0] = '\0';
	if (fe_getprop_copy(c->fit, node, "key-name-hint", si->hint, sizeof(si->hint) - 1) < 0)
		si->hint[0] = '\0';
	si->md = NULL;
	for (size_t i = 0; i < 4 && !si->md; i++)
		if (strncmp(sums[i], si->algo, strlen(sums[i])) == 0 &&
		    si->algo[strlen(sums[i])] == ',')
			si->md = EVP_get_digestbyname(sums[i]);
	comma = strchr(si->algo, ',');
	for (size_t i = 0; comma && i < 3; i++)
		ok |= strcmp(comma + 1, cryptos[i]) == 0;
	if (!si->md || !ok) {
		c->res->unsupported = si->md && comma && strncmp(comma + 1, "ecdsa", 5) == 0;
		return fail(c, 400,
			    "Invalid parameters: signature algorithm %.60s of the '%s' signature "
			    "node of %s is not supported (sha1, sha256, sha384 or sha512 with "
			    "rsa2048, rsa3072 or rsa4096)",
			    si->algo, si->node, where);
	}
	/* image_get_padding_algo: an unknown name is PKCS#1 v1.5 */
	si->pss = fe_getprop_copy(c->fit, node, "padding", padding, sizeof(padding) - 1) >= 0 &&
		  strcmp(padding, "pss") == 0;
	return 0;
}

/* The signature of a digest, asked once per digest and key. */
static int
sign(struct ctx *c, const struct siginfo *si, const unsigned char *d, unsigned dlen,
     unsigned char *sig, size_t *siglen)
{
	char key[2 * PATH_LEN], hex[2 * EVP_MAX_MD_SIZE + 1];
	struct cached *e;
	int st;

	for (unsigned i = 0; i < dlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	snprintf(key, sizeof(key), "sig %s %d %s", si->hint, si->pss, hex);
	if ((e = cache_find(c, key)) != NULL) {
		memcpy(sig, e->val, e->len);
		*siglen = e->len;
		return 0;
	}
	*siglen = SIG_MAX;
	st = c->k->sign(c->k->arg, si->hint, si->pss, si->md, d, dlen, sig, siglen, c->err,
			c->errlen);
	if (st != 0) {
		c->status = st;
		return -1;
	}
	cache_put(c, key, sig, *siglen);
	return 0;
}

/* fit_image_write_sig */
static int
write_sig(struct ctx *c, int node, const unsigned char *sig, size_t siglen, const char *nodes,
	  size_t nodeslen)
{
	uint32_t strings = c->fit->h.size_strings;
	unsigned char t[4], hs[8] = {0};
	int rc = fe_setprop(c->fit, node, "value", sig, (int)siglen);

	if (!rc)
		rc = fe_setprop_string(c->fit, node, "signer-name", "mkimage");
	if (!rc)
		rc = fe_setprop_string(c->fit, node, "signer-version", SIGNER_VERSION);
	if (c->o->comment && !rc)
		rc = fe_setprop_string(c->fit, node, "comment", c->o->comment);
	if (!rc) {
		t[0] = (unsigned char)(c->o->timestamp >> 24),
		t[1] = (unsigned char)(c->o->timestamp >> 16);
		t[2] = (unsigned char)(c->o->timestamp >> 8), t[3] = (unsigned char)c->o->timestamp;
		rc = fe_setprop(c->fit, node, "timestamp", t, 4);
	}
	if (nodes && !rc) {
		rc = fe_setprop(c->fit, node, "hashed-nodes", nodes, (int)nodeslen);
		hs[4] = (unsigned char)(strings >> 24), hs[5] = (unsigned char)(strings >> 16);
		hs[6] = (unsigned char)(strings >> 8), hs[7] = (unsigned char)strings;
		if (!rc)
			rc = fe_setprop(c->fit, node, "hashed-strings", hs, 8);
	}
	if (c->o->algo && !rc)
		rc = fe_setprop_string(c->fit, node, "algo", c->o->algo);
	return rc ? fdt_fail(c, rc, "a signature") : 0;
}

/* A BIGNUM as fdt_add_bignum writes it: bits/32 big-endian words. */
static int
set_bignum(struct fe_blob *b, int node, const char *name, const BIGNUM *n, int bits)
{
	size_t len = (size_t)(bits / 32) * 4;
	unsigned char *buf = xcalloc(1, len ? len : 1);
	int rc;

	if (BN_bn2binpad(n, buf, (int)len) < 0) { /* keeps the low words, as U-Boot */
		BIGNUM *t = BN_dup(n);

		BN_mask_bits(t, (int)len * 8);
		BN_bn2binpad(t, buf, (int)len);
		BN_free(t);
	}
	rc = fe_setprop(b, node, name, buf, (int)len);
	free(buf);
	return rc;
}

struct rsaparams {
	BIGNUM *n, *rr;
	uint64_t e;
	uint32_t n0inv;
	int bits;
};

/* rsa_get_params: the exponent, -1/n mod 2^32, R^2 mod n with R = 2^bits */
static int
rsa_params(EVP_PKEY *pub, struct rsaparams *p)
{
	BIGNUM *e = NULL, *w = BN_new(), *inv = BN_new(), *r = BN_new();
	BN_CTX *bc = BN_CTX_new();
	int ok = 0;

	p->n = NULL;
	p->rr = BN_new();
	if (EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_N, &p->n) == 1 &&
	    EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_E, &e) == 1 && w && inv && r && bc &&
	    p->rr && BN_num_bits(e) <= 64 && BN_set_word(w, 1) && BN_lshift(w, w, 32) &&
	    BN_mod_inverse(inv, p->n, w, bc) && BN_sub(inv, w, inv)) {
		unsigned char eb[8] = {0};

		BN_bn2binpad(e, eb, 8);
		p->e = 0;
		for (int i = 0; i < 8; i++)
			p->e = p->e << 8 | eb[i];
		p->n0inv = (uint32_t)BN_get_word(inv);
		p->bits = BN_num_bits(p->n);
		ok = BN_set_word(r, 1) && BN_lshift(r, r, p->bits) && BN_mul(w, r, r, bc) &&
		     BN_mod(p->rr, w, p->n, bc);
	}
	BN_free(e);
	BN_free(w);
	BN_free(inv);
	BN_free(r);
	BN_CTX_free(bc);
	if (!ok) {
		BN_free(p->n);
		BN_free(p->rr);
	}
	return ok ? 0 : -1;
}

/* The key node's properties, in rsa_add_verify_data's order. */
static int
key_props(struct ctx *c, int node, const struct siginfo *si, const struct rsaparams *p)
{
	unsigned char x[8];
	int rc = fe_setprop_string(c->dtb, node, "key-name-hint", si->hint);

	if (!rc)
		rc = fe_setprop_u32(c->dtb, node, "rsa,num-bits", (uint32_t)p->bits);
	if (!rc)
		rc = fe_setprop_u32(c->dtb, node, "rsa,n0-inverse", p->n0inv);
	for (int i = 0; i < 8; i++)
		x[i] = (unsigned char)(p->e >> (56 - 8 * i));
	if (!rc)
		rc = fe_setprop(c->dtb, node, "rsa,exponent", x, 8);
	if (!rc)
		rc = set_bignum(c->dtb, node, "rsa,modulus", p->n, p->bits);
	if (!rc)
		rc = set_bignum(c->dtb, node, "rsa,r-squared", p->rr, p->bits);
	if (!rc)
		rc = fe_setprop_string(c->dtb, node, "algo", si->algo);
	if (!rc && si->require)
		rc = fe_setprop_string(c->dtb, node, "required", si->require);
	return rc;
}

/* rsa_add_verify_data: /signature/key-<hint> in the dtb. */
static int
add_verify(struct ctx *c, const struct siginfo *si)
{
	struct rsaparams p;
	EVP_PKEY *pub = NULL;
	char name[NAME_LEN + 8];
	int parent, node, rc = 0, st;

	if (si->hint[0] == '\0') /* mkimage would name the node key-(null) */
		return fail(c, 400,
			    "Invalid artifact: the '%s' signature node has no "
			    "key-name-hint to name the dtb's key node by",
			    si->node);
	if ((st = c->k->public_key(c->k->arg, si->hint, &pub, c->err, c->errlen)) != 0) {
		c->status = st;
		return -1;
	}
	if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA || rsa_params(pub, &p) < 0) {
		EVP_PKEY_free(pub);
		return fail(c, 400, "Invalid parameters: the key for '%s' is not an RSA key",
			    si->hint);
	}
	EVP_PKEY_free(pub);
	if ((parent = fe_subnode(c->dtb, 0, "signature")) == FE_ERR_NOTFOUND)
		parent = fe_add_subnode(c->dtb, 0, "signature");
	if (parent < 0)
		rc = parent;
	snprintf(name, sizeof(name), "key-%s", si->hint);
	if (!rc && (node = fe_subnode(c->dtb, parent, name)) == FE_ERR_NOTFOUND)
		node = fe_add_subnode(c->dtb, parent, name);
	if (!rc && node < 0)
		rc = node;
	if (!rc)
		rc = key_props(c, node, si, &p);
	BN_free(p.n);
	BN_free(p.rr);
	if (rc == FE_ERR_NOSPACE)
		return RETRY;
	return rc ? fail(c, 400,
			 "Invalid parameters: cannot write the key into the dtb "
			 "(device tree error %d)",
			 rc)
		  : 0;
}

/* fit_image_process_sig */
static int
image_sig(struct ctx *c, const char *image, int node, size_t data, size_t size)
{
	struct siginfo si = {.require = c->o->require ? "image" : NULL};
	unsigned char d[EVP_MAX_MD_SIZE], sig[SIG_MAX];
	size_t r[2] = {data, size}, siglen;
	unsigned dlen;
	char where[NAME_LEN + 16];
	int rc;

	snprintf(where, sizeof(where), "image '%s'", image);
	if (setup_sig(c, node, where, &si) < 0 || digest(c, si.md, r, 1, d, &dlen) < 0 ||
	    sign(c, &si, d, dlen, sig, &siglen) < 0)
		return -1;
	if ((rc = write_sig(c, node, sig, siglen, NULL, 0)) != 0)
		return rc;
	c->res->nsigned++;
	return c->dtb ? add_verify(c, &si) : 0;
}

/* fit_image_add_verification_data for one image node */
static int
image_verification(struct ctx *c, int image)
{
	char name[NAME_LEN], sub[NAME_LEN];
	int len, at, rc = 0;

	fe_get_name(c->fit, image, name, sizeof(name));
	if ((at = fe_getprop(c->fit, image, "data", &len)) < 0)
		return fail(c, 400, "Invalid artifact: image '%s' has no data", name);
	for (int n = fe_first_subnode(c->fit, image); n >= 0 && rc == 0;
	     n = fe_next_subnode(c->fit, n)) {
		fe_get_name(c->fit, n, sub, sizeof(sub));
		/* offsets move with each edit: the data is looked up again */
		if ((at = fe_getprop(c->fit, image, "data", &len)) < 0)
			return fail(c, 500, "Signing error");
		if (strncmp(sub, "hash", 4) == 0)
			rc = process_hash(c, name, n, (size_t)at, (size_t)len);
		else if (strncmp(sub, "signature", 9) == 0)
			rc = image_sig(c, name, n, (size_t)at, (size_t)len);
	}
	return rc;
}

/* --- configurations ------------------------------------------------------- */

struct strlist {
	char s[NODES_MAX][PATH_LEN];
	size_t n;
};

static int
strlist_add(struct ctx *c, struct strlist *l, const char *s)
{
	if (l->n == NODES_MAX)
		return fail(c, 400, "Invalid artifact: a configuration hashes more than %d nodes",
			    NODES_MAX);
	snprintf(l->s[l->n++], PATH_LEN, "%s", s);
	return 0;
}

/* fit_config_add_hash: the image, its hash nodes, its cipher node. */
static int
add_image_nodes(struct ctx *c, int image, struct strlist *l, const char *iname)
{
	char path[PATH_LEN], sub[NAME_LEN];
	int hashes = 0;

	if (fe_get_path(c->fit, image, path, sizeof(path)) < 0 || strlist_add(c, l, path) < 0)
		return c->status ? -1 : fail(c, 400, "Invalid artifact: an image path is too long");
	for (int n = fe_first_subnode(c->fit, image); n >= 0; n = fe_next_subnode(c->fit, n)) {
		fe_get_name(c->fit, n, sub, sizeof(sub));
		if (strncmp(sub, "hash", 4) != 0)
			continue;
		if (fe_get_path(c->fit, n, path, sizeof(path)) < 0 || strlist_add(c, l, path) < 0)
			return c->status ? -1
					 : fail(c, 400, "Invalid artifact: a path is too long");
		hashes++;
	}
	if (!hashes)
		return fail(c, 400,
			    "Invalid artifact: image '%s' of a signed configuration has no "
			    "hash node",
			    iname);
	return 0;
}

/* The index'th name of the configuration's property prop (a string list). */
static int
list_item(struct ctx *c, int conf, const char *prop, int index, char *out, size_t outlen)
{
	char buf[1024];
	int len = fe_getprop_copy(c->fit, conf, prop, buf, sizeof(buf) - 1), i = 0;

	if (len < 0)
		return -1;
	buf[len] = '\0';
	for (char *p = buf; p < buf + len; p += strlen(p) + 1, i++)
		if (i == index) {
			if (strlen(p) >= outlen)
				return -1;
			memcpy(out, p, strlen(p) + 1);
			return 0;
		}
	return -1;
}

static int
list_count(struct ctx *c, int conf, const char *prop)
{
	char buf[1024];
	int len = fe_getprop_copy(c->fit, conf, prop, buf, sizeof(buf) - 1), n = 0;

	if (len <= 0 || buf[len - 1] != '\0')
		return len == 0 ? 0 : -1;
	for (int i = 0; i < len; i++)
		n += buf[i] == '\0';
	return n;
}

/* fit_config_get_hash_list */
static int
hash_list(struct ctx *c, int conf, int sig, struct strlist *l)
{
	char cname[NAME_LEN], path[PATH_LEN], list[512], iname[NAME_LEN];
	int len, missing_ok, count = 0, images = fe_path(c->fit, "/images");

	fe_get_name(c->fit, conf, cname, sizeof(cname));
	if (snprintf(path, sizeof(path), "/configurations/%s", cname) >= (int)sizeof(path))
		path[sizeof(path) - 1] = '\0'; /* mkimage cuts it there too */
	l->n = 0;
	if (strlist_add(c, l, "/") < 0 || strlist_add(c, l, path) < 0)
		return -1;
	len = fe_getprop_copy(c->fit, sig, "sign-images", list, sizeof(list) - 1);
	if (len == FE_ERR_NOTFOUND) {
		memcpy(list, "kernel\0fdt", 11);
		len = 11;
		missing_ok = 1;
	} else if (len < 0) {
		return fail(c, 400, "Invalid artifact: sign-images of '%s' is too long", cname);
	} else {
		missing_ok = 0;
		if (len == 0)
			return 0;
	}
	list[len] = '\0';
	for (char *p = list; p < list + len; p += strlen(p) + 1) {
		int max = list_count(c, conf, p);

		for (int i = 0; i < max; i++) {
			int image = -1;

			if (list_item(c, conf, p, i, iname, sizeof(iname)) == 0 && images >= 0)
				image = fe_subnode(c->fit, images, iname);
			if (image < 0 && missing_ok)
				continue;
			if (image < 0)
				return fail(c, 400,
					    "Invalid artifact: configuration '%s' names image "
					    "'%.60s', which is not there",
					    cname, iname);
			if (add_image_nodes(c, image, l, p) < 0)
				return -1;
			count++;
		}
	}
	if (!count)
		return fail(c, 400, "Invalid artifact: configuration '%s' signs no image", cname);
	return 0;
}

static int
in_list(const char *s, const char *const *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, l[i]) == 0)
			return 1;
	return 0;
}

/* fdt_find_regions with the strings block added: the regions as absolute
 * (offset, length) pairs in reg (room for max), their count or -1. */
static int
find_regions(struct ctx *c, const struct strlist *l, size_t *reg, size_t max)
{
	static const char *const exc[] = {"data", "data-size", "data-position", "data-offset"};
	const char *inc[NODES_MAX];
	char path[PATH_LEN + NAME_LEN], name[NAME_LEN];
	int stack[FE_DEPTH_MAX + 1], depth = -1, want = 0, next = 0, tag, off;
	long start = -1;
	size_t count = 0, base = c->fit->h.off_struct;
	unsigned char h[8];

	for (size_t i = 0; i < l->n; i++)
		inc[i] = l->s[i];
	path[0] = '\0';
	do {
		int include = 0, stop_at;

		off = next;
		if ((tag = fe_next_tag(c->fit, off, &next)) < 0)
			return -1;
		stop_at = next;
		if (tag == FE_PROP) {
			include = want >= 2;
			stop_at = off;
			if (fe_read(c->fit, base + (size_t)off + 4, h, 8) < 0 ||
			    fe_string(c->fit,
				      (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 |
					  (uint32_t)h[6] << 8 | h[7],
				      name, sizeof(name)) < 0)
				return -1;
			if (in_list(name, exc, 4))
				include = 0;
		} else if (tag == FE_NOP) {
			include = want >= 2;
			stop_at = off;
		} else if (tag == FE_BEGIN_NODE) {
			size_t end = strlen(path);

			if (++depth >= FE_DEPTH_MAX ||
			    fe_get_name(c->fit, off, name, sizeof(name)) < 0)
				return -1;
			if (end + 2 + strlen(name) >= PATH_LEN)
				return -1;
			snprintf(path + end, sizeof(path) - end, "%s%s", end != 1 ? "/" : "", name);
			stack[depth] = want;
			if (want == 1)
				stop_at = off;
			if (in_list(path, inc, l->n))
				want = 2;
			else if (want)
				want--;
			else
				stop_at = off;
			include = want;
		} else if (tag == FE_END_NODE) {
			char *slash;

			if (depth < 0)
				return -1;
			include = want;
			want = stack[depth--];
			slash = strrchr(path, '/');
			if (slash)
				*slash = '\0';
		} else if (tag == FE_END) {
			include = 1;
		}
		if (include && start == -1) {
			if (count &&
			    reg[2 * (count - 1)] + reg[2 * (count - 1) + 1] == base + (size_t)off)
				start = (long)(reg[2 * --count] - base);
			else
				start = off;
		}
		if (!include && start != -1) {
			if (count == max)
				return -1;
			reg[2 * count] = base + (size_t)start;
			reg[2 * count + 1] = (size_t)(stop_at - start);
			count++;
			start = -1;
		}
	} while (tag != FE_END);
	if ((size_t)next != c->fit->h.size_struct || count == max || start < 0)
		return -1;
	reg[2 * count] = base + (size_t)start;
	reg[2 * count + 1] = (size_t)(next - start) + c->fit->h.size_strings;
	return (int)count + 1;
}

/* fit_config_process_sig */
static int
config_sig(struct ctx *c, int conf, int node)
{
	struct siginfo si = {.require = c->o->require ? "conf" : NULL};
	struct strlist *l = xcalloc(1, sizeof(*l));
	size_t reg[2 * 100], siglen, plen = 0;
	unsigned char d[EVP_MAX_MD_SIZE], sig[SIG_MAX];
	char cname[NAME_LEN], where[NAME_LEN + 32], *prop = NULL;
	unsigned dlen;
	int n, rc = -1;

	fe_get_name(c->fit, conf, cname, sizeof(cname));
	snprintf(where, sizeof(where), "configuration '%s'", cname);
	if (hash_list(c, conf, node, l) < 0)
		goto out;
	if ((n = find_regions(c, l, reg, 100)) < 0) {
		fail(c, 400, "Invalid artifact: cannot hash configuration '%s'", cname);
		goto out;
	}
	prop = xmalloc(l->n * PATH_LEN + 1);
	for (size_t i = 0; i < l->n; i++) {
		memcpy(prop + plen, l->s[i], strlen(l->s[i]) + 1);
		plen += strlen(l->s[i]) + 1;
	}
	if (setup_sig(c, node, where, &si) < 0 || digest(c, si.md, reg, (size_t)n, d, &dlen) < 0 ||
	    sign(c, &si, d, dlen, sig, &siglen) < 0)
		goto out;
	if ((rc = write_sig(c, node, sig, siglen, prop, plen)) != 0)
		goto out;
	c->res->nsigned++;
	rc = c->dtb ? add_verify(c, &si) : 0;
out:
	free(l);
	free(prop);
	return rc;
}

/* fit_add_verification_data */
static int
add_verification(struct ctx *c)
{
	char name[NAME_LEN];
	int images = fe_path(c->fit, "/images"), confs, rc = 0;

	if (images < 0)
		return fail(c, 400, "Invalid artifact: the FIT has no /images node");
	for (int n = fe_first_subnode(c->fit, images); n >= 0 && rc == 0;
	     n = fe_next_subnode(c->fit, n))
		rc = image_verification(c, n);
	if (rc != 0)
		return rc;
	if ((confs = fe_path(c->fit, "/configurations")) < 0)
		return fail(c, 400, "Invalid artifact: the FIT has no /configurations node");
	for (int conf = fe_first_subnode(c->fit, confs); conf >= 0 && rc == 0;
	     conf = fe_next_subnode(c->fit, conf))
		for (int n = fe_first_subnode(c->fit, conf); n >= 0 && rc == 0;
		     n = fe_next_subnode(c->fit, n)) {
			fe_get_name(c->fit, n, name, sizeof(name));
			if (strncmp(name, "signature", 9) == 0)
				rc = config_sig(c, conf, n);
		}
	return rc;
}

/* --- mkimage's file handling (tools/fit_image.c) --------------------------- */

/* fdtdec_get_int: the first cell, or -1. */
static long
get_int(const struct fe_blob *b, int node, const char *name)
{
	unsigned char x[4];
	int len, at = fe_getprop(b, node, name, &len);

	if (at < 0 || len < 4 || fe_read(b, (size_t)at, x, 4) < 0)
		return -1;
	return (long)(int32_t)((uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 |
			       x[3]);
}

/* fit_import_data: external data (data-offset) moved back into the tree,
 * the tree packed: what mkimage starts each attempt from. */
static int
import(struct ctx *c, const struct fe_blob *orig, size_t size, struct fe_blob *bak)
{
	size_t base = (orig->h.totalsize + 3) & ~(size_t)3;
	int images, rc;

	fe_clone(bak, orig);
	fe_set_total(bak, orig->h.totalsize);
	fe_grow(bak, size + 16384 - orig->h.totalsize);
	bak->h.version = 17;
	if ((images = fe_path(bak, "/images")) < 0)
		return fail(c, 400, "Invalid artifact: the FIT has no /images node");
	for (int n = fe_first_subnode(bak, images); n >= 0; n = fe_next_subnode(bak, n)) {
		long off = get_int(bak, n, "data-offset"), len = get_int(bak, n, "data-size");
		struct fe_blob src = {.fd = orig->fd, .arena = orig->arena};
		int plen;

		if (off == -1 && fe_getprop(bak, n, "data-position", &plen) >= 0)
			return fail(c, 400,
				    "Invalid artifact: data at an absolute position "
				    "(data-position) is not supported");
		if (off == -1 || len == -1)
			continue;
		if (off < 0 || len < 0 || base + (size_t)off + (size_t)len > size)
			return fail(c, 400, "Invalid artifact: external data outside the file");
		fe_slice(orig, base + (size_t)off, (size_t)len, &src);
		rc = fe_setprop_pieces(bak, n, "data", &src);
		fe_free(&src);
		if (rc != 0)
			return fail(c, 400, "Invalid artifact: cannot import its external data");
	}
	fe_pack(bak);
	fe_set_total(bak, bak->h.totalsize);
	return 0;
}

/* An image with a cipher node would be encrypted by mkimage first. */
static int
refuse_ciphers(struct ctx *c, const struct fe_blob *b)
{
	int images = fe_path(b, "/images");
	char name[NAME_LEN];

	for (int n = fe_first_subnode(b, images); n >= 0; n = fe_next_subnode(b, n))
		if (fe_subnode(b, n, "cipher") >= 0) {
			fe_get_name(b, n, name, sizeof(name));
			return fail(c, 400,
				    "Invalid artifact: image '%s' is to be encrypted (cipher "
				    "node), which is not supported",
				    name);
		}
	return 0;
}

/* mkimage's loop: each attempt from the imported FIT with 1 KiB more
 * room; the dtb keeps what earlier attempts wrote and grows as well. */
static int
attempts(struct ctx *c, const struct fe_blob *bak, struct fe_blob *fit)
{
	int rc = RETRY;

	for (size_t inc = 0; inc < SIZE_INC_MAX && rc == RETRY; inc += SIZE_INC) {
		fe_free(fit);
		fe_clone(fit, bak);
		if (inc) {
			fe_grow(fit, inc);
			if (c->dtb)
				fe_grow(c->dtb, inc);
		}
		c->fit = fit;
		c->res->nsigned = c->res->nhashes = 0;
		c->res->attempts++;
		rc = add_verification(c);
	}
	if (rc == RETRY)
		return fail(c, 400, "Invalid artifact: the signatures do not fit in 64 KiB more");
	return rc;
}

/* fit_extract_data: the data after the tree (-E), as pieces in data. */
static int
extract(struct ctx *c, struct fe_blob *fit, struct fe_blob *data)
{
	int images = fe_path(fit, "/images"), len, at;
	uint32_t ptr = 0;

	for (int n = fe_first_subnode(fit, images); n >= 0; n = fe_next_subnode(fit, n)) {
		if ((at = fe_getprop(fit, n, "data", &len)) < 0)
			continue;
		fe_slice(fit, (size_t)at, (size_t)len, data);
		fe_set_total(data, data->total + (((size_t)len + 3) & ~(size_t)3) - (size_t)len);
		if (fe_delprop(fit, n, "data") != 0)
			return fail(c, 500, "Signing error");
		/* mkimage does not check these two */
		if (c->o->external_offset > 0)
			fe_setprop_u32(fit, n, "data-position", c->o->external_offset + ptr);
		else
			fe_setprop_u32(fit, n, "data-offset", ptr);
		fe_setprop_u32(fit, n, "data-size", (uint32_t)len);
		ptr += ((uint32_t)len + 3) & ~3U;
	}
	fe_pack(fit);
	fe_set_total(fit, (fit->h.totalsize + 3) & ~(size_t)3);
	if (c->o->external_offset > 0 && c->o->external_offset < fit->h.totalsize)
		return fail(c, 400,
			    "Invalid parameters: external_data_offset 0x%x overlaps the FIT "
			    "(0x%x bytes)",
			    c->o->external_offset, fit->h.totalsize);
	return 0;
}

static int
write_all(struct ctx *c, const struct fe_blob *fit, const struct fe_blob *data, int out_fd,
	  int dtb_out_fd)
{
	off_t pos =
	    c->o->external_offset > 0 ? (off_t)c->o->external_offset : (off_t)fit->h.totalsize;

	if (fe_write_out(fit, fit->h.totalsize, out_fd, 0) < 0 ||
	    ftruncate(out_fd, (off_t)fit->h.totalsize) < 0 || fe_write_raw(data, out_fd, pos) < 0 ||
	    (c->dtb && fe_write_out(c->dtb, c->dtb->total, dtb_out_fd, 0) < 0))
		return fail(c, 500, "Signing error");
	return 0;
}

int
fitsign_run(int fit_fd, size_t fit_size, int dtb_fd, size_t dtb_size, const struct fitsign_opts *o,
	    const struct fitsign_key *k, int out_fd, int dtb_out_fd, struct fitsign_result *res,
	    char *err, size_t errlen)
{
	struct fe_arena arena = {0};
	struct fe_blob orig = {0}, bak = {0}, fit = {0}, dtb = {0}, data = {0};
	struct ctx c = {.o = o, .k = k, .res = res, .err = err, .errlen = errlen};
	char why[160];

	memset(res, 0, sizeof(*res));
	c.cache = xcalloc(CACHE_MAX, sizeof(*c.cache));
	if (fe_load(&orig, &arena, fit_fd, fit_size, why, sizeof(why)) < 0)
		fail(&c, 400, "Invalid artifact: %s", why);
	else if (dtb_fd >= 0 && fe_load(&dtb, &arena, dtb_fd, dtb_size, why, sizeof(why)) < 0)
		fail(&c, 400, "Invalid dtb: %s", why);
	else if (dtb_fd >= 0)
		c.dtb = &dtb;
	if (c.status == 0 && import(&c, &orig, fit_size, &bak) == 0 &&
	    refuse_ciphers(&c, &bak) == 0 && attempts(&c, &bak, &fit) == 0) {
		data.fd = fit_fd;
		data.arena = &arena;
		if (res->nsigned == 0)
			fail(&c, 400, "FIT image not signed: it has no signature node");
		else if (extract(&c, &fit, &data) == 0)
			write_all(&c, &fit, &data, out_fd, dtb_out_fd);
	}
	fe_free(&orig);
	fe_free(&bak);
	fe_free(&fit);
	fe_free(&dtb);
	fe_free(&data);
	fe_arena_free(&arena);
	OPENSSL_cleanse(c.cache, CACHE_MAX * sizeof(*c.cache));
	free(c.cache);
	return c.status;
}
