/*
 * reqline.c: see reqline.h.
 */
#include "reqline.h"

#include <string.h>

#include "util.h"

int
reqline_parse(const char *line, size_t len, struct reqline *rl)
{
	const char *p = line, *end = line + len, *sp1, *sp2;
	size_t n, j = 0;

	rl->method[0] = rl->path[0] = '\0';
	if (end > p && end[-1] == '\r')
		end--;
	for (sp1 = p; sp1 < end && util_is_tchar((unsigned char)*sp1); sp1++)
		;
	if (sp1 == p || sp1 >= end || *sp1 != ' ' || (size_t)(sp1 - p) >= sizeof(rl->method))
		return 400;
	memcpy(rl->method, p, (size_t)(sp1 - p));
	rl->method[sp1 - p] = '\0';
	for (sp2 = sp1 + 1; sp2 < end && *sp2 != ' '; sp2++)
		if ((unsigned char)*sp2 <= 0x20 || *sp2 == 0x7f)
			return 400;
	if (sp2 >= end || sp2 == sp1 + 1)
		return 400;
	n = (size_t)(end - (sp2 + 1));
	if (n < 5 || memcmp(sp2 + 1, "HTTP/", 5) != 0)
		return 400;
	if (n != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
		return 505;
	if (sp1[1] != '/')
		return 400; /* origin-form only: no absolute-form, no "*" */
	for (const char *q = sp1 + 1; q < sp2 && *q != '?' && *q != '#'; q++) {
		if (*q == '/' && j > 0 && rl->path[j - 1] == '/')
			continue;
		if (j + 1 >= sizeof(rl->path)) {
			rl->path[0] = '\0';
			return 404; /* no route is this long */
		}
		rl->path[j++] = *q;
	}
	rl->path[j] = '\0';
	return 0;
}
