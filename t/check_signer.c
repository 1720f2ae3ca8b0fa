/* SPDX-License-Identifier: MIT */
/*
 * check_signer.c: see check_signer.h.  In t/libcheckmain.a, an object of
 * its own, so that only the programs that use it link lib/pkey.c for it.
 */
#include "check_signer.h"

#include <stdio.h>

int
check_signer_sign(void *arg, const struct pkey_sign_req *req, unsigned char **sig, size_t *siglen,
		  char *err, size_t errlen)
{
	struct check_signer *f = arg;

	f->calls++;
	f->last = *req;
	if (f->mode == 1) {
		snprintf(err, errlen, "%s", f->why != NULL ? f->why : "key process: no such key");
		return -1;
	}
	if (pkey_sign_digest(f->key, req->scheme, req->saltlen, req->md, req->data, req->len, sig,
			     siglen) < 0) {
		snprintf(err, errlen, "pkey_sign_digest failed");
		return -1;
	}
	if (f->mode == 2)
		(*siglen)--;
	return 0;
}
