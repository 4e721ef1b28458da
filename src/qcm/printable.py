"""Text from modems, networks and files made safe for a terminal: control characters escaped.

An operator name or a firmware string is data, not terminal commands: ESC, BEL, the other C0
and C1 controls, DEL and the bidirectional overrides are shown as ``\\xNN`` or ``\\uNNNN``;
ordinary letters of any script are left alone. Newlines and tabs stay (log lines carry them).
"""

from __future__ import annotations

import re

__all__ = ["printable"]

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: "re.Match[str]") -> str:
    code = ord(match.group())
    return "\\x%02x" % code if code < 0x100 else "\\u%04x" % code


def printable(text: str) -> str:
    return _UNSAFE.sub(_escape, text)
