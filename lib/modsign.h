/* SPDX-License-Identifier: MIT */
/*
 * modsign.h: Linux kernel module signatures, made in process the way the
 * kernel's scripts/sign-file does.
 *
 * A signed module is the module's bytes followed by the "trailer": a DER
 * CMS SignedData over those bytes (detached, binary, no certificates, no
 * signed attributes, signer named by issuer and serial number), the
 * 12-byte struct module_signature {algo 0, hash 0, id_type 2 (PKCS#7),
 * signer_len 0, key_id_len 0, pad[3], be32 length of the CMS}, and the
 * marker "~Module signature appended~\n".  Like sign-file, a module that
 * is already signed gets one more signature over all of its bytes.  RSA
 * signatures are deterministic, so the result is byte-identical to
 * sign-file's.
 *
 * The CMS is assembled here; the raw signature in it is asked of a
 * struct pkey_signer (lib/pkey.h): the private key may live in another
 * process.  A loaded key is read-only and may be shared by threads
 * signing different modules at the same time.
 */
#ifndef DSS_MODSIGN_H
#define DSS_MODSIGN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pkey.h"

#define MODSIGN_MARKER "~Module signature appended~\n"
#define MODSIGN_MARKER_LEN (sizeof(MODSIGN_MARKER) - 1)
#define MODSIGN_INFO_LEN 12 /* struct module_signature */
/* The largest module signed, in bytes: the kernel reads no larger module
 * file (kernel_read_file() refuses more than INT_MAX with EFBIG). */
#define MODSIGN_MAX_LEN 2147483647LL

/*
 * Who signs: the certificate (issuer and serial name the signer in the
 * CMS), its public key's fingerprint, and the signer the raw signatures
 * are asked of.  modsign_key_load also holds the private key and signs
 * with it; modsign_cert_load holds none, and its caller points
 * signer.sign and signer.arg at whatever holds the key.
 */
struct modsign_key {
	EVP_PKEY *pkey; /* NULL after modsign_cert_load */
	X509 *cert;
	char fingerprint[65]; /* hex SHA-256 of the public key's DER SubjectPublicKeyInfo */
	struct pkey_signer signer;
};

struct modsign_sig {
	unsigned char *trailer; /* CMS || module_signature || marker */
	size_t len;
	unsigned char sha256[32]; /* of the signed module: content || trailer */
};

/*
 * Parse a private key (PEM or DER: RSA, EC ...) and its certificate (PEM
 * or DER) and check that they belong together; k->signer signs with the
 * key (pkey_sign_with_key).  0, or -1 with a reason (never key material)
 * in err.
 */
int modsign_key_load(struct modsign_key *k, const unsigned char *key, size_t keylen,
		     const unsigned char *cert, size_t certlen, char *err, size_t errlen);
/* Only the certificate (PEM or DER): k->signer.cert is set, its sign and
 * arg are NULL and must be set before signing.  0 or -1 with err. */
int modsign_cert_load(struct modsign_key *k, const unsigned char *cert, size_t certlen, char *err,
		      size_t errlen);
void modsign_key_free(struct modsign_key *k);

/* The digest for a sign-file hash name (sha1, sha224, sha256, sha384,
 * sha512), or NULL. */
const EVP_MD *modsign_md(const char *name);

/*
 * The trailer for len bytes at data; 0 or -1 with err.  The md digest of
 * the data is computed here and s is asked for a raw signature over it
 * (PKCS#1 v1.5 for an RSA certificate, ECDSA for EC; other key types are
 * refused), which must verify with the certificate's public key.  s may
 * be shared by threads when its callback allows that (the local-key one
 * does), its certificate is only read.
 */
int modsign_sign_mem(const struct pkey_signer *s, const EVP_MD *md, const void *data, size_t len,
		     struct modsign_sig *out, char *err, size_t errlen);
/* The trailer for the whole contents of fd (read by mapping it; the file
 * offset is not used); 0 or -1 with err. */
int modsign_sign_fd(const struct pkey_signer *s, const EVP_MD *md, int fd, struct modsign_sig *out,
		    char *err, size_t errlen);
void modsign_sig_free(struct modsign_sig *s);

/* sign-file: write the signed copy of in_path to out_path (created 0644,
 * must not exist); 0 or -1 with err. */
int modsign_file(const struct pkey_signer *s, const EVP_MD *md, const char *in_path,
		 const char *out_path, char *err, size_t errlen);

/*
 * If buf (len bytes) ends with a module signature, set *content_len to the
 * length of what it signs and *cms_off / *cms_len to where its CMS is;
 * return 1.  0 when there is no signature, -1 when the trailer is
 * malformed.
 */
int modsign_find(const unsigned char *buf, size_t len, size_t *content_len, size_t *cms_off,
		 size_t *cms_len);

#endif
