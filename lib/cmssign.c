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
/* The n bytes of DER OpenSSL encoded at out, as a malloc'ed copy; 0, or
 * -1 with err when the encoding failed (n <= 0). */
static int
take_der(const unsigned char *out, int n, unsigned char **der, size_t *derlen, char *err,
	 size_t errlen)
{
	if (n <= 0) {
		pkey_ossl_fail(err, errlen, "encoding the SignedData");
		return -1;
	}
	*der = xmalloc((size_t)n);
	memcpy(*der, out, (size_t)n);
	*derlen = (size_t)n;
	return 0;
}

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

/* Ask s for the signature req asks for and set it into dst (a
 * SignerInfo's signature); 0 or -1 with err. */
static int
sign_into(const struct pkey_signer *s, EVP_PKEY *pub, const struct pkey_sign_req *req,
	  ASN1_STRING *dst, char *err, size_t errlen)
{
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int rc = -1;

	if (pkey_signer_sign(s, pub, req, &sig, &siglen, err, errlen) < 0)
		return -1;
	if (siglen > INT_MAX || ASN1_STRING_set(dst, sig, (int)siglen) != 1)
		pkey_ossl_fail(err, errlen, "ASN1_STRING_set");
	else
		rc = 0;
	free(sig);
	return rc;
}

/* Ask s for the signature over si's signed attributes and set it; 0 or -1
 * with err. */
static int
sign_attributes(const struct pkey_signer *s, EVP_PKEY *pub, CMS_SignerInfo *si, const EVP_MD *md,
		enum sig_scheme scheme, char *err, size_t errlen)
{
	unsigned char adg[EVP_MAX_MD_SIZE];
	struct pkey_sign_req req = {.scheme = scheme, .md = md, .data = adg};

	if ((req.len = attributes_digest(si, md, adg)) == 0)
		return pkey_ossl_fail(err, errlen, "encoding the signed attributes");
	return sign_into(s, pub, &req, CMS_SignerInfo_get0_signature(si), err, errlen);
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
	n = i2d_CMS_ContentInfo(cms, &out);
	rc = take_der(out, n, der, derlen, err, errlen);
done:
	OPENSSL_free(out);
	CMS_ContentInfo_free(cms);
	return rc;
}

/* The DER SpcIndirectDataContent for a SHA-256 image digest (106 bytes):
 * the fixed SpcAttributeTypeAndOptionalValue sbsign writes, then the
 * DigestInfo. */
#define SPC_IDC_LEN 106
static void
spc_indirect_data(const unsigned char dg[32], unsigned char out[SPC_IDC_LEN])
{
	/* clang-format off */
	static const unsigned char head[] = {
	    0x30, 0x68,			  /* SpcIndirectDataContent */
	    0x30, 0x33,			  /* SpcAttributeTypeAndOptionalValue */
	    0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x01, 0x0f,
	    0x30, 0x25,			  /* SpcPeImageData */
	    0x03, 0x01, 0x00,		  /* flags: an empty BIT STRING */
	    0xa0, 0x20, 0xa2, 0x1e, 0x80, 0x1c, /* file: [2] unicode [0] */
	    0x00, '<', 0x00, '<', 0x00, '<', 0x00, 'O', 0x00, 'b', 0x00, 's', 0x00, 'o',
	    0x00, 'l', 0x00, 'e', 0x00, 't', 0x00, 'e', 0x00, '>', 0x00, '>', 0x00, '>',
	    0x30, 0x31, 0x30, 0x0d,		  /* DigestInfo, AlgorithmIdentifier sha256 */
	    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
	    0x04, 0x20};
	/* clang-format on */

	memcpy(out, head, sizeof(head));
	memcpy(out + sizeof(head), dg, 32);
}

/* The signed attributes of the Authenticode SignerInfo; 0 or -1. */
static int
spc_attributes(PKCS7_SIGNER_INFO *si, const unsigned char idc[SPC_IDC_LEN], time_t when)
{
	STACK_OF(X509_ALGOR) *caps = sk_X509_ALGOR_new_null();
	ASN1_TIME *t = ASN1_TIME_set(NULL, when);
	ASN1_OBJECT *spc = OBJ_txt2obj("1.3.6.1.4.1.311.2.1.4", 1);
	unsigned char md[32];
	int ok;

	/* the digest covers the content's value: without the tag and length */
	ok = caps != NULL && t != NULL && spc != NULL &&
	     EVP_Digest(idc + 2, SPC_IDC_LEN - 2, md, NULL, EVP_sha256(), NULL) == 1 &&
	     PKCS7_add_signed_attribute(si, NID_pkcs9_contentType, V_ASN1_OBJECT, spc) == 1;
	if (ok)
		spc = NULL; /* the attribute's */
	ok = ok && PKCS7_add0_attrib_signing_time(si, t) == 1;
	if (ok)
		t = NULL;
	ok = ok && PKCS7_add1_attrib_digest(si, md, sizeof(md)) == 1 &&
	     CMS_add_standard_smimecap(&caps) == 1 && PKCS7_add_attrib_smimecap(si, caps) == 1;
	sk_X509_ALGOR_pop_free(caps, X509_ALGOR_free);
	ASN1_TIME_free(t);
	ASN1_OBJECT_free(spc);
	return ok ? 0 : -1;
}

/* p7's content: the SpcIndirectDataContent as an "other" type; 0 or -1. */
static int
spc_content(PKCS7 *p7, const unsigned char idc[SPC_IDC_LEN])
{
	PKCS7 *inner = PKCS7_new();
	ASN1_STRING *seq = ASN1_STRING_new();

	if (inner == NULL || seq == NULL || ASN1_STRING_set(seq, idc, SPC_IDC_LEN) != 1 ||
	    (inner->type = OBJ_txt2obj("1.3.6.1.4.1.311.2.1.4", 1)) == NULL ||
	    (inner->d.other = ASN1_TYPE_new()) == NULL) {
		ASN1_STRING_free(seq);
		PKCS7_free(inner);
		return -1;
	}
	ASN1_TYPE_set(inner->d.other, V_ASN1_SEQUENCE, seq);
	if (PKCS7_set_content(p7, inner) != 1) {
		PKCS7_free(inner);
		return -1;
	}
	return 0;
}

/* Ask s for the signature over si's signed attributes and set it. */
static int
spc_sign(const struct pkey_signer *s, EVP_PKEY *pub, PKCS7_SIGNER_INFO *si, enum sig_scheme scheme,
	 char *err, size_t errlen)
{
	unsigned char adg[32], *der = NULL;
	struct pkey_sign_req req = {.scheme = scheme, .md = EVP_sha256(), .data = adg, .len = 32};
	int n;

	n = ASN1_item_i2d((ASN1_VALUE *)si->auth_attr, &der, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
	if (n <= 0 || EVP_Digest(der, (size_t)n, adg, NULL, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		return pkey_ossl_fail(err, errlen, "encoding the signed attributes");
	}
	OPENSSL_free(der);
	return sign_into(s, pub, &req, si->enc_digest, err, errlen);
}

int
cmssign_authenticode(const struct pkey_signer *s, const unsigned char dg[32], time_t signing_time,
		     unsigned char **der, size_t *derlen, char *err, size_t errlen)
{
	EVP_PKEY *pub = s->cert ? X509_get0_pubkey(s->cert) : NULL;
	unsigned char idc[SPC_IDC_LEN], *out = NULL;
	PKCS7 *p7 = PKCS7_new();
	PKCS7_SIGNER_INFO *si;
	enum sig_scheme scheme;
	int rc = -1;

	*der = NULL;
	*derlen = 0;
	if (pub == NULL || pkey_default_scheme(pub, &scheme) < 0 || scheme == SIG_ED25519) {
		snprintf(err, errlen, "the certificate's key is not an RSA or EC key");
		goto done;
	}
	spc_indirect_data(dg, idc);
	/* the public key is enough for PKCS7_add_signature: it only names
	 * the algorithms; the signature comes from s */
	if (p7 == NULL || PKCS7_set_type(p7, NID_pkcs7_signed) != 1 ||
	    (si = PKCS7_add_signature(p7, s->cert, pub, EVP_sha256())) == NULL ||
	    PKCS7_add_certificate(p7, s->cert) != 1 || spc_attributes(si, idc, signing_time) < 0 ||
	    spc_content(p7, idc) < 0) {
		pkey_ossl_fail(err, errlen, "building the Authenticode SignedData");
		goto done;
	}
	if (spc_sign(s, pub, si, scheme, err, errlen) == 0) {
		int n = i2d_PKCS7(p7, &out); /* sets out */

		rc = take_der(out, n, der, derlen, err, errlen);
	}
done:
	OPENSSL_free(out);
	PKCS7_free(p7);
	return rc;
}
