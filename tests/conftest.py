"""Shared fixtures: a running ``qcm sim`` in a temporary directory, torn down on every exit path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from netns import SRC, stop_process


class SimProcess:
    def __init__(self, directory: Path, args: List[str], trace: Path) -> None:
        self.directory = directory
        self.trace = trace
        env = dict(os.environ, PYTHONPATH=str(SRC))
        self.log = (directory.parent / (directory.name + ".log")).open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qcm", "sim", "--dir", str(directory), "--trace", str(trace), *args],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.info = self._wait_ready()

    def _wait_ready(self, timeout: float = 15.0) -> dict:
        path = self.directory / "sim.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists():
                return json.loads(path.read_text())
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("qcm sim did not start: %s" % self.output())

    @property
    def control(self) -> str:
        return self.info["control_link"]

    def output(self) -> str:
        self.log.flush()
        return (self.directory.parent / (self.directory.name + ".log")).read_text()

    def stop(self) -> int:
        stop_process(self.process, grace=10)
        self.log.close()
        return self.process.returncode


@pytest.fixture
def start_sim(tmp_path: Path) -> Iterator:
    started: List[SimProcess] = []

    def start(*args: str, name: str = "sim") -> SimProcess:
        sim = SimProcess(tmp_path / name, ["--no-data-path", *args], tmp_path / (name + ".trace"))
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


def qmicli(sim: SimProcess, *args: str, timeout: float = 20, check: bool = True) -> str:
    """Run Debian's qmicli against the simulator; returns its standard output."""
    result = subprocess.run(["qmicli", "--device-open-qmi", "-d", sim.control, *args],
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError("qmicli %s failed (%d): %s%s" % (" ".join(args), result.returncode,
                                                              result.stdout, result.stderr))
    return result.stdout + result.stderr


@pytest.fixture
def netns():
    """A fresh network namespace (with lo up), deleted with everything in it afterwards."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    from netns import Namespace
    namespaces = []

    def make(prefix: str = "qcmt"):
        ns = Namespace(prefix)
        namespaces.append(ns)
        return ns

    yield make
    for ns in namespaces:
        ns.delete()


@pytest.fixture
def lab(netns, tmp_path):
    """A namespace with the simulated modem's data path, for end-to-end tests (root only)."""
    from lab import Lab
    labs = []

    def make(*sim_args: str) -> "Lab":
        instance = Lab(netns("qcme"), tmp_path / ("lab%d" % len(labs)))
        labs.append(instance)
        instance.start_sim(*sim_args)
        return instance

    yield make
    for instance in labs:
        instance.stop()


def pytest_collection_modifyitems(config: Any, items: List[Any]) -> None:
    """Tests marked root skip, with the reason, when the suite runs without root (scripts/coverage-without-root)."""
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root")
    for item in items:
        if item.get_closest_marker("root") is not None:
            item.add_marker(skip)
