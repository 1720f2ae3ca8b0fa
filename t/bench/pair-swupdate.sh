#!/bin/bash
# SPDX-License-Identifier: MIT
# t/bench/pair-swupdate.sh BUILD OUT [KEY_OWNER]: wrk, 8 clients for 6 s,
# posting what curl -F posts to BUILD's /sign/swupdate (RSA-2048); appends
# "REQ/S CPU_MS_PER_REQUEST" to OUT, the CPU being the daemon's and all its
# children's, read from /proc before and after the load (t/bench/cputree.py:
# live processes and what they reaped), so a build that leaves a child
# unreaped at its exit is counted as fully as one that does not.  For pairing two builds
# with farm-bench (README, Benchmarks); KEY_OWNER as in pair-modules.sh.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=$1 OUT=$2 OWNER=${3:-digsigserver-keys}
T=$(mktemp -d /tmp/dss-pair.XXXXXX)
trap 'rm -rf "$T"' EXIT
chmod 0755 "$T"
mkdir -p "$T/keys/bench/swupdate" "$T/work"
openssl genrsa -out "$T/keys/bench/swupdate/rsa-private.key" 2048 2>/dev/null
[ "$(id -u)" -eq 0 ] && chown -R "$OWNER" "$T/keys"
chmod -R go-rwx "$T/keys"
printf 'software =\n{\n\tversion = "1.0.0";\n};\n' >"$T/sw-description"
python3 "$SRC/t/bench/wrkpost.py" "$T/sw-description" bench "$T/post.lua"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DIGSIGSERVER_KEYFILE_URI=file://$T/keys DIGSIGSERVER_WORK_DIR=$T/work DIGSIGSERVER_DRAIN_GRACE=0 DIGSIGSERVER_LOG_LEVEL=warning \
	"$B/digsigserver" --address 127.0.0.1 --port "$PORT" 2>"$T/log" &
P=$!
until curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; do
	kill -0 $P 2>/dev/null || { cat "$T/log" >&2; exit 1; }
	sleep 0.05
done
cpu() { python3 "$SRC/t/bench/cputree.py" $P | python3 -c 'import json, sys; print(json.load(sys.stdin)["tree_ms"])'; }
c0=$(cpu)
wrk -t2 -c8 -d6s -s "$T/post.lua" "http://127.0.0.1:$PORT/sign/swupdate" >"$T/wrk" 2>&1
c1=$(cpu)
n=$(awk '/requests in/{print $1}' "$T/wrk")
rps=$(awk '/^Requests\/sec/{print $2}' "$T/wrk")
kill -TERM $P
wait $P
if grep -q 'Non-2xx' "$T/wrk"; then
	# a key store the key user cannot read answers fast, and wrongly
	echo "pair-swupdate: not every answer was 200:" >&2
	cat "$T/wrk" >&2
	exit 1
fi
echo "$rps $(awk "BEGIN{printf \"%.3f\", ($c1 - $c0) / $n}")" >>"$OUT"
