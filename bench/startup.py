#!/usr/bin/env python3
"""Where ``qcm connect`` spends its start-up: milestones from process start, and what the interpreter does.

At 30 ms per request (``qcm sim --latency-ms 30``, a fresh simulator per run), for IPv4 and for dual
stack, several runs of ``qcm connect --once ... -s internet``, alternating three kinds:

* plain runs: process start -> every call up, interface configured (qcm's own stamped lines), and the
  first ping answered (sent as soon as the "configured" line is out);
* ``--debug`` runs: process start -> first request sent, and the requests sent before the first
  Start Network (what the call waits for);
* ``-X importtime`` runs: import time by qcm module and by standard-library package (self times, so
  they add up), and in total for qcm, the standard library and third-party modules.

Then, each in a fresh interpreter: the interpreter alone, argparse (the connect command's parser, and
the whole command line that every command built before), the QMI catalogue, and the Python memory each
module of the connect path keeps after its import (tracemalloc, self), with the peak RSS of those imports.
Medians over the runs. A regression shows as a milestone that moves, or a module that appears. The
source tree is byte-compiled first, as an installed qcm is (pip and the .deb compile it): an interpreter
that compiles every module on each start (PYTHONDONTWRITEBYTECODE=1 and no __pycache__) spends about
0.13 s more before its first request.

Run as root: .venv/bin/python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _lab import ENV, PYTHON, ROOT, BenchLab  # noqa: E402

STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) (.*)$")
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)$")
FAMILIES = {"IPv4": ["-4"], "IPv4 + IPv6": ["-4", "-6"]}


def _seconds_of_day(wall: float) -> float:
    local = time.localtime(wall)
    return local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec + wall % 1


def _since(start: float, line: str) -> Optional[Tuple[float, str]]:
    """(seconds since ``start``, text) of a stamped line of qcm's output."""
    match = STAMP.match(line)
    if not match:
        return None
    h, m, s, ms, text = match.groups()
    at = int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000.0
    return (at - _seconds_of_day(start)) % 86400, text


def _connect(lab: BenchLab, families: List[str], *python_flags: str, debug: bool = False) -> subprocess.Popen:
    argv = [PYTHON, *python_flags, "-m", "qcm", "connect", "--once", *families, "-s", "internet",
            "--resolv-conf", str(lab.work / "resolv.conf"), "--dns", "file"] + (["--debug"] if debug else [])
    return subprocess.Popen(lab.inside(argv), env=lab.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def plain_run(families: List[str]) -> Dict[str, float]:
    """Process start -> calls up, configured, first ping."""
    calls = len(families)
    with BenchLab("--latency-ms", "30") as lab:
        start = time.time()
        process = _connect(lab, families)
        found: Dict[str, float] = {}
        ups: List[float] = []
        assert process.stdout is not None
        for line in process.stdout:
            stamped = _since(start, line.rstrip("\n"))
            if stamped is None:
                continue
            at, text = stamped
            if " call up (handle " in text:
                ups.append(at)
                if len(ups) == calls:
                    found["call up"] = at
            elif " configured: " in text:
                found["configured"] = at
                while not lab.ping(wait="0.2"):
                    if time.time() - start > 30:
                        raise RuntimeError("no traffic")
                found["first ping"] = time.time() - start
            elif text.startswith("connected in "):
                break
        process.communicate(timeout=30)
        if process.returncode != 0 or len(found) != 3:
            raise RuntimeError("qcm connect failed (%s): %s" % (process.returncode, found))
        return found


def debug_run(families: List[str]) -> Tuple[float, List[str]]:
    """Process start -> first request sent; the requests sent before the first Start Network."""
    with BenchLab("--latency-ms", "30") as lab:
        start = time.time()
        process = _connect(lab, families, debug=True)
        out, _ = process.communicate(timeout=30)
        first: Optional[float] = None
        before: List[str] = []
        for line in out.splitlines():
            stamped = _since(start, line)
            if stamped is None or ">> -> " not in stamped[1]:
                continue
            request = re.sub(r" \(0x[0-9a-f]+\).*", "", stamped[1].split(">> -> ", 1)[1]).replace(" request", "")
            first = stamped[0] if first is None else first
            if request.startswith("WDS Start Network"):
                break
            before.append(request)
        if process.returncode != 0 or first is None:
            raise RuntimeError("qcm connect --debug failed (%s)" % process.returncode)
        return first, before


def importtime_run(families: List[str]) -> Tuple[Dict[str, int], List[str]]:
    """Self import time (µs) of every module a real connect imports, and the modules in import order."""
    with BenchLab("--latency-ms", "30") as lab:
        _, err = _connect(lab, families, "-X", "importtime").communicate(timeout=30)
    selfs: Dict[str, int] = {}
    order: List[str] = []
    for line in err.splitlines():
        match = IMPORT_LINE.match(line)
        if match:
            selfs[match.group(4)] = int(match.group(1))
            order.append(match.group(4))
    return selfs, order


def kind_of(module: str) -> str:
    top = module.split(".")[0]
    if top == "qcm":
        return "qcm"
    return "stdlib" if top in getattr(sys, "stdlib_module_names", ()) or top.startswith("_") and \
        top.lstrip("_") in getattr(sys, "stdlib_module_names", ()) else "third party"


def group_of(module: str) -> str:
    """qcm modules by name; the standard library and others by top-level package."""
    return module if module.startswith("qcm") else module.split(".")[0]


def in_fresh_python(code: str, runs: int) -> float:
    values = []
    for _ in range(runs):
        result = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed")
        values.append(float(result.stdout.split()[-1]))
    return statistics.median(values)


# build_parser('connect'): the parser qcm connect builds; build_parser(): every command's, as each command built
# before (and a tree from before build_parser took a command, when this compares one).
ARGPARSE = ("import time, qcm.cli.main as m\nt = time.perf_counter()\ntry:\n    p = m.build_parser(%s)\n"
            "except TypeError:\n    p = m.build_parser()\np.parse_args(['connect', '--once', '-4', '-s', 'internet'])\n"
            "print(time.perf_counter() - t)")
CATALOGUE = ("import time; from qcm.qmi.catalogue import catalogue; t = time.perf_counter(); c = catalogue(); "
             "c.method('WDS', 'Start Network'); print(time.perf_counter() - t)")
INTERPRETER = "import subprocess, sys, time; t = time.perf_counter(); subprocess.run([sys.executable, '-c', 'pass']); " \
              "print(time.perf_counter() - t)"

# Imports the given modules in order, recording the Python memory each keeps (tracemalloc, self: its own
# allocations without those of the modules it imports); prints JSON {module: bytes, "_peak_kb": VmHWM}.
MEMORY = r'''
import json, sys, tracemalloc, importlib
tracemalloc.start()
kept, stack = {}, []
real = importlib._bootstrap._load_unlocked
def load(spec):
    before = tracemalloc.get_traced_memory()[0]
    stack.append(0)
    try:
        return real(spec)
    finally:
        children = stack.pop()
        total = tracemalloc.get_traced_memory()[0] - before
        kept[spec.name] = kept.get(spec.name, 0) + total - children
        if stack:
            stack[-1] += total
importlib._bootstrap._load_unlocked = load
import qcm.cli
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except Exception:
        pass
tracemalloc.stop()
kept["_peak_kb"] = int([l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0])
print(json.dumps(kept))
'''


def memory_by_module(order: List[str]) -> Dict[str, int]:
    wanted = [m for m in order if not m.startswith(("encodings", "_frozen", "site", "runpy", "__main__"))]
    result = subprocess.run([PYTHON, "-c", MEMORY, json.dumps(wanted)], capture_output=True, text=True, env=ENV,
                            timeout=120)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip()[-500:])
    data: Dict[str, int] = json.loads(result.stdout)
    return data


def compile_tree() -> None:
    """Byte-code for every qcm module, as an installation has; without it each start compiles them all."""
    subprocess.run([PYTHON, "-c", "import compileall, sys; compileall.compile_dir(sys.argv[1], quiet=1)",
                    str(ROOT / "src")], check=True, env=ENV, timeout=300)


def _table(title: str, values: Dict[str, float], unit: str, scale: float, top: int) -> None:
    print(title)
    for name, value in sorted(values.items(), key=lambda kv: -kv[1])[:top]:
        print("  %-40s %7.1f %s" % (name, value * scale, unit))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces, TUN)")
    compile_tree()
    order: List[str] = []
    for label, families in FAMILIES.items():
        plain: List[Dict[str, float]] = []
        firsts: List[float] = []
        requests: List[str] = []
        imports: Dict[str, List[int]] = defaultdict(list)
        for _ in range(args.runs):  # alternating, so that the machine's load falls on every kind alike
            plain.append(plain_run(families))
            first, requests = debug_run(families)
            firsts.append(first)
            selfs, order = importtime_run(families)
            for module, micros in selfs.items():
                imports[module].append(micros)
        print("qcm connect --once %s -s internet, 30 ms per request, medians of %d:" % (" ".join(families), args.runs))
        print("  process start -> first request sent  %.3f s  (with --debug)" % statistics.median(firsts))
        for milestone in ("call up", "configured", "first ping"):
            values = [r[milestone] for r in plain]
            print("  process start -> %-19s %.3f s  (min %.3f, max %.3f)" % (
                milestone, statistics.median(values), min(values), max(values)))
        print("  %d requests before the first Start Network: %s" % (len(requests), ", ".join(requests)))
        medians = {m: statistics.median(v + [0] * (args.runs - len(v))) for m, v in imports.items()}
        by_kind: Dict[str, float] = defaultdict(float)
        by_group: Dict[str, float] = defaultdict(float)
        for module, micros in medians.items():
            by_kind[kind_of(module)] += micros
            by_group[group_of(module)] += micros
        print("  imports (-X importtime, self times): %s; %d modules" % (
            ", ".join("%s %.1f ms" % (k, v / 1000) for k, v in sorted(by_kind.items())), len(medians)))
        _table("  slowest qcm modules:", {g: v for g, v in by_group.items() if g.startswith("qcm")}, "ms", 1e-3, 12)
        _table("  slowest other packages:", {g: v for g, v in by_group.items() if not g.startswith("qcm")},
               "ms", 1e-3, 12)
    runs = max(3, args.runs)
    print("in a fresh interpreter, medians of %d:" % runs)
    print("  interpreter start and exit (python -c pass) %.3f s" % in_fresh_python(INTERPRETER, runs))
    print("  argparse, the connect command's parser      %.4f s" % in_fresh_python(ARGPARSE % "'connect'", runs))
    print("  argparse, every command's parser            %.4f s" % in_fresh_python(ARGPARSE % "", runs))
    try:
        print("  QMI catalogue, loaded and looked up         %.4f s" % in_fresh_python(CATALOGUE, runs))
    except RuntimeError as exc:
        print("  QMI catalogue: %s" % exc)
    kept = memory_by_module(order)
    peak = kept.pop("_peak_kb")
    total = sum(kept.values())
    own = sum(v for m, v in kept.items() if m.startswith("qcm"))
    print("memory the connect path's imports keep (tracemalloc, self): %.0f KiB in %d modules (qcm %.0f KiB, "
          "the rest %.0f KiB); peak RSS of those imports, traced, %.1f MB" % (
              total / 1024, len(kept), own / 1024, (total - own) / 1024, peak / 1024))
    groups: Dict[str, float] = defaultdict(float)
    for module, size in kept.items():
        groups[group_of(module)] += size
    _table("  most memory, qcm modules:", {g: v for g, v in groups.items() if g.startswith("qcm")}, "KiB",
           1 / 1024, 12)
    _table("  most memory, other packages:", {g: v for g, v in groups.items() if not g.startswith("qcm")}, "KiB",
           1 / 1024, 12)


if __name__ == "__main__":
    main()
