/* SPDX-License-Identifier: MIT */
/*
 * flashvars.h: what a Tegra upload gives the flash helpers, read as data.
 *
 * meta-tegra's flash helpers source two files from their working
 * directory, which is the extracted upload: ./flashvars (the machine's
 * flash variables) and bsp_version; they take the MANIFEST variables from
 * their environment, and eval command lines that hold ODMDATA and flash
 * variable values unquoted.  So nothing of the upload may reach them as
 * code: each sourced file is parsed here as NAME=value lines (blank lines
 * and # comments allowed, values bare or in one pair of quotes, one
 * trailing ';'), with names from a fixed list (every variable meta-tegra's
 * flashvars files of L4T R32 to R38 set) and values of a strict syntax,
 * and the helper gets a copy written from the parsed values, every value
 * single-quoted.  A value holds only [A-Za-z0-9._,:+@/=-]; spaces only in
 * the "--option file" values some flash variables carry, and in FLASHVARS,
 * which lists names (each a known flash variable: the helpers eval them).
 */
#ifndef DSS_FLASHVARS_H
#define DSS_FLASHVARS_H

#include <stddef.h>

enum flashvars_file { FLASHVARS_FLASHVARS, FLASHVARS_BSP_VERSION };

/*
 * Parse len bytes of a sourced file and return, in *out (malloc'ed), the
 * text the helper gets instead.  0, or -1 with a one-line reason in err.
 */
int flashvars_rewrite(enum flashvars_file which, const char *buf, size_t len, char **out,
		      char *err, size_t errlen);

/* 1 if a MANIFEST (or upper-cased BUPGENSPECS) variable is one the flash
 * helpers read from their environment and so is passed on to them. */
int flashvars_env_passed(const char *name);

/*
 * 1 if v is a safe value for a MANIFEST variable: none of the characters
 * a shell would interpret ($ ` ; & | < > \ ( ) quotes, control bytes),
 * and with spaces set, white space allowed (BUPGENSPECS, SIGNFILES).
 */
int flashvars_env_value_ok(const char *v, int spaces);

/* 1 if v is an ODMDATA value: empty, 0x<hex>, decimal, or a comma list
 * of [A-Za-z0-9_-] words (the T234 form). */
int flashvars_odmdata_ok(const char *v);

#endif
