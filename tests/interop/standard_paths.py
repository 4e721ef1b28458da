"""Runs a program with the simulated module at the standard paths: the simulator's sysfs as /sys,
its control port as /dev/cdc-wdm0 (and its AT port as /dev/ttyUSBn), a private /tmp.

Used as ``unshare -m --propagation private [-p -f --mount-proc] python standard_paths.py SIMDIR
SCRATCH [PATH=TEXT ...] -- PROGRAM ARGS... [--then PROGRAM ARGS...]``: every mount is made inside that private mount
namespace, so the host's /sys, /dev and /tmp are never touched. /dev becomes a small tmpfs
holding the usual nodes (bound from the real /dev) and the simulator's ports; SCRATCH is an
empty directory for the real /dev while it is rebuilt. PATH=TEXT writes a file in the new /tmp
(a configuration file the program reads). Programs run one after the other (they share the
private /tmp, as qmi-network's start and stop share its state file) until one fails; this
process waits for each, so in a PID namespace it is the init that takes everything with it.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path
from typing import List

MS_BIND, MS_REC = 0x1000, 0x4000
_libc = ctypes.CDLL(None, use_errno=True)
_DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty", "net/tun")


def mount(source: str, target: str, fstype: str = "", flags: int = 0, data: str = "") -> None:
    if _libc.mount(source.encode(), target.encode(), fstype.encode() or None, flags, data.encode() or None) != 0:
        error = ctypes.get_errno()
        raise OSError(error, "mount %s on %s: %s" % (source, target, os.strerror(error)))


def bind_file(source: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch()
    mount(source, str(target), flags=MS_BIND)


def rebuild_dev(simulator: Path, scratch: Path) -> None:
    old = scratch / "dev"
    old.mkdir()
    mount("/dev", str(old), flags=MS_BIND | MS_REC)
    mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755")
    dev = Path("/dev")
    for node in _DEV_NODES:
        if (old / node).exists():
            bind_file(str(old / node), dev / node)
    (dev / "pts").mkdir()
    mount(str(old / "pts"), "/dev/pts", flags=MS_BIND | MS_REC)
    (dev / "ptmx").symlink_to("pts/ptmx")
    (dev / "shm").mkdir()
    mount("tmpfs", "/dev/shm", "tmpfs", 0, "mode=1777")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        (dev / name).symlink_to(target)
    for link in (simulator / "dev").iterdir():  # cdc-wdm0, ttyUSBn: links to the simulator's ptys
        pty = os.path.realpath(link)
        if os.path.exists(pty):
            bind_file(pty, dev / link.name)  # a bind, not a link: tools see /dev/cdc-wdm0 itself


def main(argv: List[str]) -> int:
    split = argv.index("--")
    simulator, scratch, files, command = Path(argv[0]), Path(argv[1]), argv[2:split], argv[split + 1:]
    rebuild_dev(simulator, scratch)
    mount(str(simulator / "sys"), "/sys", flags=MS_BIND | MS_REC)
    mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777")
    for item in files:
        path, _, text = item.partition("=")
        Path(path).write_text(text.replace("\\n", "\n"))
    status = 0
    while command and status == 0:
        cut = command.index("--then") if "--then" in command else len(command)
        sys.stdout.write("$ %s\n" % " ".join(command[:cut]))
        sys.stdout.flush()
        status = subprocess.run(command[:cut], timeout=60).returncode
        command = command[cut + 1:]
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
