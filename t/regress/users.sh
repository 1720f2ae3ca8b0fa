#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/users.sh: DIGSIGSERVER_WORKER_UIDS, a user id of its own for
# each worker (src/uids.h).  Started as root with a range of ids no one
# has, every worker runs as an id no other live worker holds, with the
# group of DIGSIGSERVER_USER; the work directory is root's, 01730, so a
# worker may create its job directory there but not list or enter
# another's.  A worker born with an id kills whatever still runs as it.
# The daemon refuses a range that holds someone's id or is too small.
# Without a range every worker is DIGSIGSERVER_USER, and one job can
# read another's directory: the control that the probe works.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "a user id per worker" "needs root"
	exit 0
fi
mkdir -p "$KEYS/demo/swupdate" "$KEYS/demo/kmodsign"
openssl genrsa -out "$KEYS/demo/swupdate/rsa-private.key" 2048 2>/dev/null
openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 -config "$SRC/t/fixtures/x509.genkey" \
	-newkey rsa:2048 -outform PEM -out "$KEYS/demo/kmodsign/kernel-signkey.x509" \
	-keyout "$KEYS/demo/kmodsign/kernel-signkey.priv" 2>/dev/null
printf 'software = {};\n' >"$T/sw"
post() { curl -s -o /dev/null -w '%{http_code}' -X POST -F distro=demo -F sw-description=@"$T/sw" "$URL/sign/swupdate"; }
# a module tree: the job is unpacked into a job directory (swupdate's is not)
mkdir -p "$T/in/lib/modules/6.1.0/kernel"
head -c 4096 /dev/urandom >"$T/in/lib/modules/6.1.0/kernel/m.ko"
(cd "$T" && tar -C in -c -z -f modules.tar.gz lib/modules)
post_tree() { curl -s -o /dev/null -w '%{http_code}' -X POST -F machine=demo -F artifact=@"$T/modules.tar.gz" "$URL/sign/modules"; }

# 32 ids no one has
first=70000
while getent passwd | awk -F: -v a=$first '$3 >= a && $3 < a + 32 { f = 1 } END { exit !f }'; do
	first=$((first + 32))
done
last=$((first + 31))
ids="$first-$last"
group=$(id -gn "$DSS_USER")
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]; }
uid_of() { ps -o uid= -p "$1" | tr -d ' '; }
pids() { worker_pids | tr ' ' '\n' | grep .; }

# --- the daemon refuses what it cannot use --------------------------------
refused() { # refused WHAT VAR=value...: the daemon exits 1 and says WHAT
	env DIGSIGSERVER_KEYFILE_URI="file://$KEYS" DIGSIGSERVER_WORK_DIR="$T/work" "${@:2}" \
		"$DSS" --address 127.0.0.1 --port "$(free_port)" >"$T/out" 2>&1
	[ $? -eq 1 ] && grep -q "$1" "$T/out"
}
own=$(id -u "$DSS_USER")
check "a range holding the workers' user's id: refused, naming a user" \
	refused "is the id of user \"" DIGSIGSERVER_WORKER_UIDS="$own-$((own + 31))"
check "fewer than twice WORKERS ids: refused" \
	refused "twice WORKERS" DIGSIGSERVER_WORKERS=4 DIGSIGSERVER_WORKER_UIDS="$first-$((first + 6))"
check "not a range: refused" refused "is not a range" DIGSIGSERVER_WORKER_UIDS="$first"
mkdir -m 0700 "$T/closed"
check "a work directory the ids cannot reach: refused, naming what stops them" \
	refused "cannot pass through $T/closed (mode 700," DIGSIGSERVER_WORKER_UIDS="$ids" \
	DIGSIGSERVER_WORK_DIR="$T/closed/work"

check "a range overlapping systemd's DynamicUser ids: refused" \
	refused "overlaps systemd's DynamicUser= ids" DIGSIGSERVER_WORKER_UIDS=61000-61200
# someone's subordinate ids: newuidmap lets that user map them into a
# namespace of theirs; /etc/subuid as the daemon sees it, in a mount
# namespace of the check's own
refused_subuid() { # refused_subuid WHAT SUBUID-TEXT VAR=value...
	printf '%s\n' "$2" >"$T/subuid"
	env DIGSIGSERVER_KEYFILE_URI="file://$KEYS" DIGSIGSERVER_WORK_DIR="$T/work" "${@:3}" \
		unshare -m --propagation private sh -c 'mount --bind "$0" /etc/subuid && exec "$@"' \
		"$T/subuid" "$DSS" --address 127.0.0.1 --port "$(free_port)" >"$T/out" 2>&1
	[ $? -eq 1 ] && grep -q "$1" "$T/out"
}
if [ -f /etc/subuid ]; then
	check "a range in someone's subordinate ids (/etc/subuid): refused, naming them" \
		refused_subuid "overlaps the subordinate ids of \"someone\" in /etc/subuid ($((first + 16))-$((first + 16 + 65535)))" \
		"someone:$((first + 16)):65536" DIGSIGSERVER_WORKER_UIDS="$ids"
	check "  ... written in hexadecimal, as newuidmap reads it too" \
		refused_subuid "overlaps the subordinate ids of \"1234\"" \
		"$(printf '1234:0x%x:1' "$last")" DIGSIGSERVER_WORKER_UIDS="$ids"
else
	skip "a range in someone's subordinate ids" "no /etc/subuid to cover"
fi
# A process running as an id of the range: another daemon with the same
# range, or what an earlier run left.
sh -c "setpriv --reuid=$((first + 3)) --regid=$(id -g "$DSS_USER") --clear-groups sleep 600 >/dev/null 2>&1 & echo \$!" >"$T/stray"
stray=$(cat "$T/stray")
check "a process running as an id of the range: refused, naming it" \
	refused "process $stray runs as $((first + 3))" DIGSIGSERVER_WORKER_UIDS="$ids"
kill "$stray"
check "... (stopped)" wait_for 10 gone "$stray"

# A shim (LD_PRELOAD, t/regress/isoshim.c) plays two jobs taken over by
# their uploads: the first, once its job directory is made, writes a
# secret in it and holds; the second, at its own, tries to read that
# secret, to list the work directory and to unmount it.
mkdir -p "$T/iso"
chmod 0777 "$T/iso" # not sticky: the workers rename what the test made
shim=
if [ -z "${DSS_SANITIZED:-}" ] && [ -z "${DSS_VALGRIND:-}" ] && command -v gcc >/dev/null; then
	gcc -shared -fPIC -DSHIM_DIR="\"$T/iso\"" -DWORK="\"$T/work\"" -o "$T/iso.so" \
		"$SRC/t/regress/isoshim.c" -ldl
	chmod 0755 "$T/iso.so"
	shim="LD_PRELOAD=$T/iso.so"
fi

# probe: two jobs at once, the first holding while the second probes;
# prints the second's result
probe() { iso_two_jobs post_tree early; }

dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_WORKER_UIDS="$ids" $shim || exit 1
check "the log says each worker runs as an id of its own" \
	grep -q "each worker runs as a user id of its own (DIGSIGSERVER_WORKER_UIDS=$ids), with the groups of $DSS_USER" "$DSS_LOG"
check_eq "the work directory: root's, the workers' group, 1730" "0 $group 1730" \
	"$(stat -c '%u %G %a' "$DSS_WORK")"
two_workers() { [ "$(pids | wc -l)" -eq 2 ]; }
check "two workers" wait_for 20 two_workers
w1=$(pids | sed -n 1p)
w2=$(pids | sed -n 2p)
u1=$(uid_of "$w1")
u2=$(uid_of "$w2")
check "the workers run as ids of the range ($u1, $u2)" sh -c "[ $u1 -ge $first ] && [ $u1 -le $last ] && [ $u2 -ge $first ] && [ $u2 -le $last ]"
check "... each its own" [ "$u1" != "$u2" ]
check_eq "... with the workers' user's group" "$(id -g "$DSS_USER") $(id -g "$DSS_USER")" \
	"$(ps -o gid= -p "$w1" | tr -d ' ') $(ps -o gid= -p "$w2" | tr -d ' ')"
check_eq "/status shows each worker's id" "$(printf '%s\n' "$u1" "$u2" | sort -n | tr '\n' ' ')" \
	"$(curl -s "$URL/status" | python3 -c 'import json,sys; print(" ".join(str(w["uid"]) for w in sorted(json.load(sys.stdin)["pool"]["workers"], key=lambda w: w["uid"])), end=" ")')"
check_eq "a job signs" 200 "$(post)"
replaced() { pids | grep -qvx -e "$w1" -e "$w2"; }
check "its worker was replaced" wait_for 20 replaced
new=$(pids | grep -vx -e "$w1" -e "$w2" | head -1)
# (listed once forked: it takes its id a moment later)
new_id() { u=$(uid_of "$new"); [ -n "$u" ] && [ "$u" -ge "$first" ] && [ "$u" -le "$last" ]; }
check "... by one with an id of the range" wait_for 20 new_id
check "... that the first two did not have ($(uid_of "$new"))" \
	sh -c "u=\$(ps -o uid= -p $new | tr -d ' '); [ \$u != $u1 ] && [ \$u != $u2 ]"
# What runs as an id when a worker is born with it (a job's leftover that
# escaped, say) is killed by that worker.  The ids come in turn: the
# workers so far had first to first + 2; first + 6 comes after 4 jobs.
sh -c "setpriv --reuid=$((first + 6)) --regid=$(id -g "$DSS_USER") --clear-groups sleep 600 >/dev/null 2>&1 & echo \$!" >"$T/stray"
stray=$(cat "$T/stray")
for i in 1 2 3 4; do post >/dev/null; done
has_id() { for p in $(pids); do [ "$(uid_of "$p")" = "$1" ] && return 0; done; return 1; }
check "a worker with the id $((first + 6)) was born" wait_for 20 has_id $((first + 6))
check "... and killed the process that ran as it" wait_for 20 gone "$stray"
after=$(for p in $(pids); do uid_of "$p"; done | sort -n | tr '\n' ' ')
check "... every live worker's id is different ($after)" \
	sh -c "[ \"\$(echo '$after' | tr ' ' '\n' | grep -c .)\" -eq \"\$(echo '$after' | tr ' ' '\n' | grep . | sort -u | wc -l)\" ]"
if [ -n "$shim" ]; then
	r=$(probe)
	check_eq "two jobs at once: both 200; the second cannot read the first's job directory or list the work directory" \
		"200 200 secret=Permission denied list=Permission denied umount=Operation not permitted again=Permission denied" "$r"
else
	skip "one job cannot read another's directory" "needs gcc and a plain build (LD_PRELOAD)"
fi
check "the work directory is empty after the jobs" wait_for 20 work_empty

# A file:// Mender artifact in a directory the workers' group may write:
# signed in place, the signed file the worker's id's, with the original's
# mode.  In a directory only the workers' user may write: 403.
if command -v mender-artifact >/dev/null; then
	mkdir -p "$KEYS/demo/mender" "$T/grp" "$T/usr"
	openssl genrsa -out "$KEYS/demo/mender/private.key" 2048 2>/dev/null
	openssl rsa -in "$KEYS/demo/mender/private.key" -pubout -out "$T/mender.pub" 2>/dev/null
	dss_fix_keys
	head -c 100000 /dev/urandom >"$T/rootfs.ext4"
	mender-artifact write rootfs-image -t testdev -n r1 -f "$T/rootfs.ext4" \
		-o "$T/grp/a.mender" >/dev/null 2>&1
	cp "$T/grp/a.mender" "$T/usr/a.mender"
	chown "root:$group" "$T/grp" "$T/grp/a.mender"
	chmod 0770 "$T/grp"
	chmod 0664 "$T/grp/a.mender"
	chown "$DSS_USER" "$T/usr" "$T/usr/a.mender"
	chmod 0755 "$T/usr"
	mender() { curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=demo -F artifact-uri="file://$1" "$URL/sign/mender"; }
	check_eq "Mender, file:// in a directory of the workers' group: 200" 200 "$(mender "$T/grp/a.mender")"
	check "... mender-artifact validates it" mender-artifact validate -k "$T/mender.pub" "$T/grp/a.mender"
	owner=$(stat -c '%u %a' "$T/grp/a.mender")
	check "... the signed file is a worker id's, with the original's mode ($owner)" \
		sh -c "set -- $owner; [ \$1 -ge $first ] && [ \$1 -le $last ] && [ \$2 = 664 ]"
	check_eq "Mender, file:// in a directory only the workers' user may write: 403" 403 \
		"$(mender "$T/usr/a.mender")"
else
	skip "Mender file:// with a user id per worker" "needs mender-artifact"
fi

# --- the control: one user ------------------------------------------------
if [ -n "$shim" ]; then
	DSS_WORKER_UIDS= dss_start DIGSIGSERVER_WORKERS=2 $shim || exit 1
	check_eq "without WORKER_UIDS: the workers' one user, the work directory its own 0700" \
		"$own 700" "$(stat -c '%u %a' "$DSS_WORK")"
	r=$(probe)
	check_eq "... and one job can read another's directory (the probe works)" \
		"200 200 secret=read entries=2 umount=Operation not permitted again=read" "$r"
fi
exit 0
