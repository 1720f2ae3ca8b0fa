#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/access.sh: access control with DIGSIGSERVER_TOKENS_FILE:
# 401 without a valid bearer token, 403 outside a grant, the client's
# name in the log and the audit trail, and a re-read on SIGHUP; /status and
# /metrics refused to a trusted proxy's address.
. "$(dirname "$0")/lib.sh"

for d in d1 d2; do
	mkdir -p "$KEYS/$d/swupdate"
	openssl genrsa -out "$KEYS/$d/swupdate/rsa-private.key" 2048 2>/dev/null
done
printf 'software = {};\n' >"$T/sw"
tok_ci=ci-$(openssl rand -hex 16)
tok_dev=dev-$(openssl rand -hex 16)
h() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
cat >"$T/tokens" <<EOT
# name   endpoints        selectors  credential
ci       swupdate,mod*    d1         sha256:$(h "$tok_ci")
dev      *                d*         sha256:$(h "$tok_dev")
EOT
AUDIT=$T/audit.jsonl
dss_start DIGSIGSERVER_TOKENS_FILE="$T/tokens" DIGSIGSERVER_AUDIT_FILE="$AUDIT" || exit 1

post() { # post DISTRO [curl args]: prints the status
	d=$1
	shift
	curl -s -o "$T/body" -D "$T/head" -w '%{http_code}' -X POST -F distro="$d" \
		-F sw-description=@"$T/sw" "$@" "$URL/sign/swupdate"
}
check_eq "no token: 401" 401 "$(post d1)"
check "401 says how to authenticate (WWW-Authenticate: Bearer)" grep -qi '^WWW-Authenticate: Bearer' "$T/head"
check_eq "unknown token: 401" 401 "$(post d1 -H "Authorization: Bearer nope")"
check_eq "token in a wrong scheme: 401" 401 "$(post d1 -H "Authorization: Basic $tok_ci")"
check_eq "ci token, granted endpoint and selector: 200" 200 "$(post d1 -H "Authorization: Bearer $tok_ci")"
check_eq "ci token, selector outside its grant: 403" 403 "$(post d2 -H "Authorization: Bearer $tok_ci")"
check_eq "the ci token twice: 400 (one client or none, not the first)" 400 \
	"$(post d1 -H "Authorization: Bearer $tok_ci" -H "Authorization: Bearer $tok_ci")"
check_eq "ci token, endpoint outside its grant: 403" 403 "$(curl -s -o /dev/null -w '%{http_code}' \
	-X POST -H "Authorization: Bearer $tok_ci" -F distro=d1 -F artifact-uri=file:///x "$URL/sign/mender")"
check_eq "dev token, glob grants: 200" 200 "$(post d2 -H "Authorization: Bearer $tok_dev")"
check "the client's name is in the log" grep -q 'identity=ci ' "$DSS_LOG"
check "the client's name is in the audit trail" python3 - "$AUDIT" <<'PY'
import json, sys
ids = [json.loads(l)["identity"] for l in open(sys.argv[1])]
assert "ci" in ids and "dev" in ids, ids
PY
check "no token appears in the log" sh -c "! grep -q -e '$tok_ci' -e '$tok_dev' '$DSS_LOG'"
check_eq "/healthz needs no token" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")"
# a credential longer than the supervisor looks at is refused with its
# reason, not taken by the worker while the key process was granted none
pad=$(printf '%1100s' '')
check_eq "a valid token behind 1100 spaces: 400" 400 "$(post d1 -H "Authorization: Bearer ${pad}$tok_ci")"
check_eq "  ... saying why" "Authorization header longer than 1023 bytes" "$(cat "$T/body")"

# SIGHUP re-reads the tokens file
tok_new=new-$(openssl rand -hex 16)
printf 'ci swupdate d1 sha256:%s\n' "$(h "$tok_new")" >"$T/tokens"
check "SIGHUP: every worker replaced" dss_reload
check_eq "after SIGHUP the new token works" 200 "$(post d1 -H "Authorization: Bearer $tok_new")"
check_eq "after SIGHUP the removed token is refused" 401 "$(post d1 -H "Authorization: Bearer $tok_dev")"
printf 'garbage line\n' >"$T/tokens"
check "SIGHUP with a broken tokens file: every worker replaced all the same" dss_reload
check "  ... and the log says the file was not loaded" grep -q 'tokens file not loaded' "$DSS_LOG"
check_eq "a broken tokens file on SIGHUP keeps the old table" 200 "$(post d1 -H "Authorization: Bearer $tok_new")"

# /status and /metrics: loopback may read them by default, but never a
# trusted proxy (on loopback too, as the nginx example is): what comes
# through it is another client's request
dss_start DIGSIGSERVER_TRUSTED_PROXIES=127.0.0.2 || exit 1
for p in /status /metrics; do
	check_eq "$p from loopback: 200" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL$p")"
	check_eq "$p from the trusted proxy's address 127.0.0.2: 403" 403 \
		"$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$URL$p")"
done
dss_start DIGSIGSERVER_TRUSTED_PROXIES=127.0.0.2 DIGSIGSERVER_STATUS_ALLOW=127.0.0.0/8 || exit 1
check_eq "an explicit STATUS_ALLOW does not open it to the trusted proxy either" 403 \
	"$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$URL/status")"
dss_stop
check "a broken tokens file at start is refused" sh -c "
	DIGSIGSERVER_KEYFILE_URI=file://$KEYS DIGSIGSERVER_WORK_DIR=$T/w2 DIGSIGSERVER_TOKENS_FILE=$T/tokens \
	timeout 5 '$DSS' --address 127.0.0.1 --port $(free_port) 2>&1 | grep -q 'tokens'"
exit 0
