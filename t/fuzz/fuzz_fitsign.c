/* SPDX-License-Identifier: MIT */
/*
 * fuzz_fitsign.c: libFuzzer harness for lib/fitsign.c and lib/fdtedit.c:
 * the input as an uploaded fitImage signed natively (the FDT loader, the
 * libfdt-like edits, mkimage's regions and retries, the data moved out),
 * with a fixed signature and a fixed RSA public key; when its first byte
 * is odd the same bytes are also the dtb that gets the key.  Every
 * answer is 0 or a status with a reason.
 */
/* fuzz-sources: lib/fitsign.c lib/fdtedit.c lib/util.c lib/log.c */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "fitsign.h"

static EVP_PKEY *pub;

static int
fake_sign(void *arg, const char *hint, int pss, const EVP_MD *md, const unsigned char *d,
	  size_t dlen, unsigned char *sig, size_t *siglen, char *err, size_t errlen)
{
	(void)arg, (void)hint, (void)pss, (void)md, (void)d, (void)dlen, (void)err, (void)errlen;
	if (*siglen < 256)
		__builtin_trap();
	memset(sig, 0x5a, 256);
	*siglen = 256;
	return 0;
}

static int
fake_public(void *arg, const char *hint, EVP_PKEY **p, char *err, size_t errlen)
{
	(void)arg, (void)hint, (void)err, (void)errlen;
	if (pub == NULL)
		pub = EVP_RSA_gen(1024);
	EVP_PKEY_up_ref(pub);
	*p = pub;
	return 0;
}

static int
memfd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fit", 0);

	if (fd >= 0 && size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fitsign_key k = {.sign = fake_sign, .public_key = fake_public};
	struct fitsign_opts o = {.timestamp = 1, .require = 1, .comment = "c"};
	struct fitsign_result res;
	char err[256] = "";
	int fd = memfd(data, size), dfd = -1, out = memfd_create("out", 0), dout = -1, st;

	if (fd < 0 || out < 0)
		return 0;
	if (size > 0 && (data[0] & 1)) {
		dfd = memfd(data, size);
		dout = memfd_create("dout", 0);
	}
	if (size > 1 && (data[1] & 1))
		o.external_offset = 0x1000;
	st = fitsign_run(fd, size, dfd, size, &o, &k, out, dout, &res, err, sizeof(err));
	if (st != 0 && (st < 400 || st > 599 || err[0] == '\0'))
		__builtin_trap();
	close(fd);
	close(out);
	if (dfd >= 0)
		close(dfd);
	if (dout >= 0)
		close(dout);
	return 0;
}
