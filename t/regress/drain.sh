#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/drain.sh: what a load balancer sees.  /healthz is readiness
# (503 with the reason while the key process cannot sign), /livez and
# /healthz?live liveness; SIGTERM drains: /healthz says "draining" at once,
# requests are still accepted and served for DRAIN_GRACE, then the listener
# closes and the daemon exits 0 once its jobs are done.  SIGHUP does not
# drain.
. "$(dirname "$0")/lib.sh"

D=$KEYS/demo/swupdate
mkdir -p "$D"
openssl genrsa -out "$D/rsa-private.key" 2048 2>/dev/null
printf 'software = { version = "1"; };\n' >"$T/sw"
# a credentials file the key process reads at each start (file:// store:
# unused for S3, but a key process that cannot read it does not start)
printf 'AWS_ACCESS_KEY_ID=AKIADRAIN\nAWS_SECRET_ACCESS_KEY=drain\n' >"$T/cred"
chmod 600 "$T/cred"
[ -n "$DSS_KEY_USER" ] && chown "$DSS_KEY_USER" "$T/cred"

sign() { # the status of one swupdate request
	curl -s -o /dev/null -w '%{http_code}' -X POST -F sw-description=@"$T/sw" -F distro=demo \
		"$URL/sign/swupdate"
}
health() { curl -s -w ' %{http_code}' "$URL$1"; }
listening() { ss -Hltn "( sport = :$PORT )" | grep -q .; }

dss_start DIGSIGSERVER_DRAIN_GRACE=8 DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_STORE_PROBE_INTERVAL=1 \
	DIGSIGSERVER_KEYFILE_CREDENTIALS="$T/cred" || exit 1

# --- readiness and liveness ---------------------------------------------------
check_eq "/healthz: ready" "ok 200" "$(health /healthz)"
check_eq "/livez: alive" "alive 200" "$(health /livez)"
check_eq "/healthz?live: alive" "alive 200" "$(health '/healthz?live')"
check_eq "/healthz?lively is readiness, not liveness" "ok 200" "$(health '/healthz?lively')"
# a key process that cannot start (its credentials file unreadable) and
# was killed: not ready, and the body says why; alive all the same
chmod 000 "$T/cred"
kill -9 "$(status_field "d['keys']['pid']")"
not_ready() { health /healthz | grep -q '^not ready: the key process is .* 503$'; }
check "key process down: /healthz 503 naming the key process" wait_for 20 not_ready
check_eq "  ... /livez still 200" "alive 200" "$(health /livez)"
chmod 600 "$T/cred"
check "  ... once it starts again, /healthz 200" wait_for 60 sh -c \
	"curl -s '$URL/healthz' | grep -qx ok"
check_eq "  ... and it signs" 200 "$(sign)"
# the key process probes its store (STORE_PROBE_INTERVAL): a store gone
# is not ready, and /status says why
check "/status: the key store answered its last probe" \
	wait_for 10 sh -c "curl -s '$URL/status' | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"keys\"][\"store\"][\"ok\"]'"
mv "$KEYS" "$KEYS.away"
store_gone() { health /healthz | grep -q "^not ready: key store: .*$KEYS.* 503\$"; }
check "key store gone: /healthz 503 naming it" wait_for 20 store_gone
mv "$KEYS.away" "$KEYS"
check "  ... back: /healthz 200" wait_for 20 sh -c "curl -s '$URL/healthz' | grep -qx ok"

# --- SIGHUP is no drain -----------------------------------------------------------
kill -HUP "$DSS_PID"
check "SIGHUP: the log says it re-read the configuration" \
	wait_for 10 grep -q 'SIGHUP: re-reading' "$DSS_LOG"
check_eq "  ... /healthz stays ok" "ok 200" "$(health /healthz)"

# --- SIGTERM: drain, then stop ----------------------------------------------------
kill -TERM "$DSS_PID"
check "SIGTERM: the log says draining" wait_for 10 grep -q 'draining: /healthz answers 503' "$DSS_LOG"
check_eq "  ... /healthz at once 503 draining" "draining 503" "$(health /healthz)"
check_eq "  ... /livez still 200" "alive 200" "$(health /livez)"
check_eq "  ... /status says draining" True "$(status_field "d['draining']")"
check_eq "  ... a new signing request within the grace is served" 200 "$(sign)"
check "  ... still listening within the grace" listening
check "  ... after the grace the listener closes" wait_for 30 sh -c "! ss -Hltn '( sport = :$PORT )' | grep -q ."
wait "$DSS_PID"
rc=$?
DSS_PID=
check_eq "  ... exit status 0" 0 "$rc"
check "  ... in that order: draining, grace over, shutting down" python3 - "$DSS_LOG" <<'PY'
import sys
log = open(sys.argv[1]).read()
a, b, c = (log.find(x) for x in ("draining: /healthz", "drain grace over", "shutting down"))
assert 0 <= a < b < c, (a, b, c)
PY

# --- instances name themselves -----------------------------------------------------
for name in node-a node-b; do
	dss_start DIGSIGSERVER_INSTANCE=$name DIGSIGSERVER_AUDIT_FILE="$T/audit.$name" || exit 1
	check_eq "$name: two requests signed" "200 200" "$(sign) $(sign)"
	check_eq "  ... /status names the instance" $name "$(status_field "d['instance']")"
	check "  ... /metrics: digsigserver_info{name=\"$name\"...} 1" sh -c \
		"curl -s '$URL/metrics' | grep -q '^digsigserver_info{name=\"$name\",version=\"[^\"]*\"} 1\$'"
	check "  ... its request log line ends with instance=$name" \
		grep -q "path=/sign/swupdate .* instance=$name\$" "$DSS_LOG"
	check_eq "  ... its audit record names it" $name \
		"$(python3 -c "import json; print(json.loads(open('$T/audit.$name').readline())['instance'])")"
	dss_stop
done
check "--verify-audit checks one trail per instance" sh -c \
	"'$DSS' --verify-audit '$T/audit.node-a' '$T/audit.node-b' >'$T/va' &&
	grep -c 'chain intact' '$T/va' | grep -qx 2"
sed '1s/node-b/node-x/' "$T/audit.node-b" >"$T/audit.bad"
check "  ... and fails when one of them was changed" sh -c \
	"! '$DSS' --verify-audit '$T/audit.node-a' '$T/audit.bad' >'$T/va' 2>&1 &&
	grep -q 'audit.bad:2: chain broken' '$T/va'"
check "an instance name with a space: refused at start, saying why" sh -c \
	"! DIGSIGSERVER_KEYFILE_URI='file://$KEYS' DIGSIGSERVER_INSTANCE='a b' '$DSS' --check-config >'$T/inst' 2>&1 &&
	grep -q 'DIGSIGSERVER_INSTANCE must be' '$T/inst'"

# --- a second SIGTERM skips the rest of the grace ---------------------------------
dss_start DIGSIGSERVER_DRAIN_GRACE=600 || exit 1
kill -TERM "$DSS_PID"
wait_for 10 grep -q 'draining: /healthz answers 503' "$DSS_LOG"
kill -TERM "$DSS_PID"
check "a second SIGTERM: stopped long before 600 s" wait_for 30 grep -q 'info: supervisor_run: stopped' "$DSS_LOG"
wait "$DSS_PID"
DSS_PID=
exit 0
