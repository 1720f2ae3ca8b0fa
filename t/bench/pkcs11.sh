#!/bin/bash
# SPDX-License-Identifier: MIT
# t/bench/pkcs11.sh [BUILD_DIR]: the same key on a SoftHSM2 token and in a
# file, in one run and one daemon:
#  - swupdate RSA-2048 at 8 concurrent clients (wrk), distro "file" vs
#    distro "token" (a .pkcs11 reference to the same key);
#  - /sign/modules on Debian's real module tree (t/bench/data, made by
#    t/bench/modules.sh; a small generated tree when it is absent) with an
#    RSA-4096 key, machine "file" vs machine "token".
# Prints table rows (appended to t/bench/results.md); asserts nothing.
set -u
BUILD=${1:-${BUILD:-build}}
export BUILD
. "$(dirname "$0")/lib.sh"
SECS=${BENCH_SECONDS:-10}
MOD=/usr/lib/softhsm/libsofthsm2.so
[ -f "$MOD" ] || { echo "pkcs11 bench: $MOD missing (apt-get install softhsm2)" >&2; exit 1; }
PIN=bench$RANDOM$RANDOM

softhsm_token bench
import() { # import LABEL PEM
	openssl pkcs8 -topk8 -nocrypt -in "$2" -out "$T/import.pem"
	softhsm2-util --import "$T/import.pem" --token bench --label "$1" --id "0$3" --pin "$PIN" >/dev/null
}
mkdir -p "$KEYS/file/swupdate" "$KEYS/token/swupdate" "$KEYS/file/kmodsign" "$KEYS/token/kmodsign"
openssl genrsa -out "$KEYS/file/swupdate/rsa-private.key" 2048 2>/dev/null
import swu "$KEYS/file/swupdate/rsa-private.key" 1
echo "pkcs11:token=bench;object=swu;type=private" >"$KEYS/token/swupdate/rsa-private.key.pkcs11"
openssl req -new -nodes -utf8 -sha512 -days 3650 -batch -x509 -config "$SRC/t/fixtures/x509.genkey" \
	-newkey rsa:4096 -outform PEM -out "$KEYS/file/kmodsign/kernel-signkey.x509" \
	-keyout "$KEYS/file/kmodsign/kernel-signkey.priv" 2>/dev/null
import kmod "$KEYS/file/kmodsign/kernel-signkey.priv" 2
echo "pkcs11:token=bench;object=kmod;type=private" >"$KEYS/token/kmodsign/kernel-signkey.priv.pkcs11"
cp "$KEYS/file/kmodsign/kernel-signkey.x509" "$KEYS/token/kmodsign/"
printf '%s\n' "$PIN" >"$T/pin"
chmod 0600 "$T/pin"
[ -n "$DSS_KEY_USER" ] && chown -R "$DSS_KEY_USER" "$TOK" "$T/pin"

IN=$SRC/t/bench/data/modules-in.tar.gz
what="Debian's module tree"
if [ ! -s "$IN" ]; then
	sh "$SRC/t/fixtures/mkmodules.sh" "$T/mods" 6.1.0-bench 200 >/dev/null 2>&1
	tar -C "$T/mods" -czf "$T/modules-in.tar.gz" lib
	IN=$T/modules-in.tar.gz
	what="200 generated modules (run t/bench/modules.sh first for Debian's tree)"
fi
printf 'software = { version = "1.0.0"; };\n' >"$T/sw-description"

dss_start DIGSIGSERVER_LOG_LEVEL=warning DIGSIGSERVER_PKCS11_MODULE="$MOD" \
	DIGSIGSERVER_PKCS11_PIN_FILE="$T/pin" SOFTHSM2_CONF="$SOFTHSM2_CONF" || exit 1

swu_rate() { # swu_rate DISTRO: requests per second at 8 clients
	python3 "$SRC/t/bench/wrkpost.py" "$T/sw-description" "$1" "$T/post-$1.lua"
	wrk -t2 -c8 -d"${SECS}s" -s "$T/post-$1.lua" "$URL/sign/swupdate" >"$T/wrk-$1.out" 2>&1
	grep -q 'Non-2xx' "$T/wrk-$1.out" && echo "# WARNING: not every $1 answer was 200" >&2
	awk '/^Requests\/sec/{printf "%.0f", $2}' "$T/wrk-$1.out"
}
modules_secs() { # modules_secs MACHINE: wall seconds of one request
	local t0 t1 code
	t0=$(date +%s.%N)
	code=$(curl -s -o "$T/out-$1.tar.gz" -w '%{http_code}' -X POST -F machine="$1" -F hashalg=sha512 \
		-F artifact=@"$IN" "$URL/sign/modules")
	t1=$(date +%s.%N)
	[ "$code" = 200 ] || echo "# WARNING: modules $1 answered $code" >&2
	python3 -c "print('%.1f' % ($t1 - $t0))"
}

file_rate=$(swu_rate file)
token_rate=$(swu_rate token)
bench_row "| swupdate RSA-2048, 8 clients: key on a SoftHSM2 token vs the same key in a file | $token_rate req/s | $file_rate req/s (file key, same daemon) | $(awk "BEGIN{printf \"%.2fx\", $token_rate/$file_rate}") | | DIGSIGSERVER_PKCS11_SESSIONS=4 |"
mf=$(modules_secs file)
mt=$(modules_secs token)
cmp -s <(tar -xzOf "$T/out-file.tar.gz" | sha256sum) <(tar -xzOf "$T/out-token.tar.gz" | sha256sum) ||
	echo "# WARNING: the token's modules differ from the file key's" >&2
bench_row "| modules, RSA-4096/sha512, $what: key on a SoftHSM2 token vs in a file | $mt s | $mf s (file key, same daemon) | $(awk "BEGIN{printf \"%.2fx\", $mf/$mt}") | | same bytes checked |"
dss_stop
exit 0
