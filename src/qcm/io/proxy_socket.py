"""A client's stream connection to libqmi's qmi-proxy or libmbim's mbim-proxy.

Both proxies listen on an abstract Unix socket (so per network namespace), own the device and
share it with every client; a client may start the proxy when none runs, as libqmi's and
libmbim's clients do. The proxy leaves by itself 300 s after its last client: qcm never stops
it, others may be using it."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import time
from typing import Optional, Union

from .transport import DataHandler, DeviceTransport, LostHandler, PortGone

__all__ = ["connect_unix", "listening", "ProxySocketTransport"]

log = logging.getLogger(__name__)


def connect_unix(address: Union[str, bytes]) -> Optional[socket.socket]:
    """A connected stream socket to ``address``, or None when nothing listens there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        return None
    return sock


def listening(address: Union[str, bytes]) -> bool:
    """Whether something accepts connections on ``address``."""
    sock = connect_unix(address)
    if sock is None:
        return False
    sock.close()
    return True


class ProxySocketTransport(DeviceTransport):
    """A stream connection to a proxy for ``device``; subclasses name the proxy."""

    through_proxy = True
    address: Union[str, bytes] = b""
    program = ""                 # the proxy's executable, started with ``spawn``
    package = ""                 # the Debian package that installs it
    spawn_retries = 10           # connect again every 100 ms this often after starting it

    def __init__(self, device: str, spawn: bool = False) -> None:
        super().__init__("%s:%s" % (os.path.basename(self.program), device))
        self.device = device
        self.spawn = spawn
        self.spawned: Optional[subprocess.Popen] = None

    def open(self, loop: asyncio.AbstractEventLoop, on_data: DataHandler, on_lost: LostHandler) -> None:
        sock = connect_unix(self.address)
        if sock is None and self.spawn:
            sock = self._spawn_and_connect()
        if sock is None:
            raise PortGone("%s is not running" % os.path.basename(self.program),
                           "start it (%s), or run without --proxy" % self.program)
        sock.setblocking(False)
        self.fd, self.loop, self.on_data, self.on_lost = sock.detach(), loop, on_data, on_lost
        loop.add_reader(self.fd, self._readable)

    def _spawn_and_connect(self) -> Optional[socket.socket]:
        if not os.access(self.program, os.X_OK):
            raise PortGone("%s is not installed" % self.program,
                           "install Debian's %s, or run without --proxy" % self.package)
        self.spawned = subprocess.Popen([self.program], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
        log.info("started %s (pid %d)", self.program, self.spawned.pid)
        # Blocks the loop at most spawn_retries/10 s, once, while the proxy starts (libqmi and libmbim wait so too).
        for _ in range(self.spawn_retries):
            time.sleep(0.1)
            sock = connect_unix(self.address)
            if sock is not None:
                return sock
        return None

    def close(self) -> None:
        super().close()
        if self.spawned is not None:
            self.spawned.poll()  # reaped if it already left; otherwise it stays for the other clients
