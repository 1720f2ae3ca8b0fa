/* SPDX-License-Identifier: MIT */
/*
 * privdrop.h: dropping privileges, in one function and one fixed order.
 */
#ifndef DSS_PRIVDROP_H
#define DSS_PRIVDROP_H

#include <sys/types.h>

#define PRIV_GROUPS_MAX 256

struct priv_user {
	uid_t uid;
	gid_t gid;
	/* the user's groups in the group database, gid among them, as
	 * initgroups gives a login or a systemd service its groups (read
	 * once at start and kept for the daemon's life: the struct, copied
	 * for each worker, stays small) */
	const gid_t *groups;
	int ngroups;
	char name[64];
	int valid; /* 0: do not switch user (not started as root) */
	/* uid is this process's alone (a worker's, from WORKER_UIDS): once
	 * it is that user, priv_drop kills every other process of it, which
	 * only the job that had the uid before can have left */
	int alone;
};

/* pu, as user id of its own when id is not 0 and pu is valid (started as
 * root): a worker's id from WORKER_UIDS, with pu's groups. */
struct priv_user priv_own_id(const struct priv_user *pu, uid_t id);
/* Look up the service user and its groups when running as root; 0 or
 * -1 with err. */
int priv_lookup(const char *name, struct priv_user *pu, char *err, size_t errlen);
/*
 * Become pu (when valid): setgroups (the user's groups), setresgid,
 * setresuid, verify, and
 * when pu->alone kill(-1, SIGKILL); then, always: RLIMIT_CORE 0, not
 * dumpable, no new privileges, umask 077.
 * Fatal on any failure.
 */
void priv_drop(const struct priv_user *pu);
/*
 * Enter a user namespace that maps only this process's own uid and gid
 * (setgroups denied) and a mount namespace of its own, owned by it: root
 * there, with the namespaces' capabilities only.  Made dumpable for the
 * id maps and left as it was found.  0, or -1 with errno and *step the
 * call that failed ("prctl", "unshare", "uid_map", "gid_map"); -2 when it
 * could not be made non-dumpable again (fatal to the caller).  Calls
 * only what a child forked from a threaded process may.
 */
int priv_enter_namespaces(const char **step);
/*
 * Hide what only the key process may read from this process and what it
 * starts, when the key process shares its user (not started as root, as
 * under the shipped systemd unit): in a user and mount namespace of its
 * own, the key store's directory root (or NULL: an s3:// store) is
 * covered by an empty read-only tmpfs and the file creds (the key
 * store's credentials, or NULL) by /dev/null; a second namespace pair
 * locks the covers (mount_namespaces(7): mounts that come from a more
 * privileged namespace cannot be unmounted).  Before priv_drop (a
 * non-dumpable process cannot write its id maps).  0, or -1 with err
 * (user namespaces disabled, say).
 */
int priv_hide_store(const char *root, const char *creds, char *err, size_t errlen);
/* 1 when priv_hide_store put this process in namespaces of its own. */
int priv_own_namespaces(void);
/*
 * In those namespaces, once a job's directory job_dir (directly below
 * work_dir) exists: cover work_dir with a small read-only tmpfs that
 * holds only job_dir, bound back to the same directory, so that no path
 * leads this process or what it starts to another job's directory; then
 * drop every capability (the namespaces' own), so that the cover cannot
 * be unmounted, and the tool sandbox's namespaces inherit it locked
 * (where capset is refused, enter one more pair of namespaces owned by
 * these instead, as priv_hide_store locks its cover).  The
 * job directory is then a mount point this process cannot remove (its
 * contents it can): the supervisor removes it after the process ends.
 * 0; 1 when covered but the capabilities could not be dropped (a seccomp
 * filter, say: the cover stands but a process taken over could undo it);
 * -1 when not covered; err says why.
 */
int priv_cover_work_dir(const char *work_dir, const char *job_dir, char *err, size_t errlen);
/*
 * Put this process, and what it starts, in a Landlock domain of its own
 * (Linux 6.12, Landlock ABI 6): no process outside the domain may be
 * traced or have its /proc entries read through ptrace's check (cwd,
 * root, fd, environ, mem), be sent a signal, or be reached on an
 * abstract UNIX socket, whatever its user.  Each worker calls it for
 * itself, so two jobs are kept apart even as one user; the supervisor,
 * the spawner and the key process are outside every domain.  The domain
 * handles no file access, so mounts (the tool sandbox) stay allowed.
 * After priv_drop (it needs no new privileges).  0, or -1 with why.
 */
int priv_own_domain(char *why, size_t whylen);
/*
 * From now on this process may not map memory writable and executable at
 * once, nor make executable memory it mapped without (PR_SET_MDWE:
 * what systemd's MemoryDenyWriteExecute= asks, but after the code moved
 * to huge pages, hugetext.h).  New mappings of a library's code, as
 * dlopen makes them, stay allowed.  Not passed on to what the process
 * forks or executes (PR_MDWE_NO_INHERIT): each role locks itself, and an
 * external tool is not held to it.  Not under valgrind, which writes the
 * code it runs.  0; -1 with why when it cannot be done here (the kernel
 * is older than 6.6, valgrind); -2 with why when it would break this
 * process: a library it loaded made the stack executable, which glibc
 * then asks for every new thread's stack (an old PKCS#11 module).  The
 * stack is looked at on the first call, and again when loaded says a
 * library was loaded since.
 */
int priv_lock_wx(int loaded, char *why, size_t whylen);

#endif
