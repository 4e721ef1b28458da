#!/usr/bin/env python3
"""Demo: start the simulated modem, let libqmi's qmicli talk to it, decode the exchange with qcm."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")


def step(text: str) -> None:
    print("\n\033[1m== %s\033[0m" % text, flush=True)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="qcm-demo-"))
    trace = work / "trace.hex"
    sim = subprocess.Popen([PYTHON, "-m", "qcm", "sim", "--dir", str(work / "modem"), "--trace", str(trace),
                            "--latency-ms", "30"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not (work / "modem" / "sim.json").exists():
            if sim.poll() is not None or time.monotonic() > deadline:
                print("the simulator did not start", file=sys.stderr)
                return 1
            time.sleep(0.05)
        info = json.loads((work / "modem" / "sim.json").read_text())
        step("simulated modem: %s %s, firmware %s, control port %s" % (
            info["manufacturer"], info["model"], info["revision"], info["control_link"]))
        for args in (["--dms-get-revision"], ["--uim-get-card-status"], ["--nas-get-serving-system"],
                     ["--wds-start-network=apn=internet,ip-type=4"]):
            step("qmicli " + " ".join(args))
            subprocess.run(["qmicli", "--device-open-qmi", "-d", info["control_link"], *args],
                           stderr=subprocess.DEVNULL, timeout=30, check=False)
        sim.send_signal(signal.SIGTERM)
        sim.wait(10)
        step("qcm decode of what qmicli and the simulator exchanged (first frames)")
        out = subprocess.run([PYTHON, "-m", "qcm", "decode", "-f", str(trace)], capture_output=True, text=True,
                             timeout=60)
        print("\n".join(out.stdout.splitlines()[:40]))
        print("... (%d lines; full trace in %s)" % (len(out.stdout.splitlines()), trace))
        return 0
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
