"""Programs that share one QMI port, run as the init of their own PID namespace
(``unshare -p -f --mount-proc python session.py PLAN_JSON`` inside the test's network namespace), so
that a qmi-proxy one of them starts (libqmi's, spawned by quectel-CM -m or qcm --proxy) ends with
this process, and the abstract socket stays in the test's network namespace.

The plan is a list of steps, each a list:

* ``["start", NAME, ARGV, ENV]``: a program in the background (its output kept), ENV added to ours;
* ``["connected", COUNT, TIMEOUT]``: until COUNT qcm control sockets (in $QCM_RUN_DIR) say connected;
* ``["run", NAME, ARGV]``: a program to the end (status and output kept);
* ``["status", NAME]``: every running manager's status (JSON), by socket name;
* ``["ping_from", NAME, PDN, FAMILY, TARGET]``: ping TARGET from the address of that bearer (found
  in the managers' status), so that the policy rule of its PDN routes it;
* ``["stop", NAME]``: SIGTERM, then its exit status.

Anything left running at the end is stopped. The report (JSON, last line) holds each step's result.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

RUN_DIR = Path(os.environ.get("QCM_RUN_DIR", "/run/qcm"))


def statuses() -> Dict[str, Any]:
    found = {}
    for sock in sorted(RUN_DIR.glob("*.sock")) if RUN_DIR.is_dir() else []:
        reply = subprocess.run([sys.executable, "-m", "qcm", "status", "--json", "-i", sock.stem],
                               capture_output=True, text=True, timeout=15)
        if reply.returncode == 0:
            found[sock.stem] = json.loads(reply.stdout)
    return found


def main(plan: List[List[Any]]) -> Dict[str, Any]:
    report: Dict[str, Any] = {}
    running: Dict[str, Any] = {}
    try:
        for step in plan:
            kind = step[0]
            if kind == "start":
                log = tempfile.TemporaryFile(mode="w+")
                env = dict(os.environ, **(step[3] if len(step) > 3 else {}))
                running[step[1]] = (subprocess.Popen(step[2], stdout=log, stderr=subprocess.STDOUT, env=env), log)
            elif kind == "connected":
                deadline = time.monotonic() + float(step[2])
                ok = False
                while time.monotonic() < deadline and not ok:
                    found = statuses()
                    ok = sum(1 for s in found.values() if s.get("state") == "connected") >= int(step[1])
                    if not ok:
                        if any(p.poll() is not None for p, _ in running.values()):
                            break
                        time.sleep(0.1)
                report.setdefault("connected", []).append(ok)
                if not ok:
                    break
            elif kind == "run":
                result = subprocess.run(step[2], capture_output=True, text=True, timeout=60)
                report[step[1]] = {"status": result.returncode, "output": result.stdout + result.stderr}
            elif kind == "status":
                report[step[1]] = statuses()
            elif kind == "ping_from":
                _, name, pdn, family, target = step
                sources = [b["address"].split("/")[0] for s in statuses().values() for b in s.get("bearers", [])
                           if b["pdn"] == pdn and b["family"] == family and b.get("address")]
                result = subprocess.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", "-I", sources[0] if sources else
                                         "lo", target], capture_output=True, text=True, timeout=30)
                report[name] = {"status": result.returncode, "output": result.stdout + result.stderr,
                                "source": sources[0] if sources else None}
            elif kind == "stop":
                report[step[1]] = stop(*running.pop(step[1]))
    finally:
        for name, (process, log) in running.items():
            report[name] = stop(process, log)
    return report


def stop(process: subprocess.Popen, log: Any) -> Dict[str, Any]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        status = process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        status = process.wait()
    log.seek(0)
    return {"status": status, "output": log.read()}


if __name__ == "__main__":
    if os.getpid() != 1:
        sys.exit("run me as a PID namespace's init (unshare -p -f --mount-proc)")
    sys.stdout.write(json.dumps(main(json.loads(sys.argv[1]))) + "\n")
