#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""orig_swupdate.py KEY SWDESC SECONDS [PARALLEL]: the original server's
method of RSA-signing a sw-description, as fast as it goes for SECONDS
with PARALLEL (default 8) at a time: per request, copy the key into a new
temporary directory, run `openssl dgst -sha256 -sign` as a new process,
read the signature, remove the directory.  Prints requests per second."""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

key, swd, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
par = int(sys.argv[4]) if len(sys.argv) > 4 else 8
keydata = open(key, "rb").read()
count = [0]
lock = threading.Lock()
end = time.monotonic() + secs


def worker():
    while time.monotonic() < end:
        d = tempfile.mkdtemp()
        try:
            k = os.path.join(d, "rsa-private.key")
            with open(k, "wb") as f:
                f.write(keydata)
            out = os.path.join(d, "sig")
            subprocess.run(["openssl", "dgst", "-sha256", "-sign", k, "-out", out, swd],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            open(out, "rb").read()
        finally:
            shutil.rmtree(d)
        with lock:
            count[0] += 1


start = time.monotonic()
threads = [threading.Thread(target=worker) for _ in range(par)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("%.0f" % (count[0] / (time.monotonic() - start)))
