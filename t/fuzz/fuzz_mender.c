/* SPDX-License-Identifier: MIT */
/*
 * fuzz_mender.c: libFuzzer harness for the Mender artifact reader and
 * re-writer (lib/mender_artifact.c and the outer tar reader, manifest
 * table and copier it uses).
 *
 * Beyond "no crash, no leak, no hang": a refused input gets a 4xx/5xx
 * status with a reason and no result; an accepted one gives a manifest,
 * a slot inside the output and an output ending in the two zero blocks;
 * and the signed output, read again, is accepted as a signed artifact
 * with the same manifest and re-written to the very same bytes.
 */
/* fuzz-sources: lib/mender_artifact.c lib/mender_tar.c lib/mender_manifest.c lib/mender_copy.c lib/cpus.c lib/fsutil.c lib/buf.c lib/util.c lib/log.c lib/pkey.c */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mender_artifact.h"
#include "util.h"

#define SIG_LEN 88

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
memfd_with(const void *data, size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0 || (size && util_write_all(fd, data, size) != 0))
		abort();
	return fd;
}

/* The whole contents of fd. */
static char *
contents(int fd, size_t *len)
{
	struct stat st;
	char *p;

	if (fstat(fd, &st) != 0)
		abort();
	*len = (size_t)st.st_size;
	p = xmalloc(*len + 1);
	if (*len && pread(fd, p, *len, 0) != (ssize_t)*len)
		abort();
	return p;
}

/* Rewrite in into a new memfd and fill the slot; the status. */
static int
rewrite(int in, int *out, struct mender_result *r, char *err, size_t errlen)
{
	struct mender_opts o;
	char sig[SIG_LEN];
	int st;

	mender_opts_init(&o);
	o.sig_len = SIG_LEN;
	o.meta_max = 1 << 20;
	o.max_members = 1000;
	o.max_expanded = 1 << 24;
	*out = memfd_with(NULL, 0);
	st = mender_rewrite(in, *out, &o, r, err, errlen);
	if (st != 0) {
		if ((st != 400 && st != 409 && st != 500) || err[0] == '\0' || r->manifest)
			abort();
		return st;
	}
	if (r->manifest == NULL || r->sig_len != SIG_LEN || r->format_version < 2 ||
	    r->format_version > 3 || r->sig_offset + 512 + 512 > r->out_size)
		abort();
	memset(sig, 'A', sizeof(sig));
	if (mender_write_signature(*out, r, sig, sizeof(sig), err, errlen) != 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mender_result r1, r2;
	char err[512], *o1, *o2;
	size_t l1, l2;
	int in = memfd_with(data, size), out1, out2;
	static const char zeros[1024];

	if (rewrite(in, &out1, &r1, err, sizeof(err)) != 0) {
		close(in);
		close(out1);
		return 0;
	}
	o1 = contents(out1, &l1);
	if (l1 != r1.out_size || l1 < 1024 || memcmp(o1 + l1 - 1024, zeros, 1024) != 0 ||
	    memcmp(o1 + r1.sig_offset, "manifest.sig", 13) != 0)
		abort();
	if (rewrite(out1, &out2, &r2, err, sizeof(err)) != 0 || !r2.was_signed ||
	    r2.manifest_len != r1.manifest_len ||
	    memcmp(r2.manifest, r1.manifest, r1.manifest_len) != 0)
		abort();
	o2 = contents(out2, &l2);
	if (l2 != l1 || memcmp(o1, o2, l1) != 0)
		abort();
	free(o1);
	free(o2);
	mender_result_free(&r1);
	mender_result_free(&r2);
	close(in);
	close(out1);
	close(out2);
	return 0;
}
