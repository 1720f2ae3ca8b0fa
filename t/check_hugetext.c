/* SPDX-License-Identifier: MIT */
/*
 * check_hugetext.c: unit tests of lib/hugetext.c, each in a process of its
 * own (the move changes the whole process).  Where the kernel gives
 * transparent huge pages, this program's code and constant data end on
 * them, still run and read the same, and a child forked after shares
 * them; where a segment's 2 MB are not free, it is left where it was and
 * the reason says why; without transparent huge pages nothing moves.
 */
#include <check.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "hugetext.h"
#include "util.h"

#define HUGE_SIZE ((uintptr_t)2 << 20)

static const char constant_text[] = "a constant that lives in .rodata";

/* Code of the program (lib/util.c, linked in) still runs and answers. */
static int
code_runs(void)
{
	char *s = xasprintf("%d-%s", 42, "ok");
	int ok = strcmp(s, "42-ok") == 0;

	free(s);
	return ok;
}

/* What /proc/self/smaps says of the mapping that holds addr: its path
 * ("" for anonymous memory) and its AnonHugePages in kB. */
static void
mapping_of(const void *addr, char *path, size_t pathlen, long *huge_kb)
{
	char line[512];
	unsigned long lo, hi;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	ck_assert_ptr_nonnull(f);
	*huge_kb = -1;
	path[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL) {
		char *sp = strchr(line, ' ');

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && sp != NULL && strchr(line, '-') < sp) {
			if (in)
				break;
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			if (in) {
				char *slash = strchr(line, '/');

				snprintf(path, pathlen, "%s", slash != NULL ? slash : "");
				path[strcspn(path, "\n")] = '\0';
			}
		} else if (in && sscanf(line, "AnonHugePages: %ld kB", huge_kb) == 1)
			break;
	}
	fclose(f);
	ck_assert_msg(in, "no mapping holds %p", addr);
}

static int
thp_available(void)
{
	char line[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");

	if (f == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	return strstr(line, "[never]") == NULL && strchr(line, '[') != NULL;
}

/* The end (page-rounded) of the main program's code segment. */
static int
code_end(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_X))
			*(uintptr_t *)arg = (info->dlpi_addr + info->dlpi_phdr[i].p_vaddr +
					     info->dlpi_phdr[i].p_memsz + 4095) &
					    ~(uintptr_t)4095;
	return 1;
}

START_TEST(test_moves_and_runs)
{
	char why[256], path[256];
	long kb;
	int n;
	pid_t pid;
	int status;

	if (!thp_available()) {
		ck_assert_int_eq(hugetext_remap(why, sizeof(why)), 0);
		ck_assert_ptr_nonnull(strstr(why, "transparent huge pages"));
		return;
	}
	mapping_of((const void *)hugetext_remap, path, sizeof(path), &kb);
	ck_assert_msg(path[0] == '/', "code not from the program's file before: '%s'", path);
	n = hugetext_remap(why, sizeof(why));
	ck_assert_msg(n == 2, "moved %d segments: %s", n, why);

	/* the code: anonymous, on a huge page, and it still runs */
	mapping_of((const void *)hugetext_remap, path, sizeof(path), &kb);
	ck_assert_str_eq(path, "");
	ck_assert_int_ge(kb, 2048);
	ck_assert(code_runs());
	/* the constant data likewise, with the same bytes */
	mapping_of(constant_text, path, sizeof(path), &kb);
	ck_assert_str_eq(path, "");
	ck_assert_int_ge(kb, 2048);
	ck_assert_str_eq(constant_text, "a constant that lives in .rodata");

	/* a child forked after runs the same code from the same pages */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char p[256];
		long k;

		mapping_of((const void *)hugetext_remap, p, sizeof(p), &k);
		_exit(p[0] == '\0' && k >= 2048 && code_runs() ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(test_taken_span_left_alone)
{
	char why[256], path[256];
	uintptr_t end = 0;
	long kb;
	void *p;

	if (!thp_available())
		return;
	dl_iterate_phdr(code_end, &end);
	ck_assert_uint_ne(end, 0);
	ck_assert_uint_ne(end % HUGE_SIZE, 0);
	/* something of the process's own just past the code */
	p = mmap((void *)end, 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ck_assert_ptr_eq(p, (void *)end);
	strcpy(p, "still here");

	ck_assert_int_le(hugetext_remap(why, sizeof(why)), 1);
	ck_assert_msg(strstr(why, "not free") != NULL, "why: %s", why);
	mapping_of((const void *)hugetext_remap, path, sizeof(path), &kb);
	ck_assert_msg(path[0] == '/', "the code moved: '%s'", path);
	ck_assert_str_eq(p, "still here");
	ck_assert(code_runs());
}
END_TEST

CHECK_MAIN(.name = "hugetext", .fork = 1,
	   .tests = CHECK_TESTS(test_moves_and_runs, test_taken_span_left_alone));
