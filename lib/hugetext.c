/* SPDX-License-Identifier: MIT */
/*
 * hugetext.c: the program's code and read-only data onto huge pages
 * (hugetext.h).
 */
#include "hugetext.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "maps.h"
#include "util.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define HUGE_SIZE ((uintptr_t)2 << 20)
#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"
#define THP_PMD_SIZE "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

struct segment {
	uintptr_t start, end; /* end: of its last page */
	off_t offset;	      /* in the file */
	int prot;
};

struct segments {
	struct segment seg[4];
	int n;
};

static uintptr_t
round_up(uintptr_t x, uintptr_t to)
{
	return (x + to - 1) & ~(to - 1);
}

/* The main program's read-only loadable segments but the first (which
 * holds the ELF header): its code and its constant data.  The main
 * program comes first in dl_iterate_phdr's order. */
static int
main_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct segments *s = arg;
	long page = sysconf(_SC_PAGESIZE);

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W) || ph->p_offset == 0 ||
		    s->n == (int)(sizeof(s->seg) / sizeof(s->seg[0])))
			continue;
		s->seg[s->n].start = info->dlpi_addr + ph->p_vaddr;
		s->seg[s->n].end = round_up(s->seg[s->n].start + ph->p_memsz, (uintptr_t)page);
		s->seg[s->n].offset = (off_t)ph->p_offset;
		s->seg[s->n].prot = PROT_READ | ((ph->p_flags & PF_X) ? PROT_EXEC : 0);
		s->n++;
	}
	return 1;
}

/* Whether code may be moved here: on x86-64, where the kernel may give
 * anonymous memory advised so 2 MB pages. */
static int
thp_usable(char *why, size_t whylen)
{
	char line[128] = "";
	FILE *f;

#if !defined(__x86_64__)
	/* elsewhere the copy would need the instruction cache flushed and
	 * arm64's branch-protection flag kept: not done */
	snprintf(why, whylen, "only done on x86-64");
	return 0;
#endif
	f = fopen(THP_ENABLED, "re");

	if (f == NULL) {
		snprintf(why, whylen, "no transparent huge pages (%s: %s)", THP_ENABLED,
			 strerror(errno));
		return 0;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	if (strstr(line, "[never]") != NULL || strstr(line, "[") == NULL) {
		snprintf(why, whylen, "transparent huge pages are disabled (%s)", THP_ENABLED);
		return 0;
	}
	/* the segments are linked 2 MB apart: of no use with other sizes */
	if ((f = fopen(THP_PMD_SIZE, "re")) == NULL || fgets(line, sizeof(line), f) == NULL ||
	    strtoul(line, NULL, 10) != HUGE_SIZE) {
		snprintf(why, whylen, "huge pages are not 2 MB (%s)", THP_PMD_SIZE);
		if (f != NULL)
			fclose(f);
		return 0;
	}
	fclose(f);
	return 1;
}

/*
 * Whether len bytes at a and b are the same, read word by word unseen by
 * AddressSanitizer: the program's constant data holds the redzones the
 * sanitizer puts between globals, which a checked memcmp() would report.
 * (volatile: not turned into a call of memcmp.)
 */
UTIL_NO_SANITIZE_ADDRESS
static int
same_words(uintptr_t a, uintptr_t b, size_t len)
{
	const volatile uint64_t *x = (const volatile uint64_t *)a;
	const volatile uint64_t *y = (const volatile uint64_t *)b;

	for (size_t i = 0; i < len / sizeof(uint64_t); i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}

/* Fill [to, to + len) from the file at offset, as the kernel maps it:
 * zeros past its end.  0 or -1. */
static int
read_segment(int fd, uintptr_t to, size_t len, off_t offset)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)to + done, len - done, offset + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break; /* the anonymous copy is zeros already */
		done += (size_t)n;
	}
	return 0;
}

/* Kilobytes of the mapping that starts at addr on huge pages, from
 * /proc/self/smaps; -1 when it cannot be read. */
static long
huge_kb(uintptr_t addr)
{
	char line[512];
	unsigned long lo, hi;
	long kb = -1;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			if (in)
				break;
			in = lo == addr;
		} else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return in ? kb : -1;
}

/* A part of a file mapped in a block to be moved: [start, end) from the
 * file at offset; x: of an executable segment (set in a library's list of
 * its segments, where the block's protection is taken from; move_block()
 * does not read it). */
struct piece {
	uintptr_t start, end;
	off_t offset;
	int x;
};

/*
 * The 2 MB-aligned block [start, start + len) copied onto huge pages with
 * protection prot and moved over itself: the pieces read from the file fd
 * (anything else in the block is zeros: a span claimed past the program's
 * segment) and checked to equal what is mapped.  0, or -1 and why, with
 * the block as it was; -2 when the kernel failed the move after it had
 * unmapped the block (hugetext.h).
 */
static int
move_block(uintptr_t start, uintptr_t len, int prot, int fd, const struct piece *pc, int npc,
	   char *why, size_t whylen)
{
	uintptr_t copy, raw;
	void *p;
	long kb;

	p = mmap(NULL, len + HUGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(why, whylen, "mmap: %s", strerror(errno));
		return -1;
	}
	raw = (uintptr_t)p;
	copy = round_up(raw, HUGE_SIZE);
	if (copy > raw)
		munmap(p, copy - raw);
	if (raw + HUGE_SIZE > copy)
		munmap((void *)(copy + len), raw + HUGE_SIZE - copy);
	if (madvise((void *)copy, len, MADV_HUGEPAGE) < 0) {
		snprintf(why, whylen, "madvise(MADV_HUGEPAGE): %s", strerror(errno));
		goto unmap;
	}
	for (int i = 0; i < npc; i++) {
		uintptr_t to = copy + (pc[i].start - start);

		/* from the file, not from memory: a uprobe's breakpoint written
		 * into the process's code would be copied into memory no
		 * uprobe knows */
		if (read_segment(fd, to, pc[i].end - pc[i].start, pc[i].offset) < 0) {
			snprintf(why, whylen, "reading the file: %s", strerror(errno));
			goto unmap;
		}
		if (!same_words(to, pc[i].start, pc[i].end - pc[i].start)) {
			snprintf(why, whylen, "the code in memory differs from the file (a uprobe "
					      "or a breakpoint of a debugger?)");
			goto unmap;
		}
	}
	/* a fragmented memory gives small pages at the first touch: then
	 * ask for them to be collapsed now (Linux 6.1), else give up */
	if ((kb = huge_kb(copy)) < (long)(len / 1024) &&
	    madvise((void *)copy, len, MADV_COLLAPSE) == 0)
		kb = huge_kb(copy);
	if (kb < (long)(len / 1024)) {
		snprintf(why, whylen, "the kernel gave no huge page (%ld of %lu kB)", kb,
			 (unsigned long)(len / 1024));
		goto unmap;
	}
	if (mprotect((void *)copy, len, prot) < 0) {
		snprintf(why, whylen, "mprotect: %s (MemoryDenyWriteExecute?)", strerror(errno));
		goto unmap;
	}
	/* from here on the code runs from the copy: the same bytes.  (Should
	 * the kernel fail the move for want of memory after it unmapped the
	 * original, there is no code left to return to: hugetext.h.) */
	if (mremap((void *)copy, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)start) ==
	    MAP_FAILED) {
		int saved = errno;

		munmap((void *)copy, len);
		/* msync() fails with ENOMEM on an address nothing maps */
		if (msync((void *)start, len, MS_ASYNC) < 0 && errno == ENOMEM) {
			snprintf(why, whylen, "mremap: %s, after the original was unmapped",
				 strerror(saved));
			return -2;
		}
		snprintf(why, whylen, "mremap: %s", strerror(saved));
		return -1;
	}
	return 0;
unmap:
	munmap((void *)copy, len);
	return -1;
}

/*
 * One segment of the program: its 2 MB-aligned span claimed past its end
 * (nothing else may be there), then the whole moved as one block.  0, or
 * -1 and why, with the segment as it was.
 */
static int
move_segment(const struct segment *sg, int exe, char *why, size_t whylen)
{
	uintptr_t len = round_up(sg->end - sg->start, HUGE_SIZE);
	uintptr_t gap = sg->start + len - sg->end;
	struct piece pc = {sg->start, sg->end, sg->offset, 0};
	void *p;

	if (sg->start % HUGE_SIZE != 0) {
		snprintf(why, whylen, "the program is not linked with 2 MB segments");
		return -1;
	}
	if (gap > 0) {
		p = mmap((void *)sg->end, gap, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			 -1, 0);
		if (p == MAP_FAILED || (uintptr_t)p != sg->end) {
			/* taken, or a kernel older than MAP_FIXED_NOREPLACE (4.17)
			 * that took the address as a hint only */
			if (p != MAP_FAILED)
				munmap(p, gap);
			snprintf(why, whylen, "the 2 MB after a segment are not free");
			return -1;
		}
	}
	if (move_block(sg->start, len, sg->prot, exe, &pc, 1, why, whylen) == 0)
		return 0;
	if (gap > 0)
		munmap((void *)sg->end, gap);
	return -1;
}

int
hugetext_remap(char *why, size_t whylen)
{
	struct segments s = {.n = 0};
	int moved = 0, exe;

	why[0] = '\0';
	if (!thp_usable(why, whylen))
		return 0;
	dl_iterate_phdr(main_segments, &s);
	if (s.n == 0) {
		snprintf(why, whylen, "no read-only segment but the first (not linked with "
				      "-z separate-code?)");
		return 0;
	}
	if ((exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "/proc/self/exe: %s", strerror(errno));
		return 0;
	}
	for (int i = 0; i < s.n; i++) {
		char e[160];

		if (move_segment(&s.seg[i], exe, e, sizeof(e)) == 0)
			moved++;
		else if (why[0] == '\0') /* the first failure says why */
			snprintf(why, whylen, "%s", e);
	}
	close(exe);
	return moved;
}

/*
 * The libraries.  A library is mapped where the kernel found room, its
 * segments a page apart, so only a 2 MB-aligned block that its read-only
 * segments fill whole can be moved: its code and the constant data or
 * headers beside it, which then share one protection, readable and
 * executable (as code and constant data did in one segment before linkers
 * separated them).  Its writable data, and the part of it made read-only
 * after relocation, are never in such a block.
 */
#define LIB_MAX 64
#define LIB_PIECES 8

struct library {
	const char *name;
	struct piece ro[LIB_PIECES]; /* read-only segments */
	int nro;
	struct piece rw[LIB_PIECES]; /* the pages of its writable ones */
	int nrw;
};

struct libraries {
	struct library lib[LIB_MAX];
	int n;
};

static int
library_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct libraries *ls = arg;
	struct library *l;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);

	(void)size;
	/* the program (no name) and the kernel's vDSO (no path) */
	if (info->dlpi_name == NULL || info->dlpi_name[0] != '/' || ls->n == LIB_MAX)
		return 0;
	l = &ls->lib[ls->n];
	memset(l, 0, sizeof(*l));
	l->name = info->dlpi_name;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t at = info->dlpi_addr + ph->p_vaddr, lo = at & ~(page - 1);
		struct piece *pc;

		if (ph->p_type != PT_LOAD)
			continue;
		if (l->nro == LIB_PIECES || l->nrw == LIB_PIECES)
			return 0; /* an unusual library: left alone */
		if ((ph->p_flags & PF_W) || ph->p_memsz > ph->p_filesz) {
			pc = &l->rw[l->nrw++];
		} else {
			pc = &l->ro[l->nro++];
			pc->x = (ph->p_flags & PF_X) != 0;
		}
		pc->start = lo;
		pc->end = round_up(at + ph->p_memsz, page);
		pc->offset = (off_t)(ph->p_offset & ~(uint64_t)(page - 1));
	}
	ls->n++;
	return 0;
}

/*
 * The pieces of l's read-only segments that fill the block at b whole, and
 * the protection the block gets; 0 when the block is not filled so (a gap,
 * or writable data in it).
 */
static int
library_block(const struct library *l, uintptr_t b, struct piece *pc, int *prot)
{
	uintptr_t at = b;
	int n = 0;

	for (int i = 0; i < l->nrw; i++)
		if (l->rw[i].start < b + HUGE_SIZE && l->rw[i].end > b)
			return 0;
	*prot = PROT_READ;
	for (int i = 0; i < l->nro && at < b + HUGE_SIZE; i++) {
		const struct piece *s = &l->ro[i];

		if (s->end <= at)
			continue;
		if (s->start > at)
			return 0;
		pc[n].start = at;
		pc[n].end = s->end < b + HUGE_SIZE ? s->end : b + HUGE_SIZE;
		pc[n].offset = s->offset + (off_t)(at - s->start);
		if (s->x)
			*prot |= PROT_EXEC;
		at = pc[n++].end;
	}
	return at == b + HUGE_SIZE ? n : 0;
}

/*
 * Whether /proc/self/maps shows the block at b mapped whole, read-only,
 * from the file fd is open on: nothing of it made writable or inaccessible
 * since the library was loaded (its program headers do not tell).  The
 * file by its inode only: the device maps shows is not the one fstat()
 * gives on btrfs (a subvolume's) or on older kernels' overlayfs, and the
 * bytes are compared with the file's afterwards anyway.  0, or -1 and why.
 */
static int
block_from_file(uintptr_t b, int fd, char *why, size_t whylen)
{
	struct maps_reader r;
	struct maps_entry e;
	unsigned long at = b;
	struct stat st;

	if (fstat(fd, &st) < 0 || maps_open(&r) < 0) {
		snprintf(why, whylen, "/proc/self/maps: %s", strerror(errno));
		return -1;
	}
	while (at < b + HUGE_SIZE && maps_next(&r, &e)) {
		if (e.end <= at)
			continue;
		if (e.start > at || e.perms[0] != 'r' || e.perms[1] != '-' || e.inode != st.st_ino)
			break;
		at = e.end;
	}
	maps_close(&r);
	if (at >= b + HUGE_SIZE)
		return 0;
	snprintf(why, whylen, "its mapping changed since it was loaded (at %#lx)", at);
	return -1;
}

static int
by_start(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

size_t
hugetext_remap_libraries(char *names, size_t nameslen, char *why, size_t whylen)
{
	static struct libraries ls; /* a few kB: not on the stack */
	size_t moved = 0;

	names[0] = why[0] = '\0';
#if UTIL_HAS_ASAN
	/* its reports, and t/lsan.supp, name a library's code by its file */
	snprintf(why, whylen, "not in an ASan build");
	return 0;
#endif
	if (!thp_usable(why, whylen))
		return 0;
	if (util_under_valgrind()) {
		/* its reports and suppressions likewise */
		snprintf(why, whylen, "not under valgrind");
		return 0;
	}
	ls.n = 0;
	dl_iterate_phdr(library_segments, &ls);
	for (int i = 0; i < ls.n; i++) {
		struct library *l = &ls.lib[i];
		const char *base = strrchr(l->name, '/') + 1;
		size_t before = moved;
		int fd = -1;

		if (l->nro == 0)
			continue;
		qsort(l->ro, (size_t)l->nro, sizeof(l->ro[0]), by_start);
		for (uintptr_t b = round_up(l->ro[0].start, HUGE_SIZE);
		     b + HUGE_SIZE <= l->ro[l->nro - 1].end; b += HUGE_SIZE) {
			struct piece pc[LIB_PIECES];
			char e[160];
			int prot, rc, n = library_block(l, b, pc, &prot);

			if (n == 0)
				continue;
			if (fd < 0 && (fd = open(l->name, O_RDONLY | O_CLOEXEC)) < 0) {
				if (why[0] == '\0')
					snprintf(why, whylen, "%s: %s", base, strerror(errno));
				break;
			}
			if (block_from_file(b, fd, e, sizeof(e)) < 0)
				;
			else if ((rc = move_block(b, HUGE_SIZE, prot, fd, pc, n, e, sizeof(e))) == 0) {
				moved += HUGE_SIZE;
				continue;
			} else if (rc == -2) {
				/* a hole in the library: the next call into it would
				 * crash a worker or the key process; say it now */
				fatalx("%s: %s", base, e);
			}
			if (why[0] == '\0') /* the first failure says why */
				snprintf(why, whylen, "%s: %s", base, e);
		}
		if (fd >= 0)
			close(fd);
		if (moved > before)
			snprintf(names + strlen(names), nameslen - strlen(names), "%s%s",
				 names[0] != '\0' ? ", " : "", base);
	}
	return moved;
}

#define INHERIT_MAX 256

int
hugetext_inherit(char *why, size_t whylen)
{
	static uintptr_t at[INHERIT_MAX]; /* each mapping's start; not on the stack */
	struct maps_reader mr;
	struct maps_entry me;
	int n = 0, more = 0, done = 0, fd;

	why[0] = '\0';
	if (util_under_valgrind()) {
		snprintf(why, whylen, "not under valgrind");
		return 0;
	}
	if (maps_open(&mr) < 0) {
		snprintf(why, whylen, "/proc/self/maps: %s", strerror(errno));
		return 0;
	}
	/* all first: the writes below must not race the reading */
	while (maps_next(&mr, &me)) {
		if (!maps_is_file(&me))
			continue; /* anonymous, or the kernel's ([vdso], [stack]) */
		if (me.perms[0] != 'r' || me.perms[1] != '-' || me.perms[3] != 'p')
			continue;
		if (n < INHERIT_MAX)
			at[n++] = (uintptr_t)me.start;
		else
			more++;
	}
	maps_close(&mr);
	if ((fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "/proc/self/mem: %s", strerror(errno));
		return 0;
	}
	for (int i = 0; i < n; i++) {
		unsigned char c;
		ssize_t r = pread(fd, &c, 1, (off_t)at[i]);
		int e;

		if (r == 1 && (r = pwrite(fd, &c, 1, (off_t)at[i])) == 1) {
			done++;
			continue;
		}
		e = r < 0 ? errno : EIO;
		if (done == 0 && r < 0 && (e == EIO || e == EPERM || e == EACCES)) {
			/* the first write refused: none will be (the kernel's
			 * proc_mem.force_override=never, a security module) */
			snprintf(why, whylen, "read-only pages cannot be written through "
				 "/proc/self/mem here (%s)", strerror(e));
			break;
		}
		if (why[0] == '\0')
			snprintf(why, whylen, "/proc/self/mem at %#lx: %s", (unsigned long)at[i],
				 strerror(e));
	}
	close(fd);
	if (more > 0 && why[0] == '\0')
		snprintf(why, whylen, "%d mappings past the first %d", more, INHERIT_MAX);
	return done;
}
