/* SPDX-License-Identifier: MIT */
/*
 * check_maps.c: unit tests of lib/maps.c: lines as the kernel writes
 * them (anonymous, a file, a kernel name, a path with spaces, a deleted
 * file, a file named like the stack), lines that are not a mapping's,
 * and this process's own maps read through the reader, including a
 * mapping of a file whose path is too long for the buffer.
 */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "maps.h"

static int
parse(const char *text, struct maps_entry *e)
{
	static char line[PATH_MAX + 128];

	snprintf(line, sizeof(line), "%s", text);
	return maps_parse_line(line, e);
}

START_TEST(test_lines)
{
	struct maps_entry e;

	ck_assert_int_eq(parse("7f199f444000-7f199f59a000 r-xp 00026000 fe:00 332835"
			       "                     /usr/lib/x86_64-linux-gnu/libc.so.6\n",
			       &e),
			 0);
	ck_assert_uint_eq(e.start, 0x7f199f444000UL);
	ck_assert_uint_eq(e.end, 0x7f199f59a000UL);
	ck_assert_uint_eq(e.offset, 0x26000);
	ck_assert_uint_eq(e.inode, 332835);
	ck_assert_str_eq(e.perms, "r-xp");
	ck_assert_str_eq(e.name, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	ck_assert(maps_is_file(&e));
	ck_assert(!maps_is_stack(&e));

	ck_assert_int_eq(parse("561ee1801000-561ee18ab000 rw-p 00000000 00:00 0 \n", &e), 0);
	ck_assert_str_eq(e.name, "");
	ck_assert_uint_eq(e.inode, 0);
	ck_assert(!maps_is_file(&e));

	ck_assert_int_eq(parse("7ffe70186000-7ffe701a7000 rwxp 00000000 00:00 0"
			       "                          [stack]",
			       &e),
			 0);
	ck_assert(maps_is_stack(&e));
	ck_assert_int_eq(e.perms[2], 'x');

	/* a file named like the stack is a file */
	ck_assert_int_eq(
	    parse("7f0000000000-7f0000001000 r--p 00000000 fe:00 42   /tmp/[stack]", &e), 0);
	ck_assert(!maps_is_stack(&e));
	ck_assert(maps_is_file(&e));
	ck_assert_int_eq(parse("7f0000000000-7f0000001000 r--p 00000000 fe:00 42   [stack]", &e),
			 0);
	ck_assert(!maps_is_stack(&e)); /* a file's inode: not the kernel's stack */

	ck_assert_int_eq(parse("7f0000000000-7f0000001000 r--s 00001000 00:01 7 "
			       "/my dir/a file (deleted)",
			       &e),
			 0);
	ck_assert_str_eq(e.name, "/my dir/a file (deleted)");
	ck_assert_str_eq(e.perms, "r--s");
	ck_assert_uint_eq(e.offset, 0x1000);

	ck_assert_int_eq(
	    parse("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]", &e), 0);
	ck_assert_uint_eq(e.start, 0xffffffffff600000UL);
	ck_assert(!maps_is_file(&e));
}
END_TEST

START_TEST(test_not_mappings)
{
	static const char *bad[] = {
	    "",
	    "\n",
	    "Size:                  4 kB",
	    "AnonHugePages:         0 kB",
	    "7f00-7e00 r--p 00000000 00:00 0", /* ends before it starts */
	    "7f00 7f10 r--p 00000000 00:00 0", /* no dash */
	    "7f00-7f10 r--p",                  /* cut short */
	    "7f00-7f10 rq-p 00000000 00:00 0", /* not permissions */
	    "7f00-7f10 r--p 00000000 00:00 x", /* inode not a number */
	    "7f00-7f10 r--p 00000000 0000 0",  /* device without a colon */
	    "-7f10 r--p 00000000 00:00 0",
	    "7f00-7f10 r--pp 00000000 00:00 0",
	    "ile/that/was/cut 7f00-7f10 r--p 0 0:0 0", /* the rest of a long line */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct maps_entry e;

		if (parse(bad[i], &e) == 0)
			ck_abort_msg("parsed as a mapping: '%s'", bad[i]);
	}
}
END_TEST

/* This process's maps: the stack, this program, and a file mapped from a
 * path longer than the reader's buffer (skipped, the next line read). */
START_TEST(test_reader)
{
	static char dir[PATH_MAX + 256];
	char base[] = "/tmp/check_maps.XXXXXX";
	struct maps_reader r;
	struct maps_entry e;
	int stack = 0, self = 0, after = 0, fd;
	void *p, *q;
	size_t len;

	ck_assert_ptr_nonnull(mkdtemp(base));
	ck_assert_int_eq(chdir(base), 0);
	/* a path longer than the reader's buffer, one directory at a time */
	snprintf(dir, sizeof(dir), "%s", base);
	while ((len = strlen(dir)) < PATH_MAX) {
		char part[201];

		memset(part, 'd', 200);
		part[200] = '\0';
		ck_assert_int_eq(mkdir(part, 0700), 0);
		ck_assert_int_eq(chdir(part), 0);
		snprintf(dir + len, sizeof(dir) - len, "/%s", part);
	}
	fd = open("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
		  "fffffffffffffffffffffffffffffffff",
		  O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4096), 0);
	p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	ck_assert(p != MAP_FAILED);
	/* an anonymous mapping right after it, which must still be read */
	q = mmap((char *)p + 4096, 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	ck_assert_int_eq(maps_open(&r), 0);
	while (maps_next(&r, &e)) {
		ck_assert_uint_lt(e.start, e.end);
		if (maps_is_stack(&e))
			stack++;
		if (maps_is_file(&e) && strstr(e.name, "check_maps") != NULL &&
		    strstr(e.name, "ffff") == NULL)
			self++;
		ck_assert_ptr_null(strstr(e.name, "ffffffffff"));
		if (q != MAP_FAILED && e.start == (unsigned long)q)
			after++;
	}
	maps_close(&r);
	ck_assert_int_eq(stack, 1);
	ck_assert_int_ge(self, 1);
	if (q != MAP_FAILED)
		ck_assert_int_eq(after, 1);
	munmap(p, 4096);
	if (q != MAP_FAILED)
		munmap(q, 4096);
	close(fd);
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
		ck_assert_int_eq(chdir("/"), 0);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

CHECK_MAIN(.name = "maps", .fork = 1,
	   .tests = CHECK_TESTS(test_lines, test_not_mappings, test_reader));
