#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/uefi.sh: /sign/tegra/uefi through the real daemon, posted with
# curl exactly as meta-tegra-signing-server's digsigserver-uefi-signing
# class does (digsig_post), for each signing_type:
#   sbsign            a real UEFI application (Debian's systemd-boot) comes
#                     back signed: sbverify --cert and osslsigncode verify
#                     accept it, and its image digest is the one Debian's
#                     sbsign gives the same input
#   signature         openssl cms -verify accepts it over the artifact
#   attach_signature  the artifact zero-padded to 2048, then the signature
#                     (checked with openssl after the split)
# Refused: not a PE (400 naming why), a bad signing type, no artifact, a
# missing key (404 naming it); the audit line and the work directory.
. "$(dirname "$0")/lib.sh"

EFI=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
for tool in sbsign sbverify osslsigncode; do
	if ! command -v "$tool" >/dev/null 2>&1 || [ ! -f "$EFI" ]; then
		skip "uefi: $tool or $EFI missing (tools/deps.sh test)"
		exit 0
	fi
done

mkdir -p "$KEYS/jetson/uefisign" "$KEYS/nocert/uefisign" "$KEYS/nokey/uefisign"
openssl req -new -nodes -batch -x509 -days 30 -subj "/O=test/CN=uefi db" -newkey rsa:2048 \
	-keyout "$KEYS/jetson/uefisign/db.key" -out "$KEYS/jetson/uefisign/db.crt" 2>/dev/null
cp "$KEYS/jetson/uefisign/db.key" "$KEYS/jetson/uefisign/db.crt" "$T/"
cp "$T/db.key" "$KEYS/nocert/uefisign/"
cp "$T/db.crt" "$KEYS/nokey/uefisign/"

dss_start DIGSIGSERVER_AUDIT_FILE="$T/audit.log" || exit 0

MACHINE=jetson
# the class's functions, with digsig_post as PROTOCOL.md gives it
digsig_post() {
	_ep=$1
	shift
	curl --connect-timeout 30 --max-time 1800 --retry 4 --silent --fail -X POST "$@" "$URL/$_ep"
}
tegra_uefi_sbsign() {
	digsig_post sign/tegra/uefi -F "machine=${MACHINE}" -F "signing_type=sbsign" -F "artifact=@$1" --output $1
}
tegra_uefi_split_sign() {
	digsig_post sign/tegra/uefi -F "machine=${MACHINE}" -F "signing_type=signature" -F "artifact=@$1" --output "$1".sig
}
tegra_uefi_attach_sign() {
	digsig_post sign/tegra/uefi -F "machine=${MACHINE}" -F "signing_type=attach_signature" -F "artifact=@$1" --output "$1".signed
}

# --- sbsign -----------------------------------------------------------------------
mkdir -p "$T/c"
cp "$EFI" "$T/c/BOOTX64.efi"
cp "$EFI" "$T/orig.efi"
in_c() { (cd "$T/c" && "$@"); }
check "sbsign: the class's request succeeds (answer over the input)" in_c tegra_uefi_sbsign BOOTX64.efi
check "sbsign: sbverify --cert db.crt accepts it" sbverify --cert "$T/db.crt" "$T/c/BOOTX64.efi"
check "sbsign: osslsigncode verify accepts it" \
	sh -c "osslsigncode verify -CAfile '$T/db.crt' -in '$T/c/BOOTX64.efi' >'$T/ossl.out' 2>&1"
check "sbsign: sbverify refuses another certificate" sh -c "
	openssl req -new -nodes -batch -x509 -days 30 -subj /CN=other -newkey rsa:2048 \
		-keyout '$T/other.key' -out '$T/other.crt' 2>/dev/null &&
	! sbverify --cert '$T/other.crt' '$T/c/BOOTX64.efi' >/dev/null 2>&1"
sbsign --key "$T/db.key" --cert "$T/db.crt" --output "$T/debian.efi" "$T/orig.efi" 2>/dev/null
# osslsigncode verify FILE: its "Current" (in the signature) and "Calculated" digests
odigest() {
	osslsigncode verify -CAfile "$T/db.crt" -in "$1" 2>&1 | sed -n "s/^$2 message digest *: *\([0-9A-F]*\).*/\1/p"
}
dgst=$(odigest "$T/debian.efi" Current)
check "sbsign: osslsigncode reads Debian sbsign's image digest" test -n "$dgst"
check_eq "sbsign: the image digest in our signature is Debian sbsign's" "$dgst" \
	"$(odigest "$T/c/BOOTX64.efi" Current)"
check_eq "sbsign: osslsigncode computes that digest of our image" "$dgst" \
	"$(odigest "$T/c/BOOTX64.efi" Calculated)"
check_eq "sbsign: same size as Debian sbsign's" "$(stat -c %s "$T/debian.efi")" \
	"$(stat -c %s "$T/c/BOOTX64.efi")"
cp "$T/c/BOOTX64.efi" "$T/c/twice.efi"
check "sbsign: a signed image signed again" in_c tegra_uefi_sbsign twice.efi
check "sbsign: signed twice, both signatures listed and verified" sh -c "
	sbverify --list '$T/c/twice.efi' | grep -q 'signature 2' &&
	sbverify --cert '$T/db.crt' '$T/c/twice.efi'"

# a kernel-sized arm64 image (an Image with its EFI stub): 40 MB, odd-sized
python3 - "$T/c/Image" <<'PY'
import os, struct, sys
text = 40 * 1024 * 1024
h = bytearray(0x200)
h[0:2] = b"MZ"
struct.pack_into("<I", h, 0x3C, 0x40)
h[0x40:0x44] = b"PE\0\0"
struct.pack_into("<HHxxxxxxxxxxxxH", h, 0x44, 0xAA64, 1, 240)
struct.pack_into("<H", h, 0x58, 0x20B)
struct.pack_into("<I", h, 0x58 + 36, 0x200)
struct.pack_into("<I", h, 0x58 + 60, 0x200)
struct.pack_into("<I", h, 0x58 + 108, 16)
h[0x148:0x14D] = b".text"
struct.pack_into("<II", h, 0x148 + 16, text, 0x200)
with open(sys.argv[1], "wb") as f:
    f.write(h)
    f.write(os.urandom(text + 5))
PY
cp "$T/c/Image" "$T/Image.orig"
sbsign --key "$T/db.key" --cert "$T/db.crt" --output "$T/Image.debian" "$T/Image.orig" 2>/dev/null
check "sbsign: a 40 MB arm64 image" in_c tegra_uefi_sbsign Image
check "sbsign: ... sbverify --cert accepts it" sbverify --cert "$T/db.crt" "$T/c/Image"
dgst=$(odigest "$T/Image.debian" Current)
check "sbsign: ... osslsigncode reads Debian sbsign's digest of it" test -n "$dgst"
check_eq "sbsign: ... its image digest is Debian sbsign's" "$dgst" "$(odigest "$T/c/Image" Calculated)"
rm -f "$T/c/Image" "$T/Image.orig" "$T/Image.debian"

# --- signature and attach_signature --------------------------------------------------
head -c 3000 /dev/urandom >"$T/c/tegra234-p3701.dtb"
head -c 4096 /dev/urandom >"$T/c/aligned.img"
check "signature: the class's request succeeds" in_c tegra_uefi_split_sign tegra234-p3701.dtb
check "signature: <file>.sig verifies with openssl cms over the file" \
	openssl cms -verify -binary -inform der -in "$T/c/tegra234-p3701.dtb.sig" \
	-content "$T/c/tegra234-p3701.dtb" -CAfile "$T/db.crt" -purpose any -out /dev/null
check "signature: not over another file" sh -c "! openssl cms -verify -binary -inform der \
	-in '$T/c/tegra234-p3701.dtb.sig' -content '$T/c/aligned.img' -CAfile '$T/db.crt' \
	-purpose any -out /dev/null 2>/dev/null"
check "signature: the attributes of openssl cms -sign (S/MIME capabilities too)" sh -c "
	openssl cms -cmsout -print -inform der -in '$T/c/tegra234-p3701.dtb.sig' >'$T/sig.txt' &&
	grep -q 'S/MIME Capabilities' '$T/sig.txt' && grep -q signingTime '$T/sig.txt' &&
	grep -q 'eContentType: pkcs7-data' '$T/sig.txt' && grep -q 'eContent: <ABSENT>' '$T/sig.txt'"
# split NAME SIZE: <file>.signed's first SIZE rounded up to 2048 bytes, and the rest
split_check() {
	_f=$T/c/$1 _sz=$2
	_p=$(((_sz + 2047) / 2048 * 2048))
	head -c "$_sz" "$_f.signed" | cmp -s - "$_f" &&
		[ "$(head -c "$_p" "$_f.signed" | tail -c +$((_sz + 1)) | tr -d '\0' | wc -c)" -eq 0 ] &&
		tail -c +$((_p + 1)) "$_f.signed" >"$_f.sigpart" &&
		openssl cms -verify -binary -inform der -in "$_f.sigpart" -content "$_f" \
			-CAfile "$T/db.crt" -purpose any -out /dev/null 2>/dev/null
}
check "attach_signature: the class's request succeeds (3000 bytes)" in_c tegra_uefi_attach_sign tegra234-p3701.dtb
check "attach_signature: the class's request succeeds (4096 bytes)" in_c tegra_uefi_attach_sign aligned.img
check "attach_signature: 3000 bytes padded to 4096, then the signature over the 3000" \
	split_check tegra234-p3701.dtb 3000
check "attach_signature: 4096 bytes (a multiple) unpadded, then the signature" \
	split_check aligned.img 4096
check "answer named artifact.signed" sh -c "
	curl -s -D - -o /dev/null -X POST -F machine=jetson -F signing_type=signature \
		-F 'artifact=@$T/c/aligned.img' '$URL/sign/tegra/uefi' | tr -d '\r' |
	grep -qi '^content-disposition: attachment; filename=\"\\?artifact.signed\"\\?$'"

# --- refused ----------------------------------------------------------------------------
post() { # post NAME CURL-ARGS...: status to stdout, body to $T/NAME.out
	_name=$1
	shift
	curl -s -o "$T/$_name.out" -w '%{http_code}' -X POST "$@" "$URL/sign/tegra/uefi"
}
bad() { # bad NAME CODE BODY CURL-ARGS...
	_name=$1 _want=$2 _body=$3
	shift 3
	_code=$(post "$_name" "$@")
	if [ "$_code" = "$_want" ] && grep -qF -- "$_body" "$T/$_name.out"; then
		ok "$_name: $_want ($(head -c 160 "$T/$_name.out"))"
	else
		not_ok "$_name: $_want $_body" "got $_code: $(head -c 300 "$T/$_name.out")"
	fi
}
bad "sbsign of a DTB (not a PE)" 400 "Invalid artifact: no DOS header" \
	-F machine=jetson -F signing_type=sbsign -F "artifact=@$T/c/aligned.img"
bad "not a PE, before the keys" 400 "Invalid artifact: no DOS header" \
	-F machine=nokeys -F signing_type=sbsign -F "artifact=@$T/c/aligned.img"
printf 'MZ' >"$T/mz.bin"
head -c 200 /dev/zero >>"$T/mz.bin"
bad "sbsign of MZ without PE" 400 "Invalid artifact: no PE signature" \
	-F machine=jetson -F signing_type=sbsign -F "artifact=@$T/mz.bin"
: >"$T/empty.bin"
bad "sbsign of an empty file" 400 "Invalid artifact" \
	-F machine=jetson -F signing_type=sbsign -F "artifact=@$T/empty.bin"
bad "signing_type Sbsign (case-sensitive)" 400 "Invalid parameters" \
	-F machine=jetson -F signing_type=Sbsign -F "artifact=@$EFI"
bad "no signing_type" 400 "Invalid parameters" -F machine=jetson -F "artifact=@$EFI"
bad "no artifact (checked first)" 400 "Invalid artifact" -F machine=jetson -F signing_type=bogus
bad "artifact as a field" 400 "Invalid artifact" -F machine=jetson -F signing_type=sbsign \
	-F artifact=text
bad "no key set for the machine" 404 "db.crt" -F machine=nokeys -F signing_type=signature \
	-F "artifact=@$EFI"
bad "db.crt missing: 404 naming it" 404 "db.crt" -F machine=nocert -F signing_type=sbsign \
	-F "artifact=@$EFI"
bad "db.key missing: 404 naming it" 404 "db.key" -F machine=nokey -F signing_type=attach_signature \
	-F "artifact=@$EFI"

# --- audit -------------------------------------------------------------------------------
check "the audit trail has the signings" wait_for 10 has_lines "$T/audit.log" 6
first_signed() { # first_signed TYPE EXPR
	grep '"endpoint": *"tegra/uefi"' "$T/audit.log" | grep '"status": *200' |
		grep "\"signing_type\": *\"$1\"" | head -n 1 |
		python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"
}
fpr=$(openssl x509 -in "$T/db.crt" -pubkey -noout | openssl pkey -pubin -outform DER |
	sha256sum | cut -d' ' -f1)
check_eq "audit: key fingerprint" "$fpr" "$(first_signed sbsign 'd["key_sha256"]')"
check_eq "audit: sbsign input SHA-256" "$(sha256sum <"$EFI" | cut -d' ' -f1)" \
	"$(first_signed sbsign 'd["input_sha256"]')"
check_eq "audit: sbsign answer SHA-256" \
	"$(sha256sum <"$T/c/BOOTX64.efi" | cut -d' ' -f1)" \
	"$(first_signed sbsign 'd["answer_sha256"]')"
check_eq "audit: signature input SHA-256" "$(sha256sum <"$T/c/tegra234-p3701.dtb" | cut -d' ' -f1)" \
	"$(first_signed signature 'd["input_sha256"]')"
check_eq "audit: signature answer SHA-256" \
	"$(sha256sum <"$T/c/tegra234-p3701.dtb.sig" | cut -d' ' -f1)" \
	"$(first_signed signature 'd["answer_sha256"]')"
check "work directory empty" wait_for 10 work_empty
check "metrics: uefi requests by status" sh -c "curl -s '$URL/metrics' >'$T/metrics' &&
	grep -q '^digsigserver_requests_total{endpoint=\"tegra/uefi\",status=\"200\"} [1-9]' '$T/metrics' &&
	grep -q '^digsigserver_requests_total{endpoint=\"tegra/uefi\",status=\"400\"} [1-9]' '$T/metrics'"

# --- access control: a client's endpoint is tegra/uefi, its selectors reach the grant ---
h() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
tok_uefi=uefi-$(openssl rand -hex 16)
tok_tegra=tegra-$(openssl rand -hex 16)
cat >"$T/tokens" <<EOT
uefi     tegra/uefi   jetson     sha256:$(h "$tok_uefi")
tegra    tegra        *          sha256:$(h "$tok_tegra")
EOT
dss_start DIGSIGSERVER_TOKENS_FILE="$T/tokens" || exit 0
check_eq "tokens: a client granted tegra/uefi and jetson: 200" 200 "$(post tok1 \
	-H "Authorization: Bearer $tok_uefi" -F machine=jetson -F signing_type=signature \
	-F "artifact=@$T/c/aligned.img")"
check_eq "  ... the same client for machine nokey: 403" 403 "$(post tok2 \
	-H "Authorization: Bearer $tok_uefi" -F machine=nokey -F signing_type=signature \
	-F "artifact=@$T/c/aligned.img")"
check_eq "tokens: a client granted tegra only: 403 on tegra/uefi" 403 "$(post tok3 \
	-H "Authorization: Bearer $tok_tegra" -F machine=jetson -F signing_type=signature \
	-F "artifact=@$T/c/aligned.img")"

# --- make run's demo key store covers /sign/tegra/uefi -----------------------------------
sh "$SRC/tools/demo-keys.sh" "$T/demo" >/dev/null
dss_start DIGSIGSERVER_KEYFILE_URI="file://$T/demo/keys" || exit 0
cp "$EFI" "$T/c/demo.efi"
MACHINE=demo
check "demo key store (machine demo): 200" in_c tegra_uefi_sbsign demo.efi
check "demo key store: verifies with the demo db.crt" \
	sbverify --cert "$T/demo/keys/demo/uefisign/db.crt" "$T/c/demo.efi"
check "work directory empty" wait_for 10 work_empty
