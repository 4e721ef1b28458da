#!/usr/bin/env python3
"""qcm on a module in MBIM mode, against the simulated modem (30 ms per message, like an EC25).

* start -> configured + first ping: ``qcm connect -4 -s internet`` from process start until a ping
  through wwan0 is answered; and the MBIM messages the modem served.
* open -> IP configuration: the interval seed 000's quectel-CM log shows on real hardware
  (``mbim_open_device()`` at 42:365 to the IP configuration at 42:904, about 0.52-0.54 s), read the
  same way from the drop-in's own log (``quectel-CM -s internet``): its first and last lines of it.
* drop -> traffic: the network ends the session; time until a ping is answered again.
* reset -> traffic: the module vanishes and re-enumerates; time from its return to traffic.

Medians over several runs. Run as root: .venv/bin/python bench/mbim_connect.py [--runs 5]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _lab import PYTHON, BenchLab  # noqa: E402

MBIM = ("--set", "usbnet=mbim")
STAMP = re.compile(r"^\[\d\d-\d\d_(\d\d):(\d\d):(\d\d):(\d\d\d)\] (.*)$")


def one_connect(latency_ms: float, families: List[str]) -> Dict[str, float]:
    with BenchLab(*MBIM, "--latency-ms", str(latency_ms)) as lab:
        start = time.perf_counter()
        manager = lab.connect(*families, "-s", "internet")
        elapsed = time.perf_counter() - start + lab.wait_traffic(manager)
        return {"seconds": elapsed, "requests": lab.sim_ctl("status")["status"]["requests"]}


def seconds_of(line: str) -> float:
    match = STAMP.match(line)
    assert match is not None
    hours, minutes, seconds, millis = (int(g) for g in match.groups()[:4])
    return hours * 3600 + minutes * 60 + seconds + millis / 1000.0


def one_drop_in(latency_ms: float) -> float:
    """mbim_open_device() -> the last line of the IP configuration, from quectel-CM's own log."""
    with BenchLab(*MBIM, "--latency-ms", str(latency_ms)) as lab:
        log = lab.work / "quectel-cm.log"
        with log.open("w") as out:
            process = subprocess.Popen(lab.inside([PYTHON, "-c", "import sys; from qcm.cli.quectel_cm import main; "
                                                   "sys.exit(main())", "-s", "internet"]),
                                       env=lab.env, stdout=out, stderr=subprocess.STDOUT)
        lab.processes.append(process)
        lab.wait_traffic(process)
        lines = [line for line in log.read_text().splitlines() if STAMP.match(line)]
        opened = next(seconds_of(line) for line in lines if line.endswith("] mbim_open_device()"))
        configured = [seconds_of(line) for line in lines if "] < ipv4 mtu = " in line][0]
        return configured - opened


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    for families in (["-4"], ["-4", "-6"]):
        for latency in (0.0, args.latency_ms):
            runs = [one_connect(latency, families) for _ in range(args.runs)]
            seconds = [r["seconds"] for r in runs]
            print("MBIM connect %-5s latency %2.0f ms: start -> configured + first ping %.3f s (median of %d; "
                  "min %.3f, max %.3f); %d MBIM requests" % (
                      " ".join(families), latency, statistics.median(seconds), len(runs), min(seconds), max(seconds),
                      statistics.median(r["requests"] for r in runs)))
    spans = [one_drop_in(args.latency_ms) for _ in range(args.runs)]
    print("quectel-CM drop-in, latency %.0f ms: mbim_open_device() -> IP configuration %.3f s (median of %d; "
          "min %.3f, max %.3f); quectel-CM on real hardware (seed 000): 0.539 s" % (
              args.latency_ms, statistics.median(spans), len(spans), min(spans), max(spans)))
    with BenchLab(*MBIM, "--latency-ms", str(args.latency_ms)) as lab:
        manager = lab.connect("-4", "-s", "internet")
        lab.wait_traffic(manager)
        drops = []
        for _ in range(args.runs):
            lab.sim_ctl("drop")
            drops.append(lab.wait_traffic(manager))
            time.sleep(0.2)
        print("MBIM drop  -> traffic again: median %.3f s (min %.3f, max %.3f) over %d drops" % (
            statistics.median(drops), min(drops), max(drops), len(drops)))
        resets = []
        for _ in range(args.runs):
            lab.sim_ctl("reset", seconds=1.0)
            while lab.sim_ctl("status")["status"]["present"]:
                time.sleep(0.005)
            while not lab.sim_ctl("status")["status"]["present"]:
                time.sleep(0.005)
            resets.append(lab.wait_traffic(manager))
            time.sleep(0.2)
        print("MBIM reset -> module back -> traffic again: median %.3f s after the module returned "
              "(min %.3f, max %.3f) over %d resets" % (statistics.median(resets), min(resets), max(resets),
                                                       len(resets)))


if __name__ == "__main__":
    main()
