#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/fitimage.sh: /sign/fitimage through the real daemon, with curl
# as upstream's doc/fitimage.md sends it.  The oracle is Debian's mkimage
# run by the test on the same FIT with the same key and SOURCE_DATE_EPOCH
# (byte for byte), mkimage -l (the signature is there) and fdtget (the
# public key in the dtb with -K).
. "$(dirname "$0")/lib.sh"

for tool in mkimage dtc fdtget; do
	if ! command -v $tool >/dev/null; then
		skip "/sign/fitimage" "$tool missing (u-boot-tools, device-tree-compiler)"
		exit 0
	fi
done

# keys: tegra/fitimagesign/devkey (upstream's example), imx/fitimagesign/dev
mkdir -p "$T/k" "$KEYS/tegra/fitimagesign" "$KEYS/imx/fitimagesign"
for name in devkey dev other; do
	openssl genrsa -out "$T/k/$name.key" 2048 2>/dev/null
	openssl req -batch -new -x509 -days 30 -key "$T/k/$name.key" -out "$T/k/$name.crt" \
		-subj "/CN=$name" 2>/dev/null
done
cp "$T/k/devkey.key" "$T/k/devkey.crt" "$KEYS/tegra/fitimagesign/"
cp "$T/k/dev.key" "$T/k/dev.crt" "$KEYS/imx/fitimagesign/"

# A FIT as a board's build makes it: kernel and fdt, one configuration
# with a signature node naming the key (hint), built by mkimage -f.
head -c 300000 /dev/urandom >"$T/Image"
printf '/dts-v1/;\n/ { compatible = "test,board"; };\n' | dtc -q -I dts -O dtb -o "$T/board.dtb" -
mkfit() { # mkfit OUT HINT [ALGO [KERNEL]]: the configuration's algo and kernel image
	cat >"$T/fit.its" <<EOF
/dts-v1/;
/ {
	description = "test FIT";
	#address-cells = <1>;
	images {
		kernel-1 { data = /incbin/("$T/Image"); type = "kernel"; arch = "arm64"; os = "linux";
			compression = "none"; load = <0x80000>; entry = <0x80000>;
			hash-1 { algo = "sha256"; }; };
		fdt-1 { data = /incbin/("$T/board.dtb"); type = "flat_dt"; arch = "arm64";
			compression = "none"; hash-1 { algo = "sha256"; }; };
	};
	configurations {
		default = "conf-1";
		conf-1 { kernel = "${4:-kernel-1}"; fdt = "fdt-1";
			signature-1 { algo = "${3:-sha256,rsa2048}"; key-name-hint = "$2";
				sign-images = "kernel", "fdt"; }; };
	};
};
EOF
	mkimage -f "$T/fit.its" "$1" >/dev/null
}
mkfit "$T/fitImage" devkey
mkfit "$T/fitImage.dev" dev
mkfit "$T/fitImage.other" other
printf '/dts-v1/;\n/ { model = "u-boot"; };\n' | dtc -q -I dts -O dtb -o "$T/u-boot.dtb" -
# (each FIT its own: the three mkimage runs above may straddle a second)
epoch=$(fdtget -t u "$T/fitImage" / timestamp)
epoch_dev=$(fdtget -t u "$T/fitImage.dev" / timestamp)

dss_start DIGSIGSERVER_AUDIT_FILE="$T/audit" || exit 1

post() { # post OUT [curl args]: the status
	_o=$1
	shift
	curl -s -o "$_o" -w '%{http_code}' -X POST "$@" "$URL/sign/fitimage"
}

# --- upstream's first example: machine, keyname, -p, -r ---------------------
check "upstream's client: curl --fail as doc/fitimage.md sends it" \
	curl --connect-timeout 30 --max-time 1800 --retry 1 --fail -s -X POST \
	-F external_data_offset=2000 -F "artifact=@$T/fitImage" \
	-F mark_required=true -F machine=tegra -F keyname=devkey \
	--output "$T/fitImage.signed" "$URL/sign/fitimage"
mkdir -p "$T/refk"
cp "$T/k/devkey.key" "$T/k/devkey.crt" "$T/refk/"
cp "$T/fitImage" "$T/ref1"
SOURCE_DATE_EPOCH=$epoch mkimage -F -k "$T/refk" -p 2000 -r "$T/ref1" >/dev/null
check "  ... byte for byte what Debian's mkimage -F -k -p 2000 -r makes" cmp "$T/fitImage.signed" "$T/ref1"
check "  ... mkimage -l shows the configuration signed with devkey" \
	sh -c "mkimage -l '$T/fitImage.signed' | grep -q 'Sign algo: *sha256,rsa2048:devkey' &&
		! mkimage -l '$T/fitImage.signed' | grep -q 'Sign value: *unavailable'"
check_eq "  ... the same request again: the same bytes (SOURCE_DATE_EPOCH from the FIT)" "" \
	"$(post "$T/again" -F external_data_offset=2000 -F "artifact=@$T/fitImage" \
		-F mark_required=true -F machine=tegra -F keyname=devkey >/dev/null
		cmp "$T/again" "$T/fitImage.signed" 2>&1)"
check "  ... the answer is named fitImage.signed" \
	sh -c "curl -s -D - -o /dev/null -X POST -F 'artifact=@$T/fitImage' -F machine=tegra \
		-F keyname=devkey '$URL/sign/fitimage' | grep -qi 'filename=\"\\?fitImage.signed'"

# --- with a dtb: -K, the tarball --------------------------------------------
check_eq "with dtb: 200" 200 "$(post "$T/out.tgz" -F "artifact=@$T/fitImage" \
	-F "dtb=@$T/u-boot.dtb" -F machine=tegra -F keyname=devkey.key -F comment="signed by CI" \
	-F algo=sha256,rsa2048)"
check_eq "  ... signed-fitImage.tar.gz holds fitImage and u-boot.dtb, no ./" "fitImage u-boot.dtb" \
	"$(tar -tzf "$T/out.tgz" | sort | tr '\n' ' ' | sed 's/ $//')"
mkdir -p "$T/x"
tar -xzf "$T/out.tgz" -C "$T/x"
cp "$T/u-boot.dtb" "$T/ref.dtb"
cp "$T/fitImage" "$T/ref2"
SOURCE_DATE_EPOCH=$epoch mkimage -F -k "$T/refk" -c "signed by CI" -K "$T/ref.dtb" \
	-o sha256,rsa2048 "$T/ref2" >/dev/null
check "  ... fitImage byte for byte as mkimage -c -K -o makes it" cmp "$T/x/fitImage" "$T/ref2"
check "  ... the dtb byte for byte too" cmp "$T/x/u-boot.dtb" "$T/ref.dtb"
check_eq "  ... the dtb holds the public key (fdtget)" "devkey sha256,rsa2048 2048" \
	"$(fdtget "$T/x/u-boot.dtb" /signature/key-devkey key-name-hint) $(fdtget "$T/x/u-boot.dtb" /signature/key-devkey algo) $(fdtget "$T/x/u-boot.dtb" /signature/key-devkey rsa,num-bits)"
check_eq "a dtb uploaded as ../../evil.dtb stays in the job: 200" 200 \
	"$(post "$T/out2.tgz" -F "artifact=@$T/fitImage" -F "dtb=@$T/u-boot.dtb;filename=../../evil.dtb" \
		-F machine=tegra -F keyname=devkey)"
check_eq "  ... its member is the base name" "evil.dtb fitImage" \
	"$(tar -tzf "$T/out2.tgz" | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "a dtb of another content type is ignored (upstream): the raw FIT" 200 \
	"$(post "$T/out3" -F "artifact=@$T/fitImage" -F "dtb=@$T/u-boot.dtb;type=text/plain" \
		-F machine=tegra -F keyname=devkey)"
check "  ... a FIT, not a tarball" sh -c "mkimage -l '$T/out3' | grep -q 'FIT description'"

# --- defaults: machine imx, keyname dev -------------------------------------
check_eq "no machine, no keyname: imx/fitimagesign/dev (200)" 200 \
	"$(post "$T/out4" -F "artifact=@$T/fitImage.dev")"
mkdir -p "$T/refd"
cp "$T/k/dev.key" "$T/k/dev.crt" "$T/refd/"
cp "$T/fitImage.dev" "$T/ref4"
SOURCE_DATE_EPOCH=$epoch_dev mkimage -F -k "$T/refd" "$T/ref4" >/dev/null
check "  ... byte for byte" cmp "$T/out4" "$T/ref4"
check_eq "keyname \" .key\" (nothing left): the FIT's key-name-hint (dev) is used" 200 \
	"$(post "$T/out5" -F "artifact=@$T/fitImage.dev" -F "keyname= .key")"
check "  ... byte for byte" cmp "$T/out5" "$T/ref4"

# --- what upstream answers 200 for, unsigned -----------------------------------
check_eq "key-name-hint naming another key than the one found: 400" 400 \
	"$(post "$T/body" -F "artifact=@$T/fitImage.other" -F machine=tegra -F keyname=devkey)"
check "  ... naming the hint and the key" \
	grep -q 'key-name-hint "other", the key found is "devkey"' "$T/body"
# the same FIT signed by the client with its own key "other": mkimage
# leaves that value in place, which the server did not make
mkdir -p "$T/otherk"
openssl genrsa -out "$T/otherk/other.key" 2048 2>/dev/null
openssl req -batch -new -x509 -key "$T/otherk/other.key" -out "$T/otherk/other.crt" \
	-days 30 -subj /CN=other 2>/dev/null
cp "$T/fitImage.other" "$T/fitImage.othersigned"
mkimage -F -k "$T/otherk" "$T/fitImage.othersigned" >/dev/null
check_eq "a FIT signed already with another key than the one found: 400" 400 \
	"$(post "$T/body" -F "artifact=@$T/fitImage.othersigned" -F machine=tegra -F keyname=devkey)"
check "  ... naming the hint and the key" \
	grep -q 'key-name-hint "other", the key found is "devkey"' "$T/body"

# --- bad input ---------------------------------------------------------------------
check_eq "no artifact: 400" 400 "$(post "$T/body" -F machine=tegra)"
check "  ... Invalid artifact" grep -qx 'Invalid artifact' "$T/body"
check_eq "backend=pkcs11 without keyname: 400" 400 \
	"$(post "$T/body" -F "artifact=@$T/fitImage" -F backend=pkcs11)"
check "  ... Key URI missing for PKCS#11 backend" grep -qx 'Key URI missing for PKCS#11 backend' "$T/body"
head -c 5000 /dev/urandom >"$T/junk"
check_eq "not a FIT: 400" 400 "$(post "$T/body" -F "artifact=@$T/junk" -F machine=tegra)"
check "  ... with a reason" grep -q '^Invalid artifact: not a valid FIT image' "$T/body"
check_eq "a machine without fitimagesign keys: 404" 404 \
	"$(post "$T/body" -F "artifact=@$T/fitImage" -F machine=nokeys)"
check_eq "keyname with a slash: 400" 400 \
	"$(post "$T/body" -F "artifact=@$T/fitImage" -F machine=tegra -F keyname=../devkey)"
check_eq "external_data_offset not hexadecimal: 400" 400 \
	"$(post "$T/body" -F "artifact=@$T/fitImage" -F machine=tegra -F keyname=devkey \
		-F external_data_offset=-x)"
# the FIT is padded up to the offset: 0x40000000 made a 1 GB answer
check_eq "external_data_offset 0x40000000: 400 naming the limit" \
	"400 Invalid parameters: external_data_offset above 0x1000000" \
	"$(post "$T/body" -F "artifact=@$T/fitImage" -F machine=tegra -F keyname=devkey \
		-F external_data_offset=0x40000000) $(cat "$T/body")"
check_eq "external_data_offset 0x1000000 (the limit): 200" 200 \
	"$(post "$T/body" -F "artifact=@$T/fitImage" -F machine=tegra -F keyname=devkey \
		-F external_data_offset=0x1000000)"
check_eq "an option smuggled in algo: 400" 400 \
	"$(post "$T/body" -F "artifact=@$T/fitImage" -F machine=tegra -F keyname=devkey \
		-F "algo=sha256 -k /")"
cp "$T/fitImage" "$T/trunc"
truncate -s 1000 "$T/trunc"
check_eq "a truncated FIT: 400" 400 "$(post "$T/body" -F "artifact=@$T/trunc" -F machine=tegra)"
# what passes the scan but mkimage refuses: the FIT's fault, with mkimage's
# reason as the native signer words it (it was 500 Signing error)
mkfit "$T/fitImage.badalgo" devkey sha256,foo2048
check_eq "a signature algorithm mkimage does not know: 400 naming it" \
	"400 Invalid parameters: signature algorithm sha256,foo2048 of the 'signature-1' signature node of configuration 'conf-1' is not supported (sha1, sha256, sha384 or sha512 with rsa2048, rsa3072 or rsa4096)" \
	"$(post "$T/body" -F "artifact=@$T/fitImage.badalgo" -F machine=tegra -F keyname=devkey) $(cat "$T/body")"
check_eq "  ... the same through the algo field (mkimage -o)" \
	"400 Invalid parameters: signature algorithm sha999,rsa2048" \
	"$(post "$T/body" -F "artifact=@$T/fitImage" -F machine=tegra -F keyname=devkey \
		-F algo=sha999,rsa2048) $(cut -d' ' -f1-5 "$T/body")"
mkfit "$T/fitImage.noimage" devkey sha256,rsa2048 kernel-9
check_eq "a configuration naming an image that is not there: 400 naming it" \
	"400 Invalid artifact: configuration 'conf-1' names image 'kernel-9', which is not there" \
	"$(post "$T/body" -F "artifact=@$T/fitImage.noimage" -F machine=tegra -F keyname=devkey) $(cat "$T/body")"
# mkimage signs ECDSA with <name>.pem, which the store does not hand over:
# it says so and exits 0, the node left without a value
mkfit "$T/fitImage.ecdsa" devkey sha256,ecdsa256
check_eq "an ECDSA FIT, the store's key RSA: 400 saying the node was not signed" \
	"400 FIT image not signed: mkimage made no signature for /configurations/conf-1/signature-1 with the key \"devkey\" (does its algo fit an RSA key?)" \
	"$(post "$T/body" -F "artifact=@$T/fitImage.ecdsa" -F machine=tegra -F keyname=devkey) $(cat "$T/body")"
# mkimage -K wants a device tree; -F then checks the signed FIT's root:
# what it refuses there is the upload's 400, not a 500 to retry
head -c 20 "$T/u-boot.dtb" >"$T/u-boot.trunc"
check_eq "a truncated dtb: 400" "400 Invalid dtb" \
	"$(post "$T/body" -F "artifact=@$T/fitImage" -F machine=tegra -F keyname=devkey \
		-F "dtb=@$T/u-boot.trunc") $(cut -d: -f1 "$T/body")"
: >"$T/u-boot.empty"
check_eq "an empty dtb: 400" "400 Invalid dtb: empty" \
	"$(post "$T/body" -F "artifact=@$T/fitImage" -F machine=tegra -F keyname=devkey \
		-F "dtb=@$T/u-boot.empty") $(cat "$T/body")"
cp "$T/fitImage" "$T/fitImage.notime"
fdtput -d "$T/fitImage.notime" / timestamp
check_eq "a FIT without a timestamp: 400" \
	"400 Invalid artifact: mkimage refuses a FIT without a timestamp at its root" \
	"$(post "$T/body" -F "artifact=@$T/fitImage.notime" -F machine=tegra -F keyname=devkey) $(cat "$T/body")"
cp "$T/fitImage" "$T/fitImage.nodesc"
fdtput -d "$T/fitImage.nodesc" / description
check_eq "a FIT without a description: 400" \
	"400 Invalid artifact: mkimage refuses a FIT without a description at its root" \
	"$(post "$T/body" -F "artifact=@$T/fitImage.nodesc" -F machine=tegra -F keyname=devkey) $(cat "$T/body")"
cp "$T/fitImage" "$T/fitImage.nohint"
fdtput -d "$T/fitImage.nohint" /configurations/conf-1/signature-1 key-name-hint
check_eq "a signature node without a key-name-hint: 400" \
	"400 Invalid artifact: /configurations/conf-1/signature-1 has no key-name-hint" \
	"$(post "$T/body" -F "artifact=@$T/fitImage.nohint" -F machine=tegra -F keyname=devkey) $(cat "$T/body")"

# --- keys ---------------------------------------------------------------------------
check "no key file is left in any job directory" \
	sh -c "! find '$DSS_WORK' -name '*.key' -o -name '*.crt' | grep -q ."
fpr=$(openssl pkey -in "$T/k/devkey.key" -pubout -outform DER | sha256sum | cut -d' ' -f1)
check "the audit record of a signed FIT: key, its fingerprint, input and output digests" \
	python3 - "$T/audit" "$fpr" "$(sha256sum <"$T/fitImage" | cut -d' ' -f1)" \
	"$(sha256sum <"$T/fitImage.signed" | cut -d' ' -f1)" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
r = [x for x in recs if x.get("endpoint") == "fitimage" and x.get("status") == 200][0]
assert r["keyname"] == "devkey" and r["key_sha256"] == sys.argv[2], r
assert r["input_sha256"] == sys.argv[3], r
assert r["signed"][0]["name"] == "fitImage" and r["signed"][0]["sha256"] == sys.argv[4], r
ops = [o["op"] for o in r["key_operations"]]
assert ops == ["MATERIALIZE", "MATERIALIZE"], ops
PY

dss_stop
exit 0
