"""DHCPv4 messages (RFC 2131, options of RFC 2132): build them, and read them back without ever
raising on what a network sends. No I/O."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

__all__ = ["DhcpMessage", "decode", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM",
           "KIND_NAMES", "OPT", "ANY", "BROADCAST", "CLIENT_PORT", "SERVER_PORT"]

DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
KIND_NAMES = {DISCOVER: "DISCOVER", OFFER: "OFFER", REQUEST: "REQUEST", DECLINE: "DECLINE", ACK: "ACK", NAK: "NAK",
              RELEASE: "RELEASE", INFORM: "INFORM"}
CLIENT_PORT, SERVER_PORT = 68, 67
ANY = ipaddress.IPv4Address("0.0.0.0")
BROADCAST = ipaddress.IPv4Address("255.255.255.255")
MAGIC = b"\x63\x82\x53\x63"
_FIXED = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")  # op .. file: 236 bytes
BOOTREQUEST, BOOTREPLY = 1, 2


class OPT:
    """Option codes used here (RFC 2132)."""

    SUBNET_MASK, ROUTER, DNS, HOSTNAME, MTU = 1, 3, 6, 12, 26
    REQUESTED_ADDRESS, LEASE_TIME, MESSAGE_TYPE, SERVER_ID, PARAMETERS = 50, 51, 53, 54, 55
    MESSAGE, MAX_SIZE, RENEWAL_TIME, REBINDING_TIME, CLIENT_ID = 56, 57, 58, 59, 61
    PAD, END = 0, 255


@dataclass(frozen=True)
class DhcpMessage:
    op: int
    xid: int
    chaddr: bytes                                   # the client's hardware address (6 bytes for Ethernet)
    options: Dict[int, bytes] = field(default_factory=dict)
    ciaddr: ipaddress.IPv4Address = ANY
    yiaddr: ipaddress.IPv4Address = ANY
    siaddr: ipaddress.IPv4Address = ANY
    giaddr: ipaddress.IPv4Address = ANY
    secs: int = 0
    flags: int = 0

    # ------------------------------------------------------------ reading options

    @property
    def kind(self) -> int:
        value = self.options.get(OPT.MESSAGE_TYPE, b"")
        return value[0] if len(value) == 1 else 0

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, "message type %d" % self.kind)

    def address(self, code: int) -> Optional[ipaddress.IPv4Address]:
        value = self.options.get(code, b"")
        return ipaddress.IPv4Address(value[:4]) if len(value) >= 4 else None

    def addresses(self, code: int) -> Tuple[ipaddress.IPv4Address, ...]:
        value = self.options.get(code, b"")
        return tuple(ipaddress.IPv4Address(value[i:i + 4]) for i in range(0, len(value) - len(value) % 4, 4))

    def seconds(self, code: int) -> Optional[int]:
        value = self.options.get(code, b"")
        return struct.unpack("!I", value)[0] if len(value) == 4 else None

    def number16(self, code: int) -> Optional[int]:
        value = self.options.get(code, b"")
        return struct.unpack("!H", value)[0] if len(value) == 2 else None

    def text(self, code: int) -> str:
        return self.options.get(code, b"").decode("ascii", "replace")

    # ------------------------------------------------------------ the wire

    def encode(self) -> bytes:
        options = bytearray()
        for code, value in self.options.items():
            for start in range(0, max(len(value), 1), 255):  # long options are split (RFC 3396)
                chunk = value[start:start + 255]
                options += bytes([code, len(chunk)]) + chunk
        options.append(OPT.END)
        fixed = _FIXED.pack(self.op, 1, len(self.chaddr), 0, self.xid, self.secs, self.flags, self.ciaddr.packed,
                            self.yiaddr.packed, self.siaddr.packed, self.giaddr.packed, self.chaddr.ljust(16, b"\0"),
                            b"", b"")
        packet = fixed + MAGIC + bytes(options)
        return packet.ljust(300, b"\0")  # BOOTP's minimum: some servers drop shorter requests


def _options(data: bytes) -> Dict[int, bytes]:
    """Options up to END; a truncated last option is dropped, repeated ones concatenated (RFC 3396)."""
    options: Dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        code = data[pos]
        if code == OPT.PAD:
            pos += 1
            continue
        if code == OPT.END or pos + 1 >= len(data):
            break
        size = data[pos + 1]
        if pos + 2 + size > len(data):
            break
        options[code] = options.get(code, b"") + data[pos + 2:pos + 2 + size]
        pos += 2 + size
    return options


def decode(payload: bytes) -> Optional[DhcpMessage]:
    """The message in a UDP payload, or None when it is not a DHCP message at all."""
    if len(payload) < _FIXED.size + 4 or payload[_FIXED.size:_FIXED.size + 4] != MAGIC:
        return None
    op, htype, hlen, _, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, _, _ = _FIXED.unpack_from(payload)
    if op not in (BOOTREQUEST, BOOTREPLY):
        return None
    return DhcpMessage(op, xid, chaddr[:min(hlen, 16)], _options(payload[_FIXED.size + 4:]),
                       ipaddress.IPv4Address(ciaddr), ipaddress.IPv4Address(yiaddr), ipaddress.IPv4Address(siaddr),
                       ipaddress.IPv4Address(giaddr), secs, flags)
