#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/scaleout.sh: three instances on 127.0.0.2-4 sharing one key
# store, behind Debian's haproxy running the shipped
# etc/haproxy-digsigserver.cfg (its listening port substituted), with
# clients sending curl as the bbclasses do (swupdate, modules, Mender):
#  - kill -9 of one instance under load: every client (curl --retry 4
#    --fail) gets its signature, and HAProxy marks the instance down;
#  - a rolling restart (SIGTERM, start again, one instance after the
#    other) under load, with clients that do NOT retry: not one request
#    fails, and each instance's /healthz said 503 before it stopped
#    listening;
#  - every instance's audit trail verifies, and the trails together hold
#    exactly one signed record per request the clients got an answer for.
# Throughput with 1, 2 and 3 instances is printed, not asserted.
. "$(dirname "$0")/lib.sh"

for tool in haproxy mender-artifact gcc; do
	if ! command -v $tool >/dev/null; then
		skip "scale-out behind HAProxy" "$tool missing"
		exit 0
	fi
done

CLIENTS=${DSS_SCALEOUT_CLIENTS:-64}
[ -n "${DSS_SANITIZED:-}${DSS_VALGRIND:-}" ] && CLIENTS=12
GRACE=6

# --- one key store, signing inputs --------------------------------------------
mkdir -p "$KEYS/demo/swupdate" "$KEYS/demo/mender" "$KEYS/demo/kmodsign"
openssl genrsa -out "$KEYS/demo/swupdate/rsa-private.key" 2048 2>/dev/null
openssl genrsa -out "$KEYS/demo/mender/private.key" 2048 2>/dev/null
openssl req -new -nodes -utf8 -sha256 -days 3650 -batch -x509 -config "$SRC/t/fixtures/x509.genkey" \
	-newkey rsa:2048 -outform PEM -out "$KEYS/demo/kmodsign/kernel-signkey.x509" \
	-keyout "$KEYS/demo/kmodsign/kernel-signkey.priv" 2>/dev/null
openssl rsa -in "$KEYS/demo/swupdate/rsa-private.key" -pubout -out "$T/sw.pub" 2>/dev/null
openssl rsa -in "$KEYS/demo/mender/private.key" -pubout -out "$T/mender.pub" 2>/dev/null
dss_fix_keys
printf 'software = { version = "1.0"; };\n' >"$T/sw-description"
sh "$SRC/t/fixtures/mkmodules.sh" "$T/mods" 6.1.0-scale 4 >/dev/null 2>&1
tar -C "$T/mods" -czf "$T/modules.tar.gz" lib
head -c 200000 /dev/urandom >"$T/rootfs.img"
mender-artifact write rootfs-image -t dev -n scale -f "$T/rootfs.img" -o "$T/src.mender" \
	--compression none >/dev/null 2>&1
A=$T/artifacts
mkdir -p "$A"
chmod 0755 "$T" "$A"
dss_own "$A"

# --- instances and the proxy ----------------------------------------------------
IPORT=$(free_port)
HPORT=$(free_port)
declare -A IPID
inst_start() { # inst_start N (1..3): instance at 127.0.0.(N+1):$IPORT
	local i=$1
	mkdir -p "$T/work$i"
	env DIGSIGSERVER_KEYFILE_URI="${STORE:-file://$KEYS}" DIGSIGSERVER_WORK_DIR="$T/work$i" \
		DIGSIGSERVER_INSTANCE="node$i" DIGSIGSERVER_AUDIT_FILE="$T/audit$i" \
		DIGSIGSERVER_TRUSTED_PROXIES=127.0.0.1 DIGSIGSERVER_DRAIN_GRACE=$GRACE \
		DIGSIGSERVER_WORKERS=${WORKERS:-3} DIGSIGSERVER_QUEUE_MAX=${QUEUE_MAX:-64} \
		DIGSIGSERVER_QUEUE_WAIT=${QUEUE_WAIT:-30} \
		DIGSIGSERVER_ARTIFACT_URI_PREFIXES="file://$A/" \
		"$DSS" --address "127.0.0.$((i + 1))" --port "$IPORT" 2>>"$T/node$i.log" &
	IPID[$i]=$!
	wait_for 30 sh -c "curl -s 'http://127.0.0.$((i + 1)):$IPORT/healthz' | grep -qx ok"
}
inst_url() { echo "http://127.0.0.$(($1 + 1)):$IPORT"; }
for n in 1 2 3; do
	inst_start $n || { not_ok "instance $n starts"; exit 0; }
done
# the shipped file with the test's ports, request logs at every level
sed -e "s/127\.0\.0\.1:9990/127.0.0.1:$HPORT/" -e "s/:9999 check/:$IPORT check/" \
	-e 's/^\tlog stdout.*$/\tlog stdout format raw local0/' \
	"$SRC/etc/haproxy-digsigserver.cfg" >"$T/haproxy.cfg"
echo "	stats socket $T/haproxy.sock mode 600 level admin" >"$T/stats"
sed -i "/^global/r $T/stats" "$T/haproxy.cfg"
haproxy -c -f "$T/haproxy.cfg" >"$T/haproxy.check" 2>&1
check "the shipped HAProxy configuration is valid (haproxy -c)" test $? -eq 0
haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
HPID=$!
stop_all() { # SIGTERM twice: no drain grace at the end of the test
	for p in "${IPID[@]}"; do kill -TERM $p 2>/dev/null; done
	sleep 0.2
	for p in "${IPID[@]}"; do kill -TERM $p 2>/dev/null; done
	for p in "${IPID[@]}"; do wait $p 2>/dev/null; done
}
trap 'kill $HPID 2>/dev/null; stop_all; _cleanup' EXIT
URL=http://127.0.0.1:$HPORT
check "HAProxy answers /healthz from an instance" wait_for 20 sh -c "curl -s '$URL/healthz' | grep -qx ok"
# $T/hactl COMMAND: HAProxy's answer on its admin socket
cat >"$T/hactl" <<EOF
#!/usr/bin/python3
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect("$T/haproxy.sock")
s.sendall((" ".join(sys.argv[1:]) + "\\n").encode())
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.decode())
EOF
chmod +x "$T/hactl"
# $T/srv NAMES...: how HAProxy sees each server (UP, DOWN ...), on one line
cat >"$T/srv" <<EOF
#!/bin/sh
for n in "\$@"; do
	"$T/hactl" show servers state digsigserver |
		awk -v n="\$n" '\$4 == n { print (\$6 == 2 ? "UP" : \$6 == 0 ? "DOWN" : "OTHER") }'
done | tr '\\n' ' ' | sed 's/ \$//'
EOF
chmod +x "$T/srv"
check "HAProxy sees the three instances up" wait_for 20 sh -c "[ \"\$('$T/srv' a b c)\" = 'UP UP UP' ]"

# --- clients --------------------------------------------------------------------------
# client ID RETRY: three requests as the bbclasses send them, once, or
# again and again until $T/stop exists when $T/loop does; one line
# "<id>-<round> <sw status> <modules status> <mender status>" in
# $T/results per round
client() {
	local id=$1 retry=$2 round=0 out s1 s2 s3 art
	while :; do
		round=$((round + 1))
		out=$T/c$id-$round
		art=$A/c$id-$round.mender
		mkdir -p "$out"
		cp "$T/src.mender" "$art"
		dss_own "$art"
		s1=$(curl $retry --fail -s -o "$out/sig" -w '%{http_code}' -X POST -F distro=demo \
			-F method=RSA -F sw-description=@"$T/sw-description" "$URL/sign/swupdate")
		s2=$(curl $retry --fail -s -o "$out/mods.tgz" -w '%{http_code}' -X POST -F machine=demo \
			-F hashalg=sha256 -F artifact=@"$T/modules.tar.gz" "$URL/sign/modules")
		s3=$(curl $retry --fail -s -o /dev/null -w '%{http_code}' -X POST -F distro=demo \
			-F artifact-uri="file://$art" "$URL/sign/mender")
		echo "$id-$round $s1 $s2 $s3" >>"$T/results"
		[ -e "$T/loop" ] && [ ! -e "$T/stop" ] || break
	done
}
run_clients() { # run_clients RETRY FROM: CLIENTS clients at once, their pids in CPIDS
	CPIDS=
	for i in $(seq "$2" $(($2 + CLIENTS - 1))); do
		client "$i" "$1" &
		CPIDS="$CPIDS $!"
	done
}
wait_clients() {
	for p in $CPIDS; do wait "$p"; done
}
verified() { # verified: every answer listed in $T/results verifies
	local r
	for r in $(awk '{ print $1 }' "$T/results"); do
		openssl dgst -sha256 -verify "$T/sw.pub" -signature "$T/c$r/sig" "$T/sw-description" \
			>/dev/null 2>&1 || { echo "client $r: swupdate signature"; return 1; }
		tar -tzf "$T/c$r/mods.tgz" >/dev/null 2>&1 || { echo "client $r: modules answer"; return 1; }
		mender-artifact validate -k "$T/mender.pub" "$A/c$r.mender" >/dev/null 2>&1 ||
			{ echo "client $r: mender artifact"; return 1; }
	done
}
all_200() { # all_200 N: at least N result lines, every status 200
	[ "$(wc -l <"$T/results")" -ge "$1" ] &&
		! awk '$2 != 200 || $3 != 200 || $4 != 200' "$T/results" | grep -q .
}

# --- kill -9 of an instance under load ---------------------------------------------
: >"$T/results"
run_clients "--retry 4" 1
wait_for 30 sh -c "curl -s --interface 127.0.0.9 '$(inst_url 2)/status' | grep -q '\"busy\": [1-9]'"
kill -9 "${IPID[2]}"
{ wait "${IPID[2]}"; } 2>/dev/null
wait_clients
check "kill -9 of one instance under load: all $CLIENTS clients x 3 requests answered 200" \
	all_200 "$CLIENTS"
awk '$2 != 200 || $3 != 200 || $4 != 200' "$T/results" | head -3 | sed 's/^/# /'
check "  ... and every answer verifies (openssl, tar, mender-artifact validate)" verified
check "  ... HAProxy marked the killed instance down" wait_for 20 sh -c "[ \"\$('$T/srv' b)\" = DOWN ]"
inst_start 2
check "  ... started again, it is back up" wait_for 20 sh -c "[ \"\$('$T/srv' b)\" = UP ]"

# --- rolling restart under load, clients without retries --------------------------
# The clients keep sending until every instance has been restarted.
: >"$T/results"
hlog0=$(wc -l <"$T/haproxy.log")
touch "$T/loop"
run_clients "" $((CLIENTS + 1))
for n in 1 2 3; do
	url=$(inst_url $n)
	kill -TERM "${IPID[$n]}"
	# what a load balancer's check sees from the signal to the listener's end
	while curl -s -o /dev/null -w '%{http_code}\n' --max-time 2 "$url/healthz" >>"$T/health.$n" 2>/dev/null; do
		sleep 0.2
	done
	wait "${IPID[$n]}"
	inst_start $n
	wait_for 20 sh -c "[ \"\$('$T/srv' $(echo abc | cut -c$n))\" = UP ]"
done
touch "$T/stop"
wait_clients
rm -f "$T/loop" "$T/stop"
echo "# rolling restart: $(wc -l <"$T/results") rounds of 3 requests"
check "rolling restart under load: every round of every client (3 requests) answered 200, no retries" \
	all_200 "$CLIENTS"
awk '$2 != 200 || $3 != 200 || $4 != 200' "$T/results" | head -3 | sed 's/^/# /'
check "  ... and every answer verifies" verified
for n in 1 2 3; do
	check "  ... node$n's /healthz said 503 before it stopped listening" grep -qx 503 "$T/health.$n"
	check "  ... node$n's log: draining before shutting down" python3 - "$T/node$n.log" <<'PY'
import sys
log = open(sys.argv[1]).read()
a = log.find("draining: /healthz answers 503")
b = log.find("shutting down: no new connections", a)
assert 0 <= a < b, (a, b)
PY
done
# httplog, raw: client [date] frontend backend/server timers status bytes - - flags ...
check "  ... HAProxy logged every request of it 200, none cut (termination flags ----)" sh -c \
	"tail -n +$((hlog0 + 1)) '$T/haproxy.log' | awk '\$3 == \"signing\"' >'$T/hreq' &&
	[ \$(wc -l <'$T/hreq') -ge \$((3 * \$(wc -l <'$T/results'))) ] && ! awk '\$6 != 200 || \$10 != \"----\"' '$T/hreq' | grep -q ."

# --- audit trails ------------------------------------------------------------------------
stop_all
check "every instance's audit trail verifies" "$DSS" --verify-audit "$T/audit1" "$T/audit2" "$T/audit3"
check "the trails hold one signed record per answered request of the rolling restart" \
	python3 - "$T/audit1" "$T/audit2" "$T/audit3" "$T/results" "$A" <<'PY'
import json, sys
recs = [json.loads(l) for f in sys.argv[1:4] for l in open(f)]
signed = [r for r in recs if r.get("status") == 200]
# the rolling restart's mender requests: one record per artifact URI
uris = [r.get("artifact_uri") for r in signed if r.get("endpoint") == "mender"]
ids = [l.split()[0] for l in open(sys.argv[4])]
for i in ids:
    u = "file://%s/c%s.mender" % (sys.argv[5], i)  # i: <client>-<round>
    n = sum(1 for x in uris if x == u)
    assert n == 1, (u, n)
insts = {r.get("instance") for r in signed}
assert insts <= {"node1", "node2", "node3"} and len(insts) >= 2, insts
PY

# --- one s3:// key store shared by the three (the S3 emulator) ------------------------
EMU=$SRC/t/s3/s3-emulator
EMU_DIR=$T/s3
if emu_start "scale-out with an s3:// key store"; then
	for f in swupdate/rsa-private.key kmodsign/kernel-signkey.priv kmodsign/kernel-signkey.x509 \
		mender/private.key; do
		curl -s -o /dev/null --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
			--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
			-X PUT -T "$KEYS/demo/$f" "$DIGSIGSERVER_S3_ENDPOINT/dss-keys/scale/demo/$f"
	done
	STORE=s3://dss-keys/scale
	for n in 1 2 3; do inst_start $n; done
	check "s3:// store: HAProxy sees the three instances up (each probed the store)" \
		wait_for 20 sh -c "[ \"\$('$T/srv' a b c)\" = 'UP UP UP' ]"
	: >"$T/results"
	run_clients "--retry 4" $((10 * CLIENTS + 1))
	wait_clients
	check "s3:// store: all $CLIENTS clients x 3 requests answered 200" all_200 "$CLIENTS"
	check "  ... and every answer verifies" verified
	stop_all
	unset STORE
	"$EMU" stop "$EMU_DIR" >/dev/null 2>&1
fi

# --- every instance full: an answer, never a hang -------------------------------------
# One worker and one queue place per instance; slow uploads hold them all.
WORKERS=1 QUEUE_MAX=1 QUEUE_WAIT=3
for n in 1 2 3; do inst_start $n; done
wait_for 20 sh -c "[ \"\$('$T/srv' a b c)\" = 'UP UP UP' ]"
head -c 400000 /dev/urandom >"$T/big"
SLOW=
for i in 1 2 3 4 5 6 7 8; do
	curl -s -o /dev/null --limit-rate 20k -X POST -F distro=demo -F method=RSA \
		-F sw-description=@"$T/big" "$URL/sign/swupdate" &
	SLOW="$SLOW $!"
done
busy_all() {
	for n in 1 2 3; do
		curl -s --interface 127.0.0.9 "$(inst_url $n)/status" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["pool"]["busy"], d["queue"]["length"] if "queue" in d else "?")
sys.exit(0 if d["pool"]["busy"] >= 1 else 1)' || return 1
	done
}
check "every instance's one worker busy with a slow upload" wait_for 20 busy_all
full_ok=0
for i in 1 2 3 4; do
	code=$(curl -s -D "$T/full.hdr" -o /dev/null -w '%{http_code}' --max-time 60 -X POST \
		-F distro=demo -F method=RSA -F sw-description=@"$T/sw-description" "$URL/sign/swupdate")
	if [ "$code" = 200 ] || { [ "$code" = 503 ] && grep -qi '^Retry-After:' "$T/full.hdr"; }; then
		full_ok=$((full_ok + 1))
	else
		echo "# full: answer $code"
	fi
done
check_eq "  ... a request then gets 200 (queued) or 503 with Retry-After, within 60 s, never a hang" \
	4 "$full_ok"
for p in $SLOW; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
stop_all
unset WORKERS QUEUE_MAX QUEUE_WAIT

# --- throughput with 1, 2, 3 instances (reported) ------------------------------------
for n in 1 2 3; do inst_start $n; done
for k in 1 2 3; do
	for n in 1 2 3; do
		if [ $n -le $k ]; then
			echo "set server digsigserver/$(echo abc | cut -c$n) state ready"
		else
			echo "set server digsigserver/$(echo abc | cut -c$n) state maint"
		fi | xargs "$T/hactl" >/dev/null
	done
	wait_for 10 sh -c "curl -s '$URL/healthz' | grep -qx ok"
	t0=$(date +%s.%N)
	CPIDS=
	for i in $(seq 1 16); do
		(for j in 1 2 3 4 5 6 7 8; do
			curl --retry 4 --fail -s -o /dev/null -X POST -F distro=demo -F method=RSA \
				-F sw-description=@"$T/sw-description" "$URL/sign/swupdate"
		done) &
		CPIDS="$CPIDS $!"
	done
	wait_clients
	t1=$(date +%s.%N)
	echo "# throughput, $k instance(s) behind HAProxy, 16 clients x 8 swupdate requests:" \
		"$(python3 -c "print('%.0f req/s' % (128 / ($t1 - $t0)))") (2 cores: the instances share them)"
done
stop_all
kill $HPID 2>/dev/null
exit 0
