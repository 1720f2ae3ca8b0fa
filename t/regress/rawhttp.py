"""rawhttp.py: sign requests made by hand, for the regress scripts that
need what curl cannot do (pause in the middle of a body, keep the
connection open after the answer).  The body is what `curl -F` sends.

    sys.path.insert(0, "<src>/t/regress"); import rawhttp
    ctype, body = rawhttp.form([("sw-description", "s", data), ("distro", "d1")])
    s = rawhttp.post_head(port, "/sign/swupdate", ctype, len(body))
    s.sendall(body)
    status_line, head, answer = rawhttp.read_answer(s)
"""
import socket


def form(parts, boundary="dssrawboundary"):
    """multipart/form-data of parts in order: fields (name, value) and
    files (name, filename, bytes) as application/octet-stream."""
    out = b""
    for part in parts:
        if len(part) == 2:
            out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                    % (boundary, part[0], part[1])).encode()
        else:
            out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                    "Content-Type: application/octet-stream\r\n\r\n"
                    % (boundary, part[0], part[1])).encode() + part[2] + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode()
    return "multipart/form-data; boundary=%s" % boundary, out


def post_head(port, path, ctype, length):
    """Connect to 127.0.0.1:port and send a POST head; the body is the
    caller's to send."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
               % (path, ctype, length)).encode())
    return s


def read_answer(s):
    """Read until the server closes: (status line, head, body)."""
    resp = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        resp += c
    head, _, body = resp.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), head, body
