/*
 * privdrop.c: see privdrop.h.  The order is fixed: supplementary groups,
 * group, user, verification that root cannot be regained, then the
 * process limits.
 */
#include "privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "util.h"

int
priv_lookup(const char *name, struct priv_user *pu, char *err, size_t errlen)
{
	struct passwd *pw;

	memset(pu, 0, sizeof(*pu));
	if (geteuid() != 0)
		return 0;
	if (name == NULL || *name == '\0') {
		snprintf(err, errlen, "running as root needs DIGSIGSERVER_USER (--user)");
		return -1;
	}
	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		snprintf(err, errlen, "service user \"%s\" does not exist%s%s", name,
			 errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "service user \"%s\" is root; choose an unprivileged user",
			 name);
		return -1;
	}
	pu->uid = pw->pw_uid;
	pu->gid = pw->pw_gid;
	snprintf(pu->name, sizeof(pu->name), "%s", name);
	pu->valid = 1;
	return 0;
}

void
priv_drop(const struct priv_user *pu)
{
	struct rlimit rl = {0, 0};

	if (pu->valid) {
		uid_t ru, eu, su;
		gid_t rg, eg, sg;

		if (setgroups(1, &pu->gid) < 0)
			fatal("setgroups");
		if (setresgid(pu->gid, pu->gid, pu->gid) < 0)
			fatal("setresgid %u", (unsigned)pu->gid);
		if (setresuid(pu->uid, pu->uid, pu->uid) < 0)
			fatal("setresuid %u", (unsigned)pu->uid);
		if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
			fatal("getresuid");
		if (ru != pu->uid || eu != pu->uid || su != pu->uid || rg != pu->gid ||
		    eg != pu->gid || sg != pu->gid)
			fatalx("privilege drop did not take");
		if (setuid(0) == 0 || seteuid(0) == 0)
			fatalx("root could be regained after dropping privileges");
	}
	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		fatal("setrlimit RLIMIT_CORE");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fatal("prctl PR_SET_DUMPABLE");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("prctl PR_SET_NO_NEW_PRIVS");
	umask(077);
}

/* --- hiding the key store from a process of the same user ---------------- */

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

/* Write text to a /proc/self file; 0 or -1. */
static int
write_self(const char *file, const char *text)
{
	char path[64];
	int fd, rc;

	snprintf(path, sizeof(path), "/proc/self/%s", file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	rc = util_write_all(fd, text, strlen(text)) == 0 ? 0 : -1;
	if (close(fd) < 0)
		rc = -1;
	return rc;
}

/* A user namespace mapping only our ids, and a mount namespace of its
 * own; 0 or -1. */
static int
own_namespaces(uid_t uid, gid_t gid)
{
	char map[64];

	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return -1;
	snprintf(map, sizeof(map), "%lu %lu 1\n", (unsigned long)uid, (unsigned long)uid);
	if (write_self("setgroups", "deny") < 0 || write_self("uid_map", map) < 0)
		return -1;
	snprintf(map, sizeof(map), "%lu %lu 1\n", (unsigned long)gid, (unsigned long)gid);
	return write_self("gid_map", map);
}

/* The directories root/<selector>/<tag> of the tags in keep, and then
 * their detached copies (open_tree) taken in our own mount namespace. */
struct kept {
	struct strv rel; /* relative to root */
	int trees[256];
};

static void
find_kept(const char *root, const char *const *keep, struct kept *k)
{
	char pattern[PATH_MAX];
	glob_t g;

	for (; keep != NULL && *keep != NULL; keep++) {
		if (snprintf(pattern, sizeof(pattern), "%s/*/%s", root, *keep) >= (int)sizeof(pattern) ||
		    glob(pattern, GLOB_ONLYDIR, NULL, &g) != 0)
			continue;
		for (size_t i = 0; i < g.gl_pathc && k->rel.n < 256; i++)
			strv_add(&k->rel, g.gl_pathv[i] + strlen(root) + 1);
		globfree(&g);
	}
}

/* Detached copies of the kept directories, before the cover; 0 or -1. */
static int
clone_kept(const char *root, struct kept *k)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < k->rel.n; i++) {
		snprintf(path, sizeof(path), "%s/%s", root, k->rel.v[i]);
		k->trees[i] = (int)syscall(SYS_open_tree, AT_FDCWD, path,
					   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		if (k->trees[i] < 0) {
			while (i-- > 0)
				close(k->trees[i]);
			return -1;
		}
	}
	return 0;
}

/* Put the kept directories back on the cover at root; 0 or -1. */
static int
bind_kept(const char *root, struct kept *k)
{
	char dst[PATH_MAX];
	int rc = 0;

	for (size_t i = 0; i < k->rel.n; i++) {
		char *slash;

		snprintf(dst, sizeof(dst), "%s/%s", root, k->rel.v[i]);
		slash = strrchr(dst, '/');
		*slash = '\0';
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			rc = -1;
		*slash = '/';
		if (rc == 0 && (mkdir(dst, 0755) < 0 ||
				syscall(SYS_move_mount, k->trees[i], "", AT_FDCWD, dst,
					MOVE_MOUNT_F_EMPTY_PATH) < 0))
			rc = -1;
		close(k->trees[i]);
	}
	return rc;
}

int
priv_hide_store(const char *root, const char *const *keep, char *err, size_t errlen)
{
	const unsigned long cover = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	uid_t uid = getuid();
	gid_t gid = getgid();
	struct kept k;
	int rc;

	memset(&k, 0, sizeof(k));
	find_kept(root, keep, &k);
	/* the cover, in namespaces of our own */
	if (own_namespaces(uid, gid) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    clone_kept(root, &k) < 0 ||
	    mount("none", root, "tmpfs", cover, "size=64k,mode=0755") < 0) {
		snprintf(err, errlen, "covering the key store %s: %s", root, strerror(errno));
		strv_free(&k.rel);
		return -1;
	}
	rc = bind_kept(root, &k);
	strv_free(&k.rel);
	if (rc < 0 ||
	    mount(NULL, root, NULL, MS_REMOUNT | MS_RDONLY | cover, NULL) < 0) {
		snprintf(err, errlen, "keeping the key store's worker tags: %s", strerror(errno));
		return -1;
	}
	/* a second pair of namespaces, owned by the first: the cover comes
	 * into it locked, and cannot be unmounted or made writable */
	if (own_namespaces(uid, gid) < 0) {
		snprintf(err, errlen, "locking the key store's cover: %s", strerror(errno));
		return -1;
	}
	return 0;
}
