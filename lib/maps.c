/* SPDX-License-Identifier: MIT */
/*
 * maps.c: see maps.h.
 */
#include "maps.h"

#include <stdlib.h>
#include <string.h>

/* The hexadecimal number at *p, which must end at one of the
 * characters in stops; *p moved past it.  0, or -1. */
static int
hex_field(char **p, const char *stops, unsigned long *out)
{
	char *end;

	if (**p == '\0' || strchr("0123456789abcdefABCDEF", **p) == NULL)
		return -1;
	*out = strtoul(*p, &end, 16);
	if (*end == '\0' || strchr(stops, *end) == NULL)
		return -1;
	*p = end;
	return 0;
}

int
maps_parse_line(char *line, struct maps_entry *e)
{
	unsigned long dev;
	char *p = line, *nl;

	memset(e, 0, sizeof(*e));
	if ((nl = strchr(line, '\n')) != NULL)
		*nl = '\0';
	if (hex_field(&p, "-", &e->start) < 0)
		return -1;
	p++;
	if (hex_field(&p, " ", &e->end) < 0 || e->end < e->start)
		return -1;
	p++;
	if (strspn(p, "rwxsp-") != 4 || p[4] != ' ')
		return -1;
	memcpy(e->perms, p, 4);
	p += 5;
	if (hex_field(&p, " ", &e->offset) < 0)
		return -1;
	p++;
	if (hex_field(&p, ":", &dev) < 0)
		return -1;
	p++;
	if (hex_field(&p, " ", &dev) < 0)
		return -1;
	p++;
	/* decimal, unlike the rest */
	if (*p < '0' || *p > '9')
		return -1;
	e->inode = strtoul(p, &p, 10);
	if (*p != ' ' && *p != '\0')
		return -1;
	p += strspn(p, " ");
	e->name = p;
	return 0;
}

int
maps_open(struct maps_reader *r)
{
	r->f = fopen("/proc/self/maps", "re");
	return r->f == NULL ? -1 : 0;
}

int
maps_next(struct maps_reader *r, struct maps_entry *e)
{
	while (fgets(r->line, sizeof(r->line), r->f) != NULL) {
		if (strchr(r->line, '\n') == NULL && !feof(r->f)) {
			int c;

			while ((c = getc(r->f)) != EOF && c != '\n')
				; /* the rest of a line too long to read */
			continue;
		}
		if (maps_parse_line(r->line, e) == 0)
			return 1;
	}
	return 0;
}

void
maps_close(struct maps_reader *r)
{
	if (r->f != NULL)
		fclose(r->f);
	r->f = NULL;
}

int
maps_is_stack(const struct maps_entry *e)
{
	return e->inode == 0 && strcmp(e->name, "[stack]") == 0;
}

int
maps_is_file(const struct maps_entry *e)
{
	return e->inode != 0 && e->name[0] == '/';
}
