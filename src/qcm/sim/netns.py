"""Network namespaces and TUN devices for the simulator's data path (Linux, root only).

Named namespaces are made with iproute2 (``ip netns add``, an argv, never a shell) so that
``ip netns exec NAME ...`` works on them for inspection; entering one is a setns() call, made
through libc because Python before 3.12 has no os.setns.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import struct
import subprocess
from typing import Iterator

__all__ = ["create", "delete", "entered", "open_tun", "write_sysctl"]

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000

_libc = ctypes.CDLL(None, use_errno=True)


def create(name: str) -> None:
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=10)


def delete(name: str) -> None:
    subprocess.run(["ip", "netns", "delete", name], check=False, capture_output=True, timeout=10)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, "setns: %s" % os.strerror(error))


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body inside namespace ``name``; sockets and TUNs opened there stay there."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def open_tun(name: str, ethernet: bool = False) -> int:
    """A raw-IP TUN device (IFF_TUN | IFF_NO_PI): what a qmi_wwan interface in raw_ip mode looks like;
    with ``ethernet`` a TAP (802-3 framing: qmi_wwan without raw_ip, cdc_ether, rndis_host, cdc_ncm)."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), (IFF_TAP if ethernet else IFF_TUN) | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


def write_sysctl(path: str, value: str) -> None:
    """Write /proc/sys/... for the namespace this thread is in."""
    with open("/proc/sys/" + path, "w") as handle:
        handle.write(value)
