#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""loadgen.py: concurrent signing requests as curl -F sends them.

  loadgen.py URL PATH N CONCURRENCY FIELD=VALUE... FILEFIELD=@PATH...
             [--retry R] [--timeout S]

Each request is a multipart/form-data POST with the fields and files
given (files as application/octet-stream with their basename, like curl).
With --retry R a request answered 503 (or 408/429/500/502/504) is sent
again up to R times after the Retry-After delay (1 s without one), like
curl --retry.  Prints one JSON
object: counts by final status, how many 503 carried Retry-After, retries,
latency percentiles (ms) of successful requests, requests per second.
"""
import asyncio
import json
import os
import sys
import time
import uuid


def build_body(parts):
    boundary = "------------------------" + uuid.uuid4().hex[:16]
    out = []
    for name, value in parts:
        out.append(("--%s\r\n" % boundary).encode())
        if value.startswith("@"):
            path = value[1:]
            with open(path, "rb") as f:
                data = f.read()
            out.append(('Content-Disposition: form-data; name="%s"; filename="%s"\r\n'
                        'Content-Type: application/octet-stream\r\n\r\n'
                        % (name, os.path.basename(path))).encode())
            out.append(data)
        else:
            out.append(('Content-Disposition: form-data; name="%s"\r\n\r\n' % name).encode())
            out.append(value.encode())
        out.append(b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return boundary, b"".join(out)


async def one(host, port, path, boundary, body, timeout):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        head = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: loadgen\r\nAccept: */*\r\n"
                "Content-Length: %d\r\nContent-Type: multipart/form-data; boundary=%s\r\n\r\n"
                % (path, host, port, len(body), boundary)).encode()
        writer.write(head + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    line, _, rest = data.partition(b"\r\n")
    status = int(line.split()[1]) if line.startswith(b"HTTP/1.") else 0
    headers = rest.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    retry_after = None
    for h in headers.split("\r\n"):
        if h.startswith("retry-after:"):
            retry_after = h.split(":", 1)[1].strip()
    return status, retry_after


async def main():
    args = sys.argv[1:]
    retry, timeout = 0, 60.0
    if "--retry" in args:
        i = args.index("--retry")
        retry = int(args[i + 1])
        del args[i:i + 2]
    if "--timeout" in args:
        i = args.index("--timeout")
        timeout = float(args[i + 1])
        del args[i:i + 2]
    url, path, n, conc = args[0], args[1], int(args[2]), int(args[3])
    parts = [a.split("=", 1) for a in args[4:]]
    hostport = url.split("://", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    port = int(port)
    boundary, body = build_body(parts)
    counts, lat = {}, []
    stats = {"retries": 0, "503_with_retry_after": 0, "503_without_retry_after": 0, "errors": 0}
    todo = iter(range(n))

    async def worker():
        for _ in todo:
            t0 = time.monotonic()
            status = 0
            for attempt in range(retry + 1):
                try:
                    status, ra = await one(host, port, path, boundary, body, timeout)
                except Exception:
                    status, ra = 0, None
                    stats["errors"] += 1
                if status == 503:
                    stats["503_with_retry_after" if ra else "503_without_retry_after"] += 1
                if status in (0, 408, 429, 500, 502, 503, 504) and attempt < retry:
                    stats["retries"] += 1
                    delay = float(ra) if ra and ra.isdigit() else 1.0
                    await asyncio.sleep(delay)
                    continue
                break
            counts[status] = counts.get(status, 0) + 1
            if status == 200:
                lat.append((time.monotonic() - t0) * 1000)

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(conc)))
    elapsed = time.monotonic() - start
    lat.sort()
    pct = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else None
    print(json.dumps({"requests": n, "concurrency": conc, "status": {str(k): v for k, v in counts.items()},
                      **stats, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
                      "rps": round(n / elapsed, 1), "seconds": round(elapsed, 2)}))


asyncio.run(main())
