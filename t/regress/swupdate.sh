#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/swupdate.sh: /sign/swupdate through the real daemon, with curl
# as meta-swupdate's SWUPDATE_SIGN_TOOL sends it; openssl and Debian's
# swupdate are the oracles.
. "$(dirname "$0")/lib.sh"

D=$KEYS/distro1/swupdate
mkdir -p "$D" "$KEYS/nokeys/swupdate"
openssl genrsa -out "$D/rsa-private.key" 2048 2>/dev/null
openssl rsa -in "$D/rsa-private.key" -pubout -out "$T/rsa-public.pem" 2>/dev/null
openssl req -new -nodes -batch -x509 -days 30 -subj "/O=test/CN=swupdate signer" \
	-newkey rsa:2048 -keyout "$D/cms-private.key" -out "$D/cms.cert" \
	-addext "keyUsage=digitalSignature" -addext "extendedKeyUsage=emailProtection" 2>/dev/null
cp "$D/cms.cert" "$T/cms.cert"
cp "$D/rsa-private.key" "$T/rsa-private.key"
# a CMS signer with an EC key
E=$KEYS/ecdistro/swupdate
mkdir -p "$E"
openssl req -new -nodes -batch -x509 -days 30 -subj "/O=test/CN=swupdate ec signer" \
	-newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$E/cms-private.key" -out "$E/cms.cert" \
	-addext "keyUsage=digitalSignature" 2>/dev/null

head -c 4096 /dev/urandom >"$T/payload.bin"
sum=$(sha256sum "$T/payload.bin" | cut -d' ' -f1)
cat >"$T/sw-description" <<EOT
software =
{
	version = "1.0.0";
	description = "digsigserver test";
	images: (
		{
			filename = "payload.bin";
			device = "/dev/null";
			type = "raw";
			sha256 = "$sum";
		}
	);
}
EOT

dss_start || exit 1

sign() { # sign METHOD [extra curl args]: writes $T/sig, prints the status
	m=$1
	shift
	curl -s -o "$T/sig" -w '%{http_code}' -X POST -F sw-description=@"$T/sw-description" \
		-F distro=distro1 -F method="$m" "$@" "$URL/sign/swupdate"
}

# --- RSA --------------------------------------------------------------------
check_eq "RSA: 200" 200 "$(sign RSA)"
openssl dgst -sha256 -sign "$T/rsa-private.key" -out "$T/sig.ref" "$T/sw-description"
check "RSA: byte-identical to openssl dgst -sha256 -sign" cmp "$T/sig" "$T/sig.ref"
check "RSA: verifies with openssl dgst -verify" \
	openssl dgst -sha256 -verify "$T/rsa-public.pem" -signature "$T/sig" "$T/sw-description"
check "RSA: exactly as the client calls it (curl --fail --output)" \
	curl --fail -s -X POST -F sw-description=@"$T/sw-description" -F distro=distro1 \
	-F method=RSA --output "$T/sw-description.sig" "$URL/sign/swupdate"
check "RSA: the client's output file is the signature" cmp "$T/sw-description.sig" "$T/sig.ref"
check "answer is application/octet-stream, Attachment sw-description.sig" sh -c "
	curl -s -D - -o /dev/null -X POST -F sw-description=@'$T/sw-description' -F distro=distro1 \
		'$URL/sign/swupdate' | tr -d '\r' >'$T/h' &&
	grep -qi '^Content-Type: application/octet-stream' '$T/h' &&
	grep -q '^Content-Disposition: Attachment; filename=\"sw-description.sig\"' '$T/h'"
check_eq "method defaults to RSA" 200 "$(curl -s -o "$T/sig.default" -w '%{http_code}' -X POST \
	-F sw-description=@"$T/sw-description" -F distro=distro1 "$URL/sign/swupdate")"
check "default method gives the RSA signature" cmp "$T/sig.default" "$T/sig.ref"

# --- RSA-PSS ----------------------------------------------------------------
check_eq "RSA-PSS: 200" 200 "$(sign RSA-PSS)"
check "RSA-PSS: verifies with openssl dgst -sigopt rsa_padding_mode:pss" \
	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -verify "$T/rsa-public.pem" \
	-signature "$T/sig" "$T/sw-description"

# --- CMS --------------------------------------------------------------------
check_eq "CMS: 200" 200 "$(sign CMS)"
cp "$T/sig" "$T/sw-description.sig"
check "CMS: verifies with openssl cms -verify (detached, binary)" \
	openssl cms -verify -binary -inform DER -in "$T/sig" -content "$T/sw-description" \
	-CAfile "$T/cms.cert" -purpose any -out /dev/null
check "CMS: carries the signer certificate" sh -c "
	openssl cms -cmsout -print -inform DER -in '$T/sig' | grep -q 'CN=swupdate signer'"
check "CMS: no S/MIME capabilities attribute" sh -c "
	! openssl cms -cmsout -print -inform DER -in '$T/sig' | grep -qi 'SMIMECapabilities'"
# A .swu: cpio (newc with CRC) of sw-description, its signature, the payload.
(cd "$T" && printf 'sw-description\nsw-description.sig\npayload.bin\n' |
	cpio -o -H crc --quiet >"$T/update.swu")
swupdate_check -v -c -k "$T/cms.cert" -i "$T/update.swu" >"$T/swupdate.log" 2>&1
check "CMS: Debian's swupdate verifies the .swu (Verified OK)" grep -q "Verified OK" "$T/swupdate.log"
# and a signature over other bytes must not verify
printf 'tampered' >>"$T/sw-description.sig.bad"
cp "$T/sw-description" "$T/sw-orig"
printf '# changed\n' >>"$T/sw-description"
(cd "$T" && printf 'sw-description\nsw-description.sig\npayload.bin\n' |
	cpio -o -H crc --quiet >"$T/bad.swu")
swupdate_check -v -c -k "$T/cms.cert" -i "$T/bad.swu" >"$T/swupdate-bad.log" 2>&1
check "CMS: swupdate refuses a changed sw-description" sh -c \
	"grep -q 'Signature verification failed' '$T/swupdate-bad.log' && ! grep -q 'Verified OK' '$T/swupdate-bad.log'"
cp "$T/sw-orig" "$T/sw-description"

check_eq "CMS with an EC (P-256) key: 200" 200 "$(curl -s -o "$T/sig.ec" -w '%{http_code}' -X POST \
	-F sw-description=@"$T/sw-description" -F distro=ecdistro -F method=CMS "$URL/sign/swupdate")"
check "CMS with an EC key: verifies with openssl cms -verify" \
	openssl cms -verify -binary -inform DER -in "$T/sig.ec" -content "$T/sw-description" \
	-CAfile "$E/cms.cert" -purpose any -out /dev/null
# the signed attributes openssl cms -sign -binary -nosmimecap puts in
signed_attrs() {
	openssl cms -cmsout -print -inform DER -in "$1" |
		awk '/signedAttrs:/{on=1; next} /signatureAlgorithm:/{on=0} on && /object:/{print $2}' | sort
}
openssl cms -sign -binary -nosmimecap -outform DER -in "$T/sw-description" -signer "$E/cms.cert" \
	-inkey "$E/cms-private.key" -out "$T/sig.ec.ref"
check_eq "CMS: the same signed attributes as openssl cms -sign" \
	"$(signed_attrs "$T/sig.ec.ref" | tr '\n' ' ')" "$(signed_attrs "$T/sig.ec" | tr '\n' ' ')"

# --- large input, streamed ------------------------------------------------------
# sw-description is hashed as it arrives, never stored: a large one signs
# the same as openssl over the file, in RSA and CMS
head -c 5000000 /dev/urandom >"$T/large"
check_eq "5 MB sw-description (RSA): 200" 200 "$(curl -s -o "$T/sig" -w '%{http_code}' -X POST \
	-F sw-description=@"$T/large" -F distro=distro1 "$URL/sign/swupdate")"
openssl dgst -sha256 -sign "$T/rsa-private.key" -out "$T/sig.ref" "$T/large"
check "5 MB sw-description (RSA): byte-identical to openssl dgst" cmp "$T/sig" "$T/sig.ref"
check_eq "5 MB sw-description (CMS): 200" 200 "$(curl -s -o "$T/sig" -w '%{http_code}' -X POST \
	-F sw-description=@"$T/large" -F distro=distro1 -F method=CMS "$URL/sign/swupdate")"
check "5 MB sw-description (CMS): verifies" \
	openssl cms -verify -binary -inform DER -in "$T/sig" -content "$T/large" \
	-CAfile "$T/cms.cert" -purpose any -out /dev/null
# a client that sends half of sw-description and waits: the worker holds
# the job, and nothing of it is on disk
python3 - "$SRC/t/regress" "$URL" "$T/large" "$T/slow.sig" "$DSS_WORK" >"$T/slow.out" 2>&1 <<'PY'
import os, socket, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import dss
(host, port), path, out, work = dss.hostport(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
# the file first, as the real client sends it
b, body = dss.form([("sw-description", "@" + path), ("distro", "distro1")])
s = socket.create_connection((host, port))
s.sendall(dss.head(host, port, "/sign/swupdate", b, len(body)))
half = len(body) // 2
s.sendall(body[:half])
# the worker has read that half (and kept it in memory)
print("half read:", dss.read_by_server(s))
print("during upload:", sorted(os.listdir(work)))
s.sendall(body[half:])
status, _, sig, _ = dss.parse(dss.recv_all(s))
print("HTTP status", status)
open(out, "wb").write(sig)
PY
check "slow upload: no job directory or file while sw-description arrives" \
	sh -c "grep -qx 'half read: True' '$T/slow.out' && grep -qx 'during upload: \[\]' '$T/slow.out'"
check "slow upload: 200 and the signature is openssl's" sh -c "
	grep -qx 'HTTP status 200' '$T/slow.out' && cmp '$T/slow.sig' '$T/sig.ref'"
if [ "$(id -u)" -eq 0 ]; then
	# workers fork from a supervisor that has not loaded libarchive or
	# libcurl (a file:// key store): neither is mapped in an idle worker
	# an idle worker of a settled pool: it stays until the next job
	wait_for 30 pool_settled
	w=$(status_field '[w["pid"] for w in d["pool"]["workers"] if w["state"] == "idle"][0]')
	check "an idle worker maps neither libarchive nor libcurl" sh -c "
		[ -n '$w' ] && grep -q libcrypto /proc/$w/maps &&
		! grep -qE 'libarchive|libcurl' /proc/$w/maps /proc/$DSS_PID/maps"
else
	skip "an idle worker maps neither libarchive nor libcurl" "not root: cannot read a worker's maps"
fi

# --- any bytes --------------------------------------------------------------
head -c 3000 /dev/urandom >"$T/binary"
check_eq "non-UTF-8 sw-description: 200" 200 "$(curl -s -o "$T/sig" -w '%{http_code}' -X POST \
	-F sw-description=@"$T/binary" -F distro=distro1 "$URL/sign/swupdate")"
check "non-UTF-8 sw-description: signature verifies" \
	openssl dgst -sha256 -verify "$T/rsa-public.pem" -signature "$T/sig" "$T/binary"
: >"$T/empty"
check_eq "empty sw-description: 200" 200 "$(curl -s -o "$T/sig" -w '%{http_code}' -X POST \
	-F sw-description=@"$T/empty" -F distro=distro1 "$URL/sign/swupdate")"
check "empty sw-description: signature verifies" \
	openssl dgst -sha256 -verify "$T/rsa-public.pem" -signature "$T/sig" "$T/empty"

# --- fields and files apart, as the original's request.form and request.files
echo "not the file" >"$T/text"
check_eq "a file part named distro before the distro field: the field is read, 200" 200 \
	"$(curl -s -o "$T/sig" -w '%{http_code}' -X POST -F distro=@"$T/binary" -F distro=distro1 \
		-F sw-description=@"$T/sw-description" "$URL/sign/swupdate")"
check_eq "a plain sw-description field before the file: the file is signed, 200" 200 \
	"$(curl -s -o "$T/sig" -w '%{http_code}' -X POST -F "sw-description=<$T/text" \
		-F sw-description=@"$T/sw-description" -F distro=distro1 "$URL/sign/swupdate")"
check "  ... the signature is the file's" \
	openssl dgst -sha256 -verify "$T/rsa-public.pem" -signature "$T/sig" "$T/sw-description"

# --- errors -----------------------------------------------------------------
req() { # req EXPECTED_STATUS EXPECTED_BODY DESC curl-args...
	st=$1 body=$2 desc=$3
	shift 3
	got=$(curl -s -o "$T/body" -w '%{http_code}' -X POST "$@" "$URL/sign/swupdate")
	check_eq "$desc: $st" "$st $body" "$got $(cat "$T/body")"
}
req 400 "Distro name missing" "no distro" -F sw-description=@"$T/sw-description"
req 400 "Distro name missing" "empty distro" -F distro= -F sw-description=@"$T/sw-description"
# curl -X POST alone sends neither Content-Length nor a body: no body, no
# fields (RFC 9112, 6.3), as the original's server reads it
req 400 "Distro name missing" "a POST without a body"
req 400 "Distro name missing" "an empty multipart body" -H "Content-Type: multipart/form-data; boundary=x"
req 400 "Invalid sw-description" "no sw-description" -F distro=distro1
req 400 "Invalid sw-description" "sw-description as text/plain" -F distro=distro1 \
	-F "sw-description=@$T/sw-description;type=text/plain"
req 400 "Invalid sw-description" "sw-description as a plain field" -F distro=distro1 \
	-F "sw-description=<$T/sw-description"
req 400 "Invalid parameters" "distro with a slash" -F distro=a/b -F sw-description=@"$T/sw-description"
req 400 "Invalid parameters" "distro .." -F distro=.. -F sw-description=@"$T/sw-description"
got=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=distro1 -F method=DSA \
	-F sw-description=@"$T/sw-description" "$URL/sign/swupdate")
check_eq "unknown method: 400" 400 "$got"
got=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=nokeys -F method=RSA \
	-F sw-description=@"$T/sw-description" "$URL/sign/swupdate")
check_eq "missing RSA key: 404" 404 "$got"
check "missing RSA key: the reason names the file" grep -q "nokeys/swupdate/rsa-private.key" "$T/body"
got=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=nokeys -F method=CMS \
	-F sw-description=@"$T/sw-description" "$URL/sign/swupdate")
check_eq "missing CMS certificate: 404" 404 "$got"
check "missing CMS certificate: the reason names the file" grep -q "nokeys/swupdate/cms.cert" "$T/body"
got=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=unknown \
	-F sw-description=@"$T/sw-description" "$URL/sign/swupdate")
check_eq "unknown distro: 404" 404 "$got"

# --- nothing leaks ------------------------------------------------------------
check "work directory empty after the requests" sh -c "[ -z \"\$(ls -A '$DSS_WORK')\" ]"
dss_stop
check "no private key bytes in the log" python3 - "$DSS_LOG" "$D/rsa-private.key" "$D/cms-private.key" <<'PY'
import sys, re, base64
log = open(sys.argv[1], "rb").read()
for k in sys.argv[2:]:
    pem = open(k).read()
    body = "".join(l for l in pem.splitlines() if not l.startswith("-----"))
    der = base64.b64decode(body)
    for i in range(0, len(body) - 24, 24):
        assert body[i:i+24].encode() not in log, k
    for i in range(0, len(der) - 16, 16):
        assert der[i:i+16] not in log, k
PY
exit 0
