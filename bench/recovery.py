#!/usr/bin/env python3
"""Staying connected, measured against the simulated modem (30 ms per request, like an EC25).

* drop -> traffic: the network ends the call; time until a ping through wwan0 is answered again.
* reset -> traffic: the module vanishes and re-enumerates; time from its return to traffic, and
  (within it) from its return to qcm holding its control port again: how long qcm took to notice
  (device events: uevents and inotify; before them a 0.25 s sysfs poll).
* idle CPU: CPU time the manager uses while connected and idle.

Medians over several runs. Run as root: .venv/bin/python bench/recovery.py [--runs 5] [--idle 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _lab import BenchLab, cpu_seconds  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle to measure CPU over")
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    with BenchLab("--latency-ms", str(args.latency_ms)) as lab:
        manager = lab.connect("-4", "-s", "internet")
        lab.wait_traffic(manager)

        drops = []
        for _ in range(args.runs):
            lab.sim_ctl("drop")
            drops.append(lab.wait_traffic(manager))
            time.sleep(0.2)
        print("drop  -> traffic again: median %.3f s (min %.3f, max %.3f) over %d drops" % (
            statistics.median(drops), min(drops), max(drops), len(drops)))

        resets, noticed = [], []
        for _ in range(args.runs):
            lab.sim_ctl("reset", seconds=1.0)
            while lab.sim_ctl("status")["status"]["present"]:
                time.sleep(0.005)
            while not lab.sim_ctl("status")["status"]["present"]:
                time.sleep(0.005)
            back = time.perf_counter()
            # the simulator sees its control port opened within its own 5 ms check of the pty
            while not lab.sim_ctl("status")["status"]["client_connected"]:
                time.sleep(0.002)
            noticed.append(time.perf_counter() - back)
            lab.wait_traffic(manager)
            resets.append(time.perf_counter() - back)
            time.sleep(0.2)
        print("reset -> module back -> qcm on its control port: median %.3f s (min %.3f, max %.3f)" % (
            statistics.median(noticed), min(noticed), max(noticed)))
        print("reset -> module back -> traffic again: median %.3f s after the module returned "
              "(min %.3f, max %.3f) over %d resets" % (statistics.median(resets), min(resets), max(resets),
                                                       len(resets)))

        time.sleep(1.0)
        before = cpu_seconds(manager.pid)
        time.sleep(args.idle)
        used = cpu_seconds(manager.pid) - before
        print("idle: %.3f s of CPU over %.0f s connected and idle (%.3f %%)" % (used, args.idle,
                                                                             100 * used / args.idle))


if __name__ == "__main__":
    main()
