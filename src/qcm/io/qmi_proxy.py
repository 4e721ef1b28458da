"""Sharing the QMI port, both ways, on libqmi's qmi-proxy protocol (the abstract socket ``qmi-proxy``).

* ``ProxyClientTransport``: qcm as a client of a proxy that runs (libqmi's ``qmi-proxy``, which
  ModemManager and ``qmicli -p`` use, or another qcm serving it), started first when asked, as
  libqmi's clients do. The QMI backend then sends CTL Internal Proxy Open with the device path
  before anything else.
* ``SharedPort``: qcm opening the port itself and serving the proxy socket, so that ``qmicli -p``,
  ModemManager, the quectel-CM drop-in or a second qcm can read the modem (and dial their own
  PDNs) while qcm holds its calls. qcm's own QMI port is a client of the proxy core like the
  others (``qcm.qmi.proxy``), so every CTL transaction id is the proxy's to give.

Only root (or our own user) may connect (SO_PEERCRED), as libqmi's proxy demands; the socket is
abstract, so it lives in the network namespace (tests run in their own). File descriptors,
the event loop and the spawn are here; the protocol is ``qcm.qmi.proxy``.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import struct
import weakref
from typing import Dict, List, Optional

from ..errors import ModemError
from ..qmi.proxy import Action, CloseClient, Problem, ProxyCore, ToClient, ToDevice
from .proxy_socket import ProxySocketTransport, listening
from .transport import DataHandler, DeviceTransport, LostHandler, PortGone, Transport

__all__ = ["PROXY_SOCKET", "PROXY_PROGRAM", "proxy_listening", "ProxyClientTransport", "SharedPort",
           "check_open_answer"]

log = logging.getLogger(__name__)

PROXY_SOCKET = "\0qmi-proxy"              # libqmi's QMI_PROXY_SOCKET_PATH, in the abstract namespace
PROXY_PROGRAM = "/usr/libexec/qmi-proxy"  # Debian's libqmi-proxy
SPAWN_RETRIES = 20                        # 100 ms apart, as libqmi's clients wait for a proxy they started
MAX_CLIENT_BACKLOG = 4 << 20              # bytes a slow client may leave unread before it is dropped
LOCAL = "qcm"                             # our own QMI port, as a client of the proxy core


def proxy_listening() -> bool:
    """Whether something serves the qmi-proxy socket (in this network namespace)."""
    return listening(PROXY_SOCKET)


class ProxyClientTransport(ProxySocketTransport):
    """A stream connection to a qmi-proxy for ``device``; the QMUX bytes are the port's own."""

    address = PROXY_SOCKET
    program = PROXY_PROGRAM
    package = "libqmi-proxy"
    spawn_retries = SPAWN_RETRIES


class _Peer:
    """One client of our proxy socket: its socket and what it has not taken yet."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.sock = sock
        self.pid = pid
        self.backlog = bytearray()
        self.writing = False


class SharedPort(Transport):
    """The control port, opened by us and served to others on the qmi-proxy socket.

    To the QMI port above it, it is the device: one message per ``write()``, answers through
    ``on_data``. When the socket name is taken (another proxy started meanwhile, or another module
    of this same process serves it: under qcm daemon the first module's port is the one served) it
    still works as the plain device, serving nobody (``serving`` says which)."""

    listening_here: "weakref.WeakSet[SharedPort]" = weakref.WeakSet()  # ports of this process serving the socket

    def __init__(self, path: str, aliases: List[str] = (), serve: bool = True) -> None:  # type: ignore[assignment]
        super().__init__()
        self.path = path
        self.device = DeviceTransport(path)
        self.names = {os.path.realpath(p) for p in [path, *aliases]} | {path, *aliases}
        self.core = ProxyCore(self.accepts)
        self.serve = serve
        self.listener: Optional[socket.socket] = None
        self.peers: Dict[int, _Peer] = {}
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._open = False

    def accepts(self, path: str) -> bool:
        """Whether ``path`` names the device this port is (one of its names)."""
        return path in self.names or os.path.realpath(path) in self.names

    @property
    def serving(self) -> bool:
        return self.listener is not None

    # ---------------------------------------------------------------- the transport, to our QMI port

    def open(self, loop: asyncio.AbstractEventLoop, on_data: DataHandler, on_lost: LostHandler) -> None:
        self.loop, self.on_data, self.on_lost = loop, on_data, on_lost
        self.device.open(loop, self._from_device, self._device_lost)
        self.core.add_client(LOCAL, opened=True)
        self._open = True
        if self.serve:
            self._listen()

    @property
    def is_open(self) -> bool:
        return self._open and self.device.is_open

    def write(self, message: bytes) -> None:
        if not self.is_open:
            raise PortGone("control port %s is not open" % self.path)
        self._act(self.core.from_client(LOCAL, message))

    def close(self) -> None:
        self._open = False
        self._stop_listening()
        for fd in list(self.peers):
            self._drop(fd, None)
        self.device.close()

    # ---------------------------------------------------------------- the socket

    def _listen(self) -> None:
        assert self.loop is not None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        try:
            sock.bind(PROXY_SOCKET)
            sock.listen(16)
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE:
                log.warning("cannot serve the qmi-proxy socket: %s", exc.strerror)
            else:
                log.info("another program serves the qmi-proxy socket already; not serving it")
            return
        self.listener = sock
        SharedPort.listening_here.add(self)
        self.loop.add_reader(sock.fileno(), self._accept)
        log.info("serving %s to other programs on the qmi-proxy socket", self.path)

    def _stop_listening(self) -> None:
        SharedPort.listening_here.discard(self)
        if self.listener is not None:
            assert self.loop is not None
            self.loop.remove_reader(self.listener.fileno())
            self.listener.close()
            self.listener = None

    def _accept(self) -> None:
        assert self.listener is not None and self.loop is not None
        try:
            sock, _ = self.listener.accept()
        except OSError:
            return
        pid, uid, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
        if uid not in (0, os.geteuid()):
            log.warning("qmi-proxy: refused a client of uid %d (pid %d): root only", uid, pid)
            sock.close()
            return
        sock.setblocking(False)
        peer = _Peer(sock, pid)
        self.peers[sock.fileno()] = peer
        self.core.add_client(sock.fileno())
        self.loop.add_reader(sock.fileno(), self._readable, sock.fileno())
        log.debug("qmi-proxy: client pid %d connected", pid)

    def _readable(self, fd: int) -> None:
        peer = self.peers.get(fd)
        if peer is None:
            return
        try:
            data = peer.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(fd, None)
            return
        self._act(self.core.from_client(fd, data))

    def _send(self, fd: int, data: bytes) -> None:
        peer = self.peers.get(fd)
        if peer is None:
            return
        peer.backlog += data
        if len(peer.backlog) > MAX_CLIENT_BACKLOG:
            self._drop(fd, "it does not read its answers")
            return
        self._flush(fd)

    def _flush(self, fd: int) -> None:
        peer = self.peers.get(fd)
        if peer is None or self.loop is None:
            return
        while peer.backlog:
            try:
                sent = peer.sock.send(peer.backlog)
            except BlockingIOError:
                break
            except OSError:
                self._drop(fd, None)
                return
            del peer.backlog[:sent]
        if peer.backlog and not peer.writing:
            self.loop.add_writer(fd, self._flush, fd)
            peer.writing = True
        elif not peer.backlog and peer.writing:
            self.loop.remove_writer(fd)
            peer.writing = False

    def _drop(self, fd: int, reason: Optional[str]) -> None:
        peer = self.peers.pop(fd, None)
        if peer is None:
            return
        if reason:
            log.warning("qmi-proxy: dropping client pid %d: %s", peer.pid, reason)
        if self.loop is not None:
            self.loop.remove_reader(fd)
            if peer.writing:
                self.loop.remove_writer(fd)
        peer.sock.close()
        self._act(self.core.client_gone(fd))

    # ---------------------------------------------------------------- the device

    def _from_device(self, data: bytes) -> None:
        self._act(self.core.from_device(data))

    def _device_lost(self, reason: str) -> None:
        self._act(self.core.device_gone(reason))
        self._open = False
        self._stop_listening()
        self.on_lost(reason)

    def _act(self, actions: List[Action]) -> None:
        for action in actions:
            if isinstance(action, ToDevice):
                try:
                    self.device.write(action.data)  # one frame per write, as cdc-wdm requires
                except PortGone:
                    return
            elif isinstance(action, ToClient):
                if action.client == LOCAL:
                    assert self.loop is not None  # on the next turn: the port may be inside its own write()
                    self.loop.call_soon(self._to_local, action.data)
                else:
                    self._send(action.client, action.data)  # type: ignore[arg-type]
            elif isinstance(action, CloseClient):
                if action.client != LOCAL:
                    self._drop(action.client, action.reason)  # type: ignore[arg-type]
            elif isinstance(action, Problem):
                log.debug("qmi-proxy: %s", action.text)

    def _to_local(self, data: bytes) -> None:
        if self._open:
            self.on_data(data)


def check_open_answer(ok: bool, device: str, detail: str) -> None:
    """What a refused Internal Proxy Open means to the user."""
    if not ok:
        raise ModemError("qmi-proxy refused to open %s: %s" % (device, detail),
                         "check that the path is the module's QMI port; the proxy serves root only")

