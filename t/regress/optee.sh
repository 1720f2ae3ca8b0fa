#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/optee.sh: /sign/optee through the real daemon, posted with curl
# as upstream's doc/opteesign.md client does and unpacked as it does.
# Each .ta is checked by an independent verifier written here (Python's
# standard library for the layout of OP-TEE's sign_encrypt.py and the
# digest, `openssl pkeyutl` for the RSA-PSS signature with the public key);
# the rest of the tree must come back unchanged.  Bad names, versions,
# keys and hostile tarballs get 4xx with a reason, and the work directory
# is empty afterwards.
. "$(dirname "$0")/lib.sh"

MKTAR="python3 $SRC/t/fixtures/mktar.py"
U1=8aaaf200-2450-11e4-abe2-0002a5d5c51b
U2=5b9e0e40-2636-11e1-ad9e-0002a5d5c51b
U3=A4C04D50-F180-11E8-8EB2-F2801F1B9FD1
U3L=a4c04d50-f180-11e8-8eb2-f2801f1b9fd1

# --- keys ----------------------------------------------------------------------
mkkey() { # mkkey MACHINE GENPKEY-ARGS...
	mkdir -p "$KEYS/$1/opteesign"
	_k=$KEYS/$1/opteesign/optee-signing-key.pem
	shift
	openssl genpkey "$@" -out "$_k" 2>/dev/null
	cp "$_k" "$T/$(basename "$(dirname "$(dirname "$_k")")").pem"
}
mkkey optee1 -algorithm RSA -pkeyopt rsa_keygen_bits:2048
mkkey optee3k -algorithm RSA -pkeyopt rsa_keygen_bits:3072
mkkey ec -algorithm EC -pkeyopt ec_paramgen_curve:P-256
mkdir -p "$KEYS/nokeys/opteesign"
for m in optee1 optee3k; do
	openssl pkey -in "$T/$m.pem" -pubout -out "$T/$m.pub" 2>/dev/null
done

# verify.py TA ELF PUB UUID VERSION SIGSIZE: the independent check.
cat >"$T/verify.py" <<'PY'
import hashlib, struct, subprocess, sys, tempfile, os, uuid
ta, elf, pub, want_uuid, want_ver, sig_size = sys.argv[1:7]
d = open(ta, "rb").read()
img = open(elf, "rb").read()
magic, typ, img_size, algo, hsz, ssz = struct.unpack_from("<IIIIHH", d, 0)
assert magic == 0x4F545348, "magic %#x" % magic
assert typ == 1, "img_type %d (SHDR_BOOTSTRAP_TA is 1)" % typ
assert algo == 0x70414930, "algo %#x" % algo
assert hsz == 32, "hash_size %d" % hsz
assert ssz == int(sig_size), "sig_size %d" % ssz
assert img_size == len(img), "img_size %d, ELF %d" % (img_size, len(img))
digest, sig = d[20:52], d[52:52 + ssz]
boot = d[52 + ssz:72 + ssz]
assert d[72 + ssz:] == img, "the image is not the ELF"
assert boot[:16] == uuid.UUID(want_uuid).bytes, "uuid %s" % boot[:16].hex()
ver = struct.unpack("<I", boot[16:20])[0]
assert ver == int(want_ver), "ta_version %d" % ver
assert hashlib.sha256(d[:20] + boot + img).digest() == digest, "digest"
with tempfile.TemporaryDirectory() as t:
    open(os.path.join(t, "dg"), "wb").write(digest)
    open(os.path.join(t, "sig"), "wb").write(sig)
    subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub,
                    "-in", os.path.join(t, "dg"), "-sigfile", os.path.join(t, "sig"),
                    "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32",
                    "-pkeyopt", "digest:sha256"], check=True, capture_output=True)
print("ok")
PY
verify() { python3 "$T/verify.py" "$@"; }

# --- the TA build tree, as an OP-TEE build leaves it -------------------------------
mkelf() { # mkelf PATH SIZE: an ELF-looking file
	mkdir -p "$(dirname "$1")"
	{ printf '\177ELF'; head -c "$2" /dev/urandom; } >"$1"
}
B=$T/build
mkelf "$B/ta/$U1.stripped.elf" 5000
printf '0x10\n' >"$B/ta/$U1.ta-version"
echo "$U1" >"$B/ta/$U1.uuid"
mkelf "$B/ta/$U2.stripped.elf" 70000 # no .ta-version: version 0
echo "$U2" >"$B/ta/$U2.uuid"
mkelf "$B/ta/sub/$U3.stripped.elf" 1
printf '  7 \r\nignored\n' >"$B/ta/sub/$U3.ta-version"
mkelf "$B/ta/libfoo.stripped.so" 3000
# as the doc's client makes it
(cd "$B" && find ta -type f '-(' -name '*.stripped.*' -o -name '*.uuid' -o -name '*.ta-version' '-)' |
	sort | xargs tar -c -z -f "$B/tasign-in.tar.gz")
cp -a "$B/ta" "$T/orig"

dss_start DIGSIGSERVER_AUDIT_FILE="$T/audit.log" || exit 0

# --- signing, exactly as the doc's client -------------------------------------
mkdir "$T/client"
check "the doc's curl command succeeds" sh -c "cd '$B' &&
	curl $URL/sign/optee --silent --show-error --fail -X POST -F 'machine=optee1' \
		-F'artifact=@$B/tasign-in.tar.gz' --output '$B/tasign-out.tar.gz'"
check "the doc's tar -x unpacks it" sh -c "cd '$T/client' && tar -x -f '$B/tasign-out.tar.gz'"
C=$T/client/ta
check "TA 1 (.ta-version 0x10): verifies" \
	verify "$C/$U1.ta" "$T/orig/$U1.stripped.elf" "$T/optee1.pub" "$U1" 16 256
check "TA 2 (no .ta-version): verifies with version 0" \
	verify "$C/$U2.ta" "$T/orig/$U2.stripped.elf" "$T/optee1.pub" "$U2" 0 256
check "TA 3 (subdirectory, upper-case UUID, version '  7 '): verifies" \
	verify "$C/sub/$U3.ta" "$T/orig/sub/$U3.stripped.elf" "$T/optee1.pub" "$U3L" 7 256
cp "$C/$U1.ta" "$T/tampered.ta"
# one byte of the image flipped (writing a fixed byte would change nothing
# when the random ELF already held it there: one run in 256)
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[400] ^= 0xff; open(p, "wb").write(b)' "$T/tampered.ta"
check "the verifier refuses a changed TA" sh -c "! python3 '$T/verify.py' '$T/tampered.ta' \
	'$T/orig/$U1.stripped.elf' '$T/optee1.pub' $U1 16 256"
check "ELFs and .ta-version files removed" sh -c "
	[ -z \"\$(find '$C' -name '*.stripped.elf' -o -name '*.ta-version')\" ]"
check "other files returned unchanged" sh -c "cmp '$C/libfoo.stripped.so' '$T/orig/libfoo.stripped.so' &&
	cmp '$C/$U1.uuid' '$T/orig/$U1.uuid' && cmp '$C/$U2.uuid' '$T/orig/$U2.uuid'"
check_eq "the answer holds exactly the rest of the tree and the .ta files" \
	"$(printf '%s\n' ./ta ./ta/$U1.ta ./ta/$U1.uuid ./ta/$U2.ta ./ta/$U2.uuid ./ta/libfoo.stripped.so \
		./ta/sub ./ta/sub/$U3.ta | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" \
	"$(tar -tzf "$B/tasign-out.tar.gz" | sed 's|/$||' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "the .ta files come back 0644 (rw-r--r--), as upstream writes them" "-rw-r--r-- 3" \
	"$(tar -tvzf "$B/tasign-out.tar.gz" | awk '$NF ~ /\.ta$/ {print $1}' | sort | uniq -c |
		awk '{print $2, $1}' | paste -sd' ')"
check "answer: application/octet-stream, Attachment signed-artifact.tar.gz" sh -c "
	curl -s -D - -o /dev/null -X POST -F machine=optee1 -F 'artifact=@$B/tasign-in.tar.gz' \
		'$URL/sign/optee' | tr -d '\r' >'$T/h' &&
	grep -q '^HTTP/1.1 200' '$T/h' && grep -qi '^Content-Type: application/octet-stream' '$T/h' &&
	grep -q '^Content-Disposition: Attachment; filename=\"signed-artifact.tar.gz\"' '$T/h'"

# --- a 3072-bit key: a 384-byte signature ----------------------------------------------
post() { # post NAME CURL-ARGS...: status to stdout, body to $T/NAME.out
	_name=$1
	shift
	curl -s -o "$T/$_name.out" -w '%{http_code}' -X POST "$@" "$URL/sign/optee"
}
check_eq "RSA-3072: 200" 200 "$(post k3 -F machine=optee3k -F "artifact=@$B/tasign-in.tar.gz")"
mkdir "$T/k3"
tar -C "$T/k3" -xzf "$T/k3.out"
check "RSA-3072: verifies, sig_size 384" \
	verify "$T/k3/ta/$U1.ta" "$T/orig/$U1.stripped.elf" "$T/optee3k.pub" "$U1" 16 384

# --- a tree without TAs comes back as it was ---------------------------------------
mkdir -p "$T/none/in/doc" "$T/none/out"
echo readme >"$T/none/in/doc/README"
(cd "$T/none/in" && tar -czf ../in.tar.gz .)
check_eq "no TA in the tree: 200" 200 "$(post none -F machine=optee1 -F "artifact=@$T/none/in.tar.gz")"
tar -C "$T/none/out" -xzf "$T/none.out"
check "no TA in the tree: the tree unchanged" diff -r "$T/none/in" "$T/none/out"

# --- versions as Python's int(x, 0) reads them --------------------------------------
# version TEXT WANT: a tree of one TA with that .ta-version, signed and verified
version() {
	rm -rf "$T/v" && mkdir -p "$T/v/in" "$T/v/out"
	cp "$T/orig/$U1.stripped.elf" "$T/v/in/"
	printf '%b' "$1" >"$T/v/in/$U1.ta-version"
	(cd "$T/v/in" && tar -czf ../in.tar.gz .)
	_code=$(post v -F machine=optee1 -F "artifact=@$T/v/in.tar.gz")
	if [ "$_code" = 200 ] && tar -C "$T/v/out" -xzf "$T/v.out" &&
		verify "$T/v/out/$U1.ta" "$T/orig/$U1.stripped.elf" "$T/optee1.pub" "$U1" "$2" 256 >/dev/null; then
		ok "version '$1' is $2"
	else
		not_ok "version '$1' is $2" "got $_code: $(head -c 300 "$T/v.out")"
	fi
}
version '16' 16
version '0x10\n' 16
version '0o20' 16
version '0b1_0000' 16
version '4294967295' 4294967295
version '00' 0
version '+3\n' 3

# --- refused ------------------------------------------------------------------------
# bad NAME CODE BODY-PART CURL-ARGS...
bad() {
	_name=$1 _want=$2 _body=$3
	shift 3
	_code=$(post "$_name" "$@")
	if [ "$_code" = "$_want" ] && grep -qF -- "$_body" "$T/$_name.out" &&
		[ "$(wc -l <"$T/$_name.out")" -le 1 ]; then
		ok "$_name: $_want ($(head -c 160 "$T/$_name.out"))"
	else
		not_ok "$_name: $_want $_body" "got $_code: $(head -c 300 "$T/$_name.out")"
	fi
}
# badversion NAME TEXT: a .ta-version that does not parse is 400 (upstream 500)
badversion() {
	rm -rf "$T/bv" && mkdir -p "$T/bv"
	cp "$T/orig/$U1.stripped.elf" "$T/bv/"
	printf '%b' "$2" >"$T/bv/$U1.ta-version"
	(cd "$T/bv" && tar -czf ../bv-$1.tar.gz .)
	bad "bad version $1" 400 "$U1.ta-version" -F machine=optee1 -F "artifact=@$T/bv-$1.tar.gz"
}
badversion octal-looking '010'
badversion word 'abc'
badversion too-big '4294967296'
badversion negative '-1'
badversion empty ''
badversion blank-first-line '\n5\n'
badversion double-underscore '1__0'

mkdir -p "$T/bn"
cp "$T/orig/$U1.stripped.elf" "$T/bn/hello.stripped.elf"
(cd "$T/bn" && tar -czf ../bn.tar.gz .)
bad "TA name not a UUID" 400 "not a UUID" -F machine=optee1 -F "artifact=@$T/bn.tar.gz"
$MKTAR "$T/short.tar.gz" "file:ta/8aaaf200-2450-11e4-abe2-0002a5d5c51.stripped.elf=x"
bad "TA name one digit short" 400 "not a UUID" -F machine=optee1 -F "artifact=@$T/short.tar.gz"
$MKTAR "$T/sym.tar.gz" "file:ta/x=y" "sym:ta/$U1.stripped.elf=x"
bad "TA image a symbolic link" 400 "symbolic link" -F machine=optee1 -F "artifact=@$T/sym.tar.gz"
bad "no artifact" 400 "Invalid artifact" -F machine=optee1
bad "artifact not octet-stream" 400 "Invalid artifact" -F machine=optee1 \
	-F "artifact=@$B/tasign-in.tar.gz;type=text/plain"
bad "artifact before machine, as upstream" 400 "Invalid artifact" -F machine=../x
bad "no machine" 400 "Invalid parameters" -F "artifact=@$B/tasign-in.tar.gz"
bad "no key file" 404 "optee-signing-key.pem" -F machine=nokeys -F "artifact=@$B/tasign-in.tar.gz"
bad "no key directory" 404 "" -F machine=unknown -F "artifact=@$B/tasign-in.tar.gz"
bad "EC key (not RSA)" 500 "Signing error" -F machine=ec -F "artifact=@$B/tasign-in.tar.gz"

mkdir -m 0777 "$T/outside"
$MKTAR "$T/dotdot.tar.gz" dir:ta "file:ta/../../outside/$U1.stripped.elf=x"
bad "hostile dot-dot member" 400 "Invalid artifact" -F machine=optee1 -F "artifact=@$T/dotdot.tar.gz"
$MKTAR "$T/symout.tar.gz" "sym:ta=$T/outside" "file:ta/$U1.stripped.elf=x"
bad "hostile symlink to outside" 400 "Invalid artifact" -F machine=optee1 -F "artifact=@$T/symout.tar.gz"
check "nothing written outside" sh -c "[ -z \"\$(ls -A '$T/outside')\" ]"
head -c 3000 /dev/urandom >"$T/random.tar.gz"
bad "not a tarball" 400 "Invalid artifact" -F machine=optee1 -F "artifact=@$T/random.tar.gz"

# --- audit ---------------------------------------------------------------------
check "the audit trail has a line per signing" wait_for 10 has_lines "$T/audit.log" 1
last_signed() {
	grep '"endpoint": *"optee"' "$T/audit.log" | grep '"status": *200' | head -n 1 |
		python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
fpr=$(openssl pkey -pubin -in "$T/optee1.pub" -outform DER | sha256sum | cut -d' ' -f1)
check_eq "audit: key fingerprint" "$fpr" "$(last_signed 'd["key_sha256"]')"
check_eq "audit: the upload's SHA-256" "$(sha256sum <"$B/tasign-in.tar.gz" | cut -d' ' -f1)" \
	"$(last_signed 'd["artifact_sha256"]')"
check_eq "audit: count" 3 "$(last_signed 'd["count"]')"
check_eq "audit: each .ta by its SHA-256" \
	"$(cd "$T/client" && printf '%s\n' ./ta/$U1.ta ./ta/$U2.ta ./ta/sub/$U3.ta | LC_ALL=C sort |
		xargs sha256sum | sed 's/  / /')" \
	"$(last_signed '"\n".join(i["sha256"] + " " + i["name"] for i in d["signed"])')"
check_eq "audit: the answer's SHA-256" "$(sha256sum <"$B/tasign-out.tar.gz" | cut -d' ' -f1)" \
	"$(last_signed 'd["answer_sha256"]')"

check "work directory empty" wait_for 10 work_empty

check "metrics: optee requests by status" sh -c "curl -s '$URL/metrics' >'$T/metrics' &&
	grep -q '^digsigserver_requests_total{endpoint=\"optee\",status=\"200\"} [1-9]' '$T/metrics' &&
	grep -q '^digsigserver_requests_total{endpoint=\"optee\",status=\"400\"} [1-9]' '$T/metrics'"

# --- make run's demo key store covers /sign/optee ------------------------------------
sh "$SRC/tools/demo-keys.sh" "$T/demo" >/dev/null
dss_start DIGSIGSERVER_KEYFILE_URI="file://$T/demo/keys" || exit 0
check_eq "demo key store (machine demo): 200" 200 \
	"$(post demo -F machine=demo -F "artifact=@$B/tasign-in.tar.gz")"
mkdir "$T/demo-out"
tar -C "$T/demo-out" -xzf "$T/demo.out"
openssl pkey -in "$T/demo/keys/demo/opteesign/optee-signing-key.pem" -pubout -out "$T/demo.pub"
check "demo key store: the TA verifies with the demo key" \
	verify "$T/demo-out/ta/$U1.ta" "$T/orig/$U1.stripped.elf" "$T/demo.pub" "$U1" 16 256
check "work directory empty" wait_for 10 work_empty
