/* SPDX-License-Identifier: MIT */
/*
 * dss_archive.h: safe extraction and repacking of the tarballs clients upload
 * (/sign/modules, /sign/tegra).
 *
 * Extraction never trusts a member name: every name is normalised and
 * refused when absolute or holding "..", and every file system call is
 * made relative to a directory descriptor with O_NOFOLLOW, one path
 * component at a time (or in one openat2() call that refuses symbolic
 * links and escapes), so nothing is ever written or read through a
 * symbolic link and nothing outside the destination is touched.  Refused
 * with 400 and a one-line reason: absolute or ".." names, symbolic links
 * that resolve outside the tree (checked again, exactly, once the whole
 * tree is out), hard links to anything but a regular file extracted
 * earlier, device nodes, FIFOs and sockets, duplicate members, more than
 * max_members members (directories made for members' parents count),
 * more than max_size bytes of contents, an expansion past max_ratio times
 * the compressed size, more than max_cpu_ms of CPU, input that is not a
 * gzip-compressed tar or is damaged or truncated.  Size limits are
 * checked against a member's declared size before any of it is written,
 * and a sparse member counts its full (logical) size: that is what
 * reading it back costs.  A full disk gives 507.
 *
 * Modes are kept without setuid, setgid and sticky bits (on disk the
 * owner can always read and write files and enter directories: the list
 * keeps the exact modes); modification times are kept.  The members are
 * returned in archive order so that a signer can write its answer in the
 * same order.  The writer makes gzip-compressed pax (restricted) tarballs
 * whose member names start with "./", as `tar -C dir -czf out .` would.
 */
#ifndef DSS_ARCHIVE_H
#define DSS_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct config;

/* ar_limits.flags */
#define AR_ANY_FILTER 0x01 /* accept gzip, bzip2, xz, zstd or none, not only gzip */
/* no regular file is executable on disk (the list keeps each member's
 * mode): a tool that runs commands from the tree cannot run an upload */
#define AR_NO_EXEC 0x02

enum ar_type { AR_DIR = 1, AR_FILE, AR_SYMLINK, AR_HARDLINK };

struct ar_limits {
	uint64_t max_members; /* entries, directories and links included */
	uint64_t max_size;    /* sum of the sizes of regular files */
	/*
	 * Neither the tar stream nor the files' total size may grow past
	 * max_ratio times the size of the compressed input, or past
	 * ratio_floor when that is more (small honest archives of zeros
	 * compress far better than 100:1).  max_ratio 0: no ratio limit;
	 * none either when the input's size is unknown (not a file).
	 */
	uint64_t max_ratio;
	uint64_t ratio_floor;
	uint64_t max_cpu_ms; /* CPU time of the extracting thread; 0: no limit */
	int flags;
	/*
	 * If set, called before a regular file or a hard link is made, with
	 * its normalised name and the size of its contents: 0 to go on, or
	 * -1 with a one-line reason in why to refuse the archive (400).
	 */
	int (*admit)(const char *name, enum ar_type type, uint64_t size, void *arg, char *why,
		     size_t whylen);
	void *admit_arg;
	/*
	 * If set, NULL-terminated names (normalised) the caller puts in the
	 * tree after the extraction (its own files or links, replacing what
	 * is there): a symbolic link of the archive leading to one or below
	 * it is refused (400), so that writing through the link cannot reach
	 * them, and so is one whose way goes through a link of the archive
	 * at such a name, below it or on the way to it (the caller replaces
	 * it, and the way would then lead elsewhere).
	 */
	const char *const *caller_names;
};

/* Limits from DIGSIGSERVER_ARCHIVE_MAX_MEMBERS, _MAX_SIZE, _MAX_RATIO,
 * _RATIO_FLOOR and _MAX_SECONDS; gzip only, no admit hook. */
void ar_limits_from_config(struct ar_limits *lim, const struct config *cfg);

struct ar_entry {
	char *name;	 /* normalised: no "./", no "//", no trailing '/'; "." is the top */
	char *link;	 /* AR_SYMLINK: target as stored; AR_HARDLINK: normalised member name */
	enum ar_type type;
	mode_t mode;	 /* permission bits, without setuid/setgid/sticky */
	int64_t mtime;	 /* seconds */
	long mtime_nsec;
	uint64_t size;	 /* AR_FILE: bytes */
	int64_t uid, gid;
	char *uname, *gname; /* may be NULL */
};

struct ar_list {
	struct ar_entry *v;
	size_t n;
};

/*
 * Extract the tarball at path (or open on fd) into the existing directory
 * dest.  The members are appended to list (in archive order; a repeated
 * directory updates its first entry).  Returns 0, 400 with a one-line
 * reason in err for bad input, 507 when the file system is full (ENOSPC,
 * EDQUOT, EFBIG), or 500 with a reason for another local failure (I/O
 * error).  After a failure dest may hold part of the tree:
 * the caller removes it (util_rm_rf).
 */
int ar_extract(const char *path, const char *dest, const struct ar_limits *lim,
	       struct ar_list *list, char *err, size_t errlen);
int ar_extract_fd(int fd, const char *dest, const struct ar_limits *lim, struct ar_list *list,
		  char *err, size_t errlen);
/*
 * ar_extract, calling each(entry, arg) as soon as a member is on disk
 * (contents written, in archive order; not for a repeated directory), so
 * that work on it can start while the rest is extracted.  The entry is
 * valid during the call only (the list grows).  Links are checked once
 * the whole tree is out: work started early is wasted when the archive is
 * refused in the end, never unsafe, since nothing follows links.
 */
int ar_extract_each(const char *path, const char *dest, const struct ar_limits *lim,
		    struct ar_list *list, void (*each)(const struct ar_entry *e, void *arg),
		    void *arg, char *err, size_t errlen);
void ar_list_free(struct ar_list *list);
/* Index of a member by normalised name, or -1. */
ssize_t ar_list_find(const struct ar_list *list, const char *name);

/*
 * The name index of an extraction: list entries by name in a hash table
 * with linear probing, hashed with SipHash-2-4 (Aumasson and Bernstein,
 * 2012) under a random key drawn for each index, so that no set of names
 * chosen in advance can make the probe sequences long.  probes counts the
 * slots looked at.
 */
struct ar_index {
	size_t *slots; /* list index + 1; 0: empty */
	size_t nslots;
	unsigned char key[16];
	uint64_t probes;
};

/* An empty index under a new random key; 0, or -1 with errno. */
int ar_index_init(struct ar_index *ix);
/* Index list->v[idx]; the entries before it must be indexed already. */
void ar_index_add(struct ar_index *ix, const struct ar_list *list, size_t idx);
/* The position in list of the entry named name, or -1. */
ssize_t ar_index_find(struct ar_index *ix, const struct ar_list *list, const char *name);
void ar_index_free(struct ar_index *ix);
/* SipHash-2-4 of len bytes at data under a 16-byte key. */
uint64_t ar_siphash(const unsigned char key[16], const void *data, size_t len);

/*
 * Normalise a member name into out: drop "./", empty and "." components,
 * refuse absolute names and ".." (0, or -1 with *why set to a reason).
 * "" and "./" give ".".
 */
/* Most path components a member may have (real trees need a dozen). */
#define AR_MAX_DEPTH 64
int ar_normalize(const char *name, char *out, size_t outlen, const char **why);

/*
 * Open relpath (a normalised name) below the directory rootfd, in one
 * openat2() call that refuses links and escapes (or, on kernels without
 * it, walking one component at a time with O_NOFOLLOW): no component, the
 * last included, may be a symbolic link.  flags as for openat (O_NOFOLLOW
 * and O_CLOEXEC are added); with O_CREAT, missing parent directories are
 * created 0755.
 * Returns the descriptor or -1 with errno (ELOOP/ENOTDIR for a link).
 */
int ar_openat(int rootfd, const char *relpath, int flags, mode_t mode);
/* Open the directory holding relpath the same way; *base points at the
 * last component of relpath.  Returns the descriptor or -1 with errno. */
int ar_open_parent(int rootfd, const char *relpath, int create, const char **base);

/*
 * Writing a tarball.  ar_writer_add() writes one member named "./" + name
 * ("./" alone for "."; directories get a trailing '/').  For AR_FILE the
 * contents are read from fd (its whole size, read from offset 0) followed
 * by the tail bytes, if any; fd is ignored for other types.  Name, mode,
 * mtime and owner come from the entry.
 */
struct ar_writer;

/*
 * Create path (it must not exist; 0600).  level: gzip level 1..9, or 0
 * for the default (6).  NULL with a reason in err.
 *
 * When one of these functions fails, errno is the system error of the
 * write that failed (ENOSPC, EDQUOT, EFBIG: the answer is then 507), or
 * 0 when no write failed (a member that could not be read, a name the
 * format cannot hold); ar_writer_abort keeps errno.
 */
struct ar_writer *ar_writer_open(const char *path, int level, char *err, size_t errlen);
/* The same, compressing with that many threads (1: in the caller's):
 * the gzip stream is then a series of members, one per MiB of tar. */
struct ar_writer *ar_writer_open_threads(const char *path, int level, int threads, char *err,
					 size_t errlen);
int ar_writer_add(struct ar_writer *w, const struct ar_entry *e, int fd, const void *tail,
		  size_t taillen, char *err, size_t errlen);
/* From now on, name members as given, without the "./" prefix (a client
 * that expects upstream's "fitImage", not "./fitImage"). */
void ar_writer_plain_names(struct ar_writer *w);
/* Finish the archive and free w; 0 or -1 with err. */
int ar_writer_close(struct ar_writer *w, char *err, size_t errlen);
/* Free w without finishing (the file is left for the caller to remove);
 * errno is kept. */
void ar_writer_abort(struct ar_writer *w);

/*
 * Pack the tree under dir (not following links) into a new tarball at out,
 * members named "./<relative path>" in sorted order, parents before
 * children; the top directory itself is not a member.  select, if not
 * NULL, decides per path (relative, no "./"): return 1 to include it, 0 to
 * leave it out (a directory left out is not descended into), 2 to leave a
 * directory out but descend into it.  Files with several links in the tree
 * become hard links after the first.  Sockets, FIFOs and devices are left
 * out.  0, or -1 with a reason in err and errno as for the writer above
 * (the partial output is removed).
 */
int ar_pack_tree(const char *dir, const char *out, int level,
		 int (*select)(const char *relpath, const struct stat *st, void *arg), void *arg,
		 char *err, size_t errlen);

#endif
