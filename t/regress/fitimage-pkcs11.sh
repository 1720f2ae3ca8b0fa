#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/fitimage-pkcs11.sh: /sign/fitimage with backend=pkcs11, signed
# in the worker (lib/fitsign.c) with the key process signing on a SoftHSM2
# token, as upstream's client sends it (keyname = the URI's body with the
# pin-value=password placeholder).  The oracle is Debian's mkimage run by
# the test with the same key as a PEM file: `mkimage -E -F -k dir ...` on
# the same FIT with the same SOURCE_DATE_EPOCH gives the same bytes, the
# FIT and, with -K, the dtb.  Also: a configuration signature and image
# signatures (sha256, sha1, sha384), -p, -r, -c, a URI without object=
# (the node's key-name-hint names the key), a URI not fitting the store's
# reference is 403, no keyname is 400, and no PIN reaches the daemon's log.
. "$(dirname "$0")/lib.sh"

MOD=/usr/lib/softhsm/libsofthsm2.so
for need in softhsm2-util mkimage dtc fdtget; do
	if ! command -v "$need" >/dev/null 2>&1; then
		skip "fitimage pkcs11" "$need is not installed (tools/deps.sh)"
		exit 0
	fi
done
[ -f "$MOD" ] || { skip "fitimage pkcs11" "$MOD missing: apt-get install softhsm2"; exit 0; }
PIN=p11pin$RANDOM$RANDOM$RANDOM

# --- the token: the key dev, also kept as a file for mkimage -----------------
softhsm_token dss-test
mkdir -p "$T/keydir"
openssl genrsa -out "$T/keydir/dev.key" 2048 2>/dev/null
openssl req -batch -new -x509 -days 30 -key "$T/keydir/dev.key" -out "$T/keydir/dev.crt" \
	-subj /CN=dev 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$T/keydir/dev.key" -out "$T/import.pem"
softhsm2-util --import "$T/import.pem" --token dss-test --label dev --id 01 --pin "$PIN" >/dev/null
printf '%s\n' "$PIN" >"$T/pin"
chmod 0600 "$T/pin"
if [ -n "$DSS_KEY_USER" ]; then chown -R "$DSS_KEY_USER" "$TOK" "$T/pin"; fi

mkdir -p "$KEYS/imx/fitimagesign"
printf '%s\n' "pkcs11:token=dss-test;object=dev;type=private" >"$KEYS/imx/fitimagesign/dev.pkcs11"
# prod is a reference to the token's dev: a client naming object=prod gets 403
printf '%s\n' "pkcs11:token=dss-test;object=dev" >"$KEYS/imx/fitimagesign/prod.pkcs11"

# --- FITs as a board's build makes them (mkimage -f) --------------------------
head -c 300001 /dev/urandom >"$T/Image"
printf '/dts-v1/;\n/ { compatible = "test,board"; };\n' | dtc -q -I dts -O dtb -o "$T/board.dtb" -
printf '/dts-v1/;\n/ { model = "u-boot"; };\n' | dtc -q -I dts -O dtb -o "$T/u-boot.dtb" -
cat >"$T/conf.its" <<EOF
/dts-v1/;
/ {
	description = "configuration signed";
	#address-cells = <1>;
	images {
		kernel-1 { data = /incbin/("$T/Image"); type = "kernel"; arch = "arm64"; os = "linux";
			compression = "none"; load = <0x80000>; entry = <0x80000>;
			hash-1 { algo = "sha256"; }; };
		fdt-1 { data = /incbin/("$T/board.dtb"); type = "flat_dt"; arch = "arm64";
			compression = "none"; hash-1 { algo = "sha256"; }; hash-2 { algo = "crc32"; }; };
	};
	configurations {
		default = "conf-1";
		conf-1 { kernel = "kernel-1"; fdt = "fdt-1";
			signature-1 { algo = "sha256,rsa2048"; key-name-hint = "dev";
				sign-images = "kernel", "fdt"; }; };
	};
};
EOF
cat >"$T/image.its" <<EOF
/dts-v1/;
/ {
	description = "images signed";
	#address-cells = <1>;
	images {
		kernel { data = /incbin/("$T/Image"); type = "kernel"; arch = "arm"; os = "linux";
			compression = "none"; load = <0x80000>; entry = <0x80000>;
			hash-1 { algo = "sha1"; };
			signature-1 { algo = "sha1,rsa2048"; key-name-hint = "dev"; }; };
		fdt-1 { data = /incbin/("$T/board.dtb"); type = "flat_dt"; arch = "arm";
			compression = "none"; hash-1 { algo = "sha512"; };
			signature-1 { algo = "sha256,rsa2048"; key-name-hint = "dev"; }; };
	};
	configurations {
		default = "conf-1";
		conf-1 { kernel = "kernel"; fdt = "fdt-1";
			signature-1 { algo = "sha384,rsa2048"; key-name-hint = "dev"; }; };
	};
};
EOF
mkimage -f "$T/conf.its" "$T/fit-conf" >/dev/null
mkimage -f "$T/image.its" "$T/fit-image" >/dev/null

dss_start DIGSIGSERVER_PKCS11_MODULE="$MOD" DIGSIGSERVER_PKCS11_PIN_FILE="$T/pin" \
	SOFTHSM2_CONF="$SOFTHSM2_CONF" DIGSIGSERVER_AUDIT_FILE="$T/audit" || exit 1

# --form-string: curl -F would cut the value at its first ';'
URI="token=dss-test;object=dev;pin-value=password"
post() { # post OUT [curl args]: the status
	_o=$1
	shift
	curl -s -o "$_o" -w '%{http_code}' -X POST -F backend=pkcs11 "$@" "$URL/sign/fitimage"
}
# ref NAME FIT [mkimage options]: mkimage -E -F with the key file on a copy
ref() {
	_r=$1 _f=$2 # not _n: lib.sh's test counter
	shift 2
	cp "$_f" "$T/$_r.ref"
	SOURCE_DATE_EPOCH=$(fdtget -t u "$_f" / timestamp) mkimage -E -F -k "$T/keydir" "$@" \
		"$T/$_r.ref" >/dev/null
}

# --- a configuration signature, no dtb ------------------------------------------
check_eq "configuration signature: 200" 200 \
	"$(post "$T/c1" --form-string "keyname=$URI" -F "artifact=@$T/fit-conf")"
ref c1 "$T/fit-conf"
check "  ... byte for byte what mkimage -E -F -k makes with the key file" cmp "$T/c1" "$T/c1.ref"
check "  ... mkimage -l shows it signed with dev" \
	sh -c "mkimage -l '$T/c1' | grep -q 'Sign algo: *sha256,rsa2048:dev' &&
		! mkimage -l '$T/c1' | grep -q 'Sign value: *unavailable'"

check_eq "curl -F cuts the URI to token=dss-test: the hint names the key, the same bytes" \
	"200" "$(post "$T/c0" -F "keyname=$URI" -F "artifact=@$T/fit-conf")"
check "  ... identical" cmp "$T/c0" "$T/c1.ref"

# --- with a dtb, -p, -r, -c: the tarball --------------------------------------
check_eq "with dtb, external_data_offset, mark_required, comment: 200" 200 \
	"$(post "$T/c2.tgz" --form-string "keyname=$URI" -F "artifact=@$T/fit-conf" -F "dtb=@$T/u-boot.dtb" \
		-F external_data_offset=2000 -F mark_required=true -F "comment=signed by ci")"
mkdir -p "$T/c2"
tar -C "$T/c2" -xzf "$T/c2.tgz"
check_eq "  ... the tarball holds fitImage and u-boot.dtb" "fitImage u-boot.dtb" \
	"$(tar -tzf "$T/c2.tgz" | sort | tr '\n' ' ' | sed 's/ $//')"
cp "$T/u-boot.dtb" "$T/c2-ref.dtb"
ref c2 "$T/fit-conf" -p 2000 -r -c "signed by ci" -K "$T/c2-ref.dtb"
check "  ... the FIT byte for byte what mkimage -E -F -p -r -c -K makes" cmp "$T/c2/fitImage" "$T/c2.ref"
check "  ... the dtb byte for byte too" cmp "$T/c2/u-boot.dtb" "$T/c2-ref.dtb"
# a dtb uploaded as fitImage.new (the name the FIT's new version takes
# while it is written) is kept as u-boot.dtb
check_eq "a dtb named fitImage.new: 200, kept as u-boot.dtb" "200 fitImage u-boot.dtb" \
	"$(post "$T/c3.tgz" --form-string "keyname=$URI" -F "artifact=@$T/fit-conf" \
		-F "dtb=@$T/u-boot.dtb;filename=fitImage.new") $(tar -tzf "$T/c3.tgz" 2>/dev/null |
		sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "  ... the dtb's key node: 2048 bits, hint dev, required conf" "2048 dev conf" \
	"$(fdtget -t u "$T/c2/u-boot.dtb" /signature/key-dev rsa,num-bits) $(fdtget \
		"$T/c2/u-boot.dtb" /signature/key-dev key-name-hint) $(fdtget "$T/c2/u-boot.dtb" \
		/signature/key-dev required)"
check_eq "  ... its modulus is the key's" \
	"$(openssl rsa -in "$T/keydir/dev.key" -noout -modulus 2>/dev/null | cut -d= -f2 | tr A-F a-f)" \
	"$(printf '%08x' $(fdtget -t x "$T/c2/u-boot.dtb" /signature/key-dev rsa,modulus | \
		sed 's/[0-9a-f]\+/0x&/g'))"

# --- image signatures, a URI without object= (the hint names the key) --------
check_eq "image signatures (sha1, sha256, sha384), keyname pkcs11:token=dss-test: 200" 200 \
	"$(post "$T/i1.tgz" --form-string "keyname=pkcs11:token=dss-test;pin-value=password" \
		-F "artifact=@$T/fit-image" -F "dtb=@$T/u-boot.dtb")"
mkdir -p "$T/i1"
tar -C "$T/i1" -xzf "$T/i1.tgz"
cp "$T/u-boot.dtb" "$T/i1-ref.dtb"
ref i1 "$T/fit-image" -K "$T/i1-ref.dtb"
check "  ... the FIT byte for byte what mkimage -E -F -K makes" cmp "$T/i1/fitImage" "$T/i1.ref"
check "  ... the dtb byte for byte too" cmp "$T/i1/u-boot.dtb" "$T/i1-ref.dtb"

# --- refusals -------------------------------------------------------------------
check_eq "no keyname: 400" 400 "$(post "$T/e1" -F "artifact=@$T/fit-conf")"
check "  ... Key URI missing for PKCS#11 backend" grep -q "Key URI missing for PKCS#11 backend" "$T/e1"
check_eq "object=prod, a reference to another object: 403" 403 \
	"$(post "$T/e2" --form-string "keyname=token=dss-test;object=prod" -F "artifact=@$T/fit-conf")"
check_eq "another token: 403" 403 \
	"$(post "$T/e3" --form-string "keyname=token=elsewhere;object=dev" -F "artifact=@$T/fit-conf")"
check_eq "no reference for the object: 404" 404 \
	"$(post "$T/e4" --form-string "keyname=token=dss-test;object=nokey" -F "artifact=@$T/fit-conf")"
# an object name longer than a key file name may be: 400, never the key
# named by its first 63 bytes (which exists)
long=$(printf 'A%.0s' $(seq 70))
printf '%s\n' "pkcs11:token=dss-test;object=dev" >"$KEYS/imx/fitimagesign/$(printf 'A%.0s' $(seq 63)).pkcs11"
check_eq "an object name of 70 bytes: 400 Invalid key name" "400 1" \
	"$(post "$T/e7" --form-string "keyname=token=dss-test;object=$long" -F "artifact=@$T/fit-conf") \
$(grep -c "Invalid key name" "$T/e7")"
check_eq "a URI choosing the module: 400 Invalid key URI" "400 1" \
	"$(post "$T/e6" --form-string "keyname=token=dss-test;object=dev;module-path=/tmp/x.so" \
		-F "artifact=@$T/fit-conf") $(grep -c "Invalid key URI" "$T/e6")"
# padding = "pss" on fdt-1's signature: a random salt, so the signature is
# checked by openssl and the rest of the FIT compared with the value zeroed
# (with PSS on a configuration, the padding of hashed-nodes keeps bytes of
# the random value, as libfdt leaves them: those differ too)
sed '/fdt-1 { data/,/}; };/ s/key-name-hint = "dev"; };/key-name-hint = "dev"; padding = "pss"; };/' \
	"$T/image.its" >"$T/pss.its"
mkimage -f "$T/pss.its" "$T/fit-pss" >/dev/null
check_eq "padding pss on an image signature: 200" 200 \
	"$(post "$T/s1" --form-string "keyname=$URI" -F "artifact=@$T/fit-pss")"
fdtget -t bi "$T/s1" /images/fdt-1/signature-1 value | tr ' ' '\n' |
	while read -r b; do printf "\\$(printf %03o "$b")"; done >"$T/s1.sig"
openssl pkey -in "$T/keydir/dev.key" -pubout -out "$T/dev.pub"
check "  ... RSA-PSS (longest salt) over the image's data, as mkimage signs it" \
	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:max \
	-verify "$T/dev.pub" -signature "$T/s1.sig" "$T/board.dtb"
ref s1 "$T/fit-pss"
zero=$(printf ' 0%.0s' $(seq 64))
# shellcheck disable=SC2086
fdtput -t x "$T/s1" /images/fdt-1/signature-1 value $zero
# shellcheck disable=SC2086
fdtput -t x "$T/s1.ref" /images/fdt-1/signature-1 value $zero
check "  ... the rest byte for byte what mkimage -E -F makes" cmp "$T/s1" "$T/s1.ref"

# --- the real PIN in the URI works and is never logged ---------------------
check_eq "the real PIN as pin-value: 200 (ignored: the key process is logged in)" 200 \
	"$(post "$T/p1" --form-string "keyname=token=dss-test;object=dev;pin-value=$PIN" \
		-F "artifact=@$T/fit-conf")"
check "  ... the same bytes" cmp "$T/p1" "$T/c1.ref"
check "no PIN in the daemon's log" sh -c "! grep -qF '$PIN' '$DSS_LOG'"
check "the audit names the key dev with its fingerprint" \
	sh -c "grep -q '\"keyname\": *\"dev\"' '$T/audit' && grep -q '\"key_sha256\": *\"[0-9a-f]\{64\}\"' '$T/audit'"

# --- a 96 MiB image: hashed from the file, the worker's memory stays small -----
head -c $((96 * 1024 * 1024)) /dev/urandom >"$T/Image"
mkimage -f "$T/conf.its" "$T/fit-big" >/dev/null
check_eq "a 96 MiB FIT with a dtb: 200" 200 \
	"$(post "$T/b1.tgz" --form-string "keyname=$URI" -F "artifact=@$T/fit-big" \
		-F "dtb=@$T/u-boot.dtb")"
mkdir -p "$T/b1"
tar -C "$T/b1" -xzf "$T/b1.tgz"
cp "$T/u-boot.dtb" "$T/b1-ref.dtb"
ref b1 "$T/fit-big" -K "$T/b1-ref.dtb"
check "  ... byte for byte what mkimage -E -F -K makes" \
	sh -c "cmp '$T/b1/fitImage' '$T/b1.ref' && cmp '$T/b1/u-boot.dtb' '$T/b1-ref.dtb'"
wait_for 10 peak_rss_kb /sign/fitimage $((96 * 1024 * 1024)) >/dev/null
peak=$(peak_rss_kb /sign/fitimage $((96 * 1024 * 1024)))
echo "# worker peak RSS signing a 96 MiB FIT: ${peak:-none} kB"
if [ -n "${DSS_SANITIZED:-}${DSS_VALGRIND:-}" ]; then
	skip "worker peak RSS signing a 96 MiB FIT" "the sanitizer or valgrind allocator"
else
	check "worker peak RSS signing a 96 MiB FIT stays under 24 MB (${peak:-no log line} kB)" \
		sh -c "[ '${peak:-0}' -gt 0 ] && [ '${peak:-0}' -lt 24576 ]"
fi
rm -f "$T/Image" "$T/fit-big" "$T/b1.tgz" "$T/b1.ref" "$T"/b1/*
