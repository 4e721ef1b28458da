"""The module's IPv6 router side, sans I/O: router advertisements carrying the call's prefix and
DNS servers (RDNSS), answering router solicitations, and neighbour advertisements in 802-3."""

from __future__ import annotations

import ipaddress
import struct
from typing import Optional, Sequence

from .packets import ICMPV6, Ip, icmpv6

__all__ = ["ROUTER", "ALL_NODES", "router_advertisement", "neighbour_advertisement", "solicited_target",
           "is_router_solicitation", "RS", "RA", "NS", "NA"]

RS, RA, NS, NA = 133, 134, 135, 136
ROUTER = ipaddress.IPv6Address("fe80::1")        # the module's link-local address
ALL_NODES = ipaddress.IPv6Address("ff02::1")


def router_advertisement(destination: ipaddress.IPv6Address, prefix: Optional[ipaddress.IPv6Network],
                         dns: Sequence[ipaddress.IPv6Address], mtu: int, mac: Optional[bytes] = None,
                         lifetime: int = 1800) -> bytes:
    """An RA from the module: default router, on-link/autonomous prefix, MTU, RDNSS (RFC 8106)."""
    body = struct.pack("!BBHII", 64, 0, lifetime if prefix is not None else 0, 0, 0)
    if mac is not None:
        body += struct.pack("!BB6s", 1, 1, mac)
    body += struct.pack("!BBHI", 5, 1, 0, mtu)
    if prefix is not None:
        body += struct.pack("!BBBBIII16s", 3, 4, prefix.prefixlen, 0xC0, lifetime * 2, lifetime, 0,
                            prefix.network_address.packed)
    if dns:
        body += struct.pack("!BBHI", 25, 1 + 2 * len(dns), 0, lifetime) + b"".join(a.packed for a in dns)
    return icmpv6(ROUTER, destination, RA, 0, body)


def is_router_solicitation(ip: Ip) -> bool:
    return ip.version == 6 and ip.protocol == ICMPV6 and ip.payload[:1] == bytes([RS])


def solicited_target(ip: Ip) -> Optional[ipaddress.IPv6Address]:
    """The address a neighbour solicitation asks for."""
    if ip.version == 6 and ip.protocol == ICMPV6 and ip.payload[:1] == bytes([NS]) and len(ip.payload) >= 24:
        return ipaddress.IPv6Address(ip.payload[8:24])
    return None


def neighbour_advertisement(target: ipaddress.IPv6Address, destination: ipaddress.IPv6Address, mac: bytes) -> bytes:
    """'target is at mac' (router, solicited, override), answering a solicitation."""
    body = struct.pack("!I16sBB6s", 0xE0000000, target.packed, 2, 1, mac)
    return icmpv6(target, destination, NA, 0, body)
