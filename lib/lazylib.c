/* SPDX-License-Identifier: MIT */
/*
 * lazylib.c: see lazylib.h.  Each function below has the prototype its
 * library's header declares (the compiler checks them against it); its
 * body finds the real function once, with dlsym() on the library loaded by
 * dlopen(), and calls it.  Only the functions the project calls are here.
 *
 * The SONAMEs come from configure (the ones the build found), so the
 * library loaded is the one the headers describe.
 */
#define CURL_DISABLE_TYPECHECK 1
#include "lazylib.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <zlib.h>

#include "log.h"

#ifndef DSS_LIBARCHIVE_SONAME
#define DSS_LIBARCHIVE_SONAME "libarchive.so.13"
#endif
#ifndef DSS_LIBCURL_SONAME
#define DSS_LIBCURL_SONAME "libcurl.so.4"
#endif

struct lazy {
	const char *soname;
	pthread_once_t once;
	void *handle;
	char err[256];
};

static struct lazy lz_archive = {DSS_LIBARCHIVE_SONAME, PTHREAD_ONCE_INIT, NULL, ""};
static struct lazy lz_curl = {DSS_LIBCURL_SONAME, PTHREAD_ONCE_INIT, NULL, ""};

static void
open_lib(struct lazy *l)
{
	const char *e;

	if ((l->handle = dlopen(l->soname, RTLD_LAZY | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		snprintf(l->err, sizeof(l->err), "cannot load %s: %s", l->soname,
			 e ? e : "unknown error");
	}
}

static void open_archive(void) { open_lib(&lz_archive); }
static void open_curl(void) { open_lib(&lz_curl); }

static int
load(struct lazy *l, void (*opener)(void), char *err, size_t errlen)
{
	pthread_once(&l->once, opener);
	if (l->handle != NULL)
		return 0;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", l->err);
	return -1;
}

int
lazylib_archive(char *err, size_t errlen)
{
	return load(&lz_archive, open_archive, err, errlen);
}

int
lazylib_curl(char *err, size_t errlen)
{
	return load(&lz_curl, open_curl, err, errlen);
}

int
lazylib_probe_archive(char *err, size_t errlen)
{
	char why[256] = "";
	int p[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(p) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		if (lazylib_archive(why, sizeof(why)) < 0) {
			(void)!write(p[1], why, strlen(why));
			_exit(1);
		}
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], why, sizeof(why) - 1);
	why[n > 0 ? n : 0] = '\0';
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(err, errlen, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(err, errlen, "%s", why[0] ? why : "the probe for libarchive failed");
	return -1;
}

int
lazylib_archive_loaded(void)
{
	return __atomic_load_n(&lz_archive.handle, __ATOMIC_ACQUIRE) != NULL;
}

int
lazylib_curl_loaded(void)
{
	return __atomic_load_n(&lz_curl.handle, __ATOMIC_ACQUIRE) != NULL;
}

/* The address of name in l (loading l first); never returns NULL. */
static void *
lazy_sym(struct lazy *l, void (*opener)(void), const char *name)
{
	void *p;

	if (load(l, opener, NULL, 0) < 0)
		fatalx("%s (needed for %s)", l->err, name);
	if ((p = dlsym(l->handle, name)) == NULL)
		fatalx("%s: no %s", l->soname, name);
	return p;
}

/*
 * FORWARD(lib, ret, name, (params), (args)) defines name; FORWARD_VOID the
 * same for a function without a result.  The pointer is cached with atomic
 * accesses: the module signer calls libarchive while its signing threads
 * run (they never call it, but the cache must not be a data race anyway).
 */
#define LOOKUP(lib, name)                                                                          \
	static __typeof__(name) *fp_;                                                              \
	__typeof__(name) *f_ = __atomic_load_n(&fp_, __ATOMIC_ACQUIRE);                            \
	if (f_ == NULL) {                                                                          \
		f_ = (__typeof__(name) *)lazy_sym(&lz_##lib, open_##lib, #name);                   \
		__atomic_store_n(&fp_, f_, __ATOMIC_RELEASE);                                      \
	}
#define FORWARD(lib, ret, name, params, args)                                                      \
	ret name params                                                                            \
	{                                                                                          \
		LOOKUP(lib, name)                                                                  \
		return f_ args;                                                                    \
	}
#define FORWARD_VOID(lib, name, params, args)                                                      \
	void name params                                                                           \
	{                                                                                          \
		LOOKUP(lib, name)                                                                  \
		f_ args;                                                                           \
	}

typedef struct archive A;
typedef struct archive_entry E;

/* libarchive: reading */
FORWARD(archive, A *, archive_read_new, (void), ())
FORWARD(archive, int, archive_read_free, (A *a), (a))
FORWARD(archive, int, archive_read_support_format_tar, (A *a), (a))
FORWARD(archive, int, archive_read_support_filter_gzip, (A *a), (a))
FORWARD(archive, int, archive_read_support_filter_bzip2, (A *a), (a))
FORWARD(archive, int, archive_read_support_filter_xz, (A *a), (a))
FORWARD(archive, int, archive_read_support_filter_zstd, (A *a), (a))
FORWARD(archive, int, archive_read_open_fd, (A *a, int fd, size_t bs), (a, fd, bs))
FORWARD(archive, int, archive_read_open,
	(A *a, void *d, archive_open_callback *o, archive_read_callback *r,
	 archive_close_callback *c),
	(a, d, o, r, c))
FORWARD(archive, int, archive_read_next_header, (A *a, E **e), (a, e))
FORWARD(archive, int, archive_read_data_block,
	(A *a, const void **buf, size_t *size, la_int64_t *off), (a, buf, size, off))
FORWARD(archive, int, archive_filter_code, (A *a, int n), (a, n))
FORWARD(archive, la_int64_t, archive_filter_bytes, (A *a, int n), (a, n))
FORWARD(archive, const char *, archive_error_string, (A *a), (a))
FORWARD(archive, int, archive_errno, (A *a), (a))

void
archive_set_error(A *a, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	LOOKUP(archive, archive_set_error)
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f_(a, err, "%s", msg);
}

/* zlib: inflating (gzip uploads, dss_archive.c).  It is libarchive's own
 * dependency: looked up through libarchive's handle, which searches its
 * dependencies too, rather than opened a second time. */
FORWARD(archive, int, inflateInit2_, (z_streamp z, int bits, const char *version, int size),
	(z, bits, version, size))
FORWARD(archive, int, inflate, (z_streamp z, int flush), (z, flush))
FORWARD(archive, int, inflateReset, (z_streamp z), (z))
FORWARD(archive, int, inflateEnd, (z_streamp z), (z))

/* libarchive: writing */
FORWARD(archive, A *, archive_write_new, (void), ())
FORWARD(archive, int, archive_write_free, (A *a), (a))
FORWARD(archive, int, archive_write_close, (A *a), (a))
FORWARD(archive, int, archive_write_add_filter_gzip, (A *a), (a))
FORWARD(archive, int, archive_write_set_filter_option,
	(A *a, const char *m, const char *o, const char *v), (a, m, o, v))
FORWARD(archive, int, archive_write_set_format_raw, (A *a), (a))
FORWARD(archive, int, archive_write_set_format_pax_restricted, (A *a), (a))
FORWARD(archive, int, archive_write_set_bytes_per_block, (A *a, int n), (a, n))
FORWARD(archive, int, archive_write_set_bytes_in_last_block, (A *a, int n), (a, n))
FORWARD(archive, int, archive_write_open_fd, (A *a, int fd), (a, fd))
FORWARD(archive, int, archive_write_open_memory, (A *a, void *buf, size_t size, size_t *used),
	(a, buf, size, used))
FORWARD(archive, int, archive_write_open,
	(A *a, void *d, archive_open_callback *o, archive_write_callback *w,
	 archive_close_callback *c),
	(a, d, o, w, c))
FORWARD(archive, int, archive_write_header, (A *a, E *e), (a, e))
FORWARD(archive, la_ssize_t, archive_write_data, (A *a, const void *p, size_t n), (a, p, n))

/* libarchive: entries */
FORWARD(archive, E *, archive_entry_new, (void), ())
FORWARD_VOID(archive, archive_entry_free, (E *e), (e))
FORWARD(archive, E *, archive_entry_clear, (E *e), (e))
FORWARD(archive, const char *, archive_entry_pathname, (E *e), (e))
FORWARD(archive, const char *, archive_entry_symlink, (E *e), (e))
FORWARD(archive, const char *, archive_entry_hardlink, (E *e), (e))
FORWARD(archive, const char *, archive_entry_uname, (E *e), (e))
FORWARD(archive, const char *, archive_entry_gname, (E *e), (e))
FORWARD(archive, la_int64_t, archive_entry_uid, (E *e), (e))
FORWARD(archive, la_int64_t, archive_entry_gid, (E *e), (e))
FORWARD(archive, __LA_MODE_T, archive_entry_filetype, (E *e), (e))
FORWARD(archive, __LA_MODE_T, archive_entry_perm, (E *e), (e))
FORWARD(archive, la_int64_t, archive_entry_size, (E *e), (e))
FORWARD(archive, int, archive_entry_size_is_set, (E *e), (e))
FORWARD(archive, time_t, archive_entry_mtime, (E *e), (e))
FORWARD(archive, long, archive_entry_mtime_nsec, (E *e), (e))
FORWARD(archive, int, archive_entry_mtime_is_set, (E *e), (e))
FORWARD_VOID(archive, archive_entry_set_pathname, (E *e, const char *s), (e, s))
FORWARD_VOID(archive, archive_entry_set_symlink, (E *e, const char *s), (e, s))
FORWARD_VOID(archive, archive_entry_set_hardlink, (E *e, const char *s), (e, s))
FORWARD_VOID(archive, archive_entry_set_uname, (E *e, const char *s), (e, s))
FORWARD_VOID(archive, archive_entry_set_gname, (E *e, const char *s), (e, s))
FORWARD_VOID(archive, archive_entry_set_uid, (E *e, la_int64_t v), (e, v))
FORWARD_VOID(archive, archive_entry_set_gid, (E *e, la_int64_t v), (e, v))
FORWARD_VOID(archive, archive_entry_set_filetype, (E *e, unsigned int v), (e, v))
FORWARD_VOID(archive, archive_entry_set_perm, (E *e, __LA_MODE_T v), (e, v))
FORWARD_VOID(archive, archive_entry_set_size, (E *e, la_int64_t v), (e, v))
FORWARD_VOID(archive, archive_entry_set_mtime, (E *e, time_t s, long ns), (e, s, ns))

/* libcurl */
FORWARD(curl, CURLcode, curl_global_init, (long flags), (flags))
FORWARD(curl, CURL *, curl_easy_init, (void), ())
FORWARD_VOID(curl, curl_easy_cleanup, (CURL *c), (c))
FORWARD_VOID(curl, curl_easy_reset, (CURL *c), (c))
FORWARD(curl, CURLcode, curl_easy_perform, (CURL *c), (c))
FORWARD(curl, const char *, curl_easy_strerror, (CURLcode rc), (rc))
FORWARD(curl, struct curl_slist *, curl_slist_append, (struct curl_slist *l, const char *s),
	(l, s))
FORWARD_VOID(curl, curl_slist_free_all, (struct curl_slist *l), (l))

/*
 * The option's number says the type of its one argument (curl.h: long
 * below CURLOPTTYPE_OBJECTPOINT, then object pointers, function pointers,
 * curl_off_t and struct curl_blob pointers); it is read as that type and
 * passed on as that type.
 */
CURLcode
curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
	typedef void (*any_fn)(void);
	CURLcode rc;
	va_list ap;

	LOOKUP(curl, curl_easy_setopt)
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = f_(c, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = f_(c, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = f_(c, opt, va_arg(ap, any_fn));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = f_(c, opt, va_arg(ap, curl_off_t));
	else
		rc = f_(c, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode
curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
	CURLcode rc;
	va_list ap;

	LOOKUP(curl, curl_easy_getinfo)
	va_start(ap, info);
	rc = f_(c, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}
