#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""cputree.py PID [URL]: the CPU a daemon and everything it forked has used
so far, in milliseconds, from /proc accounting: for each live process of
the tree its own user and system time plus what its reaped children used
(cutime, cstime, which include their own reaped children).  Two readings
around a fixed number of requests give the CPU per request, whatever
process did the work and however short-lived it was.

With URL, also the key process's share (its pid from URL/status) and the
supervisor's per-phase counters from URL/metrics
(digsigserver_worker_cpu_seconds_total by phase, minor faults, forks and
the fork() CPU), as one JSON object.

cputree.py report A.json B.json N FORK_MS SIG_MS: the line the benchmark
prints from two readings taken around N requests, against the machine's
bare fork + exit + wait figure and one signature's CPU.

cputree.py brief A.json B.json N: only the CPU per request by process.
"""
import json
import os
import sys
import urllib.request

HZ = os.sysconf("SC_CLK_TCK")


def stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()
    # fields 14-17 of proc(5): utime stime cutime cstime
    return [int(x) for x in fields[11:15]]


def children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def tree_ms(pid):
    try:
        ticks = sum(stat(pid))
    except OSError:
        return 0.0  # gone meanwhile: its time is in its parent's cutime
    return ticks * 1000.0 / HZ + sum(tree_ms(c) for c in children(pid))


def self_ms(pid):
    try:
        u, s, _, _ = stat(pid)
    except OSError:
        return 0.0
    return (u + s) * 1000.0 / HZ


def metrics(url):
    out = {}
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("#") or " " not in line:
                continue
            name, value = line.rsplit(" ", 1)
            if name.startswith(("digsigserver_worker_cpu_seconds_total",
                                "digsigserver_worker_minor_faults_total",
                                "digsigserver_workers_exited_total",
                                "digsigserver_forks_total",
                                "digsigserver_fork_cpu_seconds_total")):
                out[name] = float(value)
    return out


def per_request(a, b, n):
    """The CPU per request between readings a and b: the whole tree's, the
    supervisor's own and the key process's."""
    return ((b["tree_ms"] - a["tree_ms"]) / n,
            (b["supervisor_ms"] - a["supervisor_ms"]) / n,
            (b.get("keys_ms", 0) - a.get("keys_ms", 0)) / n)


def report(a, b, n, fork_ms, sig_ms):
    """One line: CPU per request and where it went, between readings a and b."""
    ma, mb = a.get("metrics", {}), b.get("metrics", {})

    def d(name):
        return mb.get(name, 0.0) - ma.get(name, 0.0)

    def phase(p):
        return sum(d('digsigserver_worker_cpu_seconds_total{phase="%s",mode="%s"}' % (p, m))
                   for m in ("user", "system")) * 1000.0 / n
    total, sup, keys = per_request(a, b, n)
    forks = d("digsigserver_forks_total")
    fork_us = d("digsigserver_fork_cpu_seconds_total") * 1e6 / forks if forks else 0.0
    faults = sum(d('digsigserver_worker_minor_faults_total{phase="%s"}' % p)
                 for p in ("birth", "job", "exit")) / n
    target = 3 * fork_ms + sig_ms
    return ("CPU per request over %d requests at 8 clients: %.2f ms (supervisor %.2f, key process %.2f, "
            "workers %.2f: birth %.2f, job %.2f, exit %.2f; %.0f minor faults; fork() %.0f us "
            "in the forking process); 3 x fork + signature = 3 x %.3f + %.3f = %.2f ms: %s"
            % (n, total, sup, keys, total - sup - keys, phase("birth"), phase("job"),
               phase("exit"), faults, fork_us, fork_ms, sig_ms, target,
               "within" if total <= target else "over"))


def brief(a, b, n):
    """The CPU per request between readings a and b, by process."""
    total, sup, keys = per_request(a, b, n)
    return ("%.2f ms (supervisor %.2f, key process %.2f, workers %.2f)"
            % (total, sup, keys, total - sup - keys))


def reading(path):
    with open(path) as f:
        return json.load(f)


def main():
    if sys.argv[1] == "brief":
        print(brief(reading(sys.argv[2]), reading(sys.argv[3]), int(sys.argv[4])))
        return
    if sys.argv[1] == "report":
        print(report(reading(sys.argv[2]), reading(sys.argv[3]), int(sys.argv[4]),
                     float(sys.argv[5]), float(sys.argv[6])))
        return
    pid = int(sys.argv[1])
    res = {"tree_ms": tree_ms(pid), "supervisor_ms": self_ms(pid)}
    if len(sys.argv) > 2:
        with urllib.request.urlopen(sys.argv[2] + "/status", timeout=10) as r:
            keypid = json.load(r)["keys"]["pid"]
        res["keys_ms"] = tree_ms(keypid) if keypid else 0.0
        res["metrics"] = metrics(sys.argv[2])
    print(json.dumps(res))


if __name__ == "__main__":
    main()
