"""sd_notify without dependencies: READY, STATUS, WATCHDOG and STOPPING to systemd.

Only active when systemd started us with NOTIFY_SOCKET set (Type=notify); a no-op otherwise.
"""

from __future__ import annotations

import os
import socket
from typing import Optional

from ..ascii import parse_int

__all__ = ["Notifier"]


class Notifier:
    def __init__(self, address: Optional[str] = None, watchdog_usec: Optional[int] = None) -> None:
        self.address = address
        self.watchdog_interval = watchdog_usec / 2e6 if watchdog_usec else None  # ping twice per period
        self._sock: Optional[socket.socket] = None
        if address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @classmethod
    def from_environment(cls) -> "Notifier":
        address = os.environ.get("NOTIFY_SOCKET")
        watchdog = os.environ.get("WATCHDOG_USEC")
        watchdog_pid = os.environ.get("WATCHDOG_PID")
        if watchdog_pid and watchdog_pid != str(os.getpid()):
            watchdog = None  # meant for another process
        return cls(address, parse_int(watchdog, 1, 2 ** 63) if watchdog else None)

    def send(self, **fields: str) -> None:
        if self._sock is None or not self.address:
            return
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        message = "\n".join("%s=%s" % (key.upper(), value) for key, value in fields.items())
        try:
            self._sock.sendto(message.encode(), target)
        except OSError:
            pass  # systemd went away; nothing to tell

    def ready(self, status: str) -> None:
        self.send(ready="1", status=status)

    def status(self, status: str) -> None:
        self.send(status=status)

    def watchdog(self) -> None:
        self.send(watchdog="1")

    def stopping(self) -> None:
        self.send(stopping="1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
