/* SPDX-License-Identifier: MIT */
/*
 * fuzz_keyproto.c: libFuzzer harness for the key channel's record checks
 * (lib/keyproto.c), which the key process runs on every record a worker
 * sends it.  The first byte says whether a descriptor came with the
 * record; the rest is the record.  A record keyproto_check takes must
 * hold what the key process then relies on: its exact size, terminated
 * strings, lengths in range.
 */
/* fuzz-sources: lib/keyproto.c lib/proto.c */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "keyproto.h"

static void
must(int cond)
{
	if (!cond)
		__builtin_trap();
}

static void
check_keyref(const struct keyproto_keyref *k)
{
	must(memchr(k->selector, '\0', sizeof(k->selector)) != NULL);
	must(memchr(k->tag, '\0', sizeof(k->tag)) != NULL);
	must(memchr(k->file, '\0', sizeof(k->file)) != NULL);
}

/* What a taken record promises. */
static void
check_taken(const union keyproto_msg *m, size_t size)
{
	must(size == keyproto_size(m->hdr.type) && m->hdr.size == size);
	switch (m->hdr.type) {
	case KEYPROTO_SIGN:
		check_keyref(&m->sign.key);
		must(m->sign.digest_len > 0 && m->sign.digest_len <= KEYPROTO_DIGEST_MAX);
		must(m->sign.scheme < KEYPROTO_SCHEME_END && m->sign.md < KEYPROTO_MD_END);
		must(memchr(m->sign.key_uri, '\0', sizeof(m->sign.key_uri)) != NULL);
		break;
	case KEYPROTO_PUBLIC:
	case KEYPROTO_MATERIALIZE:
		check_keyref(&m->public_.key);
		break;
	case KEYPROTO_GRANT:
		must(strlen(m->grant.endpoint) < sizeof(m->grant.endpoint));
		must(strlen(m->grant.selectors) < sizeof(m->grant.selectors));
		break;
	case KEYPROTO_PUBKEY:
		must((size_t)m->pubkey.pub_len + m->pubkey.cert_len <= KEYPROTO_BLOB_MAX);
		break;
	case KEYPROTO_SIGNATURE:
		must(m->signature.len <= KEYPROTO_SIG_MAX);
		break;
	case KEYPROTO_ERROR:
		must(strlen(m->error.reason) < sizeof(m->error.reason));
		break;
	case KEYPROTO_REPORT:
		check_keyref(&m->report.key);
		must(strlen(m->report.reason) < sizeof(m->report.reason));
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static union keyproto_msg m;
	char why[256];

	if (size < 1 || size - 1 > sizeof(m))
		return 0;
	memset(&m, 0, sizeof(m));
	memcpy(&m, data + 1, size - 1);
	if (keyproto_check(&m, size - 1, data[0] & 1, why, sizeof(why)) == 0)
		check_taken(&m, size - 1);
	else
		must(why[0] != '\0' && memchr(why, '\0', sizeof(why)) != NULL);
	return 0;
}
