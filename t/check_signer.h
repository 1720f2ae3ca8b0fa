/* SPDX-License-Identifier: MIT */
/*
 * check_signer.h: a struct pkey_signer (lib/pkey.h) standing in for the
 * key process in unit tests: it holds a key of its own and signs with it,
 * or fails the ways a key process can.
 *
 * Use: struct check_signer f = {.key = k}; then a struct pkey_signer with
 * .sign = check_signer_sign and .arg = &f.
 */
#ifndef DSS_CHECK_SIGNER_H
#define DSS_CHECK_SIGNER_H

#include <openssl/evp.h>

#include "pkey.h"

struct check_signer {
	EVP_PKEY *key;
	int mode;                  /* 0 sign, 1 fail with why, 2 a signature one byte short */
	const char *why;           /* mode 1's reason (NULL: "key process: no such key") */
	int calls;                 /* requests seen */
	struct pkey_sign_req last; /* the last of them */
};

/* A pkey_sign_fn; arg is a struct check_signer. */
int check_signer_sign(void *arg, const struct pkey_sign_req *req, unsigned char **sig,
		      size_t *siglen, char *err, size_t errlen);

#endif
