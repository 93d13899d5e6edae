#!/usr/bin/env python3
"""The house rules of docs/design.md, checked rather than only written.

libqcore is a stack of layers, one folder each under core/src/; a file may
use its own layer and the layers below it, never one above. This script reads
every #include of the tree and fails, naming the file and line, when

  - a core file (or a public header) includes a header of a higher layer;
  - a public header in core/include/qcore/ has no layer assigned below;
  - a source file sits directly in core/src/ instead of a layer folder;
  - anything in core/ but the spec layer includes jansson, anything but the
    ref layer includes MPFR/GMP, or anything in core/ includes
    libmicrohttpd, SQLite, libuv or libcurl;
  - outside core/, a program links what is not its own: only server/ (and
    its tests and benchmark) may include libmicrohttpd and SQLite, only
    worker/ libuv, only worker/ and cli/ (and tests, benchmarks) libcurl;
    hw/ (libqhw, the hardware cost driver) may use jansson and nettle's
    SHA-256 (its cache keys) and nothing else.

Given the compiled objects of a build (build/obj/<source path>.o), it also
reads their symbols (nm) and fails when two or more files of core/, server/
worker/ or hw/ call each other in a circle, or when a core object calls a
function defined in a higher layer (a declaration written by hand would slip
past the include check).

Usage: check_layers.py [--root DIR] [--obj-root build/obj] [OBJECT.o ...]
Exit 0 when every rule holds, 1 with one line per violation otherwise.
"""
import argparse
import os
import re
import subprocess
import sys

# Lowest first. A layer may include its own headers and those of any layer
# before it in this list.
LAYERS = ["base", "simd", "num", "ref", "backend", "nn", "data", "train", "spec"]

# The layer of each public header (core/include/qcore/). A new header must
# be added here: the check fails on one it does not know.
PUBLIC = {
    "error.h": "base",
    "round.h": "base",
    "cpu.h": "simd",
    "format.h": "num",
    "quantize.h": "num",
    "block.h": "num",
    "scale.h": "num",
    "mac.h": "num",
    "gemm.h": "num",
    "ref.h": "ref",
    "backend.h": "backend",
    "gemm_cpu.h": "backend",
    "conv.h": "backend",
    "board.h": "backend",
    "fpga.h": "backend",
    "nn.h": "nn",
    "model.h": "nn",
    "data.h": "data",
    "optim.h": "train",
    "checkpoint.h": "train",
    "train.h": "train",
    "spec.h": "spec",
    "sweep.h": "spec",
    "metric_line.h": "spec",
    "format_json.h": "spec",
}

# System headers and the only places allowed to include them. A prefix
# matches a path relative to the root.
LIBS = [
    ("jansson.h", "jansson", ["core/src/spec/", "core/include/qcore/spec.h",
                              "core/include/qcore/sweep.h",
                              "core/include/qcore/format_json.h",
                              "server/", "worker/", "cli/", "tests/", "bench/", "hw/"]),
    ("mpfr.h", "MPFR", ["core/src/ref/", "tests/"]),
    ("gmp.h", "GMP", ["core/src/ref/", "tests/"]),
    ("microhttpd.h", "libmicrohttpd", ["server/", "tests/server/", "tests/fuzz/", "bench/bench_server.c"]),
    ("sqlite3.h", "SQLite", ["server/", "tests/server/", "tests/fuzz/", "bench/bench_server.c"]),
    ("nettle/sha2.h", "nettle", ["server/", "tests/server/", "tests/fuzz/", "hw/cost/"]),
    ("gnutls/gnutls.h", "GnuTLS", ["server/", "tests/server/", "tests/fuzz/"]),
    ("uv.h", "libuv", ["worker/", "tests/worker/", "tests/worker_unit/"]),
    ("curl/curl.h", "libcurl", ["worker/", "cli/", "tests/", "bench/"]),
]

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SCANNED = ("core", "server", "worker", "cli", "tests", "bench", "hw")


def rank(layer):
    return LAYERS.index(layer)


def layer_of_path(rel):
    """The layer of a file under core/, or None outside core/."""
    parts = rel.split("/")
    if parts[:2] == ["core", "src"] and len(parts) >= 4:
        return parts[2] if parts[2] in LAYERS else "?"
    if parts[:3] == ["core", "include", "qcore"] and len(parts) == 4:
        return PUBLIC.get(parts[3], "?")
    return None


def sources(root):
    for top in SCANNED:
        base = os.path.join(root, top)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in ("node_modules", "corpus"))
            for name in sorted(filenames):
                if name.endswith((".c", ".h", ".cu", ".cuh")):
                    yield os.path.relpath(os.path.join(dirpath, name), root)


def check_includes(root):
    bad = []
    for rel in sources(root):
        layer = layer_of_path(rel)
        parts = rel.split("/")
        if parts[:2] == ["core", "src"] and len(parts) == 3:
            bad.append(f"{rel}: a file directly in core/src/; move it into a layer folder "
                       f"({', '.join(LAYERS)})")
        if layer == "?":
            if parts[:3] == ["core", "include", "qcore"]:
                bad.append(f"{rel}: public header without a layer; assign one in "
                           f"scripts/check_layers.py (PUBLIC)")
            else:
                bad.append(f"{rel}: core/src/{parts[2]}/ is no layer ({', '.join(LAYERS)})")
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                inc = m.group(2)
                where = f"{rel}:{lineno}"
                for header, lib, allowed in LIBS:
                    if inc == header and not any(rel.startswith(p) for p in allowed):
                        bad.append(f"{where}: includes <{inc}>: only "
                                   f"{', '.join(allowed)} may use {lib}")
                if layer is None:
                    continue
                target = None
                if inc.startswith("qcore/"):
                    target = PUBLIC.get(inc[len("qcore/"):])
                    if target is None:
                        bad.append(f"{where}: includes unknown public header {inc}")
                        continue
                elif m.group(1) == '"' and "/" in inc and inc.split("/")[0] in LAYERS:
                    target = inc.split("/")[0]
                elif m.group(1) == '"' and "/" in inc:
                    bad.append(f"{where}: includes \"{inc}\": name another layer's internal "
                               f"header by its folder (\"num/mac_impl.h\")")
                    continue
                if target and rank(target) > rank(layer):
                    bad.append(f"{where}: layer {layer} includes {inc} of layer {target}, "
                               f"which is above it ({' -> '.join(LAYERS)})")
    return bad


def nm_symbols(path):
    out = subprocess.run(["nm", "--defined-only", "-g", path], capture_output=True, text=True,
                         check=True).stdout
    defined = {ln.split()[-1] for ln in out.splitlines() if len(ln.split()) >= 3}
    out = subprocess.run(["nm", "-u", path], capture_output=True, text=True, check=True).stdout
    used = {ln.split()[-1] for ln in out.splitlines() if ln.split()}
    return defined, used


def source_of(o, objdirs, root):
    """The source path (relative to the root) an object was compiled from:
    <objdir>/<path>.o from <path>.c, or <path>.cu for the CUDA objects."""
    for objdir in objdirs:
        rel = os.path.relpath(o, objdir)
        if rel.startswith(".."):
            continue
        base = rel[:-2]
        if root and not os.path.exists(os.path.join(root, base + ".c")) and \
                os.path.exists(os.path.join(root, base + ".cu")):
            return base + ".cu"
        return base + ".c"
    return None


def check_objects(objdirs, objects, root=None):
    if isinstance(objdirs, str):
        objdirs = [objdirs]
    bad = []
    groups = {"core": [], "server": [], "worker": [], "hw": []}
    for o in objects:
        rel = source_of(o, objdirs, root)
        if rel is None:
            continue
        top = rel.split("/")[0]
        if top in groups and not os.path.basename(rel).startswith("kern_"):
            groups[top].append((o, rel))
    for group, objs in groups.items():
        if not objs:
            continue
        owner, uses = {}, {}
        for o, rel in objs:
            defined, used = nm_symbols(o)
            for s in defined:
                owner[s] = rel
            uses[rel] = used
        graph = {f: sorted({owner[s] for s in u if s in owner and owner[s] != f})
                 for f, u in uses.items()}
        for f, callees in graph.items():
            lf = layer_of_path(f)
            for c in callees:
                lc = layer_of_path(c)
                if lf and lc and lf != "?" and lc != "?" and rank(lc) > rank(lf):
                    bad.append(f"{f}: calls into {c}, layer {lc} above its own layer {lf}")
        for scc in strongly_connected(graph):
            if len(scc) > 1:
                bad.append(f"call circle between {', '.join(sorted(scc))}: move the shared "
                           f"part into a file both call")
    return bad


def strongly_connected(graph):
    """Tarjan's algorithm, iterative; yields each component as a list."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph.get(start, ())))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(graph.get(nxt, ()))))
                    advanced = True
                    break
                if nxt in on:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                out.append(comp)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."))
    ap.add_argument("--obj-root", action="append",
                    help="a folder objects are named under (default build/obj); repeat it for "
                         "objects built elsewhere (the CUDA objects)")
    ap.add_argument("objects", nargs="*", help="objects of a finished build: also check calls")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    bad = check_includes(root)
    if args.objects:
        bad += check_objects(args.obj_root or ["build/obj"], args.objects, root)
    for line in bad:
        print(f"check_layers: {line}", file=sys.stderr)
    if bad:
        print(f"check_layers: {len(bad)} violation(s)", file=sys.stderr)
        return 1
    print(f"check_layers: ok ({' -> '.join(LAYERS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
