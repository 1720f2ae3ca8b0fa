/* SPDX-License-Identifier: MIT */
/*
 * keypkcs11.c: keys on a hardware token (keypkcs11.h).
 *
 * One module for the process.  The pool: n_open sessions exist, n_out of
 * them are with a sign thread, the others wait in idle[].  A session is
 * opened only while n_open < DIGSIGSERVER_PKCS11_SESSIONS, else a thread
 * waits for one to come back.  Every session of an application shares
 * the token's login, which lasts while one session is open: each new
 * session logs in and takes CKR_USER_ALREADY_LOGGED_IN as success.  A
 * device error marks the module broken: sessions coming back are closed,
 * and once none is out the next request finalizes and initializes it
 * again (a token that was unplugged is found anew).
 */
#include "keypkcs11.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include <p11-kit/pkcs11.h>

#include "config.h"
#include "keyproto.h"
#include "keystore.h"
#include "log.h"
#include "pkey.h"
#include "scheme.h"
#include "util.h"

#define PIN_MAX 256
#define SESSIONS_MAX 1024 /* as the setting's range */
#define ENV_PIN "DIGSIGSERVER_YUBIHSM_PASSWORD"

struct session {
	CK_SESSION_HANDLE h;
	CK_SLOT_ID slot;
	/* the private key this session found last, and the URI it found it
	 * by: a module job signs thousands of times with one key */
	int has_key;
	struct p11uri key_uri;
	CK_OBJECT_HANDLE key;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* all below */
static pthread_cond_t back = PTHREAD_COND_INITIALIZER;   /* a session came back */
static const struct config *cfg;
static void *module;
static CK_FUNCTION_LIST_PTR fl;
static int initialized, broken, pin_bad;
static int opening; /* a thread opens a session and logs in: one at a time,
		     * so that a wrong PIN is tried once */
static char pin[PIN_MAX];
static size_t pin_len;
static int have_pin;
static struct session idle[SESSIONS_MAX];
static size_t n_idle, n_open, n_out;
/* The cleansed "NAME=" string unsetenv drops from environ: kept reachable
 * (proc_title_init made it; volatile, as nothing reads it). */
static char *volatile env_dropped;
static uint64_t n_unavailable;

void
kp11_take_env_pin(void)
{
	char *v = getenv(ENV_PIN);
	size_t n;

	if (v == NULL)
		return;
	env_dropped = v - strlen(ENV_PIN "=");
	n = strlen(v);
	if (n < sizeof(pin)) {
		memcpy(pin, v, n);
		pin_len = n;
		have_pin = 1;
		log_redact(pin);
	}
	OPENSSL_cleanse(v, n);
	if (unsetenv(ENV_PIN) < 0)
		fatal("unsetenv");
}

void
kp11_forget_pin(void)
{
	util_wipe(pin, sizeof(pin));
	if (pin_len != 0 || have_pin) {
		pin_len = 0;
		have_pin = 0;
	}
}

/* Read the PIN file once: its first line. */
static void
read_pin_file(const char *path)
{
	char buf[PIN_MAX];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		log_errorx("DIGSIGSERVER_PKCS11_PIN_FILE %s: %s", path, strerror(errno));
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		log_errorx("DIGSIGSERVER_PKCS11_PIN_FILE %s: %s", path, strerror(errno));
		return;
	}
	buf[n] = '\0';
	pin_len = strcspn(buf, "\r\n");
	memcpy(pin, buf, pin_len);
	pin[pin_len] = '\0';
	OPENSSL_cleanse(buf, sizeof(buf));
	have_pin = 1;
	log_redact(pin);
}

void
kp11_init(const struct config *c)
{
	cfg = c;
	/* read without a module too: /sign/imx hands the PIN to NXP's cst,
	 * whose own PKCS#11 engine logs in (kp11_pin) */
	if (cfg->pkcs11_pin_file != NULL && cfg->pkcs11_pin_file[0] != '\0')
		read_pin_file(cfg->pkcs11_pin_file);
	if (cfg->pkcs11_module == NULL || cfg->pkcs11_module[0] == '\0')
		return;
	if (!have_pin)
		log_warnx("no PIN for the token (DIGSIGSERVER_PKCS11_PIN_FILE): keys on it will "
			  "not sign");
}

int
kp11_pin(char *out, size_t outlen)
{
	if (!have_pin || pin_len >= outlen)
		return -1;
	memcpy(out, pin, pin_len);
	out[pin_len] = '\0';
	return (int)pin_len;
}

int
kp11_configured(void)
{
	return cfg != NULL && cfg->pkcs11_module != NULL && cfg->pkcs11_module[0] != '\0';
}

/* Errors after which the module is initialized again. */
static int
device_gone(CK_RV rv)
{
	return rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_ERROR ||
	       rv == CKR_CRYPTOKI_NOT_INITIALIZED || rv == CKR_TOKEN_NOT_RECOGNIZED ||
	       rv == CKR_GENERAL_ERROR || rv == CKR_DEVICE_MEMORY;
}

/* Errors after which just this session is dropped. */
static int
session_gone(CK_RV rv)
{
	return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || device_gone(rv);
}

/* Load the module and take its function list, once (lock held); 0 or
 * -1 with err. */
static int
module_load(char *err, size_t errlen)
{
	CK_C_GetFunctionList get;

	if (module != NULL)
		return 0;
	if ((module = dlopen(cfg->pkcs11_module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		log_errorx("PKCS#11 module %s: %s", cfg->pkcs11_module, dlerror());
		snprintf(err, errlen, "the PKCS#11 module does not load");
		return -1;
	}
	get = (CK_C_GetFunctionList)dlsym(module, "C_GetFunctionList");
	if (get == NULL || get(&fl) != CKR_OK || fl == NULL) {
		log_errorx("PKCS#11 module %s: no function list", cfg->pkcs11_module);
		dlclose(module);
		module = NULL;
		snprintf(err, errlen, "the PKCS#11 module does not load");
		return -1;
	}
	return 0;
}

int
kp11_load(void)
{
	char err[128];
	int ok;

	if (!kp11_configured())
		return 0;
	pthread_mutex_lock(&lock);
	if ((ok = module_load(err, sizeof(err)) == 0))
		log_debug("PKCS#11 module %s loaded", cfg->pkcs11_module);
	pthread_mutex_unlock(&lock);
	return ok;
}

/* Load the module and initialize it (lock held); 0 or -1 with err. */
static int
module_up(char *err, size_t errlen)
{
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_RV rv;

	if (module_load(err, errlen) < 0)
		return -1;
	rv = fl->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		log_errorx("PKCS#11 C_Initialize: 0x%lx", (unsigned long)rv);
		snprintf(err, errlen, "the PKCS#11 module does not initialize");
		return -1;
	}
	initialized = 1;
	broken = 0;
	log_info("PKCS#11 module %s initialized", cfg->pkcs11_module);
	return 0;
}

/* Close the idle sessions and finalize the module (lock held, none out). */
static void
module_down(void)
{
	while (n_idle > 0) {
		fl->C_CloseSession(idle[--n_idle].h);
		n_open--;
	}
	if (initialized)
		fl->C_Finalize(NULL);
	initialized = 0;
}

/* Copy a blank-padded token field into a C string. */
static void
field(char *out, const unsigned char *in, size_t n)
{
	while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\0'))
		n--;
	memcpy(out, in, n);
	out[n] = '\0';
}

static int
token_matches(const struct p11uri *u, const CK_TOKEN_INFO *ti)
{
	char label[33], manuf[33], model[17], serial[17];

	field(label, ti->label, sizeof(ti->label));
	field(manuf, ti->manufacturerID, sizeof(ti->manufacturerID));
	field(model, ti->model, sizeof(ti->model));
	field(serial, ti->serialNumber, sizeof(ti->serialNumber));
	return (u->token[0] == '\0' || strcmp(u->token, label) == 0) &&
	       (u->manufacturer[0] == '\0' || strcmp(u->manufacturer, manuf) == 0) &&
	       (u->model[0] == '\0' || strcmp(u->model, model) == 0) &&
	       (u->serial[0] == '\0' || strcmp(u->serial, serial) == 0) &&
	       (ti->flags & CKF_TOKEN_INITIALIZED);
}

/* The slot holding the token u names; 0, or -1 (absent) with *rv. */
static int
find_slot(const struct p11uri *u, CK_SLOT_ID *slot, CK_RV *rv)
{
	CK_SLOT_ID ids[64];
	CK_ULONG n = sizeof(ids) / sizeof(ids[0]);
	CK_TOKEN_INFO ti;

	if ((*rv = fl->C_GetSlotList(CK_TRUE, ids, &n)) != CKR_OK)
		return -1;
	for (CK_ULONG i = 0; i < n; i++) {
		if (fl->C_GetTokenInfo(ids[i], &ti) == CKR_OK && token_matches(u, &ti)) {
			*slot = ids[i];
			return 0;
		}
	}
	*rv = CKR_TOKEN_NOT_PRESENT;
	return -1;
}

/* Open a session on slot and log in (lock not held); the CK_RV. */
static CK_RV
session_open(CK_SLOT_ID slot, CK_SESSION_HANDLE *h)
{
	CK_RV rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, h);

	if (rv != CKR_OK)
		return rv;
	rv = fl->C_Login(*h, CKU_USER, (CK_UTF8CHAR_PTR)pin, pin_len);
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	if (rv != CKR_OK)
		fl->C_CloseSession(*h);
	return rv;
}

static int
is_pin_error(CK_RV rv)
{
	return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_INVALID ||
	       rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_EXPIRED;
}

/* The operator's PIN is wrong: said once, then every request is refused
 * until SIGHUP (lock held). */
static void
pin_failed(CK_RV rv)
{
	if (!pin_bad)
		log_errorx(
		    "PKCS#11 login refused (0x%lx): the PIN (DIGSIGSERVER_PKCS11_PIN_FILE or "
		    "DIGSIGSERVER_YUBIHSM_PASSWORD) is wrong or locked; not trying again until "
		    "SIGHUP or a restart "
		    "(tokens lock after a few wrong PINs)",
		    (unsigned long)rv);
	pin_bad = 1;
}

/* Get a session on the token u names (lock held): 0, or a status. */
static int
take_session(const struct p11uri *u, struct session *s, char *err, size_t errlen)
{
	CK_RV rv;

	for (;;) {
		if (pin_bad || !have_pin) {
			snprintf(err, errlen, "the token's PIN is %s",
				 pin_bad ? "wrong" : "not set");
			return 500;
		}
		if (broken && n_out > 0) {
			pthread_cond_wait(&back, &lock);
			continue;
		}
		if (broken)
			module_down();
		if (!initialized && module_up(err, errlen) < 0)
			return 503;
		if (find_slot(u, &s->slot, &rv) < 0) {
			broken = 1; /* found again after a re-initialization */
			snprintf(err, errlen, "the token is not present");
			return 503;
		}
		for (size_t i = 0; i < n_idle; i++) {
			if (idle[i].slot != s->slot)
				continue;
			*s = idle[i];
			idle[i] = idle[--n_idle];
			n_out++;
			return 0;
		}
		if (n_open < (size_t)cfg->pkcs11_sessions && opening) {
			pthread_cond_wait(&back, &lock);
			continue;
		}
		if (n_open < (size_t)cfg->pkcs11_sessions) {
			n_open++;
			n_out++;
			opening = 1;
			s->has_key = 0; /* a new session has found no key yet */
			pthread_mutex_unlock(&lock);
			rv = session_open(s->slot, &s->h);
			if (pthread_mutex_lock(&lock) != 0)
				fatalx("mutex");
			opening = 0;
			pthread_cond_broadcast(&back);
			if (rv == CKR_OK)
				return 0;
			n_open--;
			n_out--;
			pthread_cond_broadcast(&back);
			if (is_pin_error(rv)) {
				pin_failed(rv);
				snprintf(err, errlen, "the token's PIN is wrong");
				return 500;
			}
			log_errorx("PKCS#11 session: 0x%lx", (unsigned long)rv);
			broken |= device_gone(rv);
			snprintf(err, errlen, "no session on the token");
			return 503;
		}
		if (n_idle > 0) { /* another token's: make room */
			fl->C_CloseSession(idle[--n_idle].h);
			n_open--;
			continue;
		}
		pthread_cond_wait(&back, &lock);
	}
}

static int
checkout(const struct p11uri *u, struct session *s, char *err, size_t errlen)
{
	int st;

	if (!kp11_configured()) {
		/* the configuration's, for good: not a 503 clients retry */
		log_errorx("a key on a token, and no PKCS#11 module is configured "
			   "(DIGSIGSERVER_PKCS11_MODULE)");
		snprintf(err, errlen,
			 "no PKCS#11 module is configured (DIGSIGSERVER_PKCS11_MODULE)");
		return 500;
	}
	if (pthread_mutex_lock(&lock) != 0)
		fatalx("mutex");
	if ((st = take_session(u, s, err, errlen)) == 503)
		n_unavailable++;
	pthread_mutex_unlock(&lock);
	return st;
}

/* Give s back after a call that returned rv: kept, or closed when the
 * session or the device is gone. */
static void
checkin(const struct session *s, CK_RV rv)
{
	if (pthread_mutex_lock(&lock) != 0)
		fatalx("mutex");
	n_out--;
	if (session_gone(rv) || broken) {
		fl->C_CloseSession(s->h);
		n_open--;
		if (device_gone(rv) && !broken) {
			log_warnx("PKCS#11 device error 0x%lx: the module is initialized again",
				  (unsigned long)rv);
			broken = 1;
		}
	} else {
		idle[n_idle++] = *s;
	}
	pthread_cond_broadcast(&back);
	pthread_mutex_unlock(&lock);
}

/* The one object of class cls that u names; CKR_OK with *n objects found
 * (the first in *obj). */
static CK_RV
find_object(CK_SESSION_HANDLE h, const struct p11uri *u, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *obj,
	    CK_ULONG *n)
{
	CK_ATTRIBUTE t[3];
	CK_OBJECT_HANDLE found[2];
	CK_ULONG nt = 0;
	CK_RV rv;

	t[nt++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof(cls)};
	if (u->object[0] != '\0')
		t[nt++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)u->object, strlen(u->object)};
	if (u->id_len > 0)
		t[nt++] = (CK_ATTRIBUTE){CKA_ID, (void *)u->id, u->id_len};
	*n = 0;
	if ((rv = fl->C_FindObjectsInit(h, t, nt)) != CKR_OK)
		return rv;
	rv = fl->C_FindObjects(h, found, 2, n);
	fl->C_FindObjectsFinal(h);
	if (rv == CKR_OK && *n > 0)
		*obj = found[0];
	return rv;
}

/* An attribute's value, allocated (NUL-terminated for convenience);
 * NULL when absent. */
static unsigned char *
get_attr(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, size_t *len)
{
	CK_ATTRIBUTE a = {type, NULL, 0};
	unsigned char *v;

	if (fl->C_GetAttributeValue(h, o, &a, 1) != CKR_OK || a.ulValueLen == 0 ||
	    a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 1 << 20)
		return NULL;
	v = xmalloc(a.ulValueLen + 1);
	a.pValue = v;
	if (fl->C_GetAttributeValue(h, o, &a, 1) != CKR_OK) {
		free(v);
		return NULL;
	}
	v[a.ulValueLen] = '\0';
	*len = a.ulValueLen;
	return v;
}

/* An RSA public key from the object's modulus and exponent. */
static EVP_PKEY *
rsa_public(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
	size_t nlen = 0, elen = 0;
	unsigned char *n = get_attr(h, o, CKA_MODULUS, &nlen);
	unsigned char *e = get_attr(h, o, CKA_PUBLIC_EXPONENT, &elen);
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (n != NULL && e != NULL && bld != NULL && (bn = BN_bin2bn(n, (int)nlen, NULL)) &&
	    (be = BN_bin2bn(e, (int)elen, NULL)) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) &&
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) &&
	    EVP_PKEY_fromdata_init(ctx) > 0)
		EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return pkey;
}

/* The point of CKA_EC_POINT: a DER OCTET STRING, or (some modules) raw. */
static ASN1_OCTET_STRING *
ec_point(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
	size_t len = 0;
	unsigned char *v = get_attr(h, o, CKA_EC_POINT, &len);
	const unsigned char *p = v;
	ASN1_OCTET_STRING *os = NULL;

	if (v != NULL && (os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)len)) == NULL) {
		os = ASN1_OCTET_STRING_new();
		if (os != NULL && !ASN1_OCTET_STRING_set(os, v, (int)len)) {
			ASN1_OCTET_STRING_free(os);
			os = NULL;
		}
	}
	free(v);
	return os;
}

/* The curve of CKA_EC_PARAMS: a NID, NID_ED25519 also for the
 * "edwards25519" string form; NID_undef when unknown. */
static int
ec_curve(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
	size_t len = 0;
	unsigned char *v = get_attr(h, o, CKA_EC_PARAMS, &len);
	const unsigned char *p = v;
	ASN1_OBJECT *oid;
	int nid = NID_undef;

	if (v == NULL)
		return NID_undef;
	if ((oid = d2i_ASN1_OBJECT(NULL, &p, (long)len)) != NULL) {
		nid = OBJ_obj2nid(oid);
		ASN1_OBJECT_free(oid);
	} else if (len > 2 && memmem(v, len, "edwards25519", 12) != NULL) {
		nid = NID_ED25519;
	}
	free(v);
	return nid;
}

/* An EC or Ed25519 public key from the object's parameters and point. */
static EVP_PKEY *
ec_public(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
	int nid = ec_curve(h, o);
	ASN1_OCTET_STRING *pt = nid != NID_undef ? ec_point(h, o) : NULL;
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (pt == NULL)
		return NULL;
	if (nid == NID_ED25519) {
		pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pt->data,
						   (size_t)pt->length);
	} else {
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
							     (char *)OBJ_nid2sn(nid), 0);
		params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt->data,
							      (size_t)pt->length);
		params[2] = OSSL_PARAM_construct_end();
		if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) != NULL &&
		    EVP_PKEY_fromdata_init(ctx) > 0)
			EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
		EVP_PKEY_CTX_free(ctx);
	}
	ASN1_OCTET_STRING_free(pt);
	return pkey;
}

/* The public key of a key object (public or, for RSA, private). */
static EVP_PKEY *
key_public(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
	CK_KEY_TYPE kt;
	CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof(kt)};

	if (fl->C_GetAttributeValue(h, o, &a, 1) != CKR_OK)
		return NULL;
	if (kt == CKK_RSA)
		return rsa_public(h, o);
	if (kt == CKK_EC || kt == CKK_EC_EDWARDS)
		return ec_public(h, o);
	return NULL;
}

/* The public key of a certificate object. */
static EVP_PKEY *
cert_public(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
	size_t len = 0;
	unsigned char *der = get_attr(h, o, CKA_VALUE, &len);
	X509 *x = der != NULL ? pkey_load_cert(der, len) : NULL;
	EVP_PKEY *pkey = x != NULL ? X509_get_pubkey(x) : NULL;

	X509_free(x);
	free(der);
	return pkey;
}

/* The public half of private key priv, found the ways keypkcs11.h says. */
static EVP_PKEY *
public_of(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE priv, const struct p11uri *u)
{
	size_t len = 0;
	unsigned char *v = get_attr(h, priv, CKA_PUBLIC_KEY_INFO, &len);
	const unsigned char *p = v;
	EVP_PKEY *pkey = v != NULL ? d2i_PUBKEY(NULL, &p, (long)len) : NULL;
	CK_OBJECT_HANDLE o;
	CK_ULONG n;

	free(v);
	if (pkey == NULL && find_object(h, u, CKO_PUBLIC_KEY, &o, &n) == CKR_OK && n == 1)
		pkey = key_public(h, o);
	if (pkey == NULL && find_object(h, u, CKO_CERTIFICATE, &o, &n) == CKR_OK && n == 1)
		pkey = cert_public(h, o);
	if (pkey == NULL)
		pkey = key_public(h, priv); /* RSA private keys show n and e */
	return pkey;
}

/* Find the private key u names in s: 0, or a status with err. */
static int
private_key(const struct session *s, const struct p11uri *u, CK_OBJECT_HANDLE *o, CK_RV *rv,
	    char *err, size_t errlen)
{
	CK_ULONG n = 0;

	if ((*rv = find_object(s->h, u, CKO_PRIVATE_KEY, o, &n)) != CKR_OK) {
		snprintf(err, errlen, "searching the token failed");
		return session_gone(*rv) ? 503 : 500;
	}
	if (n != 1) {
		snprintf(err, errlen,
			 n == 0 ? "no such private key on the token"
				: "the URI names more than one private key");
		return n == 0 ? 503 : 500;
	}
	return 0;
}

/* private_key, from s's cache when u names the key it found last. */
static int
private_key_cached(struct session *s, const struct p11uri *u, CK_OBJECT_HANDLE *o, CK_RV *rv,
		   char *err, size_t errlen)
{
	int st;

	if (s->has_key && p11uri_matches(u, &s->key_uri) && p11uri_matches(&s->key_uri, u)) {
		*o = s->key;
		return 0;
	}
	s->has_key = 0;
	if ((st = private_key(s, u, o, rv, err, errlen)) == 0) {
		s->key_uri = *u;
		s->key = *o;
		s->has_key = 1;
	}
	return st;
}

int
kp11_public(const struct p11uri *u, EVP_PKEY **pub, char *err, size_t errlen)
{
	struct session s;
	CK_OBJECT_HANDLE o;
	CK_RV rv = CKR_OK;
	int st;

	*pub = NULL;
	if ((st = checkout(u, &s, err, errlen)) != 0)
		return st;
	if ((st = private_key(&s, u, &o, &rv, err, errlen)) == 0 &&
	    (*pub = public_of(s.h, o, u)) == NULL) {
		snprintf(err, errlen, "the token has no public key for it");
		st = 500;
	}
	checkin(&s, rv);
	return st;
}

static int
md_nid(uint32_t md)
{
	switch (md) {
	case KEYPROTO_MD_SHA1:
		return NID_sha1;
	case KEYPROTO_MD_SHA256:
		return NID_sha256;
	case KEYPROTO_MD_SHA384:
		return NID_sha384;
	case KEYPROTO_MD_SHA512:
		return NID_sha512;
	}
	return NID_undef;
}

/* PSS: the hash and MGF1 mechanisms of md; 0 or -1. */
static int
pss_mechs(uint32_t md, CK_MECHANISM_TYPE *hash, CK_RSA_PKCS_MGF_TYPE *mgf)
{
	static const struct {
		uint32_t md;
		CK_MECHANISM_TYPE hash;
		CK_RSA_PKCS_MGF_TYPE mgf;
	} t[] = {
	    {KEYPROTO_MD_SHA1, CKM_SHA_1, CKG_MGF1_SHA1},
	    {KEYPROTO_MD_SHA256, CKM_SHA256, CKG_MGF1_SHA256},
	    {KEYPROTO_MD_SHA384, CKM_SHA384, CKG_MGF1_SHA384},
	    {KEYPROTO_MD_SHA512, CKM_SHA512, CKG_MGF1_SHA512},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].md == md) {
			*hash = t[i].hash;
			*mgf = t[i].mgf;
			return 0;
		}
	}
	return -1;
}

/* DER DigestInfo(md, digest) into out (room for 128 bytes); its length or -1. */
static int
digest_info(uint32_t md, const unsigned char *dg, size_t dlen, unsigned char *out)
{
	X509_SIG *xs = X509_SIG_new();
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *os;
	unsigned char *der = NULL;
	int n = -1;

	if (xs == NULL || md_nid(md) == NID_undef)
		goto done;
	X509_SIG_getm(xs, &alg, &os);
	if (!X509_ALGOR_set0(alg, OBJ_nid2obj(md_nid(md)), V_ASN1_NULL, NULL) ||
	    !ASN1_OCTET_STRING_set(os, dg, (int)dlen))
		goto done;
	if ((n = i2d_X509_SIG(xs, &der)) > 0 && n <= 128)
		memcpy(out, der, (size_t)n);
	else
		n = -1;
done:
	OPENSSL_free(der);
	X509_SIG_free(xs);
	return n;
}

/* The salt length OpenSSL would use for saltlen with key pub. */
static CK_ULONG
pss_salt(int saltlen, EVP_PKEY *pub, size_t dlen)
{
	int em = (EVP_PKEY_get_bits(pub) - 1 + 7) / 8;

	if (saltlen >= 0)
		return (CK_ULONG)saltlen;
	if (saltlen == -1)
		return dlen;
	return em > (int)dlen + 2 ? (CK_ULONG)(em - (int)dlen - 2) : 0; /* -2 and -3: the most */
}

/* A token's ECDSA signature r||s (len bytes) as DER into sig; 0 or -1. */
static int
ecdsa_der(const unsigned char *rs, size_t len, unsigned char *sig, size_t *siglen)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, (int)(len / 2), NULL);
	BIGNUM *s = BN_bin2bn(rs + len / 2, (int)(len / 2), NULL);
	unsigned char *der = NULL;
	int n = -1;

	if (es != NULL && r != NULL && s != NULL && len % 2 == 0 && ECDSA_SIG_set0(es, r, s)) {
		r = s = NULL;
		n = i2d_ECDSA_SIG(es, &der);
	}
	if (n > 0 && (size_t)n <= *siglen) {
		memcpy(sig, der, (size_t)n);
		*siglen = (size_t)n;
	} else {
		n = -1;
	}
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return n > 0 ? 0 : -1;
}

struct request {
	CK_MECHANISM mech;
	CK_RSA_PKCS_PSS_PARAMS pss;
	unsigned char data[KEYPROTO_DIGEST_MAX + 64];
	CK_ULONG len;
};

/* The mechanism and the data to sign for scheme; 0 or -1 with err. */
static int
prepare(struct request *r, EVP_PKEY *pub, uint32_t scheme, int saltlen, uint32_t md,
	const unsigned char *dg, size_t dlen, char *err, size_t errlen)
{
	int n;

	memset(r, 0, sizeof(*r));
	memcpy(r->data, dg, dlen);
	r->len = dlen;
	switch (scheme) {
	case KEYPROTO_RSA_PKCS1:
		if ((n = digest_info(md, dg, dlen, r->data)) < 0)
			break;
		r->len = (CK_ULONG)n;
		r->mech.mechanism = CKM_RSA_PKCS;
		return 0;
	case KEYPROTO_RSA_PSS:
		if (pss_mechs(md, &r->pss.hashAlg, &r->pss.mgf) < 0)
			break;
		r->pss.sLen = pss_salt(saltlen, pub, dlen);
		r->mech = (CK_MECHANISM){CKM_RSA_PKCS_PSS, &r->pss, sizeof(r->pss)};
		return 0;
	case KEYPROTO_ECDSA:
		r->mech.mechanism = CKM_ECDSA;
		return 0;
	case KEYPROTO_ED25519:
		r->mech.mechanism = CKM_EDDSA;
		return 0;
	}
	snprintf(err, errlen, "scheme %u with digest %u cannot be signed on the token", scheme, md);
	return -1;
}

/* The scheme BY_KEY means for pub; -1 for a key of another kind. */
static int
by_key(EVP_PKEY *pub, uint32_t *scheme)
{
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA)
		*scheme = KEYPROTO_RSA_PKCS1;
	else if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC)
		*scheme = KEYPROTO_ECDSA;
	else
		return -1;
	return 0;
}

/* C_SignInit and C_Sign with r on s into sig (ECDSA converted to DER). */
static CK_RV
sign_on(const struct session *s, CK_OBJECT_HANDLE key, struct request *r, uint32_t scheme,
	unsigned char *sig, size_t *siglen)
{
	unsigned char raw[KEYPROTO_SIG_MAX];
	CK_ULONG n = sizeof(raw);
	CK_RV rv;

	if ((rv = fl->C_SignInit(s->h, &r->mech, key)) != CKR_OK)
		return rv;
	if ((rv = fl->C_Sign(s->h, r->data, r->len, raw, &n)) != CKR_OK)
		return rv;
	if (scheme == KEYPROTO_ECDSA)
		return ecdsa_der(raw, n, sig, siglen) < 0 ? CKR_FUNCTION_FAILED : CKR_OK;
	if (n > *siglen)
		return CKR_BUFFER_TOO_SMALL;
	memcpy(sig, raw, n);
	*siglen = n;
	return CKR_OK;
}

int
kp11_sign(const struct p11uri *u, EVP_PKEY *pub, uint32_t scheme, int saltlen, uint32_t md,
	  const unsigned char *digest, size_t dlen, unsigned char *sig, size_t *siglen, char *err,
	  size_t errlen)
{
	struct request r;
	struct session s;
	CK_OBJECT_HANDLE key;
	CK_RV rv = CKR_OK;
	int st;

	if (scheme == KEYPROTO_BY_KEY && by_key(pub, &scheme) < 0) {
		snprintf(err, errlen, "the key is not an RSA or EC key");
		return 500;
	}
	if (dlen > KEYPROTO_DIGEST_MAX ||
	    prepare(&r, pub, scheme, saltlen, md, digest, dlen, err, errlen) < 0)
		return 500;
	memset(&s, 0, sizeof(s));
	if ((st = checkout(u, &s, err, errlen)) != 0)
		return st;
	if ((st = private_key_cached(&s, u, &key, &rv, err, errlen)) == 0 &&
	    (rv = sign_on(&s, key, &r, scheme, sig, siglen)) == CKR_KEY_HANDLE_INVALID) {
		/* the object went (a token re-provisioned): find it again, once */
		s.has_key = 0;
		if ((st = private_key_cached(&s, u, &key, &rv, err, errlen)) == 0)
			rv = sign_on(&s, key, &r, scheme, sig, siglen);
	}
	if (st == 0 && rv != CKR_OK) {
		snprintf(err, errlen, "the token's signature failed (0x%lx)", (unsigned long)rv);
		st = session_gone(rv) ? 503 : 500;
	}
	checkin(&s, rv);
	return st;
}

void
kp11_reset(void)
{
	if (!kp11_configured())
		return;
	if (pthread_mutex_lock(&lock) != 0)
		fatalx("mutex");
	pin_bad = 0;
	broken = 1; /* finalized once no session is out */
	pthread_mutex_unlock(&lock);
}

uint64_t
kp11_unavailable(void)
{
	uint64_t n;

	if (pthread_mutex_lock(&lock) != 0)
		fatalx("mutex");
	n = n_unavailable;
	pthread_mutex_unlock(&lock);
	return n;
}

const char *
kp11_state(void)
{
	const char *s;

	if (!kp11_configured())
		return "off";
	if (pthread_mutex_lock(&lock) != 0)
		fatalx("mutex");
	s = pin_bad                    ? "wrong PIN"
	    : !have_pin                ? "no PIN"
	    : (initialized && !broken) ? "ready"
				       : "unavailable";
	pthread_mutex_unlock(&lock);
	return s;
}

/* --check-config: one reference <dir>/<name>, as keycache.c reads it. */
static int
check_ref(const struct config *c, const char *sel, const char *tag, const char *name, FILE *out)
{
	struct ks_blob b = {0};
	struct p11uri u = {0};
	EVP_PKEY *pub = NULL;
	char err[KEYPROTO_REASON_MAX], canon[P11URI_MAX], text[P11URI_MAX + 1];
	size_t n;
	int st;

	if (ks_load(c, sel, tag, name, &b, err, sizeof(err)) != 0) {
		fprintf(out, "error: token reference %s/%s/%s: %s\n", sel, tag, name, err);
		return -1;
	}
	for (n = b.len; n > 0 && strchr("\r\n ", b.data[n - 1]) != NULL; n--)
		;
	snprintf(text, sizeof(text), "%.*s", (int)(n < P11URI_MAX ? n : P11URI_MAX), b.data);
	ks_blob_free(&b);
	if (n > P11URI_MAX || p11uri_parse(text, &u, err, sizeof(err)) < 0 || u.has_pin) {
		fprintf(out, "error: token reference %s/%s/%s: %s\n", sel, tag, name,
			u.has_pin        ? "holds a PIN"
			: n > P11URI_MAX ? "too long"
					 : err);
		return -1;
	}
	if (p11uri_format(&u, canon, sizeof(canon)) < 0)
		snprintf(canon, sizeof(canon), "pkcs11:...");
	if ((st = kp11_public(&u, &pub, err, sizeof(err))) != 0) {
		fprintf(out, "# warning: token reference %s/%s/%s (%s) does not resolve: %s\n", sel,
			tag, name, canon, err);
		return 0;
	}
	fprintf(out, "token reference %s/%s/%s (%s) resolves: %s %d bits\n", sel, tag, name, canon,
		EVP_PKEY_get0_type_name(pub), EVP_PKEY_get_bits(pub));
	EVP_PKEY_free(pub);
	return 0;
}

/* Entries of dir (sorted), but "." and ".."; scandir's, freed by the caller. */
static int
entries_of(const char *dir, struct dirent ***list)
{
	return scandir(dir, list, NULL, alphasort);
}

static int
dots(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* The references in one <root>/<sel>/<tag> directory. */
static int
check_tag(const struct config *c, const char *root, const char *sel, const char *tag, FILE *out)
{
	struct dirent **files;
	char dir[4096];
	int n, bad = 0;
	size_t len;

	snprintf(dir, sizeof(dir), "%s/%s/%s", root, sel, tag);
	if ((n = entries_of(dir, &files)) < 0)
		return 0;
	for (int i = 0; i < n; i++) {
		len = strlen(files[i]->d_name);
		if (len > 7 && strcmp(files[i]->d_name + len - 7, ".pkcs11") == 0 &&
		    check_ref(c, sel, tag, files[i]->d_name, out) < 0)
			bad = 1;
		free(files[i]);
	}
	free(files);
	return bad;
}

/* The probe's thread: kp11_check_store into the log, line by line. */
static void *
probe(void *arg)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL) {
		log_warnx("probing the token references: %s", strerror(errno));
		return NULL;
	}
	kp11_check_store(arg, f);
	fclose(f);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "error: ", 7) == 0 || strncmp(line, "# warning: ", 11) == 0)
			log_warnx("%s", strchr(line, ' ') + 1);
		else
			log_info("%s", line);
	free(text);
	return NULL;
}

void
kp11_probe(const struct config *c)
{
	pthread_t th;
	int e;

	if (!kp11_configured() || uri_scheme(c->keyfile_uri, NULL) == URI_S3)
		return;
	if ((e = pthread_create(&th, NULL, probe, (void *)c)) != 0) {
		log_warnx("probing the token references: %s", strerror(e));
		return;
	}
	pthread_detach(th);
}

int
kp11_check_store(const struct config *c, FILE *out)
{
	const char *root = NULL;
	struct dirent **sels, **tags;
	char dir[4096];
	int ns, nt, bad = 0;

	if (uri_scheme(c->keyfile_uri, &root) == URI_S3) {
		fprintf(out, "token references in an s3:// store are checked when first used\n");
		return 0;
	}
	if (cfg == NULL)
		kp11_init(c);
	if ((ns = entries_of(root, &sels)) < 0)
		return 0; /* ks_check_access says why */
	for (int i = 0; i < ns; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", root, sels[i]->d_name);
		if (!dots(sels[i]->d_name) && (nt = entries_of(dir, &tags)) >= 0) {
			for (int j = 0; j < nt; j++) {
				if (!dots(tags[j]->d_name) &&
				    check_tag(c, root, sels[i]->d_name, tags[j]->d_name, out) != 0)
					bad = 1;
				free(tags[j]);
			}
			free(tags);
		}
		free(sels[i]);
	}
	free(sels);
	if (kp11_configured())
		fprintf(out, "token: %s\n", kp11_state());
	return bad ? -1 : 0;
}
