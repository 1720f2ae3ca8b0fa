/* SPDX-License-Identifier: MIT */
/*
 * form.h: a request body as form fields and uploaded files.
 *
 * multipart/form-data is parsed as a stream: a part with a filename is
 * written straight into a file in the job directory under a name the
 * server chooses; other parts are fields held in memory up to field_max.
 * application/x-www-form-urlencoded bodies give fields only.  The first
 * occurrence of a name wins.
 */
#ifndef DSS_FORM_H
#define DSS_FORM_H

#include <stddef.h>
#include <stdint.h>

struct http_conn;
struct http_request;

struct form_field {
	char *name;
	char *type;  /* content type: lower-case, no parameters, "text/plain" if absent */
	char *value; /* NUL-terminated; a value holding a NUL byte is refused */
	size_t len;
};

struct form_file {
	char *name;
	char *filename; /* as the client sent it: informational only */
	char *type;	/* as for fields */
	char *path;	/* where it was written, inside the job directory; NULL
			 * when the form was read without one */
	uint64_t size;
	unsigned char sha256[32]; /* read without a directory: its SHA-256 */
};

struct form {
	struct form_field *fields;
	size_t nfields;
	struct form_file *files;
	size_t nfiles;
};

/*
 * Read the whole body of req into f, files into dir as upload-<n> (0600,
 * never the client's filename).  With dir NULL no file is written: each
 * file part is only hashed (form_file.sha256), for signers that need no
 * more than the digest of what they sign.  An empty body (a POST without
 * one included) is an empty form, whatever its Content-Type.  0, or an
 * HTTP status with a one-line reason in err: 400 (malformed, truncated,
 * too many parts, a NUL byte in a field), 413 (body or field too large),
 * 415 (not a form), 507 (no space for a file), or what http_read_body
 * returned.  On error f is left empty and the
 * files written are removed; form_free is harmless either way.
 */
int form_read(struct http_conn *c, struct http_request *req, const char *dir, struct form *f,
	      char *err, size_t errlen);
/* Parse a whole application/x-www-form-urlencoded body held in buf (for
 * tests and fuzzing); same results as form_read for such a body. */
int form_parse_urlencoded(const void *buf, size_t len, size_t field_max, int max_parts,
			  struct form *f, char *err, size_t errlen);
const char *form_field(const struct form *f, const char *name);
const struct form_file *form_file(const struct form *f, const char *name);
/* Free what f holds (the files stay on disk) and zero it. */
void form_free(struct form *f);

#endif
