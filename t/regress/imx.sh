#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/imx.sh: /sign/imx through the real daemon, with curl as
# upstream's doc/imxsign-yubihsm.md sends it, against a
# DIGSIGSERVER_IMX_CST_BASE tree of:
#   cst-3.3.1/linux64/bin/cst  Debian's real /usr/bin/cst, run by a wrapper
#       that preloads the back end Debian's cst lacks (imx-cst-backend.c,
#       built here) and libcrypto; its CSF blob is taken apart by Debian's
#       csf_parser and both signatures (CSF and image) verified with
#       openssl cms against the test's certificates;
#   cst-3.3.2/linux64/bin/cst  a fake of NXP's cst with -b pkcs11: it checks
#       its exact argv, that the CSF holds the real PIN (by its SHA-256) and
#       that neither its argv nor its environment does.
# Also the 400s of the spec and the stricter ones (CSF not text/plain or
# not UTF-8, unsafe artifact names, soctype, cstversion), a failing cst
# (500; the PIN it prints redacted), a hanging one (504, /status
# progress), the audit record, metrics, and that neither key bytes nor the
# PIN are left on disk or in the log.
. "$(dirname "$0")/lib.sh"

for t in cst csf_parser srktool cc openssl; do
	if ! command -v $t >/dev/null 2>&1; then
		skip "imx: $t is missing (tools/deps.sh test)"
		exit 0
	fi
done
LIBCRYPTO=$(cc -print-file-name=libcrypto.so.3)
[ -f "$LIBCRYPTO" ] || LIBCRYPTO=$(ldconfig -p | sed -n 's/.*libcrypto\.so\.3 .*=> //p' | head -1)

NXP=$T/nxp
REC=$T/rec
mkdir -p "$REC" "$NXP/cst-3.3.1/linux64/bin" "$NXP/cst-3.3.2/linux64/bin" "$NXP/lib"
chmod 1777 "$REC"
PIN=0001imx-test-PIN-$$
PIN_SUM=$(printf '%s' "$PIN" | sha256sum | cut -d' ' -f1)
printf '%s\n' "$PIN" >"$T/pin"
chmod 0600 "$T/pin"
[ -n "$DSS_KEY_USER" ] && chown "$DSS_KEY_USER" "$T/pin"

check "the test back end for Debian's cst builds" \
	cc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$NXP/lib/backend.so" \
	"$SRC/t/regress/imx-cst-backend.c"

# both csts: $REC/fail.<version> makes them print the CSF (3.3.1: and a
# key) and fail,
# $REC/hang.<version> hang; each call is logged to $REC/calls
cat >"$NXP/cst-3.3.1/linux64/bin/cst" <<EOF
#!/bin/bash
echo "cst-3.3.1 \$*" >>"$REC/calls"
if [ -e "$REC/fail.3.3.1" ]; then cat csf-input.txt keys/CSF1_1_*_key.pem; exit 1; fi
if [ -e "$REC/hang.3.3.1" ]; then echo \$\$ >"$REC/hang.pid"; exec sleep 1000; fi
LD_PRELOAD="$NXP/lib/backend.so:$LIBCRYPTO" exec /usr/bin/cst "\$@"
EOF
cat >"$NXP/cst-3.3.2/linux64/bin/cst" <<EOF
#!/bin/bash
# NXP's cst >= 3.3.2 with -b pkcs11, faked
REC=$REC
PIN_SUM=$PIN_SUM
EOF
cat >>"$NXP/cst-3.3.2/linux64/bin/cst" <<'EOF'
echo "cst-3.3.2 $*" >>"$REC/calls"
bad() { echo "cst: $*" >>"$REC/fail"; echo "cst: $*" >&2; exit 2; }
if [ -e "$REC/fail.3.3.2" ]; then cat csf-input.txt; exit 1; fi
if [ -e "$REC/hang.3.3.2" ]; then echo $$ >"$REC/hang.pid"; exec sleep 1000; fi
[ $# -eq 6 ] && [ "$1 $2 $3" = "-i csf-input.txt -o" ] && [ "$5 $6" = "-b pkcs11" ] ||
	bad "argv '$*'"
case $4 in */job-*/csf.bin) ;; *) bad "output $4" ;; esac
[ "$(stat -c %a csf-input.txt)" = 600 ] || bad "csf-input.txt is not 0600"
grep -q 'pin-value=password' csf-input.txt && bad "the placeholder is still there"
pins=$(grep -o 'pin-value=[^;"]*' csf-input.txt | cut -d= -f2- | sort -u)
[ -n "$pins" ] || bad "no pin-value in the CSF"
for p in $pins; do
	[ "$(printf '%s' "$p" | sha256sum | cut -d' ' -f1)" = "$PIN_SUM" ] || bad "a wrong PIN"
done
for p in $pins; do
	env | grep -qF -- "$p" && bad "the PIN is in the environment"
	case " $* " in *"$p"*) bad "the PIN is in argv" ;; esac
done
{ printf 'FAKE-cst-3.3.2 pkcs11\n'; sed "s/pin-value=[^;\"]*/pin-value=PIN/" csf-input.txt; } >"$4"
EOF
chmod 0755 "$NXP"/cst-*/linux64/bin/cst
chmod -R a+rX "$NXP"

# --- keys in NXP's layout, packed as the key store's tarball --------------------
M=imx
CK=$T/cstkeys
S=sha256_2048_65537_v3
mkdir -p "$CK/keys" "$CK/crts" "$KEYS/$M/imxsign"
(
	cd "$CK" || exit 1
	for n in 1 2 3 4; do
		openssl req -batch -x509 -newkey rsa:2048 -nodes -sha256 -days 30 \
			-keyout keys/SRK${n}_${S}_ca_key.pem -out crts/SRK${n}_${S}_ca_crt.pem \
			-subj "/CN=SRK${n}_${S}_ca" -addext basicConstraints=critical,CA:TRUE \
			-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || exit 1
	done
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n' >usr.ext
	for c in CSF1_1 IMG1_1; do
		openssl req -batch -new -newkey rsa:2048 -nodes -keyout keys/${c}_${S}_usr_key.pem \
			-out $c.csr -subj "/CN=${c}_${S}_usr" 2>/dev/null &&
			openssl x509 -req -in $c.csr -CA crts/SRK1_${S}_ca_crt.pem -CAkey \
				keys/SRK1_${S}_ca_key.pem -CAcreateserial -days 30 -sha256 \
				-extfile usr.ext -out crts/${c}_${S}_usr_crt.pem 2>/dev/null || exit 1
	done
	cd crts && srktool -h 4 -d sha256 -f 1 -t SRK_1_2_3_4_table.bin -e SRK_1_2_3_4_fuse.bin \
		-c "$(printf "SRK%s_${S}_ca_crt.pem," 1 2 3 4 | sed 's/,$//')" >/dev/null
) || { not_ok "imx: making the CST test keys"; exit 0; }
tar -czf "$KEYS/$M/imxsign/imx-cst-keys.tar.gz" -C "$CK" keys crts
for f in "$CK"/keys/* "$KEYS/$M/imxsign/imx-cst-keys.tar.gz"; do
	sha256sum <"$f" | cut -d' ' -f1
done >"$T/keysums"
KEYS_SUM=$(tail -1 "$T/keysums")

head -c 8192 /dev/urandom >"$T/image.bin"
csf() { # csf FILE ARTIFACT-NAME [URI-SUFFIX]: a HABv4 CSF for the test keys
	cat >"$1" <<EOF
[Header]
  Version = 4.3
  Hash Algorithm = sha256
  Engine = ANY
  Engine Configuration = 0
  Certificate Format = X509
  Signature Format = CMS

[Install SRK]
  File = "crts/SRK_1_2_3_4_table.bin"
  Source index = 0

[Install CSFK]
  File = "${3:-crts/CSF1_1_${S}_usr_crt.pem}"

[Authenticate CSF]

[Install Key]
  Verification index = 0
  Target index = 2
  File = "${4:-crts/IMG1_1_${S}_usr_crt.pem}"

[Authenticate Data]
  Verification index = 2
  Blocks = 0x7e1000 0x0 0x2000 "$2"
EOF
}
csf "$T/x.csf" image.bin
P11=pkcs11:token=YubiHSM
csf "$T/hsm.csf" image.bin "$P11;object=CSF1_1;type=cert;pin-value=password" \
	"$P11;object=IMG1_1;type=cert;pin-value=password"

# post [curl args]: the status; the answer in $T/out, headers in $T/hdr
post() {
	rm -f "$T/out" "$T/hdr"
	curl -s --max-time 60 -D "$T/hdr" -o "$T/out" -w '%{http_code}' -X POST "$@" "$URL/sign/imx"
}
body() { cat "$T/out" 2>/dev/null; }
hdr() { sed -n "s/^$1: *//ip" "$T/hdr" | tr -d '\r'; }
fresh() { rm -f "$REC/calls" "$REC/fail" "$REC"/fail.* "$REC"/hang.*; }
CSF=(-F "csf=@$T/x.csf;type=text/plain")
IMG=(-F "artifact=@$T/image.bin")
# verify BLOB IMAGE: csf_parser finds two signatures; the CSF's verifies
# over the CSF's commands (its header's length) with the CSF key's
# certificate, the image's over the image with the IMG key's, both
# chained to SRK1; and not the other way round
verify() ( # a subshell: it changes directory
	rm -rf "$T/parse" && mkdir "$T/parse" && cd "$T/parse" || return 1
	csf_parser -c "$1" >parse.log 2>&1 || { cat parse.log; return 1; }
	o=$T/parse/output
	[ -f "$o/sig0.bin" ] && [ -f "$o/sig1.bin" ] || { ls "$o"; return 1; }
	len=$(od -An -tu1 -j1 -N2 "$1" | awk '{print $1 * 256 + $2}')
	head -c "$len" "$1" >"$o/csf.data"
	head -c 8192 "$2" >"$o/img.data"
	v() { openssl cms -verify -inform DER -in "$o/$1" -binary -content "$o/$2" -purpose any \
		-certfile "$CK/crts/$3_${S}_usr_crt.pem" -CAfile "$CK/crts/SRK1_${S}_ca_crt.pem" \
		-out /dev/null 2>&1; }
	v sig0.bin csf.data CSF1_1 && v sig1.bin img.data IMG1_1 &&
		! v sig0.bin img.data CSF1_1 >/dev/null && ! v sig1.bin csf.data IMG1_1 >/dev/null
)
stray_keys() { # files holding a key's bytes or the PIN: the test's and the
	# daemon's directories, /tmp (where upstream leaves its temporary files)
	{
		find "$T" "$DSS_WORK" \( -path "$KEYS" -o -path "$CK" -o -path "$T/pin" \) -prune \
			-o -type f -print
		find /tmp -maxdepth 1 -type f
	} 2>/dev/null | sort -u | while read -r f; do
		grep -qx "$(sha256sum <"$f" | cut -d' ' -f1)" "$T/keysums" && echo "key bytes: $f"
		grep -qF -- "$PIN" "$f" 2>/dev/null && echo "the PIN: $f"
	done | grep .
}
no_keys_left() {
	wait_for 10 no_job_dirs && ! stray_keys
}

dss_start DIGSIGSERVER_IMX_CST_BASE="$NXP" DIGSIGSERVER_PKCS11_PIN_FILE="$T/pin" \
	DIGSIGSERVER_AUDIT_FILE="$T/audit" || exit 1

# ============================================================================
# file keys: Debian's cst
# ============================================================================
fresh
check "imx: doc/imxsign-yubihsm.md's curl line (file keys, cst 3.3.1) succeeds" \
	curl --connect-timeout 30 --max-time 120 --silent --fail -X POST -F machine=imx \
	-F soctype=mx8m -F cstversion=3.3.1 -F "csf=@$T/x.csf;type=text/plain" \
	-F "artifact=@$T/image.bin" --output "$T/out.bin" "$URL/sign/imx"
check_eq "  ... cst -i csf-input.txt -o <job>/csf.bin" "cst-3.3.1 -i csf-input.txt -o JOB/csf.bin" \
	"$(sed -E 's#-o /[^ ]*/job-[^/ ]*/#-o JOB/#' "$REC/calls" 2>/dev/null)"
check "  ... csf_parser takes the blob apart; both signatures verify (CSF, image)" \
	verify "$T/out.bin" "$T/image.bin"
check "  ... no key file or PIN left" no_keys_left

fresh
check_eq "imx without soctype (upstream PR #43): 200" 200 \
	"$(post -F machine=$M -F cstversion=3.3.1 "${CSF[@]}" "${IMG[@]}")"
check_eq "  ... application/octet-stream" application/octet-stream "$(hdr Content-Type)"
check "  ... named artifact.signed" sh -c "grep -qi '^Content-Disposition:.*filename=\"artifact.signed\"' '$T/hdr'"
check "  ... both signatures verify" verify "$T/out" "$T/image.bin"

# the artifact keeps its upload name: the CSF names it
fresh
csf "$T/named.csf" "imx-boot-imx8mm-sd.bin-flash_evk"
cp "$T/image.bin" "$T/imx-boot-imx8mm-sd.bin-flash_evk"
check_eq "imx: the artifact under its upload name, which the CSF names: 200" 200 \
	"$(post -F machine=$M -F cstversion=3.3.1 -F "csf=@$T/named.csf;type=text/plain" \
		-F "artifact=@$T/imx-boot-imx8mm-sd.bin-flash_evk")"
check "  ... both signatures verify" verify "$T/out" "$T/image.bin"
check_eq "imx: a CSF naming another file than the upload: 400" \
	'400 Invalid CSF: a data block names "image.bin", not the artifact' \
	"$(post -F machine=$M -F cstversion=3.3.1 "${CSF[@]}" \
		-F "artifact=@$T/imx-boot-imx8mm-sd.bin-flash_evk") $(body)"
# cst signs what a block names into the answer: a block over a key file
# (or the CSF with the PIN) would give the client its bytes, one more per
# request, checked offline against the signature
fresh
csf "$T/keyblock.csf" image.bin
sed -i 's|^  Blocks = .*|&, \\\n    0x7e3000 0x0 0x10 "keys/CSF1_1_'"${S}"'_usr_key.pem"|' "$T/keyblock.csf"
check_eq "imx: a block over a key file: 400, cst not run" \
	"400 Invalid CSF: a data block names \"keys/CSF1_1_${S}_usr_key.pem\", not the artifact" \
	"$(post -F machine=$M -F cstversion=3.3.1 -F "csf=@$T/keyblock.csf;type=text/plain" \
		"${IMG[@]}") $(body)$(test -e "$REC/calls" && echo ' (cst ran)')"
csf "$T/pinblock.csf" image.bin "$P11;object=CSF1_1;type=cert;pin-value=password" \
	"$P11;object=IMG1_1;type=cert;pin-value=password"
sed -i 's|^  Blocks = .*|&, \\\n    0x7e3000 0x0 0x200 "./csf-input.txt"|' "$T/pinblock.csf"
check_eq "imx backend=pkcs11: a block over csf-input.txt (the PIN): 400, cst not run" \
	"400 Invalid CSF: it names csf-input.txt" \
	"$(post -F machine=$M -F cstversion=3.3.2 -F backend=pkcs11 \
		-F "csf=@$T/pinblock.csf;type=text/plain" "${IMG[@]}") $(body)$(test -e \
		"$REC/calls" && echo ' (cst ran)')"

# ============================================================================
# PKCS#11: the PIN only in csf-input.txt
# ============================================================================
fresh
check_eq "imx backend=pkcs11 (cst 3.3.2): 200" 200 \
	"$(post -F machine=$M -F soctype=mx8m -F cstversion=3.3.2 -F backend=pkcs11 \
		-F "csf=@$T/hsm.csf;type=text/plain" "${IMG[@]}")"
check "  ... the fake cst saw its exact argv and the real PIN in the CSF only" test ! -e "$REC/fail"
check "  ... the answer is the fake's, from the CSF with the PIN" cmp "$T/out" \
	<(printf 'FAKE-cst-3.3.2 pkcs11\n'; sed 's/pin-value=password/pin-value=PIN/' "$T/hsm.csf")
check "  ... the PIN is nowhere in the log" sh -c "! grep -qF -- '$PIN' '$DSS_LOG'"
check "  ... no key file or PIN left" no_keys_left

fresh
touch "$REC/fail.3.3.2"
check_eq "imx pkcs11: cst fails, printing the CSF: 500 Signing error" "500 Signing error" \
	"$(post -F machine=$M -F cstversion=3.3.2 -F backend=pkcs11 \
		-F "csf=@$T/hsm.csf;type=text/plain" "${IMG[@]}") $(body)"
check "  ... its output is logged with the PIN redacted" \
	wait_for 10 grep -qF 'pin-value=<redacted>' "$DSS_LOG"
check "  ... the PIN is nowhere in the log" sh -c "! grep -qF -- '$PIN' '$DSS_LOG'"
check "  ... no key file or PIN left" no_keys_left

check "audit: the CSF, artifact, key tarball and answer SHA-256; the PIN handed out" \
	python3 - "$T/audit" "$(sha256sum <"$T/hsm.csf" | cut -d' ' -f1)" \
	"$(sha256sum <"$T/image.bin" | cut -d' ' -f1)" "$KEYS_SUM" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ok = [x for x in recs if x.get("endpoint") == "imx" and x.get("status") == 200]
r = [x for x in ok if x.get("backend") == "pkcs11" and x.get("pin_placeholders") == 2][0]
assert r["csf_sha256"] == sys.argv[2] and r["artifact_sha256"] == sys.argv[3], r
assert r["keys_sha256"] == sys.argv[4] and r["artifact"] == "image.bin", r
assert r["cstversion"] == "3.3.2" and r["soctype"] == "mx8m", r
assert [s["name"] for s in r["signed"]] == ["artifact.signed"], r
ops = sorted(o["key"] if "key" in o else str(o) for o in r["key_operations"])
assert any("imxsign/imx-cst-keys.tar.gz" in o for o in ops), ops
assert any("imxsign/pkcs11-pin" in o for o in ops), ops
f = [x for x in ok if x.get("backend") == "file"][0]
assert f["pin_placeholders"] == 0 and f["soctype"] == "mx8m", f
assert not any("pkcs11-pin" in json.dumps(o) for o in f["key_operations"]), f
PY

# ============================================================================
# 400s, 404, 500
# ============================================================================
fresh
printf 'caf\xe9 [Header]\n' >"$T/latin1.csf"
printf '[Header]\0\n' >"$T/nul.csf"
e() { # e EXPECTED-STATUS-AND-BODY-PREFIX DESC CURL-ARGS...
	_want=$1 _desc=$2
	shift 2
	_got="$(post "$@") $(body)"
	case $_got in "$_want"*) ok "$_desc" ;; *) not_ok "$_desc" "want '$_want...', got '$_got'" ;; esac
}
e "400 Invalid CSF" "csf not text/plain (curl's default for .csf): 400 Invalid CSF" \
	-F machine=$M -F cstversion=3.3.1 -F "csf=@$T/x.csf" "${IMG[@]}"
e "400 Invalid CSF" "no csf: 400 Invalid CSF" -F machine=$M -F cstversion=3.3.1 "${IMG[@]}"
e "400 Invalid artifact" "artifact as text/plain: 400 Invalid artifact" \
	-F machine=$M -F cstversion=3.3.1 "${CSF[@]}" -F "artifact=@$T/image.bin;type=text/plain"
e "400 Invalid artifact" "no artifact: 400 Invalid artifact" -F machine=$M -F cstversion=3.3.1 "${CSF[@]}"
e "400 Invalid parameters" "soctype=mx7: 400 Invalid parameters" \
	-F machine=$M -F soctype=mx7 -F cstversion=3.3.1 "${CSF[@]}" "${IMG[@]}"
e "400 Invalid parameters" "unknown cstversion 9.9.9: 400 Invalid parameters" \
	-F machine=$M -F cstversion=9.9.9 "${CSF[@]}" "${IMG[@]}"
e "400 Invalid parameters" "cstversion ../x: 400 Invalid parameters" \
	-F machine=$M -F cstversion=../x "${CSF[@]}" "${IMG[@]}"
e "400 Invalid parameters" "cstversion 3.3.1/../3.3.1: 400 Invalid parameters" \
	-F machine=$M -F cstversion=3.3.1/../3.3.1 "${CSF[@]}" "${IMG[@]}"
e "400 Invalid parameters" "no cstversion: 400 Invalid parameters" -F machine=$M "${CSF[@]}" "${IMG[@]}"
e "400 Invalid CSF: not UTF-8 text at byte 3" "a Latin-1 CSF: 400 naming the byte" \
	-F machine=$M -F cstversion=3.3.1 -F "csf=@$T/latin1.csf;type=text/plain" "${IMG[@]}"
e "400 Invalid CSF: a NUL byte at byte 8" "a CSF with a NUL: 400 naming the byte" \
	-F machine=$M -F cstversion=3.3.1 -F "csf=@$T/nul.csf;type=text/plain" "${IMG[@]}"
for n in ../image.bin a/image.bin .. . .hidden -o "image bin" csf-input.txt; do
	e "400 Invalid artifact: " "artifact named '$n': 400 Invalid artifact with a reason" \
		-F machine=$M -F cstversion=3.3.1 "${CSF[@]}" \
		-F "artifact=@$T/image.bin;filename=\"$n\";type=application/octet-stream"
done
csf "$T/crts.csf" crts
e "400 Invalid artifact: the file name is one of the key tarball's" \
	"artifact named 'crts' (a directory of the key tarball): 400" \
	-F machine=$M -F cstversion=3.3.1 -F "csf=@$T/crts.csf;type=text/plain" \
	-F "artifact=@$T/image.bin;filename=crts"
check "  ... no cst ran for any of them" test ! -e "$REC/calls"
e "404 Key file missing: other/imxsign/imx-cst-keys.tar.gz" "a machine without keys: 404 naming the file" \
	-F machine=other -F cstversion=3.3.1 "${CSF[@]}" "${IMG[@]}"
e "400 Invalid parameters" "machine ../imx: 400" \
	-F machine=../imx -F cstversion=3.3.1 "${CSF[@]}" "${IMG[@]}"

fresh
touch "$REC/fail.3.3.1"
e "500 Signing error" "cst fails, printing a key: 500 Signing error" \
	-F machine=$M -F cstversion=3.3.1 "${CSF[@]}" "${IMG[@]}"
check "  ... its output is logged" wait_for 10 grep -qF '[Install CSFK]' "$DSS_LOG"
check "  ... the key masked" sh -c "! grep -qF -- '$(sed -n 2p "$CK"/keys/CSF1_1_*_key.pem)' '$DSS_LOG'"
check "  ... no key file or PIN left" no_keys_left

curl -s "$URL/metrics" >"$T/metrics"
check "metrics: imx requests counted by status" sh -c \
	"grep -q '^digsigserver_requests_total{endpoint=\"imx\",status=\"200\"} [1-9]' '$T/metrics' &&
	grep -q '^digsigserver_requests_total{endpoint=\"imx\",status=\"400\"} [1-9]' '$T/metrics'"

# ============================================================================
# a hanging cst (file keys; pkcs11, with the PIN in its CSF): /status
# progress, 504, nothing left; a CSF past DIGSIGSERVER_IMX_CSF_MAX_SIZE
# ============================================================================
dss_stop
dss_start DIGSIGSERVER_IMX_CST_BASE="$NXP" DIGSIGSERVER_RESPONSE_TIMEOUT=3 \
	DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_PKCS11_PIN_FILE="$T/pin" \
	DIGSIGSERVER_IMX_CSF_MAX_SIZE=1000 || exit 0
for v in 3.3.1 3.3.2; do
	fresh
	touch "$REC/hang.$v"
	if [ $v = 3.3.1 ]; then
		args=(-F cstversion=3.3.1 "${CSF[@]}")
	else
		args=(-F cstversion=3.3.2 -F backend=pkcs11 -F "csf=@$T/hsm.csf;type=text/plain")
	fi
	post -F machine=$M "${args[@]}" "${IMG[@]}" >"$T/hang.code" &
	bg=$!
	progress() { curl -s "$URL/status" | grep -q '"cst"'; }
	check "a hanging cst $v: /status shows 'cst' while it runs" wait_for 10 progress
	wait $bg
	check_eq "  ... 504" 504 "$(cat "$T/hang.code")"
	check "  ... cst is gone" wait_for 10 sh -c "! kill -0 \$(cat '$REC/hang.pid') 2>/dev/null"
	check "  ... no key file or PIN left" no_keys_left
done
check "  ... the PIN is nowhere in the log" sh -c "! grep -qF -- '$PIN' '$DSS_LOG'"
fresh
{ cat "$T/x.csf"; head -c 1000 /dev/zero | tr '\0' '#'; } >"$T/big.csf"
e "400 Invalid CSF: larger than 1000 bytes" "a CSF past DIGSIGSERVER_IMX_CSF_MAX_SIZE: 400" \
	-F machine=$M -F cstversion=3.3.1 -F "csf=@$T/big.csf;type=text/plain" "${IMG[@]}"

# ============================================================================
# no PIN configured; a key tarball that would escape the work directory
# ============================================================================
dss_stop
mkdir -p "$KEYS/evil/imxsign"
python3 - "$KEYS/evil/imxsign/imx-cst-keys.tar.gz" "$CK" <<'PY' || not_ok "imx: a hostile key tarball"
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w:gz") as t:
    t.add(sys.argv[2] + "/crts", "crts")
    data = b"escaped\n"
    i = tarfile.TarInfo("../../escaped.txt")
    i.size = len(data)
    t.addfile(i, io.BytesIO(data))
PY
dss_start DIGSIGSERVER_IMX_CST_BASE="$NXP" || exit 0
fresh
e "500 No PKCS#11 PIN is configured" "pkcs11 without a configured PIN: 500 saying so" \
	-F machine=$M -F cstversion=3.3.2 -F backend=pkcs11 -F "csf=@$T/hsm.csf;type=text/plain" "${IMG[@]}"
check "  ... no cst ran" test ! -e "$REC/calls"
fresh
e "500 Signing error" "pkcs11 and a CSF without the placeholder: no PIN asked, cst runs (and fails here)" \
	-F machine=$M -F cstversion=3.3.2 -F backend=pkcs11 "${CSF[@]}" "${IMG[@]}"
check "  ... the fake cst -b pkcs11 ran and refused a CSF without pin-value" \
	grep -q "no pin-value" "$REC/fail"
fresh
e "500 Signing error" "a key tarball with a member ../../escaped.txt: 500 Signing error" \
	-F machine=evil -F cstversion=3.3.1 "${CSF[@]}" "${IMG[@]}"
check "  ... the reason logged" grep -q "extracting imxsign/imx-cst-keys.tar.gz" "$DSS_LOG"
check "  ... nothing escaped, no cst ran" sh -c "! find '$T' /tmp -maxdepth 2 -name escaped.txt | grep . && test ! -e '$REC/calls'"
check "  ... no job directory left" wait_for 10 no_job_dirs
dss_stop
exit 0
