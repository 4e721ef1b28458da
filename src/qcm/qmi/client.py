"""The host side of a QMI control channel, sans I/O: transactions, timeouts, indications.

``ClientCore`` numbers requests (8-bit CTL and 16-bit per-client transaction ids, skipping
0 as libqmi does), matches responses to them, routes indications, and expires requests
whose deadline passed. It is given bytes and the time and hands back frames to write and
events; the asyncio adapter in ``qcm.io.qmi_port`` only moves bytes and wakes waiters.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from .catalogue import INDICATION, REQUEST, RESPONSE, MessageDef
from .message import Message, build, decode
from .qmux import CTL, Frame, FrameParser, FramingError

__all__ = ["ClientCore", "Pending", "ResponseReceived", "IndicationReceived", "RequestTimedOut",
           "UnexpectedMessage", "FramingProblem", "Event"]


@dataclass(eq=False)
class Pending:
    """A request on its way: what was sent, to whom, and until when an answer is awaited."""

    definition: MessageDef
    service: int
    client_id: int
    transaction: int
    deadline: float
    sent_at: float
    values: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> Tuple[int, int, int]:
        return (self.service, self.client_id, self.transaction)


@dataclass(frozen=True)
class ResponseReceived:
    pending: Pending
    message: Message


@dataclass(frozen=True)
class IndicationReceived:
    message: Message


@dataclass(frozen=True)
class RequestTimedOut:
    pending: Pending


@dataclass(frozen=True)
class UnexpectedMessage:
    """A response nobody waits for (late, after a timeout, or meant for another program)."""

    message: Message


@dataclass(frozen=True)
class FramingProblem:
    error: FramingError


Event = Union[ResponseReceived, IndicationReceived, RequestTimedOut, UnexpectedMessage, FramingProblem]


class ClientCore:
    def __init__(self, max_frame_size: int = 8192) -> None:
        self._parser = FrameParser(max_frame_size)
        self._outbox: List[bytes] = []
        self._pending: Dict[Tuple[int, int, int], Pending] = {}
        self._ctl_ids = itertools.cycle(range(1, 0x100))
        self._service_ids: Dict[Tuple[int, int], "itertools.cycle[int]"] = {}

    # ---------------------------------------------------------------- sending

    def request(self, definition: MessageDef, client_id: int, values: Optional[Mapping[str, Any]],
                now: float, timeout: float) -> Pending:
        """Queue a request; its frame comes out of ``frames_to_send()``. Raises EncodeError on bad values."""
        service = definition.service.id
        transaction = self._next_transaction(service, client_id)
        raw = build(definition, REQUEST, client_id, transaction, values)
        pending = Pending(definition, service, client_id, transaction, now + timeout, now, dict(values or {}))
        self._pending[pending.key] = pending
        self._outbox.append(raw)
        return pending

    def _next_transaction(self, service: int, client_id: int) -> int:
        if service == CTL:
            counter = self._ctl_ids
        else:
            counter = self._service_ids.setdefault((service, client_id), itertools.cycle(range(1, 0x10000)))
        for _ in range(0x10000):
            transaction = next(counter)
            if (service, client_id, transaction) not in self._pending:
                return transaction
        raise RuntimeError("no free transaction id")  # 65535 requests in flight on one client

    def frames_to_send(self) -> List[bytes]:
        """Encoded frames, one per element: a cdc-wdm device takes exactly one frame per write()."""
        frames, self._outbox = self._outbox, []
        return frames

    def cancel(self, pending: Pending) -> None:
        self._pending.pop(pending.key, None)

    def abandon_all(self) -> List[Pending]:
        """The port is gone: every request in flight is lost."""
        dropped = list(self._pending.values())
        self._pending.clear()
        self._parser = FrameParser(self._parser.max_frame_size)
        return dropped

    # ---------------------------------------------------------------- receiving

    def receive_data(self, data: bytes) -> List[Event]:
        self._parser.feed(data)
        events: List[Event] = []
        for item in self._parser.events():
            if isinstance(item, FramingError):
                events.append(FramingProblem(item))
            else:
                events.append(self._on_frame(item))
        return events

    def _on_frame(self, frame: Frame) -> Event:
        message = decode(frame)
        if frame.kind == INDICATION:
            return IndicationReceived(message)
        if frame.kind == RESPONSE:
            pending = self._pending.get((frame.service, frame.client_id, frame.transaction))
            if pending is not None and pending.definition.id == frame.message_id:
                del self._pending[pending.key]
                return ResponseReceived(pending, message)
        return UnexpectedMessage(message)  # a request echoed back, or a response nobody awaits

    # ---------------------------------------------------------------- time

    def next_deadline(self) -> Optional[float]:
        return min((p.deadline for p in self._pending.values()), default=None)

    def expire(self, now: float) -> List[Event]:
        expired = [p for p in self._pending.values() if p.deadline <= now]
        for pending in expired:
            del self._pending[pending.key]
        return [RequestTimedOut(p) for p in expired]
