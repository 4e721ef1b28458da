"""A tiny DNS responder for the simulated carrier network (no I/O here: bytes in, bytes out)."""

from __future__ import annotations

import ipaddress
import struct
from typing import Dict, List, Optional, Tuple

__all__ = ["answer", "RECORDS", "NAME", "INTERNET_V4", "INTERNET_V6"]

INTERNET_V4 = "198.51.100.1"       # the carrier network's "internet" host, which answers pings
INTERNET_V6 = "2001:db8:100::1"
NAME = "internet.example"
RECORDS: Dict[Tuple[str, int], List[bytes]] = {
    (NAME, 1): [ipaddress.IPv4Address(INTERNET_V4).packed],
    (NAME, 28): [ipaddress.IPv6Address(INTERNET_V6).packed],
}


def _question(packet: bytes) -> Optional[Tuple[str, int, int, int]]:
    """(name, qtype, qclass, end offset) of the first question, or None if malformed."""
    pos, labels = 12, []
    while pos < len(packet):
        size = packet[pos]
        if size == 0:
            pos += 1
            break
        if size & 0xC0 or pos + 1 + size > len(packet):
            return None
        labels.append(packet[pos + 1:pos + 1 + size].decode("ascii", "replace").lower())
        pos += 1 + size
    if pos + 4 > len(packet):
        return None
    qtype, qclass = struct.unpack_from("!HH", packet, pos)
    return ".".join(labels), qtype, qclass, pos + 4


def answer(query: bytes, records: Dict[Tuple[str, int], List[bytes]] = RECORDS) -> Optional[bytes]:
    if len(query) < 12:
        return None
    ident, flags, qdcount = struct.unpack_from("!HHH", query, 0)
    if flags & 0x8000 or qdcount != 1:
        return None
    question = _question(query)
    if question is None:
        return None
    name, qtype, _, end = question
    found = records.get((name.rstrip("."), qtype), [])
    known_name = any(key[0] == name.rstrip(".") for key in records)
    rcode = 0 if found or known_name else 3  # NXDOMAIN for names we do not have
    header = struct.pack("!HHHHHH", ident, 0x8180 | (flags & 0x0100) | rcode, 1, len(found), 0, 0)
    body = query[12:end]
    for rdata in found:
        body += struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(rdata)) + rdata
    return header + body
