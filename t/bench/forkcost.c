/* SPDX-License-Identifier: MIT */
/*
 * forkcost.c: the machine's bare fork + _exit + waitpid cost, the floor
 * under a fresh worker per job (t/bench/run-all prints it beside the
 * table).  Usage: forkcost [N]; prints the median of 5 rounds of N cycles
 * in milliseconds per cycle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 500;
	double round[5];

	if (n < 1)
		n = 1;
	for (int r = 0; r < 5; r++) {
		double t0 = now_ms();

		for (int i = 0; i < n; i++) {
			pid_t p = fork();

			if (p == 0)
				_exit(0);
			if (p < 0 || waitpid(p, NULL, 0) != p) {
				perror("fork");
				return 1;
			}
		}
		round[r] = (now_ms() - t0) / n;
	}
	qsort(round, 5, sizeof(round[0]), cmp);
	printf("%.3f\n", round[2]);
	return 0;
}
