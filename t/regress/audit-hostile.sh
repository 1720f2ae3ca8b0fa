#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/audit-hostile.sh: the request log and the audit trail against
# hostile clients and a full disk.
#   - a client subject with spaces, quotes and bytes that are not UTF-8
#     stays one field of the request log line and is in the audit record;
#   - a mender artifact-uri that is not UTF-8 still gets a full record;
#   - with AUDIT_REQUIRED, a signature whose record cannot be sent fails;
#   - a NUL byte in a form field is refused (400);
#   - a full disk never leaves part of a record, AUDIT_REQUIRED refuses
#     work only while there is no room, and the trail recovers by itself
#     (a small tmpfs, when root); an incomplete last line is cut at start.
. "$(dirname "$0")/lib.sh"

SMALL=$T/small
hostile_cleanup() {
	dss_stop
	mountpoint -q "$SMALL" && umount -l "$SMALL"
	_cleanup
}
trap hostile_cleanup EXIT

mkdir -p "$KEYS/d1/swupdate" "$KEYS/d1/mender" "$T/audit"
openssl genrsa -out "$KEYS/d1/swupdate/rsa-private.key" 2048 2>/dev/null
openssl genrsa -traditional -out "$KEYS/d1/mender/private.key" 2048 2>/dev/null
printf 'software = {};\n' >"$T/sw"
dss_own "$T/audit"
AUDIT=$T/audit/trail.jsonl

post() { # post [curl args]: sign sw-description for d1, print the status
	curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=d1 -F sw-description=@"$T/sw" \
		"$@" "$URL/sign/swupdate"
}
# audit_has N: the trail has at least N lines (records follow the answer)
audit_has() { has_lines "$AUDIT" "$1"; }
# record JOB EXPR: a field of JOB's audit record, via python
record() {
	python3 - "$AUDIT" "$1" "$2" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d["job"] == int(sys.argv[2]):
        print(eval(sys.argv[3]))
PY
}

# --- a hostile subject, through a trusted proxy -----------------------------
dss_start DIGSIGSERVER_AUDIT_FILE="$AUDIT" DIGSIGSERVER_TRUSTED_PROXIES=127.0.0.2 \
	DIGSIGSERVER_AUDIT_REQUIRED=1 || exit 1
log_mark
subject=$'CN=x status=200 "q" \xff\\'
check_eq "a subject with spaces, quotes and a non-UTF-8 byte: signed" 200 \
	"$(post --interface 127.0.0.2 -H "X-Client-Subject: $subject")"
job=$(logged_job ' path=/sign/swupdate .*status=200')
check "the request log line is exactly its fields, the subject one of them" \
	python3 - "$DSS_LOG" "$job" <<'PY'
import sys
want = ["job", "client", "identity", "method", "path", "endpoint", "selector", "status",
        "in", "out", "ms", "rss_peak_kb", "instance"]
for raw in open(sys.argv[1], "rb"):
    line = raw.decode("ascii")  # escaped: nothing but ASCII
    msg = line.rstrip("\n").split(" info: ", 1)[-1]
    if not msg.startswith("job=%s " % sys.argv[2]):
        continue
    fields = [f.split("=", 1) for f in msg.split(" ")]
    assert [k for k, _ in fields] == want, fields
    d = dict(fields)
    assert d["identity"] == r'subject:CN=x\x20status=200\x20\x22q\x22\x20\xff\x5c', d
    assert d["status"] == "200" and d["selector"] == "d1", d
    break
else:
    raise SystemExit("no log line for job " + sys.argv[2])
PY
wait_for 10 audit_has 1
check_eq "... and the audit record keeps the identity, escaped the same way" \
	'subject:CN=x\x20status=200\x20\x22q\x22\x20\xff\x5c' "$(record "$job" 'd.get("identity")')"

check "without ARTIFACT_URI_PREFIXES the start-up log warns, once" \
	test "$(grep -c 'ARTIFACT_URI_PREFIXES is not set: a client may name as artifact-uri any file' \
		"$DSS_LOG")" = 1
check_config() { # check_config [VAR=value...]: the output of --check-config
	env DIGSIGSERVER_KEYFILE_URI="file://$KEYS" DIGSIGSERVER_WORK_DIR="$T/work" "$@" \
		"$DSS" --check-config 2>&1
}
check_config >"$T/check-config"
check "... and so does --check-config" \
	grep -q '^# warning: DIGSIGSERVER_ARTIFACT_URI_PREFIXES is not set' "$T/check-config"
check_eq "... but not when it is set" 0 \
	"$(check_config DIGSIGSERVER_ARTIFACT_URI_PREFIXES="file://$T/art/" | grep -c 'is not set')"

# --- NUL in a form field ----------------------------------------------------
nul_post() { # nul_post VALUE: a hand-made multipart with distro=VALUE (NUL for a
	# NUL byte), print the status and the reason
	python3 -c '
import socket, sys
sys.path.insert(0, sys.argv[4])
import dss
port, value, sw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
b, body = dss.form([("distro", value.replace("NUL", "\0")), ("sw-description", "@" + sw)])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(dss.head("127.0.0.1", port, "/sign/swupdate", b, len(body)) + body)
status, _, text, _ = dss.parse(dss.recv_all(s))
print(status, text.decode() if status >= 400 else "(signature)")' "$PORT" "$1" "$T/sw" "$SRC/t/regress"
}
check_eq "multipart: distro with a NUL byte is refused" '400 NUL byte in form field "distro"' \
	"$(nul_post 'd1NUL/../../x')"
check_eq "multipart: the same without the NUL is signed" "200 (signature)" "$(nul_post 'd1')"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST --data-binary 'distro=d1%00/../../x&method=RSA' \
	"$URL/sign/swupdate")
check_eq "urlencoded: distro with %00 is refused" '400 NUL byte in form field "distro"' \
	"$code $(cat "$T/body")"

# --- mender: an artifact-uri that is not UTF-8 -------------------------------
if command -v mender-artifact >/dev/null 2>&1; then
	A=$T/art
	mkdir -p "$A"
	head -c 100000 /dev/urandom >"$T/rootfs.ext4"
	mender-artifact write rootfs-image -t dev -n n -f "$T/rootfs.ext4" -o "$T/orig.mender" \
		--compression none >/dev/null 2>&1
	art=$A/$'art\xff.mender'
	cp "$T/orig.mender" "$art"
	dss_own "$A" "$art"
	fpr=$(openssl rsa -in "$KEYS/d1/mender/private.key" -pubout -outform DER 2>/dev/null |
		sha256sum | cut -d' ' -f1)
	n=$(wc -l <"$AUDIT")
	log_mark
	code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=d1 \
		--form-string "artifact-uri=file://$art" "$URL/sign/mender")
	check_eq "mender: a non-UTF-8 artifact-uri is signed" 200 "$code"
	job=$(logged_job ' path=/sign/mender .*status=200')
	wait_for 10 audit_has $((n + 1))
	check_eq "... its audit record has the key fingerprint" "$fpr" \
		"$(record "$job" 'd.get("key_sha256")')"
	check_eq "... and the manifest hash" \
		"$(tar -xOf "$art" manifest | sha256sum | cut -d' ' -f1)" \
		"$(record "$job" 'd.get("manifest_sha256")')"
	check_eq "... and the URI, escaped" "file://$A/art\\xff.mender" \
		"$(record "$job" 'd.get("artifact_uri")')"

	# a value too long for any record (a URI of 3,400 bytes, 13,600
	# escaped) is cut in its record, followed by its length and SHA-256:
	# signed and audited with AUDIT_REQUIRED (it was a 500 for good input)
	long=$A
	for i in $(seq 17); do long=$long/$(head -c 200 /dev/zero | tr '\0' '\377'); done
	mkdir -p "$long"
	cp "$T/orig.mender" "$long/a.mender"
	chown -R "${DSS_USER:-$(id -u)}" "$A"
	n=$(wc -l <"$AUDIT")
	log_mark
	code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=d1 \
		--form-string "artifact-uri=file://$long/a.mender" "$URL/sign/mender")
	check_eq "AUDIT_REQUIRED: a URI of 13,600 escaped bytes is signed" 200 "$code"
	job=$(logged_job ' path=/sign/mender .*status=200')
	wait_for 10 audit_has $((n + 1))
	whole=$(printf '%s' "file://$long/a.mender" | sha256sum | cut -d' ' -f1)
	check_eq "... its record has the URI cut, with its length and SHA-256" \
		"file://$A/\\xff\\xff ...[$(printf '%s' "file://$long/a.mender" | wc -c) bytes, sha256 $whole]" \
		"$(record "$job" 'd["artifact_uri"][:len("file://'"$A"'/")+8] + " " + d["artifact_uri"][d["artifact_uri"].index("...["):]')"
else
	skip "mender: non-UTF-8 artifact-uri" "mender-artifact is not installed"
fi
dss_stop
check "--verify-audit: the trail is intact" "$DSS" --verify-audit "$AUDIT"

# --- an incomplete last line is cut at start -------------------------------
printf '{"prev":"0000' >>"$AUDIT"
if dss_start DIGSIGSERVER_AUDIT_FILE="$AUDIT" DIGSIGSERVER_AUDIT_REQUIRED=1; then
	check "an incomplete last line is cut at start, with a warning" \
		grep -q 'cutting an incomplete last line of 13 bytes' "$DSS_LOG"
	check_eq "... and signing goes on" 200 "$(post)"
	dss_stop
	check "... with the chain intact" "$DSS" --verify-audit "$AUDIT"
else
	not_ok "an incomplete last line is cut at start (AUDIT_REQUIRED: the daemon did not start)"
fi

# --- a full disk --------------------------------------------------------------
ends_whole() { [ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ]; }
failures() { curl -s "$URL/metrics" | awk '/^digsigserver_audit_write_failures_total/ {print $2}'; }
fill() { dd if=/dev/zero of="$SMALL/fill" bs=4k 2>/dev/null; sync; }
if [ "$(id -u)" -ne 0 ]; then
	skip "full disk" "not root: cannot mount a small tmpfs"
	exit 0
elif ! { mkdir -p "$SMALL" && mount -t tmpfs -o size=8m,mode=0755 tmpfs "$SMALL"; }; then
	skip "full disk" "mounting a tmpfs failed"
	exit 0
fi
dss_own "$SMALL"
AUDIT=$SMALL/trail.jsonl

# without AUDIT_REQUIRED: signing goes on; no half record; recovery
dss_start DIGSIGSERVER_AUDIT_FILE="$AUDIT" || exit 1
check_eq "full disk: signing before" 200 "$(post)"
wait_for 10 audit_has 1
fill
codes=
for i in $(seq 40); do
	codes="$codes $(post)"
	[ "$(failures)" -gt 0 ] && break
done
check "full disk: records fail to be written (metric)" test "$(failures)" -gt 0
check_eq "full disk: without AUDIT_REQUIRED signing goes on" "" "$(echo $codes | tr -d '2 0')"
check "full disk: the trail does not end with part of a record" ends_whole "$AUDIT"
check "full disk: the trail verifies" "$DSS" --verify-audit "$AUDIT"
rm -f "$SMALL/fill"
n=$(wc -l <"$AUDIT")
check_eq "space again: signing" 200 "$(post)"
check "space again: the next record is written" wait_for 10 audit_has $((n + 1))
check "... and says records were lost" sh -c "tail -n 1 '$AUDIT' | grep -q '\"records_lost\":[1-9]'"
check "... and the trail verifies" "$DSS" --verify-audit "$AUDIT"

# AUDIT_REQUIRED (a trail of its own): refused while there is no room,
# never a 200 without its record
dss_stop
AUDIT=$SMALL/trail2.jsonl
dss_start DIGSIGSERVER_AUDIT_FILE="$AUDIT" DIGSIGSERVER_AUDIT_REQUIRED=1 || exit 1
check_eq "AUDIT_REQUIRED, room: signing" 200 "$(post)"
wait_for 10 audit_has 1
fill
n=$(wc -l <"$AUDIT")
oks=0
code=
for i in $(seq 40); do
	code=$(post)
	[ "$code" = 200 ] || break
	oks=$((oks + 1))
done
check_eq "AUDIT_REQUIRED, full disk: refused with 503" 503 "$code"
check "... saying why" grep -q 'Audit trail cannot be written' "$T/body"
check "... and each 200 before it has its record" wait_for 10 audit_has $((n + oks))
check_eq "... and no record failed" 0 "$(failures)"
check "... and the trail does not end with part of a record" ends_whole "$AUDIT"
rm -f "$SMALL/fill"
check_eq "AUDIT_REQUIRED, space again: signing without a restart" 200 "$(post)"
dss_stop
check "... and the trail verifies" "$DSS" --verify-audit "$AUDIT"
exit 0
