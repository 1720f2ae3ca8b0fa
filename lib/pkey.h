/* SPDX-License-Identifier: MIT */
/*
 * pkey.h: turning key-store blobs into OpenSSL objects, naming keys by
 * fingerprint for the audit trail, and the raw signature: made with a
 * local key (pkey_sign_digest), or asked of whoever holds the key through
 * a callback (struct pkey_signer), so that the code that assembles a
 * signature format (lib/modsign.c, lib/cmssign.c) never needs the
 * private key itself.
 */
#ifndef DSS_PKEY_H
#define DSS_PKEY_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Initialise OpenSSL and fill its algorithm and decoder caches, once, in
 * the supervisor: forked workers then start with them ready. */
void pkey_warm_up(void);
/*
 * SHA-256 fetched from the default provider once (by pkey_warm_up in the
 * supervisor, so every worker inherits it): EVP_sha256() makes each
 * digest look the implementation up in the provider store under its lock,
 * which costs a fresh worker more code and more written pages than the
 * hashing of a small upload.  EVP_sha256() if the fetch fails.
 */
const EVP_MD *pkey_sha256(void);
/* A private key from PEM (PKCS#1, SEC1 or PKCS#8, unencrypted) or DER;
 * NULL if it does not parse. */
EVP_PKEY *pkey_load_private(const unsigned char *data, size_t len);
/* A certificate from PEM or DER; NULL if it does not parse. */
X509 *pkey_load_cert(const unsigned char *data, size_t len);
/* Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo (65 bytes); 0 or -1. */
int pkey_fingerprint(const EVP_PKEY *key, char out[65]);
/* Lower-case hex SHA-256 of a file's contents; 0 or -1 (errno). */
int pkey_sha256_file(const char *path, char out[65]);
/* The same for what is left to read of fd. */
int pkey_sha256_fd(int fd, char out[65]);

/* The raw signature schemes. */
enum sig_scheme {
	SIG_RSA_PKCS1, /* RSASSA-PKCS1-v1_5 over DigestInfo(md, digest) */
	SIG_RSA_PSS,   /* RSASSA-PSS, MGF1 with md, salt length saltlen */
	SIG_ECDSA,     /* ECDSA over the digest; DER Ecdsa-Sig-Value */
	SIG_ED25519,   /* pure Ed25519 (RFC 8032): signs the message itself */
};

/*
 * Sign with the private key k, as `openssl pkeyutl -sign` with the
 * scheme's options would:
 *   dg, dlen  the md digest of the message (dlen must be md's size); for
 *             SIG_ED25519 the whole message instead, and md must be NULL:
 *             pure Ed25519 hashes inside the signature and has no
 *             pre-hashed form that gives the same signature
 *   saltlen   SIG_RSA_PSS only: bytes, or one of OpenSSL's special
 *             values (RSA_PSS_SALTLEN_DIGEST, -1: the digest's length);
 *             ignored by the other schemes
 * The scheme must fit the key: SIG_RSA_PKCS1 an RSA key, SIG_RSA_PSS an
 * RSA or RSA-PSS key, SIG_ECDSA an EC key, SIG_ED25519 an Ed25519 key.
 * *sig is malloc'd (the caller frees it).  0, or -1 when the key does not
 * fit, dlen is wrong or OpenSSL fails: OpenSSL's error queue says which.
 * k is only read, so threads may share it.  PKCS#1 v1.5 and Ed25519 are
 * deterministic: the same input gives the same bytes.
 */
int pkey_sign_digest(EVP_PKEY *k, enum sig_scheme scheme, int saltlen, const EVP_MD *md,
		     const unsigned char *dg, size_t dlen, unsigned char **sig, size_t *siglen);
/* Check sig with the public (or private) key k, the arguments as for
 * pkey_sign_digest: 1 when it verifies, 0 when not (queue cleared). */
int pkey_verify_digest(EVP_PKEY *k, enum sig_scheme scheme, int saltlen, const EVP_MD *md,
		       const unsigned char *dg, size_t dlen, const unsigned char *sig,
		       size_t siglen);
/* The scheme a signature format uses with key k when it has no choice of
 * its own (CMS, module signatures): PKCS#1 v1.5 for RSA, ECDSA for EC,
 * Ed25519 for Ed25519; 0, or -1 for any other key type. */
int pkey_default_scheme(const EVP_PKEY *k, enum sig_scheme *scheme);
/* "RSA PKCS#1 v1.5", "RSA-PSS", "ECDSA", "Ed25519". */
const char *pkey_scheme_name(enum sig_scheme scheme);

/* One raw signature, as a signature format asks for it: the arguments of
 * pkey_sign_digest but the key. */
struct pkey_sign_req {
	enum sig_scheme scheme;
	int saltlen;               /* SIG_RSA_PSS only */
	const EVP_MD *md;          /* NULL for SIG_ED25519 */
	const unsigned char *data; /* the digest (the message for SIG_ED25519) */
	size_t len;
};

/*
 * Make the raw signature req asks for into *sig (malloc'd; the caller
 * frees it); 0, or -1 with a one-line reason (never key material) in err.
 * Where the key is, is the callback's business.
 */
typedef int (*pkey_sign_fn)(void *arg, const struct pkey_sign_req *req, unsigned char **sig,
			    size_t *siglen, char *err, size_t errlen);

/* A signer: the callback that signs, its argument, and the certificate
 * that names the signer (NULL where the format names none). */
struct pkey_signer {
	X509 *cert;
	pkey_sign_fn sign;
	void *arg;
};

/* A pkey_sign_fn signing with a local private key: arg is the EVP_PKEY. */
int pkey_sign_with_key(void *arg, const struct pkey_sign_req *req, unsigned char **sig,
		       size_t *siglen, char *err, size_t errlen);
/*
 * Ask s for the signature req describes, and when pub is not NULL refuse
 * one that is not the size pub's key makes or that does not verify with
 * pub: a signer with the wrong key or a broken transport gives an error,
 * never a bad signature.  0, or -1 with err (and *sig NULL).
 */
int pkey_signer_sign(const struct pkey_signer *s, EVP_PKEY *pub, const struct pkey_sign_req *req,
		     unsigned char **sig, size_t *siglen, char *err, size_t errlen);

/* Put "what: <the first OpenSSL error>" (or what alone) into err and
 * clear OpenSSL's error queue; returns -1 (for "return pkey_ossl_fail"). */
int pkey_ossl_fail(char *err, size_t errlen, const char *what);

#endif
