#!/bin/bash
# SPDX-License-Identifier: MIT
# t/regress/http.sh: requests as curl sends them, through the real daemon:
# uploads of 0 B, 1 KiB, 2 MiB (Expect: 100-continue) and one past
# REQUEST_MAX_SIZE (413 before the body is read), a chunked upload, a
# client that stalls mid-body (408, worker freed), a client that goes away
# mid-upload, and the worker's peak RSS during a large upload.
. "$(dirname "$0")/lib.sh"

mkdir -p "$KEYS/d1/swupdate"
openssl genrsa -out "$KEYS/d1/swupdate/rsa-private.key" 2048 2>/dev/null
openssl rsa -in "$KEYS/d1/swupdate/rsa-private.key" -pubout -out "$T/pub" 2>/dev/null
dss_start DIGSIGSERVER_WORKERS=2 DIGSIGSERVER_REQUEST_READ_TIMEOUT=2 || exit 1

sign() { # sign FILE [curl args]: status; the signature in $T/sig
	f=$1
	shift
	curl -s -o "$T/sig" -w '%{http_code}' "$@" -X POST -F distro=d1 -F sw-description=@"$f" \
		"$URL/sign/swupdate"
}
verify() { openssl dgst -sha256 -verify "$T/pub" -signature "$T/sig" "$1" >/dev/null; }

: >"$T/0"
head -c 1024 /dev/urandom >"$T/1k"
head -c $((2 * 1024 * 1024)) /dev/urandom >"$T/2m"
for f in 0 1k 2m; do
	check_eq "upload of $f: 200" 200 "$(sign "$T/$f")"
	check "upload of $f: the signature covers exactly the bytes sent" verify "$T/$f"
done
check "2 MiB upload went through Expect: 100-continue" sh -c "
	curl -s -v -o /dev/null -X POST -F distro=d1 -F sw-description=@'$T/2m' '$URL/sign/swupdate' 2>&1 |
	grep -q '< HTTP/1.1 100 Continue'"
check_eq "chunked upload: 200" 200 "$(sign "$T/1k" -H 'Transfer-Encoding: chunked')"
check "chunked upload: signature verifies" verify "$T/1k"

# A client that has read its whole answer but keeps the connection open:
# the request was read to its end, so the worker closes at once instead of
# lingering for the client's close, and is free again.
python3 - "$SRC/t/regress" "$URL" "$T/1k" >"$T/keep.out" 2>&1 <<'PY' &
import socket, sys, time
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import dss
host, port = dss.hostport(sys.argv[2])
b, body = dss.form([("distro", "d1"), ("sw-description", "@" + sys.argv[3])])
s = socket.create_connection((host, port))
s.sendall(dss.head(host, port, "/sign/swupdate", b, len(body)) + body)
print(dss.recv_all(s).split(b"\r\n")[0].decode(), flush=True)
time.sleep(30)  # the connection stays open on this side (the test ends it sooner)
print("closing", flush=True)
s.close()
PY
keep=$!
wait_for 10 grep -q 'HTTP/1.1' "$T/keep.out"
check_eq "client keeping its connection open: answered 200" "HTTP/1.1 200 OK" "$(head -n1 "$T/keep.out")"
# no worker busy while the client still holds its connection
freed_first() { ! grep -q closing "$T/keep.out" && [ "$(status_field 'd["pool"]["busy"]')" = 0 ]; }
check "  ... and the worker is free before the client closes" wait_for 10 freed_first
kill $keep 2>/dev/null
wait $keep 2>/dev/null

# past REQUEST_MAX_SIZE: 413 without sending the body (a 700 MB sparse file)
truncate -s 700M "$T/700m"
start=$(date +%s%N)
out=$(curl -s -o "$T/body" -w '%{http_code} %{size_upload}' -X POST -F distro=d1 \
	-F sw-description=@"$T/700m" "$URL/sign/swupdate")
ms=$((($(date +%s%N) - start) / 1000000))
check_eq "700 MB upload: 413" 413 "${out%% *}"
check "700 MB upload: refused before the body was sent (uploaded ${out#* } bytes in $ms ms)" \
	sh -c "[ ${out#* } -lt 1048576 ]"
rm -f "$T/700m"

# a client that stalls mid-body gets 408 after REQUEST_READ_TIMEOUT and frees its worker
python3 - "$PORT" >"$T/stall" <<'PY' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
body = b"--XyZ\r\nContent-Disposition: form-data; name=\"distro\"\r\n\r\nd1\r\n--XyZ\r\n"
s.sendall(b"POST /sign/swupdate HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
          b"Content-Length: 100000\r\n\r\n" + body)
s.settimeout(10)
print(s.recv(200).split(b"\r\n")[0].decode())
PY
stall=$!
# a worker holds the stalled request while its client still waits for an answer
held() { [ ! -s "$T/stall" ] && [ "$(status_field 'd["pool"]["busy"]')" = 1 ]; }
check "stalled client holds a worker meanwhile" wait_for 10 held
wait $stall
check_eq "client stalled mid-body: 408" "HTTP/1.1 408 Request Timeout" "$(cat "$T/stall")"
idle2() { [ "$(status_field 'd["pool"]["idle"]')" = 2 ]; }
check "... and the worker is free again" wait_for 10 idle2

# a Content-Length past 2^64 is refused, not read as what it wraps to
# (the length of the body that follows: it would be signed)
wrap() {
	python3 - "$PORT" "$1" <<'PY'
import socket, sys
body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"distro\"\r\n\r\nd1\r\n--XyZ\r\n"
        b"Content-Disposition: form-data; name=\"sw-description\"; filename=\"sw\"\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n"
        b"software =\n{\n\tversion = \"1.0.0\";\n\thardware-compatibility: [ \"1.0\" ];\n};\n\r\n--XyZ--\r\n")
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /sign/swupdate HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
          b"Content-Length: %d\r\n\r\n" % (len(body) + int(sys.argv[2])) + body)
s.settimeout(30)
data = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
line, rest = data.split(b"\r\n", 1)[0].decode(), data.split(b"\r\n\r\n", 1)[-1]
# the reason of a refusal; not the signature's bytes
print(line if b" 200 " in data[:16] else line + " " + rest.decode(errors="replace").strip())
PY
}
check_eq "the form with its own length: 200" "HTTP/1.1 200 OK" "$(wrap 0)"
check_eq "Content-Length of the form + 2^64: 400" "HTTP/1.1 400 Bad Request invalid Content-Length" \
	"$(wrap 18446744073709551616)"

# a client that goes away mid-upload frees its worker at once, leaving nothing behind
head -c $((20 * 1024 * 1024)) /dev/urandom >"$T/20m"
curl -s -o /dev/null --limit-rate 1M -X POST -F distro=d1 -F sw-description=@"$T/20m" \
	"$URL/sign/swupdate" &
c=$!
# mid-upload: a worker has the request (20 MiB at 1 MiB/s take 20 s)
busy_swupdate() {
	[ "$(status_field '[w["job"]["endpoint"] for w in d["pool"]["workers"] if w.get("job")]')" = "['swupdate']" ]
}
check "client gone mid-upload: a worker had the upload meanwhile" wait_for 10 busy_swupdate
kill $c
wait $c 2>/dev/null
check "client gone mid-upload: worker freed" wait_for 10 idle2
check "client gone mid-upload: no job directory left" sh -c "[ -z \"\$(ls -A '$DSS_WORK')\" ]"

# peak RSS of the worker that receives a 500 MB upload, against one that
# receives 1 MB: the worker reports its own peak (rss_peak_kb, the last
# field of its request log line).  It counts the pages of code a worker
# maps, shared with every process (hugetext.h), so the sanitizer build,
# whose code is larger, is held only to not growing with the upload.
head -c $((1024 * 1024)) /dev/zero >"$T/1m"
st1=$(sign "$T/1m")
wait_for 10 peak_rss_kb /sign/swupdate 1000000 >/dev/null
small=$(peak_rss_kb /sign/swupdate 1000000)
head -c $((500 * 1024 * 1024)) /dev/zero >"$T/500m"
st500=$(sign "$T/500m")
wait_for 10 peak_rss_kb /sign/swupdate $((500 * 1024 * 1024)) >/dev/null
peak=$(peak_rss_kb /sign/swupdate $((500 * 1024 * 1024)))
echo "# worker peak RSS during a 500 MB upload: ${peak:-none} kB; 1 MB: ${small:-none} kB"
if [ -n "${DSS_VALGRIND:-}" ]; then
	skip "worker peak RSS during a 500 MB upload" "the worker runs inside valgrind"
else
	check_eq "1 MB and 500 MB uploads: 200" "200 200" "$st1 $st500"
	check "worker peak RSS: 500 MB upload within 2 MB of a 1 MB one (${peak:-no log line} against ${small:-no log line} kB)" \
		sh -c "[ '${peak:-0}' -gt 0 ] && [ '${small:-0}' -gt 0 ] && [ $((${peak:-0} - ${small:-0})) -lt 2048 ]"
	if [ -z "${DSS_SANITIZED:-}" ]; then
		check "worker peak RSS during a 500 MB upload stays under 16 MB (${peak:-no log line} kB)" \
			sh -c "[ '${peak:-0}' -gt 0 ] && [ '${peak:-0}' -lt 16384 ]"
	fi
fi
rm -f "$T/500m" "$T/20m" "$T/1m"
exit 0
