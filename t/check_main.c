/* SPDX-License-Identifier: MIT */
/*
 * check_main.c: see check_main.h.  Linked into every Check program as
 * t/libcheckmain.a, so that a program with its own main() may still use
 * check_sh().
 */
#include "check_main.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* The suite of .name and .tests. */
static Suite *
one_case(const struct check_main *m)
{
	Suite *s = suite_create(m->name);
	TCase *tc = tcase_create(m->name);

	if (m->setup != NULL || m->teardown != NULL)
		tcase_add_checked_fixture(tc, m->setup, m->teardown);
	if (m->setup_once != NULL || m->teardown_once != NULL)
		tcase_add_unchecked_fixture(tc, m->setup_once, m->teardown_once);
	if (m->timeout > 0)
		tcase_set_timeout(tc, m->timeout);
	for (const TTest *const *t = m->tests; *t != NULL; t++)
		tcase_add_test(tc, *t);
	suite_add_tcase(s, tc);
	return s;
}

int
check_main_run(const struct check_main *m)
{
	SRunner *sr;
	int failed;

	if (m->before != NULL && m->before() != 0)
		return EXIT_FAILURE;
	sr = srunner_create(m->suite != NULL ? m->suite() : one_case(m));
	if (m->fork)
		srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (m->after != NULL)
		m->after();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int
check_sh(const char *dir, const char *fmt, ...)
{
	char *cmd, *full = NULL;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	/* in a subshell, so that the command's own redirections and exits
	 * stay its own */
	if (dir != NULL && asprintf(&full, "cd '%s' && (%s\n)", dir, cmd) < 0) {
		free(cmd);
		return -1;
	}
	rc = system(full != NULL ? full : cmd);
	free(full);
	free(cmd);
	return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void *
writer_main(void *arg)
{
	struct check_writer *w = arg;
	size_t off = 0;

	while (off < w->len) {
		size_t n = w->piece && w->piece < w->len - off ? w->piece : w->len - off;
		ssize_t r;

		if (w->head_len && off < w->head_len && off + n > w->head_len)
			n = w->head_len - off;
		if ((r = send(w->fd, w->data + off, n, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)r;
		if (w->head_len && off == w->head_len) {
			ssize_t g = read(w->fd, w->got, 25);

			if (g > 0)
				w->got[g] = '\0';
		}
		if (w->delay_us)
			usleep((useconds_t)w->delay_us);
	}
	if (w->hold_ms)
		usleep((useconds_t)w->hold_ms * 1000);
	if (!w->no_close)
		shutdown(w->fd, SHUT_WR);
	return NULL;
}

void
check_writer_start(struct check_writer *w, int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	w->fd = sv[1];
	ck_assert_int_eq(pthread_create(&w->thread, NULL, writer_main, w), 0);
}

void
check_slurp(const char *dir, const char *name, char **buf, size_t *len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_msg(util_read_file(path, 1 << 30, buf, len) == 0, "cannot read %s", path);
}
