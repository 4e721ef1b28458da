"""``qcm decode``: turn hex dumps of QMI frames into named services, messages and TLVs."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Iterable, List

from ..errors import UsageError
from ..printable import printable

# A run of at least six hex bytes separated by spaces or colons, or one unseparated run of
# at least six bytes. Six keeps timestamps like 20:35:36 out of the byte stream.
_SEPARATED = re.compile(r"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{2}[ :]){5,}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])")
_PACKED = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){6,}(?![0-9A-Fa-f])")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("hex", nargs="*", help="frame bytes as hex (spaces, colons or none); "
                        "several frames may follow each other")
    parser.add_argument("-f", "--file", help="read hex from FILE ('-' for standard input)")
    parser.add_argument("--json", action="store_true", help="print JSON (schemas/decode.schema.json)")
    parser.add_argument("--show-personal", action="store_true",
                        help="show PINs, passwords, IMSI, ICCID and IMEI instead of ###")


def extract_hex(text: str) -> bytes:
    """All frame bytes found in a pasted log, in order."""
    out = bytearray()
    for line in text.splitlines():
        spans = sorted([m.span() for m in _SEPARATED.finditer(line)] + [m.span() for m in _PACKED.finditer(line)])
        last = -1
        for start, end in spans:
            if start < last:
                continue
            out += bytes.fromhex(re.sub(r"[ :]", "", line[start:end]))
            last = end
    return bytes(out)


def text_to_bytes(text: str) -> bytes:
    """The frame bytes in what the user gave: bare hex (bytes separated by spaces or colons, or
    packed), or hex runs found in pasted log lines. Bare hex with a byte of one digit is refused."""
    if not re.fullmatch(r"[0-9A-Fa-f\s:]+", text.strip()):
        return extract_hex(text)
    tokens = [t for t in re.split(r"[\s:]+", text) if t]
    odd = next((t for t in tokens if len(t) % 2), None)
    if odd is not None:
        raise UsageError("hex %s has an odd number of digits; each byte is two hex digits" % (
            odd if len(odd) < 20 else "run of %d digits" % len(odd)),
            "check that nothing was cut off when the frame was copied")
    return bytes.fromhex("".join(tokens))


def decode_stream(data: bytes, show_personal: bool = False) -> Iterable[dict]:
    from ..qmi.message import decode
    from ..qmi.qmux import FrameParser, FramingError
    from ..qmi.render import to_json, to_text

    parser = FrameParser(max_frame_size=0x10000)
    parser.feed(data)
    events = parser.events()
    if parser.buffered:
        events.append(FramingError("incomplete frame at the end", b""))
    for event in events:
        if isinstance(event, FramingError):
            yield {"error": str(event), "text": ["! " + str(event)]}
        else:
            message = decode(event)
            item = to_json(message, show_personal)
            item["text"] = to_text(message, show_personal)
            yield item


def run(args: argparse.Namespace) -> int:
    if args.file:
        text = _stdin() if args.file == "-" else _read(args.file)
    elif args.hex:
        text = " ".join(args.hex)
    elif not sys.stdin.isatty():
        text = _stdin()
    else:
        raise UsageError("nothing to decode", "give hex bytes as arguments, -f FILE, or pipe them in")
    data = text_to_bytes(text)
    if not data:
        raise UsageError("no hex bytes found in the input")
    items = list(decode_stream(data, args.show_personal))
    if args.json:
        json.dump({"schema_version": 1, "frames": [{k: v for k, v in item.items() if k != "text"} for item in items]},
                  sys.stdout, indent=2)  # schemas/decode.schema.json
        sys.stdout.write("\n")
    else:
        out: List[str] = []
        for item in items:
            out.extend(printable(line) for line in item["text"])  # strings in frames are the modem's text
            out.append("")
        sys.stdout.write("\n".join(out))
    return 0 if all("error" not in item for item in items) else 1


def _stdin() -> str:
    """Standard input as text, whatever bytes a pipe brings (a log may hold binary garbage)."""
    return sys.stdin.buffer.read().decode("utf-8", "replace")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError as exc:
        raise UsageError("cannot read %s: %s" % (path, exc.strerror)) from None
