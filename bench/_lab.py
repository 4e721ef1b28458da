"""Shared by the benchmarks: a network namespace with the simulated modem and a qcm in it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
ENV = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "src"))
from qcm.io.control import ask  # noqa: E402 - after the path to the source tree


class BenchLab:
    def __init__(self, *sim_args: str) -> None:
        if os.geteuid() != 0:
            sys.exit("needs root (network namespaces, TUN)")
        self.ns = "qcmb-%s" % uuid.uuid4().hex[:8]
        self.work = Path(tempfile.mkdtemp(prefix="qcm-bench-"))
        self.env = dict(ENV, QCM_SYSFS=str(self.work / "m/sys"), QCM_DEV=str(self.work / "m/dev"),
                        QCM_RUN_DIR=str(self.work / "run"), QCM_STATE_DIR=str(self.work / "state"))
        self.processes: List[subprocess.Popen] = []
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        try:
            self.run(["ip", "link", "set", "lo", "up"])
            self.sim = self.start([PYTHON, "-m", "qcm", "sim", "--dir", str(self.work / "m"), *sim_args])
            deadline = time.monotonic() + 20
            while not (self.work / "m" / "sim.json").exists():
                if time.monotonic() > deadline or self.sim.poll() is not None:
                    raise RuntimeError("simulator did not start")
                time.sleep(0.01)
        except BaseException:
            self.close()  # the namespace and the work directory go too
            raise

    def inside(self, argv: List[str]) -> List[str]:
        return ["ip", "netns", "exec", self.ns, *argv]

    def run(self, argv: List[str]) -> subprocess.CompletedProcess:
        return subprocess.run(self.inside(argv), capture_output=True, text=True, env=self.env, timeout=60)

    def start(self, argv: List[str]) -> subprocess.Popen:
        process = subprocess.Popen(self.inside(argv), env=self.env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def connect(self, *args: str) -> subprocess.Popen:
        return self.start([PYTHON, "-m", "qcm", "connect", *args, "--resolv-conf", str(self.work / "resolv.conf"),
                           "--dns", "file"])

    def ping(self, address: str = "198.51.100.1", wait: str = "1") -> bool:
        return self.run(["ping", "-c", "1", "-W", wait, address]).returncode == 0

    def wait_traffic(self, process: subprocess.Popen, timeout: float = 30.0) -> float:
        """Seconds until a ping through the module is answered."""
        start = time.perf_counter()
        while not self.ping(wait="0.05"):  # a lost ping costs its whole wait: keep it short
            if process.poll() is not None or time.perf_counter() - start > timeout:
                raise RuntimeError("no traffic")
            time.sleep(0.002)
        return time.perf_counter() - start

    def sim_ctl(self, command: str, **values: Any) -> Dict[str, Any]:
        return ask(self.work / "m" / "ctl.sock", dict(values, command=command))

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        subprocess.run(["ip", "netns", "delete", self.ns], check=False)
        shutil.rmtree(self.work, ignore_errors=True)

    def __enter__(self) -> "BenchLab":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def proc_status_kb(pid: int, key: str) -> int:
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


__all__ = ["BenchLab", "PYTHON", "ENV", "proc_status_kb", "cpu_seconds"]
