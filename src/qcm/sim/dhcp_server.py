"""The module's DHCPv4 server, sans I/O: a BOOTP payload and the time in, a reply payload out.

Real modules answer DHCP on their network interface (in raw-IP framing too, which is why
``udhcpc -i wwan0`` works on them): they hand out the data call's address, or in Ethernet-style
modes with NAT an address of their own LAN. Discover gets an offer, a request for what was
offered gets an ack (a request for anything else a nak), a renewal (ciaddr set) gets a fresh
lease while the address is still the one the module would give, release forgets the client.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

__all__ = ["Offer", "Reply", "DhcpServer", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE",
           "INFORM", "parse_options", "build_request"]

DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = range(1, 9)
MAGIC = b"\x63\x82\x53\x63"
_FIXED = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")  # op .. file: 236 bytes
BROADCAST_FLAG = 0x8000
ANY = ipaddress.IPv4Address("0.0.0.0")


@dataclass(frozen=True)
class Offer:
    """What the module hands out now (None from the caller when it has nothing: no call up)."""

    address: ipaddress.IPv4Address
    network: ipaddress.IPv4Network
    router: ipaddress.IPv4Address
    dns: Tuple[ipaddress.IPv4Address, ...]
    server: ipaddress.IPv4Address          # the server identifier (the module's address)
    mtu: int = 1500


@dataclass(frozen=True)
class Reply:
    payload: bytes
    client_mac: bytes
    destination: ipaddress.IPv4Address    # 255.255.255.255, or the client's address when it has one
    kind: int


@dataclass
class _Binding:
    address: ipaddress.IPv4Address
    expires: float


@dataclass
class DhcpServer:
    lease_time: int = 7200
    bindings: Dict[bytes, _Binding] = field(default_factory=dict)

    def answer(self, payload: bytes, offer: Optional[Offer], now: float) -> Optional[Reply]:
        request = _parse(payload)
        if request is None or request["op"] != 1:
            return None
        kind = request["options"].get(53, b"\0")[0:1]
        kind_value = kind[0] if kind else 0
        key = request["options"].get(61) or request["chaddr"]  # the client identifier, else its MAC
        requested = request["options"].get(50)
        server_id = request["options"].get(54)
        ciaddr = ipaddress.IPv4Address(request["ciaddr"])
        if kind_value == RELEASE:
            self.bindings.pop(key, None)
            return None
        if offer is None:
            return None  # nothing to hand out: the module stays silent and the client retries
        if kind_value == DISCOVER:
            return self._reply(request, offer, OFFER, offer.address)
        if kind_value == INFORM:
            return self._reply(request, offer, ACK, ANY)
        if kind_value == DECLINE:
            self.bindings.pop(key, None)
            return None
        if kind_value != REQUEST:
            return None
        if server_id is not None and server_id != offer.server.packed:
            self.bindings.pop(key, None)  # the client chose another server
            return None
        wanted = ipaddress.IPv4Address(requested) if requested and len(requested) == 4 else ciaddr
        if wanted != offer.address:
            self.bindings.pop(key, None)
            return self._reply(request, offer, NAK, ANY)
        self.bindings[key] = _Binding(offer.address, now + self.lease_time)
        return self._reply(request, offer, ACK, offer.address)

    def expired(self, now: float) -> None:
        """Forget leases that ran out (a client that stopped renewing)."""
        for key in [k for k, b in self.bindings.items() if b.expires <= now]:
            del self.bindings[key]

    def _reply(self, request: Dict, offer: Offer, kind: int, yiaddr: ipaddress.IPv4Address) -> Reply:
        options = bytearray(_option(53, bytes([kind])) + _option(54, offer.server.packed))
        if kind != NAK:
            if kind != ACK or yiaddr != ANY:  # an INFORM answer carries no lease
                options += _option(51, struct.pack("!I", self.lease_time))
                options += _option(58, struct.pack("!I", self.lease_time // 2))
                options += _option(59, struct.pack("!I", self.lease_time * 7 // 8))
            options += _option(1, offer.network.netmask.packed) + _option(3, offer.router.packed)
            if offer.dns:
                options += _option(6, b"".join(a.packed for a in offer.dns))
            options += _option(26, struct.pack("!H", offer.mtu))
        options += b"\xff"
        ciaddr = ipaddress.IPv4Address(request["ciaddr"])
        fixed = _FIXED.pack(2, 1, 6, 0, request["xid"], 0, request["flags"], request["ciaddr"], yiaddr.packed,
                            offer.server.packed if kind != NAK else ANY.packed, request["giaddr"],
                            request["chaddr_field"], b"", b"")
        broadcast = kind == NAK or request["flags"] & BROADCAST_FLAG or ciaddr == ANY
        destination = ipaddress.IPv4Address("255.255.255.255") if broadcast else ciaddr
        return Reply(fixed + MAGIC + bytes(options), request["chaddr"], destination, kind)


def _option(code: int, value: bytes) -> bytes:
    return bytes([code, len(value)]) + value


def parse_options(data: bytes) -> Dict[int, bytes]:
    options: Dict[int, bytes] = {}
    pos = 0
    while pos < len(data):
        code = data[pos]
        if code == 0:
            pos += 1
            continue
        if code == 255 or pos + 1 >= len(data):
            break
        size = data[pos + 1]
        options[code] = options.get(code, b"") + data[pos + 2:pos + 2 + size]
        pos += 2 + size
    return options


def _parse(payload: bytes) -> Optional[Dict]:
    if len(payload) < _FIXED.size + 4 or payload[_FIXED.size:_FIXED.size + 4] != MAGIC:
        return None
    op, htype, hlen, _, xid, _, flags, ciaddr, _, _, giaddr, chaddr, _, _ = _FIXED.unpack_from(payload, 0)
    return {"op": op, "xid": xid, "flags": flags, "ciaddr": ciaddr, "giaddr": giaddr, "chaddr_field": chaddr,
            "chaddr": chaddr[:min(hlen, 16)], "options": parse_options(payload[_FIXED.size + 4:])}


def build_request(kind: int, mac: bytes, xid: int = 0x1234, requested: Optional[ipaddress.IPv4Address] = None,
                  server: Optional[ipaddress.IPv4Address] = None, ciaddr: ipaddress.IPv4Address = ANY) -> bytes:
    """A client's message (for tests and for the fuzz target's seeds)."""
    options = _option(53, bytes([kind]))
    if requested is not None:
        options += _option(50, requested.packed)
    if server is not None:
        options += _option(54, server.packed)
    fixed = _FIXED.pack(1, 1, 6, 0, xid, 0, 0, ciaddr.packed, ANY.packed, ANY.packed, ANY.packed,
                        mac.ljust(16, b"\0"), b"", b"")
    return fixed + MAGIC + options + b"\xff"
