/* SPDX-License-Identifier: MIT */
/*
 * status.c: the supervisor's pages rendered from a snapshot (status.h),
 * and the per-endpoint counts and durations of finished jobs for
 * /metrics, the operators' HTML page (status_page.html, made a C string
 * at build time) with a Content-Security-Policy holding the hashes of its
 * inline script and style, and the two rings the supervisor keeps for it
 * (recent jobs, per-second rates).  Calls only lib/ (acl, log, util),
 * jansson and OpenSSL (the hashes).
 */
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "acl.h"
#include "buf.h"
#include "log.h"
#include "util.h"

/* static const char status_page_html[]: src/status_page.html (Makefile.am) */
#include "status_page.inc"

/* (endpoint, status) pairs: the endpoints are the supervisor's routes
 * and "unknown", the statuses those a job can end with; a pair past the
 * table (only a worker reporting absurd statuses gets there) is counted
 * as dropped, never silently */
#define MAX_SERIES 1024
#define MAX_HIST 64
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
static uint64_t series_dropped;
static struct histogram hist[MAX_HIST];
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
status_allowed(const struct sockaddr_storage *ss, const char *allow_spec, const char *proxies_spec)
{
	static struct acl_setting allow, proxies;

	/* A trusted proxy forwards its clients' requests: one from it is never
	 * local, whatever address it comes from (nginx on loopback). */
	return acl_setting_match(&allow, "STATUS_ALLOW", allow_spec, ss) == 1 &&
	       acl_setting_match(&proxies, "TRUSTED_PROXIES", proxies_spec, ss) == 0;
}

void
status_count_reply(struct status_counters *c, int status)
{
	if (status >= 200 && status < 300)
		c->status_2xx++;
	else if (status >= 400 && status < 500)
		c->status_4xx++;
	else if (status >= 500)
		c->status_5xx++;
}

void
status_job_done(const char *endpoint, int status, double seconds)
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
	else
		series_dropped++;
	for (i = 0; i < nhist; i++)
		if (strcmp(hist[i].endpoint, endpoint) == 0)
			break;
	if (i == nhist && nhist < MAX_HIST) {
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

/* A client-supplied text for /status: escaped, so that it is valid UTF-8
 * (json_string refuses anything else, and the key would go missing);
 * null when empty. */
static json_t *
escaped_or_null(const char *s)
{
	char *e;
	json_t *v;

	if (s == NULL || s[0] == '\0')
		return json_null();
	e = log_escape_dup(s);
	v = json_string(e);
	free(e);
	return v;
}

/* A text of the daemon's own (a signer name, an address): as is, or null. */
static json_t *
string_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

const char *
status_page(size_t *len)
{
	*len = sizeof(status_page_html) - 1;
	return status_page_html;
}

/* "'sha256-BASE64'" of the text between open and the next "</" in the
 * page (the inline script or style, as the browser hashes it). */
static void
inline_hash(const char *open, char *out, size_t outlen)
{
	const char *from = strstr(status_page_html, open), *to;
	unsigned char md[32], b64[48];
	unsigned mdlen = 0;

	if (from == NULL || (to = strstr(from += strlen(open), "</")) == NULL)
		log_panic("status_page.html has no %s", open);
	if (EVP_Digest(from, (size_t)(to - from), md, &mdlen, EVP_sha256(), NULL) != 1)
		log_panic("SHA-256 failed");
	EVP_EncodeBlock(b64, md, (int)mdlen);
	snprintf(out, outlen, "'sha256-%s'", (const char *)b64);
}

const char *
status_page_csp(void)
{
	static char csp[512];

	if (csp[0] == '\0') {
		char script[64], style[64];

		inline_hash("<script>", script, sizeof(script));
		inline_hash("<style>", style, sizeof(style));
		snprintf(
		    csp, sizeof(csp),
		    "default-src 'none'; script-src %s; style-src %s; connect-src 'self'; "
		    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		    script, style);
	}
	return csp;
}

/* Copy src into a fixed field, escaped (a client's text) and cut short. */
static void
keep_text(char *dst, size_t size, const char *src)
{
	char *e = log_escape_dup(src ? src : "");

	snprintf(dst, size, "%s", e);
	free(e);
}

void
status_recent_add(struct status_recent *r, const struct status_job_end *e, int64_t time)
{
	struct status_recent_job *j = &r->job[r->next];

	memset(j, 0, sizeof(*j));
	j->time = time;
	keep_text(j->endpoint, sizeof(j->endpoint), e->endpoint);
	keep_text(j->selector, sizeof(j->selector), e->selector);
	keep_text(j->client, sizeof(j->client), e->client);
	keep_text(j->identity, sizeof(j->identity), e->identity);
	keep_text(j->result, sizeof(j->result), e->result);
	j->status = e->status;
	j->seconds = e->seconds;
	r->next = (r->next + 1) % STATUS_RECENT;
	if (r->filled < STATUS_RECENT)
		r->filled++;
}

void
status_rates_advance(struct status_rates *r, uint64_t now_s)
{
	/* at most one lap: older slots are all overwritten anyway */
	uint64_t from =
	    now_s - r->last > STATUS_RATE_SECONDS ? now_s - STATUS_RATE_SECONDS : r->last;

	if (now_s <= r->last)
		return;
	for (uint64_t t = from + 1; t <= now_s; t++) {
		r->jobs[t % STATUS_RATE_SECONDS] = 0;
		r->failures[t % STATUS_RATE_SECONDS] = 0;
	}
	r->last = now_s;
}

void
status_rates_add(struct status_rates *r, uint64_t now_s, int jobs, int failed)
{
	status_rates_advance(r, now_s);
	if (now_s + STATUS_RATE_SECONDS <= r->last)
		return; /* older than the ring */
	r->jobs[now_s % STATUS_RATE_SECONDS] += (uint32_t)jobs;
	r->failures[now_s % STATUS_RATE_SECONDS] += (uint32_t)failed;
}

/* The ring of recent jobs, newest first. */
static json_t *
recent_json(const struct status_recent *r)
{
	json_t *arr = json_array();

	for (unsigned i = 1; r != NULL && i <= r->filled; i++) {
		const struct status_recent_job *j =
		    &r->job[(r->next + STATUS_RECENT - i) % STATUS_RECENT];

		json_array_append_new(
		    arr, json_pack("{s:I, s:s, s:o, s:s, s:o, s:i, s:f, s:s}", "time",
				   (json_int_t)j->time, "endpoint", j->endpoint, "selector",
				   string_or_null(j->selector), "client", j->client, "identity",
				   string_or_null(j->identity), "status", j->status,
				   "duration_seconds", j->seconds, "result", j->result));
	}
	return arr;
}

/* The per-second counts, oldest first, ending with the second now_s. */
static json_t *
rates_json(const struct status_rates *r, uint64_t now_s)
{
	json_t *jobs = json_array(), *failures = json_array();

	for (uint64_t t = now_s + 1; r != NULL && t <= now_s + STATUS_RATE_SECONDS; t++) {
		/* t is the second t - STATUS_RATE_SECONDS (no underflow); a
		 * second past r->last has not been zeroed yet: 0 */
		int live = t <= r->last + STATUS_RATE_SECONDS;
		size_t k = (size_t)(t % STATUS_RATE_SECONDS);

		json_array_append_new(jobs, json_integer(live ? r->jobs[k] : 0));
		json_array_append_new(failures, json_integer(live ? r->failures[k] : 0));
	}
	return json_pack("{s:i, s:o, s:o}", "interval_seconds", 1, "jobs", jobs, "failures",
			 failures);
}

static json_t *
worker_job_json(const struct status_worker *w, long long timeout_seconds)
{
	json_t *j = json_object();
	char id[24];
	char *path = log_escape_dup(w->path);

	snprintf(id, sizeof(id), "%llu", (unsigned long long)w->job_id);
	json_object_set_new(j, "id", json_string(id));
	json_object_set_new(j, "endpoint", string_or_null(w->endpoint));
	json_object_set_new(j, "path", json_string(path));
	json_object_set_new(j, "selector", escaped_or_null(w->selector));
	json_object_set_new(j, "client", json_string(w->client));
	json_object_set_new(j, "identity", escaped_or_null(w->identity));
	json_object_set_new(j, "elapsed_seconds", json_real(w->elapsed_seconds));
	json_object_set_new(j, "timeout_seconds", json_integer(timeout_seconds));
	json_object_set_new(j, "responding", json_boolean(w->responding));
	json_object_set_new(j, "progress", string_or_null(w->progress));
	free(path);
	return j;
}

static json_t *
workers_json(const struct status_snapshot *s)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < s->nworkers; i++) {
		const struct status_worker *w = &s->workers[i];
		json_t *o = json_object();

		json_object_set_new(o, "pid", json_integer(w->pid));
		json_object_set_new(o, "state", json_string(w->state));
		json_object_set_new(o, "generation", json_integer(w->generation));
		json_object_set_new(o, "jobs_served", json_integer((json_int_t)w->jobs_served));
		json_object_set_new(o, "age_seconds", json_integer((json_int_t)w->age_seconds));
		json_object_set_new(o, "cpu", w->cpu >= 0 ? json_integer(w->cpu) : json_null());
		json_object_set_new(o, "uid", w->uid >= 0 ? json_integer(w->uid) : json_null());
		json_object_set_new(o, "job",
				    w->busy ? worker_job_json(w, s->pool.timeout_seconds)
					    : json_null());
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *
pool_json(const struct status_snapshot *s)
{
	json_t *pool = json_object();

	json_object_set_new(pool, "size", json_integer(s->pool.size));
	json_object_set_new(pool, "idle", json_integer(s->pool.idle));
	json_object_set_new(pool, "busy", json_integer(s->pool.busy));
	json_object_set_new(pool, "starting", json_integer(s->pool.starting));
	json_object_set_new(pool, "exiting", json_integer(s->pool.exiting));
	json_object_set_new(pool, "jobs_per_worker", json_integer(s->pool.jobs_per_worker));
	json_object_set_new(pool, "workers", workers_json(s));
	return pool;
}

static json_t *
totals_json(const struct status_snapshot *s)
{
	json_t *t = json_object();
	const struct status_counters *c = &s->count;

	json_object_set_new(t, "requests", json_integer((json_int_t)c->requests));
	json_object_set_new(t, "jobs", json_integer((json_int_t)s->pool.jobs));
	json_object_set_new(t, "2xx", json_integer((json_int_t)c->status_2xx));
	json_object_set_new(t, "4xx", json_integer((json_int_t)c->status_4xx));
	json_object_set_new(t, "5xx", json_integer((json_int_t)c->status_5xx));
	json_object_set_new(t, "timeouts", json_integer((json_int_t)s->pool.timeouts));
	json_object_set_new(t, "crashes", json_integer((json_int_t)s->pool.crashes));
	json_object_set_new(t, "respawns", json_integer((json_int_t)s->pool.respawns));
	json_object_set_new(t, "rejected", json_integer((json_int_t)c->rejected));
	json_object_set_new(t, "aborted", json_integer((json_int_t)c->aborted));
	return t;
}

static json_t *
keys_json(const struct status_keys *k)
{
	json_t *o = json_object();

	json_object_set_new(o, "pid", json_integer(k->pid));
	json_object_set_new(o, "state", json_string(k->state ? k->state : "down"));
	json_object_set_new(o, "uptime_seconds", json_integer((json_int_t)k->uptime_seconds));
	json_object_set_new(o, "restarts", json_integer((json_int_t)k->restarts));
	json_object_set_new(o, "keys_cached", json_integer((json_int_t)k->keys_cached));
	json_object_set_new(o, "signatures", json_integer((json_int_t)k->signatures));
	json_object_set_new(o, "errors", json_integer((json_int_t)k->errors));
	json_object_set_new(o, "token", json_string(k->token[0] ? k->token : "off"));
	json_object_set_new(o, "token_unavailable", json_integer((json_int_t)k->token_unavailable));
	if (k->store_known)
		json_object_set_new(o, "store",
				    json_pack("{s:b, s:s, s:I}", "ok", k->store_ok, "reason",
					      k->store_reason, "checked_seconds_ago",
					      (json_int_t)k->store_age_seconds));
	return o;
}

char *
status_json(const struct status_snapshot *s)
{
	json_t *root = json_object(), *queue = json_object();
	char *text;

	json_object_set_new(root, "version", json_string(s->version));
	json_object_set_new(root, "instance", json_string(s->instance ? s->instance : ""));
	json_object_set_new(root, "uptime_seconds", json_integer((json_int_t)s->uptime_seconds));
	json_object_set_new(root, "stopping", json_boolean(s->stopping));
	json_object_set_new(root, "draining", json_boolean(s->draining));
	json_object_set_new(root, "pool", pool_json(s));
	json_object_set_new(root, "keys", keys_json(&s->keys));
	json_object_set_new(queue, "length", json_integer((json_int_t)s->queue_length));
	json_object_set_new(queue, "limit", json_integer(s->queue_limit));
	json_object_set_new(queue, "wait_limit_seconds", json_integer(s->queue_wait_seconds));
	json_object_set_new(queue, "oldest_wait_seconds", json_real(s->queue_oldest_seconds));
	json_object_set_new(root, "queue", queue);
	json_object_set_new(root, "totals", totals_json(s));
	json_object_set_new(root, "rates", rates_json(s->rates, s->now_s));
	json_object_set_new(root, "recent", recent_json(s->recent));
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (text == NULL)
		fatalx("json_dumps failed");
	return text;
}

/* Append printf-formatted text to the /metrics text t (BUF_UNLIMITED: only
 * a broken invariant could make it fail). */
#define emit(t, ...)                                                                               \
	do {                                                                                       \
		if (buf_printf((t), __VA_ARGS__) < 0)                                              \
			log_panic("the metrics text cannot grow");                                 \
	} while (0)

/* The job counts by endpoint and status, and the duration histograms. */
static void
emit_jobs(struct buf *t)
{
	emit(t, "# HELP digsigserver_requests_total Signing requests finished, by endpoint and status.\n"
		"# TYPE digsigserver_requests_total counter\n");
	for (int i = 0; i < nseries; i++)
		emit(t, "digsigserver_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
		     series[i].endpoint, series[i].status, (unsigned long long)series[i].count);
	emit(t, "# HELP digsigserver_requests_uncounted_total Signing requests finished that no "
		"series above counts (more endpoint and status pairs than it holds).\n"
		"# TYPE digsigserver_requests_uncounted_total counter\n"
		"digsigserver_requests_uncounted_total %llu\n",
	     (unsigned long long)series_dropped);
	emit(t, "# HELP digsigserver_job_duration_seconds Time from hand-over to a worker to the end of the job.\n"
		"# TYPE digsigserver_job_duration_seconds histogram\n");
	for (int i = 0; i < nhist; i++) {
		for (size_t k = 0; k < NBUCKETS; k++)
			emit(t, "digsigserver_job_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
			     hist[i].endpoint, buckets[k], (unsigned long long)hist[i].bucket[k]);
		emit(t,
		     "digsigserver_job_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n"
		     "digsigserver_job_duration_seconds_sum{endpoint=\"%s\"} %.6f\n"
		     "digsigserver_job_duration_seconds_count{endpoint=\"%s\"} %llu\n",
		     hist[i].endpoint, (unsigned long long)hist[i].count, hist[i].endpoint,
		     hist[i].sum, hist[i].endpoint, (unsigned long long)hist[i].count);
	}
}

/* One unlabelled metric with its help and type lines. */
static void
emit_scalar(struct buf *t, const char *name, const char *type, const char *help,
	    unsigned long long value)
{
	emit(t, "# HELP digsigserver_%s %s\n# TYPE digsigserver_%s %s\ndigsigserver_%s %llu\n",
	     name, help, name, type, name, value);
}

/* What the workers' processes cost, by phase (status.h). */
static void
emit_costs(struct buf *t, const struct status_pool *p)
{
	static const char *const names[STATUS_PHASES] = {"birth", "job", "exit"};

	emit(t, "# HELP digsigserver_worker_cpu_seconds_total CPU of the workers reaped, by phase: "
		"fork to READY (birth), jobs, last answer to exit.\n"
		"# TYPE digsigserver_worker_cpu_seconds_total counter\n");
	for (int i = 0; i < STATUS_PHASES; i++)
		emit(t,
		     "digsigserver_worker_cpu_seconds_total{phase=\"%s\",mode=\"user\"} %.6f\n"
		     "digsigserver_worker_cpu_seconds_total{phase=\"%s\",mode=\"system\"} %.6f\n",
		     names[i], (double)p->phase[i].user_us / 1e6, names[i],
		     (double)p->phase[i].sys_us / 1e6);
	emit(t, "# HELP digsigserver_worker_minor_faults_total Minor page faults of the workers "
		"reaped, by phase.\n"
		"# TYPE digsigserver_worker_minor_faults_total counter\n");
	for (int i = 0; i < STATUS_PHASES; i++)
		emit(t, "digsigserver_worker_minor_faults_total{phase=\"%s\"} %llu\n", names[i],
		     (unsigned long long)p->phase[i].minflt);
	emit_scalar(t, "workers_exited_total", "counter", "Workers reaped.", p->exited);
	emit_scalar(t, "forks_total", "counter", "Workers forked.", p->forks);
	emit(t, "# HELP digsigserver_fork_cpu_seconds_total CPU the forking process spent in fork().\n"
		"# TYPE digsigserver_fork_cpu_seconds_total counter\n"
		"digsigserver_fork_cpu_seconds_total %.6f\n",
	     (double)p->fork_us / 1e6);
}

char *
status_metrics(const struct status_snapshot *s)
{
	struct buf t;

	buf_init(&t, BUF_UNLIMITED, 0);
	/* the instance as a label of an info metric: Prometheus gives every
	 * series its own "instance" (the scrape target) */
	emit(&t,
	     "# HELP digsigserver_info This instance: its DIGSIGSERVER_INSTANCE name and version.\n"
	     "# TYPE digsigserver_info gauge\n"
	     "digsigserver_info{name=\"%s\",version=\"%s\"} 1\n",
	     s->instance ? s->instance : "", s->version);
	emit_jobs(&t);
	emit_scalar(&t, "pool_size", "gauge", "Configured number of workers.",
		    (unsigned long long)s->pool.size);
	emit(&t,
	     "# HELP digsigserver_pool_workers Workers by state.\n"
	     "# TYPE digsigserver_pool_workers gauge\n"
	     "digsigserver_pool_workers{state=\"idle\"} %d\n"
	     "digsigserver_pool_workers{state=\"busy\"} %d\n"
	     "digsigserver_pool_workers{state=\"starting\"} %d\n",
	     s->pool.idle, s->pool.busy, s->pool.starting);
	emit_scalar(&t, "queue_length", "gauge", "Connections waiting for a worker.",
		    s->queue_length);
	emit_scalar(&t, "timeouts_total", "counter", "Jobs killed at the response timeout.",
		    s->pool.timeouts);
	emit_scalar(&t, "crashes_total", "counter", "Workers that died during a job.",
		    s->pool.crashes);
	emit_scalar(&t, "respawns_total", "counter", "Workers forked to replace others.",
		    s->pool.respawns);
	emit_costs(&t, &s->pool);
	emit_scalar(&t, "key_process_up", "gauge", "1 when the key process is ready.",
		    s->keys.state != NULL && strcmp(s->keys.state, "ready") == 0);
	emit_scalar(&t, "key_process_restarts_total", "counter",
		    "Key processes forked to replace one that died.", s->keys.restarts);
	emit_scalar(&t, "key_process_keys_cached", "gauge", "Keys the key process holds parsed.",
		    s->keys.keys_cached);
	emit_scalar(&t, "key_process_signatures_total", "counter",
		    "Signatures the key process made.", s->keys.signatures);
	emit_scalar(&t, "key_process_errors_total", "counter",
		    "Key requests the key process refused or failed.", s->keys.errors);
	emit_scalar(&t, "rejected_total", "counter",
		    "Connections answered 503 because the pool was busy.", s->count.rejected);
	emit_scalar(&t, "aborted_total", "counter",
		    "Clients gone before their request was complete.", s->count.aborted);
	emit_scalar(&t, "audit_write_failures_total", "counter",
		    "Audit records that could not be written.", s->audit_write_failures);
	return buf_detach(&t, NULL);
}
