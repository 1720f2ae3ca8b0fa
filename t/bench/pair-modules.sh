#!/bin/bash
# SPDX-License-Identifier: MIT
# t/bench/pair-modules.sh BUILD OUT [KEY_OWNER]: one /sign/modules request
# of the Debian module tree (t/bench/data/modules-in.tar.gz, made by
# modules.sh) to BUILD's daemon, RSA-4096 sha512; appends "STATUS SECONDS" to
# OUT.  For pairing two builds with farm-bench (README, Benchmarks); the
# key store belongs to KEY_OWNER (default digsigserver-keys; a build from
# before the key process needs digsigserver).
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=$1 OUT=$2 OWNER=${3:-digsigserver-keys}
IN=$SRC/t/bench/data/modules-in.tar.gz
[ -s "$IN" ] || { echo "no $IN: run t/bench/modules.sh once" >&2; exit 1; }
T=$(mktemp -d /tmp/dss-pair.XXXXXX)
trap 'rm -rf "$T"' EXIT
chmod 0755 "$T"
mkdir -p "$T/keys/bench/kmodsign" "$T/work"
openssl req -new -nodes -utf8 -sha512 -days 36500 -batch -x509 \
	-config "$SRC/t/fixtures/x509.genkey" -newkey rsa:4096 -outform PEM \
	-out "$T/keys/bench/kmodsign/kernel-signkey.x509" \
	-keyout "$T/keys/bench/kmodsign/kernel-signkey.priv" 2>/dev/null
[ "$(id -u)" -eq 0 ] && chown -R "$OWNER" "$T/keys"
chmod -R go-rwx "$T/keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DIGSIGSERVER_KEYFILE_URI=file://$T/keys DIGSIGSERVER_WORK_DIR=$T/work DIGSIGSERVER_DRAIN_GRACE=0 \
	DIGSIGSERVER_LOG_LEVEL=warning "$B/digsigserver" --address 127.0.0.1 --port "$PORT" 2>"$T/log" &
P=$!
until curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; do
	kill -0 $P 2>/dev/null || { cat "$T/log" >&2; exit 1; }
	sleep 0.05
done
curl -s -o "$T/out" -w '%{http_code} %{time_total}\n' -X POST -F machine=bench \
	-F hashalg=sha512 -F artifact=@"$IN" "http://127.0.0.1:$PORT/sign/modules" >>"$OUT"
kill $P
wait $P
