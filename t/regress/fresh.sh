#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/fresh.sh: one fresh process per job, whoever forks it (the
# spawner, src/spawner.h): with the default settings every job gets a
# worker pid of its own, sequential or concurrent, and that process is
# gone after the job; what the job held (its request, here a marker in
# the upload and a bearer token in a header) is in no process of the
# daemon once the answer is in, although it was in the worker's memory
# during the job; and no process but the key process ever holds the
# private key (its prime is found there: the scan can see it).  Memory is
# read as root through /proc/PID/mem.  A worker starts with its spawner's
# page-table entries for the code (fewer faults at birth).
. "$(dirname "$0")/lib.sh"

mkdir -p "$KEYS/d1/swupdate"
openssl genrsa -out "$KEYS/d1/swupdate/rsa-private.key" 2048 2>/dev/null
printf 'software = {};\n' >"$T/sw"

dss_start DIGSIGSERVER_WORKERS=2 || exit 1
wait_for 30 pool_settled

# --- a new worker pid for each job ---------------------------------------
log_mark
for i in $(seq 8); do
	curl -s -o /dev/null -X POST -F distro=d1 -F sw-description=@"$T/sw" "$URL/sign/swupdate"
done
cpids=
for i in $(seq 8); do
	curl -s -o /dev/null -X POST -F distro=d1 -F sw-description=@"$T/sw" "$URL/sign/swupdate" &
	cpids="$cpids $!"
done
wait $cpids
wait_for 30 pool_settled
# the worker's own request lines: "worker[PID] info: job=N ..."
tail -n +$((_log_mark + 1)) "$DSS_LOG" | sed -n 's/.* worker\[\([0-9]*\)\] info: job=[0-9].*/\1/p' >"$T/pids"
check_eq "16 jobs, 16 request lines" 16 "$(wc -l <"$T/pids")"
check_eq "... each from a worker pid of its own" 16 "$(sort -u "$T/pids" | wc -l)"
gone() {
	live=$(worker_pids)
	while read -r p; do
		case " $live " in *" $p "*) return 1 ;; esac
		[ -e "/proc/$p" ] && grep -q "^digsigserver: worker" "/proc/$p/cmdline" 2>/dev/null && return 1
	done <"$T/pids"
	return 0
}
check "... and every one of them is gone" gone

if [ "$(id -u)" -ne 0 ]; then
	skip "what a job held is gone with its process" "needs root to read other processes' memory"
	exit 0
fi
if [ -n "${DSS_SANITIZED:-}" ] || [ -n "${DSS_VALGRIND:-}" ]; then
	# ASan's shadow memory is terabytes of mappings; valgrind's own heap
	# holds copies of what the program read
	skip "what a job held is gone with its process" "not under sanitizers or valgrind"
	exit 0
fi

# --- what a job held is gone with it -------------------------------------
cat >"$T/scan.py" <<'PY'
"""scan.py ROOTPID HEX...: for each process of the tree under ROOTPID (its
title), which of the byte strings (hex) its memory holds."""
import os, sys

def tree(root):
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir("/proc/%d/task" % p):
                with open("/proc/%d/task/%s/children" % (p, t)) as f:
                    todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out

def holds(pid, needles):
    found = set()
    try:
        maps = open("/proc/%d/maps" % pid).read().splitlines()
        mem = open("/proc/%d/mem" % pid, "rb", 0)
    except OSError:
        return None
    for line in maps:
        f = line.split()
        if "r" not in f[1] or (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]", "[vvar_vclock]")):
            continue
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        try:
            mem.seek(lo)
            data = mem.read(hi - lo)
        except (OSError, ValueError, OverflowError):
            continue
        for n in needles:
            if n in data:
                found.add(n)
    return found

root, needles = int(sys.argv[1]), [bytes.fromhex(h) for h in sys.argv[2:]]
for p in tree(root):
    try:
        title = open("/proc/%d/cmdline" % p, "rb").read().split(b"\0")[0].decode()
    except OSError:
        continue
    h = holds(p, needles)
    if h is None:
        continue
    print("%s|%s" % (title, " ".join(n.hex() for n in needles if n in h)))
PY
marker=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf 'software = { marker = "%s"; };\n' "$marker" >"$T/sw-marked"
mhex=$(printf '%s' "$marker" | od -An -tx1 | tr -d ' \n')
thex=$(printf '%s' "$token" | od -An -tx1 | tr -d ' \n')
# 24 bytes of the key's first prime as a parsed key holds it (OpenSSL's
# BIGNUM: little-endian words, so the bytes reversed), and as its DER
# holds them (big-endian)
prime=$(openssl rsa -in "$KEYS/d1/swupdate/rsa-private.key" -noout -text 2>/dev/null |
	sed -n '/^prime1:/,/^prime2:/p' | sed '1d;$d' | tr -d ' \n:' | sed 's/^00//')
phex=$(python3 -c "import sys; print(bytes.fromhex(sys.argv[1])[::-1][8:32].hex())" "$prime")
pder=$(printf '%s' "$prime" | cut -c1-48)

# during the job: the body held back after the marker, so the worker has
# read it and waits for the rest
cat >"$T/held.py" <<'PY'
import os, socket, subprocess, sys, time
sys.path.insert(0, os.path.dirname(sys.argv[0]))
import dss
url, sw, token, scan, pid, mhex, thex, phex, out = sys.argv[1:10]
phex = phex.split()
host, port = dss.hostport(url)
b, body = dss.form([("distro", "d1"), ("sw-description", "@" + sw)])
h = dss.head(host, port, "/sign/swupdate", b, len(body))
h = h.replace(b"\r\n\r\n", ("\r\nX-Job-Marker: %s\r\n\r\n" % token).encode(), 1)
s = socket.create_connection((host, port))
cut = body.index(b"\r\n--" + b.encode() + b"--")
s.sendall(h + body[:cut])
end = time.monotonic() + 30
while dss.status(url)["pool"]["busy"] != 1 and time.monotonic() < end:
    time.sleep(0.01)
dss.read_by_server(s)
with open(out, "w") as f:
    subprocess.run([sys.executable, scan, pid, mhex, thex] + phex, stdout=f, check=True)
s.sendall(body[cut:])
s.settimeout(60)
print(dss.parse(dss.recv_all(s))[0])
PY
cp "$SRC/t/regress/dss.py" "$T/dss.py"
code=$(python3 "$T/held.py" "$URL" "$T/sw-marked" "$token" "$T/scan.py" "$DSS_PID" "$mhex" "$thex" \
	"$phex $pder" "$T/during")
check_eq "the held-back job completes" 200 "$code"
sed 's/^/# during: /' "$T/during"
check "during the job its worker holds the upload and the header (the scan sees them)" \
	grep -qE "^digsigserver: worker [0-9]+ \[swupdate job [0-9]+\]\|.*$mhex.*$thex|^digsigserver: worker [0-9]+ \[swupdate job [0-9]+\]\|.*$thex.*$mhex" "$T/during"
check "the key process holds the private key (the scan sees it)" \
	grep -qE "^digsigserver: keys\|.*$phex" "$T/during"
check "no other process holds the private key during the job" \
	sh -c "! grep -v '^digsigserver: keys|' '$T/during' | grep -qE '$phex|$pder'"
wait_for 30 pool_settled
python3 "$T/scan.py" "$DSS_PID" "$mhex" "$thex" "$phex" "$pder" >"$T/after"
sed 's/^/# after: /' "$T/after"
check "after the job, no process of the daemon holds its upload" sh -c "! grep -q '$mhex' '$T/after'"
check "... nor its request header" sh -c "! grep -q '$thex' '$T/after'"
check "... and only the key process the private key" \
	sh -c "! grep -v '^digsigserver: keys|' '$T/after' | grep -qE '$phex|$pder'"
# one spawner per CPU we may use, up to WORKERS (src/spawner.h)
nspawn=$(python3 -c 'import os; print(min(len(os.sched_getaffinity(0)), 2))')
check_eq "... the supervisor, the key process, the $nspawn spawners and two idle workers scanned" \
	$((4 + nspawn)) "$(wc -l <"$T/after")"

# --- the daemon's code on a huge page, shared by every worker (hugetext.h) --
# text.py PID ENTRY PIE: "anon huge" when the mapping that holds the
# program's entry point is anonymous on huge pages, "file" when it comes
# from the file (PIE: 1 when the entry is relative to the load address)
entry=$(readelf -h "$DSS" | awk '/Entry point/ {print $4}')
pie=$(readelf -h "$DSS" | grep -q 'Type:.*DYN' && echo 1 || echo 0)
cat >"$T/text.py" <<'PY'
import sys
pid, entry, pie = int(sys.argv[1]), int(sys.argv[2], 16), sys.argv[3] == "1"
base = None if pie else 0
maps = open("/proc/%d/smaps" % pid).read().splitlines()
for l in maps:  # the program's first mapping: its load address
    if l.split()[-1].endswith("/digsigserver") and base is None:
        base = int(l.split("-")[0], 16)
addr, inmap, kind, huge = base + entry, False, "none", 0
for l in maps:
    f = l.split()
    if "-" in f[0] and len(f) >= 5 and ":" in f[3]:
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if inmap:
            break
        inmap = lo <= addr < hi
        if inmap:
            kind = "file" if len(f) > 5 and f[5].startswith("/") else "anon"
    elif inmap and f[0] == "AnonHugePages:":
        huge = int(f[1])
print(kind + (" huge" if kind == "anon" and huge >= 2048 else ""))
PY
# libhuge.py PID: "yes" when an anonymous executable mapping on huge pages
# lies next to libcrypto's file mappings, directly or through other such
# mappings (the moved blocks of the library), else "no"
cat >"$T/libhuge.py" <<'PY'
import sys
maps, cur = [], None
for l in open("/proc/%s/smaps" % sys.argv[1]).read().splitlines():
    f = l.split()
    if "-" in f[0] and len(f) >= 5 and ":" in f[3]:
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        cur = {"lo": lo, "hi": hi, "x": "x" in f[1], "path": f[5] if len(f) > 5 else "", "huge": 0}
        maps.append(cur)
    elif f[0] == "AnonHugePages:":
        cur["huge"] = int(f[1])
moved = [m for m in maps if m["path"] == "" and m["x"] and m["huge"] >= 2048]
edges = {m["lo"] for m in maps if "/libcrypto.so" in m["path"]} | \
        {m["hi"] for m in maps if "/libcrypto.so" in m["path"]}
grew = True
while grew:  # the blocks touch libcrypto's mappings or each other
    grew = False
    for m in moved:
        if (m["lo"] in edges or m["hi"] in edges) and not {m["lo"], m["hi"]} <= edges:
            edges |= {m["lo"], m["hi"]}
            grew = True
print("yes" if any(m["lo"] in edges and m["hi"] in edges for m in moved) else "no")
PY
if grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null ||
	[ ! -e /sys/kernel/mm/transparent_hugepage/enabled ] || [ -n "${DSS_VALGRIND:-}" ]; then
	skip "the daemon's code on a huge page" "no transparent huge pages here, or valgrind's loader"
else
	check "the log says the code and constant data are on huge pages" \
		grep -q "the code and constant data of the program are on huge pages" "$DSS_LOG"
	check_eq "the supervisor runs its code from a huge page" "anon huge" \
		"$(python3 "$T/text.py" "$DSS_PID" "$entry" "$pie")"
	w=$(worker_pids | cut -d' ' -f1)
	check_eq "... and so does a worker, forked after" "anon huge" \
		"$(python3 "$T/text.py" "$w" "$entry" "$pie")"
	# libcrypto: where the kernel placed it so that 2 MB of its code and
	# constant data fill an aligned block (hugetext.h), the log names it
	# and a worker runs that block from a huge page beside its file mappings
	if grep -q "of the libraries are on huge pages (.*libcrypto" "$DSS_LOG"; then
		check_eq "a worker runs part of libcrypto from a huge page" "yes" \
			"$(python3 "$T/libhuge.py" "$w")"
	else
		skip "a worker runs part of libcrypto from a huge page" \
			"$(grep -o "code of the libraries stays on 4 kB pages.*" "$DSS_LOG" ||
				echo "no aligned 2 MB block of libcrypto in this process")"
	fi
	dss_stop
	dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_HUGE_TEXT=0 || exit 1
	wait_for 30 pool_settled
	check_eq "DIGSIGSERVER_HUGE_TEXT=0: the code stays mapped from the file" "file" \
		"$(python3 "$T/text.py" "$DSS_PID" "$entry" "$pie")"
	check_eq "... and a job still signs" 200 "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
		-F distro=d1 -F sw-description=@"$T/sw" "$URL/sign/swupdate")"
fi

# --- workers start with their spawner's entries for the code (hugetext_inherit)
# birth_faults: minor faults per worker from its fork to READY, over six
# jobs' workers once reaped (counts, not times: /metrics)
birth_faults() {
	for _j in 1 2 3 4 5 6; do
		curl -s -o /dev/null -X POST -F distro=d1 -F sw-description=@"$T/sw" "$URL/sign/swupdate"
	done
	wait_for 30 pool_settled
	curl -s "$URL/metrics" | awk '/^digsigserver_worker_minor_faults_total\{phase="birth"\}/ {f = $2}
		/^digsigserver_workers_exited_total / {n = $2} END {printf "%d", n ? f / n : -1}'
}
dss_start DIGSIGSERVER_WORKERS=2 || exit 1
wait_for 30 pool_settled
if [ -n "${DSS_VALGRIND:-}" ]; then
	skip "workers inherit the code's entries" "not under valgrind"
else
	check "the spawners marked the code for their workers (log)" \
		grep -qE "spawner\[[0-9]+\] debug: spawnd_main: workers inherit ([3-9]|[1-9][0-9]+) mappings of code" "$DSS_LOG"
	with=$(birth_faults)
	dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_INHERIT_CODE=0 || exit 1
	wait_for 30 pool_settled
	without=$(birth_faults)
	check "a worker's birth takes fewer page faults with them ($with) than without ($without)" \
		test "$with" -ge 0 -a "$with" -lt "$without"
	dss_start DIGSIGSERVER_WORKERS=2 || exit 1
fi
check_eq "... and a job signs" 200 "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
	-F distro=d1 -F sw-description=@"$T/sw" "$URL/sign/swupdate")"
exit 0
