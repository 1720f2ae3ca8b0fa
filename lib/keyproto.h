/* SPDX-License-Identifier: MIT */
/*
 * keyproto.h: the key process's contract (keys/keyproc.c).
 *
 * The key process is the only process that reads the key store and holds
 * private keys.  It talks over SOCK_SEQPACKET socketpairs in small
 * fixed-size typed records, one per datagram, every one starting with
 * struct keyproto_hdr (type, exact size, an id).  The receiver checks the
 * type, the size, every string's terminator, every length and the
 * descriptor a record must or must not carry (keyproto_check) before it
 * uses the record; a peer that sends anything else is cut off.
 *
 * Two kinds of channel:
 *
 *   supervisor <-> key process (the key process's PROTO_CHANNEL_FD)
 *     sup -> keys   KEYPROTO_GRANT    a job's endpoint and the client's
 *                                     selector globs, with the job's key
 *                                     channel (SCM_RIGHTS); id = job id
 *     keys -> sup   KEYPROTO_READY    started, privileges dropped
 *                   KEYPROTO_REPORT   one key operation (a signature with
 *                                     key fingerprint and digest, or a
 *                                     refusal) and the running counters
 *
 *   worker <-> key process: one channel per JOB (the supervisor makes the
 *   pair when it hands the job over; the worker closes its end at the end
 *   of the job, and the key process forgets the grant with it)
 *     worker -> keys  KEYPROTO_SIGN         sign a digest with a key
 *                     KEYPROTO_PUBLIC       a key's public half (+ cert)
 *                     KEYPROTO_MATERIALIZE  the key file's bytes in a
 *                                           sealed memfd (only for the
 *                                           pairs of a fixed table)
 *     keys -> worker  KEYPROTO_SIGNATURE    the raw signature
 *                     KEYPROTO_PUBKEY       DER SubjectPublicKeyInfo, then
 *                                           the certificate's DER if any
 *                     KEYPROTO_MATERIAL     with the memfd (SCM_RIGHTS)
 *                     KEYPROTO_ERROR        an HTTP-like status (404 no such
 *                                           key, 403 outside the grant, 500,
 *                                           503 store unreachable) and a
 *                                           one-line reason
 *   Requests carry a request id (hdr.id) the answer repeats: a worker may
 *   have several requests out at once (module signing on several threads)
 *   and answers may come in any order.
 */
#ifndef DSS_KEYPROTO_H
#define DSS_KEYPROTO_H

#include <stddef.h>
#include <stdint.h>

#define KEYPROTO_ENDPOINT_MAX 32
#define KEYPROTO_SELECTOR_MAX 128 /* as PROTO_TEXT_MAX */
#define KEYPROTO_NAME_MAX 64      /* a key tag or a file name */
#define KEYPROTO_GLOBS_MAX 1024   /* a grant's comma-separated selector globs */
#define KEYPROTO_DIGEST_MAX 64    /* SHA-512 */
#define KEYPROTO_SIG_MAX 2048     /* RSA-16384 */
#define KEYPROTO_BLOB_MAX 16384   /* public key DER + certificate DER */
#define KEYPROTO_REASON_MAX 384   /* room for a key name in full */
#define KEYPROTO_SALT_MAX 1024    /* RSA-PSS salt length, bytes */
#define KEYPROTO_URI_MAX 1032     /* a client's pkcs11: URI (P11URI_MAX) */

/*
 * The token's PIN, for /sign/imx with backend=pkcs11 only (NXP's cst logs
 * in itself with the PIN its CSF carries): MATERIALIZE of
 * <selector>/imxsign/pkcs11-pin answers the PIN the key process holds
 * (DIGSIGSERVER_PKCS11_PIN_FILE or DIGSIGSERVER_YUBIHSM_PASSWORD), never a
 * file of the store; allowed by the grant table to that endpoint alone
 * (keys/keygrant.c) and reported to the audit trail like every key.
 */
#define KEYPROTO_PIN_TAG "imxsign"
#define KEYPROTO_PIN_FILE "pkcs11-pin"

enum keyproto_type {
	KEYPROTO_GRANT = 1,
	KEYPROTO_READY,
	KEYPROTO_REPORT,
	KEYPROTO_SIGN,
	KEYPROTO_PUBLIC,
	KEYPROTO_MATERIALIZE,
	KEYPROTO_SIGNATURE,
	KEYPROTO_PUBKEY,
	KEYPROTO_MATERIAL,
	KEYPROTO_ERROR,
	KEYPROTO_STORE, /* key process -> supervisor: the key store's probe */
	KEYPROTO_TYPE_END,
};

/* The signature schemes (the values of lib/pkey.h's enum sig_scheme). */
enum keyproto_scheme {
	KEYPROTO_RSA_PKCS1,
	KEYPROTO_RSA_PSS,
	KEYPROTO_ECDSA,   /* DER-encoded (r, s), as OpenSSL makes it */
	KEYPROTO_ED25519, /* "digest" is the whole message (at most 64 bytes) */
	KEYPROTO_BY_KEY,  /* what the key's type signs a digest with: PKCS#1 v1.5
			   * for RSA, ECDSA for EC (the original's `openssl dgst
			   * -sign`); refused for any other key */
	KEYPROTO_SCHEME_END,
};

enum keyproto_md {
	KEYPROTO_MD_NONE, /* Ed25519 only */
	KEYPROTO_MD_SHA1,
	KEYPROTO_MD_SHA256,
	KEYPROTO_MD_SHA384,
	KEYPROTO_MD_SHA512,
	KEYPROTO_MD_END,
};

struct keyproto_hdr {
	uint32_t type;
	uint32_t size; /* of the whole record */
	uint64_t id;   /* job id (GRANT, REPORT) or request id */
};

/* Which key: <store>/<selector>/<tag>/<file> (keystore.h). */
struct keyproto_keyref {
	char selector[KEYPROTO_SELECTOR_MAX];
	char tag[KEYPROTO_NAME_MAX];
	char file[KEYPROTO_NAME_MAX];
};

struct keyproto_grant {
	struct keyproto_hdr hdr;
	char endpoint[KEYPROTO_ENDPOINT_MAX]; /* the signer the job was routed to */
	uint32_t any_selector;                /* no access control: every selector */
	uint32_t pad;
	/* else these comma-separated fnmatch globs, as the client's line of
	 * the tokens file has them (tokens.h); "" grants no key */
	char selectors[KEYPROTO_GLOBS_MAX];
};

struct keyproto_ready {
	struct keyproto_hdr hdr;
};

struct keyproto_report {
	struct keyproto_hdr hdr;
	uint32_t status; /* 200 signed, else the ERROR status the worker got */
	uint32_t op;     /* KEYPROTO_SIGN, _PUBLIC or _MATERIALIZE */
	struct keyproto_keyref key;
	char key_sha256[65];                      /* hex of the public key's DER */
	char digest[2 * KEYPROTO_DIGEST_MAX + 1]; /* hex of what was signed */
	char reason[KEYPROTO_REASON_MAX];         /* of a refusal */
	uint64_t keys_cached, signatures, errors; /* the key process's counters */
	char token[16];             /* the PKCS#11 token: kp11_state() (keys/keypkcs11.h) */
	uint64_t token_unavailable; /* requests for token keys answered 503 */
};

/* The key process probed its key store (every STORE_PROBE_INTERVAL). */
struct keyproto_store {
	struct keyproto_hdr hdr;
	uint32_t ok;                      /* 1: it answered */
	char reason[KEYPROTO_REASON_MAX]; /* why not */
};

struct keyproto_sign {
	struct keyproto_hdr hdr;
	struct keyproto_keyref key;
	uint32_t scheme; /* enum keyproto_scheme */
	uint32_t md;     /* enum keyproto_md */
	int32_t saltlen; /* RSA-PSS: bytes, or OpenSSL's -1 (digest length), -2 (auto), -3 (max) */
	uint32_t digest_len;
	unsigned char digest[KEYPROTO_DIGEST_MAX];
	/* "", or the pkcs11: URI the client named the key by (swupdate's
	 * key-uri): the key must be the store's reference to a token object
	 * that fits it (p11uri_matches), else 403 */
	char key_uri[KEYPROTO_URI_MAX];
};

struct keyproto_public {
	struct keyproto_hdr hdr;
	struct keyproto_keyref key;
};

struct keyproto_materialize {
	struct keyproto_hdr hdr;
	struct keyproto_keyref key;
};

struct keyproto_signature {
	struct keyproto_hdr hdr;
	uint32_t len;
	char key_sha256[65]; /* hex SHA-256 of the signing key's public DER */
	unsigned char sig[KEYPROTO_SIG_MAX];
};

struct keyproto_pubkey {
	struct keyproto_hdr hdr;
	uint32_t pub_len;  /* DER SubjectPublicKeyInfo at data[0] */
	uint32_t cert_len; /* DER certificate after it, or 0 */
	unsigned char data[KEYPROTO_BLOB_MAX];
};

struct keyproto_material {
	struct keyproto_hdr hdr;
	uint64_t len; /* bytes in the memfd */
};

struct keyproto_error {
	struct keyproto_hdr hdr;
	uint32_t status;
	char reason[KEYPROTO_REASON_MAX];
};

union keyproto_msg {
	struct keyproto_hdr hdr;
	struct keyproto_grant grant;
	struct keyproto_ready ready;
	struct keyproto_report report;
	struct keyproto_sign sign;
	struct keyproto_public public_;
	struct keyproto_materialize materialize;
	struct keyproto_signature signature;
	struct keyproto_pubkey pubkey;
	struct keyproto_material material;
	struct keyproto_error error;
	struct keyproto_store store;
};

/* The size of a record of this type; 0 for an unknown type. */
size_t keyproto_size(uint32_t type);
/* Zero msg and fill its header for type. */
void keyproto_init(union keyproto_msg *msg, uint32_t type, uint64_t id);
/*
 * Check a received record of len bytes, which came with a descriptor
 * (have_fd) or not: a known type, the exact size, every string
 * NUL-terminated, every length and enum in range, a descriptor exactly
 * where the type needs one (GRANT, MATERIAL).  0, or -1 with the reason
 * in why.  Pure: the fuzz harness and the unit test call it directly.
 */
int keyproto_check(const void *msg, size_t len, int have_fd, char *why, size_t whylen);
/* Send one record (fd as SCM_RIGHTS when >= 0); 0 or -1. */
int keyproto_send(int sock, const union keyproto_msg *msg, int fd);
/*
 * Receive and check one record.  1 for a record (its descriptor in *fd,
 * else -1), 0 at end of stream, -1 on error or a bad record (errno EPROTO,
 * the descriptor closed, the reason in why).
 */
int keyproto_recv(int sock, union keyproto_msg *msg, int *fd, char *why, size_t whylen);
/* The names used in logs and /status ("SIGN"), and "?" for others. */
const char *keyproto_type_name(uint32_t type);
/* Digest length of md (0 for NONE or unknown). */
size_t keyproto_md_len(uint32_t md);

#endif
