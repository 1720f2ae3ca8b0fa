#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/audit.sh: the audit trail: one hash-chained JSON line per
# signing attempt, checked by digsigserver --verify-audit; and
# DIGSIGSERVER_AUDIT_REQUIRED refusing work when it cannot be written.
. "$(dirname "$0")/lib.sh"

mkdir -p "$KEYS/d1/swupdate"
openssl genrsa -out "$KEYS/d1/swupdate/rsa-private.key" 2048 2>/dev/null
openssl rsa -in "$KEYS/d1/swupdate/rsa-private.key" -pubout -outform DER 2>/dev/null |
	sha256sum | cut -d' ' -f1 >"$T/fpr"
printf 'software = {};\n' >"$T/sw"
mkdir -p "$T/audit"
dss_own "$T/audit"
AUDIT=$T/audit/trail.jsonl

dss_start DIGSIGSERVER_AUDIT_FILE="$AUDIT" || exit 1
post() { curl -s -o /dev/null -w '%{http_code}' -X POST -F distro="$1" -F sw-description=@"$T/sw" "$URL/sign/swupdate"; }
check_eq "signing 1" 200 "$(post d1)"
check_eq "signing 2" 200 "$(post d1)"
check_eq "a refused attempt (missing key)" 404 "$(post nokeys)"
check_eq "signing 3" 200 "$(post d1)"
# the record is written when the worker reports DONE, just after the answer
wait_for 10 has_lines "$AUDIT" 4
check_eq "four lines, one per attempt" 4 "$(wc -l <"$AUDIT")"
check "records carry the documented fields" python3 - "$AUDIT" "$(cat "$T/fpr")" "$(sha256sum "$T/sw" | cut -d' ' -f1)" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
for r in lines:
    for k in ("prev", "time", "job", "client", "identity", "endpoint", "selector",
              "key_sha256", "signed", "status", "result", "duration_ms"):
        assert k in r, (k, r)
    assert r["endpoint"] == "swupdate", r
    assert r["client"].startswith("127.0.0.1:"), r
ok = [r for r in lines if r["status"] == 200]
assert len(ok) == 3, lines
for r in ok:
    assert r["result"] == "signed", r
    assert r["key_sha256"] == sys.argv[2], (r["key_sha256"], sys.argv[2])
    assert r["signed"] == [{"name": "sw-description", "sha256": sys.argv[3]}], r["signed"]
bad = [r for r in lines if r["status"] != 200]
assert len(bad) == 1 and bad[0]["result"] == "refused" and bad[0]["selector"] == "nokeys", bad
# a key that could not be had has no fingerprint
assert not bad[0]["key_sha256"], bad[0]
for op in bad[0].get("key_operations", []):
    assert "key_sha256" not in op, op
PY
check "--verify-audit: chain intact" "$DSS" --verify-audit "$AUDIT"
dss_stop

# restart: the chain continues across restarts
dss_start DIGSIGSERVER_AUDIT_FILE="$AUDIT" || exit 1
check_eq "signing after a restart" 200 "$(post d1)"
dss_stop
check "--verify-audit: chain intact across a restart" "$DSS" --verify-audit "$AUDIT"

cp "$AUDIT" "$T/deleted"
sed -i '2d' "$T/deleted"
check "--verify-audit: a deleted line is detected" sh -c "! '$DSS' --verify-audit '$T/deleted'"
cp "$AUDIT" "$T/edited"
sed -i '2s/"status":200/"status":201/' "$T/edited"
check "--verify-audit: an edited line is detected" sh -c "! '$DSS' --verify-audit '$T/edited'"
out=$("$DSS" --verify-audit "$T/deleted")
check "--verify-audit names the broken line" sh -c "echo '$out' | grep -q ':2: chain broken'"

# AUDIT_REQUIRED: a trail that cannot be written refuses work with 503
mkdir -p "$T/ro"
: >"$T/ro/trail"
chmod 0444 "$T/ro/trail"
chmod 0555 "$T/ro"
if [ "$(id -u)" -eq 0 ]; then
	# root ignores modes: use a path whose parent is a file instead
	BAD=$T/ro/trail/x
else
	BAD=$T/ro/trail
fi
msg=$(DIGSIGSERVER_KEYFILE_URI=file://$KEYS DIGSIGSERVER_AUDIT_FILE=$BAD DIGSIGSERVER_AUDIT_REQUIRED=1 \
	DIGSIGSERVER_WORK_DIR=$T/work2 timeout 5 "$DSS" --port "$(free_port)" --address 127.0.0.1 2>&1)
printf '%s\n' "$msg" >"$T/refused.out"
check "AUDIT_REQUIRED with an unwritable trail: refuses to start" grep -q 'audit trail' "$T/refused.out"
exit 0
