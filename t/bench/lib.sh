# SPDX-License-Identifier: MIT
# t/bench/lib.sh: shared by the benchmark scripts.  Benchmarks run the
# baseline and our server in one run and print a markdown table row; they
# never assert timings (tests do not time things).
. "$(dirname "$0")/../regress/lib.sh"
RESULTS=${DSS_BENCH_RESULTS:-$SRC/t/bench/results.md}

# bench_row TEXT: print a table row and append it to the results file.
bench_row() {
	echo "$1"
	echo "$1" >>"$RESULTS"
}

# median of the numbers on stdin
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
