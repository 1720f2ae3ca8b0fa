/* SPDX-License-Identifier: MIT */
/*
 * statusview.c: digsigserver --status [URL] and --watch (statusview.h).
 * A client of the daemon like curl: it reads what /status answers and
 * trusts none of it (every text is printed with control bytes replaced,
 * so a selector cannot drive the operator's terminal).  Calls only lib/
 * (util) and jansson.
 */
#include "statusview.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

/* Most bytes of an answer read: /status of a big pool is some 100 KB. */
#define ANSWER_MAX (8u << 20)
/* Time allowed to connect, send and read the answer. */
#define IO_TIMEOUT_S 5

struct target {
	char host[256];
	char port[8];
	char path[512];
};

/* Split "http://host[:port][/path]" into t; -1 if it is not such a URL. */
static int
parse_url(const char *url, struct target *t)
{
	const char *h, *end, *colon;
	size_t hl;

	if (strncmp(url, "http://", 7) != 0)
		return -1;
	h = url + 7;
	end = h + strcspn(h, "/");
	if (*h == '[') { /* [v6]:port */
		const char *close = memchr(h, ']', (size_t)(end - h));

		if (close == NULL)
			return -1;
		colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
		hl = (size_t)(close - h - 1);
		h++;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
		hl = (size_t)((colon ? colon : end) - h);
	}
	if (hl == 0 || hl >= sizeof(t->host))
		return -1;
	memcpy(t->host, h, hl);
	t->host[hl] = '\0';
	snprintf(t->port, sizeof(t->port), "%.*s", colon ? (int)(end - colon - 1) : 2,
		 colon ? colon + 1 : "80");
	if (t->port[0] == '\0' || strspn(t->port, "0123456789") != strlen(t->port))
		return -1;
	snprintf(t->path, sizeof(t->path), "%s", *end ? end : "/status");
	return 0;
}

/* A connected socket with I/O timeouts, or -1 and the reason in err. */
static int
connect_to(const struct target *t, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
	int fd = -1, rc = getaddrinfo(t->host, t->port, &hints, &res);

	if (rc != 0) {
		snprintf(err, errlen, "%s", gai_strerror(rc));
		return -1;
	}
	snprintf(err, errlen, "no address");
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0)) < 0) {
			snprintf(err, errlen, "socket: %s", strerror(errno));
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0 &&
		    connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Read until EOF into a malloc'ed, NUL-terminated text; NULL on error. */
static char *
read_all(int fd, char *err, size_t errlen)
{
	size_t len = 0, cap = 65536;
	char *b = malloc(cap);
	ssize_t n;

	while (b != NULL && (n = read(fd, b + len, cap - len - 1)) != 0) {
		if (n < 0) {
			snprintf(err, errlen, "reading: %s",
				 errno == EAGAIN ? "timed out" : strerror(errno));
			free(b);
			return NULL;
		}
		len += (size_t)n;
		if (len + 1 == cap) {
			char *nb = cap < ANSWER_MAX ? realloc(b, cap *= 2) : NULL;

			if (nb == NULL) {
				snprintf(err, errlen, "answer too large");
				free(b);
				return NULL;
			}
			b = nb;
		}
	}
	if (b == NULL)
		snprintf(err, errlen, "out of memory");
	else
		b[len] = '\0';
	return b;
}

/* GET t's /status as JSON; NULL and err on any failure. */
static json_t *
fetch_status(const struct target *t, char *err, size_t errlen)
{
	char req[1024], *answer, *body;
	int fd = connect_to(t, err, errlen), status = 0;
	json_t *j = NULL;
	json_error_t jerr;
	int n;

	if (fd < 0)
		return NULL;
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: application/json\r\n"
		     "User-Agent: digsigserver-status\r\n\r\n",
		     t->path, t->host);
	if (write(fd, req, (size_t)n) != n) {
		snprintf(err, errlen, "sending: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	answer = read_all(fd, err, errlen);
	close(fd);
	if (answer == NULL)
		return NULL;
	body = strstr(answer, "\r\n\r\n");
	if (sscanf(answer, "HTTP/1.%*d %d", &status) != 1 || body == NULL)
		snprintf(err, errlen, "not an HTTP answer");
	else if (status != 200)
		snprintf(err, errlen, "HTTP %d: %.200s", status, body + 4);
	else if ((j = json_loads(body + 4, 0, &jerr)) == NULL || !json_is_object(j))
		snprintf(err, errlen, "not the /status JSON: %s", jerr.text);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	free(answer);
	return j;
}

/* A text from the server, at most width bytes (0: all), control bytes
 * shown as '?', padded to width when pad is set. */
static void
put(FILE *fp, const char *s, int width, int pad)
{
	int n = 0;

	for (; s != NULL && *s && (width == 0 || n < width); s++, n++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, fp);
	for (; pad && n < width; n++)
		fputc(' ', fp);
}

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "-";
}

static long long
num(const json_t *o, const char *key)
{
	return (long long)json_number_value(json_object_get(o, key));
}

/* "" when the instance is healthy (as /healthz judges it), else why not. */
static const char *
unhealthy(const json_t *d)
{
	const json_t *pool = json_object_get(d, "pool"), *keys = json_object_get(d, "keys");
	const json_t *store = json_object_get(keys, "store");

	if (json_is_true(json_object_get(d, "stopping")))
		return "stopping";
	if (json_is_true(json_object_get(d, "draining")))
		return "draining";
	if (num(pool, "idle") + num(pool, "busy") == 0)
		return "no worker in the pool";
	if (strcmp(str(keys, "state"), "ready") != 0)
		return "the key process is not ready";
	if (store != NULL && json_is_false(json_object_get(store, "ok")))
		return "the key store is failing";
	return "";
}

/* The sum of the last n values of an array of counts. */
static long long
last_sum(const json_t *arr, size_t n)
{
	size_t len = json_array_size(arr);
	long long sum = 0;

	for (size_t i = len > n ? len - n : 0; i < len; i++)
		sum += (long long)json_integer_value(json_array_get(arr, i));
	return sum;
}

static void
print_summary(FILE *fp, const json_t *d, const char *why)
{
	const json_t *pool = json_object_get(d, "pool"), *q = json_object_get(d, "queue");
	const json_t *k = json_object_get(d, "keys"), *t = json_object_get(d, "totals");
	const json_t *r = json_object_get(d, "rates");

	fputs("digsigserver ", fp);
	put(fp, str(d, "version"), 32, 0);
	fputs(" ", fp);
	put(fp, str(d, "instance"), 64, 0);
	fprintf(fp, "  up %llds  %s%s\n", num(d, "uptime_seconds"),
		why[0] ? "NOT HEALTHY: " : "healthy", why);
	fprintf(fp, "pool:   %lld busy, %lld idle, %lld starting, %lld exiting of %lld\n",
		num(pool, "busy"), num(pool, "idle"), num(pool, "starting"), num(pool, "exiting"),
		num(pool, "size"));
	fprintf(fp, "queue:  %lld of %lld, oldest wait %.1f s (limit %lld s)\n", num(q, "length"),
		num(q, "limit"), json_number_value(json_object_get(q, "oldest_wait_seconds")),
		num(q, "wait_limit_seconds"));
	fputs("keys:   ", fp);
	put(fp, str(k, "state"), 16, 0);
	fprintf(fp, ", pid %lld, %lld signatures, %lld errors, %lld restarts\n", num(k, "pid"),
		num(k, "signatures"), num(k, "errors"), num(k, "restarts"));
	fprintf(fp,
		"totals: %lld jobs, %lld 2xx, %lld 4xx, %lld 5xx, %lld timeouts, %lld crashes, "
		"%lld rejected\n",
		num(t, "jobs"), num(t, "2xx"), num(t, "4xx"), num(t, "5xx"), num(t, "timeouts"),
		num(t, "crashes"), num(t, "rejected"));
	fprintf(fp, "last minute: %lld jobs, %lld failed\n",
		last_sum(json_object_get(r, "jobs"), 60),
		last_sum(json_object_get(r, "failures"), 60));
}

static void
print_workers(FILE *fp, const json_t *d)
{
	const json_t *workers = json_object_get(json_object_get(d, "pool"), "workers"), *w;
	size_t i;

	fprintf(fp, "\n%-8s %-9s %5s  %-12s %-20s %-22s %-11s %s\n", "PID", "STATE", "JOBS",
		"ENDPOINT", "SELECTOR", "CLIENT", "ELAPSED", "PROGRESS");
	json_array_foreach(workers, i, w)
	{
		const json_t *j = json_object_get(w, "job");
		char elapsed[32] = "-";

		fprintf(fp, "%-8lld ", num(w, "pid"));
		put(fp, str(w, "state"), 9, 1);
		fprintf(fp, " %5lld  ", num(w, "jobs_served"));
		if (j != NULL && json_is_object(j))
			snprintf(elapsed, sizeof(elapsed), "%.0f/%llds",
				 json_number_value(json_object_get(j, "elapsed_seconds")),
				 num(j, "timeout_seconds"));
		put(fp, j ? str(j, "endpoint") : "-", 12, 1);
		fputc(' ', fp);
		put(fp, j ? str(j, "selector") : "-", 20, 1);
		fputc(' ', fp);
		put(fp, j ? str(j, "client") : "-", 22, 1);
		fprintf(fp, " %-11s ", elapsed);
		put(fp, j ? str(j, "progress") : "-", 40, 0);
		fputc('\n', fp);
	}
}

/* The last n finished jobs, newest first. */
static void
print_recent(FILE *fp, const json_t *d, size_t n)
{
	const json_t *recent = json_object_get(d, "recent"), *r;
	size_t i;

	if (json_array_size(recent) == 0)
		return;
	fprintf(fp, "\n%-8s %-12s %-20s %-22s %6s %9s  %s\n", "TIME", "ENDPOINT", "SELECTOR",
		"CLIENT", "STATUS", "DURATION", "RESULT");
	json_array_foreach(recent, i, r)
	{
		time_t when = (time_t)num(r, "time");
		struct tm tm;
		char hms[16] = "-";

		if (i >= n)
			break;
		if (localtime_r(&when, &tm) != NULL)
			strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
		fprintf(fp, "%-8s ", hms);
		put(fp, str(r, "endpoint"), 12, 1);
		fputc(' ', fp);
		put(fp, str(r, "selector"), 20, 1);
		fputc(' ', fp);
		put(fp, str(r, "client"), 22, 1);
		fprintf(fp, " %6lld %8.2fs  ", num(r, "status"),
			json_number_value(json_object_get(r, "duration_seconds")));
		put(fp, str(r, "result"), 40, 0);
		fputc('\n', fp);
	}
}

/* One view of t into fp; the exit status it stands for. */
static int
show(FILE *fp, const struct target *t, const char *url, size_t recent)
{
	char err[512];
	json_t *d = fetch_status(t, err, sizeof(err));
	const char *why;

	if (d == NULL) {
		FILE *efp = fp == stdout ? stderr : fp; /* once: an error message */

		fputs("digsigserver: cannot read ", efp);
		put(efp, url, 0, 0);
		fputs(": ", efp);
		put(efp, err, 300, 0);
		fputc('\n', efp);
		return 1;
	}
	why = unhealthy(d);
	print_summary(fp, d, why);
	print_workers(fp, d);
	print_recent(fp, d, recent);
	json_decref(d);
	return why[0] ? 1 : 0;
}

int
statusview_run(const char *url, long long port, int watch)
{
	char fallback[64];
	struct target t;

	if (url == NULL) {
		snprintf(fallback, sizeof(fallback), "http://127.0.0.1:%lld/status", port);
		url = fallback;
	}
	if (parse_url(url, &t) < 0) {
		fprintf(stderr,
			"digsigserver: --status: not an http://HOST[:PORT][/PATH] URL: %s\n", url);
		return 2;
	}
	if (!watch) {
		int rc = show(stdout, &t, url, 10);

		fflush(stdout);
		return rc;
	}
	for (;;) {
		/* drawn off screen, then shown at once: no flicker */
		char *text = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&text, &len);

		if (m == NULL) {
			perror("digsigserver: open_memstream");
			return 1;
		}
		show(m, &t, url, 15);
		if (fclose(m) != 0) {
			free(text);
			perror("digsigserver: open_memstream");
			return 1;
		}
		/* home and clear, then the view in one write */
		printf("\033[H\033[2J%s", text);
		free(text);
		fflush(stdout);
		sleep(1);
	}
}
