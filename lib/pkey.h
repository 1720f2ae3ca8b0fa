/* SPDX-License-Identifier: MIT */
/*
 * pkey.h: turning key-store blobs into OpenSSL objects, and naming keys
 * by fingerprint for the audit trail.
 */
#ifndef DSS_PKEY_H
#define DSS_PKEY_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Initialise OpenSSL and fill its algorithm and decoder caches, once, in
 * the supervisor: forked workers then start with them ready. */
void pkey_warm_up(void);
/* A private key from PEM (PKCS#1, SEC1 or PKCS#8, unencrypted) or DER;
 * NULL if it does not parse. */
EVP_PKEY *pkey_load_private(const unsigned char *data, size_t len);
/* A certificate from PEM or DER; NULL if it does not parse. */
X509 *pkey_load_cert(const unsigned char *data, size_t len);
/* Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo (65 bytes); 0 or -1. */
int pkey_fingerprint(const EVP_PKEY *key, char out[65]);
/* Lower-case hex SHA-256 of a file's contents; 0 or -1 (errno). */
int pkey_sha256_file(const char *path, char out[65]);

#endif
