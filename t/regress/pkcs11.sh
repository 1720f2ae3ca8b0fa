#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/pkcs11.sh: keys on a token (keys/keypkcs11.c) through the
# real daemon, with SoftHSM2.  A token in its own directory holds RSA-2048,
# RSA-4096 and EC P-256 keys; the same keys are kept as files.  The key
# store names the token's keys by <name>.pkcs11 references; every signer
# that signs in-process must give what it gives with the file key:
# modules byte-identical to Debian's sign-file, swupdate RSA byte-identical
# to openssl dgst and verified, swupdate CMS verified by openssl cms,
# mender RSA and EC validated by mender-artifact; Tegra, whose tool reads
# a key file, answers 400 naming the key; upstream's swupdate
# fields backend=pkcs11 and key-uri work, and a key-uri naming an object
# the store does not reference for the distro is 403.  The PIN is in no log
# line and no daemon process's environ or cmdline; a token moved away
# gives 503 with Retry-After and moved back signs again; a wrong PIN is
# logged once and not retried; DIGSIGSERVER_PKCS11_SESSIONS bounds the
# sessions open (counted by a wrapper module, t/fixtures/p11wrap.c);
# --check-config lists each reference and whether it resolves; a
# reference works in an s3:// store too (S3 emulator of t/regress/s3.sh).
. "$(dirname "$0")/lib.sh"

MOD=/usr/lib/softhsm/libsofthsm2.so
SIGN_FILE=/usr/lib/linux-kbuild-6.1/scripts/sign-file
MA=mender-artifact
for need in softhsm2-util "$SIGN_FILE" $MA cc; do
	if ! command -v "$need" >/dev/null 2>&1; then
		skip "pkcs11" "$need is not installed (tools/deps.sh)"
		exit 0
	fi
done
[ -f "$MOD" ] || { skip "pkcs11" "$MOD missing: apt-get install softhsm2"; exit 0; }
VERSION=6.1.0-test
PIN=p11pin$RANDOM$RANDOM$RANDOM

# --- the token, owned by the key process's user --------------------------------
softhsm_token dss-test
import() { # import NAME ID PEM: a PKCS#8 key pair into the token
	openssl pkcs8 -topk8 -nocrypt -in "$3" -out "$T/import.pem"
	softhsm2-util --import "$T/import.pem" --token dss-test --label "$1" --id "$2" \
		--pin "$PIN" >/dev/null
}
F=$T/files
mkdir -p "$F"
cert() { # cert NAME NEWKEY-ARGS: a key and certificate as files, like certs/x509.genkey
	_c=$1 # not _n: lib.sh's test counter
	shift
	openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 \
		-config "$SRC/t/fixtures/x509.genkey" "$@" -outform PEM -out "$F/$_c.x509" \
		-keyout "$F/$_c.priv" 2>/dev/null
}
cert rsa2048 -newkey rsa:2048
cert rsa4096 -newkey rsa:4096
cert ec256 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
import rsa2048 01 "$F/rsa2048.priv"
import rsa4096 02 "$F/rsa4096.priv"
import ec256 03 "$F/ec256.priv"
for k in rsa2048 rsa4096 ec256; do openssl pkey -in "$F/$k.priv" -pubout -out "$F/$k.pub"; done
printf '%s\n' "$PIN" >"$T/pin"
chmod 0600 "$T/pin"
if [ -n "$DSS_KEY_USER" ]; then chown -R "$DSS_KEY_USER" "$TOK" "$T/pin"; fi

# --- the key store: references to the token ------------------------------------
ref() { # ref SELECTOR TAG FILE URI
	mkdir -p "$KEYS/$1/$2"
	printf '%s\n' "$4" >"$KEYS/$1/$2/$3.pkcs11"
}
for k in rsa2048 rsa4096; do
	ref "$k" kmodsign kernel-signkey.priv "pkcs11:token=dss-test;object=$k;type=private"
	cp "$F/$k.x509" "$KEYS/$k/kmodsign/kernel-signkey.x509"
done
ref swu swupdate rsa-private.key "pkcs11:token=dss-test;object=rsa2048"
ref swu swupdate cms-private.key "pkcs11:token=dss-test;id=%01"
cp "$F/rsa2048.x509" "$KEYS/swu/swupdate/cms.cert"
ref mrsa mender private.key "pkcs11:token=dss-test;object=rsa2048;type=private"
ref mec mender private.key "pkcs11:model=SoftHSM%20v2;token=dss-test;object=ec256"
ref pinned mender private.key "pkcs11:token=dss-test;object=ec256;pin-value=$PIN"

ref tx2tok tegrasign rsa_priv.pem "pkcs11:token=dss-test;object=rsa2048"
L4T=$T/l4t
sh "$SRC/t/fixtures/mkl4t.sh" "$L4T" "$T/rec" >/dev/null || { not_ok "fake L4T trees"; exit 0; }

dss_start DIGSIGSERVER_PKCS11_MODULE="$MOD" DIGSIGSERVER_PKCS11_PIN_FILE="$T/pin" \
	DIGSIGSERVER_L4T_TOOLS_BASE="$L4T" SOFTHSM2_CONF="$SOFTHSM2_CONF" \
	DIGSIGSERVER_AUDIT_FILE="$T/audit" || exit 1
check "at start the key process logs that each reference resolves" wait_for 20 grep -qF \
	"token reference rsa4096/kmodsign/kernel-signkey.priv.pkcs11 (pkcs11:token=dss-test;object=rsa4096;type=private) resolves: RSA 4096 bits" \
	"$DSS_LOG"
# the module is loaded before the key process locks its memory against
# execution (a module built with an executable stack loads only then)
if grep -q 'info: main: no memory can be made executable' "$DSS_LOG"; then
	loaded=$(grep -n 'keys\[[0-9]*\] debug: kp11_load: PKCS#11 module .* loaded' "$DSS_LOG" | head -1 | cut -d: -f1)
	locked=$(grep -n 'keys\[[0-9]*\] debug: proc_lock_memory: memory locked' "$DSS_LOG" | head -1 | cut -d: -f1)
	check "the key process loaded the module (line ${loaded:-none}), then locked its memory (line ${locked:-none})" \
		test -n "$loaded" -a -n "$locked" -a "${loaded:-0}" -lt "${locked:-0}"
fi

# --- modules: byte for byte like sign-file with the key in a file -----------------
sh "$SRC/t/fixtures/mkmodules.sh" "$T/in" "$VERSION" 8
(cd "$T" && tar -C in -c -z -f modules-in.tar.gz lib/modules)
post() { # post NAME CURL-ARGS...: the status; the body in $T/NAME.out
	_name=$1
	shift
	(cd "$T" && curl -s -D "$T/$_name.hdr" -o "$_name.out" -w '%{http_code}' -X POST "$@" \
		"$URL/sign/modules")
}
unpack() {
	rm -rf "$T/$1.dir"
	mkdir "$T/$1.dir"
	tar -C "$T/$1.dir" -x --no-same-owner -f "$T/$1.out" ./lib/modules
}
for k in rsa2048 rsa4096; do
	rm -rf "$T/ref-$k"
	cp -a "$T/in" "$T/ref-$k"
	find "$T/ref-$k/lib" -type f -name '*.ko' -exec "$SIGN_FILE" sha512 "$F/$k.priv" \
		"$F/$k.x509" {} \;
	code=$(post mod-$k -F machine=$k -F artifact=@modules-in.tar.gz)
	check_eq "modules, $k on the token: 200" 200 "$code"
	unpack mod-$k
	check "modules, $k on the token: identical to sign-file with the key file" \
		diff -r --no-dereference "$T/ref-$k/lib" "$T/mod-$k.dir/lib"
done

# --- swupdate: RSA and CMS ------------------------------------------------------
printf 'software = { version = "1.0"; };\n' >"$T/sw-description"
swu() { # swu METHOD [curl args]: the status; the signature in $T/sig
	_m=$1
	shift
	curl -s -D "$T/swu.hdr" -o "$T/sig" -w '%{http_code}' -X POST \
		-F sw-description=@"$T/sw-description" -F distro=swu -F method="$_m" "$@" \
		"$URL/sign/swupdate"
}
check_eq "swupdate RSA on the token: 200" 200 "$(swu RSA)"
openssl dgst -sha256 -sign "$F/rsa2048.priv" -out "$T/sig.ref" "$T/sw-description"
check "swupdate RSA: byte-identical to openssl dgst -sign with the key file" cmp "$T/sig" "$T/sig.ref"
check "swupdate RSA: openssl dgst -verify accepts it" \
	openssl dgst -sha256 -verify "$F/rsa2048.pub" -signature "$T/sig" "$T/sw-description"
check_eq "swupdate RSA-PSS on the token: 200" 200 "$(swu RSA-PSS)"
check "swupdate RSA-PSS: openssl dgst -verify accepts it (PSS, salt = digest length)" \
	openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
	-verify "$F/rsa2048.pub" -signature "$T/sig" "$T/sw-description"
check_eq "swupdate CMS on the token (reference by id): 200" 200 "$(swu CMS)"
check "swupdate CMS: openssl cms -verify accepts it" \
	openssl cms -verify -binary -inform DER -in "$T/sig" -content "$T/sw-description" \
	-CAfile "$F/rsa2048.x509" -purpose any -out /dev/null
# and Debian's swupdate, on a .swu holding it
cp "$T/sig" "$T/sw-description.sig"
(cd "$T" && printf 'sw-description\nsw-description.sig\n' | cpio -o -H crc --quiet >"$T/update.swu")
swupdate_check -v -c -k "$F/rsa2048.x509" -i "$T/update.swu" >"$T/swupdate.log" 2>&1
check "swupdate CMS: Debian's swupdate -c verifies the .swu (Verified OK)" \
	grep -q "Verified OK" "$T/swupdate.log"
# a key file put beside the reference (the reference is used only where
# the file is absent): signed with the file from the next request on,
# and with the token again once it is gone
openssl genrsa -out "$T/beside.key" 2048 2>/dev/null
openssl pkey -in "$T/beside.key" -pubout -out "$T/beside.pub"
cp "$T/beside.key" "$KEYS/swu/swupdate/rsa-private.key"
dss_fix_keys
check_eq "a key file beside the reference: 200" 200 "$(swu RSA)"
check "  ... signed with the file's key" \
	openssl dgst -sha256 -verify "$T/beside.pub" -signature "$T/sig" "$T/sw-description"
rm -f "$KEYS/swu/swupdate/rsa-private.key"
check_eq "  ... removed: 200" 200 "$(swu RSA)"
check "  ... signed on the token again" \
	openssl dgst -sha256 -verify "$F/rsa2048.pub" -signature "$T/sig" "$T/sw-description"

# --- upstream's backend=pkcs11 and key-uri, as curl sends them ----------------------
# (--form-string: with -F, curl takes ";type=private" for the part's content type)
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=swu -F method=RSA \
	-F backend=pkcs11 -F sw-description=@"$T/sw-description" "$URL/sign/swupdate")
check_eq "backend=pkcs11 without key-uri: 400, upstream's words" \
	"400 Key URI missing for PKCS#11 backend" "$code $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=swu -F backend=pkcs11 \
	"$URL/sign/swupdate")
check_eq "  ... checked before the upload" "400 Key URI missing for PKCS#11 backend" \
	"$code $(cat "$T/body")"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F backend=pkcs11 "$URL/sign/swupdate")
check_eq "  ... after the distro, as upstream" "400 Distro name missing" "$code $(cat "$T/body")"
UP='pkcs11:token=dss-test;object=rsa2048;type=private;pin-value=password'
check_eq "backend=pkcs11, key-uri with upstream's pin-value=password: 200" 200 \
	"$(swu RSA -F backend=pkcs11 --form-string key-uri="$UP")"
check "  ... the signature of the store's key" cmp "$T/sig" "$T/sig.ref"
check_eq "backend=pkcs11, CMS, key-uri by id: 200" 200 \
	"$(swu CMS -F backend=pkcs11 --form-string key-uri='pkcs11:token=dss-test;id=%01')"
check "  ... openssl cms -verify accepts it" \
	openssl cms -verify -binary -inform DER -in "$T/sig" -content "$T/sw-description" \
	-CAfile "$F/rsa2048.x509" -purpose any -out /dev/null
code=$(swu RSA -F backend=pkcs11 --form-string key-uri='pkcs11:token=dss-test;object=ec256;type=private')
check_eq "a key-uri naming another object on the token: 403" 403 "$code"
check "  ... with a reason" grep -q "names no object the key store assigns to swu/swupdate" "$T/sig"
code=$(swu RSA -F backend=pkcs11 --form-string key-uri='pkcs11:token=dss-test;object=rsa2048?module-path=/x.so')
check_eq "a key-uri choosing a module: 400" 400 "$code"
mkdir -p "$KEYS/swfile/swupdate"
cp "$F/rsa2048.priv" "$KEYS/swfile/swupdate/rsa-private.key"
dss_fix_keys
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=swfile -F method=RSA \
	-F backend=pkcs11 --form-string key-uri="$UP" -F sw-description=@"$T/sw-description" "$URL/sign/swupdate")
check_eq "backend=pkcs11 for a distro whose key is a file: 403" 403 "$code"

# A worker taken over asks for an RSA-PSS signature with a salt too long for
# the key: a shim (LD_PRELOAD) rewrites every SIGN while a flag file exists.
# SoftHSM answers such a request CKR_GENERAL_ERROR, which the key process
# took for a lost device (the module initialized again, every session and
# login anew, a request at a time): it is refused before the token now.
if [ -z "${DSS_SANITIZED:-}" ] && [ -z "${DSS_VALGRIND:-}" ] && command -v gcc >/dev/null; then
	cat >"$T/salt.c" <<'EOC'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "keyproto.h"
ssize_t
sendmsg(int fd, const struct msghdr *mh, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);

	if (real == NULL)
		real = (ssize_t(*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
	if (access(FLAG, F_OK) == 0 && mh->msg_iovlen == 1 &&
	    mh->msg_iov[0].iov_len >= sizeof(struct keyproto_sign)) {
		struct keyproto_sign *s = mh->msg_iov[0].iov_base;

		if (s->hdr.type == KEYPROTO_SIGN) {
			s->scheme = KEYPROTO_RSA_PSS;
			s->saltlen = 1000;
		}
	}
	return real(fd, mh, flags);
}
EOC
	gcc -shared -fPIC -I"$SRC/lib" -DFLAG="\"$T/salt.flag\"" -o "$T/salt.so" "$T/salt.c" -ldl
	chmod 0755 "$T/salt.so"
	dss_start DIGSIGSERVER_PKCS11_MODULE="$MOD" DIGSIGSERVER_PKCS11_PIN_FILE="$T/pin" \
		SOFTHSM2_CONF="$SOFTHSM2_CONF" LD_PRELOAD="$T/salt.so" || exit 1
	: >"$T/salt.flag"
	log_mark
	code=$(swu RSA)
	rm -f "$T/salt.flag"
	check "an RSA-PSS salt too long for the token's key: refused ($code)" \
		wait_for 10 grep -q 'RSA-PSS salt of 1000 bytes too long for the key' "$DSS_LOG"
	check "  ... before the token: no module initialized again" \
		sh -c "! grep -q 'initialized again' '$DSS_LOG'"
	check_eq "  ... the next request signs" 200 "$(swu RSA)"
	check "  ... byte-identical to openssl dgst -sign with the key file" cmp "$T/sig" "$T/sig.ref"
	# the daemon of the tests below, as started above
	dss_start DIGSIGSERVER_PKCS11_MODULE="$MOD" DIGSIGSERVER_PKCS11_PIN_FILE="$T/pin" \
		DIGSIGSERVER_L4T_TOOLS_BASE="$L4T" SOFTHSM2_CONF="$SOFTHSM2_CONF" \
		DIGSIGSERVER_AUDIT_FILE="$T/audit" || exit 1
else
	skip "an RSA-PSS salt too long for the key" "needs gcc and a plain build (LD_PRELOAD)"
fi

# --- mender: RSA and EC -----------------------------------------------------------
A=$T/art
mkdir -p "$A"
head -c 100000 /dev/urandom >"$T/rootfs.ext4"
$MA write rootfs-image -t testdev -n p11 -f "$T/rootfs.ext4" -o "$T/src.mender" \
	--compression none >/dev/null 2>&1
chmod 0644 "$T/src.mender"
dss_own "$A"
mender() { # mender DISTRO: the status; the artifact in $A/DISTRO.mender
	cp "$T/src.mender" "$A/$1.mender"
	dss_own "$A/$1.mender"
	curl -s -D "$T/mender.hdr" -o "$T/body" -w '%{http_code}' -X POST -F distro="$1" \
		-F artifact-uri="file://$A/$1.mender" "$URL/sign/mender"
}
check_eq "mender RSA on the token: 200" 200 "$(mender mrsa)"
check "mender RSA: mender-artifact validate accepts it" $MA validate -k "$F/rsa2048.pub" "$A/mrsa.mender"
check_eq "mender EC P-256 on the token: 200" 200 "$(mender mec)"
check "mender EC: mender-artifact validate accepts it" $MA validate -k "$F/ec256.pub" "$A/mec.mender"
check_eq "a reference holding a PIN is refused: 500" 500 "$(mender pinned)"
check "  ... and the log says why" grep -q "must not hold a PIN" "$DSS_LOG"

# --- Tegra: its tool reads a key file, which a token key cannot be ------------------
P=$T/pkg
mkdir -p "$P"
DTB=tegra186-quill-p3310-1000-c03-00-base.dtb
for f in flash.xml.in "$DTB" boot.img tx2.cfg; do echo x >"$P/$f"; done
printf 'FLASHVARS=""\n' >"$P/flashvars"
printf 'DTBFILE=%s\nODMDATA=0x1090000\nLNXFILE=boot.img\nBOARDID=3310\nFAB=B02\nfuselevel=fuselevel_production\nlocalbootfile=boot.img\nboardcfg=\nCHIPREV=\nBOARDSKU=\nBOARDREV=\n' \
	"$DTB" >"$P/MANIFEST"
(cd "$P" && tar -c -h -z -f "$T/tegra.tar.gz" -- *)
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F machine=tx2tok -F soctype=tegra186 \
	-F bspversion=32.4.3 -F artifact=@"$T/tegra.tar.gz" "$URL/sign/tegra")
check_eq "Tegra with its key on the token: 400 naming the key" \
	"400 Key tx2tok/tegrasign/rsa_priv.pem is on a token (rsa_priv.pem.pkcs11); this signer's tool needs a key file" \
	"$code $(cat "$T/body")"

# --- the PIN is nowhere -------------------------------------------------------------
descendants() { # the daemon and every process under it
	echo "$DSS_PID"
	ps -e -o pid=,ppid= | awk -v p="$DSS_PID" '
		{ parent[$1] = $2 } END { n = 1; want[p] = 1
		  do { more = 0; for (c in parent) if (!(c in want) && (parent[c] in want)) { want[c] = 1; more = 1; print c } } while (more) }'
}
pin_nowhere() {
	# valgrind keeps its own copy of the environment it started with
	_files="environ cmdline"
	[ -n "${DSS_VALGRIND:-}" ] && _files=cmdline
	for p in $(descendants); do
		for f in $_files; do
			[ -r "/proc/$p/$f" ] || continue
			if tr '\0' '\n' <"/proc/$p/$f" | grep -qF "$PIN"; then
				echo "# the PIN is in /proc/$p/$f"
				return 1
			fi
		done
	done
	! grep -qF "$PIN" "$DSS_LOG"
}
check "PIN file: the PIN is in no log line, no environ or cmdline of the daemon's processes" pin_nowhere

# --- --check-config lists the references and whether they resolve ----------------------
ref gone mender private.key "pkcs11:token=dss-test;object=no-such-key"
dss_fix_keys
env DIGSIGSERVER_KEYFILE_URI="file://$KEYS" DIGSIGSERVER_WORK_DIR="$DSS_WORK" \
	DIGSIGSERVER_PKCS11_MODULE="$MOD" DIGSIGSERVER_PKCS11_PIN_FILE="$T/pin" \
	SOFTHSM2_CONF="$SOFTHSM2_CONF" "$DSS" --check-config >"$T/cc.out" 2>&1
check "--check-config: a reference that resolves, with its key" grep -qF \
	"token reference rsa4096/kmodsign/kernel-signkey.priv.pkcs11 (pkcs11:token=dss-test;object=rsa4096;type=private) resolves: RSA 4096 bits" \
	"$T/cc.out"
check "--check-config: one that does not" grep -qF \
	"token reference gone/mender/private.key.pkcs11 (pkcs11:token=dss-test;object=no-such-key) does not resolve" \
	"$T/cc.out"
check "--check-config: a reference holding a PIN is an error" grep -qF \
	"error: token reference pinned/mender/private.key.pkcs11: holds a PIN" "$T/cc.out"
check "--check-config: the PIN is not printed" sh -c "! grep -qF '$PIN' '$T/cc.out'"
check "--check-config: the token's state" grep -qx "token: ready" "$T/cc.out"
rm "$KEYS/gone/mender/private.key.pkcs11"

# --- the token goes away and comes back -----------------------------------------------
mv "$TOK/tokens" "$TOK/tokens.away"
code=$(swu RSA)
check_eq "token directory moved away: 503" 503 "$code"
check "  ... with Retry-After" grep -qi '^Retry-After: [0-9]' "$T/swu.hdr"
check_eq "  ... /status says the token is unavailable" "unavailable" "$(status_field "d['keys']['token']")"
check "  ... and counts the request" test "$(status_field "d['keys']['token_unavailable']")" -ge 1
mv "$TOK/tokens.away" "$TOK/tokens"
check_eq "token directory back: the next request signs" 200 "$(swu RSA)"
check "  ... the same signature" cmp "$T/sig" "$T/sig.ref"
check_eq "  ... /status says the token is ready" "ready" "$(status_field "d['keys']['token']")"

# --- the key re-provisioned under the same label ---------------------------------------
# the token made again with a new rsa2048 (label and id as before): the
# reference file is unchanged, the public key the key process cached is
# not the token's any more; every token signature is checked against it
mv "$TOK/tokens" "$TOK/tokens.old"
mkdir -p "$TOK/tokens"
softhsm2-util --init-token --free --label dss-test --pin "$PIN" --so-pin 12345678 >/dev/null
cert rsa2048b -newkey rsa:2048
import rsa2048 01 "$F/rsa2048b.priv"
openssl pkey -in "$F/rsa2048b.priv" -pubout -out "$F/rsa2048b.pub"
if [ -n "$DSS_KEY_USER" ]; then chown -R "$DSS_KEY_USER" "$TOK"; fi
# the old token's sessions are gone: the first request may be a 503
# (Retry-After, as curl --retry takes it)
for _i in 1 2 3; do
	code=$(swu RSA)
	[ "$code" = 503 ] || break
done
check_eq "key re-provisioned on the token: 200" 200 "$code"
check "  ... the signature verifies with the new key" \
	openssl dgst -sha256 -verify "$F/rsa2048b.pub" -signature "$T/sig" "$T/sw-description"
check "  ... the key process says it read the token's public key again" \
	grep -q "swu/swupdate/rsa-private.key: the token holds another key than the one cached" "$DSS_LOG"
check_eq "  ... the next request: 200, with no second reading" "200 1" \
	"$(swu RSA) $(grep -c "the token holds another key than the one cached" "$DSS_LOG")"
newfpr=$(openssl pkey -pubin -in "$F/rsa2048b.pub" -outform DER | sha256sum | cut -d' ' -f1)
check "  ... its audit record names the new key's fingerprint" \
	wait_for 10 grep -q "\"endpoint\":\"swupdate\",\"selector\":\"swu\",\"key_sha256\":\"$newfpr\"" "$T/audit"
rm -rf "$TOK/tokens"
mv "$TOK/tokens.old" "$TOK/tokens"
dss_stop

# --- upstream's variable, and a wrong PIN -------------------------------------------
dss_start DIGSIGSERVER_PKCS11_MODULE="$MOD" DIGSIGSERVER_YUBIHSM_PASSWORD="$PIN" \
	SOFTHSM2_CONF="$SOFTHSM2_CONF" || exit 1
check_eq "DIGSIGSERVER_YUBIHSM_PASSWORD: swupdate RSA on the token: 200" 200 "$(swu RSA)"
check "  ... the PIN is in no log line, no environ or cmdline" pin_nowhere
# a worker's whole memory, read as root: the PIN the supervisor took from
# the environment is wiped in every worker at its birth
in_memory() { # in_memory PID: 0 when the PIN is in its readable memory, 1 when not, 2 unread
	python3 - "$1" "$PIN" <<'PY'
import re, sys
pid, pin = sys.argv[1], sys.argv[2].encode()
CHUNK, SKIP = 1 << 20, 1 << 28  # regions past 256 MB: sanitizer shadow, not data
read = 0
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) r", line)
        if not m or "[vvar]" in line or "[vsyscall]" in line:
            continue
        lo, hi = int(m.group(1), 16), int(m.group(2), 16)
        if hi - lo > SKIP:
            continue
        tail = b""
        for at in range(lo, hi, CHUNK):
            try:
                mem.seek(at)
                data = mem.read(min(CHUNK, hi - at))
            except OSError:
                tail = b""
                continue
            read += len(data)
            if pin in tail + data:
                sys.exit(0)
            tail = data[-(len(pin) - 1):]
sys.exit(1 if read > 0 else 2)
PY
}
if [ -n "${DSS_SANITIZED:-}${DSS_VALGRIND:-}" ]; then
	# the sanitizer runtime keeps its own copy of the initial environment
	skip "the PIN is not in a worker's memory" "a sanitizer or valgrind build copies the environment"
elif [ "$(id -u)" -eq 0 ]; then
	w=$(worker_pids | cut -d' ' -f1)
	in_memory "$w"
	case $? in
	0) not_ok "  ... not in a worker's memory ($w)" ;;
	1) ok "  ... not in a worker's memory ($w)" ;;
	*) not_ok "  ... not in a worker's memory: its memory could not be read" ;;
	esac
	if in_memory "$(status_field "d['keys']['pid']")"; then
		ok "  ... (the key process holds it, as it must)"
	else
		not_ok "  ... the key process holds it (the reader sees memory)"
	fi
else
	skip "the PIN is not in a worker's memory" "needs root to read /proc/PID/mem"
fi
dss_stop
dss_start DIGSIGSERVER_PKCS11_MODULE="$MOD" DIGSIGSERVER_YUBIHSM_PASSWORD="wrong$PIN" \
	SOFTHSM2_CONF="$SOFTHSM2_CONF" || exit 1
check "wrong PIN: said at start, before any request" wait_for 20 grep -q 'login refused' "$DSS_LOG"
check_eq "wrong PIN: 500" 500 "$(swu RSA)"
check_eq "wrong PIN: again 500" 500 "$(swu RSA)"
check_eq "wrong PIN: one login attempt, logged once" 1 "$(grep -c 'login refused' "$DSS_LOG")"
dss_stop

# --- DIGSIGSERVER_PKCS11_SESSIONS bounds the sessions ---------------------------------
cc -shared -fPIC -I/usr/include/p11-kit-1 -o "$T/p11wrap.so" "$SRC/t/fixtures/p11wrap.c" -ldl
touch "$T/count"
[ -n "$DSS_KEY_USER" ] && chown "$DSS_KEY_USER" "$T/count"
mkdir -p "$T/fault.d"
chmod 1777 "$T/fault.d"
dss_start DIGSIGSERVER_PKCS11_MODULE="$T/p11wrap.so" P11WRAP_MODULE="$MOD" \
	P11WRAP_COUNT="$T/count" DIGSIGSERVER_PKCS11_PIN_FILE="$T/pin" \
	P11WRAP_FAULT="$T/fault.d/fault" \
	DIGSIGSERVER_PKCS11_SESSIONS=2 DIGSIGSERVER_SIGN_THREADS=8 DIGSIGSERVER_WORKERS=8 \
	SOFTHSM2_CONF="$SOFTHSM2_CONF" || exit 1
pids=
for i in 1 2 3 4 5 6 7 8; do
	post par$i -F machine=rsa2048 -F artifact=@modules-in.tar.gz >"$T/par$i.code" &
	pids="$pids $!"
done
wait $pids # not the daemon
codes=$(for i in 1 2 3 4 5 6 7 8; do cat "$T/par$i.code"; echo; done | sort | uniq -c | tr -s ' ')
check_eq "8 concurrent module jobs: all 200" " 8 200" "$codes"
most=$(cut -d' ' -f2 "$T/count")
check "PKCS11_SESSIONS=2: at most 2 sessions were open at once (saw ${most:-none})" \
	test -n "$most" -a "${most:-9}" -le 2 -a "${most:-0}" -ge 1
unpack par8
check "  ... and the modules are still identical to sign-file" \
	diff -r --no-dereference "$T/ref-rsa2048/lib" "$T/par8.dir/lib"

# --- a token signature that does not verify never leaves -----------------------------
# (p11wrap flips a bit of what C_Sign returns while $T/fault.d/fault exists)
fault() { # fault once|always
	echo "$1" >"$T/fault.d/fault"
	if [ -n "$DSS_KEY_USER" ]; then chown "$DSS_KEY_USER" "$T/fault.d/fault"; fi
}
fault once
check_eq "a device fault, once: 200" 200 "$(swu RSA)"
check "  ... the signature given verifies" \
	openssl dgst -sha256 -verify "$F/rsa2048.pub" -signature "$T/sig" "$T/sw-description"
check "  ... the faulty one was made (and dropped)" test ! -e "$T/fault.d/fault"
check "  ... the key process says so as an error, not as a new key" grep -q \
	"error: .*swu/swupdate/rsa-private.key: the token made a signature that does not verify with its own public key (a device fault?)" \
	"$DSS_LOG"
fault always
check_eq "a device that keeps faulting: 500 Signing error" "500 Signing error" \
	"$(swu RSA) $(cat "$T/sig")"
check "  ... logged" grep -q \
	"swu/swupdate/rsa-private.key: the token's signature does not verify with its public key" \
	"$DSS_LOG"
rm -f "$T/fault.d/fault"
check_eq "  ... the device mended: 200" 200 "$(swu RSA)"
check "  ... byte-identical to openssl dgst -sign with the key file" cmp "$T/sig" "$T/sig.ref"
dss_stop

# --- a module built with an executable stack (old vendor modules are) -------------
# it loads only before the key process locks its memory against execution
# (glibc makes the stack executable for it), and with an executable stack
# no thread could start after the lock: the key process loads the module
# first and then, seeing the executable stack, stays unlocked and says so
cc -shared -fPIC -Wl,-z,execstack -I/usr/include/p11-kit-1 -o "$T/p11wrap-xs.so" \
	"$SRC/t/fixtures/p11wrap.c" -ldl
dss_start DIGSIGSERVER_PKCS11_MODULE="$T/p11wrap-xs.so" P11WRAP_MODULE="$MOD" \
	P11WRAP_COUNT="$T/count" DIGSIGSERVER_PKCS11_PIN_FILE="$T/pin" \
	SOFTHSM2_CONF="$SOFTHSM2_CONF" || exit 1
check_eq "a module with an executable stack: a module job signs" 200 \
	"$(post xs -F machine=rsa2048 -F artifact=@modules-in.tar.gz)"
if grep -q 'info: main: no memory can be made executable' "$DSS_LOG"; then
	check "  ... the key process says it does not lock its memory, and why" grep -q \
		'keys\[[0-9]*\] warning: proc_lock_memory: memory not locked against execution: a library it loaded needs an executable stack' "$DSS_LOG"
	check "  ... the workers still lock theirs" grep -q \
		'worker\[[0-9]*\] debug: proc_lock_memory: memory locked against execution' "$DSS_LOG"
fi
unpack xs
check "  ... and its modules are identical to sign-file" \
	diff -r --no-dereference "$T/ref-rsa2048/lib" "$T/xs.dir/lib"
dss_stop

# --- a reference in an s3:// store ------------------------------------------------------
EMU=$SRC/t/s3/s3-emulator
if ! command -v node >/dev/null 2>&1 || ! "$EMU" start "$T/s3" >"$T/emu.env" 2>"$T/emu.err"; then
	skip "s3:// reference" "the S3 emulator does not start (node, t/s3 packages)"
	exit 0
fi
trap '"$EMU" stop "$T/s3" >/dev/null 2>&1; _cleanup' EXIT
. "$T/emu.env"
s3put() { # s3put FILE BUCKET/KEY: the status
	curl -s -o /dev/null -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$1" "$DIGSIGSERVER_S3_ENDPOINT/$2"
}
check_eq "s3://: the reference is stored" 200 \
	"$(s3put "$KEYS/swu/swupdate/rsa-private.key.pkcs11" dss-keys/p11/swu/swupdate/rsa-private.key.pkcs11)"
dss_start DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/p11 DIGSIGSERVER_PKCS11_MODULE="$MOD" \
	DIGSIGSERVER_PKCS11_PIN_FILE="$T/pin" SOFTHSM2_CONF="$SOFTHSM2_CONF" || exit 1
check_eq "s3:// store with a reference: swupdate RSA on the token: 200" 200 "$(swu RSA)"
check "  ... byte-identical to openssl dgst -sign with the key file" cmp "$T/sig" "$T/sig.ref"
