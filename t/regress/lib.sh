# t/regress/lib.sh: shared set-up for the regress scripts, which run the
# real daemon on a loopback port and talk to it with real clients.
# Sourced by each t/regress/*.sh; see t/run-tests for how lines are counted.
#
#   $SRC $BUILD $T $KEYS     repository, build dir, scratch dir, key store
#   dss_start [VAR=val ...]  start the daemon (sets URL DSS_PID DSS_LOG DSS_WORK)
#   dss_stop                 SIGTERM and wait
#   ok / not_ok / check / check_eq / skip    one TAP-like line each
#   wait_for SECONDS CMD...  poll until CMD succeeds

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
if [ "$(id -u)" -eq 0 ]; then
	DSS_USER=digsigserver
	id "$DSS_USER" >/dev/null 2>&1 ||
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$DSS_USER"
fi
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

# Give the service user the key store, readable by it alone.
dss_fix_keys() {
	chmod -R go-rwx "$KEYS"
	chmod 0755 "$T"
	[ -n "$DSS_USER" ] && chown -R "$DSS_USER" "$KEYS"
	return 0
}

# dss_start [VAR=value ...]: start the daemon with extra environment.
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
		_pre="valgrind -q --vgdb=no --trace-children=yes --trace-children-skip=*/bin/*,*/sbin/*,*/Linux_for_Tegra/*,*/_tools/*,*.sh,*-helper,./* --child-silent-after-fork=no --leak-check=full \
			--errors-for-leak-kinds=definite --error-exitcode=99 --log-file=$T/valgrind/%p.log"
	fi
	env DIGSIGSERVER_KEYFILE_URI="file://$KEYS" DIGSIGSERVER_WORK_DIR="$DSS_WORK" \
		DIGSIGSERVER_LOG_LEVEL=debug "$@" \
		$_pre "$DSS" --address 127.0.0.1 --port "$PORT" 2>"$DSS_LOG" &
	DSS_PID=$!
	_i=0
	while ! curl -s -o /dev/null "$URL/healthz" 2>/dev/null; do
		_i=$((_i + 1))
		if [ $_i -gt 200 ] || ! kill -0 "$DSS_PID" 2>/dev/null; then
			echo "# daemon did not start:"
			sed 's/^/#   /' "$DSS_LOG" | tail -20
			DSS_PID=
			return 1
		fi
		sleep 0.05
	done
	# all workers forked and ready
	_i=0
	while [ $_i -lt 100 ] && ! curl -s "$URL/status" | grep -q '"starting": 0'; do
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

# Sanitizer and valgrind reports of every daemon this script ran.
_reports() {
	for f in "$T"/san/* "$T"/valgrind/*; do
		[ -s "$f" ] || continue
		not_ok "no sanitizer or valgrind report ($(basename "$f"))" "$(head -40 "$f")"
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
	_reports
	if [ -n "${DSS_KEEP:-}" ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap _cleanup EXIT
trap 'exit 130' INT TERM
