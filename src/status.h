/* SPDX-License-Identifier: MIT */
/*
 * status.h: the supervisor's own pages, rendered from a snapshot.
 *
 *   /status   JSON: version, uptime, the pool and each worker and its job,
 *             the queue, totals
 *   /status   with Accept: text/html, the operators' page
 *             (status_page.html, built in): it reads the JSON every second
 *   /metrics  Prometheus text format
 *
 * The supervisor fills a struct status_snapshot (the pool its part,
 * pool_snapshot) and status.c turns it into text; status.c keeps only the
 * per-endpoint job counts and durations (status_job_done) and calls
 * nothing outside lib/.  Who may read the pages is STATUS_ALLOW, never a
 * TRUSTED_PROXIES address (status_allowed).
 */
#ifndef DSS_STATUS_H
#define DSS_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* What the supervisor counts itself. */
struct status_counters {
	uint64_t requests; /* every request line read */
	uint64_t status_2xx, status_4xx, status_5xx;
	uint64_t rejected; /* 503 from a full queue or a long wait */
	uint64_t aborted;  /* clients gone before their request was complete */
};

/* The pool as a whole. */
/* The phases of a worker's life whose cost /metrics shows. */
enum { STATUS_PHASE_BIRTH, STATUS_PHASE_JOB, STATUS_PHASE_EXIT, STATUS_PHASES };

struct status_pool {
	long long size;		   /* WORKERS */
	long long jobs_per_worker; /* JOBS_PER_WORKER */
	long long timeout_seconds; /* RESPONSE_TIMEOUT */
	int idle, busy, starting, exiting;
	uint64_t jobs;	   /* jobs handed to workers */
	uint64_t timeouts; /* jobs killed at RESPONSE_TIMEOUT */
	uint64_t crashes;  /* workers that died during a job */
	uint64_t respawns; /* workers forked to replace others */
	/* What a fresh process per job costs (pool.c): the workers' own CPU
	 * and minor faults from fork to READY, in their jobs, and from the
	 * last DONE to their end, summed over the workers reaped; and the CPU
	 * the forking process spent in fork() itself. */
	struct status_cpu {
		uint64_t user_us, sys_us, minflt;
	} phase[STATUS_PHASES];
	uint64_t exited; /* workers reaped */
	uint64_t forks, fork_us;
};

/* One worker and its job; the texts are raw (escaped when rendered) and
 * "" when unknown. */
struct status_worker {
	long pid;
	const char *state; /* starting, idle, busy, exiting */
	uint32_t generation;
	unsigned long jobs_served;
	uint64_t age_seconds;
	int cpu;  /* the CPU it is kept on (PIN_WORKERS), or -1 */
	long uid; /* its own user id (WORKER_UIDS), or -1: the workers' user */
	int busy; /* the job fields below are set */
	uint64_t job_id;
	const char *endpoint, *path, *selector, *client, *identity, *progress;
	double elapsed_seconds;
	int responding;
};

/* The key process (keys/keyd.c). */
struct status_keys {
	long pid;	   /* 0 when none runs */
	const char *state; /* starting, ready, down */
	uint64_t uptime_seconds;
	uint64_t restarts;    /* forked again after it died */
	uint64_t keys_cached; /* as it last reported */
	uint64_t signatures;  /* made for jobs */
	uint64_t errors;      /* key requests refused or failed */
	char token[16];       /* the PKCS#11 token's state, as last reported */
	uint64_t token_unavailable; /* token key requests answered 503 */
	int store_known, store_ok;  /* the key store's last probe, if any */
	char store_reason[384];
	uint64_t store_age_seconds; /* since that probe */
};

/* A finished job, as the pool reports it (texts raw, "" when unknown). */
struct status_job_end {
	const char *endpoint, *selector, *client, *identity;
	int status;
	double seconds;
	const char *result; /* signed, refused, failed, timeout, crashed */
};

/* The last STATUS_RECENT finished jobs: a fixed ring, oldest overwritten. */
#define STATUS_RECENT 50
struct status_recent {
	struct status_recent_job {
		int64_t time; /* when it ended (Unix seconds) */
		char endpoint[32];
		char selector[128];
		char client[64];
		char identity[128];
		char result[16];
		int status;
		double seconds;
	} job[STATUS_RECENT];
	unsigned next;   /* where the next one goes */
	unsigned filled; /* how many are in (at most STATUS_RECENT) */
};

/* Jobs and failures per second over the last STATUS_RATE_SECONDS: a ring
 * of counters indexed by the second (about 2.4 KB). */
#define STATUS_RATE_SECONDS 300
struct status_rates {
	uint64_t last; /* the second the newest slot counts (monotonic s) */
	uint32_t jobs[STATUS_RATE_SECONDS];
	uint32_t failures[STATUS_RATE_SECONDS];
};

struct status_snapshot {
	const char *version;
	const char *instance; /* DIGSIGSERVER_INSTANCE */
	uint64_t uptime_seconds;
	int stopping;
	int draining; /* SIGTERM, within DRAIN_GRACE */
	struct status_pool pool;
	struct status_keys keys;
	const struct status_worker *workers;
	size_t nworkers;
	size_t queue_length;
	double queue_oldest_seconds;  /* the longest wait in the queue now */
	long long queue_limit;	      /* QUEUE_MAX */
	long long queue_wait_seconds; /* QUEUE_WAIT */
	struct status_counters count;
	uint64_t audit_write_failures;
	const struct status_recent *recent; /* may be NULL */
	const struct status_rates *rates;   /* may be NULL; brought up to now_s */
	uint64_t now_s;                     /* monotonic seconds, for rates */
};

/* The /status body (malloc'ed). */
char *status_json(const struct status_snapshot *s);
/* The operators' HTML page and its Content-Security-Policy (the hashes
 * of its inline script and style, computed from the page itself). */
const char *status_page(size_t *len);
const char *status_page_csp(void);
/* Keep a finished job in r (time: Unix seconds). */
void status_recent_add(struct status_recent *r, const struct status_job_end *e, int64_t time);
/* Count a job (failed: its status was 4xx/5xx) in the second now_s. */
void status_rates_add(struct status_rates *r, uint64_t now_s, int jobs, int failed);
/* Bring r up to now_s: the seconds since its last count are zero. */
void status_rates_advance(struct status_rates *r, uint64_t now_s);
/* The /metrics body (malloc'ed). */
char *status_metrics(const struct status_snapshot *s);
/* Record a finished job for /metrics (endpoint, status, seconds). */
void status_job_done(const char *endpoint, int status, double seconds);
/* Count an answer's status in c. */
void status_count_reply(struct status_counters *c, int status);
/* 1 when ss may read the pages: in the allow list, not a trusted proxy
 * (each list the text of its setting, re-parsed when it changes). */
int status_allowed(const struct sockaddr_storage *ss, const char *allow, const char *proxies);

#endif
