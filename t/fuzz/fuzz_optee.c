/* SPDX-License-Identifier: MIT */
/*
 * fuzz_optee.c: libFuzzer harness for what /sign/optee reads of a
 * client's upload (lib/optee_ta.c): the UUID in a TA's file name, the
 * text of a .ta-version, and the image written into a TA whose declared
 * size may not match it.  The first byte picks which.
 *
 * Beyond "no crash, no leak": an accepted UUID prints back in canonical
 * form to the same bytes; an accepted version prints back in hex to the
 * same value and, when the text is plain decimal, is what strtoull reads;
 * a TA body is written only when the image is exactly its declared size,
 * and then has the format's length with the image at its end.
 */
/* fuzz-sources: lib/optee_ta.c lib/fsutil.c lib/buf.c lib/util.c lib/log.c */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "optee_ta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_uuid(const char *s, size_t n)
{
	unsigned char u[16], v[16];
	char canon[37];
	char *name, why[128];
	int r;

	if (optee_uuid_parse(s, n, u) == 0) {
		snprintf(canon, sizeof(canon),
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
			 u[12], u[13], u[14], u[15]);
		if (optee_uuid_parse(canon, 36, v) != 0 || memcmp(u, v, 16) != 0)
			abort();
	}
	/* the same text as a member name */
	name = strndup(s, n);
	if (name == NULL)
		return;
	r = optee_ta_name(name, u, why, sizeof(why));
	if (r != 0 &&
	    (strlen(name) < strlen(OPTEE_ELF_SUFFIX) ||
	     strcmp(name + strlen(name) - strlen(OPTEE_ELF_SUFFIX), OPTEE_ELF_SUFFIX) != 0))
		abort();
	if (r < 0 && (why[0] == '\0' || strchr(why, '\n') != NULL))
		abort();
	free(name);
}

static void
fuzz_version(const char *s, size_t n)
{
	uint32_t v, w;
	char hex[16], why[128], *copy, *end;
	const char *p = s;

	why[0] = '\0';
	if (optee_version_parse(s, n, &v, why, sizeof(why)) != 0) {
		if (why[0] == '\0' || strchr(why, '\n') != NULL)
			abort();
		return;
	}
	snprintf(hex, sizeof(hex), "0x%x", v);
	if (optee_version_parse(hex, strlen(hex), &w, why, sizeof(why)) != 0 || w != v)
		abort();
	/* plain decimal digits alone: strtoull agrees */
	while (p < s + n && isdigit((unsigned char)*p))
		p++;
	if (p == s + n && n > 0 && (copy = strndup(s, n)) != NULL) {
		if (strtoull(copy, &end, 10) != v)
			abort();
		free(copy);
	}
}

static void
fuzz_body(const uint8_t *data, size_t size)
{
	static const unsigned char uuid[16];
	struct optee_ta ta;
	char err[128];
	uint64_t declared;
	int img, out;
	off_t len;

	if (size < 2)
		return;
	/* declared: the image's size give or take a little */
	declared = size - 2 + (uint64_t)(data[1] % 5) - 2;
	if ((img = memfd_create("img", 0)) < 0 || (out = memfd_create("ta", 0)) < 0)
		abort();
	if (write(img, data + 2, size - 2) != (ssize_t)(size - 2) || lseek(img, 0, SEEK_SET) != 0)
		abort();
	if (optee_ta_init(&ta, uuid, 1, declared, 256, err, sizeof(err)) == 0) {
		int rc = optee_ta_write_body(out, &ta, img, err, sizeof(err));

		if ((rc == 0) != (declared == size - 2))
			abort();
		len = lseek(out, 0, SEEK_END);
		if (rc == 0 && len != (off_t)(OPTEE_SHDR_SIZE + OPTEE_HASH_SIZE + 256 +
					      OPTEE_BOOT_SIZE + size - 2))
			abort();
	}
	close(img);
	close(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_uuid((const char *)data + 1, size - 1);
		break;
	case 1:
		fuzz_version((const char *)data + 1, size - 1);
		break;
	default:
		fuzz_body(data, size);
		break;
	}
	return 0;
}
