/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pe.c: libFuzzer harness for lib/pe.c, what /sign/tegra/uefi's
 * sbsign type reads of a client's upload.
 *
 * Beyond "no crash, no leak, no read outside the input": an accepted
 * image has its regions sorted, disjoint and inside data_size, which is a
 * multiple of 8 no more than the input rounded up to 8; the signed image
 * written for it has the expected length, parses again with its
 * certificate table at data_size holding the new entry last, and has the
 * same Authenticode digest as the input (so a verifier accepts it).
 */
/* fuzz-sources: lib/pe.c lib/util.c lib/log.c */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_regions(const struct pe_image *img, size_t size)
{
	uint64_t prev = 0;

	if (img->data_size % 8 != 0 || img->data_size > ((uint64_t)size + 7) / 8 * 8)
		abort();
	for (size_t i = 0; i < img->nregions; i++) {
		const struct pe_region *r = &img->regions[i];

		/* the end region starts at the sum of the others (sbsign) */
		if (i + 1 < img->nregions && r->off < prev)
			abort();
		if (r->off + r->len > img->data_size && r->off + r->len > size)
			abort();
		prev = r->off + r->len;
	}
}

/* Sign with a dummy signature and read the result back. */
static void
check_signed(const struct pe_image *img, const unsigned char *dg, unsigned int dlen)
{
	static const unsigned char sig[13] = "not a pkcs#7";
	unsigned char dg2[EVP_MAX_MD_SIZE], *out;
	struct pe_image again;
	char err[256];
	uint64_t want = img->data_size + img->cert_size + (sizeof(sig) + 8 + 7) / 8 * 8;
	int fd = memfd_create("pe", MFD_CLOEXEC);
	off_t len;

	if (fd < 0)
		return;
	if (pe_write_signed(img, fd, sig, sizeof(sig), err, sizeof(err)) < 0) {
		close(fd);
		return;
	}
	len = lseek(fd, 0, SEEK_END);
	if (len < 0 || (uint64_t)len != want)
		abort();
	out = mmap(NULL, (size_t)len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (out == MAP_FAILED)
		return;
	if (pe_parse(out, (size_t)len, &again, err, sizeof(err)) < 0 ||
	    again.data_size != img->data_size || again.cert_addr != img->data_size ||
	    memcmp(out + len - (sizeof(sig) + 8 + 7) / 8 * 8 + 8, sig, sizeof(sig)) != 0)
		abort();
	if (pe_digest(&again, EVP_sha256(), dg2) != dlen || memcmp(dg, dg2, dlen) != 0)
		abort();
	pe_free(&again);
	munmap(out, (size_t)len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pe_image img;
	unsigned char dg[EVP_MAX_MD_SIZE];
	unsigned int dlen;
	char err[256];

	if (pe_parse(data, size, &img, err, sizeof(err)) < 0) {
		if (err[0] == '\0' || img.regions != NULL)
			abort();
		return 0;
	}
	check_regions(&img, size);
	if ((dlen = pe_digest(&img, EVP_sha256(), dg)) != 32)
		abort();
	check_signed(&img, dg, dlen);
	pe_free(&img);
	return 0;
}
