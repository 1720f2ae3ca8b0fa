# SPDX-License-Identifier: MIT
"""dss.py: Python helpers of the regress scripts: multipart requests as
curl -F sends them, made by hand when a test needs what curl cannot do
(pause in the middle of a body, keep the connection open, record when each
connection was made, its local port and whether the answer was complete).
Scripts import it from t/regress (faults.sh copies it beside its own)."""
import asyncio, fcntl, json, os, struct, subprocess, termios, time, urllib.request, uuid

def form(parts):
    """parts: [(name, value)], value "@path" for a file part."""
    b = "------------------------" + uuid.uuid4().hex[:16]
    out = []
    for name, value in parts:
        out.append(("--%s\r\n" % b).encode())
        if value.startswith("@"):
            with open(value[1:], "rb") as f:
                data = f.read()
            out.append(('Content-Disposition: form-data; name="%s"; filename="%s"\r\n'
                        'Content-Type: application/octet-stream\r\n\r\n'
                        % (name, os.path.basename(value[1:]))).encode())
            out.append(data)
        else:
            out.append(('Content-Disposition: form-data; name="%s"\r\n\r\n' % name).encode())
            out.append(value.encode())
        out.append(b"\r\n")
    out.append(("--%s--\r\n" % b).encode())
    return b, b"".join(out)

def head(host, port, path, boundary, length):
    return ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nAccept: */*\r\nContent-Length: %d\r\n"
            "Content-Type: multipart/form-data; boundary=%s\r\n\r\n"
            % (path, host, port, length, boundary)).encode()

def parse(data):
    """(status, headers, body, complete) of a raw HTTP answer."""
    hd, sep, body = data.partition(b"\r\n\r\n")
    lines = hd.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1]) if lines[0].startswith("HTTP/1.") else 0
    except (IndexError, ValueError):
        status = 0
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    complete = bool(sep) and "content-length" in headers and \
        int(headers["content-length"]) == len(body)
    return status, headers, body, complete

def recv_all(s):
    """Read from socket s until the server closes it (or an error)."""
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data

def read_by_server(s, timeout=60):
    """Wait until the server has read every byte sent so far on socket s:
    none left unacknowledged in s's send queue, none waiting in the
    server's receive queue (ss).  True, or False after timeout seconds."""
    cport = s.getsockname()[1]
    sport = s.getpeername()[1]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        unsent = struct.unpack("i", fcntl.ioctl(s, termios.TIOCOUTQ, b"\0" * 4))[0]
        out = subprocess.run(["ss", "-Htn", "state", "established",
                              "( sport = :%d and dport = :%d )" % (sport, cport)],
                             capture_output=True, text=True).stdout.split()
        # the server's side of the connection: Recv-Q Send-Q Local Peer
        if unsent == 0 and out and out[0] == "0":
            return True
        time.sleep(0.01)
    return False

def status(url):
    return json.load(urllib.request.urlopen(url + "/status", timeout=10))

def hostport(url):
    h, p = url.split("://", 1)[1].rstrip("/").rsplit(":", 1)
    return h, int(p)

async def post(host, port, path, boundary, body, timeout=120):
    r = {"t0": time.monotonic(), "tc": None, "port": None, "status": 0, "error": None,
         "complete": False, "body": b"", "headers": {}}
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except Exception as e:
        r["error"] = "connect: " + type(e).__name__
        r["t1"] = time.monotonic()
        return r
    r["tc"] = time.monotonic()
    return await exchange(r, reader, writer, host, port, path, boundary, body, timeout)

async def exchange(r, reader, writer, host, port, path, boundary, body, timeout=120):
    """Send the request on an open connection and read the answer into r."""
    r["port"] = writer.get_extra_info("sockname")[1]
    try:
        writer.write(head(host, port, path, boundary, len(body)) + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
        r["status"], r["headers"], r["body"], r["complete"] = parse(data)
    except Exception as e:
        r["error"] = type(e).__name__
    finally:
        writer.close()
    r["t1"] = time.monotonic()
    return r
