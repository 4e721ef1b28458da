#!/usr/bin/env python3
"""What qcm costs in flash and memory on a router: the package's size (the Debian package's
Installed-Size; qcm's sources without the simulator, raw, as bytecode only, and compressed with
xz as squashfs would), and the peak memory of qcm-netifd, OpenWrt's bridge between netifd and
qcm (median of several runs). qcm's own memory while connected: bench/connect.py.

Run: .venv/bin/python bench/footprint.py [--runs 5]   (builds the .deb with scripts/build-deb)
"""

from __future__ import annotations

import argparse
import lzma
import os
import py_compile
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Iterator, List

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "qcm"


def files(without_simulator: bool) -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            if not (without_simulator and (PACKAGE / "sim") in path.parents):
                yield path


def kib(size: int) -> str:
    return "%.0f KiB" % (size / 1024)


def xz_size(paths: List[Path], base: Path) -> int:
    with tempfile.TemporaryFile() as raw:
        with tarfile.open(fileobj=raw, mode="w") as archive:
            for path in paths:
                archive.add(str(path), arcname=str(path.relative_to(base)))
        raw.seek(0)
        return len(lzma.compress(raw.read(), preset=9))


def bytecode_only_size(paths: List[Path]) -> int:
    """The package as OpenWrt's Python packages ship: .pyc in place of .py, data files as they are."""
    with tempfile.TemporaryDirectory() as tmp:
        total = 0
        for path in paths:
            if path.suffix == ".py":
                target = Path(tmp) / path.relative_to(PACKAGE.parent).with_suffix(".pyc")
                target.parent.mkdir(parents=True, exist_ok=True)
                py_compile.compile(str(path), cfile=str(target), doraise=True)
                total += target.stat().st_size
            else:
                total += path.stat().st_size
        return total


def deb_installed_size() -> str:
    if shutil.which("dpkg-deb") is None:
        return "dpkg-deb not installed"
    with tempfile.TemporaryDirectory() as tmp:
        deb = subprocess.run([str(ROOT / "scripts" / "build-deb"), tmp], check=True, capture_output=True,
                             text=True, timeout=300).stdout.strip()
        size = subprocess.run(["dpkg-deb", "-f", deb, "Installed-Size"], check=True, capture_output=True,
                              text=True).stdout.strip()
        return "%s KiB installed, %s .deb" % (size, kib(os.path.getsize(deb)))


def bridge_peak_kb() -> int:
    """qcm-netifd's VmHWM while it supervises a command (a sleeping Python stands in for qcm)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QCM_RUN_DIR=tmp)
        stand_in = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(2)"]
        # -S: no site-packages (the virtual environment's .pth hooks would count), as on a router
        bridge = [sys.executable, "-S", str(ROOT / "contrib" / "openwrt" / "qcm-netifd"), "/bin/true"]
        process = subprocess.Popen(bridge + stand_in, env=env, stdout=subprocess.DEVNULL)
        time.sleep(1.0)
        status = Path("/proc/%d/status" % process.pid).read_text()
        process.terminate()
        process.wait(30)
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    everything, router = list(files(False)), list(files(True))
    print("Debian package: %s" % deb_installed_size())
    print("qcm sources: %s; without the simulator: %s (xz: %s); bytecode only: %s" % (
        kib(sum(p.stat().st_size for p in everything)), kib(sum(p.stat().st_size for p in router)),
        kib(xz_size(router, PACKAGE.parent)), kib(bytecode_only_size(router))))
    openwrt = [p for p in (ROOT / "contrib" / "openwrt").iterdir() if p.is_file()]
    print("OpenWrt handler, hook and bridge: %s" % kib(sum(p.stat().st_size for p in openwrt)))
    peaks = [bridge_peak_kb() for _ in range(args.runs)]
    print("qcm-netifd peak RSS: %.1f MB (median of %d)" % (statistics.median(peaks) / 1024, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
