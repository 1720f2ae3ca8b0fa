#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/daemon.sh: the supervisor and the pool, through the real daemon
# and curl: command line, /status, routing, the queue, crashes, timeouts,
# privilege drop, leaks, shutdown.
. "$(dirname "$0")/lib.sh"

mkdir -p "$KEYS/demo/swupdate"
openssl genrsa -out "$KEYS/demo/swupdate/rsa-private.key" 2048 2>/dev/null
printf 'software = { version = "1"; };\n' >"$T/sw"
head -c 400000 /dev/urandom >"$T/big"

# post_slow OUT RATE: a sign request whose upload takes a while (400 kB at RATE).
post_slow() {
	curl -s -o "$1.body" -w '%{http_code}' --limit-rate "$2" -X POST -F distro=demo \
		-F sw-description=@"$T/big" "$URL/sign/swupdate" >"$1" 2>/dev/null
}
post_sw() {
	curl -s -o "$T/sig" -w '%{http_code}' -X POST -F distro=demo -F sw-description=@"$T/sw" \
		"$URL/sign/swupdate"
}
busy() { status_field 'd["pool"]["busy"]'; }
idle() { status_field 'd["pool"]["idle"]'; }

# --- command line ---------------------------------------------------------
"$DSS" --help >"$T/help"
check "--help lists every setting" sh -c "
	for s in \$(grep -o '^SETTING([A-Z0-9_]*' '$SRC/lib/settings.def' | cut -c9-); do
		grep -q \"DIGSIGSERVER_\$s\" '$T/help' || { echo missing \$s; exit 1; }
	done"
check "built hardened: full RELRO, immediate binding, stack protector" sh -c "
	readelf -lW '$DSS' | grep -q GNU_RELRO && readelf -dW '$DSS' | grep -q 'BIND_NOW' &&
	readelf --dyn-syms -W '$DSS' | grep -q __stack_chk_fail"
check "--version prints the version" sh -c "'$DSS' --version | grep -q '^digsigserver [0-9]'"
msg=$(env -u DIGSIGSERVER_KEYFILE_URI "$DSS" --port 1 2>&1)
rc=$?
check_eq "no KEYFILE_URI: exit 1" 1 "$rc"
check "no KEYFILE_URI: one-line reason" sh -c "[ \$(echo '$msg' | wc -l) -eq 1 ] && echo '$msg' | grep -q KEYFILE_URI"
msg=$(DIGSIGSERVER_KEYFILE_URI=/k DIGSIGSERVER_RESPONSE_TIMEOUT=soon "$DSS" 2>&1)
rc=$?
check_eq "malformed value: exit 1" 1 "$rc"
check "malformed value: named in the reason" sh -c "echo '$msg' | grep -q RESPONSE_TIMEOUT"
printf 'DIGSIGSERVER_KEYFILE_URI=file:///from/file\nDIGSIGSERVER_PORT=1234\nDIGSIGSERVER_WORKERS=3\n' >"$T/conf"
out=$(DIGSIGSERVER_PORT=2345 DIGSIGSERVER_WORK_DIR=$T/w "$DSS" --config "$T/conf" --workers 5 --check-config 2>&1)
check "--check-config: config file read" sh -c "echo '$out' | grep -q '^DIGSIGSERVER_KEYFILE_URI=file:///from/file$'"
check "--check-config: environment beats file" sh -c "echo '$out' | grep -q '^DIGSIGSERVER_PORT=2345$'"
check "--check-config: command line beats all" sh -c "echo '$out' | grep -q '^DIGSIGSERVER_WORKERS=5$'"
"$DSS" --env-template >"$T/env"
check "etc/digsigserver.env is the settings table" cmp "$SRC/etc/digsigserver.env" "$T/env"
check "man page documents every setting" sh -c "
	for s in \$(grep -o '^SETTING([A-Z0-9_]*' '$SRC/lib/settings.def' | cut -c9-); do
		grep -q \"DIGSIGSERVER_\$s\" '$SRC/man/digsigserver.8' || { echo missing \$s; exit 1; }
	done"

# --- basics -------------------------------------------------------------
dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_QUEUE_MAX=1 DIGSIGSERVER_QUEUE_WAIT=30 \
	DIGSIGSERVER_REQUEST_LINE_TIMEOUT=1 || exit 1
check_eq "/healthz" "ok" "$(curl -s "$URL/healthz")"
check "/status is JSON with the documented fields" python3 - "$URL" <<'PY'
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1] + "/status"))
for k in ("version", "uptime_seconds", "pool", "queue", "totals"):
    assert k in d, k
p = d["pool"]
for k in ("size", "idle", "busy", "starting", "workers"):
    assert k in p, k
assert p["size"] == 2 and len(p["workers"]) == 2, p
for w in p["workers"]:
    for k in ("pid", "state", "generation", "jobs_served", "job"):
        assert k in w, k
for k in ("length", "limit"):
    assert k in d["queue"], k
for k in ("requests", "2xx", "4xx", "5xx", "timeouts", "crashes", "respawns", "rejected"):
    assert k in d["totals"], k
PY
check_eq "unknown path: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/nothing")"
check_eq "unknown signer: 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/sign/nothing")"
check "GET on a signer: 405 with Allow: POST" sh -c "curl -s -D - -o /dev/null '$URL/sign/swupdate' | tr -d '\r' | grep -q '^Allow: POST'"
check "POST /status: 405 with Allow" sh -c "curl -s -D - -o /dev/null -X POST '$URL/status' | tr -d '\r' | grep -q '^Allow: GET'"
check_eq "trailing-slash client URL (//sign/swupdate) works" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' -X POST -F distro=demo -F sw-description=@"$T/sw" "$URL//sign/swupdate")"
check_eq "garbage request line: 400" "400" "$(printf 'hello there\r\n\r\n' | curl -s -o /dev/null -w '%{http_code}' --max-time 5 telnet://127.0.0.1:$PORT 2>/dev/null | head -c0; python3 -c "
import socket; s=socket.create_connection(('127.0.0.1',$PORT)); s.sendall(b'hello there\r\n\r\n'); print(s.recv(100).split()[1].decode())")"
check_eq "HTTP/2.0 request line: 505" "505" "$(python3 -c "
import socket; s=socket.create_connection(('127.0.0.1',$PORT)); s.sendall(b'GET / HTTP/2.0\r\n\r\n'); print(s.recv(100).split()[1].decode())")"
before=$(status_field 'd["totals"]["jobs"]')
check_eq "slow request line: 408 after REQUEST_LINE_TIMEOUT" "408" "$(python3 -c "
import socket,time; s=socket.create_connection(('127.0.0.1',$PORT)); s.sendall(b'POST /sign/swu'); s.settimeout(5); print(s.recv(100).split()[1].decode())")"
check_eq "slow request line used no worker" "$before" "$(status_field 'd["totals"]["jobs"]')"
before=$(status_field 'd["totals"]["jobs"]')
check_eq "signing request with headers trickling in: 408 after REQUEST_LINE_TIMEOUT" "408" "$(python3 -c "
import socket,time; s=socket.create_connection(('127.0.0.1',$PORT)); s.sendall(b'POST /sign/swupdate HTTP/1.1\r\nHost: x\r\n')
for i in range(3):
    time.sleep(0.4); s.sendall(b'X-Slow: 1\r\n')
s.settimeout(5); print(s.recv(100).split()[1].decode())")"
check_eq "... and it never took a worker" "$before" "$(status_field 'd["totals"]["jobs"]')"

# --- the queue ------------------------------------------------------------
post_slow "$T/s1" 100k &
p1=$!
post_slow "$T/s2" 100k &
p2=$!
check "two slow uploads make both workers busy" wait_for 10 sh -c "[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"pool\"][\"busy\"])')\" = 2 ]"
check "/status shows a busy worker's job" python3 - "$URL" <<'PY'
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1] + "/status"))
jobs = [w["job"] for w in d["pool"]["workers"] if w["job"]]
assert jobs, d
j = jobs[0]
for k in ("id", "endpoint", "selector", "client", "elapsed_seconds", "timeout_seconds"):
    assert k in j, k
assert j["client"].startswith("127.0.0.1:"), j
PY
post_sw >"$T/q3" &
p3=$!
check "a third request waits in the queue" wait_for 10 sh -c "[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"queue\"][\"length\"])')\" = 1 ]"
check "past QUEUE_MAX: 503 with Retry-After" sh -c "curl -s -D - -o /dev/null -X POST -F distro=demo -F sw-description=@'$T/sw' '$URL/sign/swupdate' | tr -d '\r' | grep -q '^Retry-After: [0-9]'"
wait $p1 $p2 $p3
check_eq "slow upload 1 succeeded" 200 "$(cat "$T/s1")"
check_eq "slow upload 2 succeeded" 200 "$(cat "$T/s2")"
check_eq "the queued request completed" 200 "$(cat "$T/q3")"

# --- privileges -----------------------------------------------------------
if [ -n "${DSS_VALGRIND:-}" ]; then
	skip "worker credentials from /proc" "workers run inside valgrind"
elif [ -n "$DSS_USER" ]; then
	# an idle worker of a settled pool: it stays until the next job
	wait_for 30 pool_settled
	wpid=$(status_field '[w["pid"] for w in d["pool"]["workers"] if w["state"] == "idle"][0]')
	check_eq "worker uid is the service user's" "$(id -u $DSS_USER)" "$(awk '/^Uid:/{print $2}' /proc/$wpid/status)"
	check_eq "worker gid is the service user's group" "$(id -g $DSS_USER)" "$(awk '/^Gid:/{print $2}' /proc/$wpid/status)"
	check "worker real/effective/saved uids all dropped" sh -c "awk '/^Uid:/{exit !(\$2==\$3 && \$3==\$4 && \$4==\$5 && \$2!=0)}' /proc/$wpid/status"
	check "worker gids all dropped" sh -c "awk '/^Gid:/{exit !(\$2==\$3 && \$3==\$4 && \$2!=0)}' /proc/$wpid/status"
	# the service user's groups (as a systemd service gets them), none of
	# root's
	check_eq "worker has the service user's groups, none of root's" \
		"$(id -G $DSS_USER | tr ' ' '\n' | sort -n | paste -sd' ')" \
		"$(awk '/^Groups:/{for (i = 2; i <= NF; i++) print $i}' /proc/$wpid/status | sort -n | paste -sd' ')"
	check "worker has no new privileges" sh -c "grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$wpid/status"
	# the group lookup at start runs in a child: no NSS module (and what
	# it links) is inherited, for every fork and exit to pay
	check_eq "worker maps no NSS module" 0 "$(grep -c 'libnss_' /proc/$wpid/maps)"
	check "worker is in its own process group" sh -c "[ \"\$(ps -o pgid= -p $wpid | tr -d ' ')\" = $wpid ]"
else
	skip "worker runs as the service user" "not root"
fi

# --- a crash --------------------------------------------------------------
post_slow "$T/k1" 50k &
p1=$!
wait_for 10 sh -c "[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"pool\"][\"busy\"])')\" = 1 ]"
wpid=$(status_field '[w["pid"] for w in d["pool"]["workers"] if w["job"]][0]')
kill -9 "$wpid"
t0=$(date +%s%N)
wait $p1
check_eq "kill -9 of a busy worker: its client gets 500" 500 "$(cat "$T/k1")"
check "the pool is full again" wait_for 20 sh -c "[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; p=json.load(sys.stdin)[\"pool\"]; print(p[\"idle\"])')\" = 2 ]"
check_eq "the crash is counted" 1 "$(status_field 'd["totals"]["crashes"]')"
check "the killed job's directory is gone" sh -c "[ -z \"\$(ls -A '$DSS_WORK')\" ]"
dss_stop

# --- timeout --------------------------------------------------------------
dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_RESPONSE_TIMEOUT=2 || exit 1
start=$(date +%s)
post_slow "$T/t1" 20k
check_eq "a job past RESPONSE_TIMEOUT gets 504" 504 "$(cat "$T/t1")"
check "... after about RESPONSE_TIMEOUT, not at the end of the slow upload" sh -c "[ $(($(date +%s) - start)) -le 12 ]"
check_eq "the timeout is counted" 1 "$(status_field 'd["totals"]["timeouts"]')"
check "the pool refills after a timeout" wait_for 20 sh -c "[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"pool\"][\"idle\"])')\" = 2 ]"
check "no job directory left after the timeout" sh -c "[ -z \"\$(ls -A '$DSS_WORK')\" ]"
check_eq "a normal job still works" 200 "$(post_sw)"

# --- SIGHUP ---------------------------------------------------------------
wait_for 30 pool_settled
old=$(worker_pids)
kill -HUP "$DSS_PID"
check "SIGHUP replaces idle workers" wait_for 30 workers_replaced "$old"
check_eq "still serving after SIGHUP" 200 "$(post_sw)"
dss_stop

# --- SIGHUP as the shipped unit runs it: the settings file is both the
# EnvironmentFile= (in the environment from the start) and --config
pool_size() { status_field 'd["pool"]["size"]'; }
printf 'DIGSIGSERVER_WORKERS=2\nDIGSIGSERVER_WORK_DIR=%s\n' "$T/work" >"$T/unit.env"
DSS_ARGS="--config $T/unit.env" dss_start DIGSIGSERVER_WORKERS=2 || exit 1
check_eq "unit-like start: WORKERS from the file (and the environment)" 2 "$(pool_size)"
printf 'DIGSIGSERVER_WORKERS=3\nDIGSIGSERVER_WORK_DIR=%s\n' "$T/work" >"$T/unit.env"
kill -HUP "$DSS_PID"
check "  ... changed in the file, SIGHUP: 3 workers (the environment only mirrored the file)" \
	wait_for 30 sh -c "[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"pool\"][\"size\"])')\" = 3 ]"
printf 'DIGSIGSERVER_WORKERS=3\nDIGSIGSERVER_WORK_DIR=/nonexistent/w\n' >"$T/unit.env"
kill -HUP "$DSS_PID"
check "  ... a new WORK_DIR needs a restart: the running one kept, said so" \
	wait_for 30 grep -q "a work directory change needs a restart; keeping $DSS_WORK" "$DSS_LOG"
check_eq "  ... and jobs still get their directories" 200 "$(post_sw)"
dss_stop
printf 'DIGSIGSERVER_WORKERS=2\n' >"$T/unit.env"
DSS_ARGS="--config $T/unit.env" dss_start DIGSIGSERVER_WORKERS=4 || exit 1
printf 'DIGSIGSERVER_WORKERS=3\n' >"$T/unit.env"
wait_for 30 pool_settled
old=$(worker_pids)
kill -HUP "$DSS_PID"
check "  ... SIGHUP: the idle workers replaced (the reload done)" wait_for 30 workers_replaced "$old"
wait_for 30 pool_settled
check_eq "  ... a variable of its own in the environment keeps its precedence: 4 workers" 4 \
	"$(pool_size)"
dss_stop

# --- leaks ------------------------------------------------------------------
dss_start DIGSIGSERVER_WORKERS=4 || exit 1
for i in $(seq 10); do post_sw >/dev/null; done
# compared at rest: jobs accounted for, every connection closed
dss_settle
fd10=$(dss_fds)
rss10=$(dss_rss)
seq 490 | xargs -P 8 -I{} curl -s -o /dev/null -X POST -F distro=demo -F sw-description=@"$T/sw" "$URL/sign/swupdate"
for i in $(seq 50); do curl -s -o /dev/null "$URL/status"; curl -s -o /dev/null "$URL/nothing"; done
dss_settle
fd500=$(dss_fds)
rss500=$(dss_rss)
check_eq "supervisor fds after 500 requests = after 10" "$fd10" "$fd500"
check_rss "supervisor RSS after 500 requests" \
	"supervisor RSS after 500 requests within 512 kB of after 10 ($rss10 -> $rss500 kB)" \
	"$rss10" "$rss500" 512
check_eq "all 500 jobs counted" 500 "$(status_field 'd["totals"]["jobs"]')"
check_eq "the 50 unknown paths counted as 4xx" 50 "$(status_field 'd["totals"]["4xx"]')"
check_eq "no 5xx" 0 "$(status_field 'd["totals"]["5xx"]')"
check "no job directories left" sh -c "[ -z \"\$(ls -A '$DSS_WORK')\" ]"
check "one log line per signing request" sh -c "[ \$(grep -c 'path=/sign/swupdate .*status=200' '$DSS_LOG') -eq 500 ]"

# --- SIGTERM during a job -------------------------------------------------
post_slow "$T/g1" 200k &
p1=$!
wait_for 10 sh -c "[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"pool\"][\"busy\"])')\" = 1 ]"
wpids=$(status_field '" ".join(str(w["pid"]) for w in d["pool"]["workers"])')
kill -TERM "$DSS_PID"
# the supervisor closes its listening socket
not_listening() { ! ss -Hltn "( sport = :$PORT )" | grep -q .; }
wait_for 10 not_listening
check "after SIGTERM no new connections are accepted" sh -c "! curl -s -o /dev/null --max-time 2 '$URL/healthz'"
wait $p1
check_eq "SIGTERM lets the running job finish" 200 "$(cat "$T/g1")"
wait "$DSS_PID"
rc=$?
DSS_PID=
check_eq "exit status 0 after SIGTERM" 0 "$rc"
check "no worker left behind" sh -c "for p in $wpids; do ! kill -0 \$p 2>/dev/null || exit 1; done"
exit 0
