# SPDX-License-Identifier: MIT
# t/bench/wrkpost.py SW_DESCRIPTION DISTRO OUT_LUA: a wrk script posting
# exactly the multipart body `curl -F distro=DISTRO -F method=RSA
# -F sw-description=@SW_DESCRIPTION` sends (the body goes in as hex, so
# that its CRLFs stay exact).
import sys

sw_path, distro, out = sys.argv[1:4]
b = "------------------------dss0bench0boundary"
sw = open(sw_path, "rb").read()
body = (("--%s\r\nContent-Disposition: form-data; name=\"distro\"\r\n\r\n%s\r\n"
         "--%s\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\nRSA\r\n"
         "--%s\r\nContent-Disposition: form-data; name=\"sw-description\"; filename=\"sw-description\"\r\n"
         "Content-Type: application/octet-stream\r\n\r\n") % (b, distro, b, b)).encode() + sw + \
    ("\r\n--%s--\r\n" % b).encode()
open(out, "w").write(
    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "multipart/form-data; boundary=%s"\n'
    'local h = "%s"\nwrk.body = (h:gsub("..", function(c) return string.char(tonumber(c, 16)) end))\n'
    % (b, body.hex()))
