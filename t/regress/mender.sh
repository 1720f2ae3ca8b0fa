#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/mender.sh: /sign/mender through the real daemon, with curl as
# mendersign.bbclass sends it.  Debian's mender-artifact (3.9) makes the
# artifacts and is the oracle: `validate -k public.key` must accept what
# we sign, `read` must read it, and for RSA our output must be byte for
# byte what `mender-artifact sign` writes with the same key.  Also: lying
# or broken artifacts are refused and left untouched, a kill during the
# write-back leaves the original whole, and s3:// artifacts are replaced
# only once signed (when the S3 emulator t/s3/s3-emulator can run).
. "$(dirname "$0")/lib.sh"

MA=mender-artifact
EMU=$SRC/t/s3/s3-emulator
EMU_DIR=$T/s3
if ! command -v $MA >/dev/null 2>&1; then
	skip "mender signer" "mender-artifact is not installed"
	exit 0
fi

mender_cleanup() {
	[ -f "$EMU_DIR/pid" ] && "$EMU" stop "$EMU_DIR" >/dev/null 2>&1
	mountpoint -q "$T/small" 2>/dev/null && umount -l "$T/small"
	_cleanup
}
trap mender_cleanup EXIT

# --- keys: RSA as PKCS#1 and PKCS#8, EC P-256 as SEC1 and PKCS#8 ------------
for d in rsa1 rsa8 ec1 ec8; do mkdir -p "$KEYS/$d/mender"; done
openssl genrsa -traditional -out "$T/rsa.key" 2048 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$T/rsa.key" -out "$KEYS/rsa8/mender/private.key"
cp "$T/rsa.key" "$KEYS/rsa1/mender/private.key"
openssl pkey -in "$T/rsa.key" -pubout -out "$T/rsa.pub"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/ec.key"
openssl pkcs8 -topk8 -nocrypt -in "$T/ec.key" -out "$KEYS/ec8/mender/private.key"
cp "$T/ec.key" "$KEYS/ec1/mender/private.key"
openssl pkey -in "$T/ec.key" -pubout -out "$T/ec.pub"

# --- artifacts, in a directory the service user may write --------------------
A=$T/art
mkdir -p "$A" "$T/ro" "$T/src"
head -c 3000000 /dev/urandom >"$T/src/rootfs.ext4"
echo one >"$T/src/f1"
echo two >"$T/src/f2"
make_art() { # make_art OUT [write options...]: a rootfs-image artifact
	_o=$1
	shift
	$MA write rootfs-image -t testdev -n "$(basename "$_o" .mender)" -f "$T/src/rootfs.ext4" \
		-o "$_o" "$@" >/dev/null 2>&1
}
make_art "$T/src/plain.mender" --compression none
make_art "$T/src/gzip.mender"
$MA write module-image -T testmod -t testdev -n module -f "$T/src/f1" -f "$T/src/f2" \
	-o "$T/src/lzma.mender" --compression lzma >/dev/null 2>&1
chmod 0644 "$T"/src/*.mender
dss_own "$A"
# a group of the service user's, to share an artifact directory through
[ -n "$DSS_USER" ] && [ -z "${DSS_ONE_USER:-}" ] && dss_share_group

dss_start || exit 1

sign() { # sign DISTRO URI: the HTTP status; the body in $T/body
	curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro="$1" -F artifact-uri="$2" \
		"$URL/sign/mender"
}
body() { cat "$T/body"; }
fresh() { # fresh NAME SRC: a new copy in $A, owned by the service user
	cp "$T/src/$2" "$A/$1"
	dss_own "$A/$1"
	echo "$A/$1"
}

# --- the fields -------------------------------------------------------------
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=rsa1 "$URL/sign/mender")
check_eq "no artifact-uri: 400 Artifact URI missing" "400 Artifact URI missing" "$code $(body)"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F artifact-uri="file://$A/x" \
	"$URL/sign/mender")
check_eq "no distro: 400 Distro name missing" "400 Distro name missing" "$code $(body)"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F other=1 "$URL/sign/mender")
check_eq "neither: the URI is checked first, as in the original" "400 Artifact URI missing" "$code $(body)"

# the server's own directories are never artifacts, prefixes or not
for u in "file://$KEYS/rsa1/mender/private.key" "file://$DSS_WORK/some.mender"; do
	code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=rsa1 -F artifact-uri="$u" \
		"$URL/sign/mender")
	check_eq "artifact-uri inside the key store or work directory: 403" 403 "$code"
done

# --- RSA, byte for byte with mender-artifact sign -----------------------------
f=$(fresh plain.mender plain.mender)
check "the bbclass's command line: curl --fail -X POST -F distro -F artifact-uri" \
	curl --fail -s -o "$T/body" -X POST -F distro=rsa1 -F artifact-uri="file://$f" \
	"$URL/sign/mender"
check_eq "answer body: Signing successful" "Signing successful" "$(body)"
$MA sign -k "$T/rsa.key" -o "$T/ref.mender" "$T/src/plain.mender" >/dev/null 2>&1
check "RSA (PKCS#1), uncompressed: byte-identical to mender-artifact sign" cmp "$f" "$T/ref.mender"
check "  ... mender-artifact validate -k rsa.pub accepts it" $MA validate -k "$T/rsa.pub" "$f"
check "  ... mender-artifact read reads it" $MA read "$f"

# a directory and an artifact shared with the service user through a
# group it is a member of (lib.sh), not through its own ids: read and
# replaced, the signed artifact still the group's
if [ -n "${DSS_SHARE_GROUP:-}" ] && [ -z "${DSS_ONE_USER:-}" ]; then
	mkdir -p "$T/shared"
	cp "$T/src/plain.mender" "$T/shared/g.mender"
	chown root:"$DSS_SHARE_GROUP" "$T/shared" "$T/shared/g.mender"
	chmod 0770 "$T/shared"
	chmod 0660 "$T/shared/g.mender"
	check_eq "an artifact shared through a group of the service user: 200" 200 \
		"$(sign rsa1 "file://$T/shared/g.mender")"
	check "  ... signed" $MA validate -k "$T/rsa.pub" "$T/shared/g.mender"
	check_eq "  ... still the group's, with its mode" "$DSS_SHARE_GROUP 660" \
		"$(stat -c '%G %a' "$T/shared/g.mender")"
else
	skip "an artifact shared through a group" "needs root (the service user's groups)"
fi

f=$(fresh gzip.mender gzip.mender)
check_eq "RSA (PKCS#8), gzip: 200" 200 "$(sign rsa8 "file://$f")"
$MA sign -k "$T/rsa.key" -o "$T/ref.mender" "$T/src/gzip.mender" >/dev/null 2>&1
check "  ... byte-identical to mender-artifact sign with the PKCS#1 key" cmp "$f" "$T/ref.mender"
check "  ... validates" $MA validate -k "$T/rsa.pub" "$f"

f=$(fresh bare.mender plain.mender)
check_eq "a bare absolute path, as the original accepted: 200" 200 "$(sign rsa1 "$f")"
$MA sign -k "$T/rsa.key" -o "$T/ref.mender" "$T/src/plain.mender" >/dev/null 2>&1
check "  ... byte-identical to mender-artifact sign" cmp "$f" "$T/ref.mender"

# --- EC ----------------------------------------------------------------------
f=$(fresh ec.mender gzip.mender)
check_eq "EC P-256 (SEC1), gzip: 200" 200 "$(sign ec1 "file://$f")"
check "  ... mender-artifact validate -k ec.pub accepts it" $MA validate -k "$T/ec.pub" "$f"
check "  ... and refuses it with the RSA key" sh -c "! $MA validate -k '$T/rsa.pub' '$f'"
f=$(fresh ec8.mender lzma.mender)
check_eq "EC P-256 (PKCS#8), module image, lzma: 200" 200 "$(sign ec8 "file://$f")"
check "  ... validates" $MA validate -k "$T/ec.pub" "$f"
check "  ... mender-artifact read reads it" $MA read "$f"

# --- re-signing ---------------------------------------------------------------
f=$(fresh resign.mender plain.mender)
sign rsa1 "file://$f" >/dev/null
check_eq "an RSA-signed artifact re-signed with EC: 200" 200 "$(sign ec1 "file://$f")"
check "  ... validates with the EC key" $MA validate -k "$T/ec.pub" "$f"
check_eq "  ... one manifest.sig, right after manifest" "version manifest manifest.sig header.tar" \
	"$(tar tf "$f" | head -4 | tr '\n' ' ' | sed 's/ $//')"
check_eq "and back to RSA: 200" 200 "$(sign rsa1 "file://$f")"
check "  ... byte-identical to mender-artifact sign of the unsigned original" cmp "$f" \
	"$T/ref.mender"

# --- what must be refused, leaving the artifact alone -------------------------
python3 - "$T/src/plain.mender" "$T/src/tampered.mender" <<'EOF'
import sys
a = bytearray(open(sys.argv[1], 'rb').read())
i = a.find(b'data/0000.tar\0')
a[i + 512 + 512 + 4096] ^= 0xff   # a payload byte, after the manifest was written
open(sys.argv[2], 'wb').write(a)
EOF
f=$(fresh tampered.mender tampered.mender)
check_eq "payload changed after the manifest was written: 400 naming it" \
	"400 Invalid artifact: checksum of data/0000/rootfs.ext4 does not match the manifest" \
	"$(sign rsa1 "file://$f") $(body)"
check "  ... the artifact is left unchanged" cmp "$f" "$T/src/tampered.mender"
check "  ... and no temporary file is left beside it" sh -c "! ls -A '$A' | grep -q dss-"

f=$(fresh junk.mender f1)
check_eq "not an artifact: 400" "400 Invalid artifact: not a Mender artifact: not a tar archive" \
	"$(sign rsa1 "file://$f") $(body)"
check "  ... left unchanged" cmp "$f" "$T/src/f1"
tar -C "$T/src" -cf "$T/src/other.tar" f1 f2
f=$(fresh other.mender other.tar)
check_eq "a tar that is no artifact: 400 saying why" \
	"400 Invalid artifact: not a Mender artifact: first member is f1, not version" \
	"$(sign rsa1 "file://$f") $(body)"
head -c 20000 "$T/src/plain.mender" >"$T/src/cut.mender"
f=$(fresh cut.mender cut.mender)
check_eq "a truncated artifact: 400" 400 "$(sign rsa1 "file://$f")"
check "  ... left unchanged" cmp "$f" "$T/src/cut.mender"
check_eq "no such artifact: 404" 404 "$(sign rsa1 "file://$A/none.mender")"
f=$(fresh nokey.mender plain.mender)
check_eq "no key for the distro: 404" 404 "$(sign nodistro "file://$f")"
check "  ... left unchanged" cmp "$f" "$T/src/plain.mender"
check_eq "an unknown URI scheme: 400" 400 "$(sign rsa1 "http://example.invalid/a.mender")"

# --- ownership, modes, directories ---------------------------------------------
f=$(fresh mode.mender plain.mender)
chmod 0640 "$f"
[ -n "$DSS_USER" ] && chgrp "$DSS_USER" "$f"
before=$(stat -c '%a %G' "$f")
check_eq "mode 0640 artifact: 200" 200 "$(sign rsa1 "file://$f")"
check_eq "  ... keeps its permission bits and group" "$before" "$(stat -c '%a %G' "$f")"
check "  ... and validates" $MA validate -k "$T/rsa.pub" "$f"

cp "$T/src/plain.mender" "$T/ro/ro.mender"
chmod 0644 "$T/ro/ro.mender"
if [ -n "$DSS_USER" ] || [ "$(id -u)" -ne 0 ]; then
	[ -z "$DSS_USER" ] && chmod 0555 "$T/ro"
	code=$(sign rsa1 "file://$T/ro/ro.mender")
	case $code in 4??) ok "a directory the service user cannot write: $code ($(body))" ;;
	*) not_ok "a directory the service user cannot write: 4xx" "got $code $(body)" ;; esac
	check "  ... the artifact is left unchanged" cmp "$T/ro/ro.mender" "$T/src/plain.mender"
	chmod 0755 "$T/ro"
else
	skip "a directory the service user cannot write" "workers run as root here"
fi

# a shared deploy directory (sticky, 1777) and another user's artifact: the
# service user could write the signed copy beside it but never rename it
# over the original (EPERM): 403 before any signing, not a 500 that curl
# --retry repeats four times
if [ -n "$DSS_USER" ]; then
	mkdir -p "$T/sticky"
	chmod 1777 "$T/sticky"
	cp "$T/src/plain.mender" "$T/sticky/s.mender"
	chmod 0644 "$T/sticky/s.mender"
	chown nobody "$T/sticky/s.mender"
	check_eq "another user's artifact in a sticky directory: 403 with a reason" \
		"403 The service user may not replace the artifact: its directory is sticky and the file is another user's" \
		"$(sign rsa1 "file://$T/sticky/s.mender") $(body)"
	check "  ... the artifact is left unchanged, nothing beside it" sh -c \
		"cmp '$T/sticky/s.mender' '$T/src/plain.mender' && [ \$(ls -A '$T/sticky' | wc -l) = 1 ]"
else
	skip "another user's artifact in a sticky directory" "needs root (a service user)"
fi
# an immutable artifact (chattr +i): the rename is refused at the end: 403
f=$(fresh immutable.mender plain.mender)
if [ -n "$DSS_USER" ] && chattr +i "$f" 2>/dev/null; then
	check_eq "an immutable artifact: 403 with a reason" \
		"403 The service user may not replace the artifact (a sticky directory and another owner, or an immutable file)" \
		"$(sign rsa1 "file://$f") $(body)"
	chattr -i "$f"
	check_eq "  ... unchanged, nothing left beside it" "0 immutable.mender" \
		"$(cmp -s "$f" "$T/src/plain.mender"; echo $?) $(ls -A "$A" | grep immutable)"
else
	skip "an immutable artifact" "needs root and a file system with chattr +i"
fi

# --- a kill during the job leaves the original whole ----------------------------
# A big artifact, the worker SIGKILLed at several points of its job: after
# each kill the file is the original or (kill after the commit) the signed
# artifact, never anything else.
head -c 200000000 /dev/urandom >"$T/src/big.ext4"
$MA write rootfs-image -t testdev -n big -f "$T/src/big.ext4" -o "$T/src/big.mender" \
	--compression none >/dev/null 2>&1
rm -f "$T/src/big.ext4"
chmod 0644 "$T/src/big.mender"
$MA sign -k "$T/rsa.key" -o "$T/big.ref" "$T/src/big.mender" >/dev/null 2>&1
# kill_after DELAY READY: once /status shows the mender job (polled from
# before the request: READY is created then), DELAY seconds later SIGKILL
# its worker if the job is still running; prints "killed" or "ended"
kill_after() {
	python3 - "$URL" "$1" "$2" <<'PYEOF'
import json, os, signal, sys, time, urllib.request
url, delay, ready = sys.argv[1] + "/status", float(sys.argv[2]), sys.argv[3]
def job():
    d = json.load(urllib.request.urlopen(url))
    for w in d["pool"]["workers"]:
        j = w.get("job") or {}
        if j.get("endpoint") == "mender":
            return w["pid"], j.get("id")
    return None
seen = job()
open(ready, "w").close()
end = time.time() + 120
while seen is None and time.time() < end:
    time.sleep(0.002)
    seen = job()
if seen is not None:
    time.sleep(delay)
    if job() == seen:
        os.kill(seen[0], signal.SIGKILL)
        print("killed")
        sys.exit(0)
print("ended")
PYEOF
}
killed=0
intact=0
for delay in 0 0.05 0.1 0.15 0.2 0.3 0.5; do
	f=$(fresh big.mender big.mender)
	rm -f "$T/kill.ready"
	kill_after "$delay" "$T/kill.ready" >"$T/kill.out" &
	kpid=$!
	wait_for 30 test -e "$T/kill.ready"
	sign rsa1 "file://$f" >"$T/kill.code"
	wait $kpid
	[ "$(cat "$T/kill.out")" = killed ] && killed=$((killed + 1))
	if cmp -s "$f" "$T/src/big.mender" || cmp -s "$f" "$T/big.ref"; then
		intact=$((intact + 1))
	else
		not_ok "worker killed after ${delay}s: artifact is the original or the signed one" \
			"$(ls -l "$A")"
	fi
	rm -f "$A"/.big.mender.dss-* 2>/dev/null
done
check_eq "worker SIGKILLed at 7 points of the job: the artifact is never damaged" 7 "$intact"
if [ "$killed" -gt 0 ]; then
	ok "  ... ($killed of the 7 jobs were killed while running)"
else
	not_ok "  ... at least one job was killed while running"
fi
# And once exactly mid-way: killed when /status shows part of the payload
# checked (and so part of the signed copy written).
kill_midway() { # kill_midway: prints the progress seen when it killed, or nothing
	python3 - "$URL" <<'PYEOF'
import json, os, signal, sys, time, urllib.request
url = sys.argv[1] + "/status"
end = time.time() + 20
while time.time() < end:
    d = json.load(urllib.request.urlopen(url))
    for w in d["pool"]["workers"]:
        j = w.get("job") or {}
        p = j.get("progress") or ""
        if j.get("endpoint") == "mender" and p.startswith("checked "):
            done, total = p.split()[1].split("/")
            if 0 < int(done) < int(total):
                os.kill(w["pid"], signal.SIGKILL)
                print(p)
                sys.exit(0)
    time.sleep(0.002)
PYEOF
}
seen=
for _ in 1 2 3 4 5; do
	f=$(fresh big.mender big.mender)
	sign rsa1 "file://$f" >"$T/kill.code" &
	cpid=$!
	seen=$(kill_midway)
	wait $cpid
	[ -n "$seen" ] && break
done
if [ -n "$seen" ]; then
	ok "worker SIGKILLed mid-way ($seen): answered $(cat "$T/kill.code")"
	check "  ... the artifact is the original, byte for byte" cmp "$f" "$T/src/big.mender"
	check "  ... and still a valid artifact (mender-artifact read)" $MA read "$f"
else
	skip "worker SIGKILLed mid-way" "the job always ended before /status showed it mid-way"
fi
rm -f "$A"/.big.mender.dss-* 2>/dev/null
check_eq "the daemon still signs afterwards" 200 "$(sign rsa1 "file://$(fresh after.mender plain.mender)")"
rm -f "$T/src/big.mender" "$T/big.ref" "$A/big.mender"

# --- a new build written in place while the signed one is committed ---------
# A shim (LD_PRELOAD) writes "new build" over the artifact, in place (its
# inode kept, as cp or a build tool does), at the first fsync after a flag
# file appears: the one of the signed copy, after the signing checked its
# input.  The signed old artifact must not replace the new build.
if [ -n "${DSS_SANITIZED:-}" ] || [ -n "${DSS_VALGRIND:-}" ] || ! command -v gcc >/dev/null; then
	skip "a rewrite while the signed artifact is committed" "needs gcc and a plain build (LD_PRELOAD)"
else
	f=$(fresh race.mender plain.mender)
	cat >"$T/rewrite.c" <<'EOC'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>
int
fsync(int fd)
{
	static int (*real)(int);

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (unlink(FLAG) == 0) {
		int a = open(ARTIFACT, O_WRONLY | O_TRUNC);

		if (a >= 0) {
			(void)!write(a, "new build\n", 10);
			close(a);
		}
	}
	return real(fd);
}
EOC
	gcc -shared -fPIC -DFLAG="\"$A/rewrite.flag\"" -DARTIFACT="\"$f\"" -o "$T/rewrite.so" \
		"$T/rewrite.c"
	chmod 0755 "$T/rewrite.so"
	dss_start LD_PRELOAD="$T/rewrite.so" || exit 1
	: >"$A/rewrite.flag"
	dss_own "$A/rewrite.flag"
	check_eq "a new build written in place as the signed one is committed: 409" \
		"409 Artifact changed during signing" "$(sign rsa1 "file://$f") $(body)"
	check "  ... the shim did write it" test ! -e "$A/rewrite.flag"
	check_eq "  ... the new build is kept" "new build" "$(cat "$f")"
	check_eq "  ... nothing left beside it" "race.mender" "$(ls -A "$A" | grep race)"
fi

# --- s3:// ----------------------------------------------------------------------
emu_start "s3:// artifacts" || exit 0
s3curl() { # s3curl METHOD BUCKET/KEY [curl args...]: the HTTP status
	_m=$1
	_p=$2
	shift 2
	curl -s -o "$T/s3.out" -w '%{http_code}' -X "$_m" --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@" "$DIGSIGSERVER_S3_ENDPOINT/$_p"
}
s3curl PUT artifacts >/dev/null
check_eq "S3: artifact uploaded (curl --aws-sigv4)" 200 \
	"$(s3curl PUT artifacts/builds/gzip.mender -T "$T/src/gzip.mender")"
s3curl PUT artifacts/builds/tampered.mender -T "$T/src/tampered.mender" >/dev/null
dss_start DIGSIGSERVER_S3_ENDPOINT="$DIGSIGSERVER_S3_ENDPOINT" || exit 1
check_eq "S3: s3://artifacts/builds/gzip.mender signed: 200" "200 Signing successful" \
	"$(sign rsa1 s3://artifacts/builds/gzip.mender) $(body)"
s3curl GET artifacts/builds/gzip.mender >/dev/null
$MA sign -k "$T/rsa.key" -o "$T/ref.mender" "$T/src/gzip.mender" >/dev/null 2>&1
check "S3: the object is byte-identical to mender-artifact sign" cmp "$T/s3.out" "$T/ref.mender"
check_eq "S3: a tampered artifact: 400" 400 "$(sign rsa1 s3://artifacts/builds/tampered.mender)"
s3curl GET artifacts/builds/tampered.mender >/dev/null
check "S3: ... the object is unchanged" cmp "$T/s3.out" "$T/src/tampered.mender"
check_eq "S3: no such object: 404" 404 "$(sign rsa1 s3://artifacts/builds/none.mender)"

# a work directory too small for the download: 507, which curl --retry
# does not repeat (a 500 would fetch and fail four more times)
SMALL=$T/small
if [ "$(id -u)" -ne 0 ]; then
	skip "S3: a full work directory" "not root: cannot mount a small tmpfs"
elif ! { mkdir -p "$SMALL" && mount -t tmpfs -o size=1m,mode=0755 tmpfs "$SMALL"; }; then
	skip "S3: a full work directory" "mounting a tmpfs failed"
else
	dss_start DIGSIGSERVER_S3_ENDPOINT="$DIGSIGSERVER_S3_ENDPOINT" \
		DIGSIGSERVER_WORK_DIR="$SMALL/work" || exit 1
	check_eq "S3: a 3 MB artifact, 1 MB of room for the download: 507 with a reason" \
		"507 not enough storage for the artifact download" \
		"$(sign rsa1 s3://artifacts/builds/tampered.mender) $(body)"
	s3curl GET artifacts/builds/tampered.mender >/dev/null
	check "S3: ... the object is unchanged" cmp "$T/s3.out" "$T/src/tampered.mender"
	check_eq "S3: ... no job directory left" "" "$(ls -A "$SMALL/work")"
	check_eq "S3: ... the worker was not killed" 0 "$(grep -c 'died of signal' "$DSS_LOG")"
	dss_stop
	umount -l "$SMALL"
fi
