#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/archive-hostile.sh: hostile archives posted to /sign/modules
# through the real daemon, as in the "Hostile clients" review.  Each one
# gets a 400 "Invalid artifact: <reason>" without the expansion it asks
# for being written, or a 507 when the disk is really full:
#  - a gzip bomb, 1 MB expanding to 1 GiB, as one member (refused before
#    a byte of it is written) and as 1024 members (stopped at 100 times
#    the upload, not after writing it all);
#  - a sparse archive of some 200 bytes claiming 1.5 GB;
#  - a module of 3 GiB (a sparse file): 400 whatever the archive limits,
#    since the kernel loads no module over 2 GiB;
#  - a full work directory while extracting: 507, and the next job works;
#  - an archive that takes more than ARCHIVE_MAX_SECONDS of CPU time.
# An honest module tree still signs under the default limits.  When run
# as root the work directory is a 192 MiB tmpfs, which a bomb written out
# would fill (a 5xx, not 400).
. "$(dirname "$0")/lib.sh"

MKTAR="python3 $SRC/t/fixtures/mktar.py"
SMALL=$T/small
VERSION=6.1.0-test
MODS=lib/modules/$VERSION

hostile_cleanup() {
	dss_stop
	mountpoint -q "$SMALL" && umount -l "$SMALL"
	_cleanup
}
trap hostile_cleanup EXIT

mkdir -p "$KEYS/k1/kmodsign"
openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 \
	-config "$SRC/t/fixtures/x509.genkey" -newkey rsa:2048 -outform PEM \
	-out "$KEYS/k1/kmodsign/kernel-signkey.x509" \
	-keyout "$KEYS/k1/kmodsign/kernel-signkey.priv" 2>/dev/null

WORK=$T/work
if [ "$(id -u)" -eq 0 ] && mkdir -p "$SMALL" &&
	mount -t tmpfs -o size=192m,mode=0755 tmpfs "$SMALL"; then
	WORK=$SMALL/work
	ok "work directory on a 192 MiB tmpfs"
else
	skip "work directory on a 192 MiB tmpfs" "not root or no tmpfs: the disk instead"
fi

# post NAME FILE: POST FILE as the artifact; the status code to stdout,
# the body to $T/NAME.out.
post() {
	curl -s -o "$T/$1.out" -w '%{http_code}' -X POST -F machine=k1 \
		-F artifact=@"$2" "$URL/sign/modules"
}

# refused NAME FILE REASON: 400 "Invalid artifact: ..." with REASON in it.
refused() {
	_code=$(post "$1" "$2")
	if [ "$_code" = 400 ] && grep -q "^Invalid artifact: .*$3" "$T/$1.out"; then
		ok "$1: 400 ($(head -c 160 "$T/$1.out"))"
	else
		not_ok "$1: 400 with '$3'" "got $_code: $(head -c 200 "$T/$1.out" | tr -cd '[:print:]')"
	fi
}

# no_job_dirs: no job-* entry left in the work directory
no_job_dirs() {
	for _j in "$WORK"/job-*; do
		[ -e "$_j" ] && { ls -l "$WORK"; return 1; }
	done
	return 0
}

# bomb OUT COUNT SIZE: a gzip tarball of COUNT files of SIZE zero bytes in
# $MODS, made at once as a series of gzip members (one valid gzip stream,
# RFC 1952 section 2.2) in which a MiB of zeros is compressed only once.
bomb() {
	python3 - "$@" "$MODS" <<'EOF'
import sys, tarfile, zlib
out, count, size, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def gz(data):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()
def info(name, kind, size):
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.mtime = kind, size, 1700000000
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return ti.tobuf(tarfile.GNU_FORMAT)
mib = gz(bytes(1 << 20))
with open(out, 'wb') as f:
    path = ''
    for part in top.split('/'):
        path += part + '/'
        f.write(gz(info(path, tarfile.DIRTYPE, 0)))
    for i in range(count):
        f.write(gz(info('%szero%d.bin' % (path, i), tarfile.REGTYPE, size)))
        f.write(mib * (size >> 20))
        tail = size % (1 << 20) + (-size) % 512
        if tail:
            f.write(gz(bytes(tail)))
    f.write(gz(bytes(10240)))
EOF
}

# sparse OUT NAME SIZE: a gzip tarball (GNU tar -S) holding one sparse
# file $MODS/NAME of SIZE bytes, a single byte of it data.
sparse() {
	rm -rf "$T/sp"
	mkdir -p "$T/sp/$(dirname "$MODS/$2")"
	truncate -s $(($3 - 1)) "$T/sp/$MODS/$2"
	printf x >>"$T/sp/$MODS/$2"
	tar -S -C "$T/sp" -czf "$1" lib
	rm -rf "$T/sp"
}

dss_start DIGSIGSERVER_WORK_DIR="$WORK" DIGSIGSERVER_WORKERS=2 || exit 0

# --- an honest tree still signs -------------------------------------------
sh "$SRC/t/fixtures/mkmodules.sh" "$T/in" "$VERSION" 12
tar -C "$T/in" -czf "$T/honest.tar.gz" lib
code=$(post honest "$T/honest.tar.gz")
check_eq "honest tree: 200" 200 "$code"
check "honest tree: its 12 modules are signed" sh -c \
	"[ \$(tar -xzOf '$T/honest.out' --wildcards '*.ko' | grep -c '~Module signature appended~') -eq 12 ]"

# --- gzip bombs -----------------------------------------------------------
bomb "$T/bomb1.tar.gz" 1 1073741824
check "bomb: one member of 1 GiB in $(stat -c %s "$T/bomb1.tar.gz") bytes" \
	test "$(stat -c %s "$T/bomb1.tar.gz")" -lt 1100000
refused bomb-one-member "$T/bomb1.tar.gz" "over 100 times its compressed size"
bomb "$T/bomb1024.tar.gz" 1024 1048576
check "bomb: 1024 members of 1 MiB in $(stat -c %s "$T/bomb1024.tar.gz") bytes" \
	test "$(stat -c %s "$T/bomb1024.tar.gz")" -lt 1200000
refused bomb-1024-members "$T/bomb1024.tar.gz" "over 100 times its compressed size"
check "bombs: no job directory left" no_job_dirs

# --- sparse members count their full size ---------------------------------
sparse "$T/sparse.tar.gz" firmware.bin 1500000000
check "sparse: 1.5 GB in $(stat -c %s "$T/sparse.tar.gz") bytes" \
	test "$(stat -c %s "$T/sparse.tar.gz")" -lt 1000
refused sparse "$T/sparse.tar.gz" "over 100 times its compressed size"

# --- a damaged gzip stream (its CRC-32 no longer matches): never signed -----
python3 -c "
import gzip, io, tarfile
b = io.BytesIO()
with tarfile.open(fileobj=b, mode='w') as t:
    i = tarfile.TarInfo('$MODS/kernel/a.ko'); i.size = 5000
    t.addfile(i, io.BytesIO(b'A' * 5000))
g = bytearray(gzip.compress(b.getvalue(), 0))
g[g.find(b'AAAA') + 100] = ord('B')
open('$T/crc.tar.gz', 'wb').write(g)"
check "crc: gzip -t finds the damage" sh -c "! gzip -t '$T/crc.tar.gz' 2>/dev/null"
refused crc "$T/crc.tar.gz" "damaged gzip stream (incorrect data check)"

# --- hard links count their file's size -----------------------------------
# 40 links named .ko to 50 MB of zeros: each would be signed and answered
$MKTAR "$T/links.tar.gz" big:"$MODS/zero.bin=50000000" \
	$(for i in $(seq 40); do printf 'hard:%s/h%d.ko=%s/zero.bin ' "$MODS" "$i" "$MODS"; done)
check "links: 2 GB through links in $(stat -c %s "$T/links.tar.gz") bytes" \
	test "$(stat -c %s "$T/links.tar.gz")" -lt 200000
refused hard-links "$T/links.tar.gz" "over 100 times its compressed size"

# --- a module over 2 GiB: 400 whatever the limits --------------------------
sparse "$T/bigmod.tar.gz" kernel/big.ko 3221225472
refused module-3gib "$T/bigmod.tar.gz" "big.ko: module larger than 2 GiB"
dss_start DIGSIGSERVER_WORK_DIR="$WORK" DIGSIGSERVER_WORKERS=2 \
	DIGSIGSERVER_ARCHIVE_MAX_SIZE=10000000000 DIGSIGSERVER_ARCHIVE_MAX_RATIO=0 || exit 0
refused module-3gib-no-limits "$T/bigmod.tar.gz" "big.ko: module larger than 2 GiB"
check "big module: no job directory left" no_job_dirs

# --- a full disk while extracting: 507 --------------------------------------
if [ "$WORK" = "$SMALL/work" ]; then
	# 30 MB of zeros from a 30 kB upload: within the ratio floor
	$MKTAR "$T/full.tar.gz" dir:lib big:"lib/data.bin=30000000"
	avail=$(df --output=avail -B1024 "$SMALL" | tail -1)
	head -c $(((avail - 4096) * 1024)) /dev/zero >"$SMALL/filler"
	code=$(post full "$T/full.tar.gz")
	check_eq "full disk while extracting: 507 ($(cat "$T/full.out"))" 507 "$code"
	check "full disk: a one-line reason" grep -qx "not enough storage to extract the artifact" \
		"$T/full.out"
	check "full disk: no job directory left" no_job_dirs
	rm -f "$SMALL/filler"
	check_eq "space freed: the same upload signs" 200 "$(post full2 "$T/full.tar.gz")"
	# room for the upload and its tree, not for the signed answer too
	mkdir -p "$T/rnd/$MODS/kernel"
	head -c 20000000 /dev/urandom >"$T/rnd/$MODS/kernel/r.ko"
	tar -C "$T/rnd" -czf "$T/rnd.tar.gz" lib
	avail=$(df --output=avail -B1024 "$SMALL" | tail -1)
	head -c $(((avail - 46000) * 1024)) /dev/zero >"$SMALL/filler"
	code=$(post full3 "$T/rnd.tar.gz")
	check_eq "full disk while writing the answer: 507 ($(cat "$T/full3.out"))" 507 "$code"
	check "... no job directory left" no_job_dirs
	rm -f "$SMALL/filler"
else
	skip "full disk while extracting: 507" "needs a small tmpfs (root)"
fi

# --- the CPU budget -----------------------------------------------------------
# 400000 empty files: a few seconds of CPU, far more than the 1 s allowed
dss_start DIGSIGSERVER_WORK_DIR="$T/work" DIGSIGSERVER_WORKERS=2 \
	DIGSIGSERVER_ARCHIVE_MAX_SECONDS=1 DIGSIGSERVER_ARCHIVE_MAX_MEMBERS=1000000 || exit 0
$MKTAR --level 1 "$T/many.tar.gz" dir:lib many:lib/d=400000
refused cpu-budget "$T/many.tar.gz" "more than 1.000 s of CPU time"
if [ -n "${DSS_VALGRIND:-}" ]; then
	skip "cpu budget: an honest tree still signs" "under valgrind a second may not be enough"
else
	check_eq "cpu budget: an honest tree still signs" 200 "$(post honest2 "$T/honest.tar.gz")"
fi
WORK=$T/work
check "cpu budget: no job directory left" no_job_dirs
