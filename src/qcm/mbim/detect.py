"""Telling MBIM bytes from QMUX bytes (for ``qcm decode``), sans I/O.

Both protocols start a message with a small little-endian number, so neither is recognised
by its first byte alone: a QMUX frame starts with 0x01 and its length, an MBIM message with
a MessageType (01 00 00 00 for OPEN, 03 00 00 80 for COMMAND_DONE ...) and its length. Each
parser is run over the bytes and the one that accounts for more of them in whole messages
wins; a tie (nothing recognised, or nothing at all) is "unknown".
"""

from __future__ import annotations

from typing import Tuple

from ..qmi import qmux
from . import framing

__all__ = ["MBIM", "QMI", "UNKNOWN", "guess_protocol", "coverage"]

MBIM = "mbim"
QMI = "qmi"
UNKNOWN = "unknown"


def coverage(data: bytes) -> Tuple[int, int]:
    """(bytes in whole MBIM messages, bytes in whole QMUX frames)."""
    return _covered(framing.FrameParser(), framing.Frame, data), _covered(qmux.FrameParser(0x10000), qmux.Frame, data)


def _covered(parser: object, frame_type: type, data: bytes) -> int:
    parser.feed(data)  # type: ignore[attr-defined]
    dropped = 0
    frames = 0
    for event in parser.events():  # type: ignore[attr-defined]
        if isinstance(event, frame_type):
            frames += 1
        else:
            dropped += len(event.discarded)
    if not frames:
        return 0
    return len(data) - dropped - parser.buffered  # type: ignore[attr-defined]


def guess_protocol(data: bytes) -> str:
    """"mbim", "qmi" or "unknown" for a run of bytes (a trace, a pasted log)."""
    mbim, qmi = coverage(bytes(data))
    if mbim > qmi:
        return MBIM
    if qmi > mbim:
        return QMI
    return UNKNOWN
