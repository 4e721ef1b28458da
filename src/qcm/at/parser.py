"""The AT command protocol, sans I/O: one command in flight, responses told from unsolicited lines.

``AtParser.command()`` returns the bytes to send; ``receive_data()`` takes bytes from the port
and returns events: a ``Response`` when a final result code ends the command, ``Unsolicited``
for lines that belong to nobody (``RDY``, ``+QIND: ...``, a ``+CEREG: 1`` the network sent on
its own), ``Timeout`` when ``expire(now)`` passes the command's deadline.

A line starting with ``+NAME:`` belongs to the pending command only if the command is
``AT+NAME...`` (so ``+CREG: 0,1`` answers ``AT+CREG?`` but is unsolicited while ``AT+CSQ`` is
pending); plain text lines (a firmware string, an IMSI) belong to the pending command; the
command's echo is dropped. The few unsolicited lines without a ``+NAME:`` prefix (``RDY``,
``POWERED DOWN``) are never taken as answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

from ..ascii import parse_int

__all__ = ["AtParser", "Response", "Unsolicited", "Timeout", "AtBusy", "FINAL_OK", "FINAL_ERRORS"]

FINAL_OK = ("OK", "CONNECT")
FINAL_ERRORS = ("ERROR", "NO CARRIER", "NO DIALTONE", "BUSY", "NO ANSWER", "COMMAND NOT SUPPORT")
_FINAL_ERROR_PREFIXES = ("+CME ERROR:", "+CMS ERROR:")
# Lines modules send on their own that the +NAME rule cannot place (it places every "+..." line).
_UNSOLICITED = ("RDY", "POWERED DOWN")
MAX_LINE = 4096


class AtBusy(RuntimeError):
    """A command is already in flight (the protocol allows one at a time)."""


@dataclass(frozen=True)
class Response:
    command: str
    lines: Tuple[str, ...]
    final: str

    @property
    def ok(self) -> bool:
        return self.final.startswith(FINAL_OK)

    @property
    def error_code(self) -> Optional[int]:
        """The number of a ``+CME ERROR: N`` / ``+CMS ERROR: N`` (None for text, other digits, or a code
        too long to be one: 27.007 codes have at most four digits)."""
        match = re.match(r"\+(?:CME|CMS) ERROR:\s*([0-9]+)", self.final)
        return parse_int(match.group(1), 0, 0xFFFF) if match else None

    def value(self, prefix: str) -> Optional[str]:
        """The text after ``prefix`` in the first line that starts with it (``+CPIN:`` -> ``READY``)."""
        for line in self.lines:
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        return None


@dataclass(frozen=True)
class Unsolicited:
    line: str


@dataclass(frozen=True)
class Timeout:
    command: str
    lines: Tuple[str, ...]


Event = Union[Response, Unsolicited, Timeout]


def _names(command: str) -> Tuple[str, ...]:
    """The result prefixes a command answers with: ``AT+CGREG?`` -> ``+CGREG``; ``ATI;+CSQ`` -> ``+CSQ``."""
    return tuple("+" + name.upper() for name in re.findall(r"\+([A-Za-z][A-Za-z0-9]*)", command.split('"')[0]))


@dataclass
class _Pending:
    command: str
    names: Tuple[str, ...]
    deadline: float
    lines: List[str] = field(default_factory=list)


class AtParser:
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pending: Optional[_Pending] = None

    def command(self, text: str, now: float, timeout: float) -> bytes:
        """The bytes that send ``text``; ValueError for a control character in it (a line end would
        smuggle in a second command) or text that cannot be encoded."""
        if self._pending is not None:
            raise AtBusy("%s is still waiting for its answer" % self._pending.command)
        text = text.strip()
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):  # a line end would send a second command
            raise ValueError("an AT command is one line of text, without control characters")
        # surrogateescape: bytes that were not UTF-8 on the command line go to the module as they came
        data = (text + "\r").encode("utf-8", "surrogateescape")
        self._pending = _Pending(text, _names(text), now + timeout)
        return data

    def reset(self) -> None:
        """Forget the command in flight and any partial line (the port failed under it)."""
        self._pending = None
        self._buffer.clear()

    def deadline(self) -> Optional[float]:
        return self._pending.deadline if self._pending else None

    def expire(self, now: float) -> List[Event]:
        pending = self._pending
        if pending is None or now < pending.deadline:
            return []
        self._pending = None
        return [Timeout(pending.command, tuple(pending.lines))]

    def receive_data(self, data: bytes) -> List[Event]:
        self._buffer += data
        events: List[Event] = []
        while True:
            match = re.search(rb"\r\n|\r|\n", self._buffer)
            if match is None:
                if len(self._buffer) > MAX_LINE:  # a modem babbling without line ends: keep the tail only
                    del self._buffer[:-MAX_LINE]
                return events
            raw = bytes(self._buffer[:match.start()])
            del self._buffer[:match.end()]
            line = raw.decode("utf-8", "replace").strip()
            if line:
                event = self._line(line)
                if event is not None:
                    events.append(event)

    def _line(self, line: str) -> Optional[Event]:
        pending = self._pending
        if pending is None:
            return Unsolicited(line)
        if line.upper() == pending.command.upper():
            return None  # the echo
        if line in FINAL_OK or line.startswith("CONNECT") or line in FINAL_ERRORS \
                or line.startswith(_FINAL_ERROR_PREFIXES):
            self._pending = None
            return Response(pending.command, tuple(pending.lines), line)
        if line.startswith(_UNSOLICITED) and not any(line.startswith(n + ":") for n in pending.names):
            return Unsolicited(line)
        if line.startswith("+"):
            prefix = line.split(":", 1)[0].upper()
            if prefix not in pending.names:
                return Unsolicited(line)
        pending.lines.append(line)
        return None
