/* SPDX-License-Identifier: MIT */
/*
 * hugetext.h: the daemon's own code and read-only data moved onto
 * transparent huge pages, once, before the first fork.
 *
 * Why: a worker is a new process per job, and on a host whose hypervisor
 * shadows page tables every page a new process touches for the first
 * time costs a trap of several microseconds, whether fork copied its
 * entry or the process faults it in from the file.  A worker runs a few
 * hundred kilobytes of the daemon's code; on a 2 MB page that is one
 * entry for the whole segment, shared by every process forked after it,
 * instead of some hundred 4 kB pages each worker maps and touches anew.
 *
 * How: the program is linked with its segments 2 MB apart (configure), so
 * that the code starts on a 2 MB boundary and nothing else lies in its
 * 2 MB.  A copy is made in anonymous memory advised for huge pages, made
 * read-only (and executable, for the code), checked to be on a huge page,
 * and only then moved over the original with one mremap(): if any step
 * fails the original mapping is left as it was.  A library is mapped
 * wherever the kernel found room, so only the 2 MB-aligned blocks that
 * its read-only segments fill whole can be moved (hugetext.c): on a
 * kernel that places a mapping of 2 MB or more on a 2 MB boundary, the
 * first blocks of libcrypto.  A system that refuses executable anonymous
 * memory (systemd's MemoryDenyWriteExecute=) keeps the code where it is.
 */
#ifndef DSS_HUGETEXT_H
#define DSS_HUGETEXT_H

#include <stddef.h>

/*
 * Move the program's code and read-only data segments onto huge pages.
 * Call before the process starts a thread.  Returns how many segments were
 * moved; why is "" when every one that could be was, else it says what
 * kept the first that stayed (e.g. "transparent huge pages are disabled").
 * The copies are made from the program's file and must equal what is
 * mapped (a uprobe's breakpoint in memory keeps the code where it is);
 * uprobes set after the move do not fire (DIGSIGSERVER_HUGE_TEXT=0 for
 * tracing).  One failure cannot be undone: should the kernel fail the
 * final mremap() for want of memory after unmapping the original, the
 * process dies; it needs a few page tables, once, at start.
 */
int hugetext_remap(char *why, size_t whylen);

/*
 * The same for the libraries loaded so far, where a 2 MB-aligned block is
 * filled whole by a library's code and constant data (hugetext.c): that
 * block is moved, readable and executable.  Returns the bytes moved, with
 * the libraries' file names in names ("libcrypto.so.3"); why is "" when
 * every such block was moved, else what kept the first that stayed.  The
 * same conditions and caveats as hugetext_remap(), but a block the kernel
 * fails to move after it unmapped it ends the process at once (fatalx,
 * with the reason) rather than leave a hole in the library.  Not in an
 * AddressSanitizer build or under valgrind.
 */
size_t hugetext_remap_libraries(char *names, size_t nameslen, char *why, size_t whylen);

/*
 * Make the children this process forks from now on start with its
 * page-table entries for the code and constant data it maps from files
 * (the program's and the libraries' read-only mappings), so that a child
 * runs the code its parent already ran without faulting it in again.
 * fork() copies a private file mapping's entries only when the mapping
 * holds an anonymous page (it would otherwise fill them again at each
 * fault, which is cheaper where a fault is cheap); writing one byte of
 * each mapping with its own value through /proc/self/mem, as a debugger
 * writes a breakpoint, gives it one: a private copy of that page, the
 * same bytes, still read-only.  For the spawner, once: on a PVM guest a
 * worker then takes about twenty fewer faults at birth (each some 20 us),
 * for a few hundred more entries copied at each fork.  Call with no other
 * thread running.  Returns the mappings so marked; why is "" when every
 * one was, else why the rest were not (/proc/self/mem cannot be written,
 * valgrind).
 */
int hugetext_inherit(char *why, size_t whylen);

#endif
