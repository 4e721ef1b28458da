#!/usr/bin/env python3
"""Time to bring up 1, 2 and 4 PDNs on one module, at 30 ms per request (a real EC25's figure).

For each count, several runs of: a fresh network namespace with the simulated module (each APN
its own network and test host), ``qcm connect -4 -s internet`` plus ``--pdn`` for the others
(corp.example dual stack, ims IPv6, iot IPv4), and the time from process start until every PDN is
configured and a first ping from each PDN's address to its own network's host is answered. One
PDN is the plain single-PDN dial (no QMAP); two and four go through QMAP mux links. The modem
requests served are counted too. Medians are reported, and the ratio of 4 PDNs to 1.

Run as root: .venv/bin/python bench/multipdn.py [--runs 5] [--latency-ms 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _lab import BenchLab, ask  # noqa: E402

SCENARIO = """
[[apn]]
name = "internet"
[[apn]]
name = "corp.example"
host4 = "203.0.113.1"
host6 = "2001:db8:200::1"
[[apn]]
name = "ims"
host6 = "2001:db8:300::1"
[[apn]]
name = "iot"
host4 = "192.0.2.77"
"""
MORE = [("2:corp.example,ip=ipv4v6", (2, 4, "203.0.113.1")), ("3:ims,ip=ipv6", (3, 6, "2001:db8:300::1")),
        ("4:iot,ip=ipv4", (4, 4, "192.0.2.77"))]
FIRST = (1, 4, "198.51.100.1")


def one_run(count: int, latency_ms: float, scenario: Path) -> Dict[str, float]:
    with BenchLab("--latency-ms", str(latency_ms), "--scenario", str(scenario)) as lab:
        extra = MORE[:count - 1]
        args = ["-4", "-s", "internet"] + [a for spec, _ in extra for a in ("--pdn", spec)]
        targets: List[Tuple[int, int, str]] = [FIRST] + [t for _, t in extra]
        start = time.perf_counter()
        manager = lab.connect(*args)
        sock = lab.work / "run" / "wwan0.sock"
        sources: Dict[Tuple[int, int], str] = {}
        while True:
            if manager.poll() is not None or time.perf_counter() - start > 60:
                raise RuntimeError("qcm did not connect")
            if sock.exists():
                try:
                    status = ask(sock, {"command": "status"}, timeout=5)["status"]
                except Exception:
                    status = {}
                if status.get("state") == "connected":
                    sources = {(b["pdn"], b["family"]): b["address"].split("/")[0] for b in status["bearers"]}
                    break
            time.sleep(0.005)
        waiting = list(targets)
        while waiting:  # a first ping through each PDN, from its own address; all at once, as a user's would be
            pings = [(t, subprocess.Popen(lab.inside(["ping", "-c", "1", "-W", "0.05", "-I", sources[t[:2]], t[2]]),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)) for t in waiting]
            waiting = [t for t, process in pings if process.wait() != 0]
            if time.perf_counter() - start > 60:
                raise RuntimeError("no traffic through PDN %s" % ", ".join(str(t[0]) for t in waiting))
        elapsed = time.perf_counter() - start
        return {"seconds": elapsed, "requests": lab.sim_ctl("status")["status"]["requests"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces, TUN)")
    with tempfile.TemporaryDirectory() as work:
        scenario = Path(work) / "apns.toml"
        scenario.write_text(SCENARIO)
        medians = {}
        for count in (1, 2, 4):
            runs = [one_run(count, args.latency_ms, scenario) for _ in range(args.runs)]
            seconds = [r["seconds"] for r in runs]
            medians[count] = statistics.median(seconds)
            print("%d PDN%s at %g ms per request: start -> every PDN configured and pinged %.3f s (median of %d; "
                  "min %.3f, max %.3f); %d requests" % (count, "s" if count > 1 else " ", args.latency_ms,
                                                        medians[count], len(runs), min(seconds), max(seconds),
                                                        statistics.median(r["requests"] for r in runs)))
        print("4 PDNs / 1 PDN: %.2f (goal: at most 1.3)" % (medians[4] / medians[1]))


if __name__ == "__main__":
    main()
