/* SPDX-License-Identifier: MIT */
/*
 * check_spawn.c: unit tests of lib/spawn.c with real programs (sh, env,
 * cat, sleep): the exact environment and PATH lookup, the working
 * directory, stdin, closed descriptors, the process group, that nothing
 * the tool starts outlives it (setsid, double fork), confinement (hidden
 * paths, the kept job directory), signal dispositions, the output tail
 * and masking of key material.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_main.h"
#include "mask.h"
#include "privdrop.h"
#include "spawn.h"

/* Run argv with envp; returns the wait status, tail in *tail (caller frees). */
static int
run(char *const *argv, char *const *envp, const char *cwd, size_t tail_lines,
    const struct mask *mask, char **tail)
{
	struct spawn_opts o = {
		.argv = argv,
		.envp = envp,
		.cwd = cwd,
		.tail_lines = tail_lines,
		.mask = mask,
	};
	struct spawn_result r;
	char err[256];

	ck_assert_int_eq(spawn_run(&o, &r, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(r.tail);
	if (tail)
		*tail = r.tail;
	else
		spawn_result_free(&r);
	return r.status;
}

static char *const std_env[] = {"PATH=/usr/bin:/bin", NULL};

START_TEST(test_exact_environment)
{
	char *const argv[] = {"env", NULL};
	char *const envp[] = {"PATH=/usr/bin:/bin", "MACHINE=jetson-tx2", "boardcfg=",
			      "SPACED=a b", NULL};
	char *tail;
	int st;

	setenv("DSS_SHOULD_NOT_LEAK", "1", 1);
	st = run(argv, envp, NULL, 10, NULL, &tail);
	ck_assert(spawn_ok(st));
	ck_assert_str_eq(tail, "PATH=/usr/bin:/bin\nMACHINE=jetson-tx2\nboardcfg=\nSPACED=a b");
	free(tail);
}
END_TEST

START_TEST(test_path_from_envp)
{
	char *const argv[] = {"true", NULL};
	char *const nopath[] = {"PATH=/nonexistent:/also/not", NULL};
	char *tail;
	int st;

	/* The worker's own PATH does not count: only the tool's. */
	setenv("PATH", "/usr/bin:/bin", 1);
	st = run(argv, nopath, NULL, 5, NULL, &tail);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 127);
	ck_assert_ptr_nonnull(strstr(tail, "cannot execute true"));
	free(tail);
	ck_assert(spawn_ok(run(argv, std_env, NULL, 0, NULL, NULL)));
}
END_TEST

START_TEST(test_cwd_and_stdin)
{
	char *const pwd[] = {"sh", "-c", "pwd; cat; echo end", NULL};
	char *const bad[] = {"true", NULL};
	char *tail;
	int st;

	/* cat reads /dev/null: it ends at once */
	st = run(pwd, std_env, "/usr/share", 5, NULL, &tail);
	ck_assert(spawn_ok(st));
	ck_assert_str_eq(tail, "/usr/share\nend");
	free(tail);
	st = run(bad, std_env, "/nonexistent-dir", 5, NULL, &tail);
	ck_assert_int_eq(WEXITSTATUS(st), 127);
	ck_assert_ptr_nonnull(strstr(tail, "cannot enter /nonexistent-dir"));
	free(tail);
}
END_TEST

START_TEST(test_descriptors_closed)
{
	char *const argv[] = {"sh", "-c", "[ -e /proc/$$/fd/57 ] && echo leaked; echo done", NULL};
	char *tail;
	int fd = open("/dev/null", O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dup2(fd, 57), 57); /* no O_CLOEXEC */
	ck_assert(spawn_ok(run(argv, std_env, NULL, 5, NULL, &tail)));
	ck_assert_str_eq(tail, "done");
	free(tail);
	close(57);
	close(fd);
}
END_TEST

START_TEST(test_process_group)
{
	/* field 5 of /proc/PID/stat is the process group */
	char *const argv[] = {"sh", "-c", "cut -d' ' -f5 /proc/$$/stat; echo $$", NULL};
	char *tail, *nl;
	int st;

	st = run(argv, std_env, NULL, 5, NULL, &tail);
	ck_assert(spawn_ok(st));
	nl = strchr(tail, '\n');
	ck_assert_ptr_nonnull(nl);
	*nl = '\0';
	ck_assert_int_ne(atoi(tail), getpgrp());  /* its own group ... */
	ck_assert_int_eq(atoi(tail), atoi(nl + 1)); /* ... led by itself */
	free(tail);
}
END_TEST

START_TEST(test_leftovers_killed)
{
	/* The tool leaves a background process holding the output pipe. */
	char *const argv[] = {"sh", "-c", "sleep 60 & echo $!", NULL};
	char *tail;
	pid_t left;
	int i;

	ck_assert(spawn_ok(run(argv, std_env, NULL, 5, NULL, &tail)));
	left = (pid_t)atoi(tail);
	free(tail);
	ck_assert_int_gt(left, 0);
	for (i = 0; i < 100 && kill(left, 0) == 0; i++)
		usleep(20000);
	ck_assert_int_ne(kill(left, 0), 0);
}
END_TEST

/* Every pid in text (one a line) is gone: no process, not even a zombie. */
static void
assert_all_gone(char *text)
{
	int n = 0;

	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		pid_t pid = (pid_t)atoi(line);

		if (pid <= 0)
			continue;
		n++;
		ck_assert_msg(kill(pid, 0) < 0 && errno == ESRCH, "process %ld survived",
			      (long)pid);
	}
	ck_assert_int_gt(n, 0);
}

START_TEST(test_escapees_killed)
{
	/* A new session, a double fork, a new process group, and one that
	 * closes its output: none may outlive the tool, and spawn_run returns
	 * without waiting for them. */
	char *const argv[] = {
		"sh", "-c",
		"setsid sleep 60 & echo $!; "
		"( sleep 61 & echo $! ) ; "
		"( ( exec setsid sh -c 'echo $$; exec sleep 62 >/dev/null 2>&1' & ) & ) ; "
		"sh -c 'set -m; sleep 63 & echo $!' ; "
		"sleep 0.2",
		NULL};
	char *tail;

	ck_assert(spawn_ok(run(argv, std_env, NULL, 10, NULL, &tail)));
	assert_all_gone(tail);
	free(tail);
}
END_TEST

START_TEST(test_confined)
{
	char dir[] = "/tmp/check_spawn.XXXXXX", path[400];
	char *const argv[] = {"sh", "-c",
			      "cat ../secret 2>/dev/null || echo hidden; cat file; ls -A .. | tr '\n' ' '; "
			      "echo; cat /tmp/check_spawn_other 2>/dev/null || echo tmp-private",
			      NULL};
	const char *hide[] = {dir, NULL};
	char keep[300];
	struct spawn_opts o = {.argv = argv, .envp = std_env, .tail_lines = 10, .hide = hide};
	struct spawn_result r;
	char err[256];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/secret", dir);
	ck_assert_int_eq(system("true"), 0);
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("the key\n", fp);
	fclose(fp);
	snprintf(keep, sizeof(keep), "%s/job-1", dir);
	ck_assert_int_eq(mkdir(keep, 0700), 0);
	snprintf(path, sizeof(path), "%s/file", keep);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("job data\n", fp);
	fclose(fp);
	o.keep = keep;
	o.cwd = keep;
	ck_assert_int_eq(spawn_run(&o, &r, err, sizeof(err)), 0);
	ck_assert_msg(spawn_ok(r.status), "tool failed: %s", r.tail);
	/* the key store is covered, the job directory alone is visible */
	ck_assert_str_eq(r.tail, "hidden\njob data\njob-1 \ntmp-private");
	spawn_result_free(&r);
	ck_assert_int_eq(check_sh(NULL, "rm -rf '%s'", dir), 0);
}
END_TEST

/* A worker in a Landlock domain of its own (privdrop.h): it may no longer
 * signal its parent, which is outside the domain, and the tool sandbox
 * still mounts in it (a scoped domain handles no file access).  Skipped
 * where the kernel has no scoped domains (Landlock ABI 6). */
START_TEST(test_confined_in_domain)
{
	char why[128];
	int status;
	pid_t pid;

	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0) {
		char *const argv[] = {"sh", "-c", "echo in the domain", NULL};
		struct spawn_opts o = {.argv = argv, .envp = std_env, .tail_lines = 2};
		const char *hide[] = {"/nonexistent-check-spawn", NULL};
		char keep[] = "/tmp/check_spawn_dom.XXXXXX", err[256];
		struct spawn_result r;
		int rc;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(2);
		if (priv_own_domain(why, sizeof(why)) < 0) {
			fprintf(stderr, "# skipped: %s\n", why);
			_exit(77);
		}
		if (kill(getppid(), 0) == 0 || errno != EPERM)
			_exit(3);
		if (mkdtemp(keep) == NULL)
			_exit(4);
		o.hide = hide;
		o.keep = keep;
		o.cwd = keep;
		if (spawn_run(&o, &r, err, sizeof(err)) < 0) {
			fprintf(stderr, "# the sandboxed tool: %s\n", err);
			rc = 5;
		} else {
			rc = spawn_ok(r.status) && strcmp(r.tail, "in the domain") == 0 ? 0 : 5;
			if (rc != 0)
				fprintf(stderr, "# the sandboxed tool: %s\n", r.tail);
		}
		/* and the mount point of the tool's own /tmp in it */
		snprintf(err, sizeof(err), "%s/.tmp", keep);
		rmdir(err);
		rmdir(keep);
		_exit(rc);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 77,
		      "in a domain of its own: exit %d (3: could signal its parent; 5: the "
		      "sandboxed tool failed)",
		      WEXITSTATUS(status));
}
END_TEST

START_TEST(test_output_closed_early)
{
	/* Closing its output does not make the tool count as finished. */
	char *const argv[] = {"sh", "-c", "echo before; exec >/dev/null 2>&1; sleep 0.3; exit 4",
			      NULL};
	char *tail;
	int st;

	st = run(argv, std_env, NULL, 5, NULL, &tail);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 4);
	ck_assert_str_eq(tail, "before");
	free(tail);
}
END_TEST

START_TEST(test_status_and_signals)
{
	char *const fail[] = {"sh", "-c", "echo oops >&2; exit 3", NULL};
	char *const term[] = {"sh", "-c", "kill -TERM $$; sleep 5", NULL};
	char how[64], *tail;
	int st;

	st = run(fail, std_env, NULL, 5, NULL, &tail);
	ck_assert(!spawn_ok(st));
	spawn_describe(st, how, sizeof(how));
	ck_assert_str_eq(how, "exit status 3");
	ck_assert_str_eq(tail, "oops"); /* stderr is captured too */
	free(tail);
	/* A caller ignoring SIGCHLD still gets the status. */
	signal(SIGCHLD, SIG_IGN);
	st = run(fail, std_env, NULL, 0, NULL, NULL);
	ck_assert(signal(SIGCHLD, SIG_DFL) == SIG_IGN);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 3);
	/* An ignored signal in the worker is not ignored in the tool. */
	signal(SIGTERM, SIG_IGN);
	st = run(term, std_env, NULL, 5, NULL, NULL);
	signal(SIGTERM, SIG_DFL);
	ck_assert(WIFSIGNALED(st));
	spawn_describe(st, how, sizeof(how));
	ck_assert_str_eq(how, "killed by signal 15");
}
END_TEST

START_TEST(test_tail_and_redaction)
{
	char *const many[] = {"sh", "-c", "i=1; while [ $i -le 30 ]; do echo line $i; i=$((i+1)); done",
			      NULL};
	char *const secret[] = {"sh", "-c",
				"echo 'key 1234abcd5678ef0111223344 and 0x1234abcd, 0x5678ef01, 0x11223344 again'; "
				"printf 'no newline'",
				NULL};
	const char key[] = "0x1234abcd 0x5678ef01 0x11223344 0x55667788\n";
	struct mask *m = mask_new();
	char *tail;

	mask_add_key(m, (const unsigned char *)key, sizeof(key) - 1);
	ck_assert(spawn_ok(run(many, std_env, NULL, 3, NULL, &tail)));
	ck_assert_str_eq(tail, "line 28\nline 29\nline 30");
	free(tail);
	ck_assert(spawn_ok(run(secret, std_env, NULL, 5, m, &tail)));
	ck_assert_str_eq(tail, "key *** and *** again\nno newline");
	free(tail);
	mask_free(m);
}
END_TEST

START_TEST(test_long_lines)
{
	char *const argv[] = {"sh", "-c", "head -c 10000 /dev/zero | tr '\\0' x; echo; echo short",
			      NULL};
	char *tail;

	ck_assert(spawn_ok(run(argv, std_env, NULL, 4, NULL, &tail)));
	/* 10000 bytes come as pieces of 4096, 4096 and 1808 */
	ck_assert_uint_eq(strlen(tail), 4096 + 1 + 4096 + 1 + 1808 + 1 + 5);
	ck_assert_str_eq(tail + strlen(tail) - 5, "short");
	free(tail);
}
END_TEST

static Suite *
spawn_suite(void)
{
	Suite *s = suite_create("spawn");
	TCase *tc = tcase_create("run");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_exact_environment);
	tcase_add_test(tc, test_path_from_envp);
	tcase_add_test(tc, test_cwd_and_stdin);
	tcase_add_test(tc, test_descriptors_closed);
	tcase_add_test(tc, test_process_group);
	tcase_add_test(tc, test_leftovers_killed);
	tcase_add_test(tc, test_escapees_killed);
	tcase_add_test(tc, test_confined);
	tcase_add_test(tc, test_confined_in_domain);
	tcase_add_test(tc, test_output_closed_early);
	tcase_add_test(tc, test_status_and_signals);
	tcase_add_test(tc, test_tail_and_redaction);
	tcase_add_test(tc, test_long_lines);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(.suite = spawn_suite);
