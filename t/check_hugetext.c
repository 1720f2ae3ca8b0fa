/* SPDX-License-Identifier: MIT */
/*
 * check_hugetext.c: unit tests of lib/hugetext.c, each in a process of its
 * own (the move changes the whole process).  Where the kernel gives
 * transparent huge pages, this program's code and constant data end on
 * them, still run and hold the same bytes, and a child forked after
 * shares them; a segment whose 2 MB are not free, or whose bytes in memory
 * are not the file's (a breakpoint), is left where it was and the reason
 * says why; when the kernel gives no huge page, nothing moves and the span
 * claimed is given back.  After the moves, priv_lock_wx() keeps any
 * memory from becoming executable, in this process only.
 */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "hugetext.h"
#include "privdrop.h"
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

struct span {
	uintptr_t start, end; /* page-rounded */
};

static int
span_cb(struct dl_phdr_info *info, void *arg, int x)
{
	struct span *sp = arg;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W) || ph->p_offset == 0 ||
		    !!(ph->p_flags & PF_X) != x)
			continue;
		sp->start = info->dlpi_addr + ph->p_vaddr;
		sp->end = (sp->start + ph->p_memsz + 4095) & ~(uintptr_t)4095;
		break;
	}
	return 1;
}

static int
code_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	return span_cb(info, arg, 1);
}

static int
data_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	return span_cb(info, arg, 0);
}

/* A copy of the span's bytes, and whether they still match it, read
 * unseen by AddressSanitizer (the constant data holds its redzones). */
UTIL_NO_SANITIZE_ADDRESS
static int
same_bytes(struct span sp, unsigned char *copy, int take)
{
	const volatile unsigned char *p = (const volatile unsigned char *)sp.start;

	for (size_t i = 0; i < sp.end - sp.start; i++) {
		if (take)
			copy[i] = p[i];
		else if (copy[i] != p[i])
			return 0;
	}
	return 1;
}

/* Whether this process may have 2 MB transparent huge pages; the tests
 * that need them pass without them (the environment, not the code). */
static int
thp_available(void)
{
	char line[128] = "", size[32] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");

	if (f == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	if ((f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "re")) != NULL) {
		if (fgets(size, sizeof(size), f) == NULL)
			size[0] = '\0';
		fclose(f);
	}
	return strstr(line, "[never]") == NULL && strchr(line, '[') != NULL &&
	       strtoul(size, NULL, 10) == HUGE_SIZE && prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 0;
}

/* The main program's code segment (x: 1) or constant data (x: 0). */
static struct span
segment(int x)
{
	struct span sp = {0, 0};

	dl_iterate_phdr(x ? code_cb : data_cb, &sp);
	ck_assert_uint_ne(sp.start, 0);
	return sp;
}

/* A child forked now finds addr anonymous on a huge page, and works()
 * answers yes there: it runs the same code from the same pages. */
static void
child_runs_it(const void *addr, int (*works)(void))
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char p[256];
		long k;

		mapping_of(addr, p, sizeof(p), &k);
		_exit(p[0] == '\0' && k >= 2048 && works() ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

START_TEST(test_moves_and_runs)
{
	char why[256], path[256];
	struct span code = segment(1), data = segment(0);
	unsigned char *code_copy = xmalloc(code.end - code.start);
	unsigned char *data_copy = xmalloc(data.end - data.start);
	long kb;
	int n;

	if (!thp_available()) {
		printf("no 2 MB transparent huge pages here: only the refusal is checked\n");
		ck_assert_int_eq(hugetext_remap(why, sizeof(why)), 0);
		ck_assert_str_ne(why, "");
		return;
	}
	mapping_of((const void *)hugetext_remap, path, sizeof(path), &kb);
	ck_assert_msg(path[0] == '/', "code not from the program's file before: '%s'", path);
	same_bytes(code, code_copy, 1);
	same_bytes(data, data_copy, 1);
	n = hugetext_remap(why, sizeof(why));
	ck_assert_msg(n == 2 && why[0] == '\0', "moved %d segments: %s", n, why);
	ck_assert_msg(same_bytes(code, code_copy, 0), "the code's bytes changed");
	ck_assert_msg(same_bytes(data, data_copy, 0), "the constant data's bytes changed");
	free(code_copy);
	free(data_copy);

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
	child_runs_it((const void *)hugetext_remap, code_runs);
}
END_TEST

/* hugetext_remap() moves that many segments, not the code, and says why
 * with reason; the code still runs from the file. */
static void
code_stays(int moved, const char *reason)
{
	char why[256], path[256];
	long kb;
	int n = hugetext_remap(why, sizeof(why));

	ck_assert_msg(n == moved && strstr(why, reason) != NULL, "moved %d: %s", n, why);
	mapping_of((const void *)hugetext_remap, path, sizeof(path), &kb);
	ck_assert_msg(path[0] == '/', "the code moved: '%s'", path);
	ck_assert(code_runs());
}

START_TEST(test_taken_span_left_alone)
{
	uintptr_t end = segment(1).end;
	void *p;

	if (!thp_available())
		return;
	ck_assert_uint_ne(end % HUGE_SIZE, 0);
	/* something of the process's own just past the code */
	p = mmap((void *)end, 4096, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ck_assert_ptr_eq(p, (void *)end);
	strcpy(p, "still here");
	code_stays(1, "not free");
	ck_assert_str_eq(p, "still here");
}
END_TEST

/* A byte of the code's last page changed in memory, as a breakpoint
 * does: the code stays (the constant data moves). */
START_TEST(test_breakpoint_left_alone)
{
	struct span code = segment(1);
	volatile unsigned char *last = (volatile unsigned char *)(code.end - 1);

	if (!thp_available())
		return;
	ck_assert_int_eq(mprotect((void *)(code.end - 4096), 4096, PROT_READ | PROT_WRITE | PROT_EXEC),
			 0);
	*last ^= 0xff;
	code_stays(1, "differs from the file");
}
END_TEST

/* No huge page for this process: nothing moves, the span claimed past the
 * code is given back, the code still runs from the file. */
START_TEST(test_no_huge_page)
{
	uintptr_t end = segment(1).end;
	void *p;

	if (!thp_available())
		return;
	ck_assert_int_eq(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0), 0);
	code_stays(0, "no huge page");
	p = mmap((void *)end, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
		 0);
	ck_assert_msg(p == (void *)end, "the span past the code was not given back");
	munmap(p, 4096);
}
END_TEST

/* A sanitizer build leaves the libraries where they are (hugetext.c). */
static const int sanitized = UTIL_HAS_ASAN;

/*
 * libcrypto's first 2 MB-aligned block that lies whole in its read-only
 * pages (from its first segment to its first writable one), or 0 when the
 * kernel placed it so that none does: read here from its program headers,
 * apart from hugetext.c's own reading.
 */
static int
libcrypto_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t lo = UINTPTR_MAX, hi = UINTPTR_MAX;

	(void)size;
	if (info->dlpi_name == NULL || strstr(info->dlpi_name, "/libcrypto.so") == NULL)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t at = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)4095;

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_flags & PF_W)
			hi = at < hi ? at : hi;
		else
			lo = at < lo ? at : lo;
	}
	lo = (lo + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1);
	*(uintptr_t *)arg = lo != 0 && hi != UINTPTR_MAX && lo + HUGE_SIZE <= hi ? lo : 0;
	return 1;
}

static uintptr_t
libcrypto_block(void)
{
	uintptr_t b = 0;

	dl_iterate_phdr(libcrypto_cb, &b);
	return b;
}

/* SHA-256 of "abc" by libcrypto, as hex. */
static int
sha256_abc_ok(void)
{
	unsigned char md[32];
	unsigned int n = 0;
	char hex[65];

	if (EVP_Digest("abc", 3, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return 0;
	util_hex(md, 32, hex);
	return strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0;
}

/* The protection of the page at addr, as /proc/self/maps prints it
 * ("r-xp"). */
static const char *
perms_of(uintptr_t addr)
{
	static char perms[8];
	char line[512];
	unsigned long lo, hi;
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	ck_assert_ptr_nonnull(f);
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && lo <= addr && addr < hi;
	fclose(f);
	ck_assert_msg(found, "nothing mapped at %#lx", (unsigned long)addr);
	return perms;
}

START_TEST(test_library_moves_and_runs)
{
	char names[256], why[256], path[256];
	struct span blk;
	unsigned char *blk_copy;
	long kb;
	size_t moved;

	if (!thp_available() || sanitized) {
		ck_assert_uint_eq(hugetext_remap_libraries(names, sizeof(names), why, sizeof(why)), 0);
		ck_assert_str_ne(why, "");
		return;
	}
	if ((blk.start = libcrypto_block()) == 0) {
		printf("libcrypto has no whole 2 MB of read-only pages here: not checked\n");
		return;
	}
	blk.end = blk.start + HUGE_SIZE;
	ck_assert(sha256_abc_ok());
	mapping_of((const void *)blk.start, path, sizeof(path), &kb);
	ck_assert_msg(strstr(path, "/libcrypto.so") != NULL, "not libcrypto's: '%s'", path);
	blk_copy = xmalloc(HUGE_SIZE);
	same_bytes(blk, blk_copy, 1);
	moved = hugetext_remap_libraries(names, sizeof(names), why, sizeof(why));
	ck_assert_msg(moved >= HUGE_SIZE && strstr(names, "libcrypto.so") != NULL &&
			      strstr(why, "libcrypto.so") == NULL,
		      "moved %zu bytes of '%s': %s", moved, names, why);
	ck_assert_msg(same_bytes(blk, blk_copy, 0), "libcrypto's bytes changed");
	free(blk_copy);
	mapping_of((const void *)blk.start, path, sizeof(path), &kb);
	ck_assert_str_eq(path, "");
	ck_assert_int_ge(kb, 2048);
	ck_assert_msg(perms_of(blk.start)[1] == '-', "the block is writable: %s",
		      perms_of(blk.start));
	ck_assert(sha256_abc_ok());

	child_runs_it((const void *)blk.start, sha256_abc_ok);
}
END_TEST

/* hugetext_remap_libraries() says why with reason and libcrypto's block at
 * b stays mapped from the file. */
static void
library_stays(uintptr_t b, const char *reason)
{
	char names[256], why[256], path[256];
	long kb;

	hugetext_remap_libraries(names, sizeof(names), why, sizeof(why));
	ck_assert_msg(strstr(why, "libcrypto.so") != NULL && strstr(why, reason) != NULL,
		      "why: '%s'", why);
	mapping_of((const void *)b, path, sizeof(path), &kb);
	ck_assert_msg(strstr(path, "/libcrypto.so") != NULL, "the block moved: '%s'", path);
}

/* A byte of the block changed in memory as a debugger or a uprobe writes
 * it (through /proc/self/mem: the mapping stays read-only): the block
 * stays.  The byte is put back before libcrypto runs again. */
START_TEST(test_library_breakpoint_left_alone)
{
	uintptr_t b = libcrypto_block();
	off_t at = (off_t)(b + HUGE_SIZE - 1);
	unsigned char c;
	int fd;

	if (!thp_available() || sanitized || b == 0)
		return;
	ck_assert_int_ge(fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC), 0);
	ck_assert_int_eq(pread(fd, &c, 1, at), 1);
	c ^= 0xff;
	ck_assert_int_eq(pwrite(fd, &c, 1, at), 1);
	library_stays(b, "differs from the file");
	c ^= 0xff;
	ck_assert_int_eq(pwrite(fd, &c, 1, at), 1);
	close(fd);
	ck_assert(sha256_abc_ok());
}
END_TEST

/* A page of the block made writable since the library was loaded (and not
 * executable, which a system denying writable code allows): the block
 * stays.  The page's protection is put back before libcrypto runs again. */
START_TEST(test_library_changed_mapping_left_alone)
{
	uintptr_t b = libcrypto_block(), page;
	int x;

	if (!thp_available() || sanitized || b == 0)
		return;
	page = b + HUGE_SIZE - 4096;
	x = perms_of(page)[2] == 'x';
	ck_assert_int_eq(mprotect((void *)page, 4096, PROT_READ | PROT_WRITE), 0);
	library_stays(b, "mapping changed");
	ck_assert_int_eq(mprotect((void *)page, 4096, PROT_READ | (x ? PROT_EXEC : 0)), 0);
	ck_assert(sha256_abc_ok());
}
END_TEST

/* A page mapped without execution cannot be made executable, nor a page
 * mapped writable and executable: 1, or 0 with the reason printed. */
static int
exec_refused(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *q;
	int refused;

	ck_assert_ptr_ne(p, MAP_FAILED);
	refused = mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0 && errno == EACCES;
	munmap(p, 4096);
	q = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q != MAP_FAILED) {
		munmap(q, 4096);
		return 0;
	}
	return refused && errno == EACCES;
}

/* After the moves, priv_lock_wx(): the moved code still runs, no memory
 * can be made executable any more, a library's code can still be loaded
 * (dlopen maps it executable from the start) and runs, and a child
 * forked after is not held to it (an external tool) until it locks
 * itself. */
START_TEST(test_locked_after_move)
{
	char why[256], names[256];
	const char *(*version)(void);
	void *lib;
	pid_t pid;
	int status;

	if (prctl(66 /* PR_GET_MDWE */, 0L, 0L, 0L, 0L) > 0) {
		printf("this test runs locked already (systemd's MemoryDenyWriteExecute=?): "
		       "not checked\n");
		return;
	}
	if (thp_available() && !sanitized) {
		ck_assert_int_eq(hugetext_remap(why, sizeof(why)), 2);
		hugetext_remap_libraries(names, sizeof(names), why, sizeof(why));
	}
	if (priv_lock_wx(0, why, sizeof(why)) < 0) {
		printf("memory not locked here (%s): only the reason is checked\n", why);
		ck_assert_msg(strstr(why, "valgrind") != NULL || strstr(why, "PR_SET_MDWE") != NULL,
			      "%s", why);
		return;
	}
	ck_assert(code_runs());
	ck_assert(sha256_abc_ok());
	ck_assert_msg(exec_refused(), "memory could still be made executable");
	if ((lib = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL)) == NULL) {
		const char *e = dlerror();

		ck_assert_msg(strstr(e, "No such file") != NULL, "dlopen after the lock: %s", e);
		printf("no libarchive.so.13 here: loading a library after the lock not checked\n");
	} else {
		*(void **)&version = dlsym(lib, "archive_version_string");
		ck_assert_ptr_nonnull(version);
		ck_assert_msg(strncmp(version(), "libarchive ", 11) == 0, "%s", version());
	}
	/* locking again changes nothing */
	ck_assert_int_eq(priv_lock_wx(0, why, sizeof(why)), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0)
			_exit(1);
		if (priv_lock_wx(0, why, sizeof(why)) < 0 || !exec_refused())
			_exit(2);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child: not free before its own lock (1) or not locked after (2): %#x",
		      status);
}
END_TEST

/* pid's executable mapping of libc (smaps): its span, its resident kB and
 * the kB of it on huge pages; 0 when there is none. */
static int
libc_code(pid_t pid, uintptr_t *lo, uintptr_t *hi, long *rss_kb, long *pmd_kb)
{
	char path[64], line[512];
	int in = 0, found = 0;
	FILE *f;

	*rss_kb = *pmd_kb = 0;
	snprintf(path, sizeof(path), "/proc/%ld/smaps", (long)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long a, b;
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) == 3) { /* a mapping's line */
			in = !found && perms[2] == 'x' && strstr(line, "/libc.so") != NULL;
			if (in) {
				*lo = a;
				*hi = b;
				found = 1;
			}
		} else if (in) {
			sscanf(line, "Rss: %ld kB", rss_kb);
			sscanf(line, "FilePmdMapped: %ld kB", pmd_kb);
		}
	}
	fclose(f);
	return found;
}

/* After hugetext_inherit(), a child forked starts with the parent's
 * entries for libc's code: before it runs any of it, as much of that
 * code is resident in it as in the parent (without, only what the child
 * itself faulted in). */
START_TEST(test_inherit)
{
	char why[256];
	uintptr_t lo, hi;
	long parent_kb, child_kb, pmd_kb;
	volatile unsigned char sum = 0;
	int p[2], n;
	pid_t pid;
	char c;

	n = hugetext_inherit(why, sizeof(why));
	if (n == 0 && (strstr(why, "valgrind") != NULL || strstr(why, "cannot be written") != NULL)) {
		printf("nothing marked here (%s): not checked\n", why);
		return;
	}
	ck_assert_msg(n >= 3 && why[0] == '\0', "marked %d mappings: %s", n, why);
	ck_assert(libc_code(getpid(), &lo, &hi, &parent_kb, &pmd_kb));
	if (pmd_kb > 0) {
		printf("libc's code is on huge file pages here: not checked\n");
		return;
	}
	/* all of libc's code resident in the parent */
	for (uintptr_t a = lo; a < hi; a += 4096)
		sum += *(volatile const unsigned char *)a;
	(void)sum;
	ck_assert(libc_code(getpid(), &lo, &hi, &parent_kb, &pmd_kb));
	ck_assert_int_eq(parent_kb, (long)((hi - lo) / 1024));
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		close(p[1]);
		_exit(read(p[0], &c, 1) == 0 ? 0 : 1);
	}
	close(p[0]);
	/* the child blocks in read(): what of libc it has, it inherited */
	ck_assert(libc_code(pid, &lo, &hi, &child_kb, &pmd_kb));
	close(p[1]);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_msg(child_kb >= parent_kb, "libc's code resident: %ld kB in the child, %ld in the parent",
		      child_kb, parent_kb);
	/* the bytes did not change: the program and libc still run */
	ck_assert(code_runs());
	ck_assert(sha256_abc_ok());
}
END_TEST

CHECK_MAIN(.name = "hugetext", .fork = 1,
	   .tests = CHECK_TESTS(test_moves_and_runs, test_taken_span_left_alone,
				test_breakpoint_left_alone, test_no_huge_page,
				test_library_moves_and_runs, test_library_breakpoint_left_alone,
				test_library_changed_mapping_left_alone, test_locked_after_move,
				test_inherit));
