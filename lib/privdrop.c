/* SPDX-License-Identifier: MIT */
/*
 * privdrop.c: see privdrop.h.  The order is fixed: supplementary groups,
 * group, user, verification that root cannot be regained, then the
 * process limits.
 */
#include "privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "maps.h"
#include "util.h"

struct priv_user
priv_own_id(const struct priv_user *pu, uid_t id)
{
	struct priv_user own = *pu;

	if (id != 0 && own.valid) {
		own.uid = id;
		own.alone = 1;
	}
	return own;
}

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
	/* its supplementary groups too, as the original's service has them:
	 * an artifact shared through a group is read and written back */
	{
		gid_t *groups = xcalloc(PRIV_GROUPS_MAX, sizeof(*groups));

		pu->ngroups = PRIV_GROUPS_MAX;
		if (fs_grouplist(name, pw->pw_gid, groups, &pu->ngroups) < 0) {
			snprintf(err, errlen, "service user \"%s\" is in more than %d groups", name,
				 PRIV_GROUPS_MAX);
			free(groups);
			pu->ngroups = 0;
			return -1;
		}
		pu->groups = groups; /* the daemon's, for its life */
	}
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

		if (pu->ngroups > 0 ? setgroups((size_t)pu->ngroups, pu->groups) < 0
				    : setgroups(1, &pu->gid) < 0)
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
		/* as that user, kill(-1) reaches exactly the processes whose
		 * real or saved user it is: what an earlier job of this id
		 * left, if anything survived its worker's end */
		if (pu->alone && kill(-1, SIGKILL) < 0 && errno != ESRCH)
			fatal("killing what an earlier job of user %u left", (unsigned)pu->uid);
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

/* priv_hide_store put this process in namespaces of its own. */
static int in_own_namespaces;

int
priv_enter_namespaces(const char **step)
{
	int was = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	uid_t uid = getuid(); /* before the new namespace: unmapped in it until uid_map */
	gid_t gid = getgid();
	char map[64];
	int rc = -1, e;

	/* a non-dumpable process cannot write its own id maps: its /proc
	 * files belong to root of the first namespace */
	*step = "prctl";
	if (was != 1 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		return -1;
	*step = "unshare";
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		goto done;
	*step = "uid_map";
	snprintf(map, sizeof(map), "%lu %lu 1\n", (unsigned long)uid, (unsigned long)uid);
	if (write_self("setgroups", "deny") < 0 || write_self("uid_map", map) < 0)
		goto done;
	*step = "gid_map";
	snprintf(map, sizeof(map), "%lu %lu 1\n", (unsigned long)gid, (unsigned long)gid);
	if (write_self("gid_map", map) < 0)
		goto done;
	rc = 0;
done:
	e = errno;
	if (was != 1 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		*step = "prctl";
		return -2; /* in the namespaces, and dumpable */
	}
	errno = e;
	return rc;
}

int
priv_hide_store(const char *root, const char *creds, char *err, size_t errlen)
{
	const unsigned long cover = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY;
	const char *step;

	/* the covers, in namespaces of our own */
	if (priv_enter_namespaces(&step) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    (root != NULL && mount("none", root, "tmpfs", cover, "size=4k,mode=0555") < 0)) {
		snprintf(err, errlen, "covering the key store %s: %s", root ? root : "",
			 strerror(errno));
		return -1;
	}
	if (creds != NULL && (mount("/dev/null", creds, NULL, MS_BIND, NULL) < 0 ||
			      mount(NULL, creds, NULL, MS_BIND | MS_REMOUNT | cover, NULL) < 0)) {
		snprintf(err, errlen, "covering the key store's credentials %s: %s", creds,
			 strerror(errno));
		return -1;
	}
	/* a second pair of namespaces, owned by the first: the cover comes
	 * into it locked, and cannot be unmounted or made writable */
	if (priv_enter_namespaces(&step) < 0) {
		snprintf(err, errlen, "locking the key store's cover: %s: %s", step, strerror(errno));
		return -1;
	}
	in_own_namespaces = 1;
	return 0;
}

int
priv_own_namespaces(void)
{
	return in_own_namespaces;
}

/* glibc's capset(2) wrapper (<sys/capability.h> is libcap's). */
int capset(cap_user_header_t hdr, const cap_user_data_t data);

int
priv_cover_work_dir(const char *work_dir, const char *job_dir, char *err, size_t errlen)
{
	const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
	const char *base = strrchr(job_dir, '/');
	const char *step;
	char self[64];
	int fd, e, rc;

	if (base == NULL || strncmp(job_dir, work_dir, (size_t)(base - job_dir)) != 0 ||
	    work_dir[base - job_dir] != '\0') {
		snprintf(err, errlen, "%s is not directly below %s", job_dir, work_dir);
		return -1;
	}
	/* the real job directory, held while the work directory is covered */
	if ((fd = open(job_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", job_dir, strerror(errno));
		return -1;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (mount("none", work_dir, "tmpfs", flags, "size=4k,nr_inodes=4,mode=0711") < 0 ||
	    mkdir(job_dir, 0700) < 0 || mount(self, job_dir, NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, work_dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | flags, NULL) < 0) {
		e = errno;
		close(fd);
		snprintf(err, errlen, "covering the work directory %s: %s", work_dir, strerror(e));
		return -1;
	}
	close(fd);
	memset(none, 0, sizeof(none));
	if (capset(&hdr, none) == 0)
		return 0;
	e = errno;
	/* capset refused (a seccomp filter without it): lock the cover as
	 * the key store's is, in one more pair of namespaces owned by these */
	if ((rc = priv_enter_namespaces(&step)) == 0)
		return 0;
	if (rc == -2)
		fatal("prctl PR_SET_DUMPABLE");
	snprintf(err, errlen, "locking the work directory's cover: capset: %s; namespaces: %s: %s",
		 strerror(e), step, strerror(errno));
	return 1;
}

/* --- a Landlock domain of its own ----------------------------------------- */

/* <linux/landlock.h> of Linux 6.12; Debian 12's headers are older. */
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif
#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6: the kernel takes its size. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

int
priv_own_domain(char *why, size_t whylen)
{
	struct ll_ruleset_attr attr = {.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL};
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	int fd, rc;

	if (abi < 0) {
		snprintf(why, whylen, "Landlock: %s%s", strerror(errno),
			 errno == EOPNOTSUPP ? " (not enabled: the kernel's lsm= list)"
			 : errno == ENOSYS   ? " (not in this kernel)"
					     : "");
		return -1;
	}
	/* before ABI 6 a domain must handle some file access, and then
	 * forbids every mount, which the tool sandbox needs */
	if (abi < 6) {
		snprintf(why, whylen, "Landlock ABI %ld: scoped domains need ABI 6 (Linux 6.12)",
			 abi);
		return -1;
	}
	if ((fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0)) < 0) {
		snprintf(why, whylen, "landlock_create_ruleset: %s", strerror(errno));
		return -1;
	}
	rc = (int)syscall(SYS_landlock_restrict_self, fd, 0);
	if (rc < 0)
		snprintf(why, whylen, "landlock_restrict_self: %s", strerror(errno));
	close(fd);
	return rc < 0 ? -1 : 0;
}

/* <linux/prctl.h> of Linux 6.6; Debian 12's headers are older. */
#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#endif
#ifndef PR_GET_MDWE
#define PR_GET_MDWE 66
#endif
#ifndef PR_MDWE_REFUSE_EXEC_GAIN
#define PR_MDWE_REFUSE_EXEC_GAIN (1UL << 0)
#endif
#ifndef PR_MDWE_NO_INHERIT
#define PR_MDWE_NO_INHERIT (1UL << 1)
#endif

/* 1 when the main thread's stack is executable (a library loaded asked
 * for it: glibc then gives every new thread an executable stack too). */
static int
stack_executable(void)
{
	struct maps_reader r;
	struct maps_entry e;
	int x = 0;

	if (maps_open(&r) < 0)
		return 0;
	while (maps_next(&r, &e))
		if (maps_is_stack(&e)) {
			x = e.perms[2] == 'x';
			break;
		}
	maps_close(&r);
	return x;
}

int
priv_lock_wx(int loaded, char *why, size_t whylen)
{
	/* found at the first call (the supervisor's, before any fork) and
	 * inherited: a new worker does not read its maps for it */
	static int stack_x = -1;

	if (util_under_valgrind()) {
		snprintf(why, whylen, "not under valgrind");
		return -1;
	}
	if (stack_x < 0 || loaded)
		stack_x = stack_executable();
	if (stack_x) {
		/* locked, the process could start no thread (its stack would be
		 * writable and executable) */
		snprintf(why, whylen, "a library it loaded needs an executable stack");
		return -2;
	}
	if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN | PR_MDWE_NO_INHERIT, 0L, 0L, 0L) < 0) {
		int e = errno;

		/* locked already, and passed on (systemd 254 and later sets
		 * MemoryDenyWriteExecute= so where the kernel has PR_SET_MDWE):
		 * that is at least as strict */
		if (e == EPERM && prctl(PR_GET_MDWE, 0L, 0L, 0L, 0L) > 0)
			return 0;
		snprintf(why, whylen, "PR_SET_MDWE: %s%s", strerror(e),
			 e == EINVAL ? " (not in this kernel: Linux 6.6 has it)" : "");
		return -1;
	}
	return 0;
}
