#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/modules.sh: /sign/modules through the real daemon, posted with
# curl exactly as the kernel-module-signing bbclass does and unpacked as it
# does.  RSA results must be byte-identical to Debian's sign-file; EC
# results must verify with openssl cms and show their signer in modinfo.
# Hostile and broken uploads must get 400 without a byte written outside
# the job directory, and the work directory must be empty afterwards.
. "$(dirname "$0")/lib.sh"

SIGN_FILE=/usr/lib/linux-kbuild-6.1/scripts/sign-file
VERSION=6.1.0-test
MKTAR="python3 $SRC/t/fixtures/mktar.py"

if [ ! -x "$SIGN_FILE" ]; then
	not_ok "sign-file is installed" "$SIGN_FILE missing: apt-get install linux-kbuild-6.1"
	exit 0
fi

# --- keys: like the kernel's certs/default_x509.genkey ---------------------

# mkkey MACHINE NEWKEY-ARGS...: a key pair in the store for MACHINE.
mkkey() {
	_d=$KEYS/$1/kmodsign
	shift
	mkdir -p "$_d"
	openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 -config "$SRC/t/fixtures/x509.genkey" \
		"$@" -outform PEM -out "$_d/kernel-signkey.x509" \
		-keyout "$_d/kernel-signkey.priv" 2>/dev/null
}
mkkey rsa2048 -newkey rsa:2048
mkkey rsa4096 -newkey rsa:4096
mkkey ec256 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
mkkey derm -newkey rsa:2048
openssl x509 -in "$KEYS/derm/kmodsign/kernel-signkey.x509" -outform DER \
	-out "$T/der.x509" && mv "$T/der.x509" "$KEYS/derm/kmodsign/kernel-signkey.x509"
mkkey other -newkey rsa:2048
mkdir -p "$KEYS/mismatch/kmodsign" "$KEYS/nocert/kmodsign" "$KEYS/nokeys/kmodsign"
cp "$KEYS/rsa2048/kmodsign/kernel-signkey.priv" "$KEYS/mismatch/kmodsign/"
cp "$KEYS/other/kmodsign/kernel-signkey.x509" "$KEYS/mismatch/kmodsign/"
cp "$KEYS/rsa2048/kmodsign/kernel-signkey.priv" "$KEYS/nocert/kmodsign/"
# copies kept outside the store (its owner changes when run as root)
cp -r "$KEYS" "$T/keycopy"

# --- the module tree, as a Yocto build makes it --------------------------
sh "$SRC/t/fixtures/mkmodules.sh" "$T/in" "$VERSION" 24
top=$T/in/lib/modules/$VERSION
ln "$top/kernel/fs/mod2.ko" "$top/kernel/fs/mod2-hard.ko"
cp "$top/kernel/fs/mod5.ko" "$top/extra/presigned.ko"
"$SIGN_FILE" sha256 "$T/keycopy/other/kmodsign/kernel-signkey.priv" \
	"$T/keycopy/other/kmodsign/kernel-signkey.x509" "$top/extra/presigned.ko"
touch -d '2024-01-02 03:04:05' "$top/extra/presigned.ko" "$top/extra" "$top/kernel/fs"
(cd "$T" && tar -C in -c -z -f modules-in.tar.gz lib/modules)
nmods=$(find "$T/in/lib" -type f -name '*.ko' | wc -l)
mkdir -m 0777 "$T/outside"

# ref MACHINE HASH: the tree as sign-file signs it, in $T/ref-MACHINE-HASH.
ref() {
	_r=$T/ref-$1-$2
	[ -d "$_r" ] && return 0
	cp -a "$T/in" "$_r"
	find "$_r/lib" -type f -name '*.ko' -exec "$SIGN_FILE" "$2" \
		"$T/keycopy/$1/kmodsign/kernel-signkey.priv" \
		"$T/keycopy/$1/kmodsign/kernel-signkey.x509" {} \;
}

# post NAME CURL-ARGS...: POST to /sign/modules from $T; the status code
# goes to stdout, the body to $T/NAME.out.
post() {
	_name=$1
	shift
	(cd "$T" && curl -s -o "$_name.out" -w '%{http_code}' -X POST "$@" "$URL/sign/modules")
}

# unpack NAME: as the bbclass does, into $T/NAME.dir.
unpack() {
	rm -rf "$T/$1.dir"
	mkdir "$T/$1.dir"
	tar -C "$T/$1.dir" -x --no-same-owner -f "$T/$1.out" ./lib/modules
}

# work_empty (lib.sh) holds once the worker has removed its job directory,
# which it does just after answering: wait for it.

# audit_lines: how many lines the audit trail has.
audit_lines() {
	if [ -f "$T/audit.log" ]; then wc -l <"$T/audit.log"; else echo 0; fi
}

# wait_audit N: until the trail has more than N lines (the supervisor
# writes a job's line when the worker reports it done, which can be just
# after the client has its answer).
wait_audit() {
	wait_for 10 has_lines "$T/audit.log" $(($1 + 1))
}

# last_audit EXPR: a field of the last audit line, via python.
last_audit() {
	tail -n 1 "$T/audit.log" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

dss_start DIGSIGSERVER_AUDIT_FILE="$T/audit.log" DIGSIGSERVER_WORKERS=2 || exit 0

# --- RSA: byte for byte like sign-file -----------------------------------
for m in rsa2048 rsa4096; do
	for h in sha256 sha384 sha512; do
		code=$(post $m-$h -F machine=$m -F hashalg=$h -F artifact=@modules-in.tar.gz)
		check_eq "$m $h: 200" 200 "$code"
		ref $m $h
		check "$m $h: unpacks as the client does" unpack $m-$h
		check "$m $h: identical to sign-file, other files unchanged" \
			diff -r --no-dereference "$T/ref-$m-$h/lib" "$T/$m-$h.dir/lib"
	done
done
check "answer members all start ./lib/modules" \
	sh -c "! tar -tzf '$T/rsa2048-sha512.out' | grep -v '^\./lib/modules'"
check "answer holds exactly the uploaded members, in order" sh -c "
	tar -tzf '$T/modules-in.tar.gz' | sed 's|^|./|; s|/\$||' > '$T/in.list' &&
	tar -tzf '$T/rsa2048-sha512.out' | sed 's|/\$||' > '$T/out.list' &&
	diff '$T/in.list' '$T/out.list'"
check "modes, times, directories and links kept" \
	bash -c "diff <(cd '$T/in' && find lib/modules -printf '%p %y %m %T@ %l\n' | sort) \
		<(cd '$T/rsa2048-sha512.dir' && find lib/modules -printf '%p %y %m %T@ %l\n' | sort)"
check "a symbolic link named .ko is left a link" \
	test -L "$T/rsa2048-sha512.dir/lib/modules/$VERSION/kernel/alias.ko"
mod=$T/rsa2048-sha512.dir/lib/modules/$VERSION/kernel/fs/mod2.ko
check_eq "modinfo: signer" "Test module signing key" "$(modinfo -F signer "$mod")"
check_eq "modinfo: sig_hashalgo" sha512 "$(modinfo -F sig_hashalgo "$mod")"
check_eq "modinfo sha256: sig_hashalgo" sha256 \
	"$(modinfo -F sig_hashalgo "$T/rsa2048-sha256.dir/lib/modules/$VERSION/kernel/fs/mod2.ko")"
check "a signed module is signed again, as sign-file does" sh -c "
	[ \$(grep -c 'Module signature appended' \
		'$T/rsa2048-sha512.dir/lib/modules/$VERSION/extra/presigned.ko') -eq 2 ]"
check "work directory empty" wait_for 10 work_empty

# --- audit ------------------------------------------------------------------
fpr=$(openssl pkey -in "$T/keycopy/rsa2048/kmodsign/kernel-signkey.priv" -pubout -outform DER |
	sha256sum | cut -d' ' -f1)
lines=$(audit_lines)
post audit -F machine=rsa2048 -F artifact=@modules-in.tar.gz >/dev/null
unpack audit
wait_audit "$lines"
check_eq "audit: endpoint" modules "$(last_audit 'd["endpoint"]')"
check_eq "audit: key fingerprint" "$fpr" "$(last_audit 'd["key_sha256"]')"
check_eq "audit: default hash is sha512" sha512 "$(last_audit 'd["hashalg"]')"
check_eq "audit: count" "$nmods" "$(last_audit 'd["count"]')"
check_eq "audit: one item per module" "$nmods" "$(last_audit 'len(d["signed"])')"
sums=$(cd "$T/audit.dir" && find ./lib -name '*.ko' -type f | LC_ALL=C sort | xargs sha256sum)
check_eq "audit: list_sha256 is sha256sum of the signed modules" \
	"$(echo "$sums" | sha256sum | cut -d' ' -f1)" "$(last_audit 'd["list_sha256"]')"
check_eq "audit: items are the modules' sha256" "$(echo "$sums" | sed 's/  / /')" \
	"$(last_audit '"\n".join(i["sha256"] + " " + i["name"] for i in d["signed"])')"

# --- EC P-256: verifies, modinfo names the signer ---------------------------
# verify_ec DIR HASH: every module in DIR is the input module + a CMS that
# openssl verifies against the certificate.
verify_ec() {
	python3 - "$1" "$T/in" "$T/ec.work" <<'EOF' || return 1
import os, struct, sys
out, inp, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
n = 0
for root, dirs, files in os.walk(out):
    for f in files:
        p = os.path.join(root, f)
        if not f.endswith('.ko') or os.path.islink(p):
            continue
        data = open(p, 'rb').read()
        marker = b'~Module signature appended~\n'
        assert data.endswith(marker), p
        info = data[-len(marker) - 12:-len(marker)]
        siglen = struct.unpack('>I', info[8:])[0]
        assert info[2] == 2, p
        end = len(data) - len(marker) - 12
        content, cms = data[:end - siglen], data[end - siglen:end]
        orig = open(os.path.join(inp, os.path.relpath(p, out)), 'rb').read()
        assert content == orig, p + ': content changed'
        open(os.path.join(work, '%d.content' % n), 'wb').write(content)
        open(os.path.join(work, '%d.p7' % n), 'wb').write(cms)
        n += 1
print(n)
EOF
	_count=$(ls "$T/ec.work"/*.p7 | wc -l)
	[ "$_count" -eq "$nmods" ] || return 1
	for _p in "$T/ec.work"/*.p7; do
		openssl cms -verify -binary -inform DER -in "$_p" -content "${_p%.p7}.content" \
			-certfile "$T/keycopy/ec256/kmodsign/kernel-signkey.x509" \
			-CAfile "$T/keycopy/ec256/kmodsign/kernel-signkey.x509" -purpose any \
			-out /dev/null 2>/dev/null || { echo "$_p does not verify"; return 1; }
	done
	rm -rf "$T/ec.work"
}
for h in sha256 sha512; do
	code=$(post ec-$h -F machine=ec256 -F hashalg=$h -F artifact=@modules-in.tar.gz)
	check_eq "ec $h: 200" 200 "$code"
	check "ec $h: unpacks" unpack ec-$h
	check "ec $h: every module verifies with openssl cms" verify_ec "$T/ec-$h.dir"
	ecmod=$T/ec-$h.dir/lib/modules/$VERSION/kernel/drivers/usb/mod1.ko
	check_eq "ec $h: modinfo signer" "Test module signing key" "$(modinfo -F signer "$ecmod")"
	check_eq "ec $h: modinfo sig_hashalgo" $h "$(modinfo -F sig_hashalgo "$ecmod")"
done

# --- a DER certificate -------------------------------------------------------
code=$(post derm -F machine=derm -F hashalg=sha384 -F artifact=@modules-in.tar.gz)
check_eq "DER certificate: 200" 200 "$code"
unpack derm
openssl x509 -inform DER -in "$T/keycopy/derm/kmodsign/kernel-signkey.x509" \
	-out "$T/keycopy/derm/kmodsign/kernel-signkey.x509.pem"
rm -rf "$T/ref-derm"
cp -a "$T/in" "$T/ref-derm"
find "$T/ref-derm/lib" -type f -name '*.ko' -exec "$SIGN_FILE" sha384 \
	"$T/keycopy/derm/kmodsign/kernel-signkey.priv" \
	"$T/keycopy/derm/kmodsign/kernel-signkey.x509" {} \;
check "DER certificate: identical to sign-file" diff -r --no-dereference "$T/ref-derm/lib" "$T/derm.dir/lib"

# --- more modules than one audit record holds; thread counts ------------------
mkdir -p "$T/many/lib/modules/$VERSION/kernel"
i=0
while [ $i -lt 300 ]; do
	cp "$top/kernel/fs/mod2.ko" "$T/many/lib/modules/$VERSION/kernel/m$i.ko"
	i=$((i + 1))
done
(cd "$T" && tar -C many -czf many.tar.gz lib/modules)
lines=$(audit_lines)
code=$(post many -F machine=rsa2048 -F artifact=@many.tar.gz)
check_eq "300 modules: 200" 200 "$code"
wait_audit "$lines"
check_eq "300 modules: one audit line lists them all" 300 "$(last_audit 'len(d["signed"])')"
check "300 modules: signed" sh -c "tar -xOzf '$T/many.out' ./lib/modules/$VERSION/kernel/m299.ko |
	tail -c 28 | grep -q 'Module signature appended'"
dss_start DIGSIGSERVER_SIGN_THREADS=1 || exit 0
code=$(post many1 -F machine=rsa2048 -F artifact=@many.tar.gz)
check_eq "one signing thread: 200" 200 "$code"
# the same tar; the gzip framing differs with the number of threads
check "one signing thread: same answer" \
	sh -c "gzip -dc '$T/many.out' > '$T/many.tar' && gzip -dc '$T/many1.out' | cmp - '$T/many.tar'"
dss_start DIGSIGSERVER_SIGN_THREADS=7 || exit 0
code=$(post many7 -F machine=rsa2048 -F artifact=@many.tar.gz)
check_eq "seven signing threads: same answer" "200 ok" \
	"$code $(gzip -dc "$T/many7.out" | cmp -s - "$T/many.tar" && echo ok)"

# --- parameters and keys --------------------------------------------------------
# bad NAME EXPECTED-CODE EXPECTED-BODY-START CURL-ARGS...
bad() {
	_name=$1 _want=$2 _body=$3
	shift 3
	_code=$(post "$_name" "$@")
	if [ "$_code" = "$_want" ] && { [ -z "$_body" ] ||
		head -c ${#_body} "$T/$_name.out" | grep -qF -- "$_body"; }; then
		ok "$_name: $_want $_body"
	else
		not_ok "$_name: $_want $_body" "got $_code: $(head -c 300 "$T/$_name.out")"
	fi
}
bad hashalg-md5 400 "Invalid parameters" -F machine=rsa2048 -F hashalg=md5 -F artifact=@modules-in.tar.gz
bad hashalg-upper 400 "Invalid parameters" -F machine=rsa2048 -F hashalg=SHA512 -F artifact=@modules-in.tar.gz
bad hashalg-sha1 400 "Invalid parameters" -F machine=rsa2048 -F hashalg=sha1 -F artifact=@modules-in.tar.gz
bad no-machine 400 "Invalid parameters" -F hashalg=sha512 -F artifact=@modules-in.tar.gz
bad machine-dotdot 400 "" -F machine=.. -F artifact=@modules-in.tar.gz
bad machine-slash 400 "" -F machine=rsa2048/../rsa2048 -F artifact=@modules-in.tar.gz
bad machine-up 400 "" -F machine=../keycopy -F artifact=@modules-in.tar.gz
bad no-artifact 400 "Invalid artifact" -F machine=rsa2048 -F hashalg=sha512
bad artifact-type 400 "Invalid artifact" -F machine=rsa2048 -F "artifact=@modules-in.tar.gz;type=text/plain"
bad artifact-field 400 "Invalid artifact" -F machine=rsa2048 -F artifact=notafile
bad no-keys 404 "" -F machine=nokeys -F artifact=@modules-in.tar.gz
check "missing key: the answer names the file" grep -q "kernel-signkey.priv" "$T/no-keys.out"
bad no-machine-dir 404 "" -F machine=unknown -F artifact=@modules-in.tar.gz
bad no-cert 404 "" -F machine=nocert -F artifact=@modules-in.tar.gz
check "missing certificate: the answer names the file" grep -q "kernel-signkey.x509" "$T/no-cert.out"
bad key-mismatch 500 "Signing error" -F machine=mismatch -F artifact=@modules-in.tar.gz
check "work directory empty" wait_for 10 work_empty

# --- hostile and broken artifacts ---------------------------------------------
# hostile NAME FILE [DESC]: 400 Invalid artifact, nothing outside, work empty.
hostile() {
	_code=$(post "$1" -F machine=rsa2048 -F "artifact=@$2")
	if [ "$_code" = 400 ] && grep -q "^Invalid artifact" "$T/$1.out"; then
		ok "$1: 400 Invalid artifact ($(head -c 120 "$T/$1.out" | tr -d '\n'))"
	else
		not_ok "$1: 400 Invalid artifact" "got $_code: $(head -c 300 "$T/$1.out")"
	fi
	if [ -z "$(ls -A "$T/outside")" ] && [ ! -e /tmp/dss-modules-escape ]; then
		ok "$1: nothing written outside"
	else
		not_ok "$1: nothing written outside" "$(ls -la "$T/outside")"
	fi
	check "$1: work directory empty" wait_for 10 work_empty
}
(cd "$T" && tar -C in -cf plain.tar lib/modules && cp plain.tar plain.tar.gz)
hostile not-gzip plain.tar.gz
head -c 30000 /dev/urandom >"$T/random.tar.gz"
hostile random random.tar.gz
: >"$T/empty.tar.gz"
hostile empty empty.tar.gz
s=$(stat -c %s "$T/modules-in.tar.gz")
head -c $((s / 2)) "$T/modules-in.tar.gz" >"$T/truncated.tar.gz"
hostile truncated truncated.tar.gz
head -c 100 "$T/modules-in.tar.gz" >"$T/truncated2.tar.gz"
hostile truncated-early truncated2.tar.gz
$MKTAR "$T/dotdot.tar.gz" dir:lib dir:lib/modules "file:lib/modules/../../../outside/evil=x"
hostile dotdot-member dotdot.tar.gz
$MKTAR "$T/abs.tar.gz" dir:lib "file:$T/outside/evil=x" "file:/tmp/dss-modules-escape=x"
hostile absolute-member abs.tar.gz
$MKTAR "$T/symabs.tar.gz" dir:lib "sym:lib/modules=$T/outside" "file:lib/modules/evil.ko=x"
hostile symlink-absolute symabs.tar.gz
$MKTAR "$T/symup.tar.gz" dir:lib "sym:lib/up=../../outside" "file:lib/up/evil.ko=x"
hostile symlink-climbs symup.tar.gz
$MKTAR "$T/symchain.tar.gz" dir:a dir:a/b "sym:a/b/s=../.." "sym:lib=a/b/s/.."
hostile symlink-chain symchain.tar.gz
deep=lib; for i in $(seq 80); do deep=$deep/d; done
$MKTAR "$T/deep.tar.gz" "file:$deep/x.ko=x"
hostile path-too-deep deep.tar.gz
$MKTAR "$T/hardout.tar.gz" dir:lib "hard:lib/passwd=/etc/passwd"
hostile hardlink-absolute hardout.tar.gz
$MKTAR "$T/hardup.tar.gz" dir:lib "hard:lib/x=../outside/x"
hostile hardlink-climbs hardup.tar.gz
$MKTAR "$T/hardlater.tar.gz" dir:lib "hard:lib/x=lib/y" "file:lib/y=data"
hostile hardlink-later hardlater.tar.gz
$MKTAR "$T/dev.tar.gz" dir:lib chr:lib/null
hostile char-device dev.tar.gz
$MKTAR "$T/blk.tar.gz" dir:lib blk:lib/sda
hostile block-device blk.tar.gz
$MKTAR "$T/fifo.tar.gz" dir:lib fifo:lib/pipe
hostile fifo fifo.tar.gz
$MKTAR "$T/dup.tar.gz" dir:lib "file:lib/a.ko=one" "sym:lib/a.ko=b"
hostile duplicate dup.tar.gz

dss_start DIGSIGSERVER_ARCHIVE_MAX_SIZE=1000000 DIGSIGSERVER_ARCHIVE_MAX_MEMBERS=20 || exit 0
$MKTAR "$T/bomb.tar.gz" dir:lib big:lib/zero.ko=500000000
check "bomb: 500 MB expand from under 1 MB" sh -c "[ \$(stat -c %s '$T/bomb.tar.gz') -lt 1000000 ]"
start=$(date +%s)
hostile bomb-size bomb.tar.gz
check "bomb: refused quickly" sh -c "[ \$(($(date +%s) - $start)) -lt 20 ]"
# shellcheck disable=SC2046 # one word per member
$MKTAR "$T/members.tar.gz" $(for i in $(seq 1 21); do echo "file:m$i.ko"; done)
hostile bomb-members members.tar.gz
# shellcheck disable=SC2046
$MKTAR "$T/members20.tar.gz" $(for i in $(seq 1 20); do echo "file:m$i.ko"; done)
code=$(post members20 -F machine=rsa2048 -F artifact=@members20.tar.gz)
check_eq "20 members under a limit of 20: 200" 200 "$code"
check "work directory empty" wait_for 10 work_empty
dss_stop
check "no worker crashed, no sanitizer report" \
	sh -c "! grep -E -e 'crashed' -e 'ERROR: [A-Za-z]*Sanitizer' -e 'runtime error:' '$T'/dss.log.*"
exit 0
