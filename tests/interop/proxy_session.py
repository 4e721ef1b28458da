"""One qcm and its mbim-proxy neighbours in one PID namespace: run as the namespace's init by
``unshare -p -f --mount-proc python proxy_session.py PLAN_JSON``, so that libmbim's mbim-proxy
(which accepts clients of its own PID namespace or an outer one only, by their credentials) serves
both qcm and mbimcli, and everything started here ends with this process.

The plan: ``{"proxy": start mbim-proxy first, "qcm": [qcm connect arguments], "mbimcli": [[mbimcli
-p arguments], ...], "ping": address, "timeout": seconds}``. Steps: the proxy (if asked), qcm in
the background until ``qcm status`` says connected, each mbimcli -p command, a ping, SIGTERM to
qcm. The report (outputs, exit statuses) is printed as JSON on the last line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict

PROXY = "/usr/libexec/mbim-proxy"


def wait_for(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def connected() -> bool:
    reply = subprocess.run([sys.executable, "-m", "qcm", "status", "--json"], capture_output=True, text=True,
                           timeout=10)
    return reply.returncode == 0 and json.loads(reply.stdout).get("state") == "connected"


def main(plan: Dict[str, Any]) -> Dict[str, Any]:
    report: Dict[str, Any] = {"mbimcli": []}
    timeout = float(plan.get("timeout", 30))
    if plan.get("proxy"):
        subprocess.Popen([PROXY, "--no-exit"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        report["proxy_started"] = wait_for(lambda: "@mbim-proxy" in open("/proc/net/unix").read(), 10)
    log = tempfile.TemporaryFile(mode="w+")
    qcm = subprocess.Popen([sys.executable, "-m", "qcm", "connect", *plan["qcm"]], stdout=log, stderr=subprocess.STDOUT)
    report["connected"] = wait_for(lambda: qcm.poll() is None and connected(), timeout)
    if report["connected"]:
        for args in plan.get("mbimcli", []):
            result = subprocess.run(["mbimcli", "-p", *args], capture_output=True, text=True, timeout=30)
            report["mbimcli"].append({"args": args, "status": result.returncode, "output": result.stdout + result.stderr})
        if plan.get("ping"):
            ping = subprocess.run(["ping", "-c", "1", "-W", "2", plan["ping"]], capture_output=True, timeout=10)
            report["ping"] = ping.returncode == 0
        report["still_connected"] = connected()
    if qcm.poll() is None:
        qcm.send_signal(signal.SIGTERM)
    try:
        report["qcm_status"] = qcm.wait(20)
    except subprocess.TimeoutExpired:
        qcm.kill()
        report["qcm_status"] = qcm.wait()
    log.seek(0)
    report["qcm_output"] = log.read()
    return report


if __name__ == "__main__":
    if os.getpid() != 1:
        sys.exit("run me as a PID namespace's init (unshare -p -f --mount-proc)")
    result = main(json.loads(sys.argv[1]))
    sys.stdout.write(json.dumps(result) + "\n")
