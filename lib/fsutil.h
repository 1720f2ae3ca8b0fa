/* SPDX-License-Identifier: MIT */
/*
 * fsutil.h: file and directory helpers the signers share: positional
 * reads and writes that finish the job, copying a file, a descriptor or a
 * tree, listing a directory, walking a tree for its regular files, and
 * clearing a directory but for what a caller keeps.
 *
 * Nothing here follows a symbolic link it did not ask for: listing and
 * walking use lstat, the copies create their output O_EXCL | O_NOFOLLOW.
 * The source of a tree copy (a directory the server administers, such as
 * the L4T tools) is followed, as shutil.copytree does.  Every function
 * returns 0, or -1 with errno, unless it says otherwise.
 */
#ifndef DSS_FSUTIL_H
#define DSS_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct strv;

/* pread until len bytes or end of file: the bytes read, or -1. */
ssize_t fs_pread_full(int fd, void *buf, size_t len, uint64_t off);
/* pwrite all of buf at off (retrying on EINTR and short writes). */
int fs_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* 1 when b is the same version of a file as a: the same size, and the
 * same modification and change times to the nanosecond (a rewrite in
 * place keeps the inode and changes these); else 0. */
int fs_same_version(const struct stat *a, const struct stat *b);
/* Whose access a check is about: this process (faccessat with its
 * effective ids), or a user with its groups, by the permission bits
 * alone (as root, for the service user or a worker id; no ACLs). */
struct fs_who {
	int as_process;
	const char *name;
	uid_t uid;
	gid_t groups[256]; /* as many as privdrop.h keeps (PRIV_GROUPS_MAX) */
	int ngroups;
};
/* 1 when who gets the permission bits need (4 read, 1 search) on path,
 * whose stat is st: the owner's bits, else the group's when it is one of
 * who's groups, else the others'. */
int fs_who_can(const struct fs_who *who, const char *path, const struct stat *st, int need);
/*
 * getgrouplist(3) for user (primary group gid) into groups (room for *n;
 * *n set to how many), asked in a child process: the NSS modules a group
 * lookup loads (libnss_systemd and what it links) then never map into
 * this process, which every worker is forked from (15 more mappings
 * each fork and exit would pay).  0, or -1 when the user has more
 * groups than fit or the child failed.
 */
int fs_grouplist(const char *user, gid_t gid, gid_t *groups, int *n);
/* Copy everything left to read on in to out. */
int fs_copy_fd(int in, int out);
/* Copy the regular file src to the new file dst (O_EXCL) with src's
 * permission bits, without setuid/setgid/sticky (shutil.copyfile + copymode). */
int fs_copy_file(const char *src, const char *dst);
/*
 * Copy the directory src to the new directory dst, leaving out entries
 * whose name is in skip (a NULL-terminated list, or NULL), with their
 * permission bits (shutil.copytree with ignore_patterns).  Links in src
 * are followed; at most 32 levels deep (ELOOP past that).
 */
int fs_copy_tree(const char *src, const char *dst, const char *const *skip);
/* Add the names in dir, sorted, "." and ".." left out, to out. */
int fs_list_dir(const char *dir, struct strv *out);
/*
 * Add the regular files below dir to out as "<rel>/<path>", in sorted
 * order level by level; symbolic links are not followed, what vanishes
 * meanwhile or cannot be listed is left out, and the walk stops 64 levels
 * deep.
 */
void fs_walk_files(const char *dir, const char *rel, struct strv *out);
/*
 * Remove every entry of dir (trees too, links not followed) for which
 * keep(name, arg) is 0; a failure to remove one is logged, the rest go
 * on.  -1 when dir cannot be listed.
 */
int fs_remove_except(const char *dir, int (*keep)(const char *name, void *arg), void *arg);

#endif
