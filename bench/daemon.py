#!/usr/bin/env python3
"""One ``qcm daemon`` for many modules: time to connect them all, and its memory, against one module.

For 1 and for N (16) simulated modules in one simulator process (``qcm sim --modules N``, 30 ms per
request as a real EC25 answers), several runs of: start ``qcm connect --all -4 -s internet`` (the
daemon, with every module found) in a fresh network namespace; measure the time from process start
until every module is connected (its metrics file says so: no status request disturbs the run), check
that a ping passes through every interface, and read the daemon's peak resident memory (VmHWM) once
connected. Medians are reported, with the goals: N modules in at most 1.5 times one module's time, and
at most one module's memory plus 1 MB for each further module.

Run as root: .venv/bin/python bench/daemon.py [--runs 5] [--modules 16] [--latency-ms 30]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Dict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _lab import PYTHON, BenchLab, proc_status_kb  # noqa: E402


def one_run(modules: int, latency_ms: float, single: bool = False) -> Dict[str, float]:
    """``single``: one plain ``qcm connect`` (no daemon) instead, for comparison."""
    with BenchLab("--modules", str(modules), "--latency-ms", str(latency_ms)) as lab:
        metrics = lab.work / "metrics.prom"
        start = time.perf_counter()
        daemon = lab.start([PYTHON, "-m", "qcm", "connect", *([] if single else ["--all"]), "-4", "-s", "internet",
                            "--dns", "none", "--metrics-file", str(metrics)])
        while True:
            text = metrics.read_text() if metrics.exists() else ""
            if len(re.findall(r"^qcm_connected\{[^}]*\} 1$", text, re.M)) == modules:
                break
            if daemon.poll() is not None or time.perf_counter() - start > 120:
                raise RuntimeError("not every module connected: %s" % text)
            time.sleep(0.005)
        seconds = time.perf_counter() - start
        for index in range(modules):  # each interface carries traffic (not timed: pings are sequential)
            if not any(lab.run(["ping", "-c", "1", "-W", "2", "-I", "wwan%d" % index, "198.51.100.1"]).returncode == 0
                       for _ in range(3)):  # a ping lost on a busy machine is tried again
                status = lab.sim_ctl("status", module=index)["status"]
                raw_ip = lab.work / "m" / "sys" / "class" / "net" / ("wwan%d" % index) / "qmi" / "raw_ip"
                raise RuntimeError("no traffic through wwan%d: %s%s; raw_ip file %r; the module: %s" % (
                    index, lab.run(["ip", "address", "show", "wwan%d" % index]).stdout,
                    lab.run(["ip", "route", "show", "dev", "wwan%d" % index]).stdout, raw_ip.read_text(),
                    {k: status.get(k) for k in ("calls", "host_raw_ip", "link_layer", "data_path")}))
        time.sleep(0.3)  # connected and idle
        return {"seconds": seconds, "peak_kb": proc_status_kb(daemon.pid, "VmHWM"),
                "rss_kb": proc_status_kb(daemon.pid, "VmRSS")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--modules", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces, TUN)")
    runs = [one_run(1, args.latency_ms, single=True) for _ in range(args.runs)]
    print("qcm connect (no daemon), 1 module  at %g ms per request: connected in %.3f s (median of %d); peak RSS "
          "%.1f MB" % (args.latency_ms, statistics.median(r["seconds"] for r in runs), len(runs),
                       statistics.median(r["peak_kb"] for r in runs) / 1024), flush=True)
    results = {}
    for modules in (1, args.modules):
        runs = [one_run(modules, args.latency_ms) for _ in range(args.runs)]
        results[modules] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print("qcm connect --all, %2d module%s at %g ms per request: all connected in %.3f s (median of %d; min "
              "%.3f, max %.3f); peak RSS %.1f MB, RSS %.1f MB" % (
                  modules, "s" if modules > 1 else " ", args.latency_ms, results[modules]["seconds"], len(runs),
                  min(r["seconds"] for r in runs), max(r["seconds"] for r in runs),
                  results[modules]["peak_kb"] / 1024, results[modules]["rss_kb"] / 1024), flush=True)
    one, many = results[1], results[args.modules]
    ratio = many["seconds"] / one["seconds"]
    extra = (many["peak_kb"] - one["peak_kb"]) / 1024 / max(1, args.modules - 1)
    print("=> %d modules take %.2f times one module's time (goal: at most 1.5): %s" % (
        args.modules, ratio, "met" if ratio <= 1.5 else "NOT met"))
    print("=> each further module adds %.2f MB of peak memory (goal: at most 1 MB): %s; %d separate qcm connect "
          "processes would hold about %.0f MB" % (extra, "met" if extra <= 1.0 else "NOT met", args.modules,
                                                  args.modules * one["peak_kb"] / 1024))


if __name__ == "__main__":
    main()
