/* SPDX-License-Identifier: MIT */
/*
 * keypkcs11.h: keys on a hardware token, in the key process only.
 *
 * The key process loads the PKCS#11 module DIGSIGSERVER_PKCS11_MODULE
 * itself (dlopen), logs in with the PIN it read once at start
 * (DIGSIGSERVER_PKCS11_PIN_FILE, or upstream's
 * DIGSIGSERVER_YUBIHSM_PASSWORD taken out of the environment by main()),
 * and keeps at most DIGSIGSERVER_PKCS11_SESSIONS sessions open, which
 * the sign threads check out and in.  A key is named by a pkcs11: URI
 * (lib/p11uri.h), found on every use (a token may be swapped).  Errors:
 * 503 when the module, the token or the object cannot be reached now (the
 * next request tries again, re-initializing the module after a device
 * error), 500 for a wrong PIN (logged once and not tried again until
 * SIGHUP: tokens lock after a few) and for a key that cannot make the
 * signature asked for.  Thread-safe.
 */
#ifndef DSS_KEYPKCS11_H
#define DSS_KEYPKCS11_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "p11uri.h"

struct config;

/* main(): move DIGSIGSERVER_YUBIHSM_PASSWORD out of the environment (so
 * no child inherits it) and out of every log line. */
void kp11_take_env_pin(void);
/* Wipe the PIN this process holds (a worker, born of the supervisor that
 * took it from the environment). */
void kp11_forget_pin(void);
/* The key process, after dropping privileges: read the PIN file. */
void kp11_init(const struct config *cfg);
/* Then, before it locks its memory against execution (proc.h): load the
 * module when one is configured (dlopen; it is initialized when first
 * used).  A failure is logged, and loading is tried again on first use.
 * 1 when a module was loaded. */
int kp11_load(void);
/* The PIN this process holds, NUL-terminated, into out: its length, or
 * -1 when there is none (or it does not fit).  For a tool that logs in
 * itself (NXP's cst for /sign/imx, keyproto.h KEYPROTO_PIN_FILE). */
int kp11_pin(char *out, size_t outlen);
/* 1 when a module is configured. */
int kp11_configured(void);
/*
 * The public key of the private key u names (from the token: the key's
 * public-key info, the public-key object or certificate with its label
 * or id, or an RSA key's modulus).  0, or a status with a reason.
 */
int kp11_public(const struct p11uri *u, EVP_PKEY **pub, char *err, size_t errlen);
/*
 * keys_sign_digest (keysign.h) for a key on the token; pub is its public
 * key (for the scheme BY_KEY picks and RSA-PSS salt lengths).  0, or a
 * status with a reason.
 */
int kp11_sign(const struct p11uri *u, EVP_PKEY *pub, uint32_t scheme, int saltlen, uint32_t md,
	      const unsigned char *digest, size_t dlen, unsigned char *sig, size_t *siglen,
	      char *err, size_t errlen);
/* SIGHUP: forget a wrong PIN, close every session, finalize the module
 * (the next request initializes it again). */
void kp11_reset(void);
/*
 * --check-config: every reference <selector>/<tag>/<name>.pkcs11 of a
 * file:// store, and whether it resolves on the token (the PIN read as
 * the key process reads it, never printed).  -1 when one is malformed.
 */
int kp11_check_store(const struct config *cfg, FILE *out);
/* The key process, once ready: the same check in a thread of its own
 * (a slow token delays nothing), into the log, so that a token absent
 * or a wrong PIN is said at start, not at the first request. */
void kp11_probe(const struct config *cfg);
/* For /status and logs: "off", "ready", "unavailable", "no PIN" or
 * "wrong PIN". */
const char *kp11_state(void);
/* Requests for keys on the token answered 503 since the start. */
uint64_t kp11_unavailable(void);

#endif
