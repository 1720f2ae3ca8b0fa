#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Rewrite the settings list of man/digsigserver.8 from lib/settings.def
(the lines between '.\\" settings-begin' and '.\\" settings-end').
t/regress/daemon.sh checks that every setting is documented."""
import os
import re

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
defs = open(os.path.join(top, "lib/settings.def")).read()
rx = re.compile(r'SETTING\((\w+),\s*\w+,\s*\w+,\s*("(?:[^"]*)"|NULL),[^,]*,[^,]*,\s*"((?:[^"\\]|\\.)*)"\)')
out = []
for name, default, text in rx.findall(defs):
    d = default.strip('"') if default != "NULL" else "unset"
    out.append(".TP\n.B DIGSIGSERVER_%s\n%s.\nDefault: %s.\n" % (
        name, text.replace("-", "\\-"), d.replace("-", "\\-")))
path = os.path.join(top, "man/digsigserver.8")
man = open(path).read()
begin, end = '.\\" settings-begin\n', '.\\" settings-end\n'
if begin not in man:
    start = man.index(".TP\n.B DIGSIGSERVER_")
    stop = man.index(".SH ENDPOINTS")
    man = man[:start] + begin + end + man[stop:]
a = man.index(begin) + len(begin)
b = man.index(end)
man = man[:a] + "".join(out) + man[b:]
open(path, "w").write(man)
