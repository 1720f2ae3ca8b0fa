/* SPDX-License-Identifier: MIT */
/*
 * pkey.c: see pkey.h.  Parsed keys live in OpenSSL's memory; the blobs
 * they came from are cleansed by their owners (keystore.c), and the DER
 * decoded from them here is cleansed before it is freed.
 */
/* RSA and EC_KEY are deprecated in OpenSSL 3: see load_known() for why. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "pkey.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "log.h"
#include "util.h"

/* Sign once with key through the EVP calls the signers use. */
static void
warm_sign(EVP_PKEY *key)
{
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx != NULL && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1)
		(void)EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)"warm", 4);
	EVP_MD_CTX_free(ctx);
}

/* Make a throw-away key, write it as PKCS#8 PEM, read it back through
 * pkey_load_private and sign with it. */
static void
warm_key(EVP_PKEY *made)
{
	BIO *mem = BIO_new(BIO_s_mem());
	EVP_PKEY *key = NULL;
	char *pem;
	long len;

	if (made == NULL || mem == NULL ||
	    !PEM_write_bio_PrivateKey(mem, made, NULL, NULL, 0, NULL, NULL) ||
	    (len = BIO_get_mem_data(mem, &pem)) <= 0 ||
	    (key = pkey_load_private((const unsigned char *)pem, (size_t)len)) == NULL)
		log_warnx("OpenSSL warm-up: a throw-away key did not round-trip");
	else
		warm_sign(key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(made);
	BIO_free(mem); /* a throw-away key: nothing to cleanse */
}

void
pkey_warm_up(void)
{
	static const char *const mds[] = {"SHA256", "SHA384", "SHA512", "SHA1"};

	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG | OPENSSL_INIT_ADD_ALL_CIPHERS |
				    OPENSSL_INIT_ADD_ALL_DIGESTS,
			    NULL);
	for (size_t i = 0; i < sizeof(mds) / sizeof(mds[0]); i++)
		EVP_MD_free(EVP_MD_fetch(NULL, mds[i], NULL));
	/*
	 * The first signature of a process fetches the key management and
	 * signature implementations and sets up the random generators; done
	 * here once, every forked worker inherits them (a fork still reseeds
	 * the generators).  Small keys: only the code paths matter.
	 */
	warm_key(EVP_RSA_gen(1024));
	warm_key(EVP_EC_gen("P-256"));
	ERR_clear_error();
}

/*
 * The common key forms (PKCS#1 RSA, SEC1 EC, PKCS#8 of either) parsed with
 * the ASN.1 templates directly.  OpenSSL 3.0's generic decoder builds a
 * chain of every provider's decoders for each call, which costs more than
 * the signature itself; this path skips that.  NULL: not one of these.
 */
static EVP_PKEY *
load_known(const char *label, const unsigned char *der, long len)
{
	const unsigned char *p = der;
	EVP_PKEY *key = NULL;

	if (strcmp(label, "RSA PRIVATE KEY") == 0) {
		RSA *rsa = d2i_RSAPrivateKey(NULL, &p, len);
		if (rsa && (key = EVP_PKEY_new()) != NULL && EVP_PKEY_assign_RSA(key, rsa) == 1)
			return key;
		RSA_free(rsa);
	} else if (strcmp(label, "EC PRIVATE KEY") == 0) {
		EC_KEY *ec = d2i_ECPrivateKey(NULL, &p, len);
		if (ec && EC_KEY_get0_group(ec) && (key = EVP_PKEY_new()) != NULL &&
		    EVP_PKEY_assign_EC_KEY(key, ec) == 1)
			return key;
		EC_KEY_free(ec);
	} else if (strcmp(label, "PRIVATE KEY") == 0) {
		PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
		const ASN1_OBJECT *oid;
		const X509_ALGOR *alg;
		const unsigned char *inner;
		int innerlen;

		if (p8 == NULL || !PKCS8_pkey_get0(&oid, &inner, &innerlen, &alg, p8)) {
			PKCS8_PRIV_KEY_INFO_free(p8);
			return NULL;
		}
		if (OBJ_obj2nid(oid) == NID_rsaEncryption) {
			RSA *rsa = d2i_RSAPrivateKey(NULL, &inner, innerlen);
			if (rsa && (key = EVP_PKEY_new()) != NULL && EVP_PKEY_assign_RSA(key, rsa) == 1)
				goto done;
			RSA_free(rsa);
		} else if (OBJ_obj2nid(oid) == NID_X9_62_id_ecPublicKey) {
			const ASN1_OBJECT *curve = NULL;
			const void *pval;
			int ptype;
			EC_KEY *ec = NULL;
			EC_GROUP *group = NULL;

			X509_ALGOR_get0(NULL, &ptype, &pval, alg);
			if (ptype == V_ASN1_OBJECT)
				curve = pval;
			if (curve && (group = EC_GROUP_new_by_curve_name(OBJ_obj2nid(curve))) &&
			    (ec = EC_KEY_new()) && EC_KEY_set_group(ec, group) &&
			    d2i_ECPrivateKey(&ec, &inner, innerlen) &&
			    (key = EVP_PKEY_new()) != NULL && EVP_PKEY_assign_EC_KEY(key, ec) == 1) {
				EC_GROUP_free(group);
				goto done;
			}
			EC_GROUP_free(group);
			EC_KEY_free(ec);
		}
		EVP_PKEY_free(key);
		key = NULL;
	done:
		PKCS8_PRIV_KEY_INFO_free(p8);
		return key;
	}
	EVP_PKEY_free(key);
	return NULL;
}

EVP_PKEY *
pkey_load_private(const unsigned char *data, size_t len)
{
	EVP_PKEY *key = NULL;
	char *label = NULL, *header = NULL;
	unsigned char *der = NULL;
	long derlen = 0;
	BIO *bio;

	if (len > INT32_MAX || (bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		return NULL;
	if (PEM_read_bio(bio, &label, &header, &der, &derlen) == 1) {
		/* encrypted PEM (a header) is left to the generic path, which refuses it */
		if (header == NULL || *header == '\0')
			key = load_known(label, der, derlen);
		OPENSSL_clear_free(der, (size_t)derlen);
		OPENSSL_free(label);
		OPENSSL_free(header);
	}
	if (key == NULL) {
		(void)BIO_reset(bio);
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	}
	if (key == NULL) {
		const unsigned char *p = data;
		key = d2i_AutoPrivateKey(NULL, &p, (long)len);
	}
	BIO_free(bio);
	ERR_clear_error();
	return key;
}

X509 *
pkey_load_cert(const unsigned char *data, size_t len)
{
	X509 *cert;
	BIO *bio;

	if (len > INT32_MAX || (bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		return NULL;
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (cert == NULL) {
		const unsigned char *p = data;
		cert = d2i_X509(NULL, &p, (long)len);
	}
	BIO_free(bio);
	ERR_clear_error();
	return cert;
}

int
pkey_fingerprint(const EVP_PKEY *key, char out[65])
{
	unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
	int n = i2d_PUBKEY(key, &der);

	if (n <= 0)
		return -1;
	SHA256(der, (size_t)n, md);
	OPENSSL_free(der);
	util_hex(md, sizeof(md), out);
	return 0;
}

int
pkey_sha256_file(const char *path, char out[65])
{
	unsigned char buf[65536], md[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *ctx;
	int fd, rc = -1;
	ssize_t n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	if ((ctx = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto done;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto done;
		}
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			goto done;
	}
	if (!EVP_DigestFinal_ex(ctx, md, NULL))
		goto done;
	util_hex(md, sizeof(md), out);
	rc = 0;
done:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return rc;
}
