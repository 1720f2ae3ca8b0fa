/* SPDX-License-Identifier: MIT */
/*
 * check_form.c: unit tests of lib/form.c, request bodies as form fields
 * and uploaded files.
 *
 * Requests are read the way a worker reads them: from a socket (a
 * socketpair with a writer thread, dribbling or streaming) or from the
 * supervisor's prefix alone.  Covers curl -F bodies, 100-continue with a
 * chunked body, duplicates, every limit, urlencoded bodies, the content
 * types, clean-up after errors, a full disk (507), and a 50 MB upload
 * whose memory use must stay flat.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* unshare */
#endif
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "check_main.h"
#include "form.h"
#include "http.h"
#include "util.h"

static const struct http_limits deflim = CHECK_HTTP_LIMITS(600000000);

#define B "------------------------2d66bf7c3cbf98fb"
#define CT_MULTIPART "multipart/form-data; boundary=" B

static char err[256];
static char dir[64];

static void
setup(void)
{
	strcpy(dir, "/tmp/check_form.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	util_rm_rf(dir);
}

/* A request with the given Content-Type (NULL: none) and body. */
static char *
request(const char *ctype, const char *body, size_t blen, size_t *len)
{
	char head[512];
	int n;
	char *raw;

	if (ctype != NULL)
		n = snprintf(head, sizeof(head),
			     "POST /sign/tegra HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n"
			     "Content-Type: %s\r\n\r\n",
			     blen, ctype);
	else
		n = snprintf(head, sizeof(head),
			     "POST /sign/tegra HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n",
			     blen);
	raw = xmalloc((size_t)n + blen);
	memcpy(raw, head, (size_t)n);
	memcpy(raw + n, body, blen);
	*len = (size_t)n + blen;
	return raw;
}

/* Read forms without a directory: files are only hashed. */
static int digest_mode;

/* Read a whole request held in memory (the supervisor's prefix) as a form. */
static int
read_form_lim(const char *raw, size_t len, const struct http_limits *lim, struct form *f)
{
	struct http_request req;
	struct http_conn *c = http_conn_new(-1, lim, raw, len);
	int rc;

	err[0] = '\0';
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	rc = form_read(c, &req, digest_mode ? NULL : dir, f, err, sizeof(err));
	http_request_free(&req);
	http_conn_free(c);
	return rc;
}

/* The same with a Content-Type and body. */
static int
form_of(const char *ctype, const char *body, size_t blen, const struct http_limits *lim,
	struct form *f)
{
	size_t len;
	char *raw = request(ctype, body, blen, &len);
	int rc = read_form_lim(raw, len, lim, f);

	free(raw);
	return rc;
}

static int
status_of(const char *ctype, const char *body)
{
	struct form f;
	int rc = form_of(ctype, body, strlen(body), &deflim, &f);

	form_free(&f);
	return rc;
}

/* Entries in the job directory. */
static int
count_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
assert_file_is(const char *path, const void *want, size_t len)
{
	char *got;
	size_t glen;
	struct stat st;

	ck_assert_int_eq(util_read_file(path, len + 1, &got, &glen), 0);
	ck_assert_uint_eq(glen, len);
	ck_assert(memcmp(got, want, len) == 0);
	free(got);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
}

/* --- a socket writer --- */

/* Read a request through a socketpair from a writer thread. */
static int
read_form_socket(const char *raw, size_t len, size_t head_len, size_t piece,
		 const struct http_limits *lim, struct form *f, struct check_writer *w)
{
	struct http_request req;
	struct http_conn *c;
	int sv[2], rc;

	*w = (struct check_writer){.data = raw, .len = len, .head_len = head_len, .piece = piece};
	check_writer_start(w, sv);
	c = http_conn_new(sv[0], lim, NULL, 0);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	rc = form_read(c, &req, digest_mode ? NULL : dir, f, err, sizeof(err));
	http_request_free(&req);
	http_conn_free(c);
	close(sv[0]);
	pthread_join(w->thread, NULL);
	close(sv[1]);
	return rc;
}

/* --- curl -F bodies --- */

static const char artifact[] = "MANIFEST\r\n--" B "-\r\n\0\xff\r\n--\r\n";

static char *
curl_body(size_t *len)
{
	static const char a[] = "--" B "\r\n"
				"Content-Disposition: form-data; name=\"machine\"\r\n\r\n"
				"jetson-agx-xavier\r\n"
				"--" B "\r\n"
				"Content-Disposition: form-data; name=\"soctype\"\r\n\r\n"
				"tegra194\r\n"
				"--" B "\r\n"
				"Content-Disposition: form-data; name=\"bspversion\"\r\n\r\n"
				"35.4.1\r\n"
				"--" B "\r\n"
				"Content-Disposition: form-data; name=\"artifact\"; "
				"filename=\"../../etc/artifact.tar.gz\"\r\n"
				"Content-Type: application/octet-stream\r\n\r\n";
	static const char z[] = "\r\n--" B "--\r\n";
	char *body = xmalloc(sizeof(a) + sizeof(artifact) + sizeof(z));

	memcpy(body, a, sizeof(a) - 1);
	memcpy(body + sizeof(a) - 1, artifact, sizeof(artifact) - 1);
	memcpy(body + sizeof(a) - 1 + sizeof(artifact) - 1, z, sizeof(z) - 1);
	*len = sizeof(a) - 1 + sizeof(artifact) - 1 + sizeof(z) - 1;
	return body;
}

static void
assert_curl_form(const struct form *f)
{
	const struct form_file *ff;

	ck_assert_uint_eq(f->nfields, 3);
	ck_assert_str_eq(form_field(f, "machine"), "jetson-agx-xavier");
	ck_assert_str_eq(form_field(f, "soctype"), "tegra194");
	ck_assert_str_eq(form_field(f, "bspversion"), "35.4.1");
	ck_assert_str_eq(f->fields[0].type, "text/plain");
	ck_assert_uint_eq(f->fields[0].len, strlen("jetson-agx-xavier"));
	ck_assert_ptr_null(form_field(f, "artifact"));
	ck_assert_ptr_null(form_file(f, "machine"));
	ck_assert_uint_eq(f->nfiles, 1);
	ff = form_file(f, "artifact");
	ck_assert_ptr_nonnull(ff);
	ck_assert_str_eq(ff->filename, "../../etc/artifact.tar.gz");
	ck_assert_str_eq(ff->type, "application/octet-stream");
	ck_assert_uint_eq(ff->size, sizeof(artifact) - 1);
	/* the server's name, never the client's */
	ck_assert_str_eq(ff->path + strlen(dir), "/upload-0");
	assert_file_is(ff->path, artifact, sizeof(artifact) - 1);
	ck_assert_int_eq(count_files(), 1);
}

/* The curl body as a whole request, its length in *len. */
static char *
curl_request(size_t *len)
{
	size_t blen;
	char *body = curl_body(&blen);
	char *raw = request(CT_MULTIPART, body, blen, len);

	free(body);
	return raw;
}

START_TEST(test_curl)
{
	size_t blen;
	char *body = curl_body(&blen);
	struct form f;

	ck_assert_int_eq(form_of(CT_MULTIPART, body, blen, &deflim, &f), 0);
	assert_curl_form(&f);
	form_free(&f);
	form_free(&f);
	free(body);
}
END_TEST

START_TEST(test_curl_dribbled)
{
	size_t len;
	char *raw = curl_request(&len);
	struct form f;
	struct check_writer w;

	/* one byte per write through a real socket */
	ck_assert_int_eq(read_form_socket(raw, len, 0, 1, &deflim, &f, &w), 0);
	assert_curl_form(&f);
	form_free(&f);
	free(raw);
}
END_TEST

/* Without a directory a file part is only hashed: nothing on disk, its
 * SHA-256 and size, whole or one byte per write. */
START_TEST(test_digest_only)
{
	unsigned char want[32];
	size_t len;
	char *raw = curl_request(&len);
	const struct form_file *ff;
	struct form f;
	struct check_writer w;

	SHA256((const unsigned char *)artifact, sizeof(artifact) - 1, want);
	digest_mode = 1;
	for (int piece = 0; piece < 2; piece++) {
		if (piece == 0)
			ck_assert_int_eq(read_form_lim(raw, len, &deflim, &f), 0);
		else
			ck_assert_int_eq(read_form_socket(raw, len, 0, 1, &deflim, &f, &w), 0);
		ck_assert_str_eq(form_field(&f, "machine"), "jetson-agx-xavier");
		ck_assert_uint_eq(f.nfiles, 1);
		ff = form_file(&f, "artifact");
		ck_assert_ptr_nonnull(ff);
		ck_assert_ptr_null(ff->path);
		ck_assert_str_eq(ff->type, "application/octet-stream");
		ck_assert_uint_eq(ff->size, sizeof(artifact) - 1);
		ck_assert_mem_eq(ff->sha256, want, 32);
		ck_assert_int_eq(count_files(), 0);
		form_free(&f);
	}
	digest_mode = 0;
	free(raw);
}
END_TEST

START_TEST(test_chunked_continue)
{
	size_t blen;
	char *body = curl_body(&blen);
	char head[] = "POST //sign/tegra HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
		      "Content-Type: " CT_MULTIPART "\r\nExpect: 100-continue\r\n\r\n";
	char *raw = xmalloc(sizeof(head) + 2 * blen + 1000);
	size_t n = sizeof(head) - 1, off = 0;
	struct form f;
	struct check_writer w;

	/* the body in chunks of 7 bytes, with extensions, and a trailer */
	memcpy(raw, head, n);
	while (off < blen) {
		size_t k = blen - off < 7 ? blen - off : 7;

		n += (size_t)sprintf(raw + n, "%zx;x=y\r\n", k);
		memcpy(raw + n, body + off, k);
		n += k;
		off += k;
		memcpy(raw + n, "\r\n", 2);
		n += 2;
	}
	n += (size_t)sprintf(raw + n, "0\r\nX-Checksum: none\r\n\r\n");
	ck_assert_int_eq(read_form_socket(raw, n, sizeof(head) - 1, 100, &deflim, &f, &w), 0);
	ck_assert_str_eq(w.got, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_curl_form(&f);
	form_free(&f);
	free(raw);
	free(body);
}
END_TEST

START_TEST(test_duplicates)
{
	static const char body[] =
	    "--" B "\r\nContent-Disposition: form-data; name=\"machine\"\r\n\r\nfirst\r\n"
	    "--" B "\r\nContent-Disposition: form-data; name=\"machine\"\r\n\r\nsecond\r\n"
	    "--" B "\r\nContent-Disposition: form-data; name=\"artifact\"; "
	    "filename=\"a\"\r\n\r\n"
	    "AAAA\r\n"
	    "--" B "\r\nContent-Disposition: form-data; name=\"artifact\"; "
	    "filename=\"b\"\r\n\r\n"
	    "BBBBBBBB\r\n"
	    "--" B "\r\nContent-Disposition: form-data; name=\"machine\"; "
	    "filename=\"c\"\r\n\r\n"
	    "CCCC\r\n"
	    "--" B "\r\nContent-Disposition: form-data; name=\"artifact\"\r\n\r\nfield\r\n"
	    "--" B "\r\nContent-Disposition: form-data; name=\"other\"; filename=\"\"\r\n\r\n"
	    "\r\n"
	    "--" B "--\r\n";
	struct form f;

	ck_assert_int_eq(form_of(CT_MULTIPART, body, sizeof(body) - 1, &deflim, &f), 0);
	/* of two of a kind the first wins; a field and a file of one name
	 * are both kept, as the original's request.form and request.files */
	ck_assert_uint_eq(f.nfields, 2);
	ck_assert_str_eq(form_field(&f, "machine"), "first");
	ck_assert_str_eq(form_file(&f, "machine")->filename, "c");
	assert_file_is(form_file(&f, "machine")->path, "CCCC", 4);
	ck_assert_str_eq(form_field(&f, "artifact"), "field");
	ck_assert_uint_eq(f.nfiles, 3);
	ck_assert_str_eq(form_file(&f, "artifact")->filename, "a");
	assert_file_is(form_file(&f, "artifact")->path, "AAAA", 4);
	/* an empty filename still makes a file */
	ck_assert_str_eq(form_file(&f, "other")->filename, "");
	ck_assert_uint_eq(form_file(&f, "other")->size, 0);
	ck_assert_str_eq(form_file(&f, "other")->type, "text/plain");
	ck_assert_str_eq(form_file(&f, "other")->path + strlen(dir), "/upload-2");
	/* the duplicates' data went nowhere */
	ck_assert_int_eq(count_files(), 3);
	form_free(&f);
}
END_TEST

/* A NUL byte in a field's value is refused: a signer would read only the
 * part before it ("demo\0/../../x" signing as "demo").  Files may hold any
 * byte, and a duplicate part is dropped unread. */
START_TEST(test_nul_in_field)
{
	static const char nul_field[] =
	    "--" B "\r\nContent-Disposition: form-data; name=\"distro\"\r\n\r\n"
	    "demo\0/../../x\r\n"
	    "--" B "--\r\n";
	static const char nul_file[] =
	    "--" B "\r\nContent-Disposition: form-data; name=\"distro\"\r\n\r\ndemo\r\n"
	    "--" B "\r\nContent-Disposition: form-data; name=\"distro\"\r\n\r\nx\0y\r\n"
	    "--" B "\r\nContent-Disposition: form-data; name=\"artifact\"; filename=\"a\"\r\n"
	    "Content-Type: application/octet-stream\r\n\r\n\0\0\r\n"
	    "--" B "--\r\n";
	static const char ct[] = "application/x-www-form-urlencoded";
	struct form f;

	ck_assert_int_eq(form_of(CT_MULTIPART, nul_field, sizeof(nul_field) - 1, &deflim, &f), 400);
	ck_assert_str_eq(err, "NUL byte in form field \"distro\"");
	ck_assert_uint_eq(f.nfields, 0);
	form_free(&f);
	ck_assert_int_eq(form_of(CT_MULTIPART, nul_file, sizeof(nul_file) - 1, &deflim, &f), 0);
	ck_assert_str_eq(form_field(&f, "distro"), "demo");
	ck_assert_uint_eq(form_file(&f, "artifact")->size, 2);
	form_free(&f);

	ck_assert_int_eq(status_of(ct, "distro=demo%00/../../x"), 400);
	ck_assert_str_eq(err, "NUL byte in form field \"distro\"");
	ck_assert_int_eq(status_of(ct, "distro=%00"), 400);
	ck_assert_int_eq(status_of(ct, "a=1&distro=demo&x=%00"), 400);
	ck_assert_int_eq(status_of(ct, "distro=demo%01"), 0);
}
END_TEST

START_TEST(test_field_max)
{
	struct http_limits lim = deflim;
	char body[4096], value[1100];
	struct form f;
	int n;

	lim.field_max = 1000;
	memset(value, 'v', sizeof(value));
	/* exactly field_max bytes */
	n = snprintf(body, sizeof(body),
		     "--" B "\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n%.1000s\r\n--" B
		     "--",
		     value);
	ck_assert_int_eq(form_of(CT_MULTIPART, body, (size_t)n, &lim, &f), 0);
	ck_assert_uint_eq(f.fields[0].len, 1000);
	ck_assert_uint_eq(strlen(form_field(&f, "f")), 1000);
	form_free(&f);
	/* one more */
	n = snprintf(body, sizeof(body),
		     "--" B "\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n%.1001s\r\n--" B
		     "--",
		     value);
	ck_assert_int_eq(form_of(CT_MULTIPART, body, (size_t)n, &lim, &f), 413);
	ck_assert_str_eq(err, "form field \"f\" larger than 1000 bytes");
	ck_assert_uint_eq(f.nfields, 0);
	form_free(&f);
	/* a file may be larger */
	n = snprintf(body, sizeof(body),
		     "--" B "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n"
		     "%.1100s\r\n--" B "--",
		     value);
	ck_assert_int_eq(form_of(CT_MULTIPART, body, (size_t)n, &lim, &f), 0);
	ck_assert_uint_eq(form_file(&f, "f")->size, 1100);
	form_free(&f);
	/* a field with a NUL byte is refused (test_nul_in_field) */
	n = snprintf(body, sizeof(body),
		     "--" B "\r\nContent-Disposition: form-data; name=\"bin\"\r\n\r\na");
	memcpy(body + n, "\0b\r\n--" B "--", sizeof("\0b\r\n--" B "--") - 1);
	n += (int)sizeof("\0b\r\n--" B "--") - 1;
	ck_assert_int_eq(form_of(CT_MULTIPART, body, (size_t)n, &lim, &f), 400);
	ck_assert_uint_eq(f.nfields, 0);
	form_free(&f);
}
END_TEST

START_TEST(test_max_parts)
{
	struct http_limits lim = deflim;
	char body[8192];
	size_t n = 0;
	struct form f;

	lim.max_parts = 3;
	for (int i = 0; i < 4; i++)
		n += (size_t)snprintf(body + n, sizeof(body) - n,
				      "--" B "\r\nContent-Disposition: form-data; name=\"f%d\"; "
				      "filename=\"f\"\r\n\r\n%d\r\n",
				      i, i);
	n += (size_t)snprintf(body + n, sizeof(body) - n, "--" B "--\r\n");
	ck_assert_int_eq(form_of(CT_MULTIPART, body, n, &lim, &f), 400);
	ck_assert_str_eq(err, "more than 3 parts in the form");
	/* the files written before the error are gone */
	ck_assert_int_eq(count_files(), 0);
	ck_assert_uint_eq(f.nfiles, 0);
	form_free(&f);
}
END_TEST

START_TEST(test_truncated)
{
	size_t blen;
	char *body = curl_body(&blen);
	struct form f;

	/* the closing boundary is missing */
	ck_assert_int_eq(form_of(CT_MULTIPART, body, blen - 10, &deflim, &f), 400);
	ck_assert_str_eq(err, "truncated multipart body");
	ck_assert_int_eq(count_files(), 0);
	ck_assert_uint_eq(f.nfields + f.nfiles, 0);
	form_free(&f);
	free(body);
}
END_TEST

START_TEST(test_client_gone)
{
	size_t len;
	char *raw = curl_request(&len);
	struct form f;
	struct check_writer w;

	/* the client hangs up in the file part */
	ck_assert_int_eq(read_form_socket(raw, len - 30, 0, 64, &deflim, &f, &w), 400);
	ck_assert_str_eq(err, "client closed the connection");
	ck_assert_int_eq(count_files(), 0);
	form_free(&f);
	free(raw);
}
END_TEST

START_TEST(test_content_types)
{
	struct form f;
	static const char get[] = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char post[] = "POST /x HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char post_mp[] = "POST /x HTTP/1.1\r\nHost: h\r\n"
				      "Content-Type: multipart/form-data; boundary=x\r\n\r\n";

	ck_assert_int_eq(status_of("text/plain", "hello"), 415);
	ck_assert_str_eq(err, "unsupported Content-Type \"text/plain\"");
	ck_assert_int_eq(status_of("application/json; charset=utf-8", "{}"), 415);
	ck_assert_int_eq(status_of("multipart/mixed; boundary=x", "--x--"), 415);
	ck_assert_int_eq(status_of("multipart/form-data", "--x--"), 400);
	ck_assert_str_eq(err, "multipart body without a boundary");
	ck_assert_int_eq(status_of("multipart/form-data; boundary=", "--x--"), 400);
	ck_assert_int_eq(status_of("", ""), 400);
	ck_assert_int_eq(status_of("multipart/form-data; boundary=\"x y\"", "--x y--"), 0);
	ck_assert_int_eq(status_of("Multipart/Form-Data; BOUNDARY=x", "--x--"), 0);
	/* no Content-Type: only an empty body, which is an empty form */
	ck_assert_int_eq(status_of(NULL, "x"), 415);
	ck_assert_int_eq(form_of(NULL, "", 0, &deflim, &f), 0);
	ck_assert_uint_eq(f.nfields + f.nfiles, 0);
	form_free(&f);
	ck_assert_int_eq(read_form_lim(get, sizeof(get) - 1, &deflim, &f), 0);
	form_free(&f);
	/* an empty multipart body is an empty form too; a part of one is not */
	ck_assert_int_eq(form_of("multipart/form-data; boundary=x", "", 0, &deflim, &f), 0);
	ck_assert_uint_eq(f.nfields + f.nfiles, 0);
	form_free(&f);
	ck_assert_int_eq(status_of("multipart/form-data; boundary=x", "--x\r\n"), 400);
	ck_assert_str_eq(err, "truncated multipart body");
	ck_assert_int_eq(read_form_lim(post_mp, sizeof(post_mp) - 1, &deflim, &f), 0);
	ck_assert_uint_eq(f.nfields + f.nfiles, 0);
	form_free(&f);
	/* a POST with no body is an empty form */
	ck_assert_int_eq(read_form_lim(post, sizeof(post) - 1, &deflim, &f), 0);
	ck_assert_uint_eq(f.nfields + f.nfiles, 0);
	form_free(&f);
}
END_TEST

START_TEST(test_body_max)
{
	struct http_limits lim = deflim;
	size_t blen, len;
	char *body = curl_body(&blen);
	char *raw = request(CT_MULTIPART, body, blen, &len);
	struct form f;

	lim.body_max = blen - 1;
	ck_assert_int_eq(read_form_lim(raw, len, &lim, &f), 413);
	form_free(&f);
	lim.body_max = blen;
	ck_assert_int_eq(read_form_lim(raw, len, &lim, &f), 0);
	form_free(&f);
	free(raw);
	free(body);
}
END_TEST

/* --- urlencoded --- */

START_TEST(test_urlencoded)
{
	static const char ct[] = "application/x-www-form-urlencoded";
	struct form f;
	static const char body[] =
	    "distro=testdistro&artifact-uri=file%3A%2F%2F%2Ftmp%2Fa+b%2Bc.mender"
	    "&&empty=&noequals&=nameless&distro=second&sp%20ace=a=b&caf%C3%A9=1";

	ck_assert_int_eq(form_of(ct, body, sizeof(body) - 1, &deflim, &f), 0);
	ck_assert_str_eq(form_field(&f, "distro"), "testdistro");
	ck_assert_str_eq(form_field(&f, "artifact-uri"), "file:///tmp/a b+c.mender");
	ck_assert_str_eq(form_field(&f, "empty"), "");
	ck_assert_str_eq(form_field(&f, "noequals"), "");
	ck_assert_str_eq(form_field(&f, "sp ace"), "a=b");
	ck_assert_str_eq(form_field(&f, "caf\xc3\xa9"), "1");
	ck_assert_str_eq(f.fields[0].type, "text/plain");
	ck_assert_uint_eq(f.nfields, 6);
	ck_assert_uint_eq(f.nfiles, 0);
	form_free(&f);

	ck_assert_int_eq(status_of("application/x-www-form-urlencoded; charset=UTF-8", "a=1"), 0);
	ck_assert_int_eq(status_of(ct, ""), 0);
	ck_assert_int_eq(status_of(ct, "a=%"), 400);
	ck_assert_int_eq(status_of(ct, "a=%4"), 400);
	ck_assert_int_eq(status_of(ct, "a=%4g"), 400);
	ck_assert_int_eq(status_of(ct, "a%00b=1"), 400);
	ck_assert_int_eq(status_of(ct, "a%00b"), 400);
}
END_TEST

START_TEST(test_urlencoded_limits)
{
	struct form f;
	char buf[4096];
	int n;

	/* field_max bounds values and names */
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "v=", 2);
	ck_assert_int_eq(form_parse_urlencoded(buf, 102, 100, 64, &f, err, sizeof(err)), 0);
	ck_assert_uint_eq(f.fields[0].len, 100);
	form_free(&f);
	ck_assert_int_eq(form_parse_urlencoded(buf, 103, 100, 64, &f, err, sizeof(err)), 413);
	ck_assert_str_eq(err, "form field \"v\" larger than 100 bytes");
	ck_assert_uint_eq(f.nfields, 0);
	ck_assert_int_eq(form_parse_urlencoded(buf + 2, 101, 100, 64, &f, err, sizeof(err)), 413);
	/* percent escapes count once decoded */
	n = sprintf(buf, "v=");
	for (int i = 0; i < 100; i++)
		n += sprintf(buf + n, "%%41");
	ck_assert_int_eq(form_parse_urlencoded(buf, (size_t)n, 100, 64, &f, err, sizeof(err)), 0);
	ck_assert_uint_eq(strlen(form_field(&f, "v")), 100);
	form_free(&f);
	/* max_parts bounds the pairs, dropped duplicates included */
	ck_assert_int_eq(form_parse_urlencoded("a=1&b=2&a=3", 11, 100, 3, &f, err, sizeof(err)), 0);
	form_free(&f);
	ck_assert_int_eq(form_parse_urlencoded("a=1&b=2&a=3&d", 13, 100, 3, &f, err, sizeof(err)),
			 400);
	ck_assert_str_eq(err, "more than 3 fields in the form");
	/* empty pairs do not count */
	ck_assert_int_eq(form_parse_urlencoded("&&a=1&&&b&&c=&", 14, 100, 3, &f, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(f.nfields, 3);
	form_free(&f);
}
END_TEST

START_TEST(test_urlencoded_stream)
{
	/* through a socket one byte at a time: escapes split across reads */
	static const char body[] = "machine=my%2Dmachine&hashalg=sha512&x=%e2%82%ac";
	size_t len;
	char *raw = request("application/x-www-form-urlencoded", body, sizeof(body) - 1, &len);
	struct form f;
	struct check_writer w;

	ck_assert_int_eq(read_form_socket(raw, len, 0, 1, &deflim, &f, &w), 0);
	ck_assert_str_eq(form_field(&f, "machine"), "my-machine");
	ck_assert_str_eq(form_field(&f, "hashalg"), "sha512");
	ck_assert_str_eq(form_field(&f, "x"), "\xe2\x82\xac");
	form_free(&f);
	free(raw);
}
END_TEST

/* --- the files --- */

START_TEST(test_no_follow)
{
	size_t blen;
	char *body = curl_body(&blen);
	char path[128], target[] = "/tmp/check_form_target.XXXXXX";
	int fd = mkstemp(target);
	struct form f;
	struct stat st;

	/* a planted upload-0 is neither followed nor overwritten */
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/upload-0", dir);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(form_of(CT_MULTIPART, body, blen, &deflim, &f), 500);
	ck_assert_int_eq(stat(target, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	form_free(&f);
	unlink(target);
	free(body);
}
END_TEST

/* A multipart body with one file part of size bytes of 'F'. */
static char *
file_body(size_t size, size_t *len)
{
	static const char a[] = "--" B "\r\nContent-Disposition: form-data; name=\"artifact\"; "
				"filename=\"big\"\r\n\r\n";
	static const char z[] = "\r\n--" B "--\r\n";
	char *body = xmalloc(sizeof(a) + size + sizeof(z));

	memcpy(body, a, sizeof(a) - 1);
	memset(body + sizeof(a) - 1, 'F', size);
	memcpy(body + sizeof(a) - 1 + size, z, sizeof(z) - 1);
	*len = sizeof(a) - 1 + size + sizeof(z) - 1;
	return body;
}

START_TEST(test_enospc)
{
	size_t blen;
	char *body = file_body(1024 * 1024, &blen);
	struct form f;

	/* a 256 KiB tmpfs in a private mount namespace (needs root) */
	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=256k") < 0) {
		fprintf(stderr, "test_enospc: skipped (cannot mount tmpfs: %s)\n", strerror(errno));
		free(body);
		return;
	}
	ck_assert_int_eq(form_of(CT_MULTIPART, body, blen, &deflim, &f), 507);
	ck_assert_str_eq(err, "not enough storage for the upload");
	ck_assert_int_eq(count_files(), 0);
	form_free(&f);
	umount(dir);
	free(body);
}
END_TEST

START_TEST(test_efbig)
{
	size_t blen;
	char *body = file_body(1024 * 1024, &blen);
	struct rlimit rl = {100000, 100000}, old;
	struct form f;
	int rc;

	/* a file size limit also means no room for the upload */
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl.rlim_max = old.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	rc = form_of(CT_MULTIPART, body, blen, &deflim, &f);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_int_eq(rc, 507);
	ck_assert_int_eq(count_files(), 0);
	form_free(&f);
	free(body);
}
END_TEST

START_TEST(test_unwritable_dir)
{
	size_t blen;
	char *body = curl_body(&blen);
	struct form f;
	char missing[128];
	struct http_request req;
	struct http_conn *c;
	size_t len;
	char *raw = request(CT_MULTIPART, body, blen, &len);

	snprintf(missing, sizeof(missing), "%s/missing", dir);
	c = http_conn_new(-1, &deflim, raw, len);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	ck_assert_int_eq(form_read(c, &req, missing, &f, err, sizeof(err)), 500);
	ck_assert_ptr_nonnull(strstr(err, "creating the upload"));
	form_free(&f);
	http_request_free(&req);
	http_conn_free(c);
	free(raw);
	free(body);
}
END_TEST

/* --- a 50 MB upload --- */

#define BIG_SIZE (50 * 1000 * 1000)

static unsigned char
big_byte(uint64_t i)
{
	return (unsigned char)((i * 2654435761u) >> 11);
}

struct big_writer {
	int fd;
	pthread_t thread;
};

static const char big_head[] = "POST /sign/modules HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
			       "Content-Type: " CT_MULTIPART "\r\nContent-Length: %zu\r\n\r\n";
static const char big_a[] =
    "--" B "\r\nContent-Disposition: form-data; name=\"machine\"\r\n\r\n"
    "qemux86-64\r\n"
    "--" B "\r\nContent-Disposition: form-data; name=\"artifact\"; "
    "filename=\"modules.tar.gz\"\r\nContent-Type: application/octet-stream\r\n\r\n";
static const char big_z[] = "\r\n--" B "--\r\n";

/* Generate the request on the fly: the writer holds 64 KiB, not 50 MB. */
static void *
big_writer_main(void *arg)
{
	struct big_writer *w = arg;
	static unsigned char buf[65536];
	char head[512];
	int n = snprintf(head, sizeof(head), big_head,
			 sizeof(big_a) - 1 + (size_t)BIG_SIZE + sizeof(big_z) - 1);
	uint64_t off = 0;

	if (util_write_all(w->fd, head, (size_t)n) < 0 || read(w->fd, buf, 25) != 25 ||
	    util_write_all(w->fd, big_a, sizeof(big_a) - 1) < 0)
		return NULL;
	while (off < BIG_SIZE) {
		size_t k = BIG_SIZE - off < sizeof(buf) ? (size_t)(BIG_SIZE - off) : sizeof(buf);

		for (size_t i = 0; i < k; i++)
			buf[i] = big_byte(off + i);
		if (util_write_all(w->fd, buf, k) < 0)
			return NULL;
		off += k;
	}
	util_write_all(w->fd, big_z, sizeof(big_z) - 1);
	return NULL;
}

START_TEST(test_50mb)
{
	struct big_writer w;
	struct http_request req;
	struct http_conn *c;
	struct rusage before, after;
	struct form f;
	const struct form_file *ff;
	unsigned char *chunk = xmalloc(1 << 20);
	int sv[2], fd;
	uint64_t off = 0;
	size_t body_len;
	ssize_t r;

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	w.fd = sv[1];
	ck_assert_int_eq(pthread_create(&w.thread, NULL, big_writer_main, &w), 0);
	c = http_conn_new(sv[0], &deflim, NULL, 0);
	ck_assert_int_eq(http_read_head(c, &req, err, sizeof(err)), 0);
	getrusage(RUSAGE_SELF, &before);
	ck_assert_int_eq(form_read(c, &req, dir, &f, err, sizeof(err)), 0);
	getrusage(RUSAGE_SELF, &after);
	/* ru_maxrss is in KiB; the body is 50 MB */
	ck_assert_msg(after.ru_maxrss - before.ru_maxrss < 4096,
		      "maxrss grew from %ld KiB to %ld KiB reading 50 MB", before.ru_maxrss,
		      after.ru_maxrss);
	body_len = sizeof(big_a) - 1 + (size_t)BIG_SIZE + sizeof(big_z) - 1;
	ck_assert_uint_eq(http_conn_bytes_in(c),
			  body_len + (size_t)snprintf(NULL, 0, big_head, body_len));
	pthread_join(w.thread, NULL);
	close(sv[0]);
	close(sv[1]);

	ck_assert_str_eq(form_field(&f, "machine"), "qemux86-64");
	ff = form_file(&f, "artifact");
	ck_assert_ptr_nonnull(ff);
	ck_assert_uint_eq(ff->size, BIG_SIZE);
	fd = open(ff->path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	while ((r = read(fd, chunk, 1 << 20)) > 0) {
		for (ssize_t i = 0; i < r; i++)
			if (chunk[i] != big_byte(off + (uint64_t)i))
				ck_abort_msg("byte %llu differs",
					     (unsigned long long)(off + (uint64_t)i));
		off += (uint64_t)r;
	}
	close(fd);
	ck_assert_uint_eq(off, BIG_SIZE);
	form_free(&f);
	http_request_free(&req);
	http_conn_free(c);
	free(chunk);
}
END_TEST

static Suite *
form_suite(void)
{
	Suite *s = suite_create("form");
	TCase *tc = tcase_create("form");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_curl);
	tcase_add_test(tc, test_curl_dribbled);
	tcase_add_test(tc, test_digest_only);
	tcase_add_test(tc, test_chunked_continue);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_nul_in_field);
	tcase_add_test(tc, test_field_max);
	tcase_add_test(tc, test_max_parts);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_client_gone);
	tcase_add_test(tc, test_content_types);
	tcase_add_test(tc, test_body_max);
	tcase_add_test(tc, test_urlencoded);
	tcase_add_test(tc, test_urlencoded_limits);
	tcase_add_test(tc, test_urlencoded_stream);
	tcase_add_test(tc, test_no_follow);
	tcase_add_test(tc, test_enospc);
	tcase_add_test(tc, test_efbig);
	tcase_add_test(tc, test_unwritable_dir);
	tcase_add_test(tc, test_50mb);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = form_suite);
