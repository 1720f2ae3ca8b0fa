/* SPDX-License-Identifier: MIT */
/*
 * util.c: see util.h.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <link.h>
#ifdef HAVE_SYS_SINGLE_THREADED_H
#include <sys/single_threaded.h>
#endif

#include <openssl/crypto.h>

#include "log.h"

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatalx("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatalx("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		fatalx("out of memory (%zu bytes)", n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) < 0)
		fatalx("out of memory");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

int
util_read_fd(int fd, size_t max, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap + 1);

	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap >= max + 1) {
				util_cleanse_free(buf, cap + 1);
				errno = EFBIG;
				return -1;
			}
			/* Grow by copying so no stale key bytes are left behind. */
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *nbuf = xmalloc(ncap + 1);
			memcpy(nbuf, buf, n);
			util_cleanse_free(buf, cap + 1);
			buf = nbuf;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			util_cleanse_free(buf, cap + 1);
			errno = saved;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		util_cleanse_free(buf, cap + 1);
		errno = EFBIG;
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int
util_read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd, rc, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	rc = util_read_fd(fd, max, out, len);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int
util_load_file(const char *path, size_t max, util_parse_fn parse, void *ctx, char *err,
	       size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	if (util_read_file(path, max, &buf, &len) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = parse(buf, len, path, ctx, err, errlen);
	util_cleanse_free(buf, len);
	return rc;
}

int
util_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int
util_write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd, saved;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)) < 0)
		return -1;
	if (util_write_all(fd, buf, len) < 0) {
		saved = errno;
		close(fd);
		unlink(path);
		errno = saved;
		return -1;
	}
	if (close(fd) < 0) {
		saved = errno;
		unlink(path);
		errno = saved;
		return -1;
	}
	return 0;
}

/* How deep rm_below recurses before it moves a subtree up instead. */
#define RM_MAX_DEPTH 32

/*
 * Remove everything below the directory open at dfd (closed here).  Below
 * RM_MAX_DEPTH a directory is not entered but renamed into the top
 * directory (topfd) and *moved set, so the caller's next pass removes it:
 * trees of any depth go without deep recursion or long paths.  0 or -1.
 */
static int
rm_below(int topfd, int dfd, int depth, int *moved)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			continue;
		if (errno == EISDIR || errno == EPERM) {
			int sub;

			if (depth >= RM_MAX_DEPTH) {
				static unsigned long seq;
				char name[64];

				snprintf(name, sizeof(name), ".rm-deep-%ld-%lu", (long)getpid(), ++seq);
				if (renameat(dirfd(d), de->d_name, topfd, name) == 0)
					*moved = 1;
				else
					rc = -1;
				continue;
			}
			sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				rc = -1;
				continue;
			}
			/* A tool may have left a directory without write bits. */
			fchmod(sub, 0700);
			if (rm_below(topfd, sub, depth + 1, moved) < 0)
				rc = -1;
			if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 &&
			    !(errno == ENOTEMPTY && *moved))
				rc = -1;
		} else if (errno != ENOENT) {
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}

int
util_rm_rf(const char *path)
{
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int moved, rc;

	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ENOTDIR || errno == ELOOP)
			return unlink(path);
		return -1;
	}
	fchmod(dfd, 0700);
	do {
		int sub = dup(dfd);

		moved = 0;
		if (sub < 0) {
			close(dfd);
			return -1;
		}
		rc = rm_below(dfd, sub, 0, &moved);
		if (lseek(dfd, 0, SEEK_SET) < 0)
			break;
	} while (moved);
	close(dfd);
	if (rc < 0)
		return -1;
	if (rmdir(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

uint64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

size_t
util_utf8_seq(const unsigned char *s, size_t n)
{
	unsigned int cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

uint64_t
util_thread_cpu_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void
util_wipe(void *p, size_t len)
{
	const volatile unsigned char *b = p;
	unsigned char any = 0;

	for (size_t i = 0; i < len; i++)
		any |= b[i];
	if (any)
		OPENSSL_cleanse(p, len);
}

void
util_cleanse_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

void
util_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int
util_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl);
}

int
util_err(char *err, size_t errlen, int status, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

int
util_is_tchar(int c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c > 0 && c < 128 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int
util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * In a process that never started a thread, _Fork: the system call and
 * the thread descriptor's fix-up, without what glibc's fork() adds
 * around it: the atfork handlers (a library's: libcurl's TLS stack
 * registers some), the dynamic linker's locks made anew in the child,
 * the fork bookkeeping of pthread_once and NSS.  That is there to hand
 * the child a consistent state when another thread may hold a lock; with
 * no other thread none can be held, and each page it writes costs the
 * new process a copy-on-write fault.
 * Where a fault is dear (a PVM guest, about 10 us each) that was 0.2 to
 * 0.4 ms of every worker's birth.  A process that started a thread (a
 * library's resolver, say) keeps fork().
 */
pid_t
util_fork(void)
{
#if defined(HAVE__FORK) && defined(HAVE_SYS_SINGLE_THREADED_H)
	if (__libc_single_threaded)
		return _Fork();
#endif
	return fork();
}

int
util_write_status(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EFBIG ? 507 : 500;
}

static int
is_vgpreload(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	return info->dlpi_name != NULL && strstr(info->dlpi_name, "/vgpreload_") != NULL;
}

int
util_under_valgrind(void)
{
	/* found once, before the first fork: dl_iterate_phdr takes the
	 * dynamic linker's lock, a write each new worker would pay a
	 * copy-on-write fault for */
	static int known = -1;

	if (known < 0)
		known = dl_iterate_phdr(is_vgpreload, NULL) != 0;
	return known;
}
