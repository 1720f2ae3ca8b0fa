/*
 * status.c: the supervisor's own pages and its counters.
 *   /status   JSON (jansson): version, uptime, pool, each worker and its
 *             job, the queue, totals
 *   /metrics  Prometheus text format
 * Who may read them is DIGSIGSERVER_STATUS_ALLOW (default loopback).
 */
#include "supervisor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "acl.h"
#include "audit.h"
#include "log.h"
#include "reply.h"
#include "util.h"

#define MAX_SERIES 64
static const double buckets[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct series {
	char endpoint[32];
	int status;
	uint64_t count;
};

struct histogram {
	char endpoint[32];
	uint64_t bucket[NBUCKETS];
	uint64_t count;
	double sum;
};

static struct series series[MAX_SERIES];
static int nseries;
static struct histogram hist[MAX_SERIES];
static int nhist;
/* An address list from a setting, parsed again when SIGHUP changed it. */
struct acl_setting {
	char *spec;
	struct acl *acl;
};

/* 1 if ss matches the list spec (setting name), 0 if not, -1 if the list
 * does not parse. */
static int
acl_setting_match(struct acl_setting *as, const char *name, const char *spec,
		  const struct sockaddr_storage *ss)
{
	if (spec == NULL)
		spec = "";
	if (as->spec == NULL || strcmp(as->spec, spec) != 0) {
		char err[256];
		struct acl *acl;

		if (acl_parse(spec, &acl, err, sizeof(err)) < 0) {
			log_errorx("DIGSIGSERVER_%s: %s", name, err);
			return -1;
		}
		acl_free(as->acl);
		as->acl = acl;
		free(as->spec);
		as->spec = xstrdup(spec);
	}
	return acl_match(as->acl, (const struct sockaddr *)ss);
}

int
status_allowed(const struct sockaddr_storage *ss)
{
	static struct acl_setting allow, proxies;

	/* A trusted proxy forwards its clients' requests: one from it is never
	 * local, whatever address it comes from (nginx on loopback). */
	return acl_setting_match(&allow, "STATUS_ALLOW", sv->cfg.status_allow, ss) == 1 &&
	       acl_setting_match(&proxies, "TRUSTED_PROXIES", sv->cfg.trusted_proxies, ss) == 0;
}

void
metrics_job_done(const char *endpoint, int status, double seconds)
{
	int i;

	for (i = 0; i < nseries; i++)
		if (series[i].status == status && strcmp(series[i].endpoint, endpoint) == 0)
			break;
	if (i == nseries && nseries < MAX_SERIES) {
		snprintf(series[i].endpoint, sizeof(series[i].endpoint), "%s", endpoint);
		series[i].status = status;
		nseries++;
	}
	if (i < nseries)
		series[i].count++;
	for (i = 0; i < nhist; i++)
		if (strcmp(hist[i].endpoint, endpoint) == 0)
			break;
	if (i == nhist && nhist < MAX_SERIES) {
		snprintf(hist[i].endpoint, sizeof(hist[i].endpoint), "%s", endpoint);
		nhist++;
	}
	if (i < nhist) {
		for (size_t b = 0; b < NBUCKETS; b++)
			if (seconds <= buckets[b])
				hist[i].bucket[b]++;
		hist[i].count++;
		hist[i].sum += seconds;
	}
}

/* Send a body the supervisor built, then linger. */
static void
answer(struct conn *c, const char *ctype, const char *body)
{
	uint64_t out = 0;
	int head = strcmp(c->method, "HEAD") == 0;

	conn_count_status(200);
	if (http_reply(c->fd, 200, ctype, body, head ? 0 : strlen(body),
		       "Cache-Control: no-store\r\n", 1000, &out) < 0)
		log_debug("answering %s: failed", c->peer);
	conn_log(c, 200, out);
	conn_linger(c);
}

void
status_answer(struct conn *c)
{
	json_t *root = json_object(), *pool = json_object(), *arr = json_array();
	json_t *queue = json_object(), *totals = json_object();
	char *text;

	json_object_set_new(root, "version", json_string(sv->version));
	json_object_set_new(root, "uptime_seconds",
			    json_integer((json_int_t)((util_now_ms() - sv->start_ms) / 1000)));
	json_object_set_new(root, "stopping", json_boolean(sv->stopping));
	json_object_set_new(pool, "size", json_integer(sv->cfg.workers));
	json_object_set_new(pool, "idle", json_integer(pool_count(W_IDLE)));
	json_object_set_new(pool, "busy", json_integer(pool_count(W_BUSY)));
	json_object_set_new(pool, "starting", json_integer(pool_count(W_STARTING)));
	json_object_set_new(pool, "exiting", json_integer(pool_count(W_EXITING)));
	json_object_set_new(pool, "jobs_per_worker", json_integer(sv->cfg.jobs_per_worker));
	pool_status_json(arr);
	json_object_set_new(pool, "workers", arr);
	json_object_set_new(root, "pool", pool);
	json_object_set_new(queue, "length", json_integer(queue_length()));
	json_object_set_new(queue, "limit", json_integer(sv->cfg.queue_max));
	json_object_set_new(queue, "wait_limit_seconds", json_integer(sv->cfg.queue_wait));
	json_object_set_new(root, "queue", queue);
	json_object_set_new(totals, "requests", json_integer((json_int_t)sv->count.requests));
	json_object_set_new(totals, "jobs", json_integer((json_int_t)sv->count.jobs));
	json_object_set_new(totals, "2xx", json_integer((json_int_t)sv->count.status_2xx));
	json_object_set_new(totals, "4xx", json_integer((json_int_t)sv->count.status_4xx));
	json_object_set_new(totals, "5xx", json_integer((json_int_t)sv->count.status_5xx));
	json_object_set_new(totals, "timeouts", json_integer((json_int_t)sv->count.timeouts));
	json_object_set_new(totals, "crashes", json_integer((json_int_t)sv->count.crashes));
	json_object_set_new(totals, "respawns", json_integer((json_int_t)sv->count.respawns));
	json_object_set_new(totals, "rejected", json_integer((json_int_t)sv->count.rejected));
	json_object_set_new(totals, "aborted", json_integer((json_int_t)sv->count.aborted));
	json_object_set_new(root, "totals", totals);
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (text == NULL)
		fatalx("json_dumps failed");
	answer(c, "application/json", text);
	free(text);
}

/* Append printf-formatted text to a growing buffer. */
static void
emit(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
emit(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < *cap - *len)
			break;
		*cap *= 2;
		*buf = xrealloc(*buf, *cap);
	}
	*len += (size_t)n;
}

void
metrics_answer(struct conn *c)
{
	size_t len = 0, cap = 8192;
	char *b = xmalloc(cap);

	b[0] = '\0';
	emit(&b, &len, &cap,
	     "# HELP digsigserver_requests_total Signing requests finished, by endpoint and status.\n"
	     "# TYPE digsigserver_requests_total counter\n");
	for (int i = 0; i < nseries; i++)
		emit(&b, &len, &cap, "digsigserver_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
		     series[i].endpoint, series[i].status, (unsigned long long)series[i].count);
	emit(&b, &len, &cap,
	     "# HELP digsigserver_job_duration_seconds Time from hand-over to a worker to the end of the job.\n"
	     "# TYPE digsigserver_job_duration_seconds histogram\n");
	for (int i = 0; i < nhist; i++) {
		for (size_t k = 0; k < NBUCKETS; k++)
			emit(&b, &len, &cap,
			     "digsigserver_job_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
			     hist[i].endpoint, buckets[k], (unsigned long long)hist[i].bucket[k]);
		emit(&b, &len, &cap,
		     "digsigserver_job_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n"
		     "digsigserver_job_duration_seconds_sum{endpoint=\"%s\"} %.6f\n"
		     "digsigserver_job_duration_seconds_count{endpoint=\"%s\"} %llu\n",
		     hist[i].endpoint, (unsigned long long)hist[i].count, hist[i].endpoint,
		     hist[i].sum, hist[i].endpoint, (unsigned long long)hist[i].count);
	}
	emit(&b, &len, &cap,
	     "# HELP digsigserver_pool_size Configured number of workers.\n"
	     "# TYPE digsigserver_pool_size gauge\n"
	     "digsigserver_pool_size %lld\n"
	     "# HELP digsigserver_pool_workers Workers by state.\n"
	     "# TYPE digsigserver_pool_workers gauge\n"
	     "digsigserver_pool_workers{state=\"idle\"} %d\n"
	     "digsigserver_pool_workers{state=\"busy\"} %d\n"
	     "digsigserver_pool_workers{state=\"starting\"} %d\n"
	     "# HELP digsigserver_queue_length Connections waiting for a worker.\n"
	     "# TYPE digsigserver_queue_length gauge\n"
	     "digsigserver_queue_length %d\n"
	     "# HELP digsigserver_timeouts_total Jobs killed at the response timeout.\n"
	     "# TYPE digsigserver_timeouts_total counter\n"
	     "digsigserver_timeouts_total %llu\n"
	     "# HELP digsigserver_crashes_total Workers that died during a job.\n"
	     "# TYPE digsigserver_crashes_total counter\n"
	     "digsigserver_crashes_total %llu\n"
	     "# HELP digsigserver_respawns_total Workers forked to replace others.\n"
	     "# TYPE digsigserver_respawns_total counter\n"
	     "digsigserver_respawns_total %llu\n"
	     "# HELP digsigserver_rejected_total Connections answered 503 because the pool was busy.\n"
	     "# TYPE digsigserver_rejected_total counter\n"
	     "digsigserver_rejected_total %llu\n"
	     "# HELP digsigserver_aborted_total Clients gone before their request was complete.\n"
	     "# TYPE digsigserver_aborted_total counter\n"
	     "digsigserver_aborted_total %llu\n"
	     "# HELP digsigserver_audit_write_failures_total Audit records that could not be written.\n"
	     "# TYPE digsigserver_audit_write_failures_total counter\n"
	     "digsigserver_audit_write_failures_total %llu\n",
	     sv->cfg.workers, pool_count(W_IDLE), pool_count(W_BUSY), pool_count(W_STARTING),
	     queue_length(), (unsigned long long)sv->count.timeouts,
	     (unsigned long long)sv->count.crashes, (unsigned long long)sv->count.respawns,
	     (unsigned long long)sv->count.rejected,
	     (unsigned long long)sv->count.aborted,
	     (unsigned long long)audit_write_failures());
	answer(c, "text/plain; version=0.0.4; charset=utf-8", b);
	free(b);
}
