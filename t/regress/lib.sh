# SPDX-License-Identifier: MIT
# t/regress/lib.sh: shared set-up for the regress scripts, which run the
# real daemon on a loopback port and talk to it with real clients.
# Sourced by each t/regress/*.sh; see t/run-tests for how lines are counted.
#
#   $SRC $BUILD $T $KEYS     repository, build dir, scratch dir, key store
#   dss_start [VAR=val ...]  start the daemon (sets URL DSS_PID DSS_LOG DSS_WORK)
#   dss_stop                 SIGTERM and wait
#   ok / not_ok / check / check_eq / skip    one TAP-like line each
#   wait_for SECONDS CMD...  poll until CMD succeeds
#   status_field EXPR        a value of /status (d is the parsed JSON)
#   dss_own PATH...          give PATH to the service user (when root)
#   has_lines FILE N         FILE has at least N lines
#   work_empty [DIR]         nothing in DIR (default $DSS_WORK)
#   no_job_dirs [DIR...]     no job-* entry in any DIR (default $DSS_WORK)
#   pool_settled             every worker idle and ready, nothing queued
#   worker_pids              the pids of the pool's workers
#   dss_conns                client connections the supervisor holds open
#   dss_fds                  how many descriptors the supervisor has open
#   dss_settle [SECONDS]     wait until the pool is settled and the
#                            supervisor holds no client connection
#   dss_reload [SECONDS]     SIGHUP, then wait until every worker is a new,
#                            idle one (workers take the new settings)
#   log_mark; logged_job RE  the job id of the request log line matching RE
#                            written since log_mark (waits for it)

SRC=${SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-$SRC/build}
case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
DSS=$BUILD/digsigserver
T=$(mktemp -d /tmp/dss-test.XXXXXX)
chmod 0755 "$T"
KEYS=$T/keys
mkdir -p "$KEYS"
DSS_PID=
DSS_USER=
DSS_KEY_USER=
if [ "$(id -u)" -eq 0 ]; then
	DSS_USER=digsigserver
	DSS_KEY_USER=digsigserver-keys
	for _u in "$DSS_USER" "$DSS_KEY_USER"; do
		id "$_u" >/dev/null 2>&1 ||
			useradd --system --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin "$_u"
	done
fi
# dss_share_group: (as root) the service user made a member of a group of
# its own for this script, as a build host shares its artifact
# directories (mender.sh), in DSS_SHARE_GROUP; a daemon started after it
# gives the workers that group.  Undone when the script ends.
DSS_SHARE_GROUP=
dss_share_group() {
	[ -n "$DSS_USER" ] || return 1
	DSS_SHARE_GROUP=dss-share-$$
	groupadd "$DSS_SHARE_GROUP" && usermod -aG "$DSS_SHARE_GROUP" "$DSS_USER"
}
# DSS_ONE_USER: run a whole script with every role as DIGSIGSERVER's one
# user (not started as root, as under the shipped unit): the key store
# and the work directory that user's
if [ -n "${DSS_ONE_USER:-}" ] && [ -n "$DSS_USER" ]; then
	DSS_KEY_USER=$DSS_USER
	DSS_WRAP="setpriv --reuid=$DSS_USER --regid=$(id -g "$DSS_USER") --init-groups"
	mkdir -p "$T/work"
	chown "$DSS_USER" "$T/work" "$T" # (the audit trail the tests put in $T)
fi
# swupdate_check ARGS...: Debian's swupdate -c, printing its output, in a
# network namespace of its own: it binds the abstract socket
# @NotifyServer, one name for every swupdate on the machine, and its
# "Verified OK" goes to whichever instance holds it, so two scripts
# verifying at once (the check runs two layers side by side) would take
# each other's messages.  Its output is racy as well: about one run in
# fifty ends before the verdict is printed (neither "Verified OK" nor
# "Signature verification failed"); such a run is made again, up to five
# times, each with temporary files of its own ($T/swutmp.N).  Fails when
# none of them came to a verdict
swupdate_check() {
	_try=0
	_verdict=1
	while [ $_try -lt 5 ] && [ $_verdict -ne 0 ]; do
		_try=$((_try + 1))
		mkdir -p "$T/swutmp.$_try"
		if [ "$(id -u)" -eq 0 ]; then
			TMPDIR=$T/swutmp.$_try unshare -n swupdate "$@" >"$T/swutmp.out" 2>&1
		else
			TMPDIR=$T/swutmp.$_try unshare -rn swupdate "$@" >"$T/swutmp.out" 2>&1
		fi
		grep -q "Verified OK\|Signature verification failed" "$T/swutmp.out"
		_verdict=$?
	done
	cat "$T/swutmp.out"
	return $_verdict
}
# iso_two_jobs POST WHEN: two jobs at once under t/regress/isoshim.c
# (LD_PRELOAD, flag files in $T/iso), each posted by the function POST:
# the first plants its secret and holds, the second probes at WHEN
# (early, probe or locked; with NOCAP set, capset is refused); prints
# both statuses and the probe's line
iso_two_jobs() {
	rm -f "$T/iso/"*
	[ -n "${NOCAP:-}" ] && : >"$T/iso/nocap"
	: >"$T/iso/plant"
	"$1" >"$T/iso.code1" &
	_p=$!
	wait_for 20 test -s "$T/iso/jobdir" || return 1
	: >"$T/iso/$2"
	_c=$("$1")
	wait $_p
	echo "$_c $(cat "$T/iso.code1") $(cat "$T/iso/result" 2>/dev/null)"
}
_n=0

ok() {
	_n=$((_n + 1))
	echo "ok $_n - $*"
}

not_ok() {
	_n=$((_n + 1))
	echo "not ok $_n - $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/#   /' | head -40
	return 0
}

skip() {
	_n=$((_n + 1))
	echo "ok $_n - $1 # SKIP $2"
}

# check DESC CMD...: ok when CMD exits 0; its output is shown on failure.
check() {
	_desc=$1
	shift
	if "$@" >"$T/.check.out" 2>&1; then
		ok "$_desc"
	else
		not_ok "$_desc" "$(tail -n 20 "$T/.check.out")"
	fi
}

check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected [$2] got [$3]"
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Give the key process's user the key store, readable by it alone: the
# workers' user gets EACCES on every key file.
dss_fix_keys() {
	chmod -R go-rwx "$KEYS"
	chmod 0755 "$T"
	if [ -n "$DSS_KEY_USER" ]; then
		chown -R "$DSS_KEY_USER" "$KEYS"
	fi
	return 0
}

# dss_start [VAR=value ...]: start the daemon with extra environment (and
# under the command DSS_WRAP names, when set: it must exec the daemon).
dss_start() {
	[ -n "$DSS_PID" ] && dss_stop
	PORT=$(free_port)
	URL=http://127.0.0.1:$PORT
	DSS_WORK=$T/work
	DSS_LOG=$T/dss.log.$PORT
	dss_fix_keys
	_pre=
	if [ -n "${DSS_SANITIZED:-}" ]; then
		# sanitizer reports go to files the cleanup looks for (workers
		# write theirs after dropping privileges)
		mkdir -p "$T/san"
		chmod 1777 "$T/san"
		export ASAN_OPTIONS="log_path=$T/san/asan:detect_leaks=1:abort_on_error=0:halt_on_error=1"
		export UBSAN_OPTIONS="log_path=$T/san/ubsan:print_stacktrace=1:halt_on_error=1"
		export LSAN_OPTIONS="suppressions=$SRC/t/lsan.supp:print_suppressions=0"
	fi
	if [ -n "${DSS_VALGRIND:-}" ]; then
		# workers write their logs after dropping privileges
		mkdir -p "$T/valgrind"
		chmod 1777 "$T/valgrind"
		_pre="valgrind -q --vgdb=no --trace-children=yes --trace-children-skip=*/bin/*,*/sbin/*,*/Linux_for_Tegra/*,*/_tools/*,*/rk/*,*.sh,*-helper,./* --child-silent-after-fork=no --leak-check=full \
			--suppressions=$SRC/t/valgrind.supp --errors-for-leak-kinds=definite --error-exitcode=99 --log-file=$T/valgrind/%p.log"
	fi
	# DSS_WORKER_UIDS: run a whole script with a user id per worker
	env DIGSIGSERVER_KEYFILE_URI="file://$KEYS" DIGSIGSERVER_WORK_DIR="$DSS_WORK" DIGSIGSERVER_DRAIN_GRACE=0 \
		DIGSIGSERVER_LOG_LEVEL=debug ${DSS_WORKER_UIDS:+DIGSIGSERVER_WORKER_UIDS=$DSS_WORKER_UIDS} "$@" \
		${DSS_WRAP:-} $_pre "$DSS" --address 127.0.0.1 --port "$PORT" ${DSS_ARGS:-} 2>"$DSS_LOG" &
	DSS_PID=$!
	_i=0
	while ! curl -s -o /dev/null "$URL/livez" 2>/dev/null; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ] || ! kill -0 "$DSS_PID" 2>/dev/null; then
			echo "# daemon did not start:"
			sed 's/^/#   /' "$DSS_LOG" | tail -20
			DSS_PID=
			return 1
		fi
		sleep 0.05
	done
	# all workers forked and ready, and the key process (/healthz is
	# readiness: 200 only then)
	_i=0
	while [ $_i -lt 100 ] && ! { curl -s "$URL/status" | grep -q '"starting": 0' &&
		curl -s "$URL/status" | grep -q '"state": "ready"'; }; do
		_i=$((_i + 1))
		sleep 0.05
	done
	return 0
}

dss_stop() {
	[ -z "$DSS_PID" ] && return 0
	kill -TERM "$DSS_PID" 2>/dev/null
	_i=0
	while kill -0 "$DSS_PID" 2>/dev/null && [ $_i -lt 600 ]; do
		_i=$((_i + 1))
		sleep 0.05
	done
	kill -KILL "$DSS_PID" 2>/dev/null
	wait "$DSS_PID" 2>/dev/null
	DSS_PID=
	return 0
}

# wait_for SECONDS CMD...: run CMD until it succeeds, for at most SECONDS.
wait_for() {
	_end=$(($(date +%s%N) / 1000000 + $1 * 1000))
	shift
	until "$@"; do
		[ $(($(date +%s%N) / 1000000)) -ge $_end ] && return 1
		sleep 0.05
	done
}

# status_field EXPR: a value from /status via python's json module.
status_field() {
	curl -s "$URL/status" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

# Give the service user these files (when the tests run as root).
dss_own() {
	[ -n "$DSS_USER" ] && chown "$DSS_USER" "$@"
	return 0
}

# has_lines FILE N: FILE exists and has at least N lines.
has_lines() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# work_empty [DIR]: DIR (the daemon's work directory) is empty; lists it when not.
work_empty() {
	[ -z "$(ls -A "${1:-$DSS_WORK}" 2>/dev/null)" ] && return 0
	ls -lAR "${1:-$DSS_WORK}"
	return 1
}

# no_job_dirs [DIR...]: no job-* entry in any DIR (the daemon's work directory).
no_job_dirs() {
	[ $# -gt 0 ] || set -- "$DSS_WORK"
	for _d in "$@"; do
		for _j in "$_d"/job-*; do
			[ -e "$_j" ] && { ls -l "$_d"; return 1; }
		done
	done
	return 0
}

# pool_settled: every worker is idle and ready (none starting, exiting or
# busy) and nothing is queued: all jobs so far are fully accounted for.
pool_settled() {
	[ "$(status_field 'd["pool"]["idle"] == d["pool"]["size"] and d["pool"]["busy"] == 0 and
d["pool"]["starting"] == 0 and d["pool"]["exiting"] == 0 and d["queue"]["length"] == 0 and
len(d["pool"]["workers"]) == d["pool"]["size"]' 2>/dev/null)" = True ]
}

worker_pids() {
	status_field '" ".join(str(w["pid"]) for w in d["pool"]["workers"])'
}

# dss_conns: how many TCP connections the supervisor holds open: its
# sockets other than the listener and the worker channels (unix sockets).
# A connection counts until the supervisor closes it, whatever TCP state
# it has reached meanwhile.
dss_conns() {
	python3 - "$DSS_PID" <<'PY'
import os, sys
pid = sys.argv[1]
other = set()
for l in open("/proc/net/unix").readlines()[1:]:
    f = l.split()
    if len(f) > 6:
        other.add(f[6])
for name in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        for l in open(name).readlines()[1:]:
            f = l.split()
            if f[3] == "0A":  # LISTEN
                other.add(f[9])
    except FileNotFoundError:
        pass
n = 0
for fd in os.listdir("/proc/%s/fd" % pid):
    try:
        t = os.readlink("/proc/%s/fd/%s" % (pid, fd))
    except OSError:
        continue
    if t.startswith("socket:[") and t[8:-1] not in other:
        n += 1
print(n)
PY
}

dss_fds() {
	ls "/proc/$DSS_PID/fd" | wc -l
}

# dss_rss: the supervisor's resident memory in kB.
dss_rss() {
	awk '/^VmRSS/{print $2}' "/proc/$DSS_PID/status"
}

# check_rss SKIP_NAME CHECK_NAME BEFORE AFTER SLACK: AFTER kB is at most
# SLACK kB above BEFORE (skipped under a sanitizer or valgrind, whose
# allocators hold freed memory).
check_rss() {
	if [ -n "${DSS_SANITIZED:-}${DSS_VALGRIND:-}" ]; then
		skip "$1" "the sanitizer or valgrind allocator holds freed memory"
	else
		check "$2" sh -c "[ $4 -le $(($3 + $5)) ]"
	fi
}

# emu_start SKIP_NAME: start the S3 emulator ($EMU, t/s3/s3-emulator) in
# $EMU_DIR and take its environment; 1 after a skip line (no node/npm) or a
# not_ok line (it did not start).
emu_start() {
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		skip "$1" "node/npm not installed"
		return 1
	fi
	if ! "$EMU" start "$EMU_DIR" >"$T/emu.env" 2>"$T/emu.err"; then
		not_ok "S3 emulator starts" "$(cat "$T/emu.err")"
		return 1
	fi
	. "$T/emu.env"
}

_no_conns() {
	[ "$(dss_conns)" = 0 ]
}

# dss_settle [SECONDS]: wait until the pool is settled, then until the
# supervisor has closed every client connection (/status's own too), so
# that its descriptors and memory can be compared with another moment.
dss_settle() {
	wait_for "${1:-30}" pool_settled && wait_for "${1:-30}" _no_conns
}

# workers_replaced PIDS: the pool is settled and none of its workers is
# one of PIDS.
workers_replaced() {
	pool_settled || return 1
	for _p in $(worker_pids); do
		case " $1 " in *" $_p "*) return 1 ;; esac
	done
	return 0
}

# dss_reload [SECONDS]: SIGHUP, then wait until every worker is a new,
# idle one (a worker takes the settings in force when it is forked).
dss_reload() {
	_old=$(worker_pids)
	kill -HUP "$DSS_PID"
	wait_for "${1:-30}" workers_replaced "$_old"
}

# softhsm_token LABEL: an empty SoftHSM2 token LABEL whose user PIN is
# $PIN (SO PIN 12345678), its files in $T/token (TOK); exports
# SOFTHSM2_CONF for the daemon and softhsm2-util.
softhsm_token() {
	TOK=$T/token
	mkdir -p "$TOK/tokens"
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$TOK" >"$TOK/softhsm2.conf"
	export SOFTHSM2_CONF=$TOK/softhsm2.conf
	softhsm2-util --init-token --free --label "$1" --pin "$PIN" --so-pin 12345678 >/dev/null
}

# peak_rss_kb PATH MIN: the peak RSS (kB) a worker reported for the last
# request to PATH that read more than MIN bytes (rss_peak_kb, a field of
# the request log line the worker writes just after its answer); fails
# while there is none.
peak_rss_kb() {
	awk -v path="$1" -v min="$2" 'index($0, " path=" path " ") && / rss_peak_kb=/ {
		delete f
		for (i = 1; i <= NF; i++) {
			split($i, kv, "=")
			f[kv[1]] = kv[2]
		}
		if (f["in"] + 0 > min)
			p = f["rss_peak_kb"]
	}
	END {
		if (p == "")
			exit 1
		print p
	}' "$DSS_LOG"
}

# log_mark: remember where the daemon's log ends now.
log_mark() {
	_log_mark=$(wc -l <"$DSS_LOG")
}

_logged_jobs() {
	tail -n +$((${_log_mark:-0} + 1)) "$DSS_LOG" | grep -E "$1" | grep -o ' job=[0-9][0-9]*' |
		cut -d= -f2 | grep .
}

# logged_job RE: the job id of the last request log line since log_mark
# that matches RE (grep -E); waits for it, as a worker writes the line
# just after its answer.
logged_job() {
	wait_for 10 _logged_jobs "$1" >/dev/null && _logged_jobs "$1" | tail -n 1
}

# Sanitizer and valgrind reports of every daemon this script ran.
# valgrind's notice that it does not know a system call (openat2, say):
# the program gets ENOSYS, as from an older kernel, and takes its
# fallback; the notice is not a report about the program
_vg_notice='WARNING: unhandled .* syscall: [0-9]+|You may be able to write your own handler|README_MISSING_SYSCALL_OR_IOCTL|Nevertheless we consider this a bug|valgrind.org/support/bug_reports'

_reports() {
	for f in "$T"/san/* "$T"/valgrind/*; do
		[ -s "$f" ] || continue
		case $f in
		"$T"/valgrind/*)
			grep -qvE "$_vg_notice" "$f" || continue
			;;
		esac
		not_ok "no sanitizer or valgrind report ($(basename "$f"))" "$(grep -vE "$_vg_notice" "$f" | head -40)"
		_bad=1
	done
	# UBSan built with -fno-sanitize-recover writes its report to stderr
	# whatever log_path says: the daemon's log
	if [ -n "${DSS_SANITIZED:-}" ]; then
		for f in "$T"/dss.log.*; do
			[ -f "$f" ] || continue
			grep -qE 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$f" || continue
			not_ok "no sanitizer or valgrind report ($(basename "$f"))" \
				"$(grep -E -A20 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$f" | head -40)"
			_bad=1
		done
	fi
	if [ -n "${DSS_SANITIZED:-}${DSS_VALGRIND:-}" ] && [ -z "${_bad:-}" ]; then
		ok "no sanitizer or valgrind report"
	fi
}

_cleanup() {
	dss_stop
	if [ -n "$DSS_SHARE_GROUP" ]; then
		gpasswd -d "$DSS_USER" "$DSS_SHARE_GROUP" >/dev/null 2>&1
		groupdel "$DSS_SHARE_GROUP" 2>/dev/null
	fi
	_reports
	if [ -n "${DSS_KEEP:-}" ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap _cleanup EXIT
trap 'exit 130' INT TERM
