/* SPDX-License-Identifier: MIT */
/*
 * manifest.h: the MANIFEST file of a Tegra signing request.
 *
 * A MANIFEST is UTF-8 text of KEY=VALUE lines, as the original server
 * reads it: lines end at "\n", "\r\n" or a lone "\r" (Python's universal
 * newlines), trailing white space is stripped, the key is the non-empty
 * text before the first '=', the value (possibly empty, possibly holding
 * '=') is the rest, and the last duplicate wins.  Any other line, an empty
 * one included, makes the whole file invalid.  NUL bytes are refused too:
 * the variables become a tool's environment.
 */
#ifndef DSS_MANIFEST_H
#define DSS_MANIFEST_H

#include <stddef.h>

#include "buf.h"

struct manifest_var {
	char *name;
	char *value;
};

struct manifest {
	struct manifest_var *vars; /* in order of first appearance: store's data */
	size_t n;
	struct buf store;	   /* owns vars */
};

/* Parse len bytes of buf into m (overwritten: free it first if it held a
 * parse).  0, or -1 with a one-line reason naming the line in err; m is
 * then empty. */
int manifest_parse(const char *buf, size_t len, struct manifest *m, char *err, size_t errlen);
/* The value of name, or NULL when absent. */
const char *manifest_get(const struct manifest *m, const char *name);
void manifest_free(struct manifest *m);

/*
 * 1 if a MANIFEST or BUPGENSPECS name may go into an external tool's
 * environment: a shell name ([A-Za-z_][A-Za-z0-9_]*) that is none of the
 * variables with which a client could make the dynamic linker, a shell,
 * Python, Perl or OpenSSL load code or files of its choosing (LD_*,
 * BASH_ENV, PYTHON*, ...), nor PATH and MACHINE, which the server sets.
 */
int manifest_env_name_ok(const char *name, size_t len);

#endif
