/* SPDX-License-Identifier: MIT */
/*
 * pe.h: PE/COFF images (UEFI applications, kernels with an EFI stub) as
 * `sbsign` 0.9.4 signs them: the image read with every offset checked, its
 * Authenticode digest, and the signed image written out.
 *
 * The digest covers what sbsign's image.c hashes, in that order: the
 * headers up to SizeOfHeaders without the CheckSum field and the
 * certificate table's data-directory entry; every section with raw data,
 * sorted by file offset; then, when those add up to less than the file
 * without its certificate table, the "end" from the sum of their sizes to
 * the certificate table (sbsign's rule, which is the Authenticode one for
 * an image without gaps); and zero bytes up to a multiple of 8, kept in
 * the image, so that the certificate table is 8-byte aligned.
 *
 * The signed image: those data_size bytes with the certificate table's
 * entry pointing after them and the PE checksum recomputed as sbsign does,
 * then the certificate table: an existing one unchanged, then one
 * WIN_CERTIFICATE (revision 2.0, PKCS#7 SignedData) padded to 8 bytes.
 *
 * Stricter than sbsign, which warns, reads past the end or signs an image
 * that then fails to verify: a section that reaches past the end of the
 * file (beyond the 8-byte pad), starts inside the headers or overlaps
 * another, and a certificate table that is not at the end of the image or
 * holds no PKCS#7 entry are refused.  Any machine type with a PE32 or PE32+ optional header is taken.
 */
#ifndef DSS_PE_H
#define DSS_PE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* One stretch of the image the digest covers (offsets into the image,
 * zero bytes where it lies beyond the file's end: the alignment pad). */
struct pe_region {
	uint64_t off, len;
};

struct pe_image {
	const unsigned char *data; /* the file (not owned) */
	size_t size;
	int pe32plus; /* PE32+ (64-bit) optional header */
	uint16_t machine, nsections;
	uint32_t header_size;          /* SizeOfHeaders */
	size_t checksum_off;           /* the CheckSum field */
	size_t certdir_off;            /* the certificate table's directory entry */
	size_t sections_off;           /* the section table */
	uint32_t cert_addr, cert_size; /* the existing certificate table; size 0: none */
	uint64_t data_size;            /* the image before its certificate table, 8-aligned */
	struct pe_region *regions;     /* what the digest covers, in order */
	size_t nregions;
};

/*
 * Read the image of size bytes at data (which must outlive img) into img.
 * 0, or -1 with a one-line reason in err ("no MZ signature", ...).
 */
int pe_parse(const unsigned char *data, size_t size, struct pe_image *img, char *err,
	     size_t errlen);
void pe_free(struct pe_image *img);
/* The Authenticode digest (md, e.g. SHA-256) into out; its length, or 0. */
unsigned int pe_digest(const struct pe_image *img, const EVP_MD *md,
		       unsigned char out[EVP_MAX_MD_SIZE]);
/*
 * Write the signed image to fd: img with the DER PKCS#7 SignedData sig
 * appended in a new WIN_CERTIFICATE.  0, or -1 with err.
 */
int pe_write_signed(const struct pe_image *img, int fd, const unsigned char *sig, size_t siglen,
		    char *err, size_t errlen);

#endif
