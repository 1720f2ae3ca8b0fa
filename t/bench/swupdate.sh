#!/bin/bash
# SPDX-License-Identifier: MIT
# t/bench/swupdate.sh: RSA-2048 sw-description signing at 8 concurrent
# clients (wrk posting the multipart body curl sends), against
#  - the original's method, measured in the same run: per request, copy the
#    key to a temporary directory and run `openssl dgst -sha256 -sign` as a
#    new process, 8 at a time;
#  - the limit: `openssl speed -multi <cores> rsa2048` signatures per second.
# Also the median latency of a single request.  Default settings (4
# workers, one job per worker).
. "$(dirname "$0")/lib.sh"
SECS=${BENCH_SECONDS:-10}

mkdir -p "$KEYS/bench/swupdate"
openssl genrsa -out "$KEYS/bench/swupdate/rsa-private.key" 2048 2>/dev/null
printf 'software =\n{\n\tversion = "1.0.0";\n\thardware-compatibility: [ "1.0" ];\n};\n' >"$T/sw-description"
cp "$KEYS/bench/swupdate/rsa-private.key" "$T/key"

python3 "$SRC/t/bench/wrkpost.py" "$T/sw-description" bench "$T/post.lua"

dss_start DIGSIGSERVER_LOG_LEVEL=warning || exit 1
# single-request latency (curl, sequential)
for i in $(seq 30); do
	curl -s -o /dev/null -w '%{time_total}\n' -X POST -F distro=bench -F method=RSA \
		-F sw-description=@"$T/sw-description" "$URL/sign/swupdate"
done | median >"$T/lat"
lat_ms=$(awk '{printf "%.1f", $1 * 1000}' "$T/lat")
wrk -t2 -c8 -d"${SECS}s" -s "$T/post.lua" "$URL/sign/swupdate" >"$T/wrk.out" 2>&1
ours=$(awk '/^Requests\/sec/{printf "%.0f", $2}' "$T/wrk.out")
sed 's/^/# wrk: /' "$T/wrk.out"
if grep -q 'Non-2xx' "$T/wrk.out"; then
	echo "# WARNING: not every answer was 200"
fi
# CPU per request from /proc over a fixed number of requests, at the
# row's load (wrk, 8 clients, stopped once the server has counted them),
# the count taken from the server's own /metrics; with the supervisor's
# per-phase counters (cputree.py)
NCPU=${BENCH_CPU_REQUESTS:-4000}
served() {
	curl -s "$URL/metrics" | awk '/^digsigserver_requests_total\{endpoint="swupdate"/ {n += $2} END {print n + 0}'
}
# cpu_readings A B: the two readings around NCPU requests into files A
# and B; prints the count of requests served between them
cpu_readings() {
	local n0
	wait_for 30 pool_settled
	n0=$(served)
	python3 "$SRC/t/bench/cputree.py" "$DSS_PID" "$URL" >"$1"
	# wrk runs its whole -d even when its threads stop early: stopped
	# here (SIGINT: it reports and exits) once NCPU are served
	wrk -t2 -c8 -d600s -s "$T/post.lua" "$URL/sign/swupdate" >"$T/wrk-n.out" 2>&1 &
	local wpid=$!
	while [ "$(served)" -lt $((n0 + NCPU)) ] && kill -0 $wpid 2>/dev/null; do
		sleep 0.5
	done
	kill -INT $wpid 2>/dev/null
	wait $wpid
	wait_for 30 pool_settled
	python3 "$SRC/t/bench/cputree.py" "$DSS_PID" "$URL" >"$2"
	echo $(($(served) - n0))
}
ncpu=$(cpu_readings "$T/cpu.a" "$T/cpu.b")
# the bare fork + exit + wait: run-all's figure for this row (its last
# column), else measured here
fork_ms=${DSS_FORK_MS:-}
if [ -z "$fork_ms" ]; then
	cc -O2 -o "$T/forkcost" "$SRC/t/bench/forkcost.c"
	fork_ms=$("$T/forkcost" 500)
fi
sig_ms=$(openssl speed -seconds 2 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/{printf "%.4f", 1000 / $6}')
cpu_line=$(python3 "$SRC/t/bench/cputree.py" report "$T/cpu.a" "$T/cpu.b" "$ncpu" "$fork_ms" "$sig_ms")
echo "# $cpu_line"
dss_stop
# the same with workers reused for 100 jobs (not the default: keys and
# heap state would then outlive a job)
dss_start DIGSIGSERVER_LOG_LEVEL=warning DIGSIGSERVER_JOBS_PER_WORKER=100 || exit 1
wrk -t2 -c8 -d"${SECS}s" -s "$T/post.lua" "$URL/sign/swupdate" >"$T/wrk100.out" 2>&1
reused=$(awk '/^Requests\/sec/{printf "%.0f", $2}' "$T/wrk100.out")
# and its CPU per request, measured as above: what is left of a request
# without a fresh process (the README's "where a request's CPU goes")
n100=$(cpu_readings "$T/cpu100.a" "$T/cpu100.b")
cpu100=$(python3 "$SRC/t/bench/cputree.py" brief "$T/cpu100.a" "$T/cpu100.b" "$n100")
echo "# reused workers: $cpu100"
dss_stop

# the original's method, 8 at a time, for the same time
orig=$(python3 "$SRC/t/bench/orig_swupdate.py" "$T/key" "$T/sw-description" "$SECS" 8)
limit=$(openssl speed -multi "$(nproc)" -seconds 3 rsa2048 2>/dev/null |
	awk '/^rsa 2048 bits/{printf "%.0f", $6}')
bench_row "| swupdate: RSA-2048 signatures, 8 clients (wrk) | $ours req/s | $orig req/s (openssl dgst per request) | $(awk "BEGIN{printf \"%.1fx\", $ours/$orig}") | limit $limit sign/s (openssl speed -multi $(nproc)): ours = $(awk "BEGIN{printf \"%.0f%%\", 100*$ours/$limit}") | median single request $lat_ms ms; $reused req/s with JOBS_PER_WORKER=100, CPU per request $cpu100; $cpu_line |"
exit 0
