/* SPDX-License-Identifier: MIT */
/*
 * p11uri.h: RFC 7512 "pkcs11:" URIs, as far as this project names keys
 * with them.
 *
 * A key store reference (keys/keycache.c) and upstream's swupdate field
 * key-uri name an object on a token by its token's label, manufacturer,
 * serial number and model, and by the object's label (object=), id (id=,
 * bytes) and class (type=).  Path attributes are separated by ';', query
 * attributes follow '?' separated by '&'; values are %-decoded.  The
 * library-* and slot-* attributes and vendor "x-" ones are accepted and
 * ignored (the module is DIGSIGSERVER_PKCS11_MODULE, the slot is found by
 * the token); module-name and module-path are refused (a URI does not
 * choose the module); any other attribute, a repeated one, a bad %-escape
 * or an over-long value is an error.  A PIN (pin-value, pin-source) is
 * noted, never kept: the key process logs in with its configured PIN.
 * Pure: the fuzz harness and the unit test call it directly.
 */
#ifndef DSS_P11URI_H
#define DSS_P11URI_H

#include <stddef.h>

#define P11URI_MAX 1024 /* longest URI text accepted */

struct p11uri {
	/* "" when absent; sizes are CK_TOKEN_INFO's fields plus a NUL */
	char token[33], manufacturer[33], serial[17], model[17];
	char object[256];      /* CKA_LABEL */
	unsigned char id[128]; /* CKA_ID */
	size_t id_len;         /* 0: no id= */
	char type[16];         /* "", private, public, cert, secret-key, data */
	int has_pin;           /* pin-value or pin-source was given (and dropped) */
};

/*
 * Parse text into u.  0, or -1 with a one-line reason in err.  A URI
 * must name an object (object= or id=).
 */
int p11uri_parse(const char *text, struct p11uri *u, char *err, size_t errlen);
/* 1 when the object have names fits want: every attribute want sets
 * (token, manufacturer, serial, model, object, id) have sets equal; a
 * URI that sets none of object and id fits nothing. */
int p11uri_matches(const struct p11uri *want, const struct p11uri *have);
/* Print u (without any PIN) into buf as a canonical URI; its length, or
 * -1 when it does not fit. */
int p11uri_format(const struct p11uri *u, char *buf, size_t len);

#endif
