/* SPDX-License-Identifier: MIT */
/*
 * pe.c: see pe.h.  Offsets follow the PE/COFF specification: the DOS
 * header's e_lfanew at 0x3c, "PE\0\0", the 20-byte COFF header, the
 * optional header (PE32 0x10b or PE32+ 0x20b; CheckSum at 64, the data
 * directories at 96 or 112, the certificate table the fifth), then the
 * 40-byte section headers.  All fields are little-endian.
 */
#include "pe.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define PE_CERT_DIR 4           /* the certificate table's directory index */
#define PE_CERT_REVISION 0x0200 /* WIN_CERT_REVISION_2_0 */
#define PE_CERT_PKCS 0x0002     /* WIN_CERT_TYPE_PKCS_SIGNED_DATA */
#define PE_SECTION_SIZE 40
#define PE_CHUNK 65536 /* even: checksum pairs never straddle two chunks */

static uint16_t
le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
align8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The headers: DOS, PE signature, COFF, optional; 0 or -1 with err. */
static int
parse_headers(struct pe_image *img, char *err, size_t errlen)
{
	const unsigned char *d = img->data;
	uint64_t pe, opt, optsize, dirs, sect;

	if (img->size < 64 || d[0] != 'M' || d[1] != 'Z')
		return fail(err, errlen, "no DOS header (MZ)");
	pe = le32(d + 0x3c);
	if (pe + 24 > img->size || memcmp(d + pe, "PE\0\0", 4) != 0)
		return fail(err, errlen, "no PE signature at offset %llu", (unsigned long long)pe);
	img->machine = le16(d + pe + 4);
	img->nsections = le16(d + pe + 6);
	optsize = le16(d + pe + 20);
	opt = pe + 24;
	if (optsize < 2 || opt + optsize > img->size)
		return fail(err, errlen, "the optional header is past the end of the file");
	switch (le16(d + opt)) {
	case 0x10b:
		img->pe32plus = 0;
		dirs = 96;
		break;
	case 0x20b:
		img->pe32plus = 1;
		dirs = 112;
		break;
	default:
		return fail(err, errlen, "unknown optional header magic 0x%04x", le16(d + opt));
	}
	if (optsize < dirs + 8 * (PE_CERT_DIR + 1))
		return fail(err, errlen, "the optional header has no certificate table entry");
	img->checksum_off = (size_t)(opt + 64);
	img->certdir_off = (size_t)(opt + dirs + 8 * PE_CERT_DIR);
	img->header_size = le32(d + opt + 60);
	img->cert_addr = le32(d + img->certdir_off);
	img->cert_size = le32(d + img->certdir_off + 4);
	sect = opt + optsize;
	img->sections_off = (size_t)sect;
	if (sect + (uint64_t)img->nsections * PE_SECTION_SIZE > img->size)
		return fail(err, errlen, "the section table is past the end of the file");
	if (img->header_size < img->certdir_off + 8 || img->header_size > img->size)
		return fail(err, errlen, "SizeOfHeaders %u does not fit the file",
			    img->header_size);
	return 0;
}

/* A section's name for a message: its 8 bytes up to a NUL, anything
 * but printable ASCII as '?' (the reason goes to the client). */
static const char *
section_name(const unsigned char *sect, char out[9])
{
	int i;

	for (i = 0; i < 8 && sect[i] != '\0'; i++)
		out[i] = isprint(sect[i]) && sect[i] < 0x80 ? (char)sect[i] : '?';
	out[i] = '\0';
	return out;
}

static void
add_region(struct pe_image *img, uint64_t off, uint64_t len)
{
	img->regions[img->nregions].off = off;
	img->regions[img->nregions].len = len;
	img->nregions++;
}

static int
cmp_region(const void *a, const void *b)
{
	const struct pe_region *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* The headers' three regions and one per section with raw data, sorted;
 * their total into *bytes, counting the 12 bytes left out (as sbsign does). */
static int
collect_regions(struct pe_image *img, uint64_t *bytes, char *err, size_t errlen)
{
	const unsigned char *sect = img->data + img->sections_off;
	size_t first = img->certdir_off + 8;

	img->regions = xcalloc((size_t)img->nsections + 4, sizeof(*img->regions));
	add_region(img, 0, img->checksum_off);
	add_region(img, img->checksum_off + 4, img->certdir_off - img->checksum_off - 4);
	add_region(img, first, img->header_size - first);
	*bytes = img->header_size;
	for (unsigned i = 0; i < img->nsections; i++, sect += PE_SECTION_SIZE) {
		uint32_t len = le32(sect + 16), off = le32(sect + 20);
		char name[9];

		if (len == 0)
			continue;
		/* the headers' own regions leave out the checksum and the
		 * certificate entry, which signing changes: no section there */
		if (off < img->header_size)
			return fail(err, errlen, "section %u (%s) starts inside the headers", i,
				    section_name(sect, name));
		if ((uint64_t)off + len > align8(img->size))
			return fail(err, errlen, "section %u (%s) is past the end of the file", i,
				    section_name(sect, name));
		add_region(img, off, len);
		*bytes += len;
	}
	qsort(img->regions, img->nregions, sizeof(*img->regions), cmp_region);
	for (size_t i = 1; i < img->nregions; i++)
		if (img->regions[i].off < img->regions[i - 1].off + img->regions[i - 1].len)
			return fail(err, errlen, "sections overlap at offset %llu",
				    (unsigned long long)img->regions[i].off);
	return 0;
}

/*
 * sbsign's end: what the file holds beyond the sum of the regions, up to
 * its certificate table, is hashed too; then the image is padded to 8
 * (with the pad hashed as part of the end).  Sets data_size.
 */
static int
add_end(struct pe_image *img, uint64_t bytes, char *err, size_t errlen)
{
	uint64_t size = img->size, cert = img->cert_size;
	const struct pe_region *last;

	for (int pass = 0; pass < 2; pass++) {
		if (bytes + cert < size)
			add_region(img, bytes, size - bytes - cert);
		last = &img->regions[img->nregions - 1];
		img->data_size = align8(last->off + last->len);
		if (img->data_size <= size)
			break;
		if (pass == 1 || img->data_size > align8(img->size))
			return fail(err, errlen, "the sections reach past the end of the file");
		/* sbsign pads its buffer and looks again: the pad joins the end */
		if (bytes + cert < size)
			img->nregions--;
		size = img->data_size;
	}
	return 0;
}

/* An existing certificate table must be the image's end, as sbsign
 * writes it, and start with a PKCS#7 entry (sbsign keeps it then). */
static int
check_cert_table(const struct pe_image *img, char *err, size_t errlen)
{
	const unsigned char *c;

	if (img->cert_size == 0)
		return 0;
	if (img->cert_addr != img->data_size ||
	    (uint64_t)img->cert_addr + img->cert_size != img->size || img->cert_size < 8)
		return fail(err, errlen, "the certificate table is not at the end of the image");
	c = img->data + img->cert_addr;
	if (le16(c + 4) != PE_CERT_REVISION || le16(c + 6) != PE_CERT_PKCS || le32(c) < 8 ||
	    le32(c) > img->cert_size)
		return fail(err, errlen, "the certificate table holds no PKCS#7 signature");
	return 0;
}

int
pe_parse(const unsigned char *data, size_t size, struct pe_image *img, char *err, size_t errlen)
{
	uint64_t bytes;

	memset(img, 0, sizeof(*img));
	img->data = data;
	img->size = size;
	if (parse_headers(img, err, errlen) < 0 || collect_regions(img, &bytes, err, errlen) < 0 ||
	    add_end(img, bytes, err, errlen) < 0 || check_cert_table(img, err, errlen) < 0) {
		pe_free(img);
		return -1;
	}
	return 0;
}

void
pe_free(struct pe_image *img)
{
	free(img->regions);
	img->regions = NULL;
	img->nregions = 0;
}

/* The image's bytes [off, off + len) into buf: the file's, zero beyond
 * it, with the certificate entry dir (8 bytes) and the checksum sum
 * (4 bytes, or NULL) in their places. */
static void
view(const struct pe_image *img, uint64_t off, size_t len, unsigned char *buf,
     const unsigned char dir[8], const unsigned char *sum)
{
	size_t have = off < img->size ? (size_t)(img->size - off < len ? img->size - off : len) : 0;
	const struct {
		uint64_t at;
		size_t n;
		const unsigned char *p;
	} patch[2] = {{img->certdir_off, 8, dir}, {img->checksum_off, 4, sum}};

	if (have > 0)
		memcpy(buf, img->data + off, have);
	memset(buf + have, 0, len - have);
	for (int i = 0; i < 2; i++)
		for (size_t j = 0; patch[i].p && j < patch[i].n; j++)
			if (patch[i].at + j >= off && patch[i].at + j < off + len)
				buf[patch[i].at + j - off] = patch[i].p[j];
}

unsigned int
pe_digest(const struct pe_image *img, const EVP_MD *md, unsigned char out[EVP_MAX_MD_SIZE])
{
	static const unsigned char zeros[8];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1;

	for (size_t i = 0; ok && i < img->nregions; i++) {
		uint64_t off = img->regions[i].off, end = off + img->regions[i].len;
		uint64_t in = end <= img->size ? end : img->size;

		if (off < in)
			ok = EVP_DigestUpdate(ctx, img->data + off, (size_t)(in - off)) == 1;
		for (uint64_t z = off > in ? off : in; ok && z < end; z++) /* the pad: < 8 */
			ok = EVP_DigestUpdate(ctx, zeros, 1) == 1;
	}
	if (!ok || EVP_DigestFinal_ex(ctx, out, &len) != 1)
		len = 0;
	EVP_MD_CTX_free(ctx);
	return len;
}

/* sbsign's checksum: 16-bit one's-complement-style sum of little-endian
 * words, folded once per word, an odd last byte added alone. */
static uint16_t
csum(uint16_t sum, const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i + 2 <= len; i += 2) {
		uint32_t s = (uint32_t)sum + le16(p + i);

		sum = (uint16_t)((s >> 16) + (s & 0xffff));
	}
	if (i < len) {
		uint32_t s = (uint32_t)sum + p[i];

		sum = (uint16_t)((s >> 16) + (s & 0xffff));
	}
	return sum;
}

/* The new certificate table: the old one, then a WIN_CERTIFICATE with
 * sig, padded to 8.  malloc'ed; its length into *len. */
static unsigned char *
cert_table(const struct pe_image *img, const unsigned char *sig, size_t siglen, size_t *len)
{
	size_t entry = align8(siglen + 8);
	unsigned char *t = xcalloc(1, img->cert_size + entry), *e = t + img->cert_size;

	memcpy(t, img->data + img->cert_addr, img->cert_size);
	put32(e, (uint32_t)(siglen + 8));
	e[4] = PE_CERT_REVISION & 0xff;
	e[5] = PE_CERT_REVISION >> 8;
	e[6] = PE_CERT_PKCS;
	e[7] = 0;
	memcpy(e + 8, sig, siglen);
	*len = img->cert_size + entry;
	return t;
}

/* The sum of the image's bytes [from, to), patched, continuing sum. */
static uint16_t
sum_range(const struct pe_image *img, uint64_t from, uint64_t to, const unsigned char dir[8],
	  unsigned char *buf, uint16_t sum)
{
	for (uint64_t off = from; off < to; off += PE_CHUNK) {
		size_t n = to - off < PE_CHUNK ? (size_t)(to - off) : PE_CHUNK;

		view(img, off, n, buf, dir, NULL);
		sum = csum(sum, buf, n);
	}
	return sum;
}

/* Write the image's data_size bytes, patched, to fd; 0 or -1 (errno). */
static int
write_image(const struct pe_image *img, const unsigned char dir[8], const unsigned char cks[4],
	    unsigned char *buf, int fd)
{
	for (uint64_t off = 0; off < img->data_size; off += PE_CHUNK) {
		size_t n =
		    img->data_size - off < PE_CHUNK ? (size_t)(img->data_size - off) : PE_CHUNK;

		view(img, off, n, buf, dir, cks);
		if (util_write_all(fd, buf, n) < 0)
			return -1;
	}
	return 0;
}

int
pe_write_signed(const struct pe_image *img, int fd, const unsigned char *sig, size_t siglen,
		char *err, size_t errlen)
{
	unsigned char dir[8], cks[4], *table, *buf;
	uint16_t sum;
	size_t tlen;
	int rc;

	if (siglen == 0 || siglen > UINT32_MAX - 16 ||
	    img->data_size > UINT32_MAX - siglen - 16 - img->cert_size)
		return fail(err, errlen, "the signed image would be larger than 4 GiB");
	table = cert_table(img, sig, siglen, &tlen);
	put32(dir, (uint32_t)img->data_size);
	put32(dir + 4, (uint32_t)tlen);
	buf = xmalloc(PE_CHUNK);
	/* as sbsign: the word pairs restart after the checksum field */
	sum = sum_range(img, 0, img->checksum_off, dir, buf, 0);
	sum = sum_range(img, img->checksum_off + 4, img->data_size, dir, buf, sum);
	sum = csum(sum, table, tlen);
	put32(cks, (uint32_t)(sum + img->data_size + tlen));
	rc = write_image(img, dir, cks, buf, fd);
	if (rc == 0)
		rc = util_write_all(fd, table, tlen);
	free(buf);
	free(table);
	if (rc < 0)
		return fail(err, errlen, "writing the signed image: %s", strerror(errno));
	return 0;
}
