#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/bsptool.sh: /sign/tegra/ueficapsule and /sign/tegra/ekb through
# the real daemon, with curl as meta-tegra-signing-server's bbclass sends
# it (EKB also urlencoded), against a fake L4T tree (R35 and R36 layouts,
# tegra194 and tegra234) whose GenerateCapsule.py and gen_ekb.py are
# t/fixtures/fake_bsptool.py run as "python3 <path>": it checks its exact
# argv and that each key file it gets holds the store's bytes, and writes
# deterministic output (the EKB as its documented layout, which the test
# decrypts with t/fixtures/ekb_decode.py and compares with the store's
# keys).  Also: every 400 and 404, a failing tool (500, keys masked in the
# log), a hanging one (504), /status progress, audit, metrics, and that no
# key file outlives its job (job directory, /tmp, the work directory).
. "$(dirname "$0")/lib.sh"

if ! python3 -c 'import cryptography' 2>/dev/null; then
	skip "/sign/tegra/ueficapsule, /sign/tegra/ekb" "python3-cryptography missing"
	exit 0
fi

L4T=$T/l4t
REC=$T/rec
mkdir -p "$REC"
chmod 1777 "$REC"
CAPSULE_PY=generate_capsule/Capsule/GenerateCapsule.py
EKB_PY=source/public/optee/samples/hwkey-agent/host/tool/gen_ekb/gen_ekb.py
# R35 and R36 trees for Orin, R35 for Xavier (tegra194 uses the tegra186
# tree); L4T-35.4-tegra234 exists so that a two-part version is refused
# for itself, not for a missing tree.
for tree in L4T-35.4.1-tegra234 L4T-36.4.3-tegra234 L4T-35.4.1-tegra186 L4T-35.4-tegra234 \
	L4T-35-tegra234; do
	for s in "$CAPSULE_PY" "$EKB_PY"; do
		mkdir -p "$(dirname "$L4T/$tree/Linux_for_Tegra/$s")"
		sed "s|@REC@|$REC|" "$SRC/t/fixtures/fake_bsptool.py" >"$L4T/$tree/Linux_for_Tegra/$s"
	done
done
chmod -R a+rX "$L4T"

# --- keys ---------------------------------------------------------------------
# ueficapsulesign: EDK2's root, intermediate and signer (cert + key) PEMs
mkdir -p "$T/pki"
(
	cd "$T/pki" || exit 1
	openssl req -batch -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.crt \
		-days 30 -subj /CN=root 2>/dev/null
	openssl req -batch -new -newkey rsa:2048 -nodes -keyout sub.key -out sub.csr \
		-subj /CN=sub 2>/dev/null
	openssl x509 -req -in sub.csr -CA root.crt -CAkey root.key -CAcreateserial -out sub.crt \
		-days 30 2>/dev/null
	openssl req -batch -new -newkey rsa:2048 -nodes -keyout signer.key -out signer.csr \
		-subj /CN=signer 2>/dev/null
	openssl x509 -req -in signer.csr -CA sub.crt -CAkey sub.key -CAcreateserial \
		-out signer.crt -days 30 2>/dev/null
)
for m in orin xavier; do
	d=$KEYS/$m/ueficapsulesign
	mkdir -p "$d"
	cat "$T/pki/signer.crt" "$T/pki/signer.key" >"$d/signer_private_cert.pem"
	cp "$T/pki/sub.crt" "$d/other_public_cert.pem"
	cp "$T/pki/root.crt" "$d/trusted_public_cert.pem"
done
# ekbsign: orin with every key (oem_k1 32 bytes), orin36 without the
# fixed vector and the optional keys, xavier (oem_k1 16 bytes) without the
# disk key
hexkey() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
mkdir -p "$KEYS/orin/ekbsign" "$KEYS/orin36/ekbsign" "$KEYS/xavier/ekbsign"
hexkey 32 >"$KEYS/orin/ekbsign/oem_k1.key"
hexkey 16 >"$KEYS/orin/ekbsign/fixed-vector"
hexkey 16 >"$KEYS/orin/ekbsign/uefi-variable-authentication.key"
hexkey 16 >"$KEYS/orin/ekbsign/kernel-encryption.key"
hexkey 32 >"$KEYS/orin/ekbsign/disk-encryption.key"
hexkey 32 >"$KEYS/orin36/ekbsign/oem_k1.key"
hexkey 16 >"$KEYS/orin36/ekbsign/uefi-variable-authentication.key"
hexkey 16 >"$KEYS/xavier/ekbsign/oem_k1.key"
hexkey 16 >"$KEYS/xavier/ekbsign/fixed-vector"
hexkey 16 >"$KEYS/xavier/ekbsign/uefi-variable-authentication.key"
hexkey 16 >"$KEYS/xavier/ekbsign/kernel-encryption.key"
mkdir -p "$T/keycopy"
cp -r "$KEYS"/. "$T/keycopy/"
keysum() { sha256sum <"$T/keycopy/$1" | cut -d' ' -f1; }

head -c 70000 /dev/urandom >"$T/tegra.bl_only.bup-payload"
head -c 30000 /dev/urandom >"$T/tegra.kernel_only.bup-payload"
GUID=BE3F5D68-7654-4ED2-838C-2A2FAF901A78

# expect MODE MACHINE TAG "ARG..." FILE...: what the fake must be run with
# (argv after the script, {WORK}/{KEYS} for the job's directories) and the
# key files it must get from the store of MACHINE/TAG.
expect() {
	_mode=$1 _m=$2 _tag=$3 _argv=$4
	shift 4
	rm -f "$REC"/*
	python3 - "$REC/expect.json" "$_mode" "$_argv" "$@" <<PY
import hashlib, json, sys
keys = {f: hashlib.sha256(open("$T/keycopy/$_m/$_tag/" + f, "rb").read()).hexdigest()
        for f in sys.argv[4:]}
json.dump({"mode": sys.argv[2], "argv": sys.argv[3].split(), "keys": keys},
          open(sys.argv[1], "w"))
PY
	chmod 0644 "$REC/expect.json"
}
capsule_argv() { # VERSIONHEX GUID
	echo "-v --encode --monotonic-count 1 --fw-version $1 --lsv $1 --guid $2" \
		"--signer-private-cert {KEYS}/signer_private_cert.pem" \
		"--other-public-cert {KEYS}/other_public_cert.pem" \
		"--trusted-public-cert {KEYS}/trusted_public_cert.pem" \
		"-o {WORK}/artifact.cap {WORK}/artifact"
}
CAPSULE_KEYS="signer_private_cert.pem other_public_cert.pem trusted_public_cert.pem"
# capsule_want VERSIONHEX GUID PAYLOAD: the fake's deterministic answer.
capsule_want() {
	printf 'FAKECAPSULE\0%s %s %s\n' "$1" "$1" "$2"
	cat "$3"
}
# post ENDPOINT [curl args]: the status; the answer in $T/out
post() {
	_ep=$1
	shift
	rm -f "$T/out"
	curl -s --max-time 60 -o "$T/out" -w '%{http_code}' -X POST "$@" "$URL/sign/tegra/$_ep"
}
body() { cat "$T/out" 2>/dev/null; }
keys_gone() { # the run's key directory and job directory are gone
	_k=$(python3 -c "import json; print(json.load(open('$REC/run.json'))['keys'])") &&
		[ ! -e "$_k" ] && [ ! -e "$(dirname "$_k")" ]
}
stray_keys() { # any key file name anywhere in /tmp or the work dir, but the stores
	find /tmp "$DSS_WORK" \( -path "$KEYS" -o -path "$T/keycopy" \) -prune -o \
		\( -name '*_cert.pem' -o -name oem_k1.key -o -name fixed-vector -o \
		-name '*-encryption.key' -o -name 'uefi-variable-authentication.key' \) \
		-print 2>/dev/null | grep .
}

dss_start DIGSIGSERVER_L4T_TOOLS_BASE="$L4T" DIGSIGSERVER_AUDIT_FILE="$T/audit" || exit 1

# ============================================================================
# /sign/tegra/ueficapsule
# ============================================================================
# 1. R35 Orin, the bbclass's line for the bootloader payload
expect ok orin ueficapsulesign "$(capsule_argv 0x230401 $GUID)" $CAPSULE_KEYS
check "capsule: the bbclass's curl line (tegra234, 35.4.1) succeeds" \
	curl --connect-timeout 30 --max-time 1800 --retry 4 --silent --fail -X POST \
	-F "machine=orin" -F "soctype=tegra234" -F "bspversion=35.4.1" -F "guid=$GUID" \
	-F "artifact=@$T/tegra.bl_only.bup-payload" --output "$T/tegra-bl.cap" \
	"$URL/sign/tegra/ueficapsule"
check "  ... the fake saw its exact argv (0x230401) and the store's three key files" \
	test ! -e "$REC/fail"
check "  ... run as python3 <BSP>/$CAPSULE_PY from the 35.4.1-tegra234 tree" python3 -c "
import json, sys
r = json.load(open('$REC/run.json'))
env = r['env']
assert set(env) - {'PYTHONDONTWRITEBYTECODE', 'LC_CTYPE'} == {'PATH'}, env"
check "  ... the answer is the tool's output" cmp "$T/tegra-bl.cap" \
	<(capsule_want 0x230401 $GUID "$T/tegra.bl_only.bup-payload")
check "  ... its key directory and job directory are gone" wait_for 10 keys_gone
check "  ... the tool ran in the tree of 35.4.1-tegra234" grep -q "L4T-35.4.1-tegra234/Linux_for_Tegra/$CAPSULE_PY" "$DSS_LOG"

# 2. R36 Orin, kernel payload: 0x240403
expect ok orin ueficapsulesign "$(capsule_argv 0x240403 $GUID)" $CAPSULE_KEYS
check_eq "capsule: tegra234 36.4.3 kernel payload: 200" 200 "$(post ueficapsule -F machine=orin \
	-F soctype=tegra234 -F bspversion=36.4.3 -F "guid=$GUID" \
	-F "artifact=@$T/tegra.kernel_only.bup-payload")"
check "  ... version 0x240403, the answer the tool's" cmp "$T/out" \
	<(capsule_want 0x240403 $GUID "$T/tegra.kernel_only.bup-payload")
check_eq "  ... named artifact.cap" "artifact.cap" "$(curl -s -D - -o /dev/null -X POST \
	-F machine=orin -F soctype=tegra234 -F bspversion=36.4.3 -F "guid=$GUID" \
	-F "artifact=@$T/tegra.kernel_only.bup-payload" "$URL/sign/tegra/ueficapsule" |
	sed -n 's/^Content-Disposition:.*filename="\{0,1\}\([^";]*\)"\{0,1\}.*/\1/ip' | tr -d '\r')"

# 3. Xavier (tegra194 -> the tegra186 tree), a braced lower-case GUID passed verbatim
G2="{be3f5d68-7654-4ed2-838c-2a2faf901a78}"
expect ok xavier ueficapsulesign "$(capsule_argv 0x230401 "$G2")" $CAPSULE_KEYS
check_eq "capsule: tegra194 35.4.1 (tegra186 tree), braced GUID: 200" 200 \
	"$(post ueficapsule -F machine=xavier -F soctype=tegra194 -F bspversion=35.4.1 \
	-F "guid=$G2" -F "artifact=@$T/tegra.bl_only.bup-payload")"
check "  ... the answer the tool's" cmp "$T/out" \
	<(capsule_want 0x230401 "$G2" "$T/tegra.bl_only.bup-payload")

# 4. refused before any tool runs
rm -f "$REC/run.json"
P=(-F machine=orin -F soctype=tegra234 -F bspversion=35.4.1 -F "guid=$GUID")
A=(-F "artifact=@$T/tegra.bl_only.bup-payload")
check_eq "capsule: no artifact: 400" 400 "$(post ueficapsule "${P[@]}")"
check_eq "  ... Invalid artifact" "Invalid artifact" "$(body)"
check_eq "capsule: soctype tegra186: 400 Invalid parameters" "400 Invalid parameters" \
	"$(post ueficapsule -F machine=orin -F soctype=tegra186 -F bspversion=35.4.1 \
	-F "guid=$GUID" "${A[@]}") $(body)"
check_eq "capsule: bspversion 35.4 (its tree exists): 400 Invalid parameters" \
	"400 Invalid parameters" "$(post ueficapsule -F machine=orin -F soctype=tegra234 \
	-F bspversion=35.4 -F "guid=$GUID" "${A[@]}") $(body)"
check_eq "capsule: no bspversion: 400" 400 "$(post ueficapsule -F machine=orin \
	-F soctype=tegra234 -F "guid=$GUID" "${A[@]}")"
check_eq "capsule: bspversion ../L4T-35.4.1-tegra234: 400" 400 "$(post ueficapsule \
	-F machine=orin -F soctype=tegra234 -F bspversion=../L4T-35.4.1-tegra234 -F "guid=$GUID" \
	"${A[@]}")"
check_eq "capsule: no tree for 35.3.1: 400" 400 "$(post ueficapsule -F machine=orin \
	-F soctype=tegra234 -F bspversion=35.3.1 -F "guid=$GUID" "${A[@]}")"
check_eq "capsule: no guid: 400 Invalid parameters" "400 Invalid parameters" \
	"$(post ueficapsule -F machine=orin -F soctype=tegra234 -F bspversion=35.4.1 \
	"${A[@]}") $(body)"
for g in not-a-guid BE3F5D68-7654-4ED2-838C-2A2FAF901A7 "BE3F5D68-7654-4ED2-838C-2A2FAF901A78 -x" \
	"--help"; do
	check_eq "capsule: guid '$g': 400" 400 "$(post ueficapsule -F machine=orin \
		-F soctype=tegra234 -F bspversion=35.4.1 -F "guid=$g" "${A[@]}")"
done
check_eq "capsule: no machine: 400 Invalid parameters" "400 Invalid parameters" \
	"$(post ueficapsule -F soctype=tegra234 -F bspversion=35.4.1 -F "guid=$GUID" \
	"${A[@]}") $(body)"
check "  ... no tool ran for any of them" test ! -e "$REC/run.json"
mkdir -p "$KEYS/nocerts/ueficapsulesign"
cp "$T/pki/sub.crt" "$KEYS/nocerts/ueficapsulesign/other_public_cert.pem"
dss_fix_keys
check_eq "capsule: a missing key file: 404" 404 "$(post ueficapsule -F machine=nocerts \
	-F soctype=tegra234 -F bspversion=35.4.1 -F "guid=$GUID" "${A[@]}")"
check "  ... naming it" grep -q "nocerts/ueficapsulesign/signer_private_cert.pem" "$T/out"
check "  ... no tool ran" test ! -e "$REC/run.json"

# 5. a failing tool: 500, its last lines logged with the private key masked
expect fail orin ueficapsulesign "$(capsule_argv 0x230401 $GUID)" $CAPSULE_KEYS
check_eq "capsule: a failing tool: 500 Signing error" "500 Signing error" \
	"$(post ueficapsule "${P[@]}" "${A[@]}") $(body)"
check "  ... its last line is in the log" grep -q "fake: failing as asked" "$DSS_LOG"
check "  ... the signer's private key is not" python3 -c "
import re, sys
pem = open('$T/pki/signer.key').read()
b64 = ''.join(l for l in pem.splitlines() if not l.startswith('-----'))
flat = re.sub(r'\\s', '', open('$DSS_LOG', errors='replace').read())
for i in range(0, len(b64) - 16, 4):
    if b64[i:i + 16] in flat:
        sys.exit('base64 run at %d in the log' % i)"
check "  ... its key directory and job directory are gone" wait_for 10 keys_gone

# 6. /status shows the tool while it runs (it hangs: the timeout comes later)
check "capsule: audit: input and output SHA-256, version, guid, key fingerprints" \
	python3 - "$T/audit" "$(sha256sum <"$T/tegra.bl_only.bup-payload" | cut -d' ' -f1)" \
	"$(sha256sum <"$T/tegra-bl.cap" | cut -d' ' -f1)" \
	"$(keysum orin/ueficapsulesign/signer_private_cert.pem)" \
	"$(keysum orin/ueficapsulesign/trusted_public_cert.pem)" \
	"$(openssl pkey -in "$T/pki/signer.key" -pubout -outform DER | sha256sum | cut -d' ' -f1)" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
r = [x for x in recs if x.get("endpoint") == "tegra/ueficapsule" and x.get("status") == 200][0]
assert r["input_sha256"] == sys.argv[2], r
assert r["signed"] == [{"name": "artifact.cap", "sha256": sys.argv[3]}], r
assert r["fw_version"] == "0x230401" and r["bspversion"] == "35.4.1", r
assert r["signer_private_cert_pem_sha256"] == sys.argv[4], r
assert r["trusted_public_cert_pem_sha256"] == sys.argv[5], r
assert r["key_sha256"] == sys.argv[6], r
assert [o["op"] for o in r["key_operations"]] == ["MATERIALIZE"] * 3, r
PY

# ============================================================================
# /sign/tegra/ekb
# ============================================================================
ekb_argv() { # CHIP MAJOR_BELOW_36(0|1) OPTIONAL_KEYS...
	_a="-chip $1 -oem_k1_key {KEYS}/oem_k1.key"
	_a="$_a -in_auth_key {KEYS}/uefi-variable-authentication.key -out {WORK}/ekb.img"
	[ "$2" = 1 ] && _a="$_a -fv {KEYS}/fixed-vector"
	shift 2
	for k in "$@"; do
		case $k in
		kernel-encryption.key) _a="$_a -in_sym_key {KEYS}/$k" ;;
		disk-encryption.key) _a="$_a -in_sym_key2 {KEYS}/$k" ;;
		esac
	done
	echo "$_a"
}
# decoded MACHINE: the EKB in $T/out opened with MACHINE's keys, its
# version and keys by tag; want MACHINE VERSION: what it must hold.
decoded() {
	python3 "$SRC/t/fixtures/ekb_decode.py" "$T/out" "$T/keycopy/$1/ekbsign/oem_k1.key" \
		"$T/keycopy/$1/ekbsign/fixed-vector"
}
want() {
	python3 - "$T/keycopy/$1/ekbsign" "$2" <<'PY'
import json, os, sys
d, keys = sys.argv[1], {}
for tag, f in (("1", "kernel-encryption.key"), ("2", "disk-encryption.key"),
               ("4", "uefi-variable-authentication.key")):
    if os.path.exists(os.path.join(d, f)):
        keys[tag] = open(os.path.join(d, f)).read().strip()
print(json.dumps({"version": sys.argv[2], "keys": keys}, sort_keys=True))
PY
}
E_ALL="oem_k1.key uefi-variable-authentication.key"

# 1. R35 Orin with every key: -fv and both optional keys
expect ok orin ekbsign "$(ekb_argv t234 1 kernel-encryption.key disk-encryption.key)" \
	$E_ALL fixed-vector kernel-encryption.key disk-encryption.key
check_eq "ekb: tegra234 35.4.1, multipart: 200" 200 "$(post ekb -F machine=orin \
	-F soctype=tegra234 -F bspversion=35.4.1)"
check "  ... the fake saw its exact argv (-fv, -in_sym_key, -in_sym_key2) and the keys" \
	test ! -e "$REC/fail"
check_eq "  ... the EKB (v1.0) decrypts with the store's oem_k1 and fv to the store's keys" \
	"$(want orin 1.0)" "$(decoded orin)"
cp "$T/out" "$T/ekb35.img"
check "  ... its key directory and job directory are gone" wait_for 10 keys_gone

# 2. R36 Orin without fixed-vector or optional keys: no -fv, v2.0
expect ok orin36 ekbsign "$(ekb_argv t234 0)" $E_ALL
check_eq "ekb: tegra234 36.4.3 without fixed-vector or optional keys: 200" 200 \
	"$(post ekb -F machine=orin36 -F soctype=tegra234 -F bspversion=36.4.3)"
check "  ... argv without -fv and the optional keys" test ! -e "$REC/fail"
check_eq "  ... the EKB (v2.0, fv in its header) holds the auth key only" \
	"$(want orin36 2.0)" "$(decoded orin36)"
check_eq "  ... named ekb.img" "ekb.img" "$(curl -s -D - -o /dev/null -X POST \
	-F machine=orin36 -F soctype=tegra234 -F bspversion=36.4.3 "$URL/sign/tegra/ekb" |
	sed -n 's/^Content-Disposition:.*filename="\{0,1\}\([^";]*\)"\{0,1\}.*/\1/ip' | tr -d '\r')"

# 3. R36 with a fixed-vector in the store: still no -fv (gen_ekb.py 1.6 has none)
expect ok orin ekbsign "$(ekb_argv t234 0 kernel-encryption.key disk-encryption.key)" \
	$E_ALL kernel-encryption.key disk-encryption.key
check_eq "ekb: tegra234 36.4.3, fixed-vector in the store: 200, not passed" 200 \
	"$(post ekb -F machine=orin -F soctype=tegra234 -F bspversion=36.4.3)"
check "  ... argv without -fv" test ! -e "$REC/fail"

# 4. Xavier, urlencoded (curl -d), bspversion with its major only
expect ok xavier ekbsign "$(ekb_argv t194 1 kernel-encryption.key)" \
	$E_ALL fixed-vector kernel-encryption.key
check_eq "ekb: tegra194, urlencoded, bspversion 35.4.1: 200" 200 \
	"$(post ekb -d machine=xavier -d soctype=tegra194 -d bspversion=35.4.1)"
check "  ... -chip t194, -fv, -in_sym_key only" test ! -e "$REC/fail"
check_eq "  ... the EKB decrypts with the store's keys (16-byte oem_k1)" \
	"$(want xavier 1.0)" "$(decoded xavier)"
expect ok orin ekbsign "$(ekb_argv t234 1 kernel-encryption.key disk-encryption.key)" \
	$E_ALL fixed-vector kernel-encryption.key disk-encryption.key
check_eq "ekb: bspversion 35 (the major is all upstream reads; its tree L4T-35-...): 200" 200 \
	"$(post ekb -d machine=orin -d soctype=tegra234 -d bspversion=35)"

# 5. refused
rm -f "$REC/run.json"
check_eq "ekb: no fields at all: 400 Invalid parameters" "400 Invalid parameters" \
	"$(post ekb -F x=1) $(body)"
check_eq "ekb: soctype tegra210: 400" 400 "$(post ekb -d machine=orin -d soctype=tegra210 \
	-d bspversion=35.4.1)"
check_eq "ekb: no tree for 34.1.1: 400" 400 "$(post ekb -d machine=orin -d soctype=tegra234 \
	-d bspversion=34.1.1)"
check_eq "ekb: no machine: 400" 400 "$(post ekb -d soctype=tegra234 -d bspversion=35.4.1)"
check "  ... no tool ran" test ! -e "$REC/run.json"
check_eq "ekb: R35 without fixed-vector: 404" 404 "$(post ekb -d machine=orin36 \
	-d soctype=tegra234 -d bspversion=35.4.1)"
check "  ... naming it" grep -q "orin36/ekbsign/fixed-vector" "$T/out"
check_eq "ekb: a machine without ekbsign keys: 404" 404 "$(post ekb -d machine=nocerts \
	-d soctype=tegra234 -d bspversion=36.4.3)"
check "  ... no tool ran" test ! -e "$REC/run.json"

# 6. a failing tool: 500, the key bytes not in the log
expect fail orin ekbsign "$(ekb_argv t234 1 kernel-encryption.key disk-encryption.key)" \
	$E_ALL fixed-vector kernel-encryption.key disk-encryption.key
check_eq "ekb: a failing tool: 500 Signing error" "500 Signing error" \
	"$(post ekb -d machine=orin -d soctype=tegra234 -d bspversion=35.4.1) $(body)"
check "  ... its last line is in the log" grep -q "fake: failing as asked" "$DSS_LOG"
check "  ... no 16-digit run of any EKB key in the log" python3 -c "
import glob, re, sys
log = re.sub(r'[^0-9a-f]', '', open('$DSS_LOG', errors='replace').read().lower())
for f in glob.glob('$T/keycopy/*/ekbsign/*'):
    h = open(f).read().strip().lower()
    for i in range(0, len(h) - 16):
        if h[i:i + 16] in log:
            sys.exit('%s: run at %d in the log' % (f, i))"
check "  ... its key directory and job directory are gone" wait_for 10 keys_gone
check "ekb: audit: output SHA-256 and the keys' fingerprints only" \
	python3 - "$T/audit" "$(sha256sum <"$T/ekb35.img" | cut -d' ' -f1)" "$T/keycopy/orin/ekbsign" <<'PY'
import hashlib, json, os, sys
text = open(sys.argv[1]).read()
recs = [json.loads(l) for l in text.splitlines()]
r = [x for x in recs if x.get("endpoint") == "tegra/ekb" and x.get("status") == 200][0]
assert r["signed"] == [{"name": "ekb.img", "sha256": sys.argv[2]}], r
for f in os.listdir(sys.argv[3]):
    b = open(os.path.join(sys.argv[3], f), "rb").read()
    field = f.replace(".", "_").replace("-", "_") + "_sha256"
    assert r[field] == hashlib.sha256(b).hexdigest(), (field, r)
    assert b.decode().strip() not in text, f
PY

# ============================================================================
# both: metrics, no key file anywhere, a hanging tool
# ============================================================================
curl -s "$URL/metrics" >"$T/metrics"
check "metrics count both endpoints by status" sh -c "
	grep -q '^digsigserver_requests_total{endpoint=\"tegra/ueficapsule\",status=\"200\"} [1-9]' '$T/metrics' &&
	grep -q '^digsigserver_requests_total{endpoint=\"tegra/ekb\",status=\"200\"} [1-9]' '$T/metrics'"
check "no job directory is left" wait_for 10 no_job_dirs
check "no key file anywhere in /tmp or the work directory (but the stores)" \
	bash -c "$(declare -f stray_keys); KEYS='$KEYS' T='$T' DSS_WORK='$DSS_WORK'; ! stray_keys"

# Access control: a client's endpoints are these names ("tegra/ekb"), and
# its selectors reach the key process's grant for that endpoint.
h() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
tok_ekb=ekb-$(openssl rand -hex 16)
tok_tegra=tegra-$(openssl rand -hex 16)
cat >"$T/tokens" <<EOT
ekb      tegra/ekb    orin       sha256:$(h "$tok_ekb")
tegra    tegra        orin*      sha256:$(h "$tok_tegra")
EOT
dss_stop
dss_start DIGSIGSERVER_L4T_TOOLS_BASE="$L4T" DIGSIGSERVER_TOKENS_FILE="$T/tokens" || exit 0
expect ok orin ekbsign "$(ekb_argv t234 1 kernel-encryption.key disk-encryption.key)" \
	$E_ALL fixed-vector kernel-encryption.key disk-encryption.key
check_eq "tokens: a client granted tegra/ekb and orin: 200" 200 "$(post ekb \
	-H "Authorization: Bearer $tok_ekb" -d machine=orin -d soctype=tegra234 -d bspversion=35.4.1)"
check_eq "  ... the same client on tegra/ueficapsule: 403" 403 "$(post ueficapsule \
	-H "Authorization: Bearer $tok_ekb" "${P[@]}" "${A[@]}")"
check_eq "  ... the same client for orin36: 403" 403 "$(post ekb \
	-H "Authorization: Bearer $tok_ekb" -d machine=orin36 -d soctype=tegra234 -d bspversion=36.4.3)"
check_eq "tokens: a client granted tegra only: 403 on tegra/ekb" 403 "$(post ekb \
	-H "Authorization: Bearer $tok_tegra" -d machine=orin -d soctype=tegra234 -d bspversion=35.4.1)"

dss_stop
dss_start DIGSIGSERVER_L4T_TOOLS_BASE="$L4T" DIGSIGSERVER_RESPONSE_TIMEOUT=2 \
	DIGSIGSERVER_WORKERS=2 || exit 0
for ep in ueficapsule ekb; do
	if [ $ep = ueficapsule ]; then
		expect hang orin ueficapsulesign "$(capsule_argv 0x230401 $GUID)" $CAPSULE_KEYS
		args=("${P[@]}" "${A[@]}")
		step="capsule: GenerateCapsule.py"
	else
		expect hang orin ekbsign \
			"$(ekb_argv t234 1 kernel-encryption.key disk-encryption.key)" \
			$E_ALL fixed-vector kernel-encryption.key disk-encryption.key
		args=(-F machine=orin -F soctype=tegra234 -F bspversion=35.4.1)
		step="ekb: gen_ekb.py"
	fi
	post $ep "${args[@]}" >"$T/hang.code" &
	bg=$!
	progress() { curl -s "$URL/status" | grep -q "\"$step\""; }
	check "$ep: /status shows '$step' while the tool runs" wait_for 10 progress
	wait $bg
	check_eq "$ep: a hanging tool: 504" 504 "$(cat "$T/hang.code")"
	check "  ... the tool is gone" wait_for 10 sh -c \
		"! kill -0 \$(cat '$REC/hang.pid') 2>/dev/null"
	check "  ... its key directory and job directory are gone" wait_for 10 keys_gone
	check "  ... no key file anywhere in /tmp or the work directory" \
		bash -c "$(declare -f stray_keys); KEYS='$KEYS' T='$T' DSS_WORK='$DSS_WORK'; ! stray_keys"
done
dss_stop
exit 0
