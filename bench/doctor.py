#!/usr/bin/env python3
"""How long ``qcm doctor`` takes against the simulated modem at 30 ms per request (QMI and AT).

Whole command, from process start to report, for a healthy module, each seed thread and a
port held by ModemManager; median of several runs. The goal is under 5 s. Run: .venv/bin/python bench/doctor.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    for scenario in ("healthy-ec25a", "seed-001-bg96-no-lease", "seed-002-bg95-qmi", "seed-003-ec25a-eu-firmware",
                     "port-busy"):
        work = Path(tempfile.mkdtemp(prefix="qcm-bench-"))
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), QCM_SYSFS=str(work / "m/sys"),
                   QCM_DEV=str(work / "m/dev"), QCM_RUN_DIR=str(work / "run"), QCM_STATE_DIR=str(work / "state"))
        sim = subprocess.Popen([PYTHON, "-m", "qcm", "sim", "--dir", str(work / "m"), "--no-data-path", "--scenario",
                                scenario, "--latency-ms", str(args.latency_ms)], env=env, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not (work / "m" / "sim.json").exists():
                if sim.poll() is not None or time.monotonic() > deadline:
                    sys.exit("the simulator did not start for %s" % scenario)
                time.sleep(0.01)
            times, found = [], []
            for _ in range(args.runs):
                start = time.perf_counter()
                out = subprocess.run([PYTHON, "-m", "qcm", "doctor", "--json"], env=env, capture_output=True,
                                     text=True, timeout=60)
                times.append(time.perf_counter() - start)
                found = [f["id"] for f in json.loads(out.stdout)["findings"]]
            print("qcm doctor, %-28s %.2f s median (min %.2f, max %.2f) over %d runs at %.0f ms/request: %s" % (
                scenario, statistics.median(times), min(times), max(times), len(times), args.latency_ms,
                ", ".join(found) or "nothing wrong"))
        finally:
            sim.send_signal(signal.SIGTERM)
            sim.wait(15)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
