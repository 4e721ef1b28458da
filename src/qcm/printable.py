"""Text from modems, networks, scenarios and logs, made safe to write to a person's terminal.

An operator name, a firmware string or a pasted log line is not ours: ``ESC ] 0 ; ... BEL``
in it sets the terminal's title, ``ESC [ 2 J`` clears the screen, a carriage return rewrites
the line above, and a right-to-left override makes text read backwards. Every line qcm writes
for a person goes through ``printable()``, which shows such characters as escapes (``\\x1b``,
``\\u202e``) and leaves ordinary text in any script alone. (JSON output needs nothing:
``json.dumps`` escapes control characters itself.)
"""

from __future__ import annotations

import re

__all__ = ["printable"]

# C0 controls (newline and tab too: one value, one line), DEL and C1 controls; the line and
# paragraph separators some terminals break lines at; bidi marks, embeddings, overrides and
# isolates (U+061C, U+200E/F, U+202A-E, U+2066-9); lone surrogates (bytes a decoder kept with
# surrogateescape), which a UTF-8 stream cannot even encode.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: "re.Match[str]") -> str:
    code = ord(match.group(0))
    return "\\x%02x" % code if code < 0x100 else "\\u%04x" % code


def printable(text: str) -> str:
    """``text`` with control characters, bidi controls and lone surrogates shown as \\xNN / \\uNNNN."""
    return _UNSAFE.sub(_escape, text)
