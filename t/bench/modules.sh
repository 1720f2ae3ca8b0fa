#!/bin/bash
# SPDX-License-Identifier: MIT
# t/bench/modules.sh [BUILD_DIR]: /sign/modules on Debian's real module tree.
#
# Downloads linux-image-6.1.0-<n>-amd64 (the newest the apt sources have),
# strips Debian's signatures from its modules (marker, 12-byte descriptor
# and sig_len bytes of CMS, as often as they are stacked) and keeps the
# result as t/bench/data/modules-in.tar.gz (gitignored), made the way the
# kernel-module-signing bbclass makes it.  Then, in one run, times
#   (a) the original's method: tar -x -z, sign-file once per module,
#       sequentially, tar -c -z of the tree;
#   (b) this server: the bbclass's curl request to the real daemon;
# checks that both give the same modules, and prints one markdown table
# row (also appended to t/bench/results.md by t/bench/lib.sh):
#   | what | digsigserver | original | speed-up |
# Progress goes to stderr.  BENCH_MODULES_BITS (default 4096, the kernel's
# own default key size) and BENCH_MODULES_HASH (default sha512) choose the key.
set -u
BUILD=${1:-${BUILD:-build}}
export BUILD
. "$(dirname "$0")/lib.sh"

SIGN_FILE=/usr/lib/linux-kbuild-6.1/scripts/sign-file
BITS=${BENCH_MODULES_BITS:-4096}
HASH=${BENCH_MODULES_HASH:-sha512}
DATA=$SRC/t/bench/data
IN=$DATA/modules-in.tar.gz

say() { echo "modules bench: $*" >&2; }
now() { date +%s.%N; }
fail() {
	say "$*"
	exit 1
}

[ -x "$SIGN_FILE" ] || fail "$SIGN_FILE missing: apt-get install linux-kbuild-6.1"
[ -x "$BUILD/digsigserver" ] || fail "no $BUILD/digsigserver: make build first"

# --- the input, once -----------------------------------------------------
if [ ! -s "$IN" ]; then
	mkdir -p "$DATA"
	pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
		cut -d' ' -f1 | sort -V | tail -n 1)
	[ -n "$pkg" ] || fail "no linux-image-6.1.0-<n>-amd64 in the apt sources (apt-get update?)"
	say "downloading $pkg"
	deb=$(ls "$DATA/${pkg}"_*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		(cd "$DATA" && apt-get download "$pkg" >/dev/null 2>&1) || fail "apt-get download $pkg failed"
		deb=$(ls "$DATA/${pkg}"_*.deb | head -n 1)
	fi
	say "unpacking and stripping Debian's signatures"
	dpkg-deb -x "$deb" "$T/deb" || fail "dpkg-deb -x failed"
	python3 - "$T/deb/lib/modules" <<'EOF' || fail "stripping failed"
import os, struct, sys
marker = b'~Module signature appended~\n'
n = 0
for root, dirs, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(root, f)
        if not f.endswith('.ko') or os.path.islink(p):
            continue
        st = os.stat(p)
        with open(p, 'rb') as fp:
            data = fp.read()
        while data.endswith(marker):
            info = data[-len(marker) - 12:-len(marker)]
            siglen = struct.unpack('>I', info[8:12])[0]
            data = data[:len(data) - len(marker) - 12 - siglen]
        with open(p, 'wb') as fp:
            fp.write(data)
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
        n += 1
print('stripped %d modules' % n, file=sys.stderr)
EOF
	echo "$pkg" >"$DATA/modules-in.pkg"
	tar -C "$T/deb" -c -z -f "$IN.tmp" lib/modules && mv "$IN.tmp" "$IN" || fail "tar failed"
	rm -rf "$T/deb"
fi
pkg=$(cat "$DATA/modules-in.pkg" 2>/dev/null || echo "linux-image")
nmods=$(tar -tzf "$IN" | grep -c '\.ko$')
size=$(gzip -dc "$IN" | wc -c)
say "input: $pkg, $nmods modules, $((size / 1000000)) MB unpacked, $(($(stat -c %s "$IN") / 1000000)) MB gzip"

# --- the key ---------------------------------------------------------------
mkdir -p "$KEYS/bench/kmodsign" "$T/key"
openssl req -new -nodes -utf8 -sha512 -days 36500 -batch -x509 -config "$SRC/t/fixtures/x509.genkey" \
	-newkey "rsa:$BITS" -outform PEM -out "$T/key/kernel-signkey.x509" \
	-keyout "$T/key/kernel-signkey.priv" 2>/dev/null || fail "openssl req failed"
cp "$T/key"/* "$KEYS/bench/kmodsign/"

# --- (a) the original's method ---------------------------------------------
say "(a) tar -x, sign-file x $nmods, tar -c"
mkdir "$T/a"
start=$(now)
(
	cd "$T/a" || exit 1
	tar -x -z -f "$IN" || exit 1
	find . -name '*.ko' -type f | while read -r m; do
		"$SIGN_FILE" "$HASH" "$T/key/kernel-signkey.priv" "$T/key/kernel-signkey.x509" "$m" ||
			exit 1
	done || exit 1
	tar -c -z -f "$T/a.tar.gz" . || exit 1
) || fail "(a) failed"
end=$(now)
ta=$(awk "BEGIN{printf \"%.3f\", $end - $start}")
say "(a) $ta s"

# --- (b) this server ---------------------------------------------------------
dss_start || fail "the daemon did not start"
cp "$IN" "$T/modules-in.tar.gz"
say "(b) curl /sign/modules ($(nproc) cores)"
start=$(now)
(cd "$T" && curl --fail -s -X POST -F machine=bench -F "hashalg=$HASH" \
	-F artifact=@modules-in.tar.gz -o "$T/b.tar.gz" "$URL/sign/modules") || fail "(b) failed"
end=$(now)
tb=$(awk "BEGIN{printf \"%.3f\", $end - $start}")
say "(b) $tb s"
dss_stop

# --- same modules? -------------------------------------------------------------
mkdir "$T/a.dir" "$T/b.dir"
tar -C "$T/a.dir" -x -z -f "$T/a.tar.gz" ./lib/modules
tar -C "$T/b.dir" -x --no-same-owner -f "$T/b.tar.gz" ./lib/modules || fail "(b) answer does not unpack"
if diff -r --no-dereference "$T/a.dir/lib" "$T/b.dir/lib" >/dev/null; then
	same="identical"
else
	fail "(a) and (b) differ"
fi
say "(a) and (b) give $same trees"

# --- the floor: the signatures at openssl speed, plus gzip of the tree, on
# every core ------------------------------------------------------------------
rate=$(openssl speed -multi "$(nproc)" -seconds 3 "rsa$BITS" 2>/dev/null |
	awk -v b="$BITS" '$1 == "rsa" && $2 == b {print $6}')
start=$(now)
tar -C "$T/b.dir" -c lib | gzip -1 >/dev/null
end=$(now)
tz=$(awk "BEGIN{printf \"%.3f\", ($end - $start) / $(nproc)}")
floor=$(awk "BEGIN{printf \"%.2f\", $nmods / $rate + $tz}")
say "floor: $nmods signatures at $rate/s + gzip -1 of the tree $tz s per core = $floor s"

bench_row "$(printf '| modules %s: %d modules (%d MB), RSA-%s %s, %d cores | %.1f s | %.1f s (tar, sign-file per module, tar) | %.1fx | floor %.1f s (openssl speed + gzip -1, all cores): ours = %.2fx floor | |' \
	"$pkg" "$nmods" "$((size / 1000000))" "$BITS" "$HASH" "$(nproc)" "$tb" "$ta" \
	"$(awk "BEGIN{printf \"%.2f\", $ta / $tb}")" "$floor" "$(awk "BEGIN{printf \"%.2f\", $tb / $floor}")")"
exit 0
