"""libqmi's qmi-proxy protocol, the proxy's side, sans I/O: one device shared by many clients.

Clients speak plain QMUX on a stream socket (libqmi's abstract socket ``qmi-proxy``). What
libqmi's proxy does (``qmi-proxy.c``), and so what this core does:

* A client's first message is CTL "Internal Proxy Open" (0xFF00) with the device path; it is
  answered here (success only for the device this proxy serves) and never reaches the modem.
* CTL requests get a transaction id of the proxy's own (the device has one CTL id space for
  everybody) and the client's back on the reply. Allocate CID answers record which client owns
  the new (service, client id); Release CID answers forget it.
* Other services' requests pass unchanged (their transaction ids are per client id, so clients
  cannot collide); a (service, client id) a client uses without having allocated it through us
  becomes its own ("tracked implicitly"). Responses and indications go to the owner; broadcast
  indications (client id 0xFF) and CTL indications go to every client.
* A client that leaves keeps its client ids allocated on the modem ("disowned"), and the next
  client to use one owns it: ``qmicli --client-no-release-cid`` then ``--client-cid=N`` works.
* Unlike libqmi, CTL Sync from a client is answered here and not sent: on the modem it would
  release every client id, the other clients' calls with them (quectel-qmi-proxy refuses it too);
  and a client id another connected client owns cannot be taken over (answered InvalidClientId):
  ``qmicli -p --client-cid=N`` on the id that holds qcm's call would otherwise receive qcm's
  answers and indications, and qcm would lose track of its call.

qcm's own QMI port is a client like the others (``add_client(..., opened=True)``), so its CTL
transaction ids are rewritten with everyone else's. The core takes bytes and returns actions:
bytes for the device, bytes for a client, a client to close.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Dict, Hashable, List, Optional, Set, Tuple, Union

from .qmux import CTL, INDICATION, MAX_FRAME_SIZE, REQUEST, RESPONSE, Frame, FrameParser, FramingError

__all__ = ["ProxyCore", "ToDevice", "ToClient", "CloseClient", "Problem", "Action", "PROXY_OPEN", "ALLOCATE_CID",
           "RELEASE_CID", "SYNC", "result_tlv"]

PROXY_OPEN = 0xFF00
ALLOCATE_CID, RELEASE_CID, SYNC = 0x0022, 0x0023, 0x0027
BROADCAST = 0xFF
ERROR_INTERNAL = 0x0003           # QMI_PROTOCOL_ERROR_INTERNAL
ERROR_INVALID_CLIENT_ID = 0x0007
ERROR_CLIENT_IDS_EXHAUSTED = 0x0005


@dataclass(frozen=True)
class ToDevice:
    data: bytes


@dataclass(frozen=True)
class ToClient:
    client: Hashable
    data: bytes


@dataclass(frozen=True)
class CloseClient:
    client: Hashable
    reason: str


@dataclass(frozen=True)
class Problem:
    """Something worth a log line (garbage from a client or the device, an unroutable answer)."""

    text: str


Action = Union[ToDevice, ToClient, CloseClient, Problem]


def result_tlv(error: int = 0) -> Tuple[int, bytes]:
    return (0x02, bytes([1 if error else 0, 0, error & 0xFF, error >> 8]))


@dataclass
class _Client:
    parser: FrameParser
    opened: bool = False
    owned: Set[Tuple[int, int]] = field(default_factory=set)


class ProxyCore:
    def __init__(self, accepts: Callable[[str], bool]) -> None:
        self.accepts = accepts    # does this device path (as a client gave it) name our device?
        self.clients: Dict[Hashable, _Client] = {}
        self.owners: Dict[Tuple[int, int], Hashable] = {}
        self.ctl: Dict[int, Tuple[Optional[Hashable], int, Frame]] = {}  # our CTL tid -> (client, its tid, request)
        self._last_tid = 0
        self._device = FrameParser(MAX_FRAME_SIZE)

    # ---------------------------------------------------------------- clients

    def add_client(self, client: Hashable, opened: bool = False) -> None:
        self.clients[client] = _Client(FrameParser(MAX_FRAME_SIZE), opened)

    def client_gone(self, client: Hashable) -> List[Action]:
        """Its client ids stay allocated, disowned (libqmi's rule); its pending CTL answers are dropped."""
        state = self.clients.pop(client, None)
        if state is not None:
            for key in state.owned:
                if self.owners.get(key) == client:
                    del self.owners[key]
        for tid, (owner, their_tid, request) in list(self.ctl.items()):
            if owner == client:
                self.ctl[tid] = (None, their_tid, request)
        return []

    def from_client(self, client: Hashable, data: bytes) -> List[Action]:
        state = self.clients.get(client)
        if state is None:
            return []
        state.parser.feed(data)
        actions: List[Action] = []
        for item in state.parser.events():
            if isinstance(item, FramingError):
                actions.append(Problem("client %s sent bytes that are no QMUX frame: %s" % (client, item.reason)))
                continue
            actions += self._request(client, state, item)
            if client not in self.clients:
                break
        return actions  # (an unfinished frame holds at most 64 KiB here: the QMUX length field's limit)

    def _request(self, client: Hashable, state: _Client, frame: Frame) -> List[Action]:
        if frame.kind != REQUEST:
            return [Problem("client %s sent a %s; only requests are taken" % (client, frame.kind))]
        if frame.service == CTL and frame.message_id == PROXY_OPEN:
            return self._open(client, state, frame)
        if not state.opened:
            return [CloseClient(client, "its first message was not Internal Proxy Open")]
        if frame.service != CTL:
            key = (frame.service, frame.client_id)
            owner = self.owners.get(key)
            if owner is not None and owner != client and owner in self.clients:
                return [ToClient(client, _answer(frame, ERROR_INVALID_CLIENT_ID)),
                        Problem("client %s used client id %d of service %d, which %s holds" % (
                            client, frame.client_id, frame.service, owner))]
            if key not in state.owned:
                state.owned.add(key)                 # implicitly tracked (or re-owned after another left)
                self.owners[key] = client
            return [ToDevice(frame.encode())]
        if frame.message_id == SYNC:  # would release every client's ids on the modem: answered here
            return [ToClient(client, _answer(frame))]
        tid = self._next_tid()
        if tid is None:
            return [ToClient(client, _answer(frame, ERROR_CLIENT_IDS_EXHAUSTED))]
        self.ctl[tid] = (client, frame.transaction, frame)
        return [ToDevice(replace(frame, transaction=tid).encode())]

    def _open(self, client: Hashable, state: _Client, frame: Frame) -> List[Action]:
        raw = frame.tlv(0x01) or b""
        path = raw.rstrip(b"\0").decode("utf-8", "replace")
        if not self.accepts(path):
            return [ToClient(client, _answer(frame, ERROR_INTERNAL)),
                    Problem("client %s asked for %r, which this proxy does not serve" % (client, path))]
        state.opened = True
        return [ToClient(client, _answer(frame))]

    def _next_tid(self) -> Optional[int]:
        for _ in range(255):
            self._last_tid = self._last_tid % 255 + 1
            if self._last_tid not in self.ctl:
                return self._last_tid
        return None

    # ---------------------------------------------------------------- the device

    def from_device(self, data: bytes) -> List[Action]:
        self._device.feed(data)
        actions: List[Action] = []
        for item in self._device.events():
            if isinstance(item, FramingError):
                actions.append(Problem("the device sent bytes that are no QMUX frame: %s" % item.reason))
            elif item.service == CTL:
                actions += self._ctl_from_device(item)
            else:
                actions += self._service_from_device(item)
        return actions

    def _ctl_from_device(self, frame: Frame) -> List[Action]:
        if frame.kind == INDICATION:
            return self._broadcast(frame.encode())
        if frame.kind != RESPONSE:
            return []
        entry = self.ctl.pop(frame.transaction, None)
        if entry is None:
            return [Problem("a CTL answer (transaction %d) nobody asked for" % frame.transaction)]
        client, their_tid, request = entry
        if frame.message_id != request.message_id:
            return [Problem("a CTL answer 0x%04x to request 0x%04x" % (frame.message_id, request.message_id))]
        info = frame.tlv(0x01)
        ok = (frame.tlv(0x02) or b"\x01")[:2] == b"\x00\x00"
        if ok and info is not None and len(info) >= 2:
            key = (info[0], info[1])
            if request.message_id == ALLOCATE_CID and client is not None:
                self.owners[key] = client
                self.clients[client].owned.add(key)
            elif request.message_id == RELEASE_CID:
                owner = self.owners.pop(key, None)
                if owner is not None and owner in self.clients:
                    self.clients[owner].owned.discard(key)
        if client is None or client not in self.clients:
            return []  # its client left meanwhile (an allocated id stays, disowned)
        return [ToClient(client, replace(frame, transaction=their_tid).encode())]

    def _service_from_device(self, frame: Frame) -> List[Action]:
        if frame.kind == INDICATION and frame.client_id == BROADCAST:
            return self._broadcast(frame.encode())
        owner = self.owners.get((frame.service, frame.client_id))
        if owner is None or owner not in self.clients:
            return []  # for a client id nobody here holds (disowned, or another program's)
        return [ToClient(owner, frame.encode())]

    def _broadcast(self, data: bytes) -> List[Action]:
        return [ToClient(client, data) for client, state in self.clients.items() if state.opened]

    def device_gone(self, reason: str) -> List[Action]:
        """The device vanished: every client goes (they reopen it through the proxy when it is back)."""
        actions: List[Action] = [CloseClient(client, reason) for client in list(self.clients)]
        self.ctl.clear()
        self.owners.clear()
        self._device = FrameParser(MAX_FRAME_SIZE)
        return actions


def _answer(request: Frame, error: int = 0) -> bytes:
    """A response to ``request`` made here, with only the Result TLV (what libqmi's proxy answers)."""
    return Frame(request.service, request.client_id, RESPONSE, request.transaction, request.message_id,
                 (result_tlv(error),)).encode()
