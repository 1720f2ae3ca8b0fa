/* SPDX-License-Identifier: MIT */
/*
 * reqline.c: see reqline.h.
 */
#include "reqline.h"

#include <string.h>
#include <strings.h>

#include "util.h"

/* Where the path of an absolute-form target starts (at '/', '?', '#' or
 * end), t being the target; t itself for origin-form; NULL for anything
 * else, an empty authority included (RFC 9110 4.2.1). */
static const char *
path_start(const char *t, const char *end)
{
	size_t n = (size_t)(end - t), skip;
	const char *p;

	if (n > 0 && t[0] == '/')
		return t;
	if (n > 7 && strncasecmp(t, "http://", 7) == 0)
		skip = 7;
	else if (n > 8 && strncasecmp(t, "https://", 8) == 0)
		skip = 8;
	else
		return NULL; /* no "*", no other scheme */
	for (p = t + skip; p < end && *p != '/' && *p != '?' && *p != '#'; p++)
		;
	return p == t + skip ? NULL : p;
}

/* Copy the path from p (query and fragment dropped, "//" collapsed); 0,
 * or 404 when it is longer than any route. */
static int
copy_path(const char *p, const char *end, struct reqline *rl)
{
	size_t j = 0;

	if (p == end || *p != '/')
		rl->path[j++] = '/'; /* "http://host" or "http://host?q" */
	for (; p < end && *p != '?' && *p != '#'; p++) {
		if (*p == '/' && j > 0 && rl->path[j - 1] == '/')
			continue;
		if (j + 1 >= sizeof(rl->path)) {
			rl->path[0] = '\0';
			return 404; /* no route is this long */
		}
		rl->path[j++] = *p;
	}
	rl->path[j] = '\0';
	return 0;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int
reqline_version(const char *v, size_t len, int *minor)
{
	if (len < 6 || memcmp(v, "HTTP/", 5) != 0 || !is_digit(v[5]))
		return 400;
	if (len == 6) /* "HTTP/3": not 1.x; "HTTP/1": malformed */
		return v[5] == '1' ? 400 : 505;
	if (len != 8 || v[6] != '.' || !is_digit(v[7]))
		return 400;
	if (v[5] != '1')
		return 505;
	*minor = v[7] == '0' ? 0 : 1;
	return 0;
}

int
reqline_parse(const char *line, size_t len, struct reqline *rl)
{
	const char *p = line, *end = line + len, *sp1, *sp2, *path;
	int st, minor;
	size_t n;

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
	if ((st = reqline_version(sp2 + 1, n, &minor)) != 0)
		return st;
	if ((path = path_start(sp1 + 1, sp2)) == NULL)
		return 400;
	return copy_path(path, sp2, rl);
}

/* The line [s->line, lf) has ended at the LF at lf. */
static int
line_ended(struct reqline_scan *s, const char *buf, size_t lf)
{
	size_t len = lf - s->line;
	int empty = len == 0 || (len == 1 && buf[s->line] == '\r');

	if (!s->have_line) {
		if (!empty) {
			s->have_line = 1;
			s->start = s->line;
			s->line_len = len;
		} else if (++s->empty_lines > REQLINE_EMPTY_MAX) {
			return -1;
		}
	} else if (empty) {
		s->have_head = 1;
		s->head_end = lf + 1;
	}
	s->line = lf + 1;
	return 0;
}

int
reqline_scan(struct reqline_scan *s, const char *buf, size_t len)
{
	while (!s->have_head && s->pos < len) {
		const char *lf = memchr(buf + s->pos, '\n', len - s->pos);

		if (lf == NULL) {
			s->pos = len;
			break;
		}
		s->pos = (size_t)(lf - buf) + 1;
		if (line_ended(s, buf, (size_t)(lf - buf)) < 0)
			return -1;
	}
	return 0;
}

/* 1 when the media range at p (up to end) is text/html and not q=0. */
static int
html_range(const char *p, const char *end)
{
	const char *q;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (end - p < 9 || strncasecmp(p, "text/html", 9) != 0)
		return 0;
	for (q = p + 9; q < end; q++)
		if ((*q == 'q' || *q == 'Q') && q + 1 < end && q[1] == '=') {
			q += 2;
			while (q < end && (*q == '0' || *q == '.'))
				q++;
			/* "q=0", "q=0.0": refused; anything else accepts it */
			return q < end && *q >= '1' && *q <= '9';
		}
	return 1;
}

int
reqline_accepts_html(const char *head, size_t len)
{
	const char *end = head + len, *line = head;

	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));

		if (eol == NULL)
			eol = end;
		if (eol - line > 7 && strncasecmp(line, "Accept:", 7) == 0) {
			for (const char *p = line + 7, *comma; p < eol; p = comma + 1) {
				comma = memchr(p, ',', (size_t)(eol - p));
				if (comma == NULL)
					comma = eol;
				if (html_range(p, comma))
					return 1;
			}
		}
		line = eol + 1;
	}
	return 0;
}
