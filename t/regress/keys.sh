#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/keys.sh: the key process (keys/keyd.c) through the real
# daemon.  As root: each role's uid, and the workers' user gets EACCES on
# every key the key process holds; --check-config checks both users.
# Mender signatures are made by the key process (validated by
# mender-artifact with the public key), listed in the job's audit record
# and counted in /status and /metrics; a changed key file signs with the
# new key at once, a removed one is 404, an unchanged one is read once
# (until SIGHUP), and with KEY_CACHE_TTL=0 once per job (a SIGHUP that
# changes it replaces the key process); with a tokens
# file the supervisor's grant lets the client's worker use its key.  With
# one user for every role (not root) a worker's mount namespace hides the
# key store.  A worker's malformed record to the key process costs its
# job (500) and the worker, not the key process; a stopped key process
# costs a job its RESPONSE_TIMEOUT (504), no more; kill -9 of the key
# process under three jobs answers each 503 with Retry-After, a new key
# process starts, and the pool serves again.
. "$(dirname "$0")/lib.sh"

MA=mender-artifact
if ! command -v $MA >/dev/null 2>&1; then
	skip "key process" "mender-artifact is not installed"
	exit 0
fi

mkdir -p "$KEYS/demo/mender" "$KEYS/jetson-a/tegrasign" "$KEYS/other/mender" \
	"$KEYS/demo/kmodsign" "$KEYS/demo/swupdate"
openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 \
	-config "$SRC/t/fixtures/x509.genkey" -newkey rsa:2048 -outform PEM \
	-out "$KEYS/demo/kmodsign/kernel-signkey.x509" \
	-keyout "$KEYS/demo/kmodsign/kernel-signkey.priv" 2>/dev/null
openssl genrsa -out "$KEYS/demo/swupdate/rsa-private.key" 2048 2>/dev/null
openssl pkey -in "$KEYS/demo/swupdate/rsa-private.key" -pubout -out "$T/swu.pub"
openssl genrsa -traditional -out "$KEYS/demo/mender/private.key" 2048 2>/dev/null
openssl pkey -in "$KEYS/demo/mender/private.key" -pubout -out "$T/demo.pub"
openssl genrsa -out "$KEYS/jetson-a/tegrasign/rsa_priv.pem" 2048 2>/dev/null
echo 0x11223344 >"$KEYS/jetson-a/tegrasign/sbk.key"
cp "$KEYS/demo/mender/private.key" "$KEYS/other/mender/private.key"
fpr() { openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }

A=$T/art
mkdir -p "$A" "$T/src"
head -c 3000000 /dev/urandom >"$T/src/small.ext4"
head -c 100000000 /dev/urandom >"$T/src/big.ext4"
$MA write rootfs-image -t testdev -n small -f "$T/src/small.ext4" -o "$T/src/small.mender" \
	--compression none >/dev/null 2>&1
$MA write rootfs-image -t testdev -n big -f "$T/src/big.ext4" -o "$T/src/big.mender" \
	--compression none >/dev/null 2>&1
chmod 0644 "$T"/src/*.mender
dss_own "$A"

fresh() { # fresh NAME SRC: a new copy of an artifact the workers may replace
	cp "$T/src/$2" "$A/$1"
	dss_own "$A/$1"
	echo "$A/$1"
}
sign() { # sign DISTRO URI [curl options]: the status; headers in $T/hdr
	_d=$1 _u=$2
	shift 2
	curl -s -D "$T/hdr" -o "$T/body" -w '%{http_code}' -X POST -F distro="$_d" \
		-F artifact-uri="$_u" "$@" "$URL/sign/mender"
}
key_status() { status_field "d['keys']$1"; }
keys_ready() { [ "$(key_status "['state']")" = ready ]; }
loads() { # loads FILE: "loaded key" lines for FILE since log_mark
	tail -n +$((${_log_mark:-0} + 1)) "$DSS_LOG" | grep -c "loaded key $1"
}

dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_AUDIT_FILE="$T/audit" || exit 1
check "/status: the key process is ready" wait_for 10 keys_ready
kpid=$(key_status "['pid']")

# --- users and what they can open ----------------------------------------------
if [ -n "$DSS_USER" ] && [ -z "${DSS_VALGRIND:-}" ]; then
	uid() { awk '/^Uid:/{print $2 " " $3 " " $4 " " $5}' "/proc/$1/status"; }
	ku=$(id -u "$DSS_KEY_USER")
	wu=$(id -u "$DSS_USER")
	check_eq "the supervisor runs as root" "0 0 0 0" "$(uid "$DSS_PID")"
	check_eq "the key process runs as $DSS_KEY_USER" "$ku $ku $ku $ku" "$(uid "$kpid")"
	for w in $(worker_pids); do
		check_eq "worker $w runs as $DSS_USER" "$wu $wu $wu $wu" "$(uid "$w")"
	done
	# open() of every key file of the store, as the workers' user
	find "$KEYS" -type f >"$T/keyfiles"
	nkeys=$(wc -l <"$T/keyfiles")
	check "the store has the key files of every signer" test "$nkeys" -ge 4
	setpriv --reuid="$DSS_USER" --regid="$(id -g "$DSS_USER")" --init-groups /usr/bin/python3 -c '
import errno, os, sys
for p in open(sys.argv[1]).read().split():
    try:
        os.close(os.open(p, os.O_RDONLY))
        print("%s: opened" % p)
    except OSError as e:
        print("%s: %s" % (p, errno.errorcode[e.errno]))
' "$T/keyfiles" >"$T/opens"
	check "the workers' user gets EACCES on every one" sh -c \
		"[ \"\$(grep -c ': EACCES\$' '$T/opens')\" -eq $nkeys ] || { cat '$T/opens'; false; }"
	check "--check-config: separated" sh -c "DIGSIGSERVER_KEYFILE_URI=file://$KEYS \
		DIGSIGSERVER_WORK_DIR=$DSS_WORK '$DSS' --check-config | grep -q 'no key file the key process alone holds is readable by $DSS_USER'"
	chgrp "$(id -gn "$DSS_USER")" "$KEYS" "$KEYS/demo" "$KEYS/demo/mender" \
		"$KEYS/demo/mender/private.key" &&
		chmod g+x "$KEYS" "$KEYS/demo" && chmod g+rx "$KEYS/demo/mender" &&
		chmod g+r "$KEYS/demo/mender/private.key"
	check "--check-config names a key file the workers can read" sh -c \
		"! DIGSIGSERVER_KEYFILE_URI=file://$KEYS DIGSIGSERVER_WORK_DIR=$DSS_WORK '$DSS' --check-config >'$T/cc' &&
		grep -q '^error: $KEYS/demo/mender/private.key is readable by the workers' '$T/cc'"
	# the daemon itself will not start so (the workers run with the
	# service user's groups: through one of them just as well)
	chgrp "${DSS_SHARE_GROUP:-$(id -gn "$DSS_USER")}" "$KEYS" "$KEYS/demo" "$KEYS/demo/mender" \
		"$KEYS/demo/mender/private.key"
	check "... and the daemon refuses to start, naming it" sh -c \
		"! DIGSIGSERVER_KEYFILE_URI=file://$KEYS DIGSIGSERVER_WORK_DIR=$DSS_WORK '$DSS' \
			--address 127.0.0.1 --port $(free_port) >'$T/start' 2>&1 &&
		grep -q '^error: $KEYS/demo/mender/private.key is readable by the workers' '$T/start' &&
		grep -q 'the workers. user can read the key store' '$T/start'"
	dss_fix_keys
else
	skip "role users and key file access" "not root (or under valgrind)"
fi

# --- signing through the key process ------------------------------------------------
log_mark
a=$(fresh one.mender small.mender)
check_eq "mender: signed by the key process" 200 "$(sign demo "$a")"
check "  ... mender-artifact validates it with the public key" $MA validate -k "$T/demo.pub" "$a"
job=$(logged_job 'endpoint=mender .*status=200')
check "  ... its audit record lists the key process's signature" python3 - "$T/audit" "$job" \
	"$(fpr "$T/demo.pub")" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
r = [x for x in recs if x["job"] == int(sys.argv[2])]
assert len(r) == 1, r
ops = r[0]["key_operations"]
assert len(ops) == 1, ops
op = ops[0]
assert op["op"] == "SIGN" and op["status"] == 200 and op["key"] == "demo/mender/private.key", op
assert op["key_sha256"] == sys.argv[3] and len(op["digest"]) == 64, op
PY
check_eq "/status: one signature" 1 "$(key_status "['signatures']")"
check "/metrics: the key process's counters" sh -c "curl -s '$URL/metrics' |
	grep -q '^digsigserver_key_process_signatures_total 1\$' && curl -s '$URL/metrics' |
	grep -q '^digsigserver_key_process_up 1\$'"
a=$(fresh two.mender small.mender)
check_eq "a second job with the same key" 200 "$(sign demo "$a")"
check_eq "  ... read it once (the cache, file unchanged)" 1 "$(loads demo/mender/private.key)"
kill -HUP "$DSS_PID"
check "SIGHUP reaches the key process: its cache emptied" wait_for 10 \
	grep -q 'SIGHUP: key cache emptied' "$DSS_LOG"
a=$(fresh hup.mender small.mender)
check_eq "  ... the next job signs" 200 "$(sign demo "$a")"
check_eq "  ... reading the key again" 2 "$(loads demo/mender/private.key)"

# modules and sw-description: the formats are built in the worker, the raw
# signatures made by the key process, one per module
n0=$(key_status "['signatures']")
printf 'software = { version = "1.0"; };\n' >"$T/sw-description"
check_eq "swupdate: signed through the key process" 200 "$(curl -s -o "$T/sw.sig" \
	-w '%{http_code}' -X POST -F distro=demo -F sw-description=@"$T/sw-description" \
	"$URL/sign/swupdate")"
check "  ... openssl dgst verifies it" openssl dgst -sha256 -verify "$T/swu.pub" \
	-signature "$T/sw.sig" "$T/sw-description"
check_eq "  ... one signature more" $((n0 + 1)) "$(key_status "['signatures']")"
sh "$SRC/t/fixtures/mkmodules.sh" "$T/mods" 6.1.0-keys 3
tar -C "$T/mods" -czf "$T/mods.tar.gz" lib
check_eq "modules: signed through the key process" 200 "$(curl -s -o "$T/mods.out" \
	-w '%{http_code}' -X POST -F machine=demo -F artifact=@"$T/mods.tar.gz" \
	"$URL/sign/modules")"
check "  ... its 3 modules carry a signature" sh -c \
	"[ \$(tar -xzOf '$T/mods.out' --wildcards '*.ko' | grep -c '~Module signature appended~') -eq 3 ]"
check_eq "  ... three signatures more" $((n0 + 4)) "$(key_status "['signatures']")"
check_eq "swupdate: another distro's key is 404 from the key process" 404 "$(curl -s -o /dev/null \
	-w '%{http_code}' -X POST -F distro=other -F sw-description=@"$T/sw-description" \
	"$URL/sign/swupdate")"

openssl genrsa -traditional -out "$T/new.key" 2048 2>/dev/null
openssl pkey -in "$T/new.key" -pubout -out "$T/new.pub"
cp "$T/new.key" "$KEYS/demo/mender/private.key.new"
mv "$KEYS/demo/mender/private.key.new" "$KEYS/demo/mender/private.key"
dss_fix_keys
a=$(fresh three.mender small.mender)
check_eq "the key file changed: signed" 200 "$(sign demo "$a")"
check "  ... with the new key" $MA validate -k "$T/new.pub" "$a"
check "  ... not the old one" sh -c "! $MA validate -k '$T/demo.pub' '$a' >/dev/null 2>&1"
mv "$KEYS/demo/mender/private.key" "$T/gone.key"
a=$(fresh four.mender small.mender)
check_eq "the key file removed: 404, no stale signature" 404 "$(sign demo "$a")"
mv "$T/gone.key" "$KEYS/demo/mender/private.key"
dss_fix_keys
# the swupdate key was read after the mender key: the cache holds that one
# after it, and a changed or removed swupdate key must not be answered
# with it
swu() { curl -s -o "$T/sw.sig" -w '%{http_code}' -X POST -F distro=demo \
	-F sw-description=@"$T/sw-description" "$URL/sign/swupdate"; }
cp "$KEYS/demo/swupdate/rsa-private.key" "$T/swu.key"
openssl genrsa -out "$T/swu2.key" 2048 2>/dev/null
openssl pkey -in "$T/swu2.key" -pubout -out "$T/swu2.pub"
cp "$T/swu2.key" "$KEYS/demo/swupdate/rsa-private.key.new"
mv "$KEYS/demo/swupdate/rsa-private.key.new" "$KEYS/demo/swupdate/rsa-private.key"
dss_fix_keys
check_eq "another key file changed, an older key cached after it: signed" 200 "$(swu)"
check "  ... with its new key" openssl dgst -sha256 -verify "$T/swu2.pub" \
	-signature "$T/sw.sig" "$T/sw-description"
mv "$KEYS/demo/swupdate/rsa-private.key" "$T/gone.key"
check_eq "  ... then removed: 404" 404 "$(swu)"
mv "$T/swu.key" "$KEYS/demo/swupdate/rsa-private.key"
rm -f "$T/gone.key" "$T/swu2.key"
dss_fix_keys
# a key on a token with no PKCS#11 module configured: the operator's to
# mend, 500, not a 503 clients retry; a reference that cannot be read (a
# directory) is no missing key either
mkdir -p "$KEYS/p11less/swupdate" "$KEYS/p11dir/swupdate/rsa-private.key.pkcs11"
echo "pkcs11:token=t;object=k" >"$KEYS/p11less/swupdate/rsa-private.key.pkcs11"
dss_fix_keys
code=$(curl -s -D "$T/hdr" -o "$T/body" -w '%{http_code}' -X POST -F distro=p11less \
	-F sw-description=@"$T/sw-description" "$URL/sign/swupdate")
check_eq "a token key and no PKCS#11 module: 500, no Retry-After" "500 Signing error 0" \
	"$code $(cat "$T/body") $(grep -ci '^Retry-After' "$T/hdr")"
check "  ... the log says why" grep -q "no PKCS#11 module is configured" "$DSS_LOG"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=p11dir \
	-F sw-description=@"$T/sw-description" "$URL/sign/swupdate")
check_eq "a token reference that is a directory: 500, not 404" 500 "$code"
rm -rf "$KEYS/p11less" "$KEYS/p11dir"

# --- KEY_CACHE_TTL=0: read for every job ---------------------------------------------
dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_KEY_CACHE_TTL=0 || exit 1
log_mark
for n in 1 2 3; do
	a=$(fresh ttl$n.mender small.mender)
	sign demo "$a" >"$T/code$n"
done
check_eq "KEY_CACHE_TTL=0: three jobs signed" "200 200 200" "$(cat "$T/code1") $(cat "$T/code2") $(cat "$T/code3")"
check_eq "  ... the key read three times" 3 "$(loads demo/mender/private.key)"

# --- SIGHUP with new key settings replaces the key process -----------------------------
printf 'DIGSIGSERVER_KEY_CACHE_TTL=60\n' >"$T/conf"
printf '#!/bin/sh\nexec %s --config %s "$@"\n' "$DSS" "$T/conf" >"$T/with-conf"
chmod 0755 "$T/with-conf"
_dss=$DSS
DSS=$T/with-conf
dss_start DIGSIGSERVER_WORKERS=2 || exit 1
DSS=$_dss
check "the key process is ready" wait_for 10 keys_ready
kpid=$(key_status "['pid']")
printf 'DIGSIGSERVER_KEY_CACHE_TTL=0\n' >"$T/conf"
kill -HUP "$DSS_PID"
new_keys() { [ "$(status_field "d['keys']['state'] == 'ready' and d['keys']['pid'] != $kpid")" = True ]; }
check "SIGHUP with a new KEY_CACHE_TTL: a new key process" wait_for 10 new_keys
log_mark
for n in 1 2; do
	a=$(fresh hupttl$n.mender small.mender)
	sign demo "$a" >"$T/code$n"
done
check_eq "  ... which signs" "200 200" "$(cat "$T/code1") $(cat "$T/code2")"
check_eq "  ... with the new setting (the key read for each job)" 2 "$(loads demo/mender/private.key)"

# --- grants from the tokens file ---------------------------------------------------
tok=s3cr3t
printf 'ci mender demo sha256:%s\n' "$(printf %s "$tok" | sha256sum | cut -d' ' -f1)" >"$T/tokens"
dss_own "$T/tokens"
chmod 0600 "$T/tokens"
dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_TOKENS_FILE="$T/tokens" || exit 1
a=$(fresh tok1.mender small.mender)
check_eq "a client granted demo: its worker gets the key process's signature" 200 \
	"$(sign demo "$a" -H "Authorization: Bearer $tok")"
check "  ... valid" $MA validate -k "$T/new.pub" "$a"
a=$(fresh tok2.mender small.mender)
check_eq "... and another distro is refused" 403 "$(sign other "$a" -H "Authorization: Bearer $tok")"
check_eq "  ... without a key operation" 0 "$(key_status "['errors'] + d['keys']['signatures'] - 1")"

# --- one user for every role (not started as root, as under systemd) -------------
# The workers hide a file:// store in a mount namespace of their own: the
# test reads a worker's view of it through /proc/PID/root.
if [ -n "$DSS_USER" ] && [ -z "${DSS_VALGRIND:-}" ] && [ -z "${DSS_SANITIZED:-}" ]; then
	K1=$T/k1
	mkdir -p "$K1/demo/mender" "$K1/demo/kmodsign" "$K1/jetson-a/tegrasign" "$T/w1"
	cp "$KEYS/demo/mender/private.key" "$K1/demo/mender/"
	cp "$KEYS/demo/mender/private.key" "$K1/demo/kmodsign/kernel-signkey.priv"
	cp "$KEYS/jetson-a/tegrasign/rsa_priv.pem" "$K1/jetson-a/tegrasign/"
	printf 'AWS_ACCESS_KEY_ID=AKIAONEUSER\nAWS_SECRET_ACCESS_KEY=one-user-secret\n' >"$T/k1.cred"
	chown -R "$DSS_USER" "$K1" "$T/w1" "$T/k1.cred"
	chmod -R go-rwx "$K1" "$T/k1.cred"
	printf '#!/bin/sh\nexec setpriv --reuid=%s --regid=%s --init-groups %s "$@"\n' \
		"$DSS_USER" "$(id -g "$DSS_USER")" "$DSS" >"$T/as-user"
	chmod 0755 "$T/as-user"
	# A shim (LD_PRELOAD, t/regress/isoshim.c) plays two jobs taken over
	# by their uploads: the first, once its job directory is made, writes
	# a secret in it and holds; the second, before its cover or once its
	# work directory is covered, tries to read that secret, lists the
	# work directory and tries to uncover it.
	shim=
	if command -v gcc >/dev/null; then
		mkdir -p "$T/iso"
		chmod 0777 "$T/iso"
		gcc -shared -fPIC -DSHIM_DIR="\"$T/iso\"" -DWORK="\"$T/w1\"" -o "$T/iso.so" \
			"$SRC/t/regress/isoshim.c" -ldl
		chmod 0755 "$T/iso.so"
		shim="LD_PRELOAD=$T/iso.so"
	fi
	_dss=$DSS
	DSS=$T/as-user
	dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_KEYFILE_URI="file://$K1" \
		DIGSIGSERVER_WORK_DIR="$T/w1" DIGSIGSERVER_KEYFILE_CREDENTIALS="$T/k1.cred" $shim || exit 1
	DSS=$_dss
	check "one user: the key process is ready" wait_for 10 keys_ready
	w=$(worker_pids | cut -d' ' -f1)
	check_eq "  ... a worker sees no key at all (mender, kmodsign, tegrasign)" \
		"" \
		"$(cd "/proc/$w/root$K1" && find . -type f | sed 's|^\./||')"
	check "  ... and cannot uncover them" sh -c "! nsenter -t $w -U -m --preserve-credentials \
		umount '$K1' 2>/dev/null && ! test -e '/proc/$w/root$K1/demo/mender/private.key'"
	check_eq "  ... nor the key store's credentials file (KEYFILE_CREDENTIALS)" "" \
		"$(cat "/proc/$w/root$T/k1.cred")"
	kp=$(key_status "['pid']")
	check "  ... the key process sees them all" test -f "/proc/$kp/root$K1/demo/mender/private.key"
	check "  ... and the credentials" grep -q one-user-secret "/proc/$kp/root$T/k1.cred"
	a=$(fresh one-user.mender small.mender)
	check_eq "  ... mender signs through it" 200 "$(sign demo "$a")"
	check_eq "  ... an artifact-uri inside the key store, covered in the worker's view: 403 all the same" \
		403 "$(sign demo "file://$K1/demo/mender/private.key")"
	check_eq "  ... the log says once that file permissions do not separate the keys" 1 \
		"$(grep -c 'file permissions do not keep the keys from the workers' "$DSS_LOG")"
	# two module trees at once (their jobs unpack into job directories)
	post_mods() { curl -s -o /dev/null -w '%{http_code}' -X POST -F machine=demo \
		-F artifact=@"$T/mods.tar.gz" "$URL/sign/modules"; }
	cp "$KEYS/demo/kmodsign/kernel-signkey.x509" "$KEYS/demo/kmodsign/kernel-signkey.priv" \
		"$K1/demo/kmodsign/"
	chown -R "$DSS_USER" "$K1/demo/kmodsign"
	chmod -R go-rwx "$K1/demo/kmodsign"
	if [ -n "$shim" ]; then
		# two_jobs WHEN: the second probes at WHEN (early: at its mkdir,
		# before its cover; probe: after it; locked: capset refused)
		two_jobs() { iso_two_jobs post_mods "$1"; }
		check_eq "  ... two jobs at once, the second looking before its cover: the first's secret is there by path (the probe's control)" \
			"200 200 secret=read entries=2 umount=Invalid argument again=read" "$(two_jobs early)"
		check_eq "  ... and once covered: only its own job in the work directory, the first's secret not there, the cover not to be undone" \
			"200 200 secret=No such file or directory entries=1 umount=Operation not permitted again=No such file or directory" \
			"$(two_jobs probe)"
		# capset refused (a unit whose system call filter lacks it)
		check_eq "  ... capset refused: the cover locked in one more pair of namespaces instead, the same" \
			"200 200 secret=No such file or directory entries=1 umount=Invalid argument again=No such file or directory" \
			"$(NOCAP=1 two_jobs locked)"
	else
		skip "one user: one job cannot read another's directory" "needs gcc (LD_PRELOAD)"
	fi
	w1_empty() { [ -z "$(ls -A "$T/w1")" ]; }
	check "  ... the work directory is empty after the jobs (covered job directories removed)" \
		wait_for 20 w1_empty
	check "  ... with no warning for the covered directory the worker leaves to the supervisor" \
		sh -c "! grep -q 'warning: clear_job' '$DSS_LOG'"
else
	skip "one user for every role" "not root, or under valgrind or sanitizers"
fi

# --- a worker sending the key process a malformed record --------------------------
# A shim (LD_PRELOAD) overwrites the type of every SIGN record (type 4)
# a process sends while a flag file exists; only workers send SIGN.  The
# key process closes that job's channel and reports it; the supervisor
# kills the worker and answers 500; the key process carries on.
# What the shims below (LD_PRELOAD) share: the real sendmsg, and the
# type of a key record sent while the flag file the test names exists.
cat >"$T/keyshim.h" <<'EOC'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);

static sendmsg_fn
real_sendmsg(void)
{
	static sendmsg_fn real;

	if (real == NULL)
		real = (sendmsg_fn)dlsym(RTLD_NEXT, "sendmsg");
	return real;
}

/* The type of the record mh carries (one part, longer than a header)
 * while the file the environment variable env names exists; else 0. */
static uint32_t
flagged_type(const char *env, const struct msghdr *mh)
{
	const char *flag = getenv(env);
	uint32_t type = 0;

	if (flag != NULL && access(flag, F_OK) == 0 && mh->msg_iovlen == 1 &&
	    mh->msg_iov[0].iov_len > 8)
		memcpy(&type, mh->msg_iov[0].iov_base, 4);
	return type;
}
EOC
if [ -z "${DSS_SANITIZED:-}" ] && [ -z "${DSS_VALGRIND:-}" ] && command -v gcc >/dev/null; then
	cat >"$T/badsign.c" <<'EOC'
#include "keyshim.h"
ssize_t
sendmsg(int fd, const struct msghdr *mh, int flags)
{
	if (flagged_type("DSS_TEST_BAD_SIGN", mh) == 4) { /* KEYPROTO_SIGN */
		uint32_t bad = 0x5a5a5a5a;

		memcpy(mh->msg_iov[0].iov_base, &bad, 4);
	}
	return real_sendmsg()(fd, mh, flags);
}
EOC
	gcc -shared -fPIC -I"$T" -o "$T/badsign.so" "$T/badsign.c" -ldl
	dss_start DIGSIGSERVER_WORKERS=2 LD_PRELOAD="$T/badsign.so" DSS_TEST_BAD_SIGN="$T/bad" || exit 1
	kpid=$(key_status "['pid']")
	touch "$T/bad"
	a=$(fresh bad.mender small.mender)
	log_mark
	check_eq "a worker's malformed key record: its job answers 500" 500 "$(sign demo "$a")"
	check "  ... the key process closed that channel" grep -q 'malformed key request' "$DSS_LOG"
	check "  ... the supervisor killed the worker" grep -q 'malformed record to the key process; killing it' "$DSS_LOG"
	check "  ... the artifact is left as it was" cmp -s "$T/src/small.mender" "$a"
	rm -f "$T/bad"
	a=$(fresh good.mender small.mender)
	check_eq "  ... the next job signs" 200 "$(sign demo "$a")"
	check_eq "  ... with the same key process" "$kpid 0" "$(key_status "['pid']") $(key_status "['restarts']")"
else
	skip "a worker's malformed key record" "needs gcc and a plain build (LD_PRELOAD)"
fi

# --- a worker that does not read its key answers ----------------------------------
# A shim (LD_PRELOAD) sends each SIGN record 400 times more while a flag
# file exists, and then waits 20 s before it reads an answer.  The key
# process must not wait for it (it used to, 5 s an answer, in the thread
# every job needs): it closes that channel when the answers fill it, the
# supervisor kills the worker, and the next job signs at once.
if [ -z "${DSS_SANITIZED:-}" ] && [ -z "${DSS_VALGRIND:-}" ] && command -v gcc >/dev/null; then
	cat >"$T/flood.c" <<'EOC'
#include "keyshim.h"
static int flooded = -1;
ssize_t
sendmsg(int fd, const struct msghdr *mh, int flags)
{
	if (flagged_type("DSS_TEST_FLOOD", mh) == 4) { /* KEYPROTO_SIGN */
		for (int i = 0; i < 400; i++)
			(void)real_sendmsg()(fd, mh, flags | MSG_DONTWAIT);
		flooded = fd;
	}
	return real_sendmsg()(fd, mh, flags);
}
ssize_t
recvmsg(int fd, struct msghdr *mh, int flags)
{
	static ssize_t (*real)(int, struct msghdr *, int);

	if (real == NULL)
		real = (ssize_t(*)(int, struct msghdr *, int))dlsym(RTLD_NEXT, "recvmsg");
	if (fd == flooded) {
		flooded = -1;
		sleep(20);
	}
	return real(fd, mh, flags);
}
EOC
	gcc -shared -fPIC -I"$T" -o "$T/flood.so" "$T/flood.c" -ldl
	dss_start DIGSIGSERVER_WORKERS=2 LD_PRELOAD="$T/flood.so" DSS_TEST_FLOOD="$T/flood" || exit 1
	kpid=$(key_status "['pid']")
	touch "$T/flood"
	a=$(fresh flood.mender small.mender)
	log_mark
	check_eq "a worker that does not read its key answers: its job answers 500" 500 \
		"$(sign demo "$a")"
	check "  ... the key process closed its channel" \
		grep -q 'does not read its key answers; closing its key channel' "$DSS_LOG"
	check "  ... the supervisor killed the worker" \
		grep -q 'does not read its key answers; killing it' "$DSS_LOG"
	check "  ... the artifact is left as it was" cmp -s "$T/src/small.mender" "$a"
	rm -f "$T/flood"
	a=$(fresh good2.mender small.mender)
	check_eq "  ... the next job signs" 200 "$(sign demo "$a")"
	check_eq "  ... with the same key process" "$kpid 0" \
		"$(key_status "['pid']") $(key_status "['restarts']")"
else
	skip "a worker that does not read its key answers" "needs gcc and a plain build (LD_PRELOAD)"
fi

# --- a worker taken over asks for another client's key -----------------------------
# A shim (LD_PRELOAD) plays a worker taken over by its upload: while a flag
# file exists it rewrites the selector of every SIGN and PUBLIC record it
# sends from "demo" to "other".  The client's token grants only demo: the
# key process refuses whatever the worker asks.
if [ -z "${DSS_SANITIZED:-}" ] && [ -z "${DSS_VALGRIND:-}" ] && command -v gcc >/dev/null; then
	cat >"$T/hijack.c" <<'EOC'
#include "keyshim.h"
ssize_t
sendmsg(int fd, const struct msghdr *mh, int flags)
{
	uint32_t type = flagged_type("DSS_TEST_HIJACK", mh);

	if (type == 4 || type == 5) { /* KEYPROTO_SIGN, KEYPROTO_PUBLIC */
		char *b = mh->msg_iov[0].iov_base;
		size_t n = mh->msg_iov[0].iov_len;

		for (size_t i = 0; i + 6 <= n; i++)
			if (memcmp(b + i, "demo\0\0", 6) == 0) {
				memcpy(b + i, "other\0", 6);
				break;
			}
	}
	return real_sendmsg()(fd, mh, flags);
}
EOC
	gcc -shared -fPIC -I"$T" -o "$T/hijack.so" "$T/hijack.c" -ldl
	dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_TOKENS_FILE="$T/tokens" \
		DIGSIGSERVER_AUDIT_FILE="$T/audit2" LD_PRELOAD="$T/hijack.so" \
		DSS_TEST_HIJACK="$T/hijack" || exit 1
	check "the key process is ready" wait_for 10 keys_ready
	a=$(fresh hijack.mender small.mender)
	log_mark
	touch "$T/hijack"
	check_eq "a worker asking for another distro's key than its client's grant: 403" 403 \
		"$(sign demo "$a" -H "Authorization: Bearer $tok")"
	check "  ... refused by the key process" grep -q 'refused: the client may not use the keys of other' \
		"$DSS_LOG"
	check_eq "  ... no signature made" 0 "$(key_status "['signatures']")"
	check "  ... the artifact is left as it was" cmp -s "$T/src/small.mender" "$a"
	check "  ... the refusal is in the job's audit record" wait_for 10 python3 -c "
import json
ops = [o for l in open('$T/audit2') for o in json.loads(l).get('key_operations', [])]
assert any(o['status'] == 403 and o['key'].startswith('other/') for o in ops), ops"
	rm -f "$T/hijack"
	a=$(fresh unhijacked.mender small.mender)
	check_eq "  ... the same client, its worker honest again: 200" 200 \
		"$(sign demo "$a" -H "Authorization: Bearer $tok")"
	dss_stop
else
	skip "a worker taken over asks for another client's key" "needs gcc and a plain build (LD_PRELOAD)"
fi

# --- a hung key operation is bounded by RESPONSE_TIMEOUT ------------------------------
dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_RESPONSE_TIMEOUT=2 || exit 1
check "the key process is ready" wait_for 10 keys_ready
kpid=$(key_status "['pid']")
kill -STOP "$kpid"
a=$(fresh hung.mender small.mender)
check_eq "the key process stopped: the job ends at RESPONSE_TIMEOUT (504)" 504 "$(sign demo "$a")"
kill -CONT "$kpid"
check "  ... no worker is left stuck" wait_for 20 pool_settled
a=$(fresh unhung.mender small.mender)
check_eq "  ... and once it runs again, jobs sign" 200 "$(sign demo "$a")"

# --- kill -9 of the key process under load ----------------------------------------------
# The key process is stopped first: the three jobs handed out meanwhile
# get their key channels to it, wait on it, and see them end when it is
# killed, whatever point their signer had reached.
dss_start DIGSIGSERVER_WORKERS=3 || exit 1
check "the key process is ready" wait_for 10 keys_ready
kpid=$(key_status "['pid']")
kill -STOP "$kpid"
pids=
for n in 1 2 3; do
	a=$(fresh load$n.mender big.mender)
	(sign demo "$a" >"$T/load$n.code"; cp "$T/hdr" "$T/load$n.hdr") &
	pids="$pids $!"
done
busy() { [ "$(status_field "d['pool']['busy']")" = "$1" ]; }
check "three jobs are running" wait_for 20 busy 3
kill -9 "$kpid"
wait $pids
answers=
for n in 1 2 3; do
	c=$(cat "$T/load$n.code")
	[ "$c" = 503 ] && grep -qi '^Retry-After: [0-9]' "$T/load$n.hdr" && c="503+Retry-After"
	answers="$answers $c"
done
check_eq "each job answers 503 with Retry-After" " 503+Retry-After 503+Retry-After 503+Retry-After" "$answers"
check "a new key process is ready" wait_for 10 sh -c "[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; k=json.load(sys.stdin)[\"keys\"]; print(k[\"state\"], k[\"pid\"] != $kpid)')\" = 'ready True' ]"
check_eq "/status: restarts 1" 1 "$(key_status "['restarts']")"
check "  ... restarted at once, not as one that died before READY" sh -c \
	"grep -q 'key process [0-9]* died of signal 9; restarting it' '$DSS_LOG' &&
	 ! grep -q 'key process exited before READY' '$DSS_LOG'"
check "no worker is left stuck" wait_for 20 pool_settled
a=$(fresh after.mender small.mender)
check_eq "the next request succeeds" 200 "$(sign demo "$a")"
check "  ... signed by the new key process" $MA validate -k "$T/new.pub" "$a"
for n in 1 2 3; do
	cmp -s "$T/src/big.mender" "$A/load$n.mender" || echo "load$n.mender changed" >>"$T/changed"
done
check "the refused artifacts are left as they were" test ! -e "$T/changed"
exit 0
