"""Test helpers: throwaway network namespaces, and running commands or Python inside them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import List

SRC = Path(__file__).resolve().parents[1] / "src"


def stop_process(process: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM (what a service manager sends), then SIGKILL if it has not gone within ``grace`` s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Namespace:
    def __init__(self, prefix: str = "qcmt") -> None:
        self.name = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
        subprocess.run(["ip", "netns", "add", self.name], check=True, timeout=10)
        self.run(["ip", "link", "set", "lo", "up"])

    def argv(self, args: List[str]) -> List[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, args: List[str], check: bool = True, timeout: float = 30, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        env = kwargs.pop("env", None) or dict(os.environ, PYTHONPATH=str(SRC))
        return subprocess.run(self.argv(args), check=check, timeout=timeout, env=env, **kwargs)

    def python(self, code: str, timeout: float = 30) -> str:
        result = self.run([sys.executable, "-c", code], check=False, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError("python in %s failed:\n%s%s" % (self.name, result.stdout, result.stderr))
        return result.stdout

    def pids(self) -> List[int]:
        out = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def delete(self) -> None:
        for pid in self.pids():  # only processes our tests started inside this namespace
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "delete", self.name], check=False, timeout=10)
