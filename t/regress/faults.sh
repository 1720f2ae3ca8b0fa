#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/faults.sh: faults under load, through the real daemon.
#  - workers SIGKILLed at random while 16 clients send about 1000 swupdate
#    and some Mender requests: exactly the killed jobs' clients get 500,
#    every other request a correct 200, the pool stays full, the crashes
#    are counted, every Mender artifact is the original or validly signed;
#  - a worker stopped with SIGSTOP is killed at RESPONSE_TIMEOUT (504);
#  - a full work directory (a small tmpfs, when root) gives a clean 507 or
#    500, never a partial answer or a damaged artifact, and the next job
#    after freeing space works;
#  - the S3 key store failing or going away mid-job gives 503 with
#    Retry-After;
#  - SIGTERM under load: every request connected before the signal gets a
#    full 200;
#  - 500 clients sending their request line a byte a second delay a
#    signing request by less than a second; past MAX_CONNECTIONS new
#    connections get 503 at once;
#  - clients that go away mid-upload or right after the headers of a large
#    answer free their worker at once and leave no job directory;
#  - workers that die before they are ready (a setresuid that fails,
#    through an LD_PRELOAD shim) make the supervisor back off, and the
#    pool refills once they start again;
#  - afterwards no job directory is left and no key byte is in any log,
#    answer or file outside the key store.
# FAULTS_ONLY="2 4" runs only those sections (when debugging this script).
. "$(dirname "$0")/lib.sh"

MA=mender-artifact
EMU=$SRC/t/s3/s3-emulator
EMU_DIR=$T/s3
SMALL=$T/small
N=1000 # swupdate requests while workers are killed
M=24   # Mender artifacts signed meanwhile
BURST=200 # connections made just before SIGTERM
if [ -n "${DSS_SANITIZED:-}" ]; then
	N=300
	M=8
fi
if [ -n "${DSS_VALGRIND:-}" ]; then
	N=100
	M=4
	BURST=20
fi
BG=

faults_cleanup() {
	for p in $BG; do
		kill "$p" 2>/dev/null
	done
	[ -f "$EMU_DIR/pid" ] && "$EMU" stop "$EMU_DIR" >/dev/null 2>&1
	# a worker left stopped by an interrupted section would never exit
	[ -n "$DSS_PID" ] && for p in $(pgrep -P "$DSS_PID"); do kill -CONT "$p"; done
	dss_stop
	mountpoint -q "$SMALL" && umount -l "$SMALL"
	_cleanup
}
trap faults_cleanup EXIT

section() { [ -z "${FAULTS_ONLY:-}" ] || case " $FAULTS_ONLY " in *" $1 "*) ;; *) return 1 ;; esac; }
pool_full() { [ "$(status_field 'd["pool"]["idle"] == d["pool"]["size"]')" = True ]; }

# --- keys and inputs ----------------------------------------------------------
touch "$T/.start"
mkdir -p "$KEYS/d1/swupdate" "$KEYS/m1/mender" "$KEYS/k1/kmodsign"
openssl genrsa -out "$KEYS/d1/swupdate/rsa-private.key" 2048 2>/dev/null
openssl genrsa -traditional -out "$KEYS/m1/mender/private.key" 2048 2>/dev/null
openssl pkey -in "$KEYS/m1/mender/private.key" -pubout -out "$T/mender.pub"
openssl req -new -nodes -batch -x509 -days 3650 -newkey rsa:2048 -subj "/CN=faults modules" \
	-keyout "$KEYS/k1/kmodsign/kernel-signkey.priv" -out "$KEYS/k1/kmodsign/kernel-signkey.x509" \
	2>/dev/null
printf 'software = { version = "1.0"; };\n' >"$T/sw-description"
openssl dgst -sha256 -sign "$KEYS/d1/swupdate/rsa-private.key" -out "$T/sw.sig" "$T/sw-description"
openssl pkey -in "$KEYS/d1/swupdate/rsa-private.key" -pubout -out "$T/sw.pub"

# Python helpers (t/regress/dss.py), beside the scripts below that import them.
cp "$SRC/t/regress/dss.py" "$T/dss.py"

# killload.py URL N CONC SW SIG MENDER_LIST OUT: N swupdate requests (more
# until the killer has hit 3 jobs) and one Mender request per artifact,
# CONC at a time, while a killer (a process of its own) picks a
# random busy worker every 50-150 ms (a Mender one when it can), stops it
# (SIGSTOP), checks in /status that it is still in the same job and has
# not begun its answer, and then kills it (SIGKILL), or lets it go on
# (SIGCONT).  Kills that land while a worker writes its answer are not
# made: the supervisor has handed the client over by then.
cat >"$T/killload.py" <<'PY'
import asyncio, itertools, json, multiprocessing, os, random, signal, sys, time
sys.path.insert(0, os.path.dirname(sys.argv[0]))
import dss

url, n, conc, sw, sigfile, mlist, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
host, port = dss.hostport(url)
refsig = open(sigfile, "rb").read()
arts = [l.strip() for l in open(mlist) if l.strip()]
swb = dss.form([("distro", "d1"), ("sw-description", "@" + sw)])
tasks = [("swupdate", None)] * n
for i, a in enumerate(arts):
    tasks.insert((i + 1) * len(tasks) // (len(arts) + 1), ("mender", a))

def killer(done, q, nhits):
    hits, skipped, idle, gone = [], [0], [0], [0]
    while not done.is_set():
        time.sleep(random.uniform(0.05, 0.15))
        try:
            d = dss.status(url)
        except Exception:
            continue
        cands = [w for w in d["pool"]["workers"]
                 if w["state"] == "busy" and w["job"] and not w["job"]["responding"]]
        if not cands:
            idle[0] += 1
            continue
        mend = [w for w in cands if w["job"]["endpoint"] == "mender"]
        w = random.choice(mend if mend and random.random() < 0.7 else cands)
        pid, jid = w["pid"], w["job"]["id"]
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            gone[0] += 1
            continue
        time.sleep(0.03)
        try:
            d = dss.status(url)
            w2 = [x for x in d["pool"]["workers"] if x["pid"] == pid]
        except Exception:
            w2 = []
        try:
            if w2 and w2[0]["job"] and w2[0]["job"]["id"] == jid and not w2[0]["job"]["responding"]:
                j = w2[0]["job"]
                t = time.monotonic()  # the job is still on, stopped
                os.kill(pid, signal.SIGKILL)
                hits.append({"pid": pid, "job": jid, "endpoint": j["endpoint"],
                             "port": int(j["client"].rsplit(":", 1)[1]), "t": t})
                nhits.value += 1
            else:
                os.kill(pid, signal.SIGCONT)
                skipped[0] += 1
        except ProcessLookupError:
            gone[0] += 1
    q.put((hits, skipped[0], idle[0], gone[0]))

async def main():
    results = []
    # after the N requests, more until the killer has hit 3 jobs (20 s at most)
    end = time.monotonic() + 20
    more = iter(lambda: ("swupdate", None) if nhits.value < 3 and time.monotonic() < end
                else None, None)
    it = itertools.chain(tasks, more)

    async def client():
        for kind, art in it:
            if kind == "swupdate":
                r = await dss.post(host, port, "/sign/swupdate", *swb)
                r["ok"] = r["status"] == 200 and r["complete"] and r["body"] == refsig
            else:
                b = dss.form([("distro", "m1"), ("artifact-uri", "file://" + art)])
                r = await dss.post(host, port, "/sign/mender", *b)
                r["ok"] = r["status"] == 200 and r["complete"] and r["body"] == b"Signing successful"
                r["artifact"] = art
            r["kind"] = kind
            results.append(r)
    await asyncio.gather(*(client() for _ in range(conc)))
    return results

# the killer runs in a process of its own, out of reach of this one's GIL
done, q, nhits = multiprocessing.Event(), multiprocessing.Queue(), multiprocessing.Value("i", 0)
k = multiprocessing.Process(target=killer, args=(done, q, nhits))
k.start()
try:
    results = asyncio.run(main())
finally:
    done.set()
    hits, skipped, idle, gone = q.get(timeout=60)
    k.join()
# the request each kill hit: its local port, connected before the kill and
# answered after it
killed = set()
for h in hits:
    m = [i for i, r in enumerate(results)
         if r["port"] == h["port"] and r["tc"] <= h["t"] <= r["t1"]]
    h["requests"] = len(m)
    killed.update(m)
bad = []
for i, r in enumerate(results):
    if i in killed:
        good = r["status"] == 500 and r["complete"]
    else:
        good = r["ok"]
    if not good:
        bad.append({"i": i, "kind": r["kind"], "status": r["status"], "error": r["error"],
                    "killed": i in killed, "body": r["body"][:80].decode("latin-1")})
status = {}
for r in results:
    status[str(r["status"])] = status.get(str(r["status"]), 0) + 1
json.dump({"requests": len(results), "status": status, "kills": len(hits),
           "mender_kills": sum(1 for h in hits if h["endpoint"] == "mender"),
           "skipped": skipped, "idle": idle, "gone": gone, "killed_requests": len(killed),
           "unmatched_kills": [h for h in hits if h["requests"] != 1],
           "bad": bad[:20], "nbad": len(bad),
           "hit_jobs": sorted(h["job"] for h in hits),
           "mender": [[r["artifact"], r["status"]] for r in results if r["kind"] == "mender"]},
          open(out, "w"))
PY

# partial.py URL PATH CMD FIELD=VALUE... FILEFIELD=@PATH: send the head and
# half of the body, wait until a worker has the job, run CMD ({pid} is the
# worker's pid), send the rest and print the answer as JSON.
cat >"$T/partial.py" <<'PY'
import json, os, socket, subprocess, sys, time
sys.path.insert(0, os.path.dirname(sys.argv[0]))
import dss

url, path, cmd = sys.argv[1], sys.argv[2], sys.argv[3]
host, port = dss.hostport(url)
b, body = dss.form([a.split("=", 1) for a in sys.argv[4:]])
s = socket.create_connection((host, port))
me = "%s:%d" % s.getsockname()[:2]
half = len(body) // 2
s.sendall(dss.head(host, port, path, b, len(body)) + body[:half])
pid, end = None, time.time() + 10
while pid is None and time.time() < end:
    for w in dss.status(url)["pool"]["workers"]:
        if w["job"] and w["job"]["client"] == me:
            pid = w["pid"]
    time.sleep(0.02)
subprocess.run(cmd.replace("{pid}", str(pid)), shell=True, check=False)
t0 = time.monotonic()
s.sendall(body[half:])
s.settimeout(60)
st, hd, bd, complete = dss.parse(dss.recv_all(s))
print(json.dumps({"pid": pid, "status": st, "retry_after": hd.get("retry-after"),
                  "body": bd.decode("latin-1"), "complete": complete,
                  "seconds": round(time.monotonic() - t0, 2)}))
PY
chmod 0644 "$T"/*.py

# === 1. workers SIGKILLed at random under load ===================================
if section 1; then
if command -v $MA >/dev/null 2>&1; then
	head -c 1500000 /dev/urandom >"$T/rootfs.ext4"
	$MA write rootfs-image -t testdev -n faults -f "$T/rootfs.ext4" -o "$T/orig.mender" \
		--compression none >/dev/null 2>&1
	rm -f "$T/rootfs.ext4"
	mkdir -p "$T/art"
	: >"$T/mender.list"
	for i in $(seq "$M"); do
		cp "$T/orig.mender" "$T/art/a$i.mender"
		echo "$T/art/a$i.mender" >>"$T/mender.list"
	done
	dss_own -R "$T/art"
else
	: >"$T/mender.list"
fi
dss_start DIGSIGSERVER_WORKERS=4 || exit 1
python3 "$T/killload.py" "$URL" "$N" 16 "$T/sw-description" "$T/sw.sig" "$T/mender.list" \
	"$T/kill.json"
echo "# $(python3 -c "import json; d=json.load(open('$T/kill.json')); d.pop('mender'); d.pop('hit_jobs'); print(json.dumps(d))")"
kills=$(python3 -c "import json; print(json.load(open('$T/kill.json'))['kills'])")
check "SIGKILL under load: workers were killed in their jobs ($kills kills)" \
	sh -c "[ '$kills' -gt 0 ]"
check "SIGKILL under load: each kill hit exactly one client's request" python3 -c "
import json; d = json.load(open('$T/kill.json')); assert not d['unmatched_kills'], d['unmatched_kills']"
check "SIGKILL under load: the killed jobs' clients got 500, every other request a correct 200" \
	python3 -c "
import json; d = json.load(open('$T/kill.json'))
assert d['nbad'] == 0, d['bad']
assert d['status'] == {k: v for k, v in (('200', d['requests'] - d['kills']), ('500', d['kills'])) if v}, d['status']"
check "SIGKILL under load: the pool is full again" wait_for 20 pool_full
check_eq "SIGKILL under load: totals.crashes = kills that hit a job" "$kills" \
	"$(status_field 'd["totals"]["crashes"]')"
check_eq "SIGKILL under load: totals.5xx = kills" "$kills" "$(status_field 'd["totals"]["5xx"]')"
check_eq "SIGKILL under load: the request log has a 500 for exactly the killed jobs" \
	"$(python3 -c "import json; print(' '.join(sorted(json.load(open('$T/kill.json'))['hit_jobs'])))")" \
	"$(sed -n 's/.*job=\([0-9]*\) .* status=500 .*/\1/p' "$DSS_LOG" | sort | tr '\n' ' ' | sed 's/ $//')"
check "SIGKILL under load: no job directory left" no_job_dirs "$DSS_WORK"
if [ -s "$T/mender.list" ]; then
	mk=$(python3 -c "import json; print(json.load(open('$T/kill.json'))['mender_kills'])")
	python3 -c "
import json
for a, s in json.load(open('$T/kill.json'))['mender']: print(a, s)" >"$T/mender.out"
	bad=
	signed=0
	orig=0
	while read -r a s; do
		if cmp -s "$a" "$T/orig.mender" && [ "$s" != 200 ]; then
			orig=$((orig + 1))
		elif $MA validate -k "$T/mender.pub" "$a" >/dev/null 2>&1; then
			signed=$((signed + 1))
		else
			bad="$bad $(basename "$a") ($s)"
		fi
	done <"$T/mender.out"
	check_eq "SIGKILL under load: each of $M Mender artifacts is the original (killed) or validly signed ($mk killed: $orig original, $signed signed)" \
		"" "$bad"
	left=$(ls -A "$T/art" | grep -v '^a[0-9]*\.mender$' | tr '\n' ' ')
	echo "# temporary files a killed Mender job left beside its artifact: ${left:-none}"
else
	skip "Mender artifacts under SIGKILL" "mender-artifact is not installed"
fi
dss_stop

# A worker killed before it has read the job it was given: the supervisor
# sees its channel reset and then its death, and must count one crash.
dss_start DIGSIGSERVER_WORKERS=1 || exit 1
wpid=$(status_field 'd["pool"]["workers"][0]["pid"]')
kill -STOP "$wpid"
curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=d1 -F sw-description=@"$T/sw-description" \
	"$URL/sign/swupdate" >"$T/code" &
c=$!
wait_for 10 sh -c "[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"pool\"][\"busy\"])')\" = 1 ]"
kill -KILL "$wpid"
wait $c
check_eq "worker killed before reading its job: 500" 500 "$(cat "$T/code")"
check "  ... the pool is full again" wait_for 20 pool_full
check_eq "  ... one crash, one 5xx" "1 1" "$(status_field 'd["totals"]["crashes"], d["totals"]["5xx"]' | tr -d '(),')"
check_eq "  ... one line in the request log" 1 "$(grep -c 'path=/sign/swupdate .*status=500' "$DSS_LOG")"
check "  ... no job directory left" no_job_dirs "$DSS_WORK"
dss_stop
fi

# === 2. a stopped worker is killed at RESPONSE_TIMEOUT ===========================
if section 2; then
dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_RESPONSE_TIMEOUT=2 || exit 1
python3 "$T/partial.py" "$URL" /sign/swupdate 'kill -STOP {pid}' distro=d1 \
	sw-description=@"$T/sw-description" >"$T/stop.json"
echo "# $(cat "$T/stop.json")"
spid=$(python3 -c "import json; print(json.load(open('$T/stop.json'))['pid'])")
check_eq "SIGSTOP: the stopped worker's client gets 504 at RESPONSE_TIMEOUT" "504 True" \
	"$(python3 -c "import json; d=json.load(open('$T/stop.json')); print(d['status'], 1 <= d['seconds'] <= 15)")"
check "SIGSTOP: the stopped worker is killed and reaped" wait_for 20 sh -c "! kill -0 $spid 2>/dev/null"
check "SIGSTOP: the pool is refilled" wait_for 20 pool_full
check_eq "SIGSTOP: counted as a timeout, not a crash" "1 0" \
	"$(status_field 'd["totals"]["timeouts"], d["totals"]["crashes"]' | tr -d '(),')"
check "SIGSTOP: no job directory left" no_job_dirs "$DSS_WORK"
check_eq "SIGSTOP: the next job works" 200 "$(curl -s -o "$T/sig" -w '%{http_code}' -X POST \
	-F distro=d1 -F sw-description=@"$T/sw-description" "$URL/sign/swupdate")"
dss_stop
fi

# === 3. a full work directory ====================================================
# mkmods DIR COUNT KB: a tar.gz of COUNT random "modules" of KB kB each in DIR.tar.gz
mkmods() {
	rm -rf "$1"
	mkdir -p "$1/lib/modules/6.1.0-f/kernel/drivers"
	for i in $(seq "$2"); do
		head -c $(($3 * 1024)) /dev/urandom >"$1/lib/modules/6.1.0-f/kernel/drivers/m$i.ko"
	done
	tar -C "$1" -czf "$1.tar.gz" lib/modules
	rm -rf "$1"
}
# modules_answer_ok FILE COUNT: a complete tarball with COUNT signed modules
modules_answer_ok() {
	gzip -t "$1" 2>/dev/null || return 1
	rm -rf "$T/unpack" && mkdir "$T/unpack" && tar -C "$T/unpack" -xzf "$1" || return 1
	[ "$(find "$T/unpack" -name '*.ko' | wc -l)" -eq "$2" ] || return 1
	find "$T/unpack" -name '*.ko' | while read -r f; do
		[ "$(tail -c 28 "$f")" = "~Module signature appended~" ] || exit 1
	done
}
# clean_error CODE HEADERS BODY: a 507 or 500 with a short text/plain reason
clean_error() {
	case $1 in 507 | 500) ;; *) echo "status $1"; return 1 ;; esac
	tr -d '\r' <"$2" | grep -qi '^Content-Type: text/plain' || { cat "$2"; return 1; }
	[ "$(stat -c %s "$3")" -lt 200 ] || { echo "body of $(stat -c %s "$3") bytes"; return 1; }
}
# fill KB: leave KB kB free on the small file system
fill() {
	rm -f "$SMALL/filler"
	_avail=$(df --output=avail -B1024 "$SMALL" | tail -1)
	[ "$_avail" -gt "$1" ] && head -c $(((_avail - $1) * 1024)) /dev/zero >"$SMALL/filler"
	return 0
}
if ! section 3; then
	:
elif [ "$(id -u)" -ne 0 ]; then
	skip "full work directory" "not root: cannot mount a small tmpfs"
elif ! { mkdir -p "$SMALL" && mount -t tmpfs -o size=4m,mode=0755 tmpfs "$SMALL"; }; then
	skip "full work directory" "mounting a tmpfs failed"
else
	mkmods "$T/mods" 6 100
	mkdir -p "$SMALL/art"
	dss_own "$SMALL/art"
	dss_start DIGSIGSERVER_WORK_DIR="$SMALL/work" DIGSIGSERVER_WORKERS=2 || exit 1
	used0=$(df --output=used -B1024 "$SMALL" | tail -1)
	head -c 6000000 /dev/urandom >"$T/6m"
	code=$(curl -s -D "$T/h" -o "$T/body" -w '%{http_code}' -X POST -F machine=k1 \
		-F artifact=@"$T/6m" "$URL/sign/modules")
	check "full disk: a 6 MB upload into a 4 MB work dir gets a clean 507/500 ($code $(cat "$T/body"))" \
		clean_error "$code" "$T/h" "$T/body"
	# a sw-description is only hashed as it arrives: the full disk does not matter
	code=$(curl -s -o "$T/sig" -w '%{http_code}' -X POST -F distro=d1 \
		-F sw-description=@"$T/6m" "$URL/sign/swupdate")
	check_eq "full disk: a 6 MB sw-description is still signed (nothing of it is stored)" 200 "$code"
	check "full disk: its job directory is gone" no_job_dirs "$SMALL/work"
	check_eq "full disk: the space is given back" "$used0" "$(df --output=used -B1024 "$SMALL" | tail -1)"
	# every size of free space from too little for the upload to enough
	# for upload, tree and answer: a complete answer or a clean error
	oks=0
	errs=0
	for kb in 100 300 500 700 900 1100 1300 1500 1700 1900 2100 2500; do
		fill $kb
		code=$(curl -s -D "$T/h" -o "$T/body" -w '%{http_code}' -X POST -F machine=k1 \
			-F artifact=@"$T/mods.tar.gz" "$URL/sign/modules")
		if [ "$code" = 200 ]; then
			if modules_answer_ok "$T/body" 6; then
				oks=$((oks + 1))
			else
				not_ok "full disk: modules with $kb kB free: a 200 carries the complete answer"
			fi
		elif out=$(clean_error "$code" "$T/h" "$T/body"); then
			errs=$((errs + 1))
			echo "# modules with $kb kB free: $code $(cat "$T/body")"
		else
			not_ok "full disk: modules with $kb kB free: a clean 507/500" "$out"
		fi
		no_job_dirs "$SMALL/work" >/dev/null || not_ok "full disk: modules with $kb kB free: no job directory left"
	done
	check "full disk: modules jobs with 100 kB to 2.5 MB free: complete answers ($oks) or clean 5xx ($errs), both seen" \
		sh -c "[ $oks -gt 0 ] && [ $errs -gt 0 ] && [ $((oks + errs)) -eq 12 ]"
	if command -v $MA >/dev/null 2>&1; then
		head -c 1500000 /dev/urandom >"$T/r.ext4"
		$MA write rootfs-image -t testdev -n small -f "$T/r.ext4" -o "$T/small.mender" \
			--compression none >/dev/null 2>&1
		rm -f "$SMALL/filler"
		cp "$T/small.mender" "$SMALL/art/s.mender"
		dss_own "$SMALL/art/s.mender"
		fill 700
		code=$(curl -s -D "$T/h" -o "$T/body" -w '%{http_code}' -X POST -F distro=m1 \
			-F artifact-uri="file://$SMALL/art/s.mender" "$URL/sign/mender")
		check "full disk: Mender write-back without room: a clean 507/500 ($code $(cat "$T/body"))" \
			clean_error "$code" "$T/h" "$T/body"
		# not 500: curl --retry would copy and sign it four more times
		check_eq "full disk: Mender write-back without room is 507" 507 "$code"
		check "full disk: the artifact is the original" cmp "$T/small.mender" "$SMALL/art/s.mender"
		check_eq "full disk: no temporary file left beside it" "s.mender" "$(ls -A "$SMALL/art")"
	fi
	rm -f "$SMALL/filler"
	check_eq "space freed: a small job works again" 200 "$(curl -s -o "$T/sig" -w '%{http_code}' \
		-X POST -F distro=d1 -F sw-description=@"$T/sw-description" "$URL/sign/swupdate")"
	check "space freed: its signature verifies" \
		openssl dgst -sha256 -verify "$T/sw.pub" -signature "$T/sig" "$T/sw-description"
	code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F machine=k1 \
		-F artifact=@"$T/mods.tar.gz" "$URL/sign/modules")
	check "space freed: a modules job works again ($code)" modules_answer_ok "$T/body" 6
	if command -v $MA >/dev/null 2>&1; then
		check_eq "space freed: the Mender job works again" 200 "$(curl -s -o "$T/body" -w '%{http_code}' \
			-X POST -F distro=m1 -F artifact-uri="file://$SMALL/art/s.mender" "$URL/sign/mender")"
		check "space freed: the artifact is validly signed" \
			$MA validate -k "$T/mender.pub" "$SMALL/art/s.mender"
	fi
	check "full disk: no job directory left" no_job_dirs "$SMALL/work"
	dss_stop
	# a file-size limit (ulimit -f, systemd's LimitFSIZE=) is a full disk
	# for the job: 507, not a worker killed by SIGXFSZ (500)
	if command -v $MA >/dev/null 2>&1; then
		cp "$T/small.mender" "$SMALL/art/s.mender"
		dss_own "$SMALL/art/s.mender"
		ulimit -S -f 1000
		dss_start DIGSIGSERVER_WORK_DIR="$SMALL/work" DIGSIGSERVER_WORKERS=1
		rc=$?
		ulimit -S -f unlimited
		if [ $rc -eq 0 ]; then
			code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -F distro=m1 \
				-F artifact-uri="file://$SMALL/art/s.mender" "$URL/sign/mender")
			check_eq "file-size limit: 507 ($(cat "$T/body"))" 507 "$code"
			check "file-size limit: the artifact is the original" \
				cmp "$T/small.mender" "$SMALL/art/s.mender"
			check "file-size limit: no worker killed" sh -c "! grep -q 'died of signal' '$DSS_LOG'"
			dss_stop
		else
			not_ok "file-size limit: the daemon starts"
		fi
	fi
fi

# === 4. the S3 key store fails or goes away ======================================
# answer_503 JSON: "503 True" when the answer is 503 with a Retry-After
answer_503() {
	python3 -c "import json; d=json.load(open('$1')); print(d['status'], (d['retry_after'] or '').isdigit())"
}
if ! section 4; then
	:
elif ! command -v node >/dev/null 2>&1; then
	skip "S3 key store faults" "node is not installed"
elif ! "$EMU" start "$EMU_DIR" >"$T/emu.env" 2>"$T/emu.err"; then
	not_ok "S3 emulator starts" "$(cat "$T/emu.err")"
else
	. "$T/emu.env"
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
		-T "$KEYS/d1/swupdate/rsa-private.key" \
		"$DIGSIGSERVER_S3_ENDPOINT/dss-keys/store/d1/swupdate/rsa-private.key")
	check_eq "S3: key put into the emulated store" 200 "$code"
	fault() { curl -s -o /dev/null -X POST "$DIGSIGSERVER_S3_ENDPOINT/__dss_fault?$1"; }
	# KEY_CACHE_TTL=0: every job reads the store, as the original did
	dss_start DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/store DIGSIGSERVER_KEY_CACHE_TTL=0 \
		DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_S3_RETRIES=1 DIGSIGSERVER_NET_CONNECT_TIMEOUT=2 \
		DIGSIGSERVER_NET_TRANSFER_TIMEOUT=2 DIGSIGSERVER_RETRY_AFTER=7 || exit 1
	sw_post() { curl -s -D "$T/h" -o "$T/sig" -w '%{http_code}' -X POST -F distro=d1 \
		-F sw-description=@"$T/sw-description" "$URL/sign/swupdate"; }
	retry_after() { tr -d '\r' <"$T/h" | sed -n 's/^Retry-After: //Ip'; }
	check_eq "S3: signing with the key from the store works" 200 "$(sw_post)"
	check "S3: ... byte for byte the reference signature" cmp "$T/sig" "$T/sw.sig"
	fault "status=500&count=100"
	code=$(sw_post)
	check_eq "S3: store answering 500 to every request: 503 with Retry-After ($(retry_after))" \
		"503 1" "$code $(retry_after | grep -c '^[0-9][0-9]*$')"
	fault "status=0&count=100"
	code=$(sw_post)
	check_eq "S3: store closing every connection: 503 with Retry-After ($(retry_after))" \
		"503 1" "$code $(retry_after | grep -c '^[0-9][0-9]*$')"
	fault "status=200&count=100&delay=6"
	code=$(sw_post)
	check_eq "S3: store answering too slowly: 503 with Retry-After ($(retry_after))" \
		"503 1" "$code $(retry_after | grep -c '^[0-9][0-9]*$')"
	fault "count=0"
	check_eq "S3: the store back: 200" 200 "$(sw_post)"
	# the emulator stops while the client is still sending its request
	python3 "$T/partial.py" "$URL" /sign/swupdate "'$EMU' stop '$EMU_DIR' >/dev/null 2>&1" \
		distro=d1 sw-description=@"$T/sw-description" >"$T/s3stop.json"
	echo "# $(cat "$T/s3stop.json")"
	check_eq "S3: the store gone mid-job: 503 with Retry-After" "503 True" "$(answer_503 "$T/s3stop.json")"
	check_eq "S3: the store gone: every later job 503 with Retry-After" "503 1" \
		"$(sw_post) $(retry_after | grep -c '^[0-9][0-9]*$')"
	check "S3: the pool is full" wait_for 20 pool_full
	check_eq "S3: no crash, no timeout" "0 0" \
		"$(status_field 'd["totals"]["crashes"], d["totals"]["timeouts"]' | tr -d '(),')"
	check "S3: no job directory left" no_job_dirs "$DSS_WORK"
	dss_stop
	# with the default KEY_CACHE_TTL (60 s) a key read once is kept: a
	# store failing for a moment does not fail the jobs in between
	"$EMU" start "$EMU_DIR" >"$T/emu.env" 2>"$T/emu.err" && . "$T/emu.env"
	curl -s -o /dev/null -X PUT --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$KEYS/d1/swupdate/rsa-private.key" \
		"$DIGSIGSERVER_S3_ENDPOINT/dss-keys/store/d1/swupdate/rsa-private.key"
	dss_start DIGSIGSERVER_KEYFILE_URI=s3://dss-keys/store DIGSIGSERVER_WORKERS=2 \
		DIGSIGSERVER_S3_RETRIES=1 DIGSIGSERVER_NET_CONNECT_TIMEOUT=2 || exit 1
	check_eq "S3 key cache: the first job reads the key" 200 "$(sw_post)"
	fault "status=500&count=100"
	check_eq "S3 key cache: the store failing, the next job signs with the cached key" \
		200 "$(sw_post)"
	check "  ... byte for byte the reference signature" cmp "$T/sig" "$T/sw.sig"
	kill -HUP "$DSS_PID"
	check "  ... SIGHUP empties the cache" wait_for 10 \
		grep -q 'SIGHUP: key cache emptied' "$DSS_LOG"
	check_eq "  ... and the next job reads the failing store: 503" 503 "$(sw_post)"
	fault "count=0"
	dss_stop
fi

# === 5. SIGTERM under load =======================================================
# termload.py URL PID CONC SW SIG OUT: CONC clients send requests one after
# the other; after a second the daemon gets SIGTERM; each client stops at
# its first refused connection; 16 more connections are made just before
# the signal and send their requests after it.  Every request whose
# connection was made before the signal must get a full, correct 200.
cat >"$T/termload.py" <<'PY'
import asyncio, json, os, signal, sys, time
sys.path.insert(0, os.path.dirname(sys.argv[0]))
import dss

url, pid, conc, burst, hold, sw, sigfile, out = sys.argv[1], int(sys.argv[2]), \
    int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "hold", sys.argv[6], sys.argv[7], sys.argv[8]
host, port = dss.hostport(url)
refsig = open(sigfile, "rb").read()
b = dss.form([("distro", "d1"), ("sw-description", "@" + sw)])
results, term = [], {}

async def client():
    end = time.monotonic() + 30
    while time.monotonic() < end:
        r = await dss.post(host, port, "/sign/swupdate", *b, timeout=40)
        results.append(r)
        if r["tc"] is None:
            break

async def killer():
    # connections made just before the signal, most of them still in the
    # listener's backlog when it comes, send their requests only after it
    await asyncio.sleep(1.0)
    if hold:
        os.kill(pid, signal.SIGSTOP)
    conns = await asyncio.gather(*(asyncio.open_connection(host, port) for _ in range(burst)))
    t = time.monotonic()
    term["t"] = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    if hold:
        os.kill(pid, signal.SIGCONT)
    rs = [{"t0": t, "tc": t, "status": 0, "error": None, "complete": False, "body": b"",
           "headers": {}} for _ in conns]
    await asyncio.gather(*(dss.exchange(r, rd, wr, host, port, "/sign/swupdate", *b, timeout=40)
                           for r, (rd, wr) in zip(rs, conns)))
    results.extend(rs)

async def main():
    await asyncio.gather(killer(), *(client() for _ in range(conc)))

asyncio.run(main())
before = [r for r in results if r["tc"] is not None and r["tc"] < term["t"]]
after = [r for r in results if r["tc"] is not None and r["tc"] >= term["t"]]
lost = [{"status": r["status"], "error": r["error"], "ms_after_term": round((r["t1"] - term["t"]) * 1000)}
        for r in before if not (r["status"] == 200 and r["complete"] and r["body"] == refsig)]
count = lambda rs: {k: sum(1 for r in rs if (str(r["status"]) if r["tc"] else r["error"]) == k)
                    for k in set(str(r["status"]) if r["tc"] else r["error"] for r in rs)}
json.dump({"before": len(before), "after": count(after),
           "refused": sum(1 for r in results if r["tc"] is None),
           "lost": lost[:5], "nlost": len(lost)}, open(out, "w"))
PY
if section 5; then
	dss_start DIGSIGSERVER_WORKERS=4 DIGSIGSERVER_QUEUE_MAX=1000 DIGSIGSERVER_QUEUE_WAIT=600 || exit 1
	wpids=$(status_field '" ".join(str(w["pid"]) for w in d["pool"]["workers"])')
	python3 "$T/termload.py" "$URL" "$DSS_PID" 32 "$BURST" hold "$T/sw-description" "$T/sw.sig" "$T/term.json"
	echo "# $(cat "$T/term.json")"
	check "SIGTERM under load: every request connected before it got a full 200" python3 -c "
import json; d = json.load(open('$T/term.json')); assert d['before'] > 0 and d['nlost'] == 0, d"
	check "SIGTERM under load: later connections are refused" python3 -c "
import json; d = json.load(open('$T/term.json')); assert d['refused'] == 32, d"
	wait "$DSS_PID"
	rc=$?
	DSS_PID=
	check_eq "SIGTERM under load: exit status 0" 0 "$rc"
	check "SIGTERM under load: no worker left behind" sh -c "for p in $wpids; do ! kill -0 \$p 2>/dev/null || exit 1; done"
	check "SIGTERM under load: no job directory left" no_job_dirs "$DSS_WORK"
fi

# late.py URL PID: start a job and hold back the second half of its body
# until a worker has it; connect, SIGTERM the daemon, let the job finish,
# and send the request once the last worker has exited (a stopping pool is
# not refilled until a request comes; the key process stays to the end).
# Prints the job's status, then the late request's (its body must be the
# signature).  The job is in flight at the signal whatever the machine's
# speed.
cat >"$T/late.py" <<'PY'
import json, os, signal, socket, sys, time
sys.path.insert(0, os.path.dirname(sys.argv[0]))
import dss

url, pid = sys.argv[1], int(sys.argv[2])

def ppid_title(p):
    with open("/proc/%s/status" % p) as f:
        ppid = next(int(l.split()[1]) for l in f if l.startswith("PPid:"))
    with open("/proc/%s/cmdline" % p, "rb") as f:
        return ppid, f.read()

def children(parent):
    """The workers under parent (its spawner's children, or its own)."""
    procs = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                procs[int(p)] = ppid_title(p)
            except (OSError, ValueError, StopIteration):
                pass
    mine = {parent} | {p for p, (pp, _) in procs.items() if pp == parent}
    return sum(1 for p, (pp, t) in procs.items()
               if pp in mine and t.startswith(b"digsigserver: worker"))

host, port = dss.hostport(url)
b, body = dss.form([("distro", "d1"), ("sw-description", "@" + os.environ["SW"])])
jb, job = dss.form([("distro", "d1"), ("sw-description", "@" + os.environ["SLOW"])])
half = len(job) // 2
j = socket.create_connection((host, port))
j.sendall(dss.head(host, port, "/sign/swupdate", jb, len(job)) + job[:half])
end = time.monotonic() + 30
while dss.status(url)["pool"]["busy"] != 1 and time.monotonic() < end:
    time.sleep(0.01)
s = socket.create_connection((host, port))
os.kill(pid, signal.SIGTERM)
j.sendall(job[half:])
j.settimeout(60)
print(dss.parse(dss.recv_all(j))[0])
end = time.monotonic() + 60
while children(pid) and time.monotonic() < end:
    time.sleep(0.01)
s.sendall(dss.head(host, port, "/sign/swupdate", b, len(body)) + body)
s.settimeout(60)
st, hd, bd, complete = dss.parse(dss.recv_all(s))
print(st, complete and bd == open(os.environ["SIG"], "rb").read())
PY
if section 5; then
	# The only worker is busy when SIGTERM comes and exits once done; a
	# client connected before the signal sends its request after that.
	dss_start DIGSIGSERVER_WORKERS=1 || exit 1
	head -c 200000 /dev/urandom >"$T/200k"
	start=$(date +%s)
	out=$(SW=$T/sw-description SLOW=$T/200k SIG=$T/sw.sig timeout 90 python3 "$T/late.py" \
		"$URL" "$DSS_PID")
	check_eq "SIGTERM: the job running at the signal completes" 200 "$(echo "$out" | sed -n 1p)"
	check_eq "SIGTERM: a request sent after the last worker finished, on a connection made before the signal: 200 (in $(($(date +%s) - start)) s)" \
		"200 True" "$(echo "$out" | sed -n 2p)"
	wait "$DSS_PID"
	rc=$?
	DSS_PID=
	check_eq "SIGTERM: exit status 0" 0 "$rc"
fi

# === 6. slow clients ===============================================================
# slow.py PORT N SECONDS READY OUT: N connections that send a request line
# one byte a second; READY is written once all are connected; after
# SECONDS it writes how many the server answered or closed, and exits.
cat >"$T/slow.py" <<'PY'
import asyncio, json, sys
port, n, secs, ready, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
line = b"POST /sign/swupdate HTTP/1.1\r\n"

async def main():
    conns = []
    for _ in range(n):
        conns.append(await asyncio.open_connection("127.0.0.1", port))
    open(ready, "w").write("%d\n" % len(conns))
    answered, i = {}, 0
    loop = asyncio.get_running_loop()
    end = loop.time() + secs
    while loop.time() < end:
        for _, w in conns:
            if not w.is_closing():
                w.write(line[i % len(line):i % len(line) + 1])
        i += 1
        await asyncio.sleep(1)
    for r, w in conns:
        try:
            data = await asyncio.wait_for(r.read(200), 0.01)
        except asyncio.TimeoutError:
            data = None
        except OSError:
            data = b"reset"
        k = "open" if data is None else (data.split(b"\r\n")[0].decode("latin-1") or "closed")
        answered[k] = answered.get(k, 0) + 1
    json.dump(answered, open(out, "w"))

asyncio.run(main())
PY
# latency: the slowest of 5 signing requests, in ms
latency() {
	for _i in 1 2 3 4 5; do
		curl -s -o "$T/lat.sig" -w '%{http_code} %{time_total}\n' -X POST -F distro=d1 \
			-F sw-description=@"$T/sw-description" "$URL/sign/swupdate"
	done | awk '$1 != 200 { bad = 1 } { ms = $2 * 1000; if (ms > max) max = ms }
		END { if (bad) print -1; else printf "%d\n", max }'
}
if section 6; then
	NSLOW=500
	dss_start DIGSIGSERVER_WORKERS=4 DIGSIGSERVER_REQUEST_LINE_TIMEOUT=60 || exit 1
	latency >/dev/null
	# at rest: every connection so far closed
	dss_settle
	fd0=$(dss_fds)
	lat0=$(latency)
	jobs0=$(status_field 'd["totals"]["jobs"]')
	python3 "$T/slow.py" "$PORT" $NSLOW 5 "$T/slow.ready" "$T/slow.json" &
	slowpid=$!
	BG="$BG $slowpid"
	wait_for 10 test -s "$T/slow.ready"
	# the supervisor has accepted them all
	conns_at_least() { [ "$(dss_conns)" -ge "$1" ]; }
	wait_for 30 conns_at_least $NSLOW
	fd1=$(dss_fds)
	held=$(ss -Htn state established "( sport = :$PORT )" | wc -l)
	lat1=$(latency)
	echo "# signing latency: $lat0 ms alone, $lat1 ms beside $NSLOW slow clients ($((fd1 - fd0)) more fds)"
	check_eq "the supervisor holds the $NSLOW slow connections ($((fd1 - fd0)) more fds)" $NSLOW "$held"
	# (a worker held by a slow client would hold signing until slow.py ends, 5 s)
	check "$NSLOW clients sending a byte a second do not hold signing back ($lat0 -> $lat1 ms)" \
		sh -c "[ $lat0 -ge 0 ] && [ $lat1 -ge 0 ] && [ $lat1 -le $((lat0 + 3000)) ]"
	check_eq "the slow clients take no worker" "0 5" \
		"$(status_field 'd["pool"]["busy"], d["totals"]["jobs"] - '"$jobs0" | tr -d '(),')"
	wait $slowpid
	check_eq "every slow connection is still waiting for its request line" "{\"open\": $NSLOW}" \
		"$(cat "$T/slow.json")"
	check "once they are gone, the supervisor's fds are back ($fd0)" wait_for 20 sh -c \
		"[ \$(ls /proc/$DSS_PID/fd | wc -l) -le $fd0 ]"
	dss_stop

	# past DIGSIGSERVER_MAX_CONNECTIONS a new connection gets 503 at once
	rm -f "$T/slow.ready"
	dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_MAX_CONNECTIONS=100 \
		DIGSIGSERVER_RETRY_AFTER=60 || exit 1
	python3 "$T/slow.py" "$PORT" 150 3 "$T/slow.ready" "$T/slow.json" &
	slowpid=$!
	BG="$BG $slowpid"
	wait_for 10 test -s "$T/slow.ready"
	out=$(curl -s -D "$T/h" -o "$T/b" -w '%{http_code} %{time_total}' -X POST -F distro=d1 \
		-F sw-description=@"$T/sw-description" "$URL/sign/swupdate")
	# (a queued connection would wait for the slow ones to go, 3 s)
	check "past MAX_CONNECTIONS=100: 503 with Retry-After at once, not queued ($out)" sh -c \
		"[ '${out% *}' = 503 ] && tr -d '\r' <'$T/h' | grep -q '^Retry-After: [0-9]' && [ \$(echo '${out#* }' | cut -d. -f1) -lt 3 ]"
	# as every other 503: RETRY_AFTER and its spread (60 to 120 s), a reason
	ra=$(tr -d '\r' <"$T/h" | sed -n 's/^Retry-After: //p')
	check "past MAX_CONNECTIONS: Retry-After from RETRY_AFTER=60 ($ra)" \
		test "${ra:-0}" -ge 60 -a "${ra:-0}" -le 120
	check_eq "past MAX_CONNECTIONS: its reason" "Server busy: too many connections" "$(cat "$T/b")"
	wait $slowpid
	# (those refused were closed at once: writing to them draws a reset)
	check_eq "past MAX_CONNECTIONS=100: of 150 slow connections 100 held, 50 refused" "100 50" \
		"$(python3 -c "import json; d = json.load(open('$T/slow.json'))
print(d.get('open'), d.get('HTTP/1.1 503 Service Unavailable', 0) + d.get('reset', 0))")"
	dss_stop
fi

# === 7. clients that go away ======================================================
# abort.py URL WORK MODE FILE: a client that goes away mid-upload (closing
# its socket, or resetting it) or right after the headers of a large
# answer; prints how long until its worker was free and the job directory gone.
cat >"$T/abort.py" <<'PY'
import json, os, socket, struct, sys, time
sys.path.insert(0, os.path.dirname(sys.argv[0]))
import dss

url, work, mode, path = sys.argv[1:5]
host, port = dss.hostport(url)
res = {"mode": mode}

def myjob(me):
    for w in dss.status(url)["pool"]["workers"]:
        if w["job"] and w["job"]["client"] == me:
            return w
    return None

s = socket.socket()
if mode == "download":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    b, body = dss.form([("machine", "k1"), ("artifact", "@" + path)])
else:
    b, body = dss.form([("distro", "d1"), ("sw-description", "@" + path)])
s.connect((host, port))
me = "%s:%d" % s.getsockname()[:2]
end = time.time() + 20
if mode == "download":
    s.sendall(dss.head(host, port, "/sign/modules", b, len(body)) + body)
    data = b""
    while b"\r\n\r\n" not in data:
        c = s.recv(1)
        if not c:
            break
        data += c
    st, hd, _, _ = dss.parse(data)
    res["status"], res["length"] = st, int(hd.get("content-length", 0))
    w = myjob(me)
    while time.time() < end and not (w and w["job"]["responding"]):
        time.sleep(0.02)
        w = myjob(me)
else:
    s.sendall(dss.head(host, port, "/sign/swupdate", b, len(body)) + body[:len(body) // 10])
    w = myjob(me)
    while time.time() < end and not w:
        time.sleep(0.02)
        w = myjob(me)
res["worker_seen"] = bool(w)
if mode == "upload-reset":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
t0 = time.monotonic()
s.close()
res["ms"] = None
while time.monotonic() - t0 < 30:
    d = dss.status(url)
    free = not any(x["job"] and x["job"]["client"] == me for x in d["pool"]["workers"])
    if free and d["pool"]["idle"] == d["pool"]["size"] and \
            not [e for e in os.listdir(work) if e.startswith("job-")]:
        res["ms"] = round((time.monotonic() - t0) * 1000)
        break
    time.sleep(0.01)
print(json.dumps(res))
PY
if section 7; then
	dss_start DIGSIGSERVER_WORKERS=2 || exit 1
	head -c $((20 * 1024 * 1024)) /dev/urandom >"$T/20m"
	for mode in upload-close upload-reset; do
		python3 "$T/abort.py" "$URL" "$DSS_WORK" $mode "$T/20m" >"$T/abort.json"
		echo "# $(cat "$T/abort.json")"
		check "client gone mid-upload ($mode): worker free, pool full, no job directory soon" \
			python3 -c "
import json; d = json.load(open('$T/abort.json')); assert d['worker_seen'] and d['ms'] is not None and d['ms'] <= 15000, d"
	done
	rm -f "$T/20m"
	mkmods "$T/big" 16 512
	python3 "$T/abort.py" "$URL" "$DSS_WORK" download "$T/big.tar.gz" >"$T/abort.json"
	echo "# $(cat "$T/abort.json")"
	check "client gone after the headers of an 8 MB answer: worker free, pool full, no job directory soon" \
		python3 -c "
import json; d = json.load(open('$T/abort.json'))
assert d['status'] == 200 and d['length'] > 8000000 and d['worker_seen'], d
assert d['ms'] is not None and d['ms'] <= 15000, d"
	check "  ... the worker logged the broken answer" grep -q 'writing the answer to' "$DSS_LOG"
	check_eq "  ... no crash, no timeout" "0 0" \
		"$(status_field 'd["totals"]["crashes"], d["totals"]["timeouts"]' | tr -d '(),')"
	check_eq "the next request works" 200 "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
		-F distro=d1 -F sw-description=@"$T/sw-description" "$URL/sign/swupdate")"
	dss_stop
fi

# === nothing lost, nothing leaked ================================================
check "no job directory in any work directory" no_job_dirs "$T/work" "$SMALL/work"
# keyscan.py KEYS SINCE TOP SKIP...: no part of the private numbers of any
# key in KEYS, raw, as hex or as base64 of its PEM or DER, may be in a file
# under TOP (but SKIP: the key store and the S3 emulator's objects are key
# stores) nor in a file the service user could have written since SINCE in
# /tmp, /var/tmp and /dev/shm (found with grep -F, which is quick).
cat >"$T/keyscan.py" <<'PY'
import base64, os, re, subprocess, sys
keys, since, top = sys.argv[1], os.stat(sys.argv[2]).st_mtime, sys.argv[3]
skip = [os.path.realpath(p) for p in sys.argv[4:]]

def openssl(args, data):
    return subprocess.run(["openssl"] + args, input=data, capture_output=True, check=True).stdout

def secrets(pem):
    """The private numbers (RSA d, p, q, dp, dq, qinv; EC priv) as bytes."""
    text = openssl(["pkey", "-text", "-noout"], pem).decode()
    out = []
    for label, hexdump in re.findall(r"^(\w+):\n((?:[ \t]+[0-9a-f:]+\n)+)", text, re.M):
        if label in ("modulus", "pub"):
            continue
        b = bytes.fromhex(re.sub(r"[^0-9a-f]", "", hexdump)).lstrip(b"\0")
        if len(b) >= 16:
            out.append(b)
    return out

# Patterns of the secret numbers only (structure and public parts are the
# same in other keys): 16 bytes raw and as hex, 8 bytes as openssl's
# colon hex, and base64 of 15 bytes at every alignment of each encoding.
pats = set()
for d, _, files in os.walk(keys):
    for f in files:
        pem = open(os.path.join(d, f), "rb").read()
        if b"PRIVATE KEY" not in pem:
            continue
        nums = secrets(pem)
        assert nums, f
        for n in nums:
            for i in range(0, len(n) - 16, 8):
                w = n[i:i + 16]
                if b"\n" not in w and b"\0" not in w:
                    pats.add(w)
                pats.update((w.hex().encode(), w.hex().upper().encode()))
                pats.add(":".join("%02x" % c for c in w[:8]).encode())
        ders = [openssl(["pkey", "-outform", "DER", "-traditional"], pem),
                openssl(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER"], pem)]
        for der in ders:
            ranges = [(der.find(n), der.find(n) + len(n)) for n in nums]
            assert all(a >= 0 for a, _ in ranges), f
            for r in range(3):
                b64 = base64.b64encode(der[r:])
                for j in range(0, len(b64) - 20, 4):
                    lo = r + j // 4 * 3
                    if any(a <= lo and lo + 15 <= b for a, b in ranges):
                        pats.add(b64[j:j + 20])
assert pats, "no keys found"
with open(os.path.join(top, ".keyscan.pats"), "wb") as f:
    f.write(b"".join(p + b"\n" for p in pats))
files = []
for root in [top, "/tmp", "/var/tmp", "/dev/shm"]:
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if os.path.realpath(os.path.join(d, x)) not in skip]
        for f in names:
            p = os.path.join(d, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not os.path.isfile(p) or os.path.islink(p) or f == ".keyscan.pats":
                continue
            if p.startswith(top + "/") or (st.st_mtime >= since and st.st_size < (64 << 20)):
                files.append(p)
files = sorted(set(files))
bad = []
for i in range(0, len(files), 200):
    r = subprocess.run(["grep", "-l", "-a", "-s", "-F", "-f", os.path.join(top, ".keyscan.pats"),
                        "--"] + files[i:i + 200], capture_output=True, env={"LC_ALL": "C"})
    bad += r.stdout.decode().splitlines()
print("%d files scanned for %d patterns" % (len(files), len(pats)))
if bad:
    print("\n".join(bad[:20]))
    sys.exit(1)
PY
# --- workers that die before they are ready: forks are throttled -------------
# A shim (LD_PRELOAD) makes setresuid fail while a flag file exists, so
# every new worker dies in its privilege drop, before READY.  The
# supervisor must back off (200 ms, 400 ms, 800 ms, ...) instead of forking
# in a loop, and refill the pool once workers start again.
if section 8; then
	if [ "$(id -u)" -ne 0 ] || [ -n "${DSS_SANITIZED:-}" ] || [ -n "${DSS_VALGRIND:-}" ] ||
		! command -v gcc >/dev/null; then
		skip "workers dying before READY: forks throttled" \
			"needs root (a privilege drop), gcc and a plain build (LD_PRELOAD)"
	else
		cat >"$T/failuid.c" <<'EOC'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
int
setresuid(uid_t r, uid_t e, uid_t s)
{
	static int (*real)(uid_t, uid_t, uid_t);
	const char *flag = getenv("DSS_TEST_FAIL_SETUID");

	if (flag != NULL && access(flag, F_OK) == 0) {
		errno = EPERM;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(uid_t, uid_t, uid_t))dlsym(RTLD_NEXT, "setresuid");
	return real(r, e, s);
}
EOC
		gcc -shared -fPIC -o "$T/failuid.so" "$T/failuid.c"
		rm -f "$T/nofork"
		if dss_start DIGSIGSERVER_WORKERS=2 LD_PRELOAD="$T/failuid.so" \
			DSS_TEST_FAIL_SETUID="$T/nofork"; then
			post_ok() {
				[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST -F distro=d1 \
					-F sw-description=@"$T/sw-description" "$URL/sign/swupdate")" = 200 ]
			}
			wait_for 10 pool_full
			check "throttle: signing works before the fault" post_ok
			touch "$T/nofork"
			# every worker (the spawner's children), then the spawner and
			# the key process
			for c in $(pgrep -P "$DSS_PID"); do
				pkill -KILL -P "$c"
				kill -KILL "$c"
			done
			sleep 3
			n=$(grep -c 'died before it was ready' "$DSS_LOG")
			check "throttle: $n forks died in 3 s, backing off (not a fork loop)" \
				sh -c "[ $n -ge 2 ] && [ $n -le 8 ]"
			delays=$(sed -n 's/.*next fork in \([0-9]*\) ms.*/\1/p' "$DSS_LOG" | tr '\n' ' ')
			check "throttle: the delay doubles from one death to the next ($delays ms)" \
				python3 -c "
d = [int(x) for x in '$delays'.split()]
assert len(d) >= 2 and d[0] >= 200 and all(b >= 2 * a for a, b in zip(d, d[1:])), d"
			check "throttle: the supervisor is alive and answers /healthz" \
				sh -c "curl -s -o /dev/null -w '%{http_code}' '$URL/healthz' | grep -qE '^(200|503)$'"
			rm -f "$T/nofork"
			check "throttle: once workers start again the pool refills" wait_for 20 pool_full
			check "throttle: the key process is back too" wait_for 30 sh -c \
				"[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"keys\"][\"state\"])')\" = ready ]"
			check "throttle: and signs again" post_ok
			dss_stop
		else
			not_ok "daemon starts with the setresuid shim"
		fi
	fi
fi

ks0=$(date +%s%N)
check "no key byte in any log, answer or file outside the key store" \
	python3 "$T/keyscan.py" "$KEYS" "$T/.start" "$T" "$KEYS" "$EMU_DIR/data"
echo "# key scan: $((($(date +%s%N) - ks0) / 1000000)) ms"

exit 0
