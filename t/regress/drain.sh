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

dss_start DIGSIGSERVER_DRAIN_GRACE=8 DIGSIGSERVER_WORKERS=2 \
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

# --- a second SIGTERM skips the rest of the grace ---------------------------------
dss_start DIGSIGSERVER_DRAIN_GRACE=600 || exit 1
kill -TERM "$DSS_PID"
wait_for 10 grep -q 'draining: /healthz answers 503' "$DSS_LOG"
kill -TERM "$DSS_PID"
check "a second SIGTERM: stopped long before 600 s" wait_for 30 grep -q 'info: supervisor_run: stopped' "$DSS_LOG"
wait "$DSS_PID"
DSS_PID=
exit 0
