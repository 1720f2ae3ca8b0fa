/*
 * reqline.h: the request line, as the supervisor reads it to route a
 * connection (the worker parses the whole request again with http.c).
 */
#ifndef DSS_REQLINE_H
#define DSS_REQLINE_H

#include <stddef.h>

struct reqline {
	char method[16];
	char path[256]; /* query dropped, repeated slashes collapsed */
};

/*
 * Parse "METHOD SP target SP HTTP/1.x" from line[0..len) (the CR LF or LF
 * not included).  Returns 0, 400 for a malformed line, 505 for another
 * HTTP version, 404 for a path longer than any route.
 */
int reqline_parse(const char *line, size_t len, struct reqline *rl);

#endif
