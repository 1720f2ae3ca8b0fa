#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/statuspage.sh: the operators' view.  GET /status with Accept:
# text/html is the page (its CSP, size, no job for it) and every other
# Accept still the JSON (with "recent" and "rates"); Debian's chromium,
# headless, renders the page while both workers are busy (a Tegra job
# whose fake helpers sleep, showing "bupgen spec 1/2", and a slow upload)
# and a third request waits: the DOM after the script ran shows each busy
# worker's endpoint and progress, the queue length, a recent failed job,
# and chromium's console has no CSP violation; a screenshot is kept
# ($DSS_RESULTS, default $BUILD/t/results; STATUS_SCREENSHOT=FILE copies
# it, as `make screenshot` does for doc/status.png).  Then the terminal
# view: --status for a busy, an idle pool and an unreachable server (text
# and exit status) and --watch under a pty for one refresh.
. "$(dirname "$0")/lib.sh"

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
RESULTS=${DSS_RESULTS:-$BUILD/t/results}
mkdir -p "$RESULTS"
L4T=$T/l4t
REC=$T/rec
sh "$SRC/t/fixtures/mkl4t.sh" "$L4T" "$REC" || { not_ok "fake L4T trees"; exit 0; }
mkdir -p "$KEYS/tx2/tegrasign"
openssl genrsa -traditional -out "$KEYS/tx2/tegrasign/rsa_priv.pem" 2048 2>/dev/null

# a tx2 flash package whose helpers sleep: the job shows "bupgen spec 1/2"
# for FAKE_SLEEP seconds, then 2/2
P=$T/pkg
mkdir -p "$P"
echo '<partition_layout><file>@SIGNED@</file></partition_layout>' >"$P/flash.xml.in"
DTB=tegra186-quill-p3310-1000-c03-00-base.dtb
for f in "$DTB" boot.img mb1_prod.bin tx2.cfg tx2-override.cfg; do echo "$f" >"$P/$f"; done
printf 'doflash\n' >"$P/doflash.sh"
chmod 0755 "$P/doflash.sh"
cat >"$P/flashvars" <<'EOF'
FLASHVARS="BPFDTB_FILE PINMUX_CONFIG"
BPFDTB_FILE=tegra186-a02-bpmp-quill-p3310-1000-@BPFDTBREV@-00-te770d-ucm2.dtb
PINMUX_CONFIG=tegra186-mb1-bct-pinmux-quill-p3310-1000-@BOARDREV@.cfg
DEV_PARAMS=emmc.cfg
EOF
printf '# R35 (release), REVISION: 4.1\nBSP_BRANCH=35\nBSP_MAJOR=4\nBSP_MINOR=1\n' >"$P/bsp_version"
cat >"$P/MANIFEST" <<EOF
DTBFILE=$DTB
ODMDATA=0x1090000
LNXFILE=boot.img
BOARDID=3310
FAB=B02
fuselevel=fuselevel_production
localbootfile=boot.img
boardcfg=
CHIPREV=
BOARDSKU=
BOARDREV=
FAKE_SLEEP=10
BUPGENSPECS=fab=1 fab=2
EOF
(cd "$P" && tar -c -h -z -f "$T/slow.tar.gz" -- *)
head -c 400000 /dev/urandom >"$T/big"

dss_start DIGSIGSERVER_L4T_TOOLS_BASE="$L4T" DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_QUEUE_MAX=5 \
	DIGSIGSERVER_QUEUE_WAIT=120 DIGSIGSERVER_RESPONSE_TIMEOUT=120

# --- the page and the JSON ---------------------------------------------------
HTML='text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
curl -s -D "$T/page.head" -o "$T/page.html" -H "Accept: $HTML" "$URL/status"
check "Accept: text/html: the page, as text/html" grep -qi '^Content-Type: text/html' "$T/page.head"
check "the page has a strict CSP (default-src 'none', hashed script and style)" \
	grep -qiE "^Content-Security-Policy: default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-" "$T/page.head"
check "the page is under 30 KB" test "$(wc -c <"$T/page.html")" -lt 30720
check "the page loads nothing from elsewhere" \
	sh -c "! grep -qiE '(src|href)=|@import|url\\(' '$T/page.html'"
check "one inline script" test "$(grep -c '<script' "$T/page.html")" -eq 1
is_json() { curl -s "$@" "$URL/status" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert "recent" in d and len(d["rates"]["jobs"]) == 300'; }
check "no Accept: the JSON, with recent and rates" is_json
check "Accept: application/json: the JSON" is_json -H 'Accept: application/json'
check "Accept: */*: the JSON" is_json -H 'Accept: */*'
check "Accept: text/html;q=0: the JSON" is_json -H 'Accept: text/html;q=0, application/json'
check_eq "HEAD with Accept: text/html: 200" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' -I -H "Accept: $HTML" "$URL/status")"
# HEAD: GET's Content-Length, and nothing after the head (the page is
# the same bytes every time)
curl -s -o "$T/page.get" -H "Accept: $HTML" "$URL/status"
python3 -c '
import socket, sys
sys.path.insert(0, sys.argv[4])
import dss
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"HEAD /status HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nConnection: close\r\n\r\n")
head, _, body = dss.recv_all(s).partition(b"\r\n\r\n")
open(sys.argv[2], "wb").write(head)
open(sys.argv[3], "wb").write(body)
' "$PORT" "$T/head.h" "$T/head.body" "$SRC/t/regress"
check_eq "HEAD: the Content-Length GET has" "$(wc -c <"$T/page.get" | tr -d ' ')" \
	"$(tr -d '\r' <"$T/head.h" | sed -n 's/^Content-Length: //Ip')"
check_eq "HEAD: nothing after the head" 0 "$(wc -c <"$T/head.body" | tr -d ' ')"
check "no job for the page requests" test "$(status_field 'd["totals"]["jobs"]')" = 0

# a failed job for the recent list
check_eq "a request without fields: 400" 400 \
	"$(curl -s -o /dev/null -w '%{http_code}' -X POST -F machine=tx2 "$URL/sign/tegra")"
check "JSON recent: the 400, with endpoint, client and result" python3 -c "
import json, urllib.request
d = json.load(urllib.request.urlopen('$URL/status'))
r = d['recent'][0]
assert r['endpoint'] == 'tegra' and r['status'] == 400 and r['result'] == 'refused', r
assert r['client'].startswith('127.0.0.1:') and r['duration_seconds'] >= 0, r
assert sum(d['rates']['failures']) == 1 and sum(d['rates']['jobs']) == 1, d['rates']"

# --- a busy pool ----------------------------------------------------------------
curl -s -o "$T/tegra.out" -w '%{http_code}' -X POST -F machine=tx2 -F soctype=tegra186 \
	-F bspversion=32.7.4 -F artifact=@"$T/slow.tar.gz" "$URL/sign/tegra" >"$T/tegra.code" &
TEGRA=$!
slow_upload() {
	exec curl -s -o /dev/null --limit-rate 2k -X POST -F distro=demo -F sw-description=@"$T/big" \
		"$URL/sign/swupdate" 2>/dev/null
}
in_progress() { status_field '[w["job"]["progress"] for w in d["pool"]["workers"] if w["job"]]' | grep -q 'bupgen spec 1/2'; }
check "the Tegra job shows 'bupgen spec 1/2'" wait_for 30 in_progress
slow_upload &
SLOW1=$!
check "both workers busy" wait_for 10 sh -c "curl -s '$URL/status' | grep -q '\"busy\": 2'"
slow_upload &
SLOW2=$!
check "one request queued" wait_for 10 sh -c "curl -s '$URL/status' | grep -q '\"length\": 1'"

if [ -z "$CHROMIUM" ]; then
	skip "the page in chromium" "chromium missing (apt-get install chromium)"
else
	chrome() {
		timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
			--user-data-dir="$T/chrome" --virtual-time-budget=3000 "$@"
	}
	chrome --enable-logging=stderr --v=0 --dump-dom "$URL/status" >"$T/dom.html" 2>"$T/chrome.log"
	check "chromium: the script ran and reached the server ('live')" grep -q 'id="conn" class="">live<' "$T/dom.html"
	check "chromium: a busy tile with endpoint tegra and its progress bar" python3 - "$T/dom.html" <<'EOF'
import re, sys
dom = open(sys.argv[1]).read()
tiles = re.findall(r'<div class="tile (\w+)">(.*?)</div></div>(?=<div class="tile|</div>)', dom)
busy = [t for s, t in tiles if s == "busy"]
assert len(busy) == 2, tiles
tegra = [t for t in busy if '<div class="endpoint">tegra</div>' in t]
assert tegra and re.search(r'<div class="progress">bupgen spec [12]/2</div><div class="bar progress"', tegra[0]), busy
assert any('<div class="endpoint">swupdate</div>' in t for t in busy), busy
assert all('class="client">127.0.0.1:' in t for t in busy), busy
EOF
	check "chromium: the queue shows 1 waiting" grep -q '<b id="queue">1 / 5</b>' "$T/dom.html"
	check "chromium: the recent 400 is listed as failed" \
		grep -qE '<tr class="fail"><td>[^<]*</td><td>tegra</td>.*<td class="st">400</td>' "$T/dom.html"
	check "chromium: sparklines drawn" grep -qE '<svg id="sparkjobs"[^>]*><polyline points="[0-9.]+,' "$T/dom.html"
	check "chromium: no Content Security Policy violation in the console" \
		sh -c "! grep -i 'Content Security Policy' '$T/chrome.log'"
	curl -s -o "$T/status.json" "$URL/status"
	chrome --window-size=1100,900 --screenshot="$RESULTS/statuspage.png" "$URL/status" >/dev/null 2>&1
	check "chromium: a screenshot of the busy pool" test -s "$RESULTS/statuspage.png"
	[ -n "${STATUS_SCREENSHOT:-}" ] && cp "$RESULTS/statuspage.png" "$STATUS_SCREENSHOT"
fi

# --- a server that goes away and comes back ---------------------------------
# a stand-in serving the page and, for its JSON, first FAILS times nothing
# (the connection closed, as while the daemon restarts; -1: always), then
# the saved /status; it logs what it did
flaky() {
	FAILS=$1 exec python3 - "$T/page.html" "$T/status.json" "$T/flaky.port" "$T/flaky.log" <<'EOF'
import http.server, os, socket, sys
page, js = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
csp = [l.split(":", 1)[1].strip() for l in open(os.environ["T"] + "/page.head")
       if l.lower().startswith("content-security-policy:")][0]
fails = [int(os.environ["FAILS"])]
log = open(sys.argv[4], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if "text/html" in self.headers.get("Accept", ""):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Security-Policy", csp)
            self.end_headers()
            self.wfile.write(page)
        elif fails[0] != 0:
            fails[0] -= 1
            log.write("dropped\n")
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            log.write("served\n")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(js)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[3], "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
}
if [ -n "$CHROMIUM" ]; then
	export T
	rm -f "$T/flaky.port" "$T/flaky.log"
	flaky -1 &
	FLAKY=$!
	wait_for 10 test -s "$T/flaky.port"
	chrome --dump-dom "http://127.0.0.1:$(cat "$T/flaky.port")/status" >"$T/down.html" 2>/dev/null
	kill $FLAKY
	check "chromium, server gone: the page says disconnected" \
		grep -q 'id="conn" class="down">disconnected' "$T/down.html"
	rm -f "$T/flaky.port" "$T/flaky.log"
	flaky 1 &
	FLAKY=$!
	wait_for 10 test -s "$T/flaky.port"
	chrome --dump-dom "http://127.0.0.1:$(cat "$T/flaky.port")/status" >"$T/back.html" 2>/dev/null
	kill $FLAKY
	check "chromium, server back: the page reconnected by itself (live, its workers shown)" sh -c "
		head -2 '$T/flaky.log' | tr '\n' ' ' | grep -q '^dropped served' &&
		grep -q 'id=\"conn\" class=\"\">live<' '$T/back.html' &&
		grep -q '<div class=\"endpoint\">tegra</div>' '$T/back.html'"
fi

# --- the terminal view -------------------------------------------------------
"$DSS" --status "$URL/status" >"$T/busy.txt" 2>&1
check_eq "--status, busy pool: exit 0 (healthy)" 0 $?
check "--status, busy pool: both busy, the endpoints, the progress, the queue" sh -c "
	grep -q '^pool: *2 busy, 0 idle' '$T/busy.txt' && grep -q '^queue: *1 of 5' '$T/busy.txt' &&
	grep -qE '^[0-9]+ +busy .*tegra .*bupgen spec [12]/2' '$T/busy.txt' &&
	grep -qE '^[0-9]+ +busy .*swupdate ' '$T/busy.txt' &&
	grep -qE '^[0-9:]+ +tegra .* 400 .*refused' '$T/busy.txt'"
script -qc "timeout 3 '$DSS' --watch '$URL/status'" /dev/null >"$T/watch.txt" 2>&1
check "--watch: redrawn (home, clear) at least twice in 3 s, each a full table" python3 -c "
t = open('$T/watch.txt', errors='replace').read()
frames = t.split('\x1b[H\x1b[2J')[1:]
assert len(frames) >= 2, repr(t[:300])
assert all('PID' in f and 'busy' in f for f in frames[:2]), frames[:2]"

kill "$SLOW1" "$SLOW2" 2>/dev/null
wait "$SLOW1" "$SLOW2" 2>/dev/null
wait "$TEGRA"
check_eq "the Tegra job ends 200" 200 "$(cat "$T/tegra.code")"
check "the pool settles" wait_for 60 pool_settled
"$DSS" --status --port "$PORT" >"$T/idle.txt" 2>&1
check_eq "--status --port, idle pool: exit 0" 0 $?
check "--status, idle pool: 2 idle, the healthy line" sh -c "
	grep -q '^pool: *0 busy, 2 idle' '$T/idle.txt' && grep -q 'healthy' '$T/idle.txt' &&
	[ \$(grep -cE '^[0-9]+ +idle ' '$T/idle.txt') -eq 2 ]"
dss_stop
"$DSS" --status "$URL/status" >"$T/down.txt" 2>&1
check_eq "--status, unreachable server: exit 1" 1 $?
check "--status, unreachable server: says so" \
	grep -q "^digsigserver: cannot read $URL/status: Connection refused" "$T/down.txt"
"$DSS" --status ftp://x >"$T/bad.txt" 2>&1
check_eq "--status with a URL that is not http://: exit 2" 2 $?
dss_start DIGSIGSERVER_TRUSTED_PROXIES=127.0.0.1
check_eq "the page follows STATUS_ALLOW: 403 from a trusted proxy" 403 \
	"$(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $HTML" "$URL/status")"
dss_stop
