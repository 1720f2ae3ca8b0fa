/* SPDX-License-Identifier: MIT */
/*
 * cmssign.h: a detached CMS SignedData with signed attributes, as
 * `openssl cms -sign -binary -nosmimecap -outform DER` makes it (or,
 * with CMSSIGN_SMIMECAP, without -nosmimecap), built
 * from the content's digest and a struct pkey_signer (lib/pkey.h): the
 * private key may live in another process.
 *
 * The SignedData holds the signer certificate, names the signer by issuer
 * and serial number, and signs the DER of three signed attributes:
 * contentType (id-data), messageDigest (the content's digest) and
 * signingTime.  The signature is PKCS#1 v1.5 for an RSA certificate and
 * ECDSA for an EC one; RSA signatures are deterministic, so with the same
 * signing time the bytes are openssl's.
 */
#ifndef DSS_CMSSIGN_H
#define DSS_CMSSIGN_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

#include "pkey.h"

/*
 * The SignedData over content whose md digest is dg (dlen bytes), signed
 * at signing_time (seconds since the epoch; callers give time(NULL)),
 * into *der (malloc'd; the caller frees it) and *derlen.  s->cert must be
 * set and s is asked for exactly one raw signature, which must verify
 * with the certificate's public key.  0, or -1 with a one-line reason in
 * err.
 */
int cmssign_detached(const struct pkey_signer *s, const EVP_MD *md, const unsigned char *dg,
		     size_t dlen, time_t signing_time, unsigned char **der, size_t *derlen,
		     char *err, size_t errlen);

/* What cmssign_detached_opts adds to cmssign_detached's SignedData. */
#define CMSSIGN_SMIMECAP 1u /* the S/MIME capabilities attribute, as `openssl cms
			     * -sign` puts it in without -nosmimecap */

/* cmssign_detached with opts, an OR of CMSSIGN_* (0: the same bytes). */
int cmssign_detached_opts(const struct pkey_signer *s, const EVP_MD *md, const unsigned char *dg,
			  size_t dlen, time_t signing_time, unsigned opts, unsigned char **der,
			  size_t *derlen, char *err, size_t errlen);

/*
 * The Authenticode signature of a PE image whose SHA-256 Authenticode
 * digest is dg (pe.h), as `sbsign` 0.9.4 makes it: a PKCS#7 SignedData
 * (version 1) of an SpcIndirectDataContent (1.3.6.1.4.1.311.2.1.4) holding
 * SpcPeImageData (1.3.6.1.4.1.311.2.1.15, no flags, the file link
 * "<<<Obsolete>>>") and the digest; the signer certificate; the signed
 * attributes contentType, signingTime, messageDigest (over the content's
 * value, without its tag and length) and S/MIME capabilities.  With the
 * same signing time and an RSA key the bytes are sbsign's.  Arguments and
 * result as cmssign_detached.
 */
int cmssign_authenticode(const struct pkey_signer *s, const unsigned char dg[32],
			 time_t signing_time, unsigned char **der, size_t *derlen, char *err,
			 size_t errlen);

#endif
