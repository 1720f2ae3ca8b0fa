#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""t/srcgraph.py [SRC]: check the shape of the source tree; exit 0 or 1.

A module is a .c file and its .h (src/pool.c and src/pool.h are "src/pool").
Module A depends on module B when a file of A includes B's header
(#include "b.h").  Checked:

  1. the module graph of src/, lib/, workers/ and keys/ has no cycle: each module
     calls in one direction only (the rest report upward through hooks);
  2. layers: lib/ includes only lib/; workers/ only lib/ and workers/;
     keys/ (the key process) only lib/ and keys/; src/ only lib/, src/
     and, of workers/, route.h (the routes) and worker.h (the worker
     role's main function), of keys/, keyd.h (the key process's main
     function): nothing in src/ knows a signer or its formats;
  3. no .c file of src/ declares a function extern, environ aside, and
     every function a header of src/ declares is defined in the .c of
     the same module: calls the include graph would not show (one header
     for several files hides their cycles).

Run by t/regress/srcgraph.sh; prints one line per problem.
"""
import os
import re
import sys

LAYERS = ("lib", "workers", "keys", "src")
# what each layer may include, and the few headers of workers/ src may use
ALLOWED = {"lib": {"lib"}, "workers": {"lib", "workers"}, "keys": {"lib", "keys"},
           "src": {"lib", "src"}}
SRC_MAY_USE = {"workers/route.h", "workers/worker.h", "keys/keyd.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
EXTERN = re.compile(r"^\s*extern\s+(?!char\s+\*\*environ\s*;)(.*)$", re.M)


def files(top):
    out = []
    for layer in LAYERS:
        d = os.path.join(top, layer)
        for name in sorted(os.listdir(d)):
            if name.endswith((".c", ".h")):
                out.append(layer + "/" + name)
    return out


def graph(top, problems):
    headers = {}
    for f in files(top):
        if f.endswith(".h"):
            headers.setdefault(os.path.basename(f), f)
    edges = {}
    for f in files(top):
        mod = f[:-2]
        layer = f.split("/")[0]
        with open(os.path.join(top, f), encoding="utf-8", errors="replace") as fp:
            text = fp.read()
        edges.setdefault(mod, set())
        for inc in INCLUDE.findall(text):
            target = headers.get(os.path.basename(inc))
            if target is None:
                continue  # a generated or system-like header (config.h from autoconf)
            tlayer = target.split("/")[0]
            if tlayer not in ALLOWED[layer] and not (layer == "src" and target in SRC_MAY_USE):
                problems.append("%s includes %s: %s/ may not use %s/" % (f, target, layer, tlayer))
            if target[:-2] != mod:
                edges[mod].add(target[:-2])
        if layer == "src" and f.endswith(".c"):
            for decl in EXTERN.findall(text):
                problems.append("%s declares extern %s: include the module's header" %
                                (f, decl.strip()))
    return edges


def declared(text):
    """The functions a header declares (not struct members or macros)."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"^\s*#.*?(?<!\\)$", " ", text, flags=re.M | re.S)
    while True:
        t = re.sub(r"\{[^{}]*\}", " ", text)
        if t == text:
            break
        text = t
    names = []
    for stmt in text.split(";"):
        stmt = re.sub(r"__attribute__\s*\(\(.*\)\)", " ", stmt, flags=re.S)
        m = re.search(r"\b([A-Za-z_]\w*)\s*\(", stmt)
        if m and not re.search(r"\(\s*\*", stmt[:m.end() + 2]) and "typedef" not in stmt:
            names.append(m.group(1))
    return names


def defined(text):
    """The functions a .c file defines (the name starts its line)."""
    return set(re.findall(r"^([A-Za-z_]\w*)\(", text, flags=re.M))


def homes(top, problems):
    """Check 3b: each function of a src/ header is defined beside it."""
    defs = {}
    for f in files(top):
        if f.endswith(".c"):
            with open(os.path.join(top, f), encoding="utf-8", errors="replace") as fp:
                for name in defined(fp.read()):
                    defs.setdefault(name, f)
    for f in files(top):
        if not (f.startswith("src/") and f.endswith(".h")):
            continue
        with open(os.path.join(top, f), encoding="utf-8", errors="replace") as fp:
            for name in declared(fp.read()):
                home = defs.get(name)
                if home is not None and home[:-2] != f[:-2]:
                    problems.append("%s declares %s, defined in %s" % (f, name, home))


def cycles(edges):
    """Every cycle found by a depth-first walk, each as a list of modules."""
    found, state, stack = [], {}, []

    def walk(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(edges.get(m, ())):
            if state.get(n) == 1:
                found.append(stack[stack.index(n):] + [n])
            elif n not in state:
                walk(n)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            walk(m)
    return found


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    problems = []
    edges = graph(top, problems)
    homes(top, problems)
    for c in cycles(edges):
        problems.append("cycle: " + " -> ".join(c))
    for p in problems:
        print(p)
    print("%d modules, %d dependencies, %d problems" %
          (len(edges), sum(len(v) for v in edges.values()), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
