#!/usr/bin/env python3
"""Time to connect, round trips and memory of ``qcm connect`` against the simulated modem.

For each simulator latency (0 and 30 ms per request, the EC25's figure), several runs of:
start ``qcm connect -4 -s internet`` in a fresh network namespace and measure the time from
process start to "interface configured and first ping answered"; count the requests the modem
served; read the manager's peak resident memory while connected (VmHWM). Also the cost of
importing pyroute2, and the memory of the quick commands. Medians are reported. The source tree is
byte-compiled first, as an installed qcm is (see bench/startup.py, which also breaks the start-up down).

Run as root: .venv/bin/python bench/connect.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _lab import ENV, PYTHON, BenchLab, proc_status_kb  # noqa: E402
from startup import compile_tree  # noqa: E402


def one_run(latency_ms: float, families: List[str]) -> Dict[str, float]:
    with BenchLab("--latency-ms", str(latency_ms)) as lab:
        start = time.perf_counter()
        manager = lab.connect(*families, "-s", "internet")
        elapsed = time.perf_counter() - start + lab.wait_traffic(manager)
        time.sleep(0.3)  # connected and idle
        return {"seconds": elapsed, "peak_kb": proc_status_kb(manager.pid, "VmHWM"),
                "requests": lab.sim_ctl("status")["status"]["requests"]}


def import_cost(statement: str) -> Dict[str, float]:
    code = ("import time; t = time.perf_counter(); %s; t = time.perf_counter() - t; "
            "rss = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
            "print(t, rss)" % statement)
    samples = [subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=ENV).stdout.split()
               for _ in range(5)]
    return {"seconds": statistics.median(float(s[0]) for s in samples),
            "peak_mb": statistics.median(int(s[1]) for s in samples) / 1024}


def command_cost(args: List[str]) -> Dict[str, float]:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        # VmHWM, not getrusage: ru_maxrss survives exec, so it would report the benchmark's own size.
        process = subprocess.Popen([PYTHON, "-c", "import runpy, sys; sys.argv = ['qcm'] + sys.argv[1:]; "
                                    "code = 0\ntry:\n    runpy.run_module('qcm', run_name='__main__')\n"
                                    "except SystemExit as e:\n    code = e.code\n"
                                    "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0],"
                                    " file=sys.stderr)",
                                    *args], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _, err = process.communicate(timeout=30)
        runs.append((time.perf_counter() - start, int(err.strip().splitlines()[-1])))
    return {"seconds": statistics.median(r[0] for r in runs), "peak_mb": statistics.median(r[1] for r in runs) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces, TUN)")
    compile_tree()
    for families in (["-4"], ["-4", "-6"]):
        base = 0.0
        for latency in (0, 30):
            runs = [one_run(latency, families) for _ in range(args.runs)]
            seconds = statistics.median(r["seconds"] for r in runs)
            requests = statistics.median(r["requests"] for r in runs)
            print("connect %-5s latency %2d ms: start -> configured + first ping %.3f s (median of %d; min %.3f, "
                  "max %.3f); %d requests; peak RSS while connected %.1f MB" % (
                      " ".join(families), latency, seconds, len(runs), min(r["seconds"] for r in runs),
                      max(r["seconds"] for r in runs), requests,
                      statistics.median(r["peak_kb"] for r in runs) / 1024))
            if latency == 0:
                base = seconds  # the same dial without waiting: what the 30 ms run adds is round trips
            else:
                print("   => %.1f sequential round trips of 30 ms on the critical path (%d requests in all); "
                      "a strictly sequential dial would wait %d x 30 ms = %.2f s"
                      % ((seconds - base) / 0.030, requests, requests, requests * 0.030))
    for label, statement in (("python alone", "pass"), ("import asyncio", "import asyncio"),
                             ("import qcm's connect path", "import qcm.cli, qcm.connect.manager, qcm.backends.qmi.backend"),
                             ("import pyroute2", "import pyroute2")):
        cost = import_cost(statement)
        print("%-28s %.3f s, peak RSS %.1f MB" % (label, cost["seconds"], cost["peak_mb"]))
    for command in (["list", "--sysfs", "/nonexistent"], ["decode", "01 0c 00 00 02 01 00 05 00 23 00 00 00"],
                    ["status", "--json", "--run-dir", "/nonexistent"]):
        cost = command_cost(command)
        print("qcm %-25s %.3f s, peak RSS %.1f MB" % (command[0], cost["seconds"], cost["peak_mb"]))


if __name__ == "__main__":
    main()
