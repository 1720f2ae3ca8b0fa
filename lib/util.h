/* SPDX-License-Identifier: MIT */
/*
 * util.h: small helpers every module uses: allocation that cannot fail
 * silently, whole-file reads with a bound, full writes, tree removal that
 * never follows links, and a monotonic clock.
 */
#ifndef DSS_UTIL_H
#define DSS_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A function whose reads AddressSanitizer does not check: one that reads
 * the program's own segments, redzones between globals and all. */
#if defined(__has_attribute)
#if __has_attribute(no_sanitize_address)
#define UTIL_NO_SANITIZE_ADDRESS __attribute__((no_sanitize_address))
#endif
#endif
#ifndef UTIL_NO_SANITIZE_ADDRESS
#define UTIL_NO_SANITIZE_ADDRESS
#endif

/* 1 in an AddressSanitizer build, whichever compiler (clang defines no
 * __SANITIZE_ADDRESS__) */
#if defined(__SANITIZE_ADDRESS__)
#define UTIL_HAS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UTIL_HAS_ASAN 1
#endif
#endif
#ifndef UTIL_HAS_ASAN
#define UTIL_HAS_ASAN 0
#endif

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Read a whole file of at most max bytes into a NUL-terminated buffer;
 * 0, or -1 with errno (EFBIG when larger than max). */
int util_read_file(const char *path, size_t max, char **out, size_t *len);
/* A file's text handed to a parser (what: the path, for its messages). */
typedef int (*util_parse_fn)(const char *buf, size_t len, const char *what, void *ctx, char *err,
			     size_t errlen);
/* Read path (at most max bytes) and parse it; 0, or -1 and err ("path:
 * reason" when it cannot be read).  The bytes are cleansed afterwards. */
int util_load_file(const char *path, size_t max, util_parse_fn parse, void *ctx, char *err,
		   size_t errlen);
int util_read_fd(int fd, size_t max, char **out, size_t *len);
/* Write all of buf (retrying on EINTR and short writes); 0 or -1. */
int util_write_all(int fd, const void *buf, size_t len);
/* Write buf to path created with mode (O_EXCL); 0 or -1. */
int util_write_file(const char *path, const void *buf, size_t len, mode_t mode);
/* Remove a directory tree without following symbolic links; 0 or -1. */
int util_rm_rf(const char *path);
/* Milliseconds on the monotonic clock. */
uint64_t util_now_ms(void);
/* Length of the valid UTF-8 sequence at s (n > 0 bytes left), or 0 when
 * it is not one: no overlong form, no UTF-16 surrogate, nothing past
 * U+10FFFF (RFC 3629). */
size_t util_utf8_seq(const unsigned char *s, size_t n);
/* Microseconds of CPU (user and system) this thread has used. */
uint64_t util_thread_cpu_us(void);
/*
 * Overwrite a buffer that may hold a secret, only if a byte of it is set:
 * a process that never held the secret (a fresh worker forgetting what
 * its parent may have had) then writes nothing, so the page stays shared
 * with the parent instead of being copied.
 */
void util_wipe(void *p, size_t len);
/* Free a buffer after overwriting it (key material). */
void util_cleanse_free(void *p, size_t len);
/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void util_hex(const unsigned char *in, size_t len, char *out);
/* Write a formatted reason into err (when err is not NULL) and return
 * status: "return util_err(err, errlen, 400, ...)". */
int util_err(char *err, size_t errlen, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* 1 if c is an HTTP token character (RFC 9110 tchar). */
int util_is_tchar(int c);
/* The value of a hex digit, or -1. */
int util_hexval(int c);
/* Set or clear O_NONBLOCK; 0 or -1. */
int util_set_nonblock(int fd, int on);
/* The status for a write or create that failed with errno e: 507 when
 * the file system is full (ENOSPC, EDQUOT, EFBIG), else 500. */
int util_write_status(int e);
/* fork(2) without the atfork handlers when no thread was ever started
 * (util.c says why); fork() otherwise. */
pid_t util_fork(void);
/* 1 when the program runs under valgrind (its preload library is loaded);
 * looked up at the first call only. */
int util_under_valgrind(void);

#endif
