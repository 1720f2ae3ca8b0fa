#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/proc.sh: every child is born the same way (lib/proc.c): ps
# shows each process's role (the supervisor; the key process; the
# spawner; a worker, idle or in its job), and a worker holds its channel
# on descriptor 3, stdin on /dev/null and nothing else of the
# supervisor's or the spawner's.  Each role locks its memory against
# execution itself.
. "$(dirname "$0")/lib.sh"

mkdir -p "$KEYS/demo/swupdate"
openssl genrsa -out "$KEYS/demo/swupdate/rsa-private.key" 2048 2>/dev/null
head -c 400000 /dev/urandom >"$T/big"

title() { ps -o args= -p "$1"; }
children() { pgrep -P "$DSS_PID"; }
keyproc() { for c in $(children); do title "$c" | grep -qx 'digsigserver: keys' && echo "$c"; done; }
spawner() { for c in $(children); do title "$c" | grep -qE '^digsigserver: spawner [0-9]+$' && echo "$c"; done; }
# the workers are the spawner's children (src/spawner.h)
workers() {
	for s in $(spawner); do
		for c in $(pgrep -P "$s"); do title "$c" | grep -q '^digsigserver: worker' && echo "$c"; done
	done
}
# titled PATTERN: some worker's title matches the extended regex PATTERN
titled() {
	for w in $(workers); do
		title "$w" | grep -qE "$1" && return 0
	done
	return 1
}
all_idle() {
	n=0
	for w in $(workers); do
		title "$w" | grep -qE '^digsigserver: worker [0-9]+ \[idle\]$' || return 1
		n=$((n + 1))
	done
	[ $n -eq 2 ]
}

# one spawner here (PIN_WORKERS=0); one per CPU at the end of this file
dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_PIN_WORKERS=0 || exit 1
# memory locked against execution (PR_SET_MDWE, Linux 6.6) in every role,
# each by itself (not inherited), after the code moved to huge pages
if grep -q 'info: main: no memory can be made executable' "$DSS_LOG"; then
	for r in keys spawner worker; do
		check "$r: memory locked against execution" \
			grep -q "^[^ ]* $r\[[0-9]*\] debug: proc_lock_memory: memory locked against execution" "$DSS_LOG"
	done
	check "the lock came after the moves to huge pages" sh -c "grep -n 'huge pages\|no memory can be made executable' '$DSS_LOG' | tail -1 | grep -q executable"
	dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_PIN_WORKERS=0 DIGSIGSERVER_MEMORY_DENY_WRITE_EXECUTE=0 || exit 1
	check "MEMORY_DENY_WRITE_EXECUTE=0: the log says the memory is not locked" \
		grep -q 'does not lock its memory against execution: DIGSIGSERVER_MEMORY_DENY_WRITE_EXECUTE=0' "$DSS_LOG"
	check "... and no process locks it" sh -c "! grep -q 'memory locked against execution' '$DSS_LOG'"
	dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_PIN_WORKERS=0 || exit 1
else
	skip "memory locked against execution" "$(grep -o 'memory may be made executable: .*' "$DSS_LOG")"
fi
if [ -n "${DSS_VALGRIND:-}" ]; then
	skip "process titles and worker descriptors" "under valgrind ps shows valgrind's command line"
	exit 0
fi
check_eq "ps: the supervisor" "digsigserver: supervisor" "$(title "$DSS_PID")"
check "ps: two idle workers, each with its number" wait_for 5 all_idle
check "ps: one key process, titled 'digsigserver: keys'" sh -c "[ \"$(keyproc | wc -l)\" -eq 1 ]"
check "ps: one spawner, titled 'digsigserver: spawner 1', the workers' parent" sh -c "[ \"$(spawner | wc -l)\" -eq 1 ]"
s=$(spawner)
check_eq "the spawner's descriptors: stdin, stdout, stderr, its channel and its signalfd only" \
	"0 1 2 3 4" "$(ls /proc/"$s"/fd | sort -n | tr '\n' ' ' | sed 's/ $//')"
check "... 4 is its signalfd" sh -c "readlink /proc/$s/fd/4 | grep -q 'signalfd'"
w=$(workers | head -n1)
check_eq "a worker's descriptors: stdin, stdout, stderr and its channel only" "0 1 2 3" \
	"$(ls /proc/"$w"/fd | sort -n | tr '\n' ' ' | sed 's/ $//')"
check "... its channel on 3 is a socket" sh -c "readlink /proc/$w/fd/3 | grep -q '^socket:'"
check_eq "... its stdin is /dev/null" /dev/null "$(readlink /proc/"$w"/fd/0)"

curl -s -o /dev/null -w '%{http_code}' --limit-rate 100k -X POST -F distro=demo \
	-F sw-description=@"$T/big" "$URL/sign/swupdate" >"$T/code" &
p=$!
check "ps: a busy worker shows its endpoint and job" wait_for 5 titled \
	'^digsigserver: worker [0-9]+ \[swupdate job [0-9]+\]$'
id=$(status_field '[w["job"]["id"] for w in d["pool"]["workers"] if w["job"]][0]')
check "... the job /status shows" titled "\\[swupdate job $id\\]\$"
wait $p
check_eq "... and the job succeeds" 200 "$(cat "$T/code")"

# --- the spawner's life (src/spawner.h) -----------------------------------
post() { curl -s -o /dev/null -w '%{http_code}' -X POST -F distro=demo -F sw-description=@"$T/sw" "$URL/sign/swupdate"; }
printf 'software = {};\n' >"$T/sw"
spawner_is() { [ "$(spawner | wc -l)" -eq 1 ] && title "$(spawner)" | grep -qx "digsigserver: spawner $1"; }
old=$(spawner)
kill -HUP "$DSS_PID"
check "SIGHUP: a new spawner (2) from the reloaded supervisor, the old one gone" wait_for 20 spawner_is 2
check "... every worker is its child" wait_for 20 sh -c "[ \"\$(pgrep -P $(spawner) | wc -l)\" -eq 2 ]"
check_eq "... and signs" 200 "$(post)"
check "... spawner 1 exited and was reaped" sh -c "! kill -0 $old 2>/dev/null"
s=$(spawner)
ws=$(workers | tr '\n' ' ')
kill -KILL "$s"
check "the spawner killed: a new one (3)" wait_for 20 spawner_is 3
check "... its workers lived on, the supervisor's children now" \
	sh -c "for w in $ws; do [ \"\$(ps -o ppid= -p \$w | tr -d ' ')\" = $DSS_PID ] || exit 1; done"
check_eq "... and signing goes on" 200 "$(post)"
check_eq "... again" 200 "$(post)"
# (this daemon's spawner: another daemon on the machine may have a
# spawner 3 too)
spawner_kids() { [ "$(pgrep -P "$(spawner)" | wc -l)" -eq 2 ]; }
check "... the pool refills with the new spawner's children" wait_for 20 spawner_kids
grep -q "spawner $s died of signal 9" "$DSS_LOG"
check "... and its death is logged" [ $? -eq 0 ]
wait_for 20 pool_settled
pid=$DSS_PID
tree="$(children) $(for s in $(spawner); do pgrep -P "$s"; done)"
dss_stop
check "SIGTERM with an idle pool: every worker exits on its own (their spawner's EXIT records read)" \
	sh -c "grep -q 'stopped' '$DSS_LOG' && ! grep -q 'did not exit' '$DSS_LOG'"
left=
for p in $tree; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
check_eq "... and the supervisor exits after it has reaped every process of the daemon (no zombie left)" "" "$left"

# --- one spawner per CPU, each kept there with its workers (PIN_WORKERS) --
cpus() { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$1/status"; }
mine=$(cpus $$)
ncpu=$(python3 -c 'import os; print(len(os.sched_getaffinity(0)))')
want=$((ncpu < 3 ? ncpu : 3))
nspawners() { [ "$(spawner | wc -l)" -eq "$1" ]; }
# kept: every spawner on one CPU of its own, every worker on its
# spawner's, N workers in all
kept() {
	n=0
	seen=
	for s in $(spawner); do
		c=$(cpus "$s")
		case "$c" in *[-,]*) return 1 ;; esac
		case " $seen " in *" $c "*) return 1 ;; esac
		seen="$seen $c"
		for w in $(pgrep -P "$s"); do
			[ "$(cpus "$w")" = "$c" ] || return 1
			n=$((n + 1))
		done
	done
	[ "$n" -eq "$1" ]
}
dss_start DIGSIGSERVER_WORKERS=3 || exit 1
check "PIN_WORKERS (default), WORKERS=3, $ncpu CPUs: $want spawners" wait_for 20 nspawners $want
check "... each kept on a CPU of its own, every worker on its spawner's" wait_for 20 kept 3
check "... the workers spread over the spawners" sh -c \
	"for s in $(spawner | tr '\n' ' '); do [ \"\$(pgrep -P \$s | wc -l)\" -ge 1 ] || exit 1; done"
status_cpus() {
	status_field '" ".join("%d:%s" % (w["pid"], w["cpu"]) for w in d["pool"]["workers"])' |
		tr ' ' '\n' | sort -n | tr '\n' ' ' | sed 's/ $//'
}
real_cpus() { for w in $(workers); do echo "$w:$(cpus "$w")"; done | sort -n | tr '\n' ' ' | sed 's/ $//'; }
# the same workers in both (a worker just forked is in /status once its
# spawner's BORN record is read)
same_cpus() { [ "$(real_cpus)" = "$(status_cpus)" ]; }
check "... /status shows each worker's CPU" wait_for 20 same_cpus
check_eq "... the supervisor is not kept on one CPU" "$mine" "$(cpus "$DSS_PID")"
check_eq "... nor the key process" "$mine" "$(cpus "$(keyproc)")"
for i in 1 2 3 4; do code=$(post); [ "$code" = 200 ] || break; done
check_eq "... and signs, job after job" 200 "$code"
check "... the replacements kept as well" wait_for 20 kept 3
s=$(spawner | head -n1)
c=$(cpus "$s")
others=$(spawner | grep -vx "$s" | tr '\n' ' ')
kill -KILL "$s"
respawned() { for n in $(spawner); do [ "$n" != "$s" ] && [ "$(cpus "$n")" = "$c" ] && return 0; done; return 1; }
check "a spawner killed: a new one on its CPU ($c)" wait_for 20 respawned
check "... the others untouched" sh -c "for o in $others; do kill -0 \$o || exit 1; done"
check_eq "... and signing goes on" 200 "$(post)"
wait_for 20 pool_settled
old=$(spawner | tr '\n' ' ')
kill -HUP "$DSS_PID"
renewed() { nspawners $want && for o in $old; do ! kill -0 "$o" 2>/dev/null || return 1; done; }
check "SIGHUP: $want new spawners, the old ones gone" wait_for 20 renewed
check "... kept as before" wait_for 20 kept 3
check_eq "... and signs" 200 "$(post)"
dss_stop

# the kernel refuses (as under a seccomp filter without sched_setaffinity)
if [ -n "${DSS_SANITIZED:-}" ] || ! command -v gcc >/dev/null; then
	skip "sched_setaffinity refused: the workers kept on no CPU" \
		"needs gcc and a plain build (LD_PRELOAD)"
else
	cat >"$T/noaffinity.c" <<'C'
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set)
{
	(void)pid; (void)size; (void)set;
	errno = EPERM;
	return -1;
}
C
	gcc -shared -fPIC -o "$T/noaffinity.so" "$T/noaffinity.c"
	dss_start DIGSIGSERVER_WORKERS=3 LD_PRELOAD="$T/noaffinity.so" || exit 1
	none_kept() { [ "$(status_field '" ".join(str(w["cpu"]) for w in d["pool"]["workers"])')" = "None None None" ]; }
	check "sched_setaffinity refused: the workers are kept on no CPU, as /status says" wait_for 20 none_kept
	check "... the log says why" grep -q "cannot keep spawner [0-9]* on CPU [0-9]*; the kernel places it" "$DSS_LOG"
	check_eq "... and signing works" 200 "$(post)"
	dss_stop
fi
if ! command -v taskset >/dev/null; then
	skip "started on one CPU (taskset)" "no taskset(1)"
	exit 0
fi
first=$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')
DSS_WRAP="taskset -c $first" dss_start DIGSIGSERVER_WORKERS=3 || exit 1
one_kept() { nspawners 1 && [ "$(cpus "$(spawner)")" = "$first" ] && kept 3; }
check "started on one CPU (taskset -c $first): one spawner, kept there with its workers" \
	wait_for 20 one_kept
check_eq "... and signs" 200 "$(post)"

# --- what a job leaves behind does not outlive it, even after a 200 ----------
# A shim (LD_PRELOAD) plays a worker taken over by its upload: at its first
# STARTED record it starts a process that calls setsid, forks again and
# sleeps, writing its pid into a directory the test gives it, and reaps
# the process between them itself (no death reaches the supervisor).  The job
# answers 200; the supervisor must kill that process when the worker ends
# (it did only after a failed job, so it could watch every later job).
if [ -z "${DSS_SANITIZED:-}" ] && [ -z "${DSS_VALGRIND:-}" ] && command -v gcc >/dev/null; then
	mkdir -p "$T/lo"
	chmod 1777 "$T/lo"
	cat >"$T/leave.c" <<'EOC'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
ssize_t
sendmsg(int fd, const struct msghdr *mh, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);
	static int done;

	if (real == NULL)
		real = (ssize_t(*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
	/* a worker's STARTED: type 3, a 24-byte header, then the endpoint */
	if (!done && access(DIR "/go", F_OK) == 0 && mh->msg_iovlen == 2 &&
	    mh->msg_iov[0].iov_len == 24 && *(const uint32_t *)mh->msg_iov[0].iov_base == 3) {
		pid_t mid;

		done = 1;
		if ((mid = fork()) > 0) {
			/* reaped here: the supervisor hears of no death */
			waitpid(mid, NULL, 0);
		} else if (mid == 0) {
			setsid();
			if (fork() == 0) {
				FILE *f = fopen(DIR "/pid.tmp", "w");

				if (f != NULL) {
					fprintf(f, "%d\n", (int)getpid());
					fclose(f);
					rename(DIR "/pid.tmp", DIR "/pid");
				}
				for (;;)
					pause();
			}
			_exit(0);
		}
	}
	return real(fd, mh, flags);
}
EOC
	gcc -shared -fPIC -DDIR="\"$T/lo\"" -o "$T/leave.so" "$T/leave.c" -ldl
	chmod 0755 "$T/leave.so"
	dss_start DIGSIGSERVER_WORKERS=2 LD_PRELOAD="$T/leave.so" || exit 1
	: >"$T/lo/go"
	check_eq "a job that leaves a setsid, double-forked process behind: 200" 200 "$(post)"
	rm -f "$T/lo/go"
	check "  ... that process started" wait_for 10 test -s "$T/lo/pid"
	left=$(cat "$T/lo/pid" 2>/dev/null)
	check "  ... and was killed when the job's worker ended (pid ${left:-none})" wait_for 20 \
		sh -c "[ -n '$left' ] && ! kill -0 '$left' 2>/dev/null"
	check "  ... the supervisor says so" wait_for 10 \
		grep -q 'killed processes left behind by a job' "$DSS_LOG"
	check_eq "  ... the next job signs" 200 "$(post)"
else
	skip "what a job leaves behind, after a 200" "needs gcc and a plain build (LD_PRELOAD)"
fi
# --- one job's processes are out of another job's reach --------------------
# Every worker runs as the same user, and a tool it starts is dumpable
# after exec, so a worker taken over by its upload could read another
# job's tool through /proc/<pid>/cwd (its job directory, its key files),
# environ and fd, and signal it.  Each worker is in a Landlock domain of
# its own (lib/privdrop.c) where the kernel has scoped domains (Landlock
# ABI 6, Linux 6.12).  A shim (LD_PRELOAD) plays both sides: the first
# job starts a child that execs sleep (a tool) and holds its job open; the
# second probes that process and, as a control, a child of its own.
if [ -n "${DSS_SANITIZED:-}" ] || [ -n "${DSS_VALGRIND:-}" ] || ! command -v gcc >/dev/null; then
	skip "one job's processes out of another's reach" "needs gcc and a plain build (LD_PRELOAD)"
	exit 0
fi
mkdir -p "$T/iso"
chmod 0777 "$T/iso" # not sticky: the workers rename what the test made
cat >"$T/iso.c" <<'EOC'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* a child that becomes a tool: sleep, dumpable after exec */
static pid_t
tool(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
	/* wait until it has exec'd: its /proc/<pid>/exe is sleep */
	for (int i = 0; pid > 0 && i < 2000; i++) {
		char p[64], b[256];
		ssize_t n;

		snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
		if ((n = readlink(p, b, sizeof(b) - 1)) > 0 && (b[n] = '\0', strstr(b, "sleep")))
			break;
		usleep(5000);
	}
	return pid;
}

/* what this process may do to pid: one line */
static void
probe(FILE *out, const char *who, pid_t pid)
{
	char p[64], b[4096];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "/proc/%d/cwd", (int)pid);
	n = readlink(p, b, sizeof(b) - 1);
	fprintf(out, "%s cwd=%s", who, n >= 0 ? "read" : strerror(errno));
	snprintf(p, sizeof(p), "/proc/%d/environ", (int)pid);
	if ((fd = open(p, O_RDONLY)) >= 0 && read(fd, b, sizeof(b)) >= 0)
		fprintf(out, " environ=read");
	else
		fprintf(out, " environ=%s", strerror(errno));
	if (fd >= 0)
		close(fd);
	fprintf(out, " signal=%s\n", kill(pid, 0) == 0 ? "sent" : strerror(errno));
}

ssize_t
sendmsg(int fd, const struct msghdr *mh, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);

	if (real == NULL)
		real = (ssize_t(*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
	/* a worker's STARTED: type 3, a 24-byte header, then the endpoint */
	if (!(mh->msg_iovlen == 2 && mh->msg_iov[0].iov_len == 24 &&
	      *(const uint32_t *)mh->msg_iov[0].iov_base == 3))
		return real(fd, mh, flags);
	if (rename(DIR "/plant", DIR "/planted") == 0) {
		pid_t t = tool();
		FILE *f = fopen(DIR "/pid.tmp", "w");

		if (f != NULL) {
			fprintf(f, "%d\n", (int)t);
			fclose(f);
			chmod(DIR "/pid.tmp", 0644); /* for another job's id (WORKER_UIDS) */
			rename(DIR "/pid.tmp", DIR "/pid");
		}
		for (int i = 0; i < 6000 && access(DIR "/release", F_OK) < 0; i++)
			usleep(5000);
		kill(t, SIGKILL);
		waitpid(t, NULL, 0);
	} else if (rename(DIR "/probe", DIR "/probing") == 0) {
		FILE *f = fopen(DIR "/result.tmp", "w"), *p = fopen(DIR "/pid", "r");
		int other = 0;
		pid_t own = tool();

		if (f != NULL && p != NULL && fscanf(p, "%d", &other) == 1) {
			probe(f, "other", (pid_t)other);
			probe(f, "own", own);
		}
		if (p != NULL)
			fclose(p);
		if (f != NULL) {
			fclose(f);
			rename(DIR "/result.tmp", DIR "/result");
		}
		kill(own, SIGKILL);
		waitpid(own, NULL, 0);
		close(open(DIR "/release", O_WRONLY | O_CREAT, 0666));
	}
	return real(fd, mh, flags);
}
EOC
gcc -shared -fPIC -DDIR="\"$T/iso\"" -o "$T/iso.so" "$T/iso.c" -ldl
chmod 0755 "$T/iso.so"
dss_start DIGSIGSERVER_WORKERS=2 LD_PRELOAD="$T/iso.so" || exit 1
if grep -q 'could trace or signal the processes of other jobs' "$DSS_LOG"; then
	skip "one job's processes out of another's reach" \
		"$(grep -o 'warning: [^:]*: [^:]*' "$DSS_LOG" | grep -m1 -i landlock)"
	exit 0
fi
: >"$T/iso/plant"
post >"$T/iso/code1" &
p=$!
check "a job starts a tool and holds" wait_for 20 test -s "$T/iso/pid"
: >"$T/iso/probe"
check_eq "another job, at the same time: 200" 200 "$(post)"
wait $p
check_eq "... and the first: 200" 200 "$(cat "$T/iso/code1")"
check "the second job's probe ran" test -s "$T/iso/result"
own=$(grep '^own ' "$T/iso/result")
other=$(grep '^other ' "$T/iso/result")
check_eq "control: a job reads its own tool's cwd and environ and may signal it" \
	"own cwd=read environ=read signal=sent" "$own"
check_eq "the other job's tool: its cwd, environ and signals refused" \
	"other cwd=Permission denied environ=Permission denied signal=Operation not permitted" \
	"$other"
check "the workers say they are in domains of their own" \
	grep -q 'worker\[[0-9]*\] debug: own_domain: in a Landlock domain of its own' "$DSS_LOG"
exit 0
