/* SPDX-License-Identifier: MIT */
/*
 * log.h: logging for the supervisor and the workers.
 *
 * Lines go to stderr (foreground) and, when configured, to syslog.  The
 * macros prefix the calling function's name.  Nothing logged may contain
 * key material: callers log names and sizes, never contents.
 */
#ifndef DSS_LOG_H
#define DSS_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARNING, LOG_LVL_ERROR };

void log_init(const char *ident, int level, int use_syslog);
void log_set_level(int level);
/* Set the prefix that tags each line (e.g. "worker 1234"). */
void log_set_tag(const char *tag);
void log_msg(int level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Log at info without a function prefix: the per-request line. */
void log_request(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Name this instance in every request line from now on (" instance=NAME"). */
void log_set_instance(const char *name);
/* log_msg with ": strerror(errno)" appended (errno as it was on entry). */
void log_msg_errno(int level, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_fatal(const char *func, int with_errno, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
/* Log "panic: ..." at error and abort(): a broken invariant is a bug. */
void log_panic_at(const char *func, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* From now on, every occurrence of secret in a line is "<redacted>"
 * (the token's PIN; one secret per process). */
void log_redact(const char *secret);
/* (log_redact(NULL) or "": forget the secret, its bytes wiped.) */
/* Parse "debug"/"info"/"warning"/"error" (case-insensitive); -1 if unknown. */
int log_level_parse(const char *s);

/*
 * A client-supplied value made safe for a log line and an audit record:
 * every byte outside '!'..'~', and '"' and '\\', becomes \xNN, so the
 * value is one space-free field of printable ASCII (valid UTF-8 for JSON)
 * and can be decoded back byte for byte.  out (outlen > 8) is always
 * terminated; a value too long for it ends in "\..." (which no escaped
 * value contains).  Returns out.
 */
#define LOG_ESCAPED_SIZE(len) (4 * (len) + 1)
char *log_escape(const char *s, char *out, size_t outlen);
/* The same into a new string (malloc'ed; never NULL). */
char *log_escape_dup(const char *s);

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __func__, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_LVL_WARNING, __func__, __VA_ARGS__)
#define log_errorx(...) log_msg(LOG_LVL_ERROR, __func__, __VA_ARGS__)
/* As OpenBSD's: log_warn/log_error append ": strerror(errno)", the x forms do not. */
#define log_warn(...) log_msg_errno(LOG_LVL_WARNING, __func__, __VA_ARGS__)
#define log_error(...) log_msg_errno(LOG_LVL_ERROR, __func__, __VA_ARGS__)
/* fatal: with strerror(errno); fatalx: without.  Both exit(1): for startup. */
#define fatal(...) log_fatal(__func__, 1, __VA_ARGS__)
#define fatalx(...) log_fatal(__func__, 0, __VA_ARGS__)
/* The process's own broken invariant (not bad input): log and abort. */
#define log_panic(...) log_panic_at(__func__, __VA_ARGS__)

#endif
