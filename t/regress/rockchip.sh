#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/rockchip.sh: /sign/rk, /sign/rkoptee-tee and /sign/rkoptee-ta
# through the real daemon, with curl as upstream's doc/rksign.md and
# doc/rk-opteesign.md send it, against a DIGSIGSERVER_RK_TOOLS_PATH tree of
# fakes (t/fixtures/fake_rktool.sh: executables with a shebang, found on
# PATH as upstream finds them) that check their exact argv and that each
# key file holds the store's bytes, and write deterministic output.  Also:
# the 400s of the spec (artifact_type missing: 400, upstream 500), the
# fit-image answer's name and "./" members, a failing tool (500, the key
# masked in the log), a hanging one (504, /status progress), audit, and
# that no key file outlives its job.
. "$(dirname "$0")/lib.sh"

RK=$T/rk
REC=$T/rec
mkdir -p "$REC" "$RK/rkbin-tools"
chmod 1777 "$REC"
fake() { sed "s|@REC@|$REC|" "$SRC/t/fixtures/fake_rktool.sh" >"$1" && chmod 0755 "$1"; }
for f in rkbin-tools/rk_sign_tool rkbin-tools/boot_merger change_puk resign_ta.py mkimage; do
	fake "$RK/$f"
done
printf '[System]\nKEY_PATH=\n' >"$RK/rkbin-tools/setting.ini"
cp "$RK/rkbin-tools/setting.ini" "$T/setting.ini.orig"
chmod -R a+rX "$RK"

# --- keys ---------------------------------------------------------------------
M=idea3588
mkdir -p "$KEYS/$M/rksign" "$KEYS/$M/rkopteesign"
(
	cd "$KEYS/$M/rksign" || exit 1
	openssl genrsa -out dev.key 2048 2>/dev/null
	openssl req -batch -new -x509 -key dev.key -out dev.crt -days 30 -subj /CN=dev 2>/dev/null
	openssl pkey -in dev.key -pubout -out dev.pubkey
	cd "$KEYS/$M/rkopteesign" || exit 1
	openssl genrsa -out optee-signing-key.pem 2048 2>/dev/null
	openssl pkey -in optee-signing-key.pem -pubout -out optee-signing-pubkey.pem
)
mkdir -p "$T/keycopy"
cp -r "$KEYS"/. "$T/keycopy/"
for f in "$T/keycopy/$M"/*/*; do
	sha256sum <"$f" | cut -d' ' -f1 >"$REC/sum.$(basename "$f")"
done
ks() { cut -c1-16 "$REC/sum.$1"; }
fpr() { openssl pkey -in "$T/keycopy/$M/$1" -pubout -outform DER 2>/dev/null ||
	openssl pkey -pubin -in "$T/keycopy/$M/$1" -outform DER; }
chmod 0644 "$REC"/sum.*

head -c 5000 /dev/urandom >"$T/idblock.img"
head -c 7000 /dev/urandom >"$T/loader.bin"
head -c 9000 /dev/urandom >"$T/rk3588_bl32_v1.14.bin"

# post PATH [curl args]: the status; the answer in $T/out, headers in $T/hdr
post() {
	_p=$1
	shift
	rm -f "$T/out" "$T/hdr"
	curl -s --max-time 60 -D "$T/hdr" -o "$T/out" -w '%{http_code}' -X POST "$@" "$URL/sign/$_p"
}
body() { cat "$T/out" 2>/dev/null; }
dispo() { sed -n 's/^Content-Disposition:.*filename="\{0,1\}\([^";]*\)"\{0,1\}.*/\1/ip' "$T/hdr" | tr -d '\r'; }
calls() { cat "$REC/calls" 2>/dev/null; }
fresh() { rm -f "$REC/calls" "$REC/fail" "$REC"/fail.* "$REC"/hang.*; }
stray_keys() { # a file with one of our keys' bytes in /tmp or the work dir, but the stores
	find /tmp "$DSS_WORK" \( -path "$KEYS" -o -path "$T/keycopy" \) -prune -o \
		\( -name 'dev.key' -o -name dev.crt -o -name dev.pubkey -o \
		-name 'optee-signing-*.pem' -o -path '*/job-*' \) -type f -print 2>/dev/null |
		while read -r f; do
			grep -qx "$(sha256sum <"$f" | cut -d' ' -f1)" "$REC"/sum.* && echo "$f"
		done | grep .
}
no_keys_left() {
	wait_for 10 no_job_dirs &&
		bash -c "$(declare -f stray_keys); KEYS='$KEYS' T='$T' REC='$REC' DSS_WORK='$DSS_WORK'; ! stray_keys"
}
# the job's directories as the fakes see them, for the calls' argv
J='[^ ]*/job-[^/ ]*'

# SOURCE_DATE_EPOCH: the timestamps a FIT from fit.its gets (as mkimage -f
# writes them), for the byte comparisons below
EPOCH=1700000000
dss_start SOURCE_DATE_EPOCH=$EPOCH DIGSIGSERVER_RK_TOOLS_PATH="$RK" \
	DIGSIGSERVER_AUDIT_FILE="$T/audit" || exit 1

# ============================================================================
# /sign/rk: idblock and usbloader
# ============================================================================
fresh
check "rk idblock: doc/rksign.md's curl line succeeds" \
	curl --silent --fail -X POST -F "machine=idea3588" -F "soctype=rk3588" \
	-F "artifact=@$T/idblock.img" -F "artifact_type=idblock" \
	--output "$T/idblock.img.signed" "$URL/sign/rk"
check "  ... every fake saw its exact argv and the store's keys" test ! -e "$REC/fail"
check "  ... rk_sign_tool cc --chip 3588, lk --key K/dev.key --pubkey K/dev.pubkey, sb --idb W/artifact.bin" \
	python3 - "$REC/calls" <<'PY'
import re, sys
c = open(sys.argv[1]).read().splitlines()
J = r"/\S*/job-[^/ ]*"
pat = [r"rk_sign_tool cc --chip 3588",
       r"rk_sign_tool lk --key (%s)/keys/dev\.key --pubkey \1/keys/dev\.pubkey" % J,
       r"rk_sign_tool sb --idb %s/work/artifact\.bin" % J]
assert len(c) == len(pat), c
for l, p in zip(c, pat):
    assert re.fullmatch(p, l), (l, p)
PY
check "  ... the answer is the image signed in place (chip, key, no ss flag)" cmp "$T/idblock.img.signed" \
	<(cat "$T/idblock.img"; printf 'FAKE-rk_sign_tool sb\nchip=3588\nkey=%s\n' "$(ks dev.key)")
check_eq "  ... the tree's setting.ini is untouched (the job's copy was used)" \
	"$(cat "$T/setting.ini.orig")" "$(cat "$RK/rkbin-tools/setting.ini")"
check "  ... no key file left" no_keys_left

fresh
check_eq "rk usbloader: rk3566, artifact_type USBLOADER, burn_key_hash=YES: 200" 200 \
	"$(post rk -F machine=$M -F soctype=rk3566 -F artifact_type=USBLOADER -F burn_key_hash=YES \
	-F "artifact=@$T/loader.bin")"
check_eq "  ... named artifact.signed" artifact.signed "$(dispo)"
check_eq "  ... cc 3566, lk, ss --flag 0x20, sl --loader" \
	"cc --chip 3566|lk|ss --flag 0x20|sl --loader" \
	"$(sed -E "s#^rk_sign_tool ##; s# --key .*##; s# $J/work/artifact.bin##" "$REC/calls" | paste -sd'|')"
check "  ... the fakes were content" test ! -e "$REC/fail"
check "  ... the answer holds the flag" cmp "$T/out" \
	<(cat "$T/loader.bin"; printf 'FAKE-rk_sign_tool sl\nchip=3566\nkey=%s\nflag=0x20\n' "$(ks dev.key)")
for v in on 1 True t y; do
	fresh
	post rk -F machine=$M -F soctype=rk3568 -F artifact_type=idblock -F "burn_key_hash=$v" \
		-F "artifact=@$T/idblock.img" >/dev/null
	check "rk: burn_key_hash=$v runs ss" grep -q "^rk_sign_tool ss --flag 0x20$" "$REC/calls"
done
for v in no 0 off false ""; do
	fresh
	post rk -F machine=$M -F soctype=rk3568 -F artifact_type=idblock -F "burn_key_hash=$v" \
		-F "artifact=@$T/idblock.img" >/dev/null
	check "rk: burn_key_hash='$v' runs no ss" sh -c "grep -q ' sb ' '$REC/calls' && ! grep -q ' ss ' '$REC/calls'"
done

# ============================================================================
# /sign/rk: fit-image
# ============================================================================
mkdir -p "$T/fit" "$T/fit2/sub"
head -c 3000 /dev/urandom >"$T/fit/fitImage"
head -c 1000 /dev/urandom >"$T/fit/uboot.dtb"
(cd "$T/fit" && tar -czf "$T/input.tar.gz" fitImage uboot.dtb)
fresh
echo "-F -K uboot.dtb -p 0x1000 -k {K} -r fitImage" >"$REC/expect.mkimage"
check "rk fit-image: doc/rksign.md's curl line (its -F before external_data_offset restored) succeeds" \
	curl --silent --fail -X POST -F "machine=idea3588" -F "soctype=rk3588" \
	-F "artifact=@$T/input.tar.gz" -F "artifact_type=fit-image" -F external_data_offset=0x1000 \
	--output "$T/output.tar.gz" "$URL/sign/rk"
check "  ... mkimage -F -K uboot.dtb -p 0x1000 -k <keys> -r fitImage, with dev.key and dev.crt" \
	test ! -e "$REC/fail" -a -s "$REC/calls"
check_eq "  ... the whole tree, ./ members" "./fitImage ./uboot.dtb" \
	"$(tar -tzf "$T/output.tar.gz" | grep -v '^\./$' | sort | paste -sd' ')"
mkdir -p "$T/fitout"
tar -xzf "$T/output.tar.gz" -C "$T/fitout"
check "  ... fitImage and uboot.dtb as mkimage left them" bash -c "
	cmp '$T/fitout/fitImage' <(cat '$T/fit/fitImage'; printf 'FAKE-mkimage %s\n' '$(ks dev.key)') &&
	cmp '$T/fitout/uboot.dtb' <(cat '$T/fit/uboot.dtb'; printf 'FAKE-pubkey %s\n' '$(ks dev.key)')"
check "  ... no key file left" no_keys_left

# re-sign from fit.its, no uboot.dtb, other inputs returned too
head -c 2000 /dev/urandom >"$T/fit2/fitImage"
printf '/dts-v1/;\n/ { };\n' >"$T/fit2/fit.its"
head -c 100 /dev/urandom >"$T/fit2/sub/Image"
(cd "$T/fit2" && tar -czf "$T/input2.tar.gz" fitImage fit.its sub)
fresh
echo "-F -E -k {K} -r fitImage" >"$REC/expect.mkimage"
check_eq "rk fit-image with fit.its, no uboot.dtb: 200" 200 "$(post rk -F machine=$M \
	-F soctype=rk3588 -F artifact_type=Fit-Image -F "artifact=@$T/input2.tar.gz")"
check "  ... dtc compiled fit.its, then mkimage -F -E -k <keys> -r fitImage" \
	test ! -e "$REC/fail" -a -s "$REC/calls"
mkdir -p "$T/fit2out"
tar -xzf "$T/out" -C "$T/fit2out"
# what dtc makes, and the same stamped (fdtput packs it: compared as source)
dtc -I dts -O dtb -p 500 -o "$T/fit2.dtb" "$T/fit2/fit.its" 2>/dev/null
cp "$T/fit2.dtb" "$T/fit2s.dtb"
fdtput -t u "$T/fit2s.dtb" / timestamp $EPOCH
n=$(stat -c %s "$T/fit2.dtb")
check "  ... fitImage is fit.its compiled and stamped (as mkimage -f does), then signed" bash -c "
	cmp <(dtc -I dtb -O dts <(head -c $n '$T/fit2out/fitImage') 2>/dev/null) \
		<(dtc -I dtb -O dts '$T/fit2s.dtb' 2>/dev/null) &&
	cmp <(tail -c +$((n + 1)) '$T/fit2out/fitImage') <(printf 'FAKE-mkimage %s\n' '$(ks dev.key)')"
check_eq "  ... named signed-artifact.tar.gz (upstream: \"['fitImage', 'uboot.dtb']\")" \
	signed-artifact.tar.gz "$(dispo)"
check_eq "  ... the whole tree, ./ members" "./fit.its ./fitImage ./sub ./sub/Image" \
	"$(tar -tzf "$T/out" | grep -v '^\./$' | sed 's|/$||' | sort | paste -sd' ')"

# its_refused NAME INCBIN: a tree of one fit.its whose image is
# /incbin/(INCBIN) is refused before mkimage runs or a key is fetched
its_refused() {
	mkdir -p "$T/its-$1"
	printf '/dts-v1/;\n/ { images { k { data = /incbin/("%s"); }; }; };\n' "$2" \
		>"$T/its-$1/fit.its"
	(cd "$T/its-$1" && tar -czf "$T/its-$1.tar.gz" fit.its)
	fresh
	check_eq "rk fit-image, fit.its including $2: 400" \
		"400 Invalid artifact: dtc cannot compile fit.its" "$(post rk -F machine=$M \
		-F soctype=rk3588 -F artifact_type=fit-image -F "artifact=@$T/its-$1.tar.gz") $(body)"
	check "  ... no mkimage ran, no key was fetched" test ! -e "$REC/calls"
}
# the key file mkimage gets (the tree goes back to the client): compiled
# before the key is there, so dtc finds nothing to include and the key
# never reaches the answer
its_refused key ../keys/dev.key
# a file that never ends: dtc runs within eight times the tree's bytes and
# 512 MiB more, so it is refused at once, not when the response timeout
# kills the worker
its_refused zero /dev/zero

# Debian's mkimage (none in the tools tree: PATH finds the system's), on a
# real fit.its with an image and a signature node: the same bytes as
# upstream's mkimage -f fit.its -E -k <keys> -r fitImage on the same tree
if command -v mkimage >/dev/null && command -v dtc >/dev/null; then
	mkdir -p "$T/fitr" "$T/fitref"
	head -c 5000 /dev/urandom >"$T/fitr/k1.bin"
	cat >"$T/fitr/fit.its" <<'EOT'
/dts-v1/;
/ {
	description = "rk";
	#address-cells = <1>;
	images {
		uboot {
			data = /incbin/("k1.bin");
			type = "standalone"; arch = "arm64"; os = "U-Boot"; compression = "none";
			load = <0x200000>;
			hash-1 { algo = "sha256"; };
		};
	};
	configurations {
		default = "conf";
		conf {
			firmware = "uboot";
			signature-1 { algo = "sha256,rsa2048"; key-name-hint = "dev"; sign-images = "firmware"; };
		};
	};
};
EOT
	(cd "$T/fitr" && tar -czf "$T/inputr.tar.gz" fit.its k1.bin)
	cp "$T/fitr/fit.its" "$T/fitr/k1.bin" "$T/fitref/"
	(cd "$T/fitref" && SOURCE_DATE_EPOCH=$EPOCH mkimage -f fit.its -E -k "$T/keycopy/$M/rksign" \
		-r fitImage >/dev/null)
	mv "$RK/mkimage" "$RK/mkimage.fake"
	fresh
	check_eq "rk fit-image from fit.its, Debian's mkimage: 200" 200 "$(post rk -F machine=$M \
		-F soctype=rk3588 -F artifact_type=fit-image -F "artifact=@$T/inputr.tar.gz")"
	mv "$RK/mkimage.fake" "$RK/mkimage"
	mkdir -p "$T/fitrout"
	tar -xzf "$T/out" -C "$T/fitrout"
	check "  ... the bytes upstream's mkimage -f makes" cmp "$T/fitrout/fitImage" "$T/fitref/fitImage"
	check "  ... mkimage -l: the configuration signed with dev" sh -c "
		mkimage -l '$T/fitrout/fitImage' | grep -q 'Sign algo: *sha256,rsa2048:dev' &&
		! mkimage -l '$T/fitrout/fitImage' | grep -q 'Sign value: *unavailable'"
	check "  ... no key file left" no_keys_left
	mv "$RK/mkimage" "$RK/mkimage.fake"
	# what Debian's mkimage -F refuses whatever the key: the upload's 400
	mkdir -p "$T/fitj"
	head -c 3000 /dev/urandom >"$T/fitj/fitImage"
	(cd "$T/fitj" && tar -czf "$T/inputj.tar.gz" fitImage)
	c=$(post rk -F machine=$M -F soctype=rk3588 -F artifact_type=fit-image \
		-F "artifact=@$T/inputj.tar.gz")
	check_eq "rk fit-image, a fitImage that is no FIT, Debian's mkimage: 400" \
		"400 Invalid artifact: not a valid FIT image" "$c $(cut -d: -f1-2 "$T/out")"
	mkdir -p "$T/fitd"
	cp "$T/fitref/fitImage" "$T/fitd/fitImage"
	head -c 30 "$T/fitref/fitImage" >"$T/fitd/uboot.dtb"
	(cd "$T/fitd" && tar -czf "$T/inputd.tar.gz" fitImage uboot.dtb)
	c=$(post rk -F machine=$M -F soctype=rk3588 -F artifact_type=fit-image \
		-F "artifact=@$T/inputd.tar.gz")
	check_eq "  ... a uboot.dtb that is no device tree: 400" "400 Invalid dtb" \
		"$c $(cut -d: -f1 "$T/out")"
	mv "$RK/mkimage.fake" "$RK/mkimage"
else
	skip "rk fit-image from fit.its with Debian's mkimage" "needs mkimage and dtc"
fi

# a tarball with _tools/mkimage (upstream's PATH puts <work>/_tools first):
# the tree's mkimage runs, never the upload's
mkdir -p "$T/fit3/_tools"
cp "$T/fit/fitImage" "$T/fit3/"
printf '#!/bin/sh\ntouch %s/uploaded-ran\n' "$REC" >"$T/fit3/_tools/mkimage"
chmod 0755 "$T/fit3/_tools/mkimage"
(cd "$T/fit3" && tar -czf "$T/input3.tar.gz" .)
fresh
echo "-F -k {K} -r fitImage" >"$REC/expect.mkimage"
check_eq "rk fit-image: an upload with an executable _tools/mkimage: 200" 200 "$(post rk \
	-F machine=$M -F soctype=rk3588 -F artifact_type=fit-image -F "artifact=@$T/input3.tar.gz")"
check "  ... the tree's mkimage ran (-F -k <keys> -r fitImage), not the upload's" \
	test ! -e "$REC/uploaded-ran" -a ! -e "$REC/fail" -a -s "$REC/calls"

# ============================================================================
# /sign/rk: refused
# ============================================================================
fresh
A=(-F "artifact=@$T/idblock.img")
check_eq "rk: no artifact: 400 Invalid artifact" "400 Invalid artifact" \
	"$(post rk -F machine=$M -F soctype=rk3588 -F artifact_type=idblock) $(body)"
check_eq "rk: soctype 3588 (doc's wording): 400 Invalid parameters" "400 Invalid parameters" \
	"$(post rk -F machine=$M -F soctype=3588 -F artifact_type=idblock "${A[@]}") $(body)"
check_eq "rk: no soctype: 400 Invalid parameters" "400 Invalid parameters" \
	"$(post rk -F machine=$M -F artifact_type=idblock "${A[@]}") $(body)"
check_eq "rk: the doc's artfiact_type typo (no artifact_type): 400 Invalid artifact type" \
	"400 Invalid artifact type" "$(post rk -F machine=$M -F soctype=rk3588 \
	-F "artifact=@$T/input.tar.gz" -F artfiact_type=fit-image) $(body)"
check_eq "rk: artifact_type uboot: 400 Invalid artifact type" "400 Invalid artifact type" \
	"$(post rk -F machine=$M -F soctype=rk3588 -F artifact_type=uboot "${A[@]}") $(body)"
check_eq "rk: no machine: 400 Invalid parameters" "400 Invalid parameters" \
	"$(post rk -F soctype=rk3588 -F artifact_type=idblock "${A[@]}") $(body)"
check_eq "rk: machine ../$M: 400" 400 \
	"$(post rk -F machine=../$M -F soctype=rk3588 -F artifact_type=idblock "${A[@]}")"
check_eq "rk fit-image: external_data_offset -x: 400" 400 "$(post rk -F machine=$M \
	-F soctype=rk3588 -F artifact_type=fit-image -F external_data_offset=-x \
	-F "artifact=@$T/input.tar.gz")"
check_eq "rk fit-image: external_data_offset ffffffff: 400 naming the limit" \
	"400 Invalid parameters: external_data_offset above 0x1000000" "$(post rk -F machine=$M \
	-F soctype=rk3588 -F artifact_type=fit-image -F external_data_offset=ffffffff \
	-F "artifact=@$T/input.tar.gz") $(body)"
python3 -c "
import io, tarfile
with tarfile.open('$T/evil.tar.gz', 'w:gz') as t:
    i = tarfile.TarInfo('../evil'); i.size = 1; t.addfile(i, io.BytesIO(b'x'))"
check_eq "rk fit-image: a member ../evil: 400" 400 "$(post rk -F machine=$M -F soctype=rk3588 \
	-F artifact_type=fit-image -F "artifact=@$T/evil.tar.gz")"
check_eq "rk fit-image: not a tarball: 400" 400 "$(post rk -F machine=$M -F soctype=rk3588 \
	-F artifact_type=fit-image "${A[@]}")"
check "  ... no tool ran for any of them" test ! -e "$REC/calls"
mkdir -p "$KEYS/nopub/rksign"
cp "$T/keycopy/$M/rksign/dev.key" "$T/keycopy/$M/rksign/dev.crt" "$KEYS/nopub/rksign/"
dss_fix_keys
check_eq "rk idblock: no dev.pubkey: 404" 404 "$(post rk -F machine=nopub -F soctype=rk3588 \
	-F artifact_type=idblock "${A[@]}")"
check "  ... naming it" grep -q "nopub/rksign/dev.pubkey" "$T/out"
check_eq "rk: a machine without rksign: 404" 404 "$(post rk -F machine=nothing \
	-F soctype=rk3588 -F artifact_type=idblock "${A[@]}")"
check "  ... no tool ran" test ! -e "$REC/calls"

# ============================================================================
# /sign/rkoptee-tee, /sign/rkoptee-ta
# ============================================================================
fresh
cd "$T" || exit 1
check "rkoptee-tee: doc/rk-opteesign.md's curl line succeeds" \
	curl --silent --fail -X POST -F "machine=idea3588" -F "artifact=@rk3588_bl32_v1.14.bin" \
	--output bl32.signed "$URL/sign/rkoptee-tee"
check "  ... change_puk --teebin W/tee.bin --key K/optee-signing-pubkey.pem" \
	test ! -e "$REC/fail" -a "$(wc -l <"$REC/calls")" = 1
check "  ... the answer is tee.bin as change_puk left it" cmp "$T/bl32.signed" \
	<(cat "$T/rk3588_bl32_v1.14.bin"; printf 'FAKE-change_puk %s\n' "$(ks optee-signing-pubkey.pem)")
check_eq "rkoptee-tee: named tee.bin.signed" "200 tee.bin.signed" \
	"$(post rkoptee-tee -F machine=$M -F "artifact=@$T/rk3588_bl32_v1.14.bin") $(dispo)"
check_eq "rkoptee-tee: no artifact: 400 Invalid artifact" "400 Invalid artifact" \
	"$(post rkoptee-tee -F machine=$M) $(body)"

mkdir -p "$T/tas/lib/optee_armtz" "$T/tas/other"
for u in 0b7d0a10-0f87-4d3e-9f48-7e4a8f3c2a11 8aaaf200-2450-11e4-abe2-0002a5d5c51b; do
	head -c 4000 /dev/urandom >"$T/tas/lib/optee_armtz/$u.ta"
done
head -c 500 /dev/urandom >"$T/tas/other/c.ta"
echo readme >"$T/tas/other/README"
cp -r "$T/tas" "$T/tas.orig"
fresh
(cd "$T/tas" && find . -type f -name '*.ta' | xargs tar -czf "$T/ta-files.tar.gz")
check "rkoptee-ta: doc/rk-opteesign.md's find | tar, curl line succeeds" \
	curl --silent --fail -X POST -F "machine=idea3588" -F "artifact=@ta-files.tar.gz" \
	--output ta-files-resigned.tar.gz "$URL/sign/rkoptee-ta"
check "  ... resign_ta.py --key K/optee-signing-key.pem --in W/<ta>, each TA in name order" \
	python3 - "$REC/calls" <<'PY'
import re, sys
c = open(sys.argv[1]).read().splitlines()
names = ["lib/optee_armtz/0b7d0a10-0f87-4d3e-9f48-7e4a8f3c2a11.ta",
         "lib/optee_armtz/8aaaf200-2450-11e4-abe2-0002a5d5c51b.ta", "other/c.ta"]
assert len(c) == 3, c
for l, n in zip(c, names):
    assert re.fullmatch(r"resign_ta\.py --key (/\S*/job-[^/ ]*)/keys/optee-signing-key\.pem "
                        r"--in \1/work/" + re.escape(n), l), l
PY
check "  ... the fakes were content" test ! -e "$REC/fail"
mkdir -p "$T/taout"
tar -xzf "$T/ta-files-resigned.tar.gz" -C "$T/taout"
check_eq "  ... signed-artifact.tar.gz of the whole tree, ./ members" \
	"./lib ./lib/optee_armtz ./lib/optee_armtz/0b7d0a10-0f87-4d3e-9f48-7e4a8f3c2a11.ta ./lib/optee_armtz/8aaaf200-2450-11e4-abe2-0002a5d5c51b.ta ./other ./other/c.ta" \
	"$(tar -tzf "$T/ta-files-resigned.tar.gz" | grep -v '^\./$' | sed 's|/$||' | sort | paste -sd' ')"
check "  ... every TA re-signed in place" bash -c "
	for f in lib/optee_armtz/0b7d0a10-0f87-4d3e-9f48-7e4a8f3c2a11.ta other/c.ta; do
		cmp \"$T/taout/\$f\" <(cat \"$T/tas.orig/\$f\"; printf 'FAKE-resign_ta.py %s\n' '$(ks optee-signing-key.pem)') || exit 1
	done"
(cd "$T/tas" && tar -czf "$T/ta-all.tar.gz" .)
fresh
check_eq "rkoptee-ta: a tree with other files: 200" 200 "$(post rkoptee-ta -F machine=$M \
	-F "artifact=@$T/ta-all.tar.gz")"
check_eq "  ... named signed-artifact.tar.gz" signed-artifact.tar.gz "$(dispo)"
check "  ... README returned unchanged" sh -c "tar -xzOf '$T/out' ./other/README | cmp - '$T/tas/other/README'"
check "  ... no key file left" no_keys_left

check "audit: rk, rkoptee-tee, rkoptee-ta: input and output SHA-256, key fingerprints" \
	python3 - "$T/audit" "$(sha256sum <"$T/idblock.img" | cut -d' ' -f1)" \
	"$(sha256sum <"$T/idblock.img.signed" | cut -d' ' -f1)" \
	"$(fpr rksign/dev.key | sha256sum | cut -d' ' -f1)" \
	"$(fpr rkopteesign/optee-signing-pubkey.pem | sha256sum | cut -d' ' -f1)" \
	"$(sha256sum <"$T/bl32.signed" | cut -d' ' -f1)" \
	"$(sha256sum <"$T/ta-files-resigned.tar.gz" | cut -d' ' -f1)" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ok = lambda ep: [x for x in recs if x.get("endpoint") == ep and x.get("status") == 200]
r = ok("rk")[0]
assert r["input_sha256"] == sys.argv[2] and r["key_sha256"] == sys.argv[4], r
assert r["signed"] == [{"name": "artifact.signed", "sha256": sys.argv[3]}], r
assert [o["op"] for o in r["key_operations"]] == ["MATERIALIZE"] * 3, r
r = ok("rkoptee-tee")[0]
assert r["key_sha256"] == sys.argv[5], r
assert r["signed"] == [{"name": "tee.bin.signed", "sha256": sys.argv[6]}], r
r = ok("rkoptee-ta")[0]
assert r["answer_sha256"] == sys.argv[7] and r["count"] == 3 and len(r["signed"]) == 3, r
assert r["key_sha256"] == sys.argv[5], r
PY

# ============================================================================
# failing tools: 500, the key masked in the log
# ============================================================================
# (mkimage's input: a FIT and a dtb mkimage would take, so that what
# fails is the tool, not the upload: fitcheck.h)
mkdir -p "$T/fitf"
printf '/dts-v1/;\n/ { description = "x"; timestamp = <1>; images { }; };\n' |
	dtc -q -I dts -O dtb -o "$T/fitf/fitImage" -
printf '/dts-v1/;\n/ { };\n' | dtc -q -I dts -O dtb -o "$T/fitf/uboot.dtb" -
(cd "$T/fitf" && tar -czf "$T/inputf.tar.gz" fitImage uboot.dtb)
for t in change_puk resign_ta.py rk_sign_tool mkimage; do
	fresh
	touch "$REC/fail.$t"
	case $t in
	change_puk) args=(rkoptee-tee -F machine=$M -F "artifact=@$T/rk3588_bl32_v1.14.bin") ;;
	resign_ta.py) args=(rkoptee-ta -F machine=$M -F "artifact=@$T/ta-files.tar.gz") ;;
	rk_sign_tool) args=(rk -F machine=$M -F soctype=rk3588 -F artifact_type=idblock "${A[@]}") ;;
	mkimage) args=(rk -F machine=$M -F soctype=rk3588 -F artifact_type=fit-image
		-F "artifact=@$T/inputf.tar.gz") ;;
	esac
	check_eq "$t fails: 500 Signing error" "500 Signing error" "$(post "${args[@]}") $(body)"
	check "  ... its line is in the log" grep -q "fake $t: failing as asked" "$DSS_LOG"
	check "  ... no key file left" no_keys_left
done
check "no private key's base64 in the log" python3 -c "
import re, sys
flat = re.sub(r'\\s', '', open('$DSS_LOG', errors='replace').read())
for f in ('rksign/dev.key', 'rkopteesign/optee-signing-key.pem'):
    pem = open('$T/keycopy/$M/' + f).read()
    b64 = ''.join(l for l in pem.splitlines() if not l.startswith('-----'))
    for i in range(0, len(b64) - 16, 4):
        if b64[i:i + 16] in flat:
            sys.exit('%s: base64 run at %d in the log' % (f, i))"
curl -s "$URL/metrics" >"$T/metrics"
check "metrics count the three endpoints" sh -c "
	grep -q '^digsigserver_requests_total{endpoint=\"rk\",status=\"200\"} [1-9]' '$T/metrics' &&
	grep -q '^digsigserver_requests_total{endpoint=\"rkoptee-tee\",status=\"200\"} [1-9]' '$T/metrics' &&
	grep -q '^digsigserver_requests_total{endpoint=\"rkoptee-ta\",status=\"200\"} [1-9]' '$T/metrics'"

# ============================================================================
# RK_TOOLS_PATH unset: 500; a tree without a tool: 400
# ============================================================================
dss_stop
dss_start || exit 0
fresh
check_eq "RK_TOOLS_PATH unset: rk 500 (as upstream)" 500 "$(post rk -F machine=$M \
	-F soctype=rk3588 -F artifact_type=idblock "${A[@]}")"
check_eq "RK_TOOLS_PATH unset: rkoptee-tee 500" 500 "$(post rkoptee-tee -F machine=$M "${A[@]}")"
check_eq "  ... but soctype is checked first: 400" 400 "$(post rk -F machine=$M \
	-F soctype=rk3399 -F artifact_type=idblock "${A[@]}")"
dss_stop
mkdir -p "$T/rk-part"
cp "$RK/change_puk" "$T/rk-part/"
chmod -R a+rX "$T/rk-part"
dss_start DIGSIGSERVER_RK_TOOLS_PATH="$T/rk-part" || exit 0
check_eq "no rkbin-tools: rk 400 Invalid parameters" "400 Invalid parameters" \
	"$(post rk -F machine=$M -F soctype=rk3588 -F artifact_type=idblock "${A[@]}") $(body)"
check_eq "no resign_ta.py: rkoptee-tee 400 Invalid parameters" "400 Invalid parameters" \
	"$(post rkoptee-tee -F machine=$M "${A[@]}") $(body)"
check_eq "RK_TOOLS_PATH not a directory: 400" 400 "$(rm -rf "$T/rk-part"; post rkoptee-ta \
	-F machine=$M -F "artifact=@$T/ta-files.tar.gz")"
check "  ... no tool ran" test ! -e "$REC/calls"

# ============================================================================
# a hanging tool: /status progress, 504, the tool gone, no key left
# ============================================================================
dss_stop
dss_start DIGSIGSERVER_RK_TOOLS_PATH="$RK" DIGSIGSERVER_RESPONSE_TIMEOUT=2 \
	DIGSIGSERVER_WORKERS=2 || exit 0
for t in rk_sign_tool resign_ta.py; do
	fresh
	touch "$REC/hang.$t"
	if [ $t = rk_sign_tool ]; then
		args=(rk -F machine=$M -F soctype=rk3588 -F artifact_type=idblock "${A[@]}")
		step="rk_sign_tool cc"
	else
		args=(rkoptee-ta -F machine=$M -F "artifact=@$T/ta-files.tar.gz")
		step="resign_ta.py --key"
	fi
	post "${args[@]}" >"$T/hang.code" &
	bg=$!
	progress() { curl -s "$URL/status" | grep -q "\"$step\""; }
	check "$t: /status shows '$step' while it runs" wait_for 10 progress
	wait $bg
	check_eq "$t hangs: 504" 504 "$(cat "$T/hang.code")"
	check "  ... the tool is gone" wait_for 10 sh -c "! kill -0 \$(cat '$REC/hang.pid') 2>/dev/null"
	check "  ... no key file left" no_keys_left
done
dss_stop
exit 0
