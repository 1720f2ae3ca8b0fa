/*
 * pkey.c: see pkey.h.  Parsed keys live in OpenSSL's memory; the blobs
 * they came from are cleansed by their owners (keystore.c).
 */
#include "pkey.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "log.h"
#include "util.h"

/* A throw-away P-256 key, parsed once to load the decoders. */
static const char warm_up_key[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgiZNvlUBhiCvB6c+0\n"
	"VEq5nzVKT0JMhe2SOVsrydAGNiyhRANCAAQPnmaOkML4EcVEmKO5MDAlF1xZumJR\n"
	"NPMt+Bbafl/DGR4bool0Tvlx6BlxSFjkcOx7WTrJA78u6yrLQ5kFEY1q\n"
	"-----END PRIVATE KEY-----\n";

void
pkey_warm_up(void)
{
	static const char *const mds[] = {"SHA256", "SHA384", "SHA512", "SHA1"};
	EVP_PKEY *key;

	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG | OPENSSL_INIT_ADD_ALL_CIPHERS |
				    OPENSSL_INIT_ADD_ALL_DIGESTS,
			    NULL);
	for (size_t i = 0; i < sizeof(mds) / sizeof(mds[0]); i++)
		EVP_MD_free(EVP_MD_fetch(NULL, mds[i], NULL));
	key = pkey_load_private((const unsigned char *)warm_up_key, sizeof(warm_up_key) - 1);
	if (key == NULL)
		log_warnx("OpenSSL warm-up key did not parse");
	EVP_PKEY_free(key);
	ERR_clear_error();
}

EVP_PKEY *
pkey_load_private(const unsigned char *data, size_t len)
{
	EVP_PKEY *key = NULL;
	BIO *bio;

	if (len > INT32_MAX || (bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		return NULL;
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
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
