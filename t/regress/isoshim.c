/* SPDX-License-Identifier: MIT */
/*
 * t/regress/isoshim.c: an LD_PRELOAD shim that plays two jobs taken over
 * by their uploads, to show what keeps one job's directory from another
 * (users.sh: a user id per worker; keys.sh: the work directory's cover
 * as one user).  Built with -DSHIM_DIR (the test's flag files, which
 * the workers must be able to rename) and -DWORK (the work directory).
 *
 * The first job, once its job directory is made (mkdir) and SHIM_DIR/plant
 * exists, writes a secret in it, names the directory in SHIM_DIR/jobdir
 * and holds until SHIM_DIR/release.  The second job probes when the flag
 * of the moment exists: "early" at its own mkdir (before any cover),
 * "probe" after capset (the cover's last step), "locked" after the
 * process is made non-dumpable again (the cover locked by namespaces when
 * capset is refused, which "nocap" makes it).  The probe writes one line
 * to SHIM_DIR/result: secret= (read, or errno's text), entries=N (names
 * in the work directory) or list= (errno's text), umount= (of the work
 * directory), again= (the secret after that), then creates release.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static void probe(void);
static const char *try_read(const char *path);

static int
is_job_dir(const char *path)
{
	const char *base = strrchr(path, '/');

	return base != NULL && strncmp(base + 1, "job-", 4) == 0 &&
	       strncmp(path, WORK "/", strlen(WORK "/")) == 0;
}

int
mkdir(const char *path, mode_t mode)
{
	static int (*real)(const char *, mode_t);
	char other[4096];
	FILE *f;
	int rc;

	if (real == NULL)
		real = (int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "mkdir");
	rc = real(path, mode);
	if (rc != 0 || !is_job_dir(path))
		return rc;
	if (rename(SHIM_DIR "/early", SHIM_DIR "/probing") == 0) {
		probe(); /* before this job's cover: the control */
		return rc;
	}
	if (rename(SHIM_DIR "/plant", SHIM_DIR "/planted") != 0)
		return rc;

	snprintf(other, sizeof(other), "%s/secret", path);
	if ((f = fopen(other, "w")) != NULL) {
		fputs("the key\n", f);
		if (fclose(f) == 0)
			close(open(SHIM_DIR "/written", O_WRONLY | O_CREAT, 0666));
	}
	if ((f = fopen(SHIM_DIR "/jobdir.tmp", "w")) != NULL) {
		fprintf(f, "%s\n", path);
		fclose(f);
		chmod(SHIM_DIR "/jobdir.tmp", 0644); /* for the other job's user */
		rename(SHIM_DIR "/jobdir.tmp", SHIM_DIR "/jobdir");
	}
	for (int i = 0; i < 6000 && access(SHIM_DIR "/release", F_OK) < 0; i++)
		usleep(5000);
	return rc;
}

/* what one try gives: "read", or errno's text */
static const char *
try_read(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY);

	if (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
		return "read";
	return strerror(errno);
}

/* the second job's look at the first's directory, into result */
static void
probe(void)
{
	char other[4096];
	FILE *f = fopen(SHIM_DIR "/jobdir", "r"), *out = fopen(SHIM_DIR "/result.tmp", "w");
	DIR *d;
	int n = 0;

	if (f != NULL && out != NULL && fgets(other, sizeof(other) - 8, f) != NULL) {
		other[strcspn(other, "\n")] = '\0';
		strcat(other, "/secret");
		fprintf(out, "secret=%s", try_read(other));
		if ((d = opendir(WORK)) != NULL) {
			struct dirent *de;

			while ((de = readdir(d)) != NULL)
				n += de->d_name[0] != '.';
			closedir(d);
			fprintf(out, " entries=%d", n);
		} else {
			fprintf(out, " list=%s", strerror(errno));
		}
		fprintf(out, " umount=%s", umount2(WORK, MNT_DETACH) == 0 ? "done" : strerror(errno));
		fprintf(out, " again=%s\n", try_read(other));
	}
	if (f != NULL)
		fclose(f);
	if (out != NULL) {
		fclose(out);
		rename(SHIM_DIR "/result.tmp", SHIM_DIR "/result");
	}
	close(open(SHIM_DIR "/release", O_WRONLY | O_CREAT, 0666));
}

int
capset(void *hdr, void *data)
{
	static int (*real)(void *, void *);
	int rc;

	if (real == NULL)
		real = (int (*)(void *, void *))dlsym(RTLD_NEXT, "capset");
	if (access(SHIM_DIR "/nocap", F_OK) == 0) {
		errno = EPERM; /* as a seccomp filter without capset answers */
		return -1;
	}
	rc = real(hdr, data);
	if (rename(SHIM_DIR "/probe", SHIM_DIR "/probing") == 0)
		probe();
	return rc;
}

/* capset refused: the cover is locked in one more pair of namespaces,
 * whose last step makes the process non-dumpable again (<sys/prctl.h>
 * declares prctl variadic: not included) */
#define PR_SET_DUMPABLE 4
int
prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
	static int (*real)(int, unsigned long, unsigned long, unsigned long, unsigned long);
	int rc;

	if (real == NULL)
		real = (int (*)(int, unsigned long, unsigned long, unsigned long,
				unsigned long))dlsym(RTLD_NEXT, "prctl");
	rc = real(option, a2, a3, a4, a5);
	if (option == PR_SET_DUMPABLE && a2 == 0 &&
	    rename(SHIM_DIR "/locked", SHIM_DIR "/probing") == 0)
		probe();
	return rc;
}
