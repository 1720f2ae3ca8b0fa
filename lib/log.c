/* SPDX-License-Identifier: MIT */
/*
 * log.c: one-line log records to stderr and optionally syslog.
 *
 * Each line is written with a single write(2) so lines from the
 * supervisor and its workers, which share stderr, never interleave.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static int log_level = LOG_LVL_INFO;
static int log_syslog;
static char log_tag[64] = "digsigserver";

static const char *const level_names[] = {"debug", "info", "warning", "error"};

void
log_init(const char *ident, int level, int use_syslog)
{
	log_level = level;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(int level)
{
	log_level = level;
}

void
log_set_tag(const char *tag)
{
	snprintf(log_tag, sizeof(log_tag), "%s", tag);
}

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warn") == 0)
		return LOG_LVL_WARNING;
	if (strcasecmp(s, "critical") == 0)
		return LOG_LVL_ERROR;
	return -1;
}

/* A secret no line may show (log_redact); "" for none. */
static char redacted[256];

void
log_redact(const char *secret)
{
	if (secret == NULL || *secret == '\0') {
		/* forget it; written only when held, so that a process that
		 * never had one (a fresh worker) keeps sharing the page */
		if (redacted[0] != '\0')
			explicit_bzero(redacted, sizeof(redacted));
		return;
	}
	if (strlen(secret) < sizeof(redacted))
		snprintf(redacted, sizeof(redacted), "%s", secret);
}

/* Replace every occurrence of the secret in msg (room for size) by
 * "<redacted>". */
static void
redact(char *msg, size_t size)
{
	static const char mark[] = "<redacted>";
	size_t slen = strlen(redacted), mlen = sizeof(mark) - 1;
	char *p = msg;

	if (slen == 0)
		return;
	while ((p = strstr(p, redacted)) != NULL) {
		size_t tail = strlen(p + slen) + 1;

		if ((size_t)(p - msg) + mlen + 1 >= size) {
			*p = '\0'; /* no room for the mark: the line ends here */
			break;
		}
		if ((size_t)(p - msg) + mlen + tail > size)
			tail = size - (size_t)(p - msg) - mlen; /* cut: the secret still goes */
		memmove(p + mlen, p + slen, tail);
		msg[size - 1] = '\0';
		memcpy(p, mark, mlen);
		p += mlen;
	}
}

/* Emit one formatted line at level (no level filtering here). */
static void
log_emit(int level, const char *func, const char *fmt, va_list ap)
{
	char msg[2048], line[2300];
	struct timespec ts;
	struct tm tm;
	int n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	redact(msg, sizeof(msg));
	/* Never let a client-controlled byte break the one-line format. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: %s%s%s\n",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, log_tag, (long)getpid(),
		     level_names[level], func ? func : "", func ? ": " : "", msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
	if (log_syslog) {
		static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
		syslog(prio[level], "%s%s%s", func ? func : "", func ? ": " : "", msg);
	}
}

void
log_msg(int level, const char *func, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (level < log_level)
		return;
	va_start(ap, fmt);
	log_emit(level, func, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_msg_errno(int level, const char *func, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	int saved = errno;

	if (level < log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(level, func, "%s: %s", msg, strerror(saved));
	errno = saved;
}

/* This instance's name, appended to every request line. */
static char log_instance[72];

void
log_set_instance(const char *name)
{
	snprintf(log_instance, sizeof(log_instance), "%s", name ? name : "");
}

void
log_request(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	if (LOG_LVL_INFO < log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_instance[0])
		log_msg(LOG_LVL_INFO, NULL, "%s instance=%s", msg, log_instance);
	else
		log_msg(LOG_LVL_INFO, NULL, "%s", msg);
}

void
log_fatal(const char *func, int with_errno, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (with_errno)
		log_msg(LOG_LVL_ERROR, func, "fatal: %s: %s", msg, strerror(saved));
	else
		log_msg(LOG_LVL_ERROR, func, "fatal: %s", msg);
	exit(1);
}

void
log_panic_at(const char *func, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_ERROR, func, "panic: %s", msg);
	abort();
}

/* Whether a byte of a client's value is shown as itself. */
static int
plain_byte(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\';
}

char *
log_escape(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, total = 0, room;

	if (outlen == 0)
		return out;
	for (const char *p = s; *p != '\0'; p++)
		total += plain_byte((unsigned char)*p) ? 1 : 4;
	/* what does not fit is cut where the "\..." marker still fits */
	room = total < outlen ? total : outlen > 5 ? outlen - 5 : 0;
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (plain_byte(ch)) {
			if (o + 1 > room)
				break;
			out[o++] = (char)ch;
		} else {
			if (o + 4 > room)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	if (*s != '\0' && o + 4 < outlen)
		memcpy(out + o, "\\...", 4), o += 4;
	out[o] = '\0';
	return out;
}

char *
log_escape_dup(const char *s)
{
	size_t size = LOG_ESCAPED_SIZE(strlen(s));
	char *out = malloc(size);

	if (out == NULL)
		fatalx("out of memory");
	return log_escape(s, out, size);
}
