/* SPDX-License-Identifier: MIT */
/*
 * modsign.c: see modsign.h.  The CMS is built with the same OpenSSL calls
 * and flags as sign-file (CMS_sign with CMS_PARTIAL, CMS_add1_signer
 * without signed attributes or S/MIME capabilities), so that the DER
 * comes out the same; but where sign-file's CMS_final digests the content
 * and signs with the private key, this digests the content itself, asks
 * the signer for the raw signature and puts it in the SignerInfo.  The
 * SignerInfo is given the certificate's public key, which is all
 * CMS_add1_signer needs to fill in the algorithms.  Every call works on
 * objects of its own: the key and certificate are only read.
 */
#include "modsign.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include "pkey.h"
#include "util.h"

#define PKEY_ID_PKCS7 2

int
modsign_key_load(struct modsign_key *k, const unsigned char *key, size_t keylen,
		 const unsigned char *cert, size_t certlen, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	if ((k->pkey = pkey_load_private(key, keylen)) == NULL) {
		snprintf(err, errlen, "the private key does not parse");
		return -1;
	}
	if ((k->cert = pkey_load_cert(cert, certlen)) == NULL) {
		snprintf(err, errlen, "the certificate does not parse");
		goto fail;
	}
	if (X509_check_private_key(k->cert, k->pkey) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "the certificate does not match the private key");
		goto fail;
	}
	if (pkey_fingerprint(k->pkey, k->fingerprint) < 0) {
		pkey_ossl_fail(err, errlen, "key fingerprint");
		goto fail;
	}
	/* compute the certificate's cached extensions now, while only one
	 * thread uses it */
	X509_check_purpose(k->cert, -1, 0);
	k->signer =
	    (struct pkey_signer){.cert = k->cert, .sign = pkey_sign_with_key, .arg = k->pkey};
	return 0;
fail:
	modsign_key_free(k);
	return -1;
}

int
modsign_cert_load(struct modsign_key *k, const unsigned char *cert, size_t certlen, char *err,
		  size_t errlen)
{
	EVP_PKEY *pub;

	memset(k, 0, sizeof(*k));
	if ((k->cert = pkey_load_cert(cert, certlen)) == NULL) {
		snprintf(err, errlen, "the certificate does not parse");
		return -1;
	}
	if ((pub = X509_get0_pubkey(k->cert)) == NULL ||
	    pkey_fingerprint(pub, k->fingerprint) < 0) {
		pkey_ossl_fail(err, errlen, "the certificate's public key");
		modsign_key_free(k);
		return -1;
	}
	X509_check_purpose(k->cert, -1, 0); /* as in modsign_key_load */
	k->signer.cert = k->cert;
	return 0;
}

void
modsign_key_free(struct modsign_key *k)
{
	EVP_PKEY_free(k->pkey); /* clears the private components */
	X509_free(k->cert);
	memset(k, 0, sizeof(*k));
}

const EVP_MD *
modsign_md(const char *name)
{
	static const char *const known[] = {"sha1", "sha224", "sha256", "sha384", "sha512"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(name, known[i]) == 0)
			return EVP_get_digestbyname(name);
	return NULL;
}

/*
 * The DER CMS SignedData sign-file makes over content whose md digest is
 * dg, with the raw signature asked of s, into *der (OPENSSL_free) and
 * *derlen; 0 or -1 with err.
 */
static int
build_cms(const struct pkey_signer *s, const EVP_MD *md, const unsigned char *dg, size_t dlen,
	  unsigned char **der, int *derlen, char *err, size_t errlen)
{
	const unsigned int flags = CMS_NOCERTS | CMS_BINARY;
	struct pkey_sign_req req = {.md = md, .data = dg, .len = dlen};
	EVP_PKEY *pub = s->cert ? X509_get0_pubkey(s->cert) : NULL;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int rc = -1;

	/* the kernel verifies RSA and ECDSA module signatures */
	if (pub == NULL || pkey_default_scheme(pub, &req.scheme) < 0 || req.scheme == SIG_ED25519) {
		snprintf(err, errlen, "the certificate's key is not an RSA or EC key");
		return -1;
	}
	cms = CMS_sign(NULL, NULL, NULL, NULL, flags | CMS_PARTIAL | CMS_DETACHED | CMS_STREAM);
	if (cms == NULL) {
		pkey_ossl_fail(err, errlen, "CMS_sign");
		goto done;
	}
	si = CMS_add1_signer(cms, s->cert, pub, md, flags | CMS_NOSMIMECAP | CMS_NOATTR);
	if (si == NULL) {
		pkey_ossl_fail(err, errlen, "CMS_add1_signer");
		goto done;
	}
	if (pkey_signer_sign(s, pub, &req, &sig, &siglen, err, errlen) < 0)
		goto done;
	if (siglen > INT_MAX ||
	    ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)siglen) != 1) {
		pkey_ossl_fail(err, errlen, "ASN1_STRING_set");
		goto done;
	}
	if ((*derlen = i2d_CMS_ContentInfo(cms, der)) <= 0) {
		pkey_ossl_fail(err, errlen, "i2d_CMS_ContentInfo");
		goto done;
	}
	rc = 0;
done:
	free(sig);
	CMS_ContentInfo_free(cms);
	return rc;
}

int
modsign_sign_mem(const struct pkey_signer *s, const EVP_MD *md, const void *data, size_t len,
		 struct modsign_sig *out, char *err, size_t errlen)
{
	unsigned char info[MODSIGN_INFO_LEN], *der = NULL, dg[EVP_MAX_MD_SIZE];
	unsigned int dlen;
	EVP_MD_CTX *hctx = NULL;
	int n, rc = -1;

	memset(out, 0, sizeof(*out));
	if ((unsigned long long)len > MODSIGN_MAX_LEN) {
		snprintf(err, errlen, "module too large (%zu bytes)", len);
		return -1;
	}
	if (EVP_Digest(len ? data : "", len, dg, &dlen, md, NULL) != 1) {
		pkey_ossl_fail(err, errlen, "digest");
		return -1;
	}
	if (build_cms(s, md, dg, dlen, &der, &n, err, errlen) < 0)
		return -1;
	memset(info, 0, sizeof(info));
	info[2] = PKEY_ID_PKCS7;
	info[8] = (unsigned char)((unsigned)n >> 24);
	info[9] = (unsigned char)((unsigned)n >> 16);
	info[10] = (unsigned char)((unsigned)n >> 8);
	info[11] = (unsigned char)n;
	out->len = (size_t)n + sizeof(info) + MODSIGN_MARKER_LEN;
	out->trailer = xmalloc(out->len);
	memcpy(out->trailer, der, (size_t)n);
	memcpy(out->trailer + n, info, sizeof(info));
	memcpy(out->trailer + n + sizeof(info), MODSIGN_MARKER, MODSIGN_MARKER_LEN);

	/* the audit trail names each signed module by its SHA-256 */
	if ((hctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(hctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(hctx, data, len) != 1 ||
	    EVP_DigestUpdate(hctx, out->trailer, out->len) != 1 ||
	    EVP_DigestFinal_ex(hctx, out->sha256, NULL) != 1) {
		pkey_ossl_fail(err, errlen, "sha256");
		modsign_sig_free(out);
		goto done;
	}
	rc = 0;
done:
	EVP_MD_CTX_free(hctx);
	OPENSSL_free(der);
	return rc;
}

int
modsign_sign_fd(const struct pkey_signer *s, const EVP_MD *md, int fd, struct modsign_sig *out,
		char *err, size_t errlen)
{
	struct stat sb;
	void *map;
	int rc;

	if (fstat(fd, &sb) < 0) {
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		return -1;
	}
	if (sb.st_size == 0)
		return modsign_sign_mem(s, md, "", 0, out, err, errlen);
	if ((uint64_t)sb.st_size > MODSIGN_MAX_LEN) {
		snprintf(err, errlen, "module too large (%lld bytes)", (long long)sb.st_size);
		return -1;
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "mmap: %s", strerror(errno));
		return -1;
	}
	(void)madvise(map, (size_t)sb.st_size, MADV_SEQUENTIAL);
	rc = modsign_sign_mem(s, md, map, (size_t)sb.st_size, out, err, errlen);
	munmap(map, (size_t)sb.st_size);
	return rc;
}

void
modsign_sig_free(struct modsign_sig *s)
{
	free(s->trailer);
	memset(s, 0, sizeof(*s));
}

int
modsign_file(const struct pkey_signer *s, const EVP_MD *md, const char *in_path,
	     const char *out_path, char *err, size_t errlen)
{
	struct modsign_sig sig;
	struct stat sb;
	void *map = NULL;
	int in, out = -1, rc = -1;

	if ((in = open(in_path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in, &sb) < 0) {
		snprintf(err, errlen, "%s: %s", in_path, strerror(errno));
		if (in >= 0)
			close(in);
		return -1;
	}
	if (modsign_sign_fd(s, md, in, &sig, err, errlen) < 0) {
		close(in);
		return -1;
	}
	if (sb.st_size > 0 &&
	    (map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, in, 0)) == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap: %s", in_path, strerror(errno));
		map = NULL;
		goto done;
	}
	if ((out = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 ||
	    (map && util_write_all(out, map, (size_t)sb.st_size) < 0) ||
	    util_write_all(out, sig.trailer, sig.len) < 0) {
		snprintf(err, errlen, "%s: %s", out_path, strerror(errno));
		goto done;
	}
	if (close(out) < 0) {
		out = -1;
		snprintf(err, errlen, "%s: %s", out_path, strerror(errno));
		goto done;
	}
	out = -1;
	rc = 0;
done:
	if (out >= 0)
		close(out);
	if (map != NULL)
		munmap(map, (size_t)sb.st_size);
	close(in);
	modsign_sig_free(&sig);
	return rc;
}

int
modsign_find(const unsigned char *buf, size_t len, size_t *content_len, size_t *cms_off,
	     size_t *cms_len)
{
	const unsigned char *info;
	size_t siglen;

	if (len < MODSIGN_MARKER_LEN ||
	    memcmp(buf + len - MODSIGN_MARKER_LEN, MODSIGN_MARKER, MODSIGN_MARKER_LEN) != 0)
		return 0;
	if (len < MODSIGN_MARKER_LEN + MODSIGN_INFO_LEN)
		return -1;
	info = buf + len - MODSIGN_MARKER_LEN - MODSIGN_INFO_LEN;
	siglen = (size_t)info[8] << 24 | (size_t)info[9] << 16 | (size_t)info[10] << 8 | info[11];
	if (info[2] != PKEY_ID_PKCS7 || siglen == 0 ||
	    siglen > len - MODSIGN_MARKER_LEN - MODSIGN_INFO_LEN)
		return -1;
	*cms_len = siglen;
	*cms_off = len - MODSIGN_MARKER_LEN - MODSIGN_INFO_LEN - siglen;
	*content_len = *cms_off;
	return 1;
}
