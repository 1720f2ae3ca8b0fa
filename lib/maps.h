/* SPDX-License-Identifier: MIT */
/*
 * maps.h: reading /proc/self/maps, one mapping at a time.
 *
 * Three places ask the kernel what this process has mapped: hugetext's
 * check that a library's block is still its file's, hugetext_inherit's
 * list of read-only file mappings, and privdrop's look at the stack.
 * One parser serves them, so a line with a long path, a space in a
 * file's name or a file named like the kernel's "[stack]" is read the
 * same everywhere.
 *
 * A line is "start-end perms offset major:minor inode [name]"; the name
 * is what follows the inode once the spaces are skipped: a path (which
 * may hold spaces, and may end in " (deleted)"), a kernel name such as
 * "[stack]" or "[vdso]", or nothing for an anonymous mapping.
 */
#ifndef DSS_MAPS_H
#define DSS_MAPS_H

#include <limits.h>
#include <stdio.h>

struct maps_entry {
	unsigned long start, end; /* [start, end) */
	unsigned long offset;     /* in the file */
	unsigned long inode;      /* 0: not a file's */
	char perms[5];            /* "r-xp" */
	const char *name;         /* "" when anonymous; valid until the next read */
};

struct maps_reader {
	FILE *f;
	char line[PATH_MAX + 128];
};

/* Parse one line (without or with its newline) into e; e->name points
 * into line.  0, or -1 when the line is not a mapping's. */
int maps_parse_line(char *line, struct maps_entry *e);
/* Open /proc/self/maps: 0, or -1 with errno. */
int maps_open(struct maps_reader *r);
/* The next mapping in e: 1, or 0 at the end.  A line too long for the
 * buffer (a path near PATH_MAX) is skipped whole. */
int maps_next(struct maps_reader *r, struct maps_entry *e);
void maps_close(struct maps_reader *r);
/* 1 when e is the kernel's stack of the main thread. */
int maps_is_stack(const struct maps_entry *e);
/* 1 when e maps a file by its path (not anonymous, not the kernel's). */
int maps_is_file(const struct maps_entry *e);

#endif
