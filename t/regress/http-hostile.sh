#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/http-hostile.sh: clients that bend HTTP, through the real daemon.
#  - clients that half-close (shutdown(SHUT_WR)) after a complete request,
#    more of them than workers: every one is queued, answered 200 and
#    gets a valid signature; a queued client that resets is an abort,
#    logged and counted;
#  - a client sending a body byte a second, below REQUEST_MIN_RATE, gets
#    408 once the grace is over and frees its worker; a slow but steady
#    upload still works;
#  - a head sent a byte at a time (every CR LF split across reads) is
#    parsed as if sent at once;
#  - absolute-form request targets and empty lines before the request
#    line (RFC 9112 3.2.2, 2.2);
#  - with MAX_CONNECTIONS held by idle clients, /healthz and /status still
#    answer (reserved connections), a signing request gets 503 at once.
. "$(dirname "$0")/lib.sh"

mkdir -p "$KEYS/d1/swupdate"
openssl genrsa -out "$KEYS/d1/swupdate/rsa-private.key" 2048 2>/dev/null
openssl rsa -in "$KEYS/d1/swupdate/rsa-private.key" -pubout -out "$T/pub" 2>/dev/null
printf 'software = { version = "1.0"; };\n' >"$T/sw"
verify() { openssl dgst -sha256 -verify "$T/pub" -signature "$1" "$T/sw" >/dev/null; }
total() { status_field "d['totals'].get('$1')"; }
BG=
trap 'for p in $BG; do kill $p 2>/dev/null; done; _cleanup' EXIT

# hostile.py MODE URL ...: hand-made requests (see each mode)
cat >"$T/hostile.py" <<'PY'
import os, select, socket, struct, sys, threading, time
sys.dont_write_bytecode = True
sys.path.insert(0, os.environ["REGRESS"])
import dss

mode, url = sys.argv[1], sys.argv[2]
host, port = dss.hostport(url)
sw = os.environ["SW"]

def request(path="/sign/swupdate", lead=b""):
    b, body = dss.form([("distro", "d1"), ("sw-description", "@" + sw)])
    return lead + dss.head(host, port, path, b, len(body)) + body

def status_line(data):
    return data.split(b"\r\n")[0].decode("latin-1")

if mode == "halfclose":
    # halfclose URL CLIENTS EACH OUTDIR: CLIENTS threads each send EACH
    # requests, half-closing after each; the signatures go to OUTDIR/N.sig
    clients, each, out = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    # one line at a time: print() writes its fields one by one, and two
    # threads' fields could interleave into lines the test cannot count
    out_lock = threading.Lock()
    def client(k):
        for i in range(each):
            s = socket.create_connection((host, port))
            s.sendall(request())
            s.shutdown(socket.SHUT_WR)
            st, h, body, complete = dss.parse(dss.recv_all(s))
            s.close()
            n = k * each + i
            with out_lock:
                print(n, st, complete, flush=True)
            if st == 200 and complete:
                open("%s/%d.sig" % (out, n), "wb").write(body)
    ts = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
elif mode == "stall":
    # stall URL: head and half a body, then nothing until killed
    s = socket.create_connection((host, port))
    data = request()
    s.sendall(data[:len(data) - 20])
    time.sleep(120)
elif mode == "reset":
    # reset URL READY: a complete head (no body yet), then a reset once
    # the file READY exists
    s = socket.create_connection((host, port))
    data = request()
    s.sendall(data[:data.index(b"\r\n\r\n") + 4])
    while not os.path.exists(sys.argv[3]):
        time.sleep(0.05)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
elif mode == "dribble":
    # dribble URL SECONDS: a head, then a body byte a second until an
    # answer comes (or SECONDS pass); prints the answer's status line and body
    s = socket.create_connection((host, port))
    data = request()
    cut = data.index(b"\r\n\r\n") + 4
    s.sendall(data[:cut])
    end = time.monotonic() + float(sys.argv[3])
    i = cut
    while time.monotonic() < end:
        if select.select([s], [], [], 1.0)[0]:
            break
        s.sendall(data[i:i + 1])
        i += 1
    s.settimeout(60)
    st, h, body, complete = dss.parse(dss.recv_all(s))
    print(st, body.decode("latin-1"))
elif mode == "bytewise":
    # bytewise URL PATH LEAD OUT: the head a byte at a time (each its own
    # segment), after LEAD ("crlf" for one empty line, else none), then
    # the body; prints the status, the answer body goes to OUT
    path, lead, out = sys.argv[3], sys.argv[4], sys.argv[5]
    data = request(path, b"\r\n" if lead == "crlf" else b"")
    if path == "/healthz":
        data = (b"\r\n" if lead == "crlf" else b"") + \
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: bytewise\r\n\r\n"
    cut = data.index(b"GET" if path == "/healthz" else b"POST")
    cut = data.index(b"\r\n\r\n", cut) + 4
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(cut):
        s.sendall(data[i:i + 1])
        time.sleep(0.002)
    s.sendall(data[cut:])
    st, h, body, complete = dss.parse(dss.recv_all(s))
    open(out, "wb").write(body)
    print(st)
elif mode == "raw":
    # raw URL LEAD PATH: one request with LEAD empty lines before it
    lead, path = int(sys.argv[3]), sys.argv[4]
    s = socket.create_connection((host, port))
    if path == "/healthz":
        s.sendall(b"\r\n" * lead + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    else:
        s.sendall(request(path, b"\r\n" * lead))
    st, h, body, complete = dss.parse(dss.recv_all(s))
    open(sys.argv[5], "wb").write(body)
    print(st)
elif mode == "idle":
    # idle URL N READY STOP: N connections that send nothing; READY once
    # made; at STOP (a file), prints how many are still open, then exits
    n, ready, stop = int(sys.argv[3]), sys.argv[4], sys.argv[5]
    conns = [socket.create_connection((host, port)) for _ in range(n)]
    open(ready, "w").write("%d\n" % n)
    while not os.path.exists(stop):
        time.sleep(0.05)
    still = 0
    for s in conns:
        try:
            s.recv(1, socket.MSG_DONTWAIT)  # an answer, a close or a reset
        except BlockingIOError:
            still += 1  # nothing to read: still open
        except OSError:
            pass
    print(still)
elif mode == "crowd":
    # crowd URL N: N connections that send nothing, then GET /healthz on
    # one more, at once; prints its status line, then, for each of the N,
    # the status line the server sent it (the one that gave its place to
    # the health check: a 503), "closed" for a close without a word, or
    # "open"
    # (with PARTIAL: each of the N sends a request line and no more)
    n = int(sys.argv[3])
    conns = [socket.create_connection((host, port)) for _ in range(n)]
    if len(sys.argv) > 4:
        for c in conns:
            c.sendall(b"GET /healthz HTTP/1.1\r\n")
    s = socket.create_connection((host, port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(30)
    print(status_line(dss.recv_all(s)))
    for c in conns:
        c.settimeout(0.05)
        try:
            data = c.recv(64)
            print("closed" if data == b"" else data.split(b"\r\n")[0].decode("latin-1"))
        except socket.timeout:
            print("open")
        except OSError:
            print("closed")
        c.close()
elif mode == "head":
    # head URL HEX: send the bytes HEX, print the answer's status line and
    # body, one line
    s = socket.create_connection((host, port))
    s.sendall(bytes.fromhex(sys.argv[3]))
    s.settimeout(30)
    st, h, body, complete = dss.parse(dss.recv_all(s))
    print(st, body.decode("latin-1"))
elif mode == "silent":
    # silent URL: connect, send nothing, print what the server says
    s = socket.create_connection((host, port))
    s.settimeout(30)
    print(status_line(dss.recv_all(s)))
PY
export REGRESS=$SRC/t/regress SW=$T/sw
hostile() { python3 "$T/hostile.py" "$@"; }

# --- F3: half-closed clients, more than workers ---------------------------------
CLIENTS=8 EACH=4
[ -n "${DSS_VALGRIND:-}" ] && CLIENTS=4 EACH=2 # each job takes seconds there
dss_start DIGSIGSERVER_WORKERS=1 || exit 1
mkdir -p "$T/hc"
hostile halfclose "$URL" $CLIENTS $EACH "$T/hc" >"$T/hc.out" 2>&1
check_eq "$((CLIENTS * EACH)) requests half-closed after sending, $CLIENTS clients, 1 worker: all answered 200" \
	$((CLIENTS * EACH)) "$(grep -c ' 200 True$' "$T/hc.out")"
check "  ... each with a valid signature" sh -c "
	[ \$(ls '$T/hc' | wc -l) = $((CLIENTS * EACH)) ] &&
	for f in '$T'/hc/*.sig; do openssl dgst -sha256 -verify '$T/pub' -signature \$f '$T/sw' >/dev/null || exit 1; done"
check "  ... and some of them half-closed while queued" grep -q 'half-closed while waiting for a worker' "$DSS_LOG"
check_eq "  ... none counted as aborted" 0 "$(total aborted)"

# a queued client that resets its connection is an abort: logged, counted
python3 "$T/hostile.py" stall "$URL" &
stall=$!
BG="$BG $stall"
wait_for 20 sh -c "[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"pool\"][\"busy\"])')\" = 1 ]"
python3 "$T/hostile.py" reset "$URL" "$T/reset.go" &
reset=$!
check "a second client waits in the queue" wait_for 20 sh -c \
	"[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"queue\"][\"length\"])')\" = 1 ]"
touch "$T/reset.go"
wait $reset
check "a queued client that resets leaves the queue at once" wait_for 20 sh -c \
	"[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"queue\"][\"length\"])')\" = 0 ]"
check_eq "  ... counted as aborted" 1 "$(total aborted)"
check "  ... and logged" grep -q 'went away (Connection reset by peer) while waiting for a worker' "$DSS_LOG"
kill $stall 2>/dev/null
wait $stall 2>/dev/null
# a client that closes in the middle of its request line
python3 -c "
import socket; s = socket.create_connection(('127.0.0.1', $PORT)); s.sendall(b'POST /sign/sw'); s.close()"
check "a client closing mid-request-line is counted as aborted" wait_for 20 sh -c \
	"[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"totals\"][\"aborted\"])')\" = 2 ]"
check "  ... and logged" grep -q 'went away (closed) before its request was complete (13 bytes read)' "$DSS_LOG"
dss_stop

# --- F7: a minimum upload rate ----------------------------------------------------
dss_start DIGSIGSERVER_WORKERS=1 DIGSIGSERVER_REQUEST_MIN_RATE=1000 \
	DIGSIGSERVER_REQUEST_MIN_RATE_GRACE=2 DIGSIGSERVER_RESPONSE_TIMEOUT=20 || exit 1
out=$(hostile dribble "$URL" 15)
check_eq "a body byte a second, below REQUEST_MIN_RATE: 408 once the grace is over" \
	"408 request body arriving slower than 1000 bytes per second" "$out"
check "  ... and the worker is free again" wait_for 20 sh -c \
	"[ \"\$(curl -s '$URL/status' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"pool\"][\"idle\"])')\" = 1 ]"
head -c 60000 /dev/urandom >"$T/60k"
check_eq "an upload at 20 kB/s, past the grace but above the rate: 200" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --limit-rate 20k -X POST -F distro=d1 \
		-F sw-description=@"$T/60k" "$URL/sign/swupdate")"
dss_stop

# --- F12: a head a byte at a time; F16: absolute-form, empty lines first ------------
dss_start DIGSIGSERVER_WORKERS=2 || exit 1
check_eq "a signing request's head sent a byte at a time: 200" 200 \
	"$(hostile bytewise "$URL" /sign/swupdate none "$T/bw.sig")"
check "  ... with a valid signature" verify "$T/bw.sig"
check_eq "  ... the same after an empty line: 200" 200 \
	"$(hostile bytewise "$URL" /sign/swupdate crlf "$T/bw2.sig")"
check "  ... with a valid signature" verify "$T/bw2.sig"
check_eq "GET /healthz a byte at a time, after an empty line: 200" 200 \
	"$(hostile bytewise "$URL" /healthz crlf "$T/bw.txt")"

check_eq "absolute-form target (POST http://host:port/sign/swupdate): 200" 200 \
	"$(curl -s -o "$T/abs.sig" -w '%{http_code}' --request-target "$URL/sign/swupdate" \
		-X POST -F distro=d1 -F sw-description=@"$T/sw" "$URL/sign/swupdate")"
check "  ... with a valid signature" verify "$T/abs.sig"
check_eq "absolute-form GET http://host:port/healthz: 200" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --request-target "$URL/healthz" "$URL/healthz")"
check_eq "absolute-form with another scheme: 400" 400 \
	"$(curl -s -o /dev/null -w '%{http_code}' --request-target "ftp://x/healthz" "$URL/healthz")"
check_eq "two empty lines before GET /healthz: 200" 200 "$(hostile raw "$URL" 2 /healthz "$T/raw.txt")"
check_eq "an empty line before a signing request: 200" 200 \
	"$(hostile raw "$URL" 1 /sign/swupdate "$T/raw.sig")"
check "  ... with a valid signature" verify "$T/raw.sig"
check_eq "nine empty lines before the request line: 400" 400 \
	"$(hostile raw "$URL" 9 /healthz "$T/raw.txt")"
# the supervisor's own pages check a head as a worker does
page_head() { hostile head "$URL" "$(printf '%b' "$1" | od -An -tx1 | tr -d ' \n')"; }
check_eq "GET /healthz HTTP/1.1 without Host: 400" "400 no Host header" \
	"$(page_head 'GET /healthz HTTP/1.1\r\n\r\n')"
check_eq "GET /metrics with two Host headers: 400" "400 several Host headers" \
	"$(page_head 'GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n')"
check_eq "GET /status with a folded header: 400" "400 folded header line" \
	"$(page_head 'GET /status HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n')"
check_eq "GET /healthz with Content-Length and Transfer-Encoding: 400" \
	"400 both Content-Length and Transfer-Encoding" \
	"$(page_head 'GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n')"
check_eq "GET /healthz HTTP/1.0 without Host (HAProxy's httpchk): 200" "200 ok" \
	"$(page_head 'GET /healthz HTTP/1.0\r\n\r\n')"
check_eq "GET /healthz HTTP/1.1 : 400, a malformed version (the supervisor said 505)" \
	"400 Bad request line" "$(page_head 'GET /healthz HTTP/1.1 \r\nHost: a\r\n\r\n')"
dss_stop

# --- F16: /healthz while MAX_CONNECTIONS are held -------------------------------------
dss_start DIGSIGSERVER_WORKERS=1 DIGSIGSERVER_MAX_CONNECTIONS=8 \
	DIGSIGSERVER_RESERVED_CONNECTIONS=2 DIGSIGSERVER_REQUEST_LINE_TIMEOUT=60 || exit 1
# at rest first: dss_start's own /status requests may still be closing
dss_settle
fd0=$(dss_fds)
python3 "$T/hostile.py" idle "$URL" 8 "$T/idle.ready" "$T/idle.stop" >"$T/idle.out" &
idle=$!
BG="$BG $idle"
wait_for 10 test -s "$T/idle.ready"
check "the supervisor holds 8 idle connections (MAX_CONNECTIONS=8)" wait_for 20 sh -c \
	"[ \$(ls /proc/$DSS_PID/fd | wc -l) -ge $((fd0 + 8)) ]"
check_eq "/healthz still answers" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/healthz")"
check_eq "/status still answers" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/status")"
out=$(curl -s -D "$T/h" -o /dev/null -w '%{http_code}' --max-time 5 -X POST -F distro=d1 \
	-F sw-description=@"$T/sw" "$URL/sign/swupdate")
check "a signing request past the limit: 503 with Retry-After" sh -c \
	"[ '$out' = 503 ] && tr -d '\r' <'$T/h' | grep -q '^Retry-After: [0-9]'"
check_eq "a reserved connection that sends nothing: 503" "HTTP/1.1 503 Service Unavailable" \
	"$(hostile silent "$URL")"
# the reserve (2 here) full of idle connections: a health check takes the
# place of the oldest (it asks at once; an idle one has 1 s to ask, then
# a 503 and 2 s of lingering, which held the reserve against it before).
# The crowd is made again when it came too late to fill the reserve (the
# log says whether a place was taken)
evicted_since_mark() {
	tail -n +$((${_log_mark:-0} + 1)) "$DSS_LOG" | grep -q "its reserved connection closed for a newer one"
}
crowd_evicts() { # [PARTIAL]
	log_mark
	hostile crowd "$URL" 2 "$@" >"$T/crowd.out" && evicted_since_mark
}
_ok=1
for _i in 1 2 3; do crowd_evicts && { _ok=0; break; }; done
check "the reserve full of idle connections: a health check takes the oldest's place" \
	test "$_ok" = 0
check_eq "  ... and is answered 200; the oldest gets a 503 (which curl --retry retries)" \
	"HTTP/1.1 200 OK HTTP/1.1 503 Service Unavailable" \
	"$(sed -n 1,2p "$T/crowd.out" | tr '\n' ' ' | sed 's/ $//')"
# the same with connections that send a request line and stall before the
# rest of their head
_ok=1
for _i in 1 2 3; do crowd_evicts partial && { _ok=0; break; }; done
check "the reserve full of connections stalled in their head: the health check still gets a place" \
	test "$_ok" = 0
check_eq "  ... answered 200" "HTTP/1.1 200 OK" "$(sed -n 1p "$T/crowd.out")"
touch "$T/idle.stop"
wait $idle
check_eq "the 8 idle connections were left alone" 8 "$(cat "$T/idle.out")"
check_eq "once they are gone, signing works again" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST -F distro=d1 \
		-F sw-description=@"$T/sw" "$URL/sign/swupdate")"

# --- F17: clients that read /status slowly -----------------------------------------
# /status of 256 workers (about 50 KB) to clients with a tiny window: the
# supervisor writes it as their sockets take it and serves everyone else
# meanwhile (it waited for each before, up to a second a write, and then
# cut the answer short); each slow client still gets all of it
dss_start DIGSIGSERVER_WORKERS=256 DIGSIGSERVER_PIN_WORKERS=0 || exit 1
check_eq "/livez while 8 clients read /status slowly; then each gets its whole answer" \
	"livez 200, 8 of 8 complete" "$(python3 - "$PORT" <<'PY'
import socket, subprocess, sys
port = int(sys.argv[1])
socks = []
for i in range(8):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 88)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
code = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "60",
                       "http://127.0.0.1:%d/livez" % port], capture_output=True, text=True).stdout
complete = 0
for s in socks:
    s.settimeout(60)
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:") and int(line.split(b":")[1]) == len(body) \
                and len(body) > 30000:
            complete += 1
print("livez %s, %d of 8 complete" % (code, complete))
PY
)"
exit 0
