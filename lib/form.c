/* SPDX-License-Identifier: MIT */
/*
 * form.c: see form.h.  The body is read in 64 KiB slices and pushed
 * through the multipart parser (multipart.c) or the urlencoded parser
 * below, so memory use does not depend on the body size: a file part goes
 * to disk through one fixed buffer, a field is held up to field_max.
 *
 * Files are named by the server (<dir>/upload-<n>); the client's filename
 * is kept as information only and never used as a path.  On any error the
 * files written so far are removed and the form is left empty.
 */
#include "form.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "buf.h"
#include "http.h"
#include "multipart.h"
#include "pkey.h"
#include "util.h"

#define FORM_READ_SIZE (64 * 1024)
#define FORM_WRITE_SIZE (64 * 1024)

enum part_kind { PART_FIELD, PART_FILE, PART_SKIP };

/* The state of one form being read. */
struct form_ctx {
	struct form *f;
	const char *dir;
	size_t field_max;
	int max_parts;
	int nfields_seen; /* urlencoded pairs, dropped ones included */
	enum part_kind kind;
	/* the current field: name, type and value so far */
	char *name, *type;
	struct buf value; /* at most field_max bytes */
	/* the current file: descriptor and write buffer, or (no dir) digest */
	int fd;
	EVP_MD_CTX *md;
	unsigned char *wbuf;
	size_t wlen;
	int nuploads;
	/* urlencoded: in the value part of a pair; pending percent escape */
	int in_value;
	int pct;     /* 0, or 1/2 after '%' and after its first digit */
	int pct_hi;
};

/* A client-supplied name made safe to quote in a reason or a log line. */
static void
printable(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 4 < outlen; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[o++] = ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' ? (char)ch : '?';
	}
	if (o + 4 >= outlen && len > o)
		out[o++] = '.', out[o++] = '.', out[o++] = '.';
	out[o] = '\0';
}


static int
field_too_large(struct form_ctx *x, const char *name, size_t nlen, char *err, size_t errlen)
{
	char shown[48];

	printable(name, nlen, shown, sizeof(shown));
	return util_err(err, errlen, 413, "form field \"%s\" larger than %zu bytes", shown,
		       x->field_max);
}

/* Append to the current field value, bounded by field_max. */
static int
value_append(struct form_ctx *x, const void *buf, size_t len)
{
	return buf_append(&x->value, buf, len);
}

/*
 * Hand the current value over to a new field; 0, or 400 with err for a
 * value holding a NUL byte: signers read fields as C strings, so
 * "demo\0/../../x" would be taken as "demo" while the bytes after it
 * went unchecked.
 */
static int
field_add(struct form_ctx *x, const char *name, const char *type, char *err, size_t errlen)
{
	struct form *f = x->f;
	struct form_field *fl;

	if (memchr(buf_str(&x->value), '\0', x->value.len) != NULL) {
		char shown[48];

		printable(name, strlen(name), shown, sizeof(shown));
		return util_err(err, errlen, 400, "NUL byte in form field \"%s\"", shown);
	}
	f->fields = xrealloc(f->fields, (f->nfields + 1) * sizeof(*f->fields));
	fl = &f->fields[f->nfields++];
	fl->name = xstrdup(name);
	fl->type = xstrdup(type);
	fl->value = buf_detach(&x->value, &fl->len);
	return 0;
}

/* --- multipart callbacks --- */

/* Map a failed write or create to a status. */
static int
storage_error(int e, const char *what, char *err, size_t errlen)
{
	if (util_write_status(e) == 507)
		return util_err(err, errlen, 507, "not enough storage for the upload");
	return util_err(err, errlen, 500, "%s the upload: %s", what, strerror(e));
}

static int
file_flush(struct form_ctx *x, char *err, size_t errlen)
{
	if (x->wlen > 0 && util_write_all(x->fd, x->wbuf, x->wlen) < 0)
		return storage_error(errno, "writing", err, errlen);
	x->wlen = 0;
	return 0;
}

static int
part_begin(void *arg, const struct multipart_part *part, char *err, size_t errlen)
{
	struct form_ctx *x = arg;
	struct form *f = x->f;
	struct form_file *ff;
	char *path;

	/* fields and files are apart, as in the original's form (Sanic's
	 * request.form and request.files): a part with a filename is a
	 * file, and a file part named like a field does not hide that field,
	 * nor a field a file; of two of one kind the first wins */
	if (part->filename == NULL ? form_field(f, part->name) != NULL
				   : form_file(f, part->name) != NULL) {
		x->kind = PART_SKIP;
		return 0;
	}
	if (part->filename == NULL) {
		x->kind = PART_FIELD;
		free(x->name);
		free(x->type);
		x->name = xstrdup(part->name);
		x->type = xstrdup(part->type);
		buf_clear(&x->value);
		return 0;
	}
	x->kind = PART_FILE;
	if (x->dir == NULL) {
		/* digest only */
		path = NULL;
		if (x->md == NULL && (x->md = EVP_MD_CTX_new()) == NULL)
			return util_err(err, errlen, 500, "out of memory");
		if (EVP_DigestInit_ex(x->md, pkey_sha256(), NULL) != 1)
			return util_err(err, errlen, 500, "SHA-256 unavailable");
	} else {
		path = xasprintf("%s/upload-%d", x->dir, x->nuploads++);
		x->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (x->fd < 0) {
			int e = errno;

			free(path);
			return storage_error(e, "creating", err, errlen);
		}
	}
	f->files = xrealloc(f->files, (f->nfiles + 1) * sizeof(*f->files));
	ff = &f->files[f->nfiles++];
	ff->name = xstrdup(part->name);
	ff->filename = xstrdup(part->filename);
	ff->type = xstrdup(part->type);
	ff->path = path;
	ff->size = 0;
	memset(ff->sha256, 0, sizeof(ff->sha256));
	x->wlen = 0;
	return 0;
}

static int
part_data(void *arg, const void *buf, size_t len, char *err, size_t errlen)
{
	struct form_ctx *x = arg;
	int rc;

	switch (x->kind) {
	case PART_SKIP:
		return 0;
	case PART_FIELD:
		if (value_append(x, buf, len) < 0)
			return field_too_large(x, x->name, strlen(x->name), err, errlen);
		return 0;
	case PART_FILE:
		x->f->files[x->f->nfiles - 1].size += len;
		if (x->dir == NULL)
			return EVP_DigestUpdate(x->md, buf, len) == 1
				       ? 0
				       : util_err(err, errlen, 500, "SHA-256 failed");
		if (x->wlen + len > FORM_WRITE_SIZE && (rc = file_flush(x, err, errlen)) != 0)
			return rc;
		if (len >= FORM_WRITE_SIZE) {
			if (util_write_all(x->fd, buf, len) < 0)
				return storage_error(errno, "writing", err, errlen);
			return 0;
		}
		memcpy(x->wbuf + x->wlen, buf, len);
		x->wlen += len;
		return 0;
	}
	return 0;
}

static int
part_end(void *arg, char *err, size_t errlen)
{
	struct form_ctx *x = arg;
	int rc, fd;

	switch (x->kind) {
	case PART_SKIP:
		break;
	case PART_FIELD:
		if ((rc = field_add(x, x->name, x->type, err, errlen)) != 0)
			return rc;
		break;
	case PART_FILE:
		if (x->dir == NULL) {
			if (EVP_DigestFinal_ex(x->md, x->f->files[x->f->nfiles - 1].sha256, NULL) != 1)
				return util_err(err, errlen, 500, "SHA-256 failed");
			break;
		}
		if ((rc = file_flush(x, err, errlen)) != 0)
			return rc;
		fd = x->fd;
		x->fd = -1;
		if (close(fd) < 0)
			return storage_error(errno, "closing", err, errlen);
		break;
	}
	free(x->name);
	free(x->type);
	x->name = x->type = NULL;
	x->kind = PART_SKIP;
	return 0;
}

static const struct multipart_callbacks form_callbacks = {
	.begin = part_begin,
	.data = part_data,
	.end = part_end,
};

/* --- application/x-www-form-urlencoded --- */

/* A name=value pair has ended ('&' or the end of the body). */
static int
url_pair_end(struct form_ctx *x, char *err, size_t errlen)
{
	if (x->pct != 0)
		return util_err(err, errlen, 400, "invalid percent escape in the form");
	if (!x->in_value) {
		/* the name is in value; a pair without '=' has an empty value */
		free(x->name);
		x->name = NULL;
		if (x->value.len > 0) {
			if (memchr(x->value.data, '\0', x->value.len) != NULL)
				return util_err(err, errlen, 400, "NUL in a form field name");
			x->name = xstrndup(x->value.data, x->value.len);
		}
		buf_clear(&x->value);
	}
	if (x->name != NULL && x->name[0] != '\0') {
		if (++x->nfields_seen > x->max_parts)
			return util_err(err, errlen, 400, "more than %d fields in the form",
				       x->max_parts);
		if (form_field(x->f, x->name) == NULL) {
			int rc = field_add(x, x->name, "text/plain", err, errlen);

			if (rc != 0)
				return rc;
		}
	}
	free(x->name);
	x->name = NULL;
	buf_clear(&x->value);
	x->in_value = 0;
	return 0;
}

/* Push urlencoded bytes through the pair state machine. */
static int
url_feed(struct form_ctx *x, const unsigned char *p, size_t n, char *err, size_t errlen)
{
	int rc;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = p[i];
		int h;

		if (x->pct != 0) {
			if ((h = util_hexval(ch)) < 0)
				return util_err(err, errlen, 400,
					       "invalid percent escape in the form");
			if (x->pct == 1) {
				x->pct_hi = h;
				x->pct = 2;
				continue;
			}
			x->pct = 0;
			ch = (unsigned char)(x->pct_hi * 16 + h);
		} else if (ch == '%') {
			x->pct = 1;
			continue;
		} else if (ch == '&') {
			if ((rc = url_pair_end(x, err, errlen)) != 0)
				return rc;
			continue;
		} else if (ch == '=' && !x->in_value) {
			free(x->name);
			x->name = xstrndup(buf_str(&x->value), x->value.len);
			if (strlen(x->name) != x->value.len)
				return util_err(err, errlen, 400, "NUL in a form field name");
			buf_clear(&x->value);
			x->in_value = 1;
			continue;
		} else if (ch == '+') {
			ch = ' ';
		}
		if (value_append(x, &ch, 1) < 0) {
			if (x->in_value)
				return field_too_large(x, x->name, strlen(x->name), err, errlen);
			return util_err(err, errlen, 413, "form field name larger than %zu bytes",
				       x->field_max);
		}
	}
	return 0;
}

static void
ctx_init(struct form_ctx *x, struct form *f, const char *dir, size_t field_max, int max_parts)
{
	memset(x, 0, sizeof(*x));
	memset(f, 0, sizeof(*f));
	x->f = f;
	x->dir = dir;
	x->field_max = field_max;
	buf_init(&x->value, field_max, 0);
	x->max_parts = max_parts;
	x->fd = -1;
	x->kind = PART_SKIP;
}

static void
ctx_free(struct form_ctx *x)
{
	if (x->fd >= 0)
		close(x->fd);
	EVP_MD_CTX_free(x->md);
	free(x->name);
	free(x->type);
	buf_free(&x->value);
	free(x->wbuf);
}

/* Undo a failed read: remove the files written, empty the form. */
static void
form_discard(struct form *f)
{
	for (size_t i = 0; i < f->nfiles; i++)
		if (f->files[i].path != NULL)
			unlink(f->files[i].path);
	form_free(f);
}

int
form_parse_urlencoded(const void *buf, size_t len, size_t field_max, int max_parts,
		      struct form *f, char *err, size_t errlen)
{
	struct form_ctx x;
	int rc;

	ctx_init(&x, f, NULL, field_max, max_parts);
	rc = url_feed(&x, buf, len, err, errlen);
	if (rc == 0)
		rc = url_pair_end(&x, err, errlen);
	ctx_free(&x);
	if (rc != 0)
		form_discard(f);
	return rc;
}

/* Read the rest of the body through a multipart parser or url_feed. */
static int
read_body(struct http_conn *c, struct http_request *req, struct form_ctx *x,
	  struct multipart *mp, char *err, size_t errlen)
{
	unsigned char *buf = xmalloc(FORM_READ_SIZE);
	int rc, status;
	uint64_t total = 0;

	for (;;) {
		ssize_t n = http_read_body(c, req, buf, FORM_READ_SIZE, &status, err, errlen);

		if (n < 0) {
			rc = status;
			break;
		}
		if (n == 0) {
			/* an empty body is an empty form, whatever its type
			 * says (the endpoint then names the field it lacks) */
			if (mp != NULL && total > 0)
				rc = multipart_finish(mp, err, errlen);
			else if (mp != NULL)
				rc = 0;
			else
				rc = url_pair_end(x, err, errlen);
			break;
		}
		total += (uint64_t)n;
		if (mp != NULL)
			rc = multipart_feed(mp, buf, (size_t)n, err, errlen);
		else
			rc = url_feed(x, buf, (size_t)n, err, errlen);
		if (rc != 0)
			break;
	}
	free(buf);
	return rc;
}

int
form_read(struct http_conn *c, struct http_request *req, const char *dir, struct form *f,
	  char *err, size_t errlen)
{
	const struct http_limits *lim = http_conn_limits(c);
	const char *ct = http_header(req, "Content-Type");
	char *type = NULL, *boundary = NULL;
	struct form_ctx x;
	int rc;

	ctx_init(&x, f, dir, lim->field_max, lim->max_parts);
	if (ct == NULL) {
		unsigned char byte;
		ssize_t n;

		/* no Content-Type: only an empty body makes sense (an empty form) */
		if (req->content_length > 0)
			return util_err(err, errlen, 415, "a request body needs a Content-Type");
		n = http_read_body(c, req, &byte, 1, &rc, err, errlen);
		if (n < 0)
			return rc;
		if (n > 0)
			return util_err(err, errlen, 415, "a request body needs a Content-Type");
		return 0;
	}
	if (multipart_content_type(ct, &type, &boundary) < 0)
		return util_err(err, errlen, 400, "malformed Content-Type");
	if (strcmp(type, "multipart/form-data") == 0) {
		struct multipart *mp;

		if (boundary == NULL) {
			rc = util_err(err, errlen, 400, "multipart body without a boundary");
		} else {
			if (dir != NULL)
				x.wbuf = xmalloc(FORM_WRITE_SIZE);
			mp = multipart_new(boundary, lim->max_parts, &form_callbacks, &x);
			rc = read_body(c, req, &x, mp, err, errlen);
			multipart_free(mp);
		}
	} else if (strcmp(type, "application/x-www-form-urlencoded") == 0) {
		rc = read_body(c, req, &x, NULL, err, errlen);
	} else {
		char shown[48];

		printable(type, strlen(type), shown, sizeof(shown));
		rc = util_err(err, errlen, 415, "unsupported Content-Type \"%s\"", shown);
	}
	free(type);
	free(boundary);
	ctx_free(&x);
	if (rc != 0)
		form_discard(f);
	return rc;
}

const char *
form_field(const struct form *f, const char *name)
{
	for (size_t i = 0; i < f->nfields; i++)
		if (strcmp(f->fields[i].name, name) == 0)
			return f->fields[i].value;
	return NULL;
}

const struct form_file *
form_file(const struct form *f, const char *name)
{
	for (size_t i = 0; i < f->nfiles; i++)
		if (strcmp(f->files[i].name, name) == 0)
			return &f->files[i];
	return NULL;
}

void
form_free(struct form *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nfields; i++) {
		free(f->fields[i].name);
		free(f->fields[i].type);
		free(f->fields[i].value);
	}
	for (size_t i = 0; i < f->nfiles; i++) {
		free(f->files[i].name);
		free(f->files[i].filename);
		free(f->files[i].type);
		free(f->files[i].path);
	}
	free(f->fields);
	free(f->files);
	memset(f, 0, sizeof(*f));
}
