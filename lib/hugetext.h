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
 * fails the original mapping is left as it was.  Libraries cannot be
 * moved so: they share their 2 MB with other mappings.  A system that
 * refuses executable anonymous memory (systemd's MemoryDenyWriteExecute=)
 * keeps the code where it is.
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

#endif
