/* SPDX-License-Identifier: MIT */
/*
 * s3.c: see s3.h.
 *
 * Each call builds one request description (struct s3_req: method, URL,
 * payload source, response sink) and hands it to s3_perform, which signs it
 * through libcurl, runs it, classifies the outcome and retries transient
 * failures with exponential backoff.  Error documents from S3 are kept
 * apart from the sink, so a failed GET never leaves an error page where a
 * key or an artifact was expected.
 */
#include "s3.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "scheme.h"
#include "util.h"

#define S3_MAX_PARTS 10000
#define S3_ERRBODY_MAX 16384
#define S3_XML_MAX (1024 * 1024)
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_BACKOFF_FIRST_MS 250
#define S3_BACKOFF_MAX_MS 8000

enum s3_sink { SINK_NONE, SINK_MEM, SINK_FD };

struct s3_req {
	const struct config *cfg;
	CURL *curl;
	const char *method; /* GET, HEAD, PUT, POST, DELETE */
	const char *what;   /* "bucket/key" for messages */
	char *what_owned;   /* what, when the request allocated it */
	char *url;
	const char *ctype;  /* Content-Type to send, or NULL */
	char payload_hash[65];
	/* request body: a region of src_fd, or body/body_len */
	int src_fd;
	off_t src_off;
	long long src_len, src_pos;
	const char *body;
	size_t body_len;
	/* response */
	enum s3_sink sink;
	struct buf mem;	    /* SINK_MEM: the body (sensitive: may be a key) */
	int dst_fd;
	long long dst_len, dst_max;
	int too_large;
	int io_errno;
	struct buf errbody; /* the start of an error document */
	long http;
	char etag[128];
	long long content_length;
	char curlerr[CURL_ERROR_SIZE];
};

/* A request's credentials: copies, so that a reload (SIGHUP) may replace
 * the process's own while a request that sleeps between retries holds
 * them; wiped by s3_creds_free. */
struct s3_creds {
	char *id, *secret, *token;
	char sigv4[128];
};

static pthread_once_t s3_once = PTHREAD_ONCE_INIT;

static void
s3_init_once(void)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK)
		fatalx("curl_global_init: %s", curl_easy_strerror(rc));
}

void
s3_global_init(void)
{
	pthread_once(&s3_once, s3_init_once);
}

static void
s3_seterr(struct s3_error *e, int status, long http, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
s3_seterr(struct s3_error *e, int status, long http, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	e->http = http;
	snprintf(e->code, sizeof(e->code), "%s", code ? code : "");
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

/*
 * Credentials of this process's own (s3_credentials_load), in place of
 * the AWS_* environment: the key process reads the key store with them,
 * so the workers' AWS_* (for Mender artifacts) need no right to the keys.
 */
struct s3_own_creds {
	char *id, *secret, *token, *region;
};
static struct s3_own_creds s3_own;
/* s3_own is replaced by the thread that reloads (write) while requests
 * copy it (read) */
static pthread_rwlock_t s3_own_lock = PTHREAD_RWLOCK_INITIALIZER;

static int
s3_cred_pair(void *ctx, const char *key, const char *val, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
	} names[] = {
	    {"AWS_ACCESS_KEY_ID", offsetof(struct s3_own_creds, id)},
	    {"AWS_SECRET_ACCESS_KEY", offsetof(struct s3_own_creds, secret)},
	    {"AWS_SESSION_TOKEN", offsetof(struct s3_own_creds, token)},
	    {"AWS_REGION", offsetof(struct s3_own_creds, region)},
	    {"AWS_DEFAULT_REGION", offsetof(struct s3_own_creds, region)},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char **slot = (char **)((char *)ctx + names[i].off);

		if (strcmp(key, names[i].name) != 0)
			continue;
		if (*slot != NULL)
			util_cleanse_free(*slot, strlen(*slot));
		*slot = xstrdup(val);
		return 0;
	}
	snprintf(err, errlen, "unknown name %.64s (expected AWS_ACCESS_KEY_ID, "
			      "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION)", key);
	return -1;
}

static int
s3_cred_parse(const char *buf, size_t len, const char *what, void *ctx, char *err, size_t errlen)
{
	return conf_parse_pairs(buf, len, what, s3_cred_pair, ctx, err, errlen);
}

static void
s3_cred_clear(struct s3_own_creds *c)
{
	char **slots[] = {&c->id, &c->secret, &c->token, &c->region};

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		if (*slots[i] != NULL)
			util_cleanse_free(*slots[i], strlen(*slots[i]));
		*slots[i] = NULL;
	}
}

int
s3_credentials_load(const char *path, int keep, char *err, size_t errlen)
{
	struct s3_own_creds c = {0};

	if (util_load_file(path, 64 * 1024, s3_cred_parse, &c, err, errlen) < 0) {
		s3_cred_clear(&c);
		return -1;
	}
	if (c.id == NULL || *c.id == '\0' || c.secret == NULL || *c.secret == '\0') {
		snprintf(err, errlen, "%s: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required",
			 path);
		s3_cred_clear(&c);
		return -1;
	}
	if (!keep) {
		s3_cred_clear(&c);
		return 0;
	}
	if (pthread_rwlock_wrlock(&s3_own_lock) != 0)
		fatalx("s3: lock");
	s3_cred_clear(&s3_own);
	s3_own = c;
	pthread_rwlock_unlock(&s3_own_lock);
	return 0;
}

/* The region, s3_own's lock held. */
static const char *
region_locked(void)
{
	const char *r = s3_own.id ? s3_own.region : getenv("AWS_REGION");

	if ((r == NULL || *r == '\0') && s3_own.id == NULL)
		r = getenv("AWS_DEFAULT_REGION");
	if (r == NULL || *r == '\0')
		r = "us-east-1";
	return r;
}

void
s3_region(char *buf, size_t len)
{
	if (pthread_rwlock_rdlock(&s3_own_lock) != 0)
		fatalx("s3: lock");
	snprintf(buf, len, "%s", region_locked());
	pthread_rwlock_unlock(&s3_own_lock);
}

/* A copy of s, or NULL. */
static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
s3_creds_free(struct s3_creds *c)
{
	char **slots[] = {&c->id, &c->secret, &c->token};

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		if (*slots[i] != NULL)
			util_cleanse_free(*slots[i], strlen(*slots[i]));
		*slots[i] = NULL;
	}
}

static int
s3_region_valid(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > 60)
		return 0;
	return strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* The credentials and region, copied into c (s3_creds_free); 0, or -1
 * with e set and nothing held. */
static int
s3_get_creds(struct s3_creds *c, struct s3_error *e)
{
	char region[128];

	memset(c, 0, sizeof(*c));
	if (pthread_rwlock_rdlock(&s3_own_lock) != 0)
		fatalx("s3: lock");
	snprintf(region, sizeof(region), "%s", region_locked());
	if (s3_own.id != NULL) {
		c->id = dup_or_null(s3_own.id);
		c->secret = dup_or_null(s3_own.secret);
		c->token = dup_or_null(s3_own.token);
	} else {
		c->id = dup_or_null(getenv("AWS_ACCESS_KEY_ID"));
		c->secret = dup_or_null(getenv("AWS_SECRET_ACCESS_KEY"));
		c->token = dup_or_null(getenv("AWS_SESSION_TOKEN"));
	}
	pthread_rwlock_unlock(&s3_own_lock);
	if (c->token != NULL && *c->token == '\0') {
		free(c->token);
		c->token = NULL;
	}
	if (c->id == NULL || *c->id == '\0' || c->secret == NULL || *c->secret == '\0') {
		s3_seterr(e, 500, 0, S3_CODE_NO_CREDENTIALS,
			  "S3 credentials missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
		goto fail;
	}
	if (strchr(c->token ? c->token : "", '\n') || strchr(c->token ? c->token : "", '\r')) {
		s3_seterr(e, 500, 0, "", "AWS_SESSION_TOKEN holds a line break");
		goto fail;
	}
	if (!s3_region_valid(region)) {
		s3_seterr(e, 500, 0, "", "invalid AWS region \"%.64s\"", region);
		goto fail;
	}
	snprintf(c->sigv4, sizeof(c->sigv4), "aws:amz:%s:s3", region);
	return 0;
fail:
	s3_creds_free(c);
	return -1;
}

/* Percent-encode every byte but the SigV4 unreserved set (and '/' if kept). */
static char *
s3_encode(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = xmalloc(3 * n + 1), *p = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

int
s3_parse_uri(const char *uri, char **bucket, char **key, char *err, size_t errlen)
{
	const char *b, *slash, *k, *seg;
	size_t blen;

	*bucket = *key = NULL;
	if (uri_scheme(uri, &b) != URI_S3) {
		snprintf(err, errlen, "not an s3:// URI");
		return -1;
	}
	slash = strchr(b, '/');
	blen = slash ? (size_t)(slash - b) : strlen(b);
	/* S3's rules, legacy names (capitals, '_', 255 bytes) included: a
	 * letter or digit first and last, no "..": "." and ".." are no
	 * bucket (a server resolving /./store/... in the path would reach a
	 * bucket the name does not show) */
	if (blen == 0 || blen > 255 ||
	    strspn(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") < blen ||
	    !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[blen - 1]) ||
	    memmem(b, blen, "..", 2) != NULL) {
		snprintf(err, errlen, "invalid S3 bucket name");
		return -1;
	}
	k = slash ? slash + 1 : "";
	if (strlen(k) > 1024) { /* S3's limit */
		snprintf(err, errlen, "S3 key longer than 1024 bytes");
		return -1;
	}
	for (const char *p = k; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "control character in S3 key");
			return -1;
		}
	}
	/* Segments: none empty (a trailing slash excepted), none "." or "..". */
	for (seg = k; *seg;) {
		const char *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);

		if ((n == 0 && end != NULL) || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.')) {
			snprintf(err, errlen, "S3 key with an empty, \".\" or \"..\" segment");
			return -1;
		}
		if (end == NULL)
			break;
		seg = end + 1;
	}
	*bucket = xstrndup(b, blen);
	*key = xstrdup(k);
	return 0;
}

/* A bucket name that can be a DNS label of the virtual-host endpoint. */
static int
s3_vhost_ok(const char *bucket)
{
	size_t n = strlen(bucket);

	if (n < 3 || n > 63 || strspn(bucket, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
		return 0;
	return bucket[0] != '-' && bucket[n - 1] != '-';
}

char *
s3_object_url(const struct config *cfg, const char *bucket, const char *key, const char *query)
{
	char *ekey = s3_encode(key, 1), *url, region[128];
	const char *q = query ? "?" : "", *qs = query ? query : "";

	s3_region(region, sizeof(region));

	if (cfg->s3_endpoint != NULL && cfg->s3_endpoint[0] != '\0') {
		size_t n = strlen(cfg->s3_endpoint);

		while (n > 0 && cfg->s3_endpoint[n - 1] == '/')
			n--;
		if (*key)
			url = xasprintf("%.*s/%s/%s%s%s", (int)n, cfg->s3_endpoint, bucket, ekey, q, qs);
		else
			url = xasprintf("%.*s/%s%s%s", (int)n, cfg->s3_endpoint, bucket, q, qs);
	} else if (s3_vhost_ok(bucket)) {
		url = xasprintf("https://%s.s3.%s.amazonaws.com/%s%s%s", bucket, region, ekey, q, qs);
	} else if (*key) {
		url = xasprintf("https://s3.%s.amazonaws.com/%s/%s%s%s", region, bucket, ekey, q, qs);
	} else {
		url = xasprintf("https://s3.%s.amazonaws.com/%s%s%s", region, bucket, q, qs);
	}
	free(ekey);
	return url;
}

static size_t
s3_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct s3_req *r = arg;
	size_t n = size * nmemb;
	long code = 0;

	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code >= 300) {
		/* Keep the start of the error document for its <Code>. */
		size_t room = buf_room(&r->errbody);

		buf_append(&r->errbody, ptr, n < room ? n : room);
		return n;
	}
	switch (r->sink) {
	case SINK_NONE:
		return n;
	case SINK_MEM:
		if (buf_append(&r->mem, ptr, n) < 0) {
			r->too_large = 1;
			return 0;
		}
		return n;
	case SINK_FD:
		if (r->dst_max >= 0 && (long long)n > r->dst_max - r->dst_len) {
			r->too_large = 1;
			return 0;
		}
		for (size_t done = 0; done < n;) {
			ssize_t w = pwrite(r->dst_fd, ptr + done, n - done, (off_t)(r->dst_len));

			if (w < 0) {
				if (errno == EINTR)
					continue;
				r->io_errno = errno;
				return 0;
			}
			done += (size_t)w;
			r->dst_len += w;
		}
		return n;
	}
	return 0;
}

static size_t
s3_header_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct s3_req *r = arg;
	size_t n = size * nmemb;

	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
		r->etag[0] = '\0'; /* a new response (after 100 Continue) */
	} else if (n > 5 && strncasecmp(ptr, "etag:", 5) == 0) {
		const char *v = ptr + 5, *end = ptr + n;

		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		if ((size_t)(end - v) < sizeof(r->etag)) {
			memcpy(r->etag, v, (size_t)(end - v));
			r->etag[end - v] = '\0';
		}
	}
	return n;
}

static size_t
s3_read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct s3_req *r = arg;
	size_t want = size * nitems;
	long long left = r->src_len - r->src_pos;
	ssize_t got;

	if (left <= 0)
		return 0;
	if ((long long)want > left)
		want = (size_t)left;
	do
		got = pread(r->src_fd, buf, want, r->src_off + (off_t)r->src_pos);
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		r->io_errno = got < 0 ? errno : EIO; /* the file shrank under us */
		return CURL_READFUNC_ABORT;
	}
	r->src_pos += got;
	return (size_t)got;
}

static int
s3_seek_cb(void *arg, curl_off_t offset, int origin)
{
	struct s3_req *r = arg;

	if (origin != SEEK_SET || offset < 0 || offset > r->src_len)
		return CURL_SEEKFUNC_FAIL;
	r->src_pos = offset;
	return CURL_SEEKFUNC_OK;
}

/* SHA-256 of len bytes of fd at off, as lower-case hex; 0 or -1 (errno). */
static int
s3_hash_region(int fd, off_t off, long long len, char hex[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char *buf = xmalloc(1 << 20), dg[32];
	unsigned int dlen = 0;
	int rc = -1;

	if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		goto out;
	while (len > 0) {
		size_t want = len < (1 << 20) ? (size_t)len : (1 << 20);
		ssize_t got = pread(fd, buf, want, off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got == 0)
				errno = EIO;
			goto out;
		}
		if (!EVP_DigestUpdate(md, buf, (size_t)got))
			goto out;
		off += got;
		len -= got;
	}
	if (!EVP_DigestFinal_ex(md, dg, &dlen) || dlen != 32)
		goto out;
	util_hex(dg, 32, hex);
	rc = 0;
out:
	free(buf);
	EVP_MD_CTX_free(md);
	return rc;
}

static void
s3_sha256_hex(const void *p, size_t n, char hex[65])
{
	unsigned char dg[32];
	unsigned int dlen = 0;

	if (!EVP_Digest(p, n, dg, &dlen, EVP_sha256(), NULL) || dlen != 32)
		fatalx("SHA-256 failed");
	util_hex(dg, 32, hex);
}

/* Text of the first <tag>...</tag> in doc, entities decoded; 0 or -1. */
static int
s3_xml_text(const char *doc, const char *tag, char *out, size_t outlen)
{
	char open[80], close[80];
	const char *s, *end;
	size_t o = 0;

	if (doc == NULL)
		return -1;
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if ((s = strstr(doc, open)) == NULL)
		return -1;
	s += strlen(open);
	if ((end = strstr(s, close)) == NULL)
		return -1;
	while (s < end) {
		static const struct {
			const char *ent;
			char c;
		} ents[] = {{"&quot;", '"'}, {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&apos;", '\''}};
		char c = *s;
		size_t adv = 1;

		if (c == '&') {
			for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
				size_t el = strlen(ents[i].ent);

				if ((size_t)(end - s) >= el && strncmp(s, ents[i].ent, el) == 0) {
					c = ents[i].c;
					adv = el;
					break;
				}
			}
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
		s += adv;
	}
	out[o] = '\0';
	return 0;
}

static int
s3_curl_transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* Reset the per-attempt state of r (the sink, the error document). */
static int
s3_req_rewind(struct s3_req *r)
{
	r->src_pos = 0;
	r->too_large = 0;
	r->io_errno = 0;
	r->http = 0;
	r->etag[0] = '\0';
	r->content_length = -1;
	r->curlerr[0] = '\0';
	buf_clear(&r->errbody);
	buf_clear(&r->mem);
	if (r->sink == SINK_FD && r->dst_len > 0) {
		if (ftruncate(r->dst_fd, 0) < 0)
			return -1;
		r->dst_len = 0;
	}
	return 0;
}

/* The request's own headers; NULL when curl ran out of memory.  The
 * list holds the session token: the caller cleanses it after use. */
static struct curl_slist *
s3_req_headers(const struct s3_req *r, const struct s3_creds *cr)
{
	struct curl_slist *hdrs = NULL;
	char line[256];

	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", r->payload_hash);
	hdrs = curl_slist_append(hdrs, line);
	if (cr->token != NULL) {
		char *t = xasprintf("x-amz-security-token: %s", cr->token);

		hdrs = curl_slist_append(hdrs, t);
		util_cleanse_free(t, strlen(t));
	}
	if (r->ctype != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s", r->ctype);
		hdrs = curl_slist_append(hdrs, line);
	}
	return hdrs;
}

/* The options of r's method: its body source or none; 0 or -1. */
static int
s3_req_method(struct s3_req *r)
{
	CURL *c = r->curl;
	int bad = 0;

	if (strcmp(r->method, "HEAD") == 0) {
		bad |= curl_easy_setopt(c, CURLOPT_NOBODY, 1L) != CURLE_OK;
	} else if (strcmp(r->method, "PUT") == 0) {
		bad |= curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_READFUNCTION, s3_read_cb) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_READDATA, r) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, s3_seek_cb) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_SEEKDATA, r) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->src_len) !=
		       CURLE_OK;
	} else if (strcmp(r->method, "POST") == 0) {
		bad |= curl_easy_setopt(c, CURLOPT_POST, 1L) != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? r->body : "") != CURLE_OK;
		bad |= curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len) !=
		       CURLE_OK;
	} else if (strcmp(r->method, "DELETE") == 0) {
		bad |= curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE") != CURLE_OK;
	}
	return bad ? -1 : 0;
}

static int
s3_req_setup(struct s3_req *r, const struct s3_creds *cr, struct curl_slist **hdrs)
{
	CURL *c = r->curl;
	int bad = 0;

	curl_easy_reset(c);
	if ((*hdrs = s3_req_headers(r, cr)) == NULL)
		return -1;
	bad |= curl_easy_setopt(c, CURLOPT_URL, r->url) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
#else
	bad |= curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) !=
	       CURLE_OK;
#endif
	bad |= curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)r->cfg->net_connect_timeout) !=
	       CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)r->cfg->net_transfer_timeout) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->curlerr) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s3_write_cb) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_WRITEDATA, r) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s3_header_cb) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HEADERDATA, r) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_USERAGENT, "digsigserver") != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_AWS_SIGV4, cr->sigv4) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_USERNAME, cr->id) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_PASSWORD, cr->secret) != CURLE_OK;
	bad |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs) != CURLE_OK;
	return bad || s3_req_method(r) < 0 ? -1 : 0;
}

static void
s3_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Delay before retry number attempt+1: exponential, with jitter. */
static long
s3_backoff_ms(int attempt)
{
	static unsigned int seed;
	long d = S3_BACKOFF_FIRST_MS;

	if (seed == 0)
		seed = (unsigned int)(util_now_ms() ^ (uint64_t)getpid());
	for (int i = 0; i < attempt && d < S3_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > S3_BACKOFF_MAX_MS)
		d = S3_BACKOFF_MAX_MS;
	return d / 2 + (long)(rand_r(&seed) % (unsigned int)(d / 2 + 1));
}

/* Classify a finished attempt; returns 0, or a status with e filled. */
static int
s3_outcome(struct s3_req *r, CURLcode rc, int *transient, struct s3_error *e)
{
	char code[64] = "";

	*transient = 0;
	if (rc != CURLE_OK) {
		if (r->too_large) {
			s3_seterr(e, 500, 0, S3_CODE_TOO_LARGE, "S3 %s %s: object too large", r->method,
				  r->what);
			return 500;
		}
		if (r->io_errno) {
			/* a full disk is 507, which clients do not retry */
			s3_seterr(e, util_write_status(r->io_errno), 0, S3_CODE_LOCAL_IO,
				  "S3 %s %s: local I/O error: %s", r->method, r->what,
				  strerror(r->io_errno));
			return e->status;
		}
		*transient = s3_curl_transient(rc);
		s3_seterr(e, *transient ? 503 : 500, 0, S3_CODE_NETWORK, "S3 %s %s: %s", r->method,
			  r->what,
			  r->curlerr[0] ? r->curlerr : curl_easy_strerror(rc));
		return e->status;
	}
	if (r->http >= 200 && r->http < 300)
		return 0;
	s3_xml_text(r->errbody.data, "Code", code, sizeof(code));
	if (r->http == 404) {
		s3_seterr(e, 404, r->http, code, "S3 %s %s: 404 %s", r->method, r->what,
			  code[0] ? code : "Not Found");
	} else if (r->http == 401 || r->http == 403) {
		s3_seterr(e, 403, r->http, code, "S3 %s %s: %ld %s", r->method, r->what, r->http,
			  code[0] ? code : "Forbidden");
	} else if (r->http >= 500 || r->http == 429 || r->http == 409) {
		/* 409 OperationAborted: a conflicting operation in progress */
		*transient = 1;
		s3_seterr(e, 503, r->http, code, "S3 %s %s: %ld %s", r->method, r->what, r->http,
			  code[0] ? code : "error");
	} else if (r->http >= 300 && r->http < 500) {
		/* what this request asked is refused (InvalidBucketName,
		 * KeyTooLongError, a bucket of another region: 301): asking
		 * again cannot help */
		s3_seterr(e, 400, r->http, code, "S3 %s %s: %ld %s", r->method, r->what, r->http,
			  code[0] ? code : "refused");
	} else {
		s3_seterr(e, 500, r->http, code, "S3 %s %s: %ld %s", r->method, r->what, r->http,
			  code[0] ? code : "error");
	}
	return e->status;
}

int
s3_bad_credentials(const char *code)
{
	static const char *const codes[] = {"InvalidAccessKeyId", "SignatureDoesNotMatch",
					    "ExpiredToken", "InvalidToken", "TokenRefreshRequired",
					    "RequestTimeTooSkewed", "AuthorizationHeaderMalformed"};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/* Run r, retrying transient failures; 0 or a status with e filled. */
static int s3_attempts(struct s3_req *r, const struct s3_creds *cr, struct s3_error *e);

static int
s3_perform(struct s3_req *r, struct s3_error *e)
{
	struct s3_creds cr;
	int status;

	if (s3_get_creds(&cr, e) < 0)
		return e->status;
	status = s3_attempts(r, &cr, e);
	s3_creds_free(&cr);
	return status;
}

/* s3_perform's tries with the credentials cr. */
static int
s3_attempts(struct s3_req *r, const struct s3_creds *cr, struct s3_error *e)
{
	int retries = (int)r->cfg->s3_retries;

	for (int attempt = 0;; attempt++) {
		struct curl_slist *hdrs = NULL;
		uint64_t t0 = util_now_ms();
		int status, transient;
		CURLcode rc;

		if (s3_req_rewind(r) < 0) {
			s3_seterr(e, 500, 0, "", "S3 %s %s: local I/O error: %s", r->method, r->what,
				  strerror(errno));
			return 500;
		}
		if (s3_req_setup(r, cr, &hdrs) < 0) {
			curl_slist_free_all(hdrs);
			s3_seterr(e, 500, 0, "", "S3 %s %s: cannot set up the request", r->method,
				  r->what);
			return 500;
		}
		rc = curl_easy_perform(r->curl);
		if (rc == CURLE_OK) {
			curl_off_t cl = -1;

			curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &r->http);
			if (curl_easy_getinfo(r->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) ==
			    CURLE_OK)
				r->content_length = cl;
		}
		/* The list holds the session token: overwrite before freeing. */
		for (struct curl_slist *h = hdrs; h; h = h->next)
			OPENSSL_cleanse(h->data, strlen(h->data));
		curl_slist_free_all(hdrs);
		curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, NULL);
		status = s3_outcome(r, rc, &transient, e);
		log_debug("S3 %s %s -> %ld (%s, %llu ms)", r->method, r->what, r->http,
			  status ? e->msg : "ok", (unsigned long long)(util_now_ms() - t0));
		if (status == 0 || !transient)
			return status;
		if (attempt >= retries) {
			if (retries > 0)
				snprintf(e->msg + strlen(e->msg), sizeof(e->msg) - strlen(e->msg),
					 " (after %d retries)", retries);
			return status;
		}
		long delay = s3_backoff_ms(attempt);
		log_info("%s; retry %d of %d in %ld ms", e->msg, attempt + 1, retries, delay);
		s3_sleep_ms(delay);
	}
}

static void
s3_req_init(struct s3_req *r, const struct config *cfg, CURL *c, const char *method,
	    const char *what)
{
	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->curl = c;
	r->method = method;
	r->what = what;
	r->src_fd = -1;
	r->dst_fd = -1;
	r->dst_max = -1;
	buf_init(&r->mem, 0, 1);
	buf_init(&r->errbody, S3_ERRBODY_MAX, 0);
	snprintf(r->payload_hash, sizeof(r->payload_hash), "%s", S3_EMPTY_SHA256);
}

static void
s3_req_free(struct s3_req *r)
{
	free(r->url);
	buf_free(&r->errbody);
	buf_free(&r->mem);
	r->url = NULL;
}

static CURL *
s3_curl_new(struct s3_error *e)
{
	CURL *c;

	s3_global_init();
	if ((c = curl_easy_init()) == NULL)
		s3_seterr(e, 500, 0, "", "curl_easy_init failed");
	return c;
}

/*
 * A request on a handle of its own (the public one-shot calls): r set up
 * for method on bucket/key (query: a listing's, or NULL); 0, or a status
 * with e filled.  s3_single_end releases it all.
 */
static int
s3_single_begin(struct s3_req *r, const struct config *cfg, const char *method,
		const char *bucket, const char *key, const char *query, struct s3_error *e)
{
	CURL *c;

	if ((c = s3_curl_new(e)) == NULL)
		return e->status;
	s3_req_init(r, cfg, c, method, NULL);
	r->what = r->what_owned = xasprintf("%s/%s", bucket, key);
	r->url = s3_object_url(cfg, bucket, query ? "" : key, query);
	return 0;
}

static void
s3_single_end(struct s3_req *r)
{
	CURL *c = r->curl;

	free(r->what_owned);
	s3_req_free(r);
	curl_easy_cleanup(c);
}

int
s3_get_mem(const struct config *cfg, const char *bucket, const char *key, size_t max,
	   unsigned char **out, size_t *len, struct s3_error *e)
{
	struct s3_req r;
	int st;

	*out = NULL;
	*len = 0;
	if ((st = s3_single_begin(&r, cfg, "GET", bucket, key, NULL, e)) != 0)
		return st;
	r.sink = SINK_MEM;
	buf_init(&r.mem, max, 1);
	st = s3_perform(&r, e);
	if (st == 0) {
		/* an empty object too is a NUL-terminated buffer */
		*out = (unsigned char *)buf_detach(&r.mem, len);
	}
	s3_single_end(&r);
	return st;
}

int
s3_get_fd(const struct config *cfg, const char *bucket, const char *key, int fd, long long max,
	  char *etag, size_t etaglen, struct s3_error *e)
{
	struct s3_req r;
	int st;

	if ((st = s3_single_begin(&r, cfg, "GET", bucket, key, NULL, e)) != 0)
		return st;
	r.sink = SINK_FD;
	r.dst_fd = fd;
	r.dst_max = max;
	r.dst_len = 1; /* truncate whatever fd held on the first attempt */
	st = s3_perform(&r, e);
	if (st == 0 && etag != NULL)
		snprintf(etag, etaglen, "%s", r.etag);
	s3_single_end(&r);
	return st;
}

int
s3_head(const struct config *cfg, const char *bucket, const char *key, long long *size,
	char *etag, size_t etaglen, struct s3_error *e)
{
	struct s3_req r;
	int st;

	if ((st = s3_single_begin(&r, cfg, "HEAD", bucket, key, NULL, e)) != 0)
		return st;
	st = s3_perform(&r, e);
	if (st == 0) {
		if (size != NULL)
			*size = r.content_length;
		if (etag != NULL)
			snprintf(etag, etaglen, "%s", r.etag);
	}
	s3_single_end(&r);
	return st;
}

/* PUT len bytes of fd at off; query NULL for a whole object, or a part's. */
static int
s3_put_region(const struct config *cfg, CURL *c, const char *bucket, const char *key,
	      const char *what, const char *query, int fd, off_t off, long long len, char *etag,
	      size_t etaglen, struct s3_error *e)
{
	struct s3_req r;
	int st;

	s3_req_init(&r, cfg, c, "PUT", what);
	if (s3_hash_region(fd, off, len, r.payload_hash) < 0) {
		s3_seterr(e, 500, 0, "", "S3 PUT %s: cannot read the upload: %s", what,
			  strerror(errno));
		return 500;
	}
	r.url = s3_object_url(cfg, bucket, key, query);
	r.ctype = query ? NULL : "application/octet-stream";
	r.src_fd = fd;
	r.src_off = off;
	r.src_len = len;
	st = s3_perform(&r, e);
	if (st == 0 && etag != NULL)
		snprintf(etag, etaglen, "%s", r.etag);
	s3_req_free(&r);
	return st;
}

/* POST a small XML (or empty) body; the answer document into *doc. */
static int
s3_post(const struct config *cfg, CURL *c, const char *bucket, const char *key, const char *what,
	const char *query, const char *body, char **doc, struct s3_error *e)
{
	struct s3_req r;
	int st;

	s3_req_init(&r, cfg, c, "POST", what);
	r.url = s3_object_url(cfg, bucket, key, query);
	r.body = body;
	r.body_len = strlen(body);
	r.ctype = *body ? "application/xml" : "application/octet-stream";
	s3_sha256_hex(body, r.body_len, r.payload_hash);
	r.sink = SINK_MEM;
	buf_init(&r.mem, S3_XML_MAX, 1);
	st = s3_perform(&r, e);
	*doc = NULL;
	if (st == 0) {
		*doc = buf_detach(&r.mem, NULL);
	}
	s3_req_free(&r);
	return st;
}

static void
s3_abort_upload(const struct config *cfg, CURL *c, const char *bucket, const char *key,
		const char *what, const char *query)
{
	struct s3_error ae;
	struct s3_req r;

	s3_req_init(&r, cfg, c, "DELETE", what);
	r.url = s3_object_url(cfg, bucket, key, query);
	if (s3_perform(&r, &ae) != 0)
		log_warnx("aborting the multipart upload failed: %s", ae.msg);
	s3_req_free(&r);
}

/* A multipart upload in progress. */
struct s3_upload {
	const struct config *cfg;
	CURL *c;
	const char *bucket, *key, *what;
	int fd;
	long long size, part;
	int nparts;
	char *eid;	     /* the upload id, URL-encoded */
	char (*etags)[128];  /* each part's ETag */
};

/* Parts of cfg->s3_part_size bytes, larger (whole MiB) when S3's
 * 10,000 parts would not hold size bytes. */
static void
s3_plan_parts(struct s3_upload *u)
{
	u->part = u->cfg->s3_part_size;
	if ((u->size + u->part - 1) / u->part > S3_MAX_PARTS) {
		u->part = (u->size + S3_MAX_PARTS - 1) / S3_MAX_PARTS;
		u->part = (u->part + 1048575) / 1048576 * 1048576;
	}
	u->nparts = (int)((u->size + u->part - 1) / u->part);
}

/* CreateMultipartUpload: u->eid from its UploadId; 0 or a status. */
static int
s3_upload_start(struct s3_upload *u, struct s3_error *e)
{
	char uploadid[512], *doc = NULL;
	int st;

	if ((st = s3_post(u->cfg, u->c, u->bucket, u->key, u->what, "uploads=", "", &doc, e)) != 0)
		return st;
	st = s3_xml_text(doc, "UploadId", uploadid, sizeof(uploadid));
	free(doc);
	if (st < 0 || uploadid[0] == '\0') {
		s3_seterr(e, 500, 200, "", "S3 POST %s: no UploadId in the answer", u->what);
		return 500;
	}
	u->eid = s3_encode(uploadid, 0);
	return 0;
}

/* UploadPart for every part, keeping their ETags; 0 or a status. */
static int
s3_upload_parts(struct s3_upload *u, struct s3_error *e)
{
	u->etags = xcalloc((size_t)u->nparts, sizeof(*u->etags));
	for (int i = 0; i < u->nparts; i++) {
		off_t off = (off_t)i * u->part;
		long long len = u->size - off < u->part ? u->size - off : u->part;
		char *q = xasprintf("partNumber=%d&uploadId=%s", i + 1, u->eid);
		int st = s3_put_region(u->cfg, u->c, u->bucket, u->key, u->what, q, u->fd, off, len,
				       u->etags[i], sizeof(u->etags[i]), e);

		free(q);
		if (st != 0)
			return st;
		if (u->etags[i][0] == '\0') {
			s3_seterr(e, 500, 200, "", "S3 PUT %s: part %d answered without ETag", u->what,
				  i + 1);
			return 500;
		}
	}
	return 0;
}

/* The CompleteMultipartUpload document listing the parts. */
static void
s3_complete_xml(const struct s3_upload *u, struct buf *xml)
{
	buf_puts(xml, "<CompleteMultipartUpload>");
	for (int i = 0; i < u->nparts; i++) {
		buf_printf(xml, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
		/* ETags are quoted hex: escape the quotes, nothing else occurs. */
		for (const char *p = u->etags[i]; *p; p++) {
			if (*p == '"')
				buf_puts(xml, "&quot;");
			else if (*p != '<' && *p != '>' && *p != '&')
				buf_append(xml, p, 1);
		}
		buf_puts(xml, "</ETag></Part>");
	}
	buf_puts(xml, "</CompleteMultipartUpload>");
}

/* CompleteMultipartUpload; 0 or a status. */
static int
s3_upload_complete(struct s3_upload *u, struct s3_error *e)
{
	struct buf xml;
	char *q = xasprintf("uploadId=%s", u->eid), *doc = NULL, code[64] = "";
	int st;

	buf_init(&xml, BUF_UNLIMITED, 0);
	s3_complete_xml(u, &xml);
	st = s3_post(u->cfg, u->c, u->bucket, u->key, u->what, q, buf_str(&xml), &doc, e);
	if (st == 0 && strstr(doc, "<Error>") != NULL) {
		/* CompleteMultipartUpload can fail after answering 200. */
		s3_xml_text(doc, "Code", code, sizeof(code));
		s3_seterr(e,
			  strcmp(code, "InternalError") == 0 || strcmp(code, "SlowDown") == 0 ? 503
											   : 500,
			  200, code, "S3 POST %s: completing the upload failed: %s", u->what,
			  code[0] ? code : "error");
		st = e->status;
	}
	free(doc);
	free(q);
	buf_free(&xml);
	return st;
}

/* Upload fd in parts; on any failure after the start, the upload is
 * aborted so that S3 keeps no parts.  0 or a status. */
static int
s3_multipart(const struct config *cfg, CURL *c, const char *bucket, const char *key,
	     const char *what, int fd, long long size, struct s3_error *e)
{
	struct s3_upload u = {cfg, c, bucket, key, what, fd, size, 0, 0, NULL, NULL};
	int st;

	s3_plan_parts(&u);
	if ((st = s3_upload_start(&u, e)) != 0)
		return st;
	log_debug("multipart upload of %s: %lld bytes in %d parts", what, size, u.nparts);
	if ((st = s3_upload_parts(&u, e)) == 0)
		st = s3_upload_complete(&u, e);
	if (st != 0) {
		char *q = xasprintf("uploadId=%s", u.eid);

		s3_abort_upload(cfg, c, bucket, key, what, q);
		free(q);
	}
	free(u.etags);
	free(u.eid);
	return st;
}

int
s3_put_fd(const struct config *cfg, const char *bucket, const char *key, int fd,
	  struct s3_error *e)
{
	char *what = xasprintf("%s/%s", bucket, key);
	struct stat st;
	CURL *c;
	int rc;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		s3_seterr(e, 500, 0, "", "S3 PUT %s: the upload is not a regular file", what);
		free(what);
		return 500;
	}
	if ((c = s3_curl_new(e)) == NULL) {
		free(what);
		return e->status;
	}
	if (st.st_size <= cfg->s3_part_size)
		rc = s3_put_region(cfg, c, bucket, key, what, NULL, fd, 0, st.st_size, NULL, 0, e);
	else
		rc = s3_multipart(cfg, c, bucket, key, what, fd, st.st_size, e);
	curl_easy_cleanup(c);
	free(what);
	return rc;
}

int
s3_probe(const struct config *cfg, const char *bucket, const char *prefix, int *found,
	 struct s3_error *e)
{
	char *eprefix = s3_encode(prefix, 0);
	/* ListObjects (V1): V2's continuation token breaks s3rver on node 20. */
	char *query = xasprintf("max-keys=1&prefix=%s", eprefix);
	struct s3_req r;
	int st;

	*found = 0;
	free(eprefix);
	st = s3_single_begin(&r, cfg, "GET", bucket, prefix, query, e);
	free(query);
	if (st != 0)
		return st;
	r.sink = SINK_MEM;
	buf_init(&r.mem, S3_XML_MAX, 1);
	st = s3_perform(&r, e);
	if (st == 0)
		*found = strstr(buf_str(&r.mem), "<Contents>") != NULL;
	s3_single_end(&r);
	return st;
}
