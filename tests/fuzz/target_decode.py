"""Fuzz target: ``qcm decode``'s input, in process (src/qcm/cli/decode.py).

The input is what a user pastes or pipes in: hex with spaces, colons or nothing, log lines of
quectel-CM -v, qmicli -v and qcm's own trace around it, or anything else. ``text_to_bytes`` may
refuse it with one UsageError line (an odd number of hex digits) and nothing else; the frames
it finds are decoded and rendered as ``qcm decode`` prints them, in text (made printable, it
must encode as UTF-8) and JSON, with and without personal data.
"""

from __future__ import annotations

import json
from typing import List

from qcm.cli.decode import decode_stream, text_to_bytes
from qcm.errors import UsageError
from qcm.printable import printable

NAME = "decode"

_FRAME = "01 26 00 80 02 01 02 05 00 23 00 1a 00 02 04 00 01 00 5e 00 01 10 00 45 43 32 35 41 46 41 52 30 35 " \
         "41 30 37 4d 34 47"
_IMSI = "01 1c 00 80 02 01 02 01 00 43 00 10 00 02 04 00 00 00 00 00 01 0f 00 33 30 32 37 32 30 30 30 30 30 30 " \
        "30 30 30 30"

SEEDS = [
    _FRAME,
    _FRAME.replace(" ", ":"),
    _FRAME.replace(" ", ""),
    _FRAME + " " + _IMSI,
    "[12-03_15:42:23:503] 01 0f 00 00 00 00 00 01 22 00 04 00 01 01 00 01\n"
    "[12-03_15:42:23:504] " + _FRAME.replace(" ", ":") + "\n",
    "[/dev/cdc-wdm0] sent generic request (translated)...\n<<<<<< QMUX:\n<<<<<<   length  = 15\n"
    "<<<<<< RAW:\n<<<<<<   length = 16\n<<<<<<   data   = 01:0f:00:00:00:00:00:01:22:00:04:00:01:01:00:01\n",
    "2026-12-03 15:42:35,384 qcm.qmi.trace: << <- DMS response Get Revision (0x0023) client 2 transaction 5\n"
    "    " + _FRAME + "\n",
    "01 2",
    "no hex at all, 20:35:36",
]


def seeds() -> List[bytes]:
    return [text.encode() for text in SEEDS]


def run(data: bytes) -> None:
    text = data.decode("utf-8", "replace")  # what qcm decode makes of a file or a pipe
    try:
        frames = text_to_bytes(text)
    except UsageError as exc:
        printable(str(exc)).encode("utf-8")
        return
    for personal in (False, True):
        items = list(decode_stream(frames, personal))
        json.dumps([{k: v for k, v in item.items() if k != "text"} for item in items])
        "\n".join(printable(line) for item in items for line in item["text"]).encode("utf-8")
