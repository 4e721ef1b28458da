#!/usr/bin/env python3
"""Ethernet-style modules (ECM): time to connect over AT and DHCP, and DHCP renewals under traffic.

1. For each simulator latency (0 and 30 ms per AT command and per DHCP or router-solicitation
   answer, the EC25's figure), several runs of: start ``qcm connect -4 -s internet`` on a
   simulated EC25 in ECM mode (AT+QNETDEVCTL, NAT) in a fresh network namespace, and measure
   from process start to "usb0 configured and the first ping answered"; count the AT commands
   the module answered. Also dual stack (-4 -6, IPv6 from the router advertisement).
2. Renewals without loss: a lease of 10 s (T1 every 5 s) while a ping runs every 50 ms for
   12 s; the pings lost and the renewals seen.

Medians over the runs. Run as root: .venv/bin/python bench/ecm_connect.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _lab import PYTHON, BenchLab  # noqa: E402


def at_commands(trace: Path) -> int:
    return sum(1 for line in trace.read_text().splitlines() if "] AT " in line) if trace.exists() else 0


def start_run(latency_ms: float, families: List[str]) -> Dict[str, float]:
    scratch = Path(tempfile.mkdtemp(prefix="qcm-bench-trace-"))
    try:
        with BenchLab("--set", "usbnet=ecm", "--latency-ms", str(latency_ms), "--trace", str(scratch / "t")) as lab:
            start = time.perf_counter()
            manager = lab.connect(*families, "-s", "internet")
            elapsed = time.perf_counter() - start + lab.wait_traffic(manager)
            return {"seconds": elapsed, "at": at_commands(scratch / "t")}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def renewal_run(latency_ms: float) -> Dict[str, float]:
    with BenchLab("--set", "usbnet=ecm", "--set", "dhcp_lease_s=10", "--latency-ms", str(latency_ms)) as lab:
        log = (lab.work / "connect.log").open("w")
        manager = subprocess.Popen(lab.inside([PYTHON, "-m", "qcm", "connect", "-s", "internet", "--dns", "file",
                                               "--resolv-conf", str(lab.work / "resolv.conf")]),
                                   env=lab.env, stdout=log, stderr=subprocess.STDOUT)
        lab.processes.append(manager)
        lab.wait_traffic(manager)
        pinged = lab.run(["ping", "-c", "240", "-i", "0.05", "-W", "1", "198.51.100.1"])
        match = re.search(r"(\d+) packets transmitted, (\d+) received", pinged.stdout)
        sent, received = (int(match.group(1)), int(match.group(2))) if match else (240, 0)
        log.close()
        renewals = (lab.work / "connect.log").read_text().count("renewed")
        return {"lost": sent - received, "sent": sent, "renewals": renewals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces, TUN)")
    for families in (["-4"], ["-4", "-6"]):
        for latency in (0, 30):
            runs = [start_run(latency, families) for _ in range(args.runs)]
            seconds = [r["seconds"] for r in runs]
            print("ECM connect %-5s latency %2d ms: start -> usb0 configured + first ping %.3f s (median of %d; "
                  "min %.3f, max %.3f); %d AT commands" % (
                      " ".join(families), latency, statistics.median(seconds), len(runs), min(seconds),
                      max(seconds), statistics.median(r["at"] for r in runs)))
    runs = [renewal_run(30) for _ in range(args.runs)]
    print("DHCP renewals under a 20/s ping for 12 s (lease 10 s, latency 30 ms): %d pings lost of %d (median; "
          "max %d), %d renewals (median)" % (
              statistics.median(r["lost"] for r in runs), runs[0]["sent"], max(r["lost"] for r in runs),
              statistics.median(r["renewals"] for r in runs)))


if __name__ == "__main__":
    main()
