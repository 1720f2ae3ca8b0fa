/* SPDX-License-Identifier: MIT */
/*
 * mask.h: keep key material out of the log.
 *
 * External tools print what they like, and a failing one may print the
 * key it was given: as PEM lines re-wrapped at another width, as a hex
 * dump of the file or of the decoded key, with colons, spaces or "0x"
 * between the bytes.  A mask is built from the key files a job hands its
 * tools; mask_apply() then replaces every stretch of an output line that
 * shares a run of MASK_RUN characters with one of the key's encodings by
 * "***".  The encodings are the PEM bodies (base64, compared with white
 * space removed), and, compared as hex digits only (case and separators
 * ignored), the file's bytes, the decoded PEM bodies and the hex digits
 * of a hex text key (sbk.txt, user_key.txt).
 */
#ifndef DSS_MASK_H
#define DSS_MASK_H

#include <stddef.h>

#define MASK_RUN 16

struct mask;

struct mask *mask_new(void);
/* Add the bytes of one key file. */
void mask_add_key(struct mask *m, const unsigned char *data, size_t len);
/* A new string: line with every secret stretch replaced by "***". */
char *mask_apply(const struct mask *m, const char *line);
/* Number of key encodings added (for tests). */
size_t mask_count(const struct mask *m);
/* Cleanse and free (NULL is fine). */
void mask_free(struct mask *m);

#endif
