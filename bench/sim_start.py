#!/usr/bin/env python3
"""How long the simulated module takes to start and stop, and a DHCP exchange with Debian's udhcpc.

Start: from launching ``qcm sim`` to its sim.json (ready); stop: from SIGTERM to the process gone
with everything removed; with the data path (root: wwan0, the carrier namespace) and without.
DHCP: ``udhcpc -q`` on wwan0 from start to lease (discover, offer, request, ack), after a call
is up, at 0 ms and at --latency-ms per QMI request (the data path itself has no latency).
Medians of --runs. Run: sudo .venv/bin/python bench/sim_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import List

from _lab import ENV, PYTHON, BenchLab


def start_stop(data_path: bool) -> "tuple[float, float]":
    work = Path(tempfile.mkdtemp(prefix="qcm-bench-"))
    ns = None
    argv = [PYTHON, "-m", "qcm", "sim", "--dir", str(work / "m")] + ([] if data_path else ["--no-data-path"])
    if data_path:
        ns = "qcmb-start-%d" % os.getpid()
        subprocess.run(["ip", "netns", "add", ns], check=True)
        argv = ["ip", "netns", "exec", ns] + argv
    try:
        began = time.perf_counter()
        sim = subprocess.Popen(argv, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not (work / "m" / "sim.json").exists():
            if sim.poll() is not None or time.perf_counter() - began > 30:
                raise RuntimeError("simulator did not start")
            time.sleep(0.002)
        started = time.perf_counter() - began
        began = time.perf_counter()
        sim.send_signal(signal.SIGTERM)
        sim.wait(30)
        return started, time.perf_counter() - began
    finally:
        if ns is not None:
            subprocess.run(["ip", "netns", "delete", ns], check=False)
        shutil.rmtree(work, ignore_errors=True)


def dhcp_exchange(latency_ms: float) -> float:
    lab = BenchLab("--latency-ms", str(latency_ms))
    try:
        (lab.work / "m" / "sys" / "class" / "net" / "wwan0" / "qmi" / "raw_ip").write_text("Y\n")
        control = str(lab.work / "m" / "dev" / "cdc-wdm0")
        out = lab.run(["qmicli", "--device-open-qmi", "-d", control, "--wds-start-network=apn=internet,ip-type=4",
                       "--client-no-release-cid"])
        if out.returncode != 0:
            raise RuntimeError(out.stdout + out.stderr)
        lab.run(["ip", "link", "set", "wwan0", "up"])
        began = time.perf_counter()
        result = lab.run(["udhcpc", "-f", "-q", "-n", "-t", "3", "-T", "1", "-i", "wwan0", "-s", "/bin/true"])
        elapsed = time.perf_counter() - began
        if "obtained" not in result.stdout + result.stderr:
            raise RuntimeError("no lease: " + result.stdout + result.stderr)
        return elapsed
    finally:
        lab.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    for data_path in (False, True):
        if data_path and os.geteuid() != 0:
            print("with data path: needs root, skipped")
            continue
        runs = [start_stop(data_path) for _ in range(args.runs)]
        print("qcm sim %-18s start %.3f s  stop %.3f s  (median of %d)" % (
            "with data path" if data_path else "without data path", statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs), args.runs))
    if os.geteuid() == 0:
        for latency in (0.0, args.latency_ms):
            times: List[float] = [dhcp_exchange(latency) for _ in range(args.runs)]
            print("udhcpc lease on wwan0 (QMI latency %2.0f ms)  %.3f s  (median of %d)" % (
                latency, statistics.median(times), args.runs))


if __name__ == "__main__":
    main()
