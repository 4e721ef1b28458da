#!/usr/bin/env python3
"""The main job on the simulated modem, in a private network namespace:

start the simulated EC25 (control port, wwan0, carrier network), run qcm connect, show the
configured interface, routes and DNS, ping the internet host through it, disconnect, and
remove everything again. Nothing outside the namespace is touched except the namespace's own
/etc/netns/NAME/resolv.conf, which ``ip netns exec`` shows as /etc/resolv.conf inside it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
NS = "qcm-demo-%d" % os.getpid()


def step(text: str) -> None:
    print("\n\033[1m== %s\033[0m" % text, flush=True)


def inside(args: List[str]) -> List[str]:
    return ["ip", "netns", "exec", NS, *args]


def show(args: List[str], env: Dict[str, str]) -> subprocess.CompletedProcess:
    """Run and show a command inside the namespace, with the simulator's environment (QCM_SYSFS...: without
    it qcm would look at the host's /sys and find no module)."""
    print("$ " + " ".join(args), flush=True)
    return subprocess.run(inside(args), timeout=60, check=False, env=env)


def main() -> int:
    if os.geteuid() != 0:
        print("the demo needs root (network namespaces and a TUN device)", file=sys.stderr)
        return 10
    work = Path(tempfile.mkdtemp(prefix="qcm-demo-"))
    etc = Path("/etc/netns") / NS
    env = dict(os.environ, QCM_SYSFS=str(work / "modem" / "sys"), QCM_DEV=str(work / "modem" / "dev"),
               QCM_RUN_DIR=str(work / "run"), QCM_STATE_DIR=str(work / "state"), PYTHONUNBUFFERED="1")
    processes: List[subprocess.Popen] = []
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        etc.mkdir(parents=True)
        (etc / "resolv.conf").write_text("# the demo namespace's resolv.conf (qcm adds its servers here)\n")
        subprocess.run(inside(["ip", "link", "set", "lo", "up"]), check=True)

        step("start the simulated modem (EC25, 30 ms per request, like the real one)")
        sim = subprocess.Popen(inside([PYTHON, "-m", "qcm", "sim", "--dir", str(work / "modem"),
                                       "--latency-ms", "30"]), env=env, stderr=subprocess.DEVNULL)
        processes.append(sim)
        deadline = time.monotonic() + 20
        while not (work / "modem" / "sim.json").exists():
            if sim.poll() is not None or time.monotonic() > deadline:
                print("the simulator did not start", file=sys.stderr)
                return 1
            time.sleep(0.05)
        info = json.loads((work / "modem" / "sim.json").read_text())
        print("%s %s, firmware %s, control port %s, network interface %s" % (
            info["manufacturer"], info["model"], info["revision"], info["control_link"], info["netdev"]))
        listed = show([PYTHON, "-m", "qcm", "list"], env).returncode == 0

        step("qcm connect -4 -6 -s internet")
        manager = subprocess.Popen(inside([PYTHON, "-m", "qcm", "connect", "-4", "-6", "-s", "internet"]), env=env)
        processes.append(manager)
        deadline = time.monotonic() + 60
        while subprocess.run(inside([PYTHON, "-m", "qcm", "status", "--json"]), env=env, capture_output=True,
                             text=True).stdout.find('"connected"') < 0:
            if manager.poll() is not None or time.monotonic() > deadline:
                print("qcm connect did not connect", file=sys.stderr)
                return 1
            time.sleep(0.1)

        step("what it configured")
        show(["ip", "address", "show", "dev", "wwan0"], env)
        show(["ip", "-4", "route"], env)
        show(["ip", "-6", "route", "show", "default"], env)
        show(["cat", "/etc/resolv.conf"], env)
        subprocess.run(inside([PYTHON, "-m", "qcm", "status"]), env=env, check=False)

        step("through it to the internet host")
        ok = show(["ping", "-c", "3", "-i", "0.2", info["internet"][0]], env).returncode == 0 and listed
        ok = show(["ping", "-c", "3", "-i", "0.2", info["internet"][1]], env).returncode == 0 and ok
        ok = show(["getent", "ahosts", info["dns_name"]], env).returncode == 0 and ok

        step("qcm disconnect")
        subprocess.run(inside([PYTHON, "-m", "qcm", "disconnect"]), env=env, check=False)
        manager.wait(30)
        show(["ip", "address", "show", "dev", "wwan0"], env)
        show(["cat", "/etc/resolv.conf"], env)
        print("\n%s" % ("demo finished: connected, pinged, disconnected" if ok and manager.returncode == 0
                        else "demo FAILED"))
        return 0 if ok and manager.returncode == 0 else 1
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        subprocess.run(["ip", "netns", "delete", NS], check=False)
        shutil.rmtree(etc, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
