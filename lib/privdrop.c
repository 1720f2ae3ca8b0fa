/* SPDX-License-Identifier: MIT */
/*
 * privdrop.c: see privdrop.h.  The order is fixed: supplementary groups,
 * group, user, verification that root cannot be regained, then the
 * process limits.
 */
#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

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
