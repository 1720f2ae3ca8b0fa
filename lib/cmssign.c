/* SPDX-License-Identifier: MIT */
/*
 * cmssign.c: see cmssign.h.  OpenSSL builds the SignedData (CMS_sign and
 * CMS_add1_signer with CMS_PARTIAL, given only the certificate's public
 * key, fill in everything but the signature); the signed attributes are
 * added here, DER-encoded as a SET OF (PKCS7_ATTR_SIGN is the same
 * template CMS_SignerInfo_sign encodes them with, in DER order),
 * digested, and the signer's signature over that digest is put in the
 * SignerInfo.  CMS_SignerInfo_sign, which would need the private key, is
 * never called.
 */
#include "cmssign.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "pkey.h"
#include "util.h"

/* contentType, messageDigest and signingTime, as CMS_final and
 * CMS_SignerInfo_sign would add them; 0 or -1. */
static int
add_attributes(CMS_SignerInfo *si, const unsigned char *dg, size_t dlen, time_t when)
{
	ASN1_TIME *t = ASN1_TIME_set(NULL, when); /* UTCTime until 2049, as openssl's */
	int ok;

	ok = t != NULL && dlen <= INT_MAX &&
	     CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
					 OBJ_nid2obj(NID_pkcs7_data), -1) == 1 &&
	     CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, dg,
					 (int)dlen) == 1 &&
	     CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t, -1) == 1;
	ASN1_TIME_free(t);
	return ok ? 0 : -1;
}

/* The md digest of the DER SET OF si's signed attributes: what the
 * signature covers (RFC 5652 5.4).  Its length, or 0. */
static unsigned int
attributes_digest(CMS_SignerInfo *si, const EVP_MD *md, unsigned char out[EVP_MAX_MD_SIZE])
{
	STACK_OF(X509_ATTRIBUTE) *attrs = sk_X509_ATTRIBUTE_new_null();
	unsigned char *der = NULL;
	unsigned int len = 0;
	int n = CMS_signed_get_attr_count(si), derlen = -1;

	for (int i = 0; attrs != NULL && i < n; i++)
		if (!sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i)))
			goto done;
	if (attrs == NULL || n <= 0)
		goto done;
	derlen = ASN1_item_i2d((ASN1_VALUE *)attrs, &der, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
	if (derlen <= 0 || EVP_Digest(der, (size_t)derlen, out, &len, md, NULL) != 1)
		len = 0;
done:
	sk_X509_ATTRIBUTE_free(attrs); /* the attributes are si's */
	OPENSSL_free(der);
	return len;
}

/* Ask s for the signature over si's signed attributes and set it; 0 or -1
 * with err. */
static int
sign_attributes(const struct pkey_signer *s, EVP_PKEY *pub, CMS_SignerInfo *si, const EVP_MD *md,
		enum sig_scheme scheme, char *err, size_t errlen)
{
	unsigned char adg[EVP_MAX_MD_SIZE], *sig = NULL;
	struct pkey_sign_req req = {.scheme = scheme, .md = md, .data = adg};
	size_t siglen = 0;
	int rc = -1;

	if ((req.len = attributes_digest(si, md, adg)) == 0)
		return pkey_ossl_fail(err, errlen, "encoding the signed attributes");
	if (pkey_signer_sign(s, pub, &req, &sig, &siglen, err, errlen) < 0)
		return -1;
	if (siglen > INT_MAX ||
	    ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)siglen) != 1)
		pkey_ossl_fail(err, errlen, "ASN1_STRING_set");
	else
		rc = 0;
	free(sig);
	return rc;
}

int
cmssign_detached(const struct pkey_signer *s, const EVP_MD *md, const unsigned char *dg,
		 size_t dlen, time_t signing_time, unsigned char **der, size_t *derlen, char *err,
		 size_t errlen)
{
	return cmssign_detached_opts(s, md, dg, dlen, signing_time, 0, der, derlen, err, errlen);
}

int
cmssign_detached_opts(const struct pkey_signer *s, const EVP_MD *md, const unsigned char *dg,
		      size_t dlen, time_t signing_time, unsigned opts, unsigned char **der,
		      size_t *derlen, char *err, size_t errlen)
{
	/* without CMS_NOSMIMECAP, CMS_add1_signer adds the capabilities
	 * attribute itself, the list openssl cms -sign writes */
	const unsigned int flags = CMS_BINARY | CMS_DETACHED | CMS_PARTIAL |
				   (opts & CMSSIGN_SMIMECAP ? 0 : CMS_NOSMIMECAP);
	EVP_PKEY *pub = s->cert ? X509_get0_pubkey(s->cert) : NULL;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	enum sig_scheme scheme;
	unsigned char *out = NULL;
	int n, rc = -1;

	*der = NULL;
	*derlen = 0;
	if (pub == NULL || pkey_default_scheme(pub, &scheme) < 0 || scheme == SIG_ED25519) {
		snprintf(err, errlen, "the certificate's key is not an RSA or EC key");
		return -1;
	}
	if (md == NULL || EVP_MD_get_size(md) <= 0 || (size_t)EVP_MD_get_size(md) != dlen) {
		snprintf(err, errlen, "the content digest is not a %s digest",
			 md ? EVP_MD_get0_name(md) : "known");
		return -1;
	}
	if ((cms = CMS_sign(NULL, NULL, NULL, NULL, flags)) == NULL ||
	    (si = CMS_add1_signer(cms, s->cert, pub, md, flags)) == NULL ||
	    add_attributes(si, dg, dlen, signing_time) < 0 || CMS_set_detached(cms, 1) != 1) {
		pkey_ossl_fail(err, errlen, "building the SignedData");
		goto done;
	}
	if (sign_attributes(s, pub, si, md, scheme, err, errlen) < 0)
		goto done;
	if ((n = i2d_CMS_ContentInfo(cms, &out)) <= 0) {
		pkey_ossl_fail(err, errlen, "i2d_CMS_ContentInfo");
		goto done;
	}
	*der = xmalloc((size_t)n);
	memcpy(*der, out, (size_t)n);
	*derlen = (size_t)n;
	rc = 0;
done:
	OPENSSL_free(out);
	CMS_ContentInfo_free(cms);
	return rc;
}
