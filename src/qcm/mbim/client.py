"""The host side of an MBIM control channel, sans I/O: transactions, timeouts, indications.

``ClientCore`` numbers requests (transaction ids from 1, wrapping to 1 after 0xFFFFFFFF and
skipping ids still in flight, as libmbim does), cuts them into fragments of the agreed
MaxControlTransfer, matches OPEN_DONE / CLOSE_DONE / COMMAND_DONE / FUNCTION_ERROR to their
requests by transaction id, surfaces INDICATE_STATUS, expires requests whose deadline passed
and fragments that stopped arriving, and answers the device's out-of-sequence fragments with
HOST_ERROR. It also keeps the MBIMEx version in force: a successful MS Basic Connect
Extensions VERSION exchange, or mbim-proxy's version notice, switches the layouts used to
build and decode everything after it. It is given bytes and the time and hands back byte
strings to write (one per write(): a cdc-wdm device takes one message or fragment per
write) and events; an I/O adapter only moves bytes and wakes waiters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Union

from .catalogue import QUERY, SET, CommandDef
from .framing import (CLOSE, CLOSE_DONE, COMMAND, COMMAND_DONE, DEFAULT_MAX_CONTROL_TRANSFER, FUNCTION_ERROR,
                      HOST_ERROR, INDICATE_STATUS, MAX_MESSAGE_SIZE, OPEN, OPEN_DONE, Frame, FrameParser, FramingError)
from .message import Message, agreed_version, build, close_message, decode, open_message

__all__ = ["ClientCore", "Pending", "ResponseReceived", "IndicationReceived", "FunctionErrorReceived",
           "RequestTimedOut", "UnexpectedMessage", "FramingProblem", "VersionAgreed", "Event"]

_ANSWERS = {OPEN_DONE: OPEN, CLOSE_DONE: CLOSE, COMMAND_DONE: COMMAND}


@dataclass(eq=False)
class Pending:
    """A request on its way: what was sent and until when an answer is awaited."""

    kind: str                        # open, close, query or set
    definition: Optional[CommandDef]  # None for OPEN and CLOSE
    transaction: int
    deadline: float
    sent_at: float
    values: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def request_type(self) -> int:
        return {"open": OPEN, "close": CLOSE}.get(self.kind, COMMAND)


@dataclass(frozen=True)
class ResponseReceived:
    """OPEN_DONE, CLOSE_DONE or COMMAND_DONE for a pending request (check ``message.ok``)."""

    pending: Pending
    message: Message


@dataclass(frozen=True)
class IndicationReceived:
    message: Message


@dataclass(frozen=True)
class FunctionErrorReceived:
    """The device refused a request at the protocol level (NotOpened after a reset, ...);
    ``pending`` is None when it names no request of ours."""

    pending: Optional[Pending]
    message: Message


@dataclass(frozen=True)
class RequestTimedOut:
    pending: Pending


@dataclass(frozen=True)
class UnexpectedMessage:
    """An answer nobody waits for (late, after a timeout, or for another client of a proxy)."""

    message: Message


@dataclass(frozen=True)
class FramingProblem:
    error: FramingError


@dataclass(frozen=True)
class VersionAgreed:
    """The MBIMEx version now in force (from VERSION, or from mbim-proxy's notice)."""

    version: int
    message: Message


Event = Union[ResponseReceived, IndicationReceived, FunctionErrorReceived, RequestTimedOut, UnexpectedMessage,
              FramingProblem, VersionAgreed]


class ClientCore:
    def __init__(self, max_control_transfer: int = DEFAULT_MAX_CONTROL_TRANSFER,
                 max_message_size: int = MAX_MESSAGE_SIZE, offered_version: int = 3) -> None:
        self.max_control_transfer = max_control_transfer
        self.offered_version = offered_version  # the highest MBIMEx version we speak
        self.version = 1                        # the one in force until VERSION says otherwise
        self._parser = FrameParser(max_message_size)
        self._outbox: List[bytes] = []
        self._pending: Dict[int, Pending] = {}
        self._next_id = 1

    # ---------------------------------------------------------------- sending

    def open(self, now: float, timeout: float) -> Pending:
        """MBIM OPEN, offering our MaxControlTransfer (the device may only lower it)."""
        transaction = self._next_transaction()
        return self._queue(Pending("open", None, transaction, now + timeout, now),
                           open_message(transaction, self.max_control_transfer))

    def close(self, now: float, timeout: float) -> Pending:
        transaction = self._next_transaction()
        return self._queue(Pending("close", None, transaction, now + timeout, now), close_message(transaction))

    def request(self, definition: CommandDef, kind: str, values: Optional[Mapping[str, Any]],
                now: float, timeout: float) -> Pending:
        """Queue a query or set in the layout of the version in force. Raises EncodeError on bad values."""
        if kind not in (QUERY, SET):
            raise ValueError("a host sends queries and sets, not %r" % kind)
        transaction = self._next_transaction()
        frame = build(definition, kind, transaction, values, version=self.version)
        return self._queue(Pending(kind, definition, transaction, now + timeout, now, dict(values or {})), frame)

    def _queue(self, pending: Pending, frame: Frame) -> Pending:
        self._pending[pending.transaction] = pending
        self._outbox.extend(frame.fragments(self.max_control_transfer))
        return pending

    def _next_transaction(self) -> int:
        for _ in range(len(self._pending) + 1):
            transaction = self._next_id
            self._next_id = 1 if self._next_id >= 0xFFFFFFFF else self._next_id + 1
            if transaction not in self._pending:
                return transaction
        raise RuntimeError("no free transaction id")  # unreachable: ids outnumber any pending set

    def frames_to_send(self) -> List[bytes]:
        """Messages and fragments to write, one per element and in order."""
        frames, self._outbox = self._outbox, []
        return frames

    def cancel(self, pending: Pending) -> None:
        self._pending.pop(pending.transaction, None)

    def abandon_all(self) -> List[Pending]:
        """The port is gone: every request in flight is lost, and so is a half-received message."""
        dropped = list(self._pending.values())
        self._pending.clear()
        self._parser = FrameParser(self._parser.max_message_size)
        return dropped

    # ---------------------------------------------------------------- receiving

    def receive_data(self, data: bytes, now: float) -> List[Event]:
        self._parser.feed(data, now)
        events: List[Event] = []
        for item in self._parser.events():
            if isinstance(item, FramingError):
                events.append(self._framing_problem(item))
            else:
                events.extend(self._on_frame(item))
        return events

    def _framing_problem(self, error: FramingError) -> FramingProblem:
        if error.protocol_error is not None and error.transaction:
            # MBIM asks the host to say so: the device then drops the message too.
            self._outbox.append(Frame(HOST_ERROR, error.transaction, status=error.protocol_error).encode())
        return FramingProblem(error)

    def _on_frame(self, frame: Frame) -> List[Event]:
        message = decode(frame, self.version)
        if frame.type == INDICATE_STATUS:
            return [IndicationReceived(message)] + self._version_from(message)
        if frame.type == FUNCTION_ERROR:
            return [FunctionErrorReceived(self._pending.pop(frame.transaction, None), message)]
        request_type = _ANSWERS.get(frame.type)
        pending = self._pending.get(frame.transaction)
        if request_type is None or pending is None or pending.request_type != request_type or (
                pending.definition is not None and (pending.definition.service.uuid_bytes != frame.service
                                                    or pending.definition.cid != frame.cid)):
            return [UnexpectedMessage(message)]  # a request echoed back, or an answer nobody awaits
        del self._pending[frame.transaction]
        return [ResponseReceived(pending, message)] + self._version_from(message, pending)

    def _version_from(self, message: Message, pending: Optional[Pending] = None) -> List[Event]:
        offered = self.offered_version
        if pending is not None and "mbim_extended_version" in pending.values:
            offered = min(offered, int(pending.values["mbim_extended_version"]) >> 8 or 1)
        agreed = agreed_version(message, offered)
        if agreed is None:
            return []
        self.version = agreed
        return [VersionAgreed(agreed, message)]

    # ---------------------------------------------------------------- time

    def next_deadline(self) -> Optional[float]:
        deadlines = [p.deadline for p in self._pending.values()]
        fragment = self._parser.next_deadline()
        if fragment is not None:
            deadlines.append(fragment)
        return min(deadlines, default=None)

    def expire(self, now: float) -> List[Event]:
        events: List[Event] = [self._framing_problem(e) for e in self._parser.expire(now)]
        expired = [p for p in self._pending.values() if p.deadline <= now]
        for pending in expired:
            del self._pending[pending.transaction]
        return events + [RequestTimedOut(p) for p in expired]
