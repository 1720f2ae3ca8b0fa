/* SPDX-License-Identifier: MIT */
/*
 * worker.c: the worker main loop.
 *
 * A worker is born by proc_spawn (proc.h: privileges dropped, its channel
 * on PROTO_CHANNEL_FD), reports READY and waits for a PROTO_JOB record
 * carrying a client socket and the signer the supervisor routed it to.
 * For each job it makes a private directory, reads the request (head,
 * then the form: files go straight to disk), checks the key selector and
 * runs the signer.  It then removes the job directory, keeping only an open
 * descriptor of a file answer, so that a client never finds its job's
 * files left behind once it has its answer, and writes the answer,
 * telling the supervisor when the job starts, when the response begins
 * and when it is done.  After cfg->jobs_per_worker jobs it exits, so that
 * no key or heap state outlives the job.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "cpus.h"
#include "http.h"
#include "job.h"
#include "keyclient.h"
#include "keystore.h"
#include "log.h"
#include "proc.h"
#include "privdrop.h"
#include "proto.h"
#include "reply.h"
#include "signer.h"
#include "tokens.h"
#include "util.h"

/* Time allowed to write an answer to a client that reads slowly. */
#define WORKER_WRITE_TIMEOUT_MS 600000

static void
send_or_die(int chan, union proto_msg *msg)
{
	if (proto_send(chan, msg, -1) < 0)
		fatal("channel to supervisor");
}

/* Tell the supervisor the endpoint and, once known, the key selector. */
static void
report_started(struct job *job)
{
	union proto_msg *msg = job_record(job, PROTO_STARTED);

	snprintf(msg->started.endpoint, sizeof(msg->started.endpoint), "%s",
		 job->endpoint ? job->endpoint : "");
	snprintf(msg->started.selector, sizeof(msg->started.selector), "%s",
		 job->selector ? job->selector : "");
	snprintf(msg->started.identity, sizeof(msg->started.identity), "%s", job->identity);
	send_or_die(job->chan, msg);
}

/*
 * Half-close and drain what the client still sends (a body we did not
 * read), so that the close does not reset the connection and destroy the
 * answer before the client has read it.  Bounded in time and bytes.
 */
static void
linger_close(int fd)
{
	uint64_t deadline = util_now_ms() + 2000;
	size_t drained = 0;
	char buf[16384];

	if (shutdown(fd, SHUT_WR) < 0)
		return;
	while (drained < (4u << 20)) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = util_now_ms();
		ssize_t n;

		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
			break;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		drained += (size_t)n;
	}
}

/* Whether the client has sent bytes not read yet (or the socket failed). */
static int
input_pending(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0)
		return errno != EAGAIN && errno != EWOULDBLOCK;
	return n > 0;
}

/*
 * Write the job's answer to the client, bracketed by RESPONDING and DONE.
 * A file answer is read from body_fd, opened before the job directory was
 * removed, so nothing of the job is left on disk when the client sees its
 * answer.
 */
static void
respond(struct job *job, int body_fd)
{
	union proto_msg *msg = job_record(job, PROTO_RESPONDING);
	int rc;

	send_or_die(job->chan, msg);
	if (body_fd >= 0)
		rc = reply_fd(job->fd, job->status, body_fd, job->filename, WORKER_WRITE_TIMEOUT_MS,
			      &job->bytes_out);
	else if (job->data != NULL)
		rc = reply_data(job->fd, job->status, job->data, job->data_len, job->filename,
				WORKER_WRITE_TIMEOUT_MS, &job->bytes_out);
	else
		rc = reply_text(job->fd, job->status, job->text,
				job->extra_headers[0] ? job->extra_headers : NULL,
				WORKER_WRITE_TIMEOUT_MS, &job->bytes_out);
	if (rc < 0)
		log_warn("job %s: writing the answer to %s", job->idstr, job->peer);
	/*
	 * When the whole request was read and nothing more has arrived, the
	 * close cannot reset the connection: close at once.  Otherwise (an
	 * answer given before the body was read, or more bytes sent after it)
	 * linger.
	 */
	if (!job->input_done || input_pending(job->fd))
		linger_close(job->fd);
	msg = job_record(job, PROTO_DONE);
	msg->done.status = job->status;
	proto_cpu_self(&msg->done.cpu);
	send_or_die(job->chan, msg);
}

/*
 * Who is asking: a certificate subject passed by a trusted TLS proxy, or a
 * bearer token.  Returns the client from the tokens table, or NULL; sets
 * job->identity either way when an identity is known.
 */
static const struct token_client *
authenticate(struct job *job, const struct http_request *req, const struct tokens *tk)
{
	const struct config *cfg = job->cfg;
	const char *subject = cfg->subject_header ? http_header(req, cfg->subject_header) : NULL;
	const char *auth = http_header(req, "Authorization");
	const struct token_client *client = NULL;
	int nsubject = 0;

	/* a subject given twice is none, as the supervisor's grant takes it
	 * (src/grant.c) */
	for (int i = 0; subject != NULL && i < req->nheaders; i++)
		nsubject += strcasecmp(req->headers[i].name, cfg->subject_header) == 0;
	if (nsubject > 1)
		subject = NULL;

	if (subject != NULL && *subject != '\0' && cfg->trusted_proxies != NULL) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct acl *acl = NULL;
		char err[256];

		if (getpeername(job->fd, (struct sockaddr *)&ss, &sl) == 0 &&
		    acl_parse(cfg->trusted_proxies, &acl, err, sizeof(err)) == 0 &&
		    acl_match(acl, (struct sockaddr *)&ss)) {
			client = tk ? tokens_by_subject(tk, subject) : NULL;
			if (client == NULL)
				snprintf(job->identity, sizeof(job->identity), "subject:%s", subject);
		}
		acl_free(acl);
	}
	if (client == NULL && tk != NULL && auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
		const char *tok = auth + 7;

		while (*tok == ' ')
			tok++;
		client = tokens_by_bearer(tk, tok);
	}
	if (client != NULL)
		snprintf(job->identity, sizeof(job->identity), "%s", tokens_name(client));
	return client;
}

/* The name of a credential header too long for the supervisor's grant
 * (tokens.h), or NULL. */
static const char *
overlong_credential(const struct http_request *req, const struct config *cfg)
{
	const char *v = http_header(req, "Authorization");

	if (v != NULL && strlen(v) >= TOKENS_VALUE_MAX)
		return "Authorization";
	if (cfg->subject_header != NULL && (v = http_header(req, cfg->subject_header)) != NULL &&
	    strlen(v) >= TOKENS_VALUE_MAX)
		return cfg->subject_header;
	return NULL;
}

/*
 * One user for every worker (not started as root, the shipped unit): in
 * the namespaces that hide the key store, cover the work directory so
 * that only this job's directory is there (privdrop.h), when the process
 * serves one job.  0, or -1 with a 500 set.
 */
static int
cover_work_dir(struct job *job)
{
	static int warned;
	char err[256];
	int rc;

	if (!priv_own_namespaces() || job->cfg->jobs_per_worker != 1)
		return 0;
	if ((rc = priv_cover_work_dir(job->cfg->work_dir, job->dir, err, sizeof(err))) < 0) {
		log_errorx("job %s: %s", job->idstr, err);
		job_fail(job, 500, "Cannot create job directory");
		return -1;
	}
	if (rc > 0 && !warned++)
		log_warnx("job %s: %s: a worker taken over by its upload could reach other "
			  "jobs' directories",
			  job->idstr, err);
	return 0;
}

/* Create the job's private directory (job->dir); 0, or -1 with a 500 set. */
static int
make_job_dir(struct job *job)
{
	if (conf_job_dir(job->cfg, job->id, job->dir, sizeof(job->dir)) < 0)
		errno = ENAMETOOLONG;
	else if (mkdir(job->dir, 0700) == 0)
		return cover_work_dir(job);
	log_error("job %s: mkdir %s", job->idstr, job->dir);
	job->dir[0] = '\0';
	job_fail(job, 500, "Cannot create job directory");
	return -1;
}

/*
 * Who is asking, and may they use this signer: 0, or -1 with the answer
 * (401, 403) set.  The supervisor learns the endpoint here (STARTED).
 */
static int
admit(struct job *job, const struct signer *signer, const struct http_request *req,
      const struct token_client **client)
{
	const struct tokens *tk = tokens_current();
	const char *name = overlong_credential(req, job->cfg);

	*client = name == NULL ? authenticate(job, req, tk) : NULL;
	report_started(job);
	if (tk != NULL && name != NULL) {
		job_fail(job, 400, "%s header longer than %d bytes", name, TOKENS_VALUE_MAX - 1);
		return -1;
	}
	if (tk != NULL && *client == NULL) {
		snprintf(job->extra_headers, sizeof(job->extra_headers),
			 "WWW-Authenticate: Bearer realm=\"digsigserver\"\r\n");
		job_fail(job, 401, "Authentication required");
		return -1;
	}
	if (*client != NULL && !tokens_allows_endpoint(*client, signer->name)) {
		job_fail(job, 403, "Not allowed: %s may not use %s", tokens_name(*client),
			 signer->name);
		return -1;
	}
	return 0;
}

/* Read the form (files into the job directory); 0, or -1 with the answer set. */
static int
read_form(struct job *job, const struct signer *signer, struct http_conn *conn,
	  struct http_request *req)
{
	char err[512];
	int status;

	if (!signer->digest_only && make_job_dir(job) < 0)
		return -1;
	status = form_read(conn, req, signer->digest_only ? NULL : job->dir, &job->form, err,
			   sizeof(err));
	job->bytes_in = http_conn_bytes_in(conn);
	if (status != 0) {
		job_fail(job, status, "%s", err);
		return -1;
	}
	job->input_done = !http_conn_buffered(conn);
	return 0;
}

/* The signer's own checks, then the key selector: valid and allowed to
 * the client; 0, or -1 with the answer set. */
static int
check_selector(struct job *job, const struct signer *signer, const struct token_client *client)
{
	const char *sel;

	if (signer->precheck != NULL && signer->precheck(job) != 0)
		return -1;
	sel = job_field(job, signer->selector_field);
	if ((sel == NULL || *sel == '\0') && signer->selector_default != NULL)
		sel = signer->selector_default;
	if (sel == NULL || *sel == '\0') {
		job_fail(job, 400, "%s", signer->selector_missing);
		return -1;
	}
	if (!ks_selector_valid(sel)) {
		job_fail(job, 400, "Invalid parameters");
		return -1;
	}
	job->selector = sel;
	report_started(job);
	if (client != NULL && !tokens_allows_selector(client, sel)) {
		job_fail(job, 403, "Not allowed: %s may not use the keys of %s",
			 tokens_name(client), sel);
		return -1;
	}
	return 0;
}

/* Run the signer; its answer, or 500 when it left none or its audit
 * record was lost under AUDIT_REQUIRED. */
static void
sign(struct job *job, const struct signer *signer)
{
	int status;

	job->status = 500;
	snprintf(job->text, sizeof(job->text), "Signing error");
	status = signer->run(job);
	if (status != job->status)
		log_errorx("job %s: signer %s returned %d but set %d", job->idstr, signer->name,
			   status, job->status);
	if (job->audit_lost && job->cfg->audit_required && job->status < 300) {
		/* AUDIT_REQUIRED: no signature leaves without its record */
		log_errorx("job %s: refusing the answer: its audit record was not sent",
			   job->idstr);
		job_fail(job, 500, "Signing error");
	}
	if (job->status == 503 && job->extra_headers[0] == '\0')
		reply_retry_after(job->extra_headers, sizeof(job->extra_headers),
				  job->cfg->retry_after);
}

/* Read the request and run the signer the supervisor routed it to;
 * leaves the answer in job. */
static void
run_job(struct job *job, const struct signer *signer, struct http_conn *conn,
	struct http_request *req)
{
	const struct token_client *client;
	char err[512];
	int status;

	status = http_read_head(conn, req, err, sizeof(err));
	if (status != 0) {
		job_fail(job, status, "%s", err);
		return;
	}
	job->endpoint = signer->name;
	if (admit(job, signer, req, &client) < 0 || read_form(job, signer, conn, req) < 0 ||
	    check_selector(job, signer, client) < 0)
		return;
	sign(job, signer);
}

/* The request limits of cfg. */
static void
request_limits(const struct config *cfg, struct http_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->header_max_size = (size_t)cfg->header_max_size;
	lim->header_max_count = (int)cfg->header_max_count;
	lim->body_max = (uint64_t)cfg->request_max_size;
	lim->read_timeout_ms = (int)(cfg->request_read_timeout * 1000);
	lim->min_rate = (uint64_t)cfg->request_min_rate;
	lim->min_rate_grace_ms = (int)(cfg->request_min_rate_grace * 1000);
	lim->field_max = (size_t)cfg->field_max_size;
	lim->max_parts = (int)cfg->form_max_parts;
}

/* The worker's peak resident set so far in kB (on Linux its VmHWM), or -1:
 * the last field of the request log line, so that a test reads the peak
 * instead of sampling /proc of a worker that may be done already. */
static long
peak_rss_kb(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return ru.ru_maxrss;
}

/* The job's line in the request log, client-supplied values escaped so
 * that each stays one field of the line. */
static void
log_job(const struct job *job, const struct http_request *req, const char *selector,
	uint64_t t0)
{
	char sel[LOG_ESCAPED_SIZE(PROTO_TEXT_MAX)], identity[LOG_ESCAPED_SIZE(sizeof(job->identity))];
	char method[64], path[1024];

	log_request("job=%s client=%s%s%s method=%s path=%s endpoint=%s selector=%s status=%d "
		    "in=%llu out=%llu ms=%llu rss_peak_kb=%ld",
		    job->idstr, job->peer, job->identity[0] ? " identity=" : "",
		    log_escape(job->identity, identity, sizeof(identity)),
		    log_escape(req->method[0] ? req->method : "-", method, sizeof(method)),
		    log_escape(req->path ? req->path : "-", path, sizeof(path)),
		    job->endpoint ? job->endpoint : "-", log_escape(selector, sel, sizeof(sel)),
		    job->status, (unsigned long long)job->bytes_in, (unsigned long long)job->bytes_out,
		    (unsigned long long)(util_now_ms() - t0), peak_rss_kb());
	if (job->status >= 400 && job->text[0])
		log_info("job %s: %d %s", job->idstr, job->status, job->text);
}

/*
 * Clear the job's traces before it answers: open a file answer, free the
 * form and remove the job directory.  Returns the answer's descriptor or
 * -1; the selector (which lived in the form) is copied to selector.
 */
static int
clear_job(struct job *job, char *selector, size_t size)
{
	int body_fd = -1;

	if (job->file[0] != '\0' &&
	    (body_fd = open(job->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		log_error("job %s: opening the answer %s", job->idstr, job->file);
		job_fail(job, 500, "Signing error");
	}
	snprintf(selector, size, "%s", job->selector ? job->selector : "-");
	job->selector = NULL;
	form_free(&job->form);
	/* covered (cover_work_dir), the directory itself is a mount point in
	 * the read-only cover: emptied here, removed by the supervisor
	 * (rmdir says EBUSY, or EROFS for the cover) */
	if (job->dir[0] && util_rm_rf(job->dir) < 0 &&
	    !((errno == EBUSY || errno == EROFS) && priv_own_namespaces()))
		log_warn("job %s: removing %s", job->idstr, job->dir);
	return body_fd;
}

/* Serve one job handed over by the supervisor. */
static void
serve(const struct config *cfg, int chan, uint32_t generation, const struct proto_job *pj,
      int fd, int keyfd)
{
	const struct signer *signer = signer_at(pj->route);
	struct http_limits lim;
	struct http_request req;
	struct http_conn *conn;
	struct job job;
	int body_fd;
	char selector[PROTO_TEXT_MAX];
	uint64_t t0 = util_now_ms();

	if (signer == NULL)
		fatalx("job %llu: the supervisor sent route %u, which no signer has",
		       (unsigned long long)pj->hdr.job_id, pj->route);
	/* the signer's name and the job id only: nothing a client chose */
	proc_title("worker %u [%s job %llu]", generation, signer->name,
		   (unsigned long long)pj->hdr.job_id);
	memset(&job, 0, sizeof(job));
	memset(&req, 0, sizeof(req));
	job.cfg = cfg;
	job.id = pj->hdr.job_id;
	job.generation = generation;
	job.chan = chan;
	job.keys = kc_open(keyfd);
	job.fd = fd;
	job.kept_fd = -1;
	snprintf(job.idstr, sizeof(job.idstr), "%llu", (unsigned long long)job.id);
	snprintf(job.peer, sizeof(job.peer), "%s", pj->peer);
	request_limits(cfg, &lim);
	conn = http_conn_new(fd, &lim, pj->prefix, pj->prefix_len);
	run_job(&job, signer, conn, &req);
	if (job.bytes_in == 0)
		job.bytes_in = http_conn_bytes_in(conn);
	body_fd = clear_job(&job, selector, sizeof(selector));
	/* the grant ends before the answer leaves */
	kc_close(job.keys);
	job.keys = NULL;
	respond(&job, body_fd);
	if (body_fd >= 0)
		close(body_fd);
	if (job.kept_fd >= 0)
		close(job.kept_fd);
	log_job(&job, &req, selector, t0);
	http_request_free(&req);
	http_conn_free(conn);
	free(job.data);
	close(fd);
}

/* The KEYCHAN record that follows a JOB: the job's key channel, or -1
 * when the supervisor could make none (key requests then fail 503). */
static int
recv_keychan(int chan, uint64_t job_id)
{
	static union proto_msg *m;
	int fd, r;

	if (m == NULL)
		m = xmalloc(sizeof(*m));
	r = proto_recv(chan, m, &fd);
	if (r <= 0)
		fatal("channel from supervisor");
	if (m->hdr.type != PROTO_KEYCHAN || m->hdr.job_id != job_id)
		fatalx("record %u from the supervisor where the key channel of job %llu belongs",
		       m->hdr.type, (unsigned long long)job_id);
	return fd;
}

void
worker_main(const struct proc_ctx *ctx)
{
	const int chan = PROTO_CHANNEL_FD;
	/* the JOB record lives through the job: static, not 16 KiB more of
	 * stack under every frame of it (job_record's reason) */
	static union proto_msg msg;
	long long served = 0;

	proc_title("worker %u [idle]", ctx->generation);
	proto_init(&msg, PROTO_READY, ctx->generation, 0);
	proto_cpu_self(&msg.ready.cpu);
	send_or_die(chan, &msg);
	while (served < ctx->cfg->jobs_per_worker) {
		int fd, keyfd, r;

		r = proto_recv(chan, &msg, &fd);
		if (r == 0)
			_exit(0); /* supervisor closed our channel: shut down */
		if (r < 0)
			fatal("channel from supervisor");
		if (msg.hdr.type != PROTO_JOB || fd < 0)
			fatalx("unexpected record %u from supervisor", msg.hdr.type);
		keyfd = recv_keychan(chan, msg.hdr.job_id);
		serve(ctx->cfg, chan, ctx->generation, &msg.job, fd, keyfd);
		served++;
		if (served < ctx->cfg->jobs_per_worker)
			(void)cpus_repin(); /* a job that used every CPU: back to ours */
		proc_title("worker %u [idle]", ctx->generation);
	}
	_exit(0);
}
