#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/s3.sh: the key store and artifact URIs over s3:// (and file://
# write-back under SIGKILL), against a real S3 emulator: s3rver behind a
# proxy that recomputes every request's SigV4 signature with the AWS SDK's
# signer (t/s3/s3-emulator).  The curl command line (--aws-sigv4) is the
# independent client that puts fixtures in and reads results back; the
# code under test runs through t/s3test and, when it is built, the daemon.
. "$(dirname "$0")/lib.sh"

S3TEST=$BUILD/t/s3test
EMU=$SRC/t/s3/s3-emulator
EMU_DIR=$T/s3
MiB=1048576

s3_cleanup() {
	"$EMU" stop "$EMU_DIR" >/dev/null 2>&1
	_cleanup
}
trap s3_cleanup EXIT

if [ ! -x "$S3TEST" ]; then
	not_ok "t/s3test is built" "missing $S3TEST"
	exit 0
fi
emu_start "S3 emulator" || exit 0
ok "S3 emulator (s3rver + SigV4-checking proxy) listens at $DIGSIGSERVER_S3_ENDPOINT"
unset DIGSIGSERVER_LOG_LEVEL
export DIGSIGSERVER_S3_RETRIES=3
LOG=$EMU_DIR/emulator.log

# curl as the reference S3 client.
s3curl() { # s3curl METHOD URL_PATH [curl args...]: prints the HTTP status
	_m=$1
	_p=$2
	shift 2
	curl -s -o "$T/curl.out" -w '%{http_code}' -X "$_m" \
		--aws-sigv4 "aws:amz:$AWS_REGION:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" "$DIGSIGSERVER_S3_ENDPOINT$_p"
}
s3_put() { s3curl PUT "/$2" -T "$1"; }   # s3_put FILE BUCKET/KEY
s3_get() { s3curl GET "/$1" && cp "$T/curl.out" "$2"; } # s3_get BUCKET/KEY FILE
fault() { curl -s -X POST "$DIGSIGSERVER_S3_ENDPOINT/__dss_fault?$1"; }
# requests seen by the emulator since mark
mark() { _mark=$(wc -l <"$LOG"); }
# (the emulator logs a request once its answer is sent, which may be just
# after the client has it: a marker request, logged at once, comes after
# those, so the log is read up to the marker)
since() {
	_id=$(date +%s%N)
	curl -s -o /dev/null "$DIGSIGSERVER_S3_ENDPOINT/__dss_mark?$_id"
	wait_for 10 grep -q "__dss_mark?$_id " "$LOG"
	tail -n +$((_mark + 1)) "$LOG" | sed "/__dss_mark?$_id /,\$d"
}
key() { # key SELECTOR TAG FILE: s3test's status line; the key in $T/key.out
	rm -f "$T/key.out"
	"$S3TEST" key "$1" "$2" "$3" "$T/key.out" 2>>"$T/s3test.log"
}

# --- the emulator itself refuses what AWS would refuse -----------------------
head -c 3000 /dev/urandom >"$T/k1"
check_eq "reference client: curl --aws-sigv4 PUT accepted" 200 "$(s3_put "$T/k1" dss-keys/probe)"
check_eq "emulator refuses a wrong signature (403)" 403 "$(curl -s -o /dev/null -w '%{http_code}' \
	--aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AWS_ACCESS_KEY_ID:wrong" \
	-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$DIGSIGSERVER_S3_ENDPOINT/dss-keys/probe")"
check_eq "emulator refuses an unsigned request (403)" 403 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$DIGSIGSERVER_S3_ENDPOINT/dss-keys/probe")"

# --- keys --------------------------------------------------------------------
export DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/store
openssl genrsa -out "$T/rsa.pem" 2048 2>/dev/null
check_eq "reference client: fixture keys uploaded" "200 200" "$(s3_put "$T/rsa.pem" \
	dss-keys/store/distro1/swupdate/rsa-private.key) $(s3_put "$T/k1" \
	dss-keys/store/jetson-agx%2Borin_1.0/kmodsign/kernel-signkey.priv)"
check_eq "key fetched from s3:// (status)" "0 ok" "$(key distro1 swupdate rsa-private.key)"
check "key fetched from s3:// is byte-identical" cmp "$T/rsa.pem" "$T/key.out"
check "key written for a tool is mode 0600" sh -c "[ \"\$(stat -c %a '$T/key.out')\" = 600 ]"
check_eq "selector with + and _ (SigV4 path encoding)" "0 ok" \
	"$(key jetson-agx+orin_1.0 kmodsign kernel-signkey.priv)"
check "  ... byte-identical" cmp "$T/k1" "$T/key.out"
check_eq "missing key file: 404 naming it" "404 Key file missing: distro1/swupdate/cms.cert" \
	"$(key distro1 swupdate cms.cert)"
check_eq "missing selector: 404 naming it" "404 Key file missing: nodistro/swupdate/rsa-private.key" \
	"$(key nodistro swupdate rsa-private.key)"
check_eq "wrong secret: 500 with a clear reason" \
	"500 Key store refused access (check credentials): SignatureDoesNotMatch" \
	"$(AWS_SECRET_ACCESS_KEY=not-the-secret key distro1 swupdate rsa-private.key)"
check_eq "unknown access key: 500 with a clear reason" \
	"500 Key store refused access (check credentials): InvalidAccessKeyId" \
	"$(AWS_ACCESS_KEY_ID=AKIAUNKNOWN key distro1 swupdate rsa-private.key)"
check "the secret never appears in output or log" sh -c \
	"AWS_SECRET_ACCESS_KEY=s3cr3t-MARKER DIGSIGSERVER_LOG_LEVEL=debug '$S3TEST' key distro1 \
	swupdate rsa-private.key '$T/k.none' >'$T/leak.out' 2>&1; ! grep -q s3cr3t-MARKER '$T/leak.out'"
check_eq "no credentials: 500" "500 Key store credentials missing" \
	"$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$S3TEST" key distro1 swupdate \
	rsa-private.key "$T/k.none" 2>/dev/null)"
check_eq "session token (AWS_SESSION_TOKEN, x-amz-security-token)" "0 ok" \
	"$(AWS_ACCESS_KEY_ID=$S3_EMU_TEMP_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_EMU_TEMP_SECRET_ACCESS_KEY \
	AWS_SESSION_TOKEN=$S3_EMU_TEMP_SESSION_TOKEN key distro1 swupdate rsa-private.key)"
check_eq "temporary key without its session token: 500 InvalidToken" \
	"500 Key store refused access (check credentials): InvalidToken" \
	"$(AWS_ACCESS_KEY_ID=$S3_EMU_TEMP_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$S3_EMU_TEMP_SECRET_ACCESS_KEY \
	key distro1 swupdate rsa-private.key)"
check_eq "region from AWS_DEFAULT_REGION when AWS_REGION is unset" "0 ok" \
	"$(env -u AWS_REGION AWS_DEFAULT_REGION=us-east-1 "$S3TEST" key distro1 swupdate \
	rsa-private.key "$T/k.r" 2>/dev/null)"
check_eq "signed for the wrong region: refused" "500" \
	"$(AWS_REGION=eu-west-1 key distro1 swupdate rsa-private.key | cut -d' ' -f1)"

# --- transient failures and retries -----------------------------------------
fault "status=503&count=2"
mark
check_eq "two 503s then success: retried" "0 ok" "$(key distro1 swupdate rsa-private.key)"
check_eq "  ... in three requests" 3 "$(since | grep -c 'GET /dss-keys/store/distro1')"
fault "status=429&count=1"
check_eq "429 SlowDown: retried" "0 ok" "$(key distro1 swupdate rsa-private.key)"
fault "status=0&count=1"
check_eq "connection closed without an answer: retried" "0 ok" \
	"$(key distro1 swupdate rsa-private.key)"
fault "status=500&count=10"
mark
check_eq "5xx past DIGSIGSERVER_S3_RETRIES=2: 503 unavailable" "503 Key store unavailable" \
	"$(DIGSIGSERVER_S3_RETRIES=2 key distro1 swupdate rsa-private.key)"
check_eq "  ... after exactly 1 + 2 attempts" 3 "$(since | grep -c 'GET /dss-keys/store/distro1')"
fault "count=0"
fault "status=200&count=1&delay=20"
start=$(date +%s)
check_eq "transfer timeout (DIGSIGSERVER_NET_TRANSFER_TIMEOUT=1): 503" "503 Key store unavailable" \
	"$(DIGSIGSERVER_NET_TRANSFER_TIMEOUT=1 DIGSIGSERVER_S3_RETRIES=0 key distro1 swupdate rsa-private.key)"
check "  ... near the timeout, not at the answer's delay (20 s)" test $(($(date +%s) - start)) -lt 12
check_eq "connection refused: 503" "503 Key store unavailable" \
	"$(DIGSIGSERVER_S3_ENDPOINT=http://127.0.0.1:1 DIGSIGSERVER_S3_RETRIES=1 key distro1 swupdate rsa-private.key)"

# --- --check-config ----------------------------------------------------------
check "check-config: the s3:// store answers" sh -c \
	"'$S3TEST' check >'$T/chk' 2>&1 && grep -q 'reachable, holds keys' '$T/chk'"
check "check-config: a wrong secret fails" sh -c \
	"! AWS_SECRET_ACCESS_KEY=bad '$S3TEST' check >'$T/chk' 2>&1 && grep -q SignatureDoesNotMatch '$T/chk'"
check "check-config: an empty prefix warns" sh -c \
	"DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/empty '$S3TEST' check >'$T/chk' 2>&1 &&
	grep -q 'warning: .*no keys' '$T/chk'"
check "check-config: a missing bucket fails" sh -c \
	"! DIGSIGSERVER_KEYFILE_URI=s3://no-such-bucket/k '$S3TEST' check >'$T/chk' 2>&1"

# --- artifacts ---------------------------------------------------------------
head -c $((3 * MiB + 17)) /dev/urandom >"$T/a1"
mark
check_eq "artifact upload (single PUT)" "0 ok" "$("$S3TEST" put "$T/a1" s3://dss-artifacts/ci/a1.mender 2>>"$T/s3test.log")"
check_eq "  ... one PUT, no multipart" "1 0" \
	"$(since | grep -c '^.* PUT /dss-artifacts/ci/a1.mender ') $(since | grep -c 'uploads=')"
check_eq "reference client reads it back" 200 "$(s3_get dss-artifacts/ci/a1.mender "$T/a1.curl")"
check "  ... byte for byte" cmp "$T/a1" "$T/a1.curl"
check_eq "artifact download" "0 ok" "$("$S3TEST" get s3://dss-artifacts/ci/a1.mender "$T/a1.back" 2>>"$T/s3test.log")"
check "  ... byte for byte" cmp "$T/a1" "$T/a1.back"
check_eq "key with spaces, + and UTF-8 round-trips" "0 ok 0 ok" "$("$S3TEST" put "$T/a1" \
	's3://dss-artifacts/ci/name with space+plus é.mender' 2>>"$T/s3test.log") $("$S3TEST" get \
	's3://dss-artifacts/ci/name with space+plus é.mender' "$T/a1.utf" 2>>"$T/s3test.log")"
check "  ... byte for byte" cmp "$T/a1" "$T/a1.utf"
check_eq "missing artifact: 404" "404 Artifact not found" \
	"$("$S3TEST" get s3://dss-artifacts/ci/none.mender "$T/none" 2>>"$T/s3test.log")"
check "  ... and no file left" test ! -e "$T/none"

head -c $((100 * 1000 * 1000)) /dev/urandom >"$T/big"
mark
check_eq "100 MB artifact with 8 MiB parts: multipart upload" "0 ok" \
	"$(DIGSIGSERVER_S3_PART_SIZE=$((8 * MiB)) "$S3TEST" put "$T/big" s3://dss-artifacts/ci/big.mender 2>>"$T/s3test.log")"
check_eq "  ... CreateMultipartUpload, 12 UploadPart, CompleteMultipartUpload" "1 12 1" \
	"$(since | grep -c 'POST .*uploads= .*-> 200') $(since | grep -c 'PUT .*partNumber=.*-> 200') \
$(since | grep -c 'POST .*?uploadId=.*-> 200')"
check_eq "reference client reads it back" 200 "$(s3_get dss-artifacts/ci/big.mender "$T/big.curl")"
check "  ... byte for byte" cmp "$T/big" "$T/big.curl"
rm -f "$T/big.curl"
check_eq "download of the multipart object" "0 ok" \
	"$("$S3TEST" get s3://dss-artifacts/ci/big.mender "$T/big.back" 2>>"$T/s3test.log")"
check "  ... byte for byte" cmp "$T/big" "$T/big.back"
rm -f "$T/big.back"

# A part that fails for good: the upload is aborted, the object unchanged.
head -c $((12 * MiB)) /dev/urandom >"$T/mid"
fault "status=500&count=1&skip=2"
mark
check_eq "multipart with a failing part: 503" "503 Artifact store unavailable" \
	"$(DIGSIGSERVER_S3_RETRIES=0 DIGSIGSERVER_S3_PART_SIZE=$((5 * MiB)) "$S3TEST" put "$T/mid" \
	s3://dss-artifacts/ci/a1.mender 2>>"$T/s3test.log")"
check_eq "  ... AbortMultipartUpload sent" 1 "$(since | grep -c 'DELETE .*uploadId=')"
check_eq "  ... object unchanged" 200 "$(s3_get dss-artifacts/ci/a1.mender "$T/a1.after")"
check "  ... byte for byte" cmp "$T/a1" "$T/a1.after"

# In-place replacement, as the Mender signer does it.
mkdir -p "$T/job1"
head -c $((6 * MiB)) /dev/urandom >"$T/signed"
check_eq "replace s3:// artifact (download, sign, multipart upload)" "0 ok" \
	"$(DIGSIGSERVER_S3_PART_SIZE=$((5 * MiB)) "$S3TEST" replace s3://dss-artifacts/ci/a1.mender \
	"$T/job1" "$T/signed" 2>>"$T/s3test.log")"
check_eq "  ... object is the signed artifact" 200 "$(s3_get dss-artifacts/ci/a1.mender "$T/a1.signed")"
check "  ... byte for byte" cmp "$T/signed" "$T/a1.signed"
check "  ... job directory left empty" test -z "$(ls -A "$T/job1")"
# The object changes while we sign it: the upload is refused (409).
mkfifo "$T/fifo1"
mkdir -p "$T/job3"
"$S3TEST" replace s3://dss-artifacts/ci/a1.mender "$T/job3" "$T/fifo1" >"$T/race.out" \
	2>>"$T/s3test.log" &
pid=$!
wait_for 10 test -e "$T/job3/artifact.out"
s3_put "$T/a1" dss-artifacts/ci/a1.mender >/dev/null
timeout 60 sh -c "cat '$T/signed' >'$T/fifo1'"
wait "$pid"
check_eq "object replaced by someone else while signing: 409" \
	"409 Artifact changed during signing" "$(cat "$T/race.out")"
check_eq "  ... their object is kept" 200 "$(s3_get dss-artifacts/ci/a1.mender "$T/a1.race")"
check "  ... byte for byte" cmp "$T/a1" "$T/a1.race"

# Killed in the middle of a multipart upload: the object is unchanged.
fault "status=503&count=1&skip=3&delay=30"
mark
DIGSIGSERVER_S3_PART_SIZE=$((5 * MiB)) "$S3TEST" put "$T/big" s3://dss-artifacts/ci/a1.mender \
	>/dev/null 2>>"$T/s3test.log" &
pid=$!
parts_up() { [ "$(since | grep -c 'partNumber=')" -ge 2 ]; }
wait_for 10 parts_up
{
	kill -KILL "$pid"
	wait "$pid"
} 2>/dev/null
fault "count=0"
check_eq "SIGKILL during a multipart upload: parts had gone up" 2 "$(since | grep -c 'partNumber=')"
check_eq "  ... the object is unchanged" 200 "$(s3_get dss-artifacts/ci/a1.mender "$T/a1.kill")"
check "  ... byte for byte" cmp "$T/a1" "$T/a1.kill"

# the server's credentials refused: its fault, not the request's
check_eq "wrong secret on artifacts: 500 naming the code" \
	"500 Artifact store refused the server's credentials (SignatureDoesNotMatch)" \
	"$(AWS_SECRET_ACCESS_KEY=bad "$S3TEST" get s3://dss-artifacts/ci/a1.mender "$T/x" 2>>"$T/s3test.log")"
# what S3 refuses for the request itself (a bad argument, a bucket of
# another region) is 400 with its code, not a 500 that curl --retry
# repeats; a stand-in S3 answers with S3's documented errors
python3 - "$T/fakes3.port" <<'PY' 2>/dev/null &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code, s3code = (301, "PermanentRedirect") if "moved" in self.path else \
            (409, "OperationAborted") if "busy" in self.path else \
            (400, "ExpiredToken") if "expired" in self.path else (400, "InvalidArgument")
        body = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code>'
                '<Message>x</Message></Error>' % s3code).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_HEAD = do_GET
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(srv.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
PY
fake=$!
BG="$BG $fake"
wait_for 10 test -s "$T/fakes3.port"
FAKE_S3=http://127.0.0.1:$(cat "$T/fakes3.port")
check_eq "S3 answers 400 InvalidArgument: 400 with the code" \
	"400 Artifact store refused the request (InvalidArgument)" \
	"$(DIGSIGSERVER_S3_ENDPOINT=$FAKE_S3 "$S3TEST" get s3://dss-artifacts/ci/a1.mender "$T/x" 2>>"$T/s3test.log")"
check_eq "S3 answers 301 PermanentRedirect (another region): 400 with the code" \
	"400 Artifact store refused the request (PermanentRedirect)" \
	"$(DIGSIGSERVER_S3_ENDPOINT=$FAKE_S3 "$S3TEST" get s3://dss-artifacts/moved/a1.mender "$T/x" 2>>"$T/s3test.log")"
check_eq "S3 answers 400 ExpiredToken (the server's session token): 500 naming the code" \
	"500 Artifact store refused the server's credentials (ExpiredToken)" \
	"$(DIGSIGSERVER_S3_ENDPOINT=$FAKE_S3 "$S3TEST" get s3://dss-artifacts/expired/a1.mender "$T/x" 2>>"$T/s3test.log")"
check_eq "S3 answers 409 OperationAborted (a conflicting operation): 503, asked again later" \
	"503 Artifact store unavailable" \
	"$(DIGSIGSERVER_S3_ENDPOINT=$FAKE_S3 DIGSIGSERVER_S3_RETRIES=1 "$S3TEST" get s3://dss-artifacts/busy/a1.mender "$T/x" 2>>"$T/s3test.log")"
kill $fake 2>/dev/null
check_eq "an S3 key longer than 1024 bytes: 400 before any request" \
	"400 Invalid artifact URI (S3 key longer than 1024 bytes)" \
	"$("$S3TEST" get "s3://dss-artifacts/$(printf 'k%.0s' $(seq 1025))" "$T/x" 2>>"$T/s3test.log")"
check_eq "prefix check: outside DIGSIGSERVER_ARTIFACT_URI_PREFIXES is 403" \
	"403 Artifact URI not allowed" \
	"$(DIGSIGSERVER_ARTIFACT_URI_PREFIXES=s3://dss-artifacts/release "$S3TEST" get \
	s3://dss-artifacts/ci/a1.mender "$T/x" 2>>"$T/s3test.log")"
check_eq "an artifact URI in the s3:// key store is 403, nothing fetched" \
	"403 Artifact URI not allowed" \
	"$("$S3TEST" get s3://dss-keys/store/distro1/swupdate/rsa-private.key "$T/x" 2>>"$T/s3test.log")"
# the store's bucket under another name (the emulator resolves /./dss-keys
# in the path to dss-keys) or in capitals: no bucket, or still the store
check_eq "the key store through the bucket \".\": 400, nothing fetched" \
	"400 Invalid artifact URI (invalid S3 bucket name)" \
	"$("$S3TEST" get s3://./dss-keys/store/distro1/swupdate/rsa-private.key "$T/x" 2>>"$T/s3test.log")"
check_eq "the key store's bucket in capitals: 403" "403 Artifact URI not allowed" \
	"$("$S3TEST" get s3://DSS-KEYS/store/distro1/swupdate/rsa-private.key "$T/x" 2>>"$T/s3test.log")"
check "  ... nothing fetched" test ! -e "$T/x"

# --- file:// write-back killed in the middle ---------------------------------
mkdir -p "$T/art" "$T/job2"
head -c $((4 * MiB)) /dev/urandom >"$T/art/core.mender"
cp "$T/art/core.mender" "$T/orig.mender"
mkfifo "$T/fifo"
"$S3TEST" replace "file://$T/art/core.mender" "$T/job2" "$T/fifo" >"$T/kill.out" 2>&1 &
pid=$!
(head -c $((8 * MiB)) /dev/urandom; exec sleep 30) >"$T/fifo" &
writer=$!
# the replacement: an unnamed O_TMPFILE in the artifact's directory (seen
# through the writer's descriptors), or a named temporary file beside it
replacement() {
	for _f in /proc/$pid/fd/*; do
		case $(readlink "$_f" 2>/dev/null) in
		"$T/art/#"* | "$T/art/.core.mender.dss-"*) echo "$_f" && return ;;
		esac
	done
}
i=0
while [ $i -lt 200 ]; do
	t=$(replacement)
	[ -n "$t" ] && [ "$(stat -L -c %s "$t" 2>/dev/null || echo 0)" -ge $((8 * MiB)) ] && break
	i=$((i + 1))
	sleep 0.05
done
named=$(ls -A "$T/art" | grep '^\.core\.mender\.dss-' | head -1)
check "write-back in progress: the replacement in the artifact's directory holds 8 MiB" \
	test -n "$t" -a "$(stat -L -c %s "$t" 2>/dev/null || echo 0)" -ge $((8 * MiB))
{
	kill -KILL "$pid"
	wait "$pid"
	rc=$?
} 2>/dev/null
check_eq "s3test was killed by SIGKILL" 137 "$rc"
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
check "SIGKILL during the write-back: original artifact intact" cmp "$T/orig.mender" "$T/art/core.mender"
if [ -z "$named" ]; then
	check_eq "  ... nothing but the artifact is there (the replacement had no name)" \
		"core.mender " "$(LC_ALL=C ls -A "$T/art" | tr '\n' ' ')"
else
	check_eq "  ... only the artifact and the named temporary are there" \
		"$named core.mender " "$(LC_ALL=C ls -A "$T/art" | tr '\n' ' ')"
fi
check_eq "  ... a later replacement still works" "0 ok" \
	"$("$S3TEST" replace "file://$T/art/core.mender" "$T/job2" "$T/signed" 2>>"$T/s3test.log")"
check "  ... byte for byte" cmp "$T/signed" "$T/art/core.mender"

# --- through the daemon ------------------------------------------------------
if [ ! -x "$DSS" ]; then
	skip "daemon signs with a key from s3://" "daemon not built"
else
	D1=$T/sw-description
	printf 'software = { version = "1.0.0"; };\n' >"$D1"
	if dss_start DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/store; then
		code=$(curl -s -o "$T/sig" -w '%{http_code}' -X POST -F sw-description=@"$D1" \
			-F distro=distro1 -F method=RSA "$URL/sign/swupdate")
		check_eq "daemon: swupdate signing with the key from s3:// (200)" 200 "$code"
		check "daemon: libcurl loaded in the supervisor, before forking workers" \
			grep -q 'libcurl' "/proc/$DSS_PID/maps"
		openssl dgst -sha256 -sign "$T/rsa.pem" -out "$T/sig.ref" "$D1"
		check "daemon: signature byte-identical to openssl's" cmp "$T/sig" "$T/sig.ref"
		code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F sw-description=@"$D1" \
			-F distro=nodistro "$URL/sign/swupdate")
		check_eq "daemon: missing key in s3:// is 404" 404 "$code"
		check "daemon: the reason names the missing key" \
			grep -q 'nodistro/swupdate/rsa-private.key' "$T/body"
		check "daemon: the S3 secret is not logged" sh -c "! grep -qF '$AWS_SECRET_ACCESS_KEY' '$DSS_LOG'"
		dss_stop
	else
		not_ok "daemon starts with an s3:// key store"
	fi
	# KEY_CACHE_TTL=0 keeps no key between jobs, but within one the key
	# is read once: a modules job of three signatures, one GET
	openssl req -new -nodes -utf8 -sha256 -days 30 -batch -x509 \
		-config "$SRC/t/fixtures/x509.genkey" -newkey rsa:2048 -outform PEM \
		-out "$T/mod.x509" -keyout "$T/mod.priv" 2>/dev/null
	s3_put "$T/mod.priv" dss-keys/store/mods1/kmodsign/kernel-signkey.priv >/dev/null
	s3_put "$T/mod.x509" dss-keys/store/mods1/kmodsign/kernel-signkey.x509 >/dev/null
	sh "$SRC/t/fixtures/mkmodules.sh" "$T/mods" 6.1.0-s3 3 >/dev/null 2>&1
	tar -C "$T/mods" -czf "$T/mods.tar.gz" lib
	if dss_start DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/store DIGSIGSERVER_KEY_CACHE_TTL=0; then
		mark
		code=$(curl -s -o "$T/mods.out" -w '%{http_code}' -X POST -F machine=mods1 \
			-F artifact=@"$T/mods.tar.gz" "$URL/sign/modules")
		check_eq "KEY_CACHE_TTL=0, s3:// key: a modules job of three modules (200)" 200 "$code"
		check_eq "  ... three signatures" 3 \
			"$(tar -xzOf "$T/mods.out" --wildcards '*.ko' | grep -c '~Module signature appended~')"
		check_eq "  ... the private key read once in the job" 1 \
			"$(since | grep -c 'GET /dss-keys/store/mods1/kmodsign/kernel-signkey.priv')"
		mark
		curl -s -o /dev/null -X POST -F machine=mods1 -F artifact=@"$T/mods.tar.gz" \
			"$URL/sign/modules"
		check_eq "  ... and again in the next job (none kept between jobs)" 1 \
			"$(since | grep -c 'GET /dss-keys/store/mods1/kmodsign/kernel-signkey.priv')"
		dss_stop
	else
		not_ok "daemon starts with KEY_CACHE_TTL=0 and an s3:// key store"
	fi
	# The key process's own credentials: the workers' AWS_* (here wrong)
	# are not what reads the keys, and only the key user can read the file.
	CRED=$T/keystore.credentials
	printf '# key store\nAWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY="%s"\n' \
		"$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$CRED"
	chmod 600 "$CRED"
	[ -n "$DSS_KEY_USER" ] && chown "$DSS_KEY_USER" "$CRED"
	if dss_start DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/store AWS_SECRET_ACCESS_KEY=wrong \
		DIGSIGSERVER_KEYFILE_CREDENTIALS="$CRED"; then
		code=$(curl -s -o "$T/sig" -w '%{http_code}' -X POST -F sw-description=@"$D1" \
			-F distro=distro1 -F method=RSA "$URL/sign/swupdate")
		check_eq "KEYFILE_CREDENTIALS: the key process reads s3:// with its own credentials (200)" \
			200 "$code"
		check "  ... the signature is the store's key's" cmp "$T/sig" "$T/sig.ref"
		check "  ... no warning that the workers hold the key store's credentials" \
			sh -c "! grep -q 'AWS_\* credentials that the workers hold' '$DSS_LOG'"
		if [ -n "$DSS_USER" ]; then
			check "  ... the workers' user cannot read the credentials file" \
				sh -c "! setpriv --reuid='$DSS_USER' --regid='$DSS_USER' --clear-groups cat '$CRED' >/dev/null 2>&1"
		else
			skip "the workers' user cannot read the credentials file" "needs root"
		fi
		dss_stop
	else
		not_ok "daemon starts with DIGSIGSERVER_KEYFILE_CREDENTIALS"
	fi
	if dss_start DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/store; then
		check "without KEYFILE_CREDENTIALS the start-up log says the workers hold the store's credentials" \
			grep -q 'AWS_\* credentials that the workers hold' "$DSS_LOG"
		dss_stop
	else
		not_ok "daemon starts with an s3:// key store"
	fi
	printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=wrong\n' "$AWS_ACCESS_KEY_ID" >"$T/bad.cred"
	chmod 600 "$T/bad.cred"
	[ -n "$DSS_KEY_USER" ] && chown "$DSS_KEY_USER" "$T/bad.cred"
	if dss_start DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/store DIGSIGSERVER_KEYFILE_CREDENTIALS="$T/bad.cred"; then
		code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F sw-description=@"$D1" \
			-F distro=distro1 "$URL/sign/swupdate")
		check_eq "KEYFILE_CREDENTIALS with a wrong secret: 500 although AWS_* is right" 500 "$code"
		dss_stop
	else
		not_ok "daemon starts with a wrong KEYFILE_CREDENTIALS secret"
	fi
	printf 'AWS_ACCESS_KEY=x\n' >"$T/typo.cred"
	check "a credentials file with an unknown name: the daemon does not start, and says why" \
		sh -c "! DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/store DIGSIGSERVER_KEYFILE_CREDENTIALS='$T/typo.cred' \
			DIGSIGSERVER_WORK_DIR='$T/work' '$DSS' --address 127.0.0.1 --port $(free_port) 2>'$T/typo.err' &&
			grep -q 'typo.cred:1: unknown name AWS_ACCESS_KEY' '$T/typo.err'"
	check "--check-config names the unknown name too" \
		sh -c "! DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/store DIGSIGSERVER_KEYFILE_CREDENTIALS='$T/typo.cred' \
			'$DSS' --check-config >'$T/typo.chk' 2>&1 && grep -q 'unknown name AWS_ACCESS_KEY' '$T/typo.chk'"
	if [ -n "$DSS_USER" ]; then
		chmod 644 "$CRED"
		check "--check-config: a credentials file the workers' user can read is an error" \
			sh -c "! DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/store DIGSIGSERVER_KEYFILE_CREDENTIALS='$CRED' \
				'$DSS' --check-config >'$T/rd.chk' 2>&1 && grep -q 'readable by the workers' '$T/rd.chk'"
		chmod 600 "$CRED"
		check "--check-config: with the file the key user alone reads, the configuration is OK" \
			sh -c "DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/store DIGSIGSERVER_KEYFILE_CREDENTIALS='$CRED' \
				AWS_SECRET_ACCESS_KEY=wrong '$DSS' --check-config >'$T/ok.chk' 2>&1 && grep -q 'configuration OK' '$T/ok.chk'"
	fi
	if dss_start DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/store AWS_SECRET_ACCESS_KEY=wrong; then
		code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F sw-description=@"$D1" \
			-F distro=distro1 "$URL/sign/swupdate")
		check_eq "daemon: wrong S3 secret is 500" 500 "$code"
		check "daemon: the reason says to check the credentials" grep -q 'check credentials' "$T/body"
		dss_stop
	else
		not_ok "daemon starts with a wrong S3 secret"
	fi
fi
exit 0
