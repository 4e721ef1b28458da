"""IPv6 from router advertisements, sans I/O: solicit, read the module's advertisement, and make
an address, a default router and DNS servers of it (the IPv6 half of ``--ip-config dhcp``).

Why qcm reads the advertisement itself instead of letting the kernel do SLAAC: qcm owns the
interface's addresses and routes and undoes exactly what it set when the call ends; an address
and a default route the kernel made would outlive the call (until their lifetimes run out),
fight with qcm's route metrics, and the kernel does nothing with the DNS servers (RDNSS) a module
announces. So the kernel is told not to accept advertisements on this interface while qcm holds
it, and the advertisement becomes an ``IpSettings`` like the one QMI gives, configured by the
same host code.

``RouterDiscovery`` solicits (RFC 4861: from the unspecified address, which needs no link-local
address and so no DAD wait), retransmits with backoff (4 s doubling up to 64 s, RFC 7559),
solicits again at half the announced lifetime (modules do not always advertise unasked), and
says when the prefix appeared, changed or was lost. The interface identifier is stable and
opaque (a hash of the prefix and the link address, in the spirit of RFC 7217), not the MAC.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
import struct
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

from ..model import IpSettings
from .frames import icmpv6_packet, parse_icmpv6

__all__ = ["RouterAdvert", "parse_router_advert", "solicitation", "RouterDiscovery", "PrefixObtained",
           "PrefixChanged", "PrefixLost", "ALL_ROUTERS", "ALL_NODES", "UNSPECIFIED"]

RS, RA = 133, 134
ALL_ROUTERS = ipaddress.IPv6Address("ff02::2")
ALL_NODES = ipaddress.IPv6Address("ff02::1")
UNSPECIFIED = ipaddress.IPv6Address("::")
_ON_LINK, _AUTONOMOUS = 0x80, 0x40


@dataclass(frozen=True)
class RouterAdvert:
    router: ipaddress.IPv6Address                  # its link-local source: the next hop
    lifetime: int                                  # as a default router, seconds (0: not one)
    prefixes: Tuple[Tuple[ipaddress.IPv6Network, int], ...] = ()   # autonomous /64s and their valid lifetime
    mtu: Optional[int] = None
    dns: Tuple[ipaddress.IPv6Address, ...] = ()
    dns_lifetime: int = 0


def solicitation() -> bytes:
    """A router solicitation from the unspecified address to all routers (no options: RFC 4861
    forbids the source link-layer option when the source is unspecified)."""
    return icmpv6_packet(UNSPECIFIED, ALL_ROUTERS, struct.pack("!BBHI", RS, 0, 0, 0))


def parse_router_advert(packet: bytes) -> Optional[RouterAdvert]:
    """A router advertisement in an IPv6 packet, checked as RFC 4861 6.1.2 asks; else None."""
    received = parse_icmpv6(packet)
    if received is None or received.hop_limit != 255 or not received.source.is_link_local:
        return None
    message = received.payload
    if len(message) < 16 or message[0] != RA or message[1] != 0:
        return None
    lifetime = struct.unpack_from("!H", message, 6)[0]
    prefixes: List[Tuple[ipaddress.IPv6Network, int]] = []
    mtu: Optional[int] = None
    dns: List[ipaddress.IPv6Address] = []
    dns_lifetime = 0
    pos = 16
    while pos + 2 <= len(message):
        kind, units = message[pos], message[pos + 1]
        size = units * 8
        if size == 0 or pos + size > len(message):
            return None  # RFC 4861: an option of length 0 (or past the end) makes the whole message invalid
        body = message[pos:pos + size]
        if kind == 3 and size == 32:
            length, flags, valid, preferred = struct.unpack_from("!BBII", body, 2)
            try:
                network = ipaddress.IPv6Network((body[16:32], length), strict=False)
            except ValueError:
                network = None
            if network is not None and flags & _AUTONOMOUS and length == 64 and preferred <= valid \
                    and not network.is_link_local:
                prefixes.append((network, valid))
        elif kind == 5 and size == 8:
            value = struct.unpack_from("!I", body, 4)[0]
            mtu = value if 1280 <= value <= 65535 else None
        elif kind == 25 and size >= 24 and (size - 8) % 16 == 0:
            dns_lifetime = struct.unpack_from("!I", body, 4)[0]
            dns += [ipaddress.IPv6Address(body[i:i + 16]) for i in range(8, size, 16)]
        pos += size
    return RouterAdvert(ipaddress.IPv6Address(received.source), lifetime, tuple(prefixes), mtu,
                        tuple(a for a in dns if not (a.is_multicast or a.is_unspecified)), dns_lifetime)


def stable_address(prefix: ipaddress.IPv6Network, link: bytes) -> ipaddress.IPv6Interface:
    """An address in ``prefix`` that stays the same for this link and prefix, and reveals nothing."""
    digest = hashlib.sha256(b"qcm-slaac" + prefix.network_address.packed + link).digest()
    identifier = bytearray(digest[:8])
    if identifier == bytearray(8) or identifier[:7] == b"\xfd\xff\xff\xff\xff\xff\xff":
        identifier[7] ^= 0x55  # RFC 5453's reserved identifiers (all zero, the subnet anycast range)
    return ipaddress.IPv6Interface((prefix.network_address.packed[:8] + bytes(identifier), 64))


@dataclass(frozen=True)
class PrefixObtained:
    settings: IpSettings


@dataclass(frozen=True)
class PrefixChanged:
    settings: IpSettings


@dataclass(frozen=True)
class PrefixLost:
    reason: str


Event = Union[PrefixObtained, PrefixChanged, PrefixLost]


class RouterDiscovery:
    """Solicitations out, advertisements in, an IPv6 ``IpSettings`` as long as one is valid."""

    def __init__(self, link: bytes, rng: Optional[random.Random] = None, first_timeout: float = 4.0,
                 max_timeout: float = 64.0) -> None:
        self.link = link
        self.rng = rng or random.Random()
        self.first_timeout = first_timeout
        self.max_timeout = max_timeout
        self.settings: Optional[IpSettings] = None
        self.expires_at: Optional[float] = None
        self.solicitations = 0
        self._refresh_at: Optional[float] = None
        self._retry_at: Optional[float] = None
        self._timeout = first_timeout
        self._out: List[bytes] = []
        self._events: List[Event] = []
        self.running = False

    def start(self, now: float) -> None:
        self.running = True
        self._timeout = self.first_timeout
        self._solicit(now)

    def stop(self) -> None:
        self.running = False
        self._refresh_at = self._retry_at = None

    def get_timer(self) -> Optional[float]:
        if not self.running:
            return None
        times = [t for t in (self._retry_at, self._refresh_at, self.expires_at) if t is not None]
        return min(times) if times else None

    def packets_to_send(self) -> List[bytes]:
        out, self._out = self._out, []
        return out

    def events(self) -> List[Event]:
        out, self._events = self._events, []
        return out

    def handle_timer(self, now: float) -> None:
        if not self.running:
            return
        if self.expires_at is not None and now >= self.expires_at:
            self._lose("the router's advertisement ran out without being renewed")
            self._timeout = self.first_timeout
            self._solicit(now)
            return
        if self._refresh_at is not None and now >= self._refresh_at:
            self._refresh_at = None
            self._timeout = self.first_timeout
            self._solicit(now)
        elif self._retry_at is not None and now >= self._retry_at:
            self._timeout = min(self._timeout * 2, self.max_timeout)
            self._solicit(now)

    def receive(self, packet: bytes, now: float) -> None:
        if not self.running:
            return
        advert = parse_router_advert(packet)
        if advert is None:
            return
        if advert.lifetime == 0 or not advert.prefixes:
            if self.settings is not None:
                self._lose("the router withdrew (lifetime 0, or no prefix: the IPv6 call ended)")
            return  # not a default router, or nothing to build an address from: keep asking
        prefix, valid = advert.prefixes[0]
        dns = advert.dns if advert.dns_lifetime else ()
        settings = IpSettings(6, stable_address(prefix, self.link), advert.router, dns, advert.mtu)
        lifetime = min(advert.lifetime, valid)
        self.expires_at = now + lifetime
        self._refresh_at = now + lifetime / 2.0
        self._retry_at = None
        previous, self.settings = self.settings, settings
        if previous is None:
            self._events.append(PrefixObtained(settings))
        elif previous != settings:
            self._events.append(PrefixChanged(settings))

    def _solicit(self, now: float) -> None:
        self._out.append(solicitation())
        self.solicitations += 1
        jitter = self.rng.uniform(-0.1, 0.1) * self._timeout
        retry = now + self._timeout + jitter
        limit = self.expires_at
        self._retry_at = min(retry, limit) if limit is not None and limit > now else retry

    def _lose(self, reason: str) -> None:
        self.settings = None
        self.expires_at = None
        self._refresh_at = None
        self._events.append(PrefixLost(reason))
