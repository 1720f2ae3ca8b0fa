/* SPDX-License-Identifier: MIT */
/*
 * scheme.c: the kind of a URI, by its form (scheme.h).
 */
#include "scheme.h"

#include <string.h>

enum uri_kind
uri_scheme(const char *uri, const char **rest)
{
	enum uri_kind kind = URI_OTHER;
	size_t skip = 0;

	if (uri == NULL) {
		if (rest != NULL)
			*rest = NULL;
		return URI_OTHER;
	}
	if (strncmp(uri, "s3://", 5) == 0) {
		kind = URI_S3;
		skip = 5;
	} else if (strncmp(uri, "file://", 7) == 0) {
		kind = URI_FILE;
		skip = 7;
	} else if (uri[0] == '/') {
		kind = URI_PATH;
	}
	if (rest != NULL)
		*rest = uri + skip;
	return kind;
}
