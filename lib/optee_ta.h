/* SPDX-License-Identifier: MIT */
/*
 * optee_ta.h: OP-TEE trusted applications as the TEE loads them, signed
 * (/sign/optee).
 *
 * A build leaves each TA as <uuid>.stripped.elf and, optionally, its
 * version in <uuid>.ta-version; the signed TA <uuid>.ta is the "bootstrap
 * TA" that OP-TEE's scripts/sign_encrypt.py writes:
 *
 *   offset  size  field (integers little-endian)
 *        0     4  magic 0x4f545348 ("OTSH")
 *        4     4  img_type 1 (SHDR_BOOTSTRAP_TA)
 *        8     4  img_size: bytes of the ELF
 *       12     4  algo 0x70414930 (TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256)
 *       16     2  hash_size 32
 *       18     2  sig_size: bytes of the RSA modulus
 *       20    32  SHA-256 of the 20 header bytes, the 20 bytes of the
 *                 bootstrap header and the ELF, in that order
 *       52     S  RSASSA-PSS signature of that digest (MGF1-SHA256, salt 32)
 *     52+S    16  uuid, RFC 4122 byte order (the text's hex digits in order)
 *     68+S     4  ta_version
 *     72+S     N  the ELF
 *
 * Everything a client's names and files can carry is parsed here: the
 * UUID in a file name, the text of a .ta-version, the size of an ELF.
 */
#ifndef DSS_OPTEE_TA_H
#define DSS_OPTEE_TA_H

#include <stddef.h>
#include <stdint.h>

#define OPTEE_SHDR_MAGIC 0x4f545348u
#define OPTEE_SHDR_BOOTSTRAP_TA 1u
#define OPTEE_ALG_RSA_PSS_SHA256 0x70414930u
#define OPTEE_SHDR_SIZE 20 /* the header before the digest */
#define OPTEE_BOOT_SIZE 20 /* uuid and version, after the signature */
#define OPTEE_HASH_SIZE 32
#define OPTEE_SALT_LEN 32
#define OPTEE_IMG_MAX UINT32_MAX /* img_size is 32 bits */
#define OPTEE_SIG_MAX 1024       /* an RSA-8192 signature */
#define OPTEE_ELF_SUFFIX ".stripped.elf"
#define OPTEE_VERSION_SUFFIX ".ta-version"
/* The longest first line of a .ta-version that is read. */
#define OPTEE_VERSION_LINE_MAX 256

/*
 * The UUID a text names, as Python's uuid.UUID(text) reads it (what the
 * original does): 32 hex digits with any number of '-' between them,
 * optionally in braces and after "urn:uuid:".  0, or -1 when it is none.
 */
int optee_uuid_parse(const char *text, size_t len, unsigned char uuid[16]);

/*
 * Whether the member name (a path) is a TA image, "<dir>/<uuid>.stripped.elf":
 * 0 when it does not end in ".stripped.elf", 1 when it does and its uuid
 * (into uuid) parses, -1 with a one-line reason in why when it does not
 * (reasons never quote the client's bytes: the caller names the file).
 */
int optee_ta_name(const char *name, unsigned char uuid[16], char *why, size_t whylen);

/*
 * The ta_version a .ta-version file's first len bytes hold, as the
 * original reads it: the first line (ended by "\n", "\r" or the end),
 * white space around it ignored, as Python's int(text, 0): decimal
 * without leading zeros (or zeros alone), 0x, 0o or 0b, '_' between
 * digits, an optional sign; the value must fit in 32 bits.  0, or -1 with
 * a one-line reason in why (the original answers 500 for all these).
 */
int optee_version_parse(const char *text, size_t len, uint32_t *version, char *why, size_t whylen);

/* A signed TA being made. */
struct optee_ta {
	unsigned char shdr[OPTEE_SHDR_SIZE];
	unsigned char boot[OPTEE_BOOT_SIZE];
	unsigned char digest[OPTEE_HASH_SIZE];
	uint32_t img_size;
	size_t sig_size;
};

/* The headers of a TA of img_size bytes signed with a sig_size-byte
 * signature; 0, or -1 with a reason (an ELF too large for the format). */
int optee_ta_init(struct optee_ta *ta, const unsigned char uuid[16], uint32_t version,
		  uint64_t img_size, size_t sig_size, char *why, size_t whylen);
/*
 * Write the TA into out (an empty file) but for its digest and signature:
 * the header, room for both, the bootstrap header and the ELF read from
 * img (exactly img_size bytes, from where it stands), hashing as it goes
 * into ta->digest.  0, or -1 with a reason (read or write error, an ELF
 * that is not img_size bytes long).
 */
int optee_ta_write_body(int out, struct optee_ta *ta, int img, char *err, size_t errlen);
/* Put the digest and the signature (sig_size bytes) in place; 0 or -1. */
int optee_ta_write_sig(int out, const struct optee_ta *ta, const unsigned char *sig, size_t siglen,
		       char *err, size_t errlen);

#endif
