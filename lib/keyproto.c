/* SPDX-License-Identifier: MIT */
/*
 * keyproto.c: the key channel's records (keyproto.h): sizes, checks and
 * sending; the descriptor passing is proto.c's.
 */
#include "keyproto.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proto.h"

static const struct {
	const char *name;
	size_t size;
	int fd; /* the record carries a descriptor */
} types[KEYPROTO_TYPE_END] = {
    [KEYPROTO_GRANT] = {"GRANT", sizeof(struct keyproto_grant), 1},
    [KEYPROTO_READY] = {"READY", sizeof(struct keyproto_ready), 0},
    [KEYPROTO_REPORT] = {"REPORT", sizeof(struct keyproto_report), 0},
    [KEYPROTO_SIGN] = {"SIGN", sizeof(struct keyproto_sign), 0},
    [KEYPROTO_PUBLIC] = {"PUBLIC", sizeof(struct keyproto_public), 0},
    [KEYPROTO_MATERIALIZE] = {"MATERIALIZE", sizeof(struct keyproto_materialize), 0},
    [KEYPROTO_SIGNATURE] = {"SIGNATURE", sizeof(struct keyproto_signature), 0},
    [KEYPROTO_PUBKEY] = {"PUBKEY", sizeof(struct keyproto_pubkey), 0},
    [KEYPROTO_MATERIAL] = {"MATERIAL", sizeof(struct keyproto_material), 1},
    [KEYPROTO_ERROR] = {"ERROR", sizeof(struct keyproto_error), 0},
    [KEYPROTO_STORE] = {"STORE", sizeof(struct keyproto_store), 0},
};

size_t
keyproto_size(uint32_t type)
{
	return type > 0 && type < KEYPROTO_TYPE_END ? types[type].size : 0;
}

const char *
keyproto_type_name(uint32_t type)
{
	return type > 0 && type < KEYPROTO_TYPE_END ? types[type].name : "?";
}

size_t
keyproto_md_len(uint32_t md)
{
	switch (md) {
	case KEYPROTO_MD_SHA1:
		return 20;
	case KEYPROTO_MD_SHA256:
		return 32;
	case KEYPROTO_MD_SHA384:
		return 48;
	case KEYPROTO_MD_SHA512:
		return 64;
	}
	return 0;
}

void
keyproto_init(union keyproto_msg *msg, uint32_t type, uint64_t id)
{
	size_t size = keyproto_size(type);

	memset(msg, 0, size > sizeof(msg->hdr) ? size : sizeof(msg->hdr));
	msg->hdr.type = type;
	msg->hdr.size = (uint32_t)size;
	msg->hdr.id = id;
}

/* 1 when the fixed array s of size bytes holds a NUL-terminated string. */
static int
terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* The key names are strings; a request's are not empty either. */
static int
keyref_terminated(const struct keyproto_keyref *k)
{
	return terminated(k->selector, sizeof(k->selector)) && terminated(k->tag, sizeof(k->tag)) &&
	       terminated(k->file, sizeof(k->file));
}

static int
keyref_ok(const struct keyproto_keyref *k)
{
	return keyref_terminated(k) && k->selector[0] && k->tag[0] && k->file[0];
}

static int
grant_ok(const struct keyproto_grant *g)
{
	return terminated(g->endpoint, sizeof(g->endpoint)) &&
	       terminated(g->selectors, sizeof(g->selectors)) && g->any_selector <= 1;
}

static int
sign_ok(const struct keyproto_sign *s)
{
	size_t mdlen = keyproto_md_len(s->md);

	if (!keyref_ok(&s->key) || s->scheme >= KEYPROTO_SCHEME_END || s->md >= KEYPROTO_MD_END ||
	    s->digest_len == 0 || s->digest_len > KEYPROTO_DIGEST_MAX)
		return 0;
	if (s->saltlen < -3 || s->saltlen > KEYPROTO_SALT_MAX ||
	    !terminated(s->key_uri, sizeof(s->key_uri)))
		return 0;
	if (s->scheme == KEYPROTO_ED25519)
		return s->md == KEYPROTO_MD_NONE;
	return s->md != KEYPROTO_MD_NONE && s->digest_len == mdlen;
}

static int
report_ok(const struct keyproto_report *r)
{
	/* a report of a malformed record (op 0) names no key */
	return keyref_terminated(&r->key) && terminated(r->key_sha256, sizeof(r->key_sha256)) &&
	       terminated(r->digest, sizeof(r->digest)) &&
	       terminated(r->reason, sizeof(r->reason)) && terminated(r->token, sizeof(r->token)) &&
	       r->status >= 100 && r->status < 600;
}

/* The type-specific checks of a record of the right size; 1 when good. */
static int
body_ok(const union keyproto_msg *m)
{
	switch (m->hdr.type) {
	case KEYPROTO_GRANT:
		return grant_ok(&m->grant);
	case KEYPROTO_REPORT:
		return report_ok(&m->report);
	case KEYPROTO_SIGN:
		return sign_ok(&m->sign);
	case KEYPROTO_PUBLIC:
		return keyref_ok(&m->public_.key);
	case KEYPROTO_MATERIALIZE:
		return keyref_ok(&m->materialize.key);
	case KEYPROTO_SIGNATURE:
		return m->signature.len > 0 && m->signature.len <= KEYPROTO_SIG_MAX &&
		       terminated(m->signature.key_sha256, sizeof(m->signature.key_sha256));
	case KEYPROTO_PUBKEY:
		return m->pubkey.pub_len > 0 && m->pubkey.pub_len <= KEYPROTO_BLOB_MAX &&
		       m->pubkey.cert_len <= KEYPROTO_BLOB_MAX - m->pubkey.pub_len;
	case KEYPROTO_ERROR:
		return m->error.status >= 400 && m->error.status < 600 &&
		       terminated(m->error.reason, sizeof(m->error.reason));
	case KEYPROTO_STORE:
		return m->store.ok <= 1 && terminated(m->store.reason, sizeof(m->store.reason));
	}
	return 1; /* READY, MATERIAL: nothing but the header */
}

int
keyproto_check(const void *msg, size_t len, int have_fd, char *why, size_t whylen)
{
	struct keyproto_hdr hdr;
	size_t size;

	if (len < sizeof(hdr)) {
		snprintf(why, whylen, "record of %zu bytes, shorter than its header", len);
		return -1;
	}
	memcpy(&hdr, msg, sizeof(hdr));
	if ((size = keyproto_size(hdr.type)) == 0) {
		snprintf(why, whylen, "unknown record type %u", hdr.type);
		return -1;
	}
	if (hdr.size != len || len != size) {
		snprintf(why, whylen, "%s record of %zu bytes (header says %u, must be %zu)",
			 types[hdr.type].name, len, hdr.size, size);
		return -1;
	}
	if (have_fd != types[hdr.type].fd) {
		snprintf(why, whylen, "%s record %s a descriptor", types[hdr.type].name,
			 have_fd ? "with" : "without");
		return -1;
	}
	/* size checked: msg holds a whole record of its type; aligned, as
	 * every caller receives into a union keyproto_msg */
	if (!body_ok(msg)) {
		snprintf(why, whylen, "malformed %s record", types[hdr.type].name);
		return -1;
	}
	return 0;
}

int
keyproto_send(int sock, const union keyproto_msg *msg, int fd)
{
	struct iovec iov = {.iov_base = (void *)msg, .iov_len = keyproto_size(msg->hdr.type)};

	if (iov.iov_len == 0 || msg->hdr.size != iov.iov_len) {
		errno = EINVAL;
		return -1;
	}
	return proto_sendmsg(sock, &iov, 1, fd);
}

int
keyproto_recv(int sock, union keyproto_msg *msg, int *fd, char *why, size_t whylen)
{
	ssize_t n = proto_recvmsg(sock, msg, sizeof(*msg), fd);

	if (n < 0 && errno == EPROTO)
		snprintf(why, whylen, "truncated record or more than one descriptor");
	else if (n < 0)
		snprintf(why, whylen, "%s", strerror(errno));
	if (n <= 0)
		return (int)n;
	if (keyproto_check(msg, (size_t)n, *fd >= 0, why, whylen) < 0) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		errno = EPROTO;
		return -1;
	}
	return 1;
}
