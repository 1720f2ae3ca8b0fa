/* SPDX-License-Identifier: MIT */
/*
 * lazylib.h: libarchive and libcurl (and zlib, which libarchive brings
 * anyway), loaded when first used.
 *
 * Every job runs in a freshly forked worker, so the size of the process
 * image is paid on every request: fork copies its mappings and exit tears
 * them down.  libarchive and libcurl pull in some forty further libraries
 * (ICU, libxml2, GnuTLS, Kerberos, LDAP, ...), which made the image
 * (and so each fork and exit) about three times as costly, although a
 * sw-description signature needs neither.  They are therefore not linked:
 * lazylib.c defines each function the project uses with its real
 * prototype (checked against the library's header), and the first call
 * loads the library with dlopen() and forwards to it.  The archive
 * signers (modules, Tegra, Mender) load libarchive in their worker; an
 * s3:// key store or artifact prefix loads libcurl in the supervisor at
 * start-up (lazylib_curl()), so that workers inherit it initialised.
 */
#ifndef DSS_LAZYLIB_H
#define DSS_LAZYLIB_H

#include <stddef.h>

/* Load libarchive / libcurl now (libcurl also gets curl_global_init);
 * 0, or -1 with a one-line reason in err.  Safe to call again and from
 * several threads.  A function used before its library could be loaded
 * ends the process (fatalx). */
int lazylib_archive(char *err, size_t errlen);
int lazylib_curl(char *err, size_t errlen);
/* Check, in a short-lived child process, that libarchive can be loaded,
 * leaving this process without it: 0, or -1 with the reason in err.  The
 * supervisor calls it at start, so a missing library is said at once
 * rather than on the first archive job. */
int lazylib_probe_archive(char *err, size_t errlen);
/* Whether the library is loaded in this process (for the tests). */
int lazylib_archive_loaded(void);
int lazylib_curl_loaded(void);

#endif
