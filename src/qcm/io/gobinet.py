"""The GobiNet control port as a QMUX transport: the QMI port and everything above it run over
it unchanged (``qcm.qmi.gobinet.GobiNetMux`` does the translation, ``gobinet_ioctl`` the binding).

Each QMI client is its own handle on ``/dev/qcqmiN``, read on the event loop; a handle that
fails or reaches its end means the device is gone, as for a cdc-wdm port. GobiNet sets the
modem's data format itself (its ``qmap_mode`` and raw-IP handling), so qcm leaves it alone on
this transport (``driver_sets_data_format``), and its ``usbN`` interface is Ethernet-framed.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from typing import Dict, Optional, Union

from ..qmi.gobinet import Bind, Deliver, GobiNetMux, Unbind, Write
from . import gobinet_ioctl
from .transport import DataHandler, LostHandler, PortGone, Transport

__all__ = ["GobiNetTransport", "is_gobinet", "control_transport"]

log = logging.getLogger(__name__)


def is_gobinet(path: str) -> bool:
    """quectel-CM's rule: a control path starting with /dev/qcqmi is GobiNet's."""
    return os.path.basename(path).startswith("qcqmi")


def control_transport(path: str) -> Union[Transport, str]:
    """What to open for a QMI control path: GobiNet's device needs its own transport; anything
    else (cdc-wdm, a pty) is a plain device the QMI port opens by path."""
    return GobiNetTransport(path) if is_gobinet(path) else path


class GobiNetTransport(Transport):
    driver_sets_data_format = True

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.mux = GobiNetMux()
        self.handles: Dict[int, int] = {}        # client id -> fd
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._open = False

    def open(self, loop: asyncio.AbstractEventLoop, on_data: DataHandler, on_lost: LostHandler) -> None:
        if not os.path.exists(self.path):
            raise PortGone("control port %s does not exist" % self.path)
        self.loop, self.on_data, self.on_lost, self._open = loop, on_data, on_lost, True

    @property
    def is_open(self) -> bool:
        return self._open

    def write(self, message: bytes) -> None:
        if not self._open:
            raise PortGone("control port %s is not open" % self.path)
        for action in self.mux.outgoing(message):
            if isinstance(action, Bind):
                self._bind(action)
            elif isinstance(action, Write):
                self._write(action)
            elif isinstance(action, Unbind):
                self._unbind(action.cid)
            elif isinstance(action, Deliver):
                self._deliver(action.data)

    def _deliver(self, data: bytes) -> None:
        assert self.loop is not None
        self.loop.call_soon(self._hand_over, data)  # answers arrive on a later turn, as from a device

    def _hand_over(self, data: bytes) -> None:
        if self._open:
            self.on_data(data)

    def _bind(self, bind: Bind) -> None:
        assert self.loop is not None
        try:
            fd = gobinet_ioctl.open_service(self.path, bind.service)
        except OSError as exc:
            log.warning("%s: binding a client of service 0x%02x failed: %s", self.path, bind.service, exc.strerror)
            self._deliver(self.mux.bound(bind, False))
            if exc.errno in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
                self._shutdown("vanished (%s)" % exc.strerror)
            return
        self.handles[bind.cid] = fd
        self.loop.add_reader(fd, self._readable, bind.cid)
        self._deliver(self.mux.bound(bind, True))

    def _write(self, write: Write) -> None:
        fd = self.handles.get(write.cid)
        if fd is None:
            return
        try:
            os.write(fd, write.sdu)  # one message per write, as the driver requires
        except BlockingIOError:
            log.warning("%s: the driver's queue is full; request dropped (it will time out)", self.path)
        except OSError as exc:
            self._shutdown("failed (%s)" % exc.strerror)

    def _unbind(self, cid: int) -> None:
        fd = self.handles.pop(cid, None)
        if fd is not None and self.loop is not None:
            self.loop.remove_reader(fd)
            os.close(fd)  # the driver releases the client id

    def _readable(self, cid: int) -> None:
        fd = self.handles.get(cid)
        if fd is None:
            return
        try:
            sdu = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self._shutdown("vanished (%s)" % exc.strerror)
            return
        if not sdu:
            self._shutdown("was closed by the driver")
            return
        frame = self.mux.incoming(cid, sdu)
        if frame is not None:
            self.on_data(frame)

    def close(self) -> None:
        self._shutdown(None)

    def _shutdown(self, reason: Optional[str]) -> None:
        if not self._open:
            return
        self._open = False
        for cid in list(self.handles):
            self._unbind(cid)
        self.mux = GobiNetMux()
        if reason is not None:
            self.on_lost(reason)
