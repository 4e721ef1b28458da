"""The hardware-free lab: a network namespace holding the simulated modem (with its TUN wwan0
and carrier network) and the qcm under test, torn down with everything in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from netns import SRC, Namespace, stop_process


class Lab:
    def __init__(self, ns: Namespace, tmp: Path) -> None:
        self.ns = ns
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.modem_dir = tmp / "modem"
        self.run_dir = tmp / "run"
        self.resolv = tmp / "resolv.conf"
        self.resolv.write_text("nameserver 192.0.2.53\n")
        self.sim: Optional[subprocess.Popen] = None
        self.sim_log = tmp / "sim.log"
        self.info: Dict[str, Any] = {}
        self.processes: List[subprocess.Popen] = []

    @property
    def env(self) -> Dict[str, str]:
        return dict(os.environ, PYTHONPATH=str(SRC), QCM_SYSFS=str(self.modem_dir / "sys"),
                    QCM_DEV=str(self.modem_dir / "dev"), QCM_RUN_DIR=str(self.run_dir), QCM_STATE_DIR=str(self.tmp / "state"),
                    PATH=str(Path(sys.executable).parent) + ":" + os.environ.get("PATH", "/usr/bin:/bin"))

    def start_sim(self, *args: str) -> Dict[str, Any]:
        log = self.sim_log.open("w")
        self.sim = subprocess.Popen(self.ns.argv([sys.executable, "-m", "qcm", "sim", "--dir", str(self.modem_dir),
                                                  "--trace", str(self.tmp / "trace.hex"), *args]),
                                    stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + 20
        while not (self.modem_dir / "sim.json").exists():
            if self.sim.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("simulator did not start:\n" + self.sim_log.read_text())
            time.sleep(0.02)
        self.info = json.loads((self.modem_dir / "sim.json").read_text())
        return self.info

    def qcm_argv(self, *args: str) -> List[str]:
        return self.ns.argv([sys.executable, "-m", "qcm", *args])

    def connect_args(self, *args: str) -> List[str]:
        return ["connect", "--resolv-conf", str(self.resolv), "--dns", "file", *args]

    def qcm(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self.qcm_argv(*args), capture_output=True, text=True, timeout=timeout, env=self.env)

    def background(self, argv: List[str], env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
        """A long-running process; its output goes to a file (an unread pipe would block it when full)."""
        log_path = self.tmp / ("process%d.log" % len(self.processes))
        with log_path.open("w") as log:
            process = subprocess.Popen(self.ns.argv(argv), stdout=log, stderr=subprocess.STDOUT, text=True,
                                       env=env or self.env)
        process.log_path = log_path  # type: ignore[attr-defined]
        self.processes.append(process)
        return process

    @staticmethod
    def output(process: subprocess.Popen) -> str:
        return process.log_path.read_text()  # type: ignore[attr-defined]

    def wait_connected(self, process: subprocess.Popen, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        sock = self.run_dir / "wwan0.sock"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError("qcm exited %s:\n%s" % (process.returncode, self.output(process)))
            if sock.exists():
                reply = self.qcm("status", "--json")
                if reply.returncode == 0 and json.loads(reply.stdout).get("state") == "connected":
                    return
            time.sleep(0.05)
        raise AssertionError("not connected in %.0f s" % timeout)

    def ping(self, address: str, count: int = 1) -> bool:
        return self.ns.run(["ping", "-c", str(count), "-W", "2", "-i", "0.2", address], check=False).returncode == 0

    def sim_status(self) -> Dict[str, Any]:
        reply = subprocess.run([sys.executable, "-m", "qcm", "sim", "ctl", str(self.modem_dir), "status"],
                               capture_output=True, text=True, timeout=10, env=self.env)
        return json.loads(reply.stdout)["status"]

    def snapshot(self) -> Dict[str, Any]:
        """Addresses and routes of the namespace, to check that qcm leaves it as it found it."""
        def ip(*args: str) -> Any:
            return json.loads(self.ns.run(["ip", "-j", *args]).stdout or "[]")
        addrs = [(a["ifname"], a.get("operstate"), sorted((i["local"], i["prefixlen"]) for i in a.get("addr_info", [])
                                                          if i.get("scope") != "link"))
                 for a in ip("address", "show")]
        def routes(*args: str) -> Any:  # without the seconds a router advertisement's route has left
            return [{k: v for k, v in r.items() if k != "expires"} for r in ip(*args, "route", "show")]
        return {"addresses": addrs, "routes4": routes("-4"), "routes6": routes("-6"), "resolv": self.resolv.read_text()}

    def stop(self) -> None:
        for process in self.processes:
            stop_process(process)
        if self.sim is not None:
            stop_process(self.sim)
