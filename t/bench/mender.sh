#!/bin/bash
# SPDX-License-Identifier: MIT
# t/bench/mender.sh [BUILD_DIR]: signing a 512 MB Mender artifact in place
# (file://), three ways, each from a fresh copy whose pages are in the
# cache and nothing dirty (median of BENCH_RUNS, default 3):
#   ours      POST /sign/mender to the real daemon (curl, as the bbclass)
#   baseline  the original server's pipeline: copy the artifact into a job
#             directory, mender-artifact sign it to a new file, copy that
#             back over the original, then sync
#   floor     cp of the artifact + sync: the least any in-place rewrite
#             that reaches the disk can cost
# and the worker's peak RSS (VmHWM, as the worker logs it at the job's end).
# Prints one markdown table row: ours, baseline, baseline/ours, floor,
# ours/floor, peak RSS.  BENCH_MB changes the payload size.
BUILD=${1:-${BUILD:-build}}
export BUILD
. "$(dirname "$0")/../regress/lib.sh"

MB=${BENCH_MB:-512}
RUNS=${BENCH_RUNS:-3}
MA=mender-artifact
command -v $MA >/dev/null || { echo "mender-artifact is not installed" >&2; exit 1; }

mkdir -p "$KEYS/bench/mender" "$T/art" "$T/job"
openssl genrsa -traditional -out "$T/rsa.key" 2048 2>/dev/null
cp "$T/rsa.key" "$KEYS/bench/mender/private.key"
[ -n "$DSS_USER" ] && chown "$DSS_USER" "$T/art"

echo "making a ${MB} MB artifact..." >&2
head -c $((MB * 1048576)) /dev/urandom >"$T/rootfs.ext4"
$MA write rootfs-image -t benchdev -n bench -f "$T/rootfs.ext4" -o "$T/orig.mender" \
	--compression none >/dev/null 2>&1 || { echo "mender-artifact write failed" >&2; exit 1; }
rm -f "$T/rootfs.ext4"
chmod 0644 "$T/orig.mender"
size=$(stat -c %s "$T/orig.mender")

dss_start || exit 1

now() { date +%s.%N; }
elapsed() { echo "$1 $2" | awk '{printf "%.3f", $2 - $1}'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

# A fresh copy of the artifact to sign, in the cache, nothing dirty.
prepare() {
	rm -f "$T/art/a.mender" "$T/job"/*
	cp "$T/orig.mender" "$T/art/a.mender"
	[ -n "$DSS_USER" ] && chown "$DSS_USER" "$T/art/a.mender"
	cat "$T/art/a.mender" >/dev/null
	sync
}

sign() { # sign: POST the artifact, fail loudly unless 200
	code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=bench \
		-F artifact-uri="file://$T/art/a.mender" "$URL/sign/mender")
	[ "$code" = 200 ] || { echo "sign failed: $code $(cat "$T/body")" >&2; exit 1; }
}

# One untimed run, checked against mender-artifact sign; the worker's peak
# RSS is what it logs at the end of the job (rss_peak_kb, its VmHWM then),
# which polling /proc from outside could miss for a short job.  The line
# is logged by the supervisor when the worker's last record arrives, which
# may be after curl has the answer: waited for, up to 30 s.
prepare
sign
peak_rss() { grep 'endpoint=mender ' "$DSS_LOG" | tail -1 | sed -n 's/.*rss_peak_kb=\([0-9]*\).*/\1/p'; }
for i in $(seq 300); do
	rss=$(peak_rss)
	[ -n "$rss" ] && break
	sleep 0.1
done
[ -n "$rss" ] || { echo "no rss_peak_kb in the mender job's log line after 30 s" >&2; exit 1; }
$MA sign -k "$T/rsa.key" -o "$T/ref.mender" "$T/orig.mender" >/dev/null 2>&1
cmp -s "$T/art/a.mender" "$T/ref.mender" ||
	{ echo "our output differs from mender-artifact sign" >&2; exit 1; }
rm -f "$T/ref.mender"

ours=
base=
floor=
for _ in $(seq "$RUNS"); do
	prepare
	t0=$(now)
	sign
	t1=$(now)
	ours="$ours $(elapsed "$t0" "$t1")"

	prepare
	t0=$(now)
	cp "$T/art/a.mender" "$T/job/unsigned.mender" &&
		$MA sign "$T/job/unsigned.mender" -k "$T/rsa.key" -o "$T/job/signed.mender" \
			>/dev/null 2>&1 &&
		cp "$T/job/signed.mender" "$T/art/a.mender" && sync
	t1=$(now)
	base="$base $(elapsed "$t0" "$t1")"

	prepare
	t0=$(now)
	cp "$T/art/a.mender" "$T/art/copy.mender" && sync
	t1=$(now)
	rm -f "$T/art/copy.mender"
	floor="$floor $(elapsed "$t0" "$t1")"
done
echo "samples (s): ours$ours; baseline$base; floor$floor" >&2
ours=$(echo "$ours" | median)
base=$(echo "$base" | median)
floor=$(echo "$floor" | median)
# one row in the format of t/bench/run-all's table
echo "$ours $base $floor $rss" | awk -v mb="$MB" '{printf "| mender: sign a %s MB artifact in place (file://) | %.2f s | %.2f s (copy, mender-artifact sign, copy back, sync) | %.1fx | floor cp+sync %.2f s: ours = %.2fx floor | worker peak RSS %.1f MB |\n", mb, $1, $2, $2 / $1, $3, $1 / $3, $4 / 1024}'
