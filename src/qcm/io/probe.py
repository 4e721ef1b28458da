"""Data-plane probes: does traffic really pass through the module's interface?

A ping (ICMP or ICMPv6 echo on a raw socket) or a DNS query, bound to the interface with
SO_BINDTODEVICE so it cannot leak out through another route. Needs root (CAP_NET_RAW).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import random
import socket
import struct
from dataclasses import dataclass


__all__ = ["Probe", "parse_probe", "run_probe"]

SO_BINDTODEVICE = 25


@dataclass(frozen=True)
class Probe:
    kind: str        # ping | dns
    target: str      # address to ping, or DNS server
    name: str = ""   # name to resolve (dns)

    @property
    def family(self) -> int:
        return ipaddress.ip_address(self.target).version

    def describe(self) -> str:
        return "ping %s" % self.target if self.kind == "ping" else "dns %s@%s" % (self.name, self.target)


def parse_probe(text: str) -> Probe:
    """``ping:ADDRESS`` or ``dns:NAME@SERVER``."""
    kind, _, rest = text.partition(":")
    try:
        if kind == "ping":
            ipaddress.ip_address(rest)
            return Probe("ping", rest)
        if kind == "dns":
            name, _, server = rest.partition("@")
            ipaddress.ip_address(server)
            labels = name.rstrip(".").split(".")
            if name and len(name) <= 253 and all(0 < len(label) <= 63 for label in labels):
                return Probe("dns", server, name)
    except ValueError:
        pass
    raise ValueError("a probe is ping:ADDRESS or dns:NAME@SERVER, got %r" % text)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo(family: int, ident: int, seq: int) -> bytes:
    kind = 8 if family == 4 else 128
    payload = b"qcm-probe" + os.urandom(8)
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if family == 6:
        return header + payload  # the kernel fills in the ICMPv6 checksum
    return struct.pack("!BBHHH", kind, 0, _checksum(header + payload), ident, seq) + payload


def _dns_query(name: str, ident: int) -> bytes:
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.rstrip(".").split("."))
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", 1, 1)


async def run_probe(probe: Probe, netdev: str, timeout: float = 2.0) -> bool:
    """True if the target answered through ``netdev`` within ``timeout``."""
    family = probe.family
    af = socket.AF_INET if family == 4 else socket.AF_INET6
    try:
        if probe.kind == "ping":
            sock = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_ICMP if family == 4 else socket.IPPROTO_ICMPV6)
        else:
            sock = socket.socket(af, socket.SOCK_DGRAM)
    except OSError:  # no CAP_NET_RAW, no file descriptors left: the probe fails, qcm carries on
        return False
    loop = asyncio.get_running_loop()
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, netdev.encode())
        ident = random.randrange(1, 0xFFFF)
        packet = _echo(family, ident, 1) if probe.kind == "ping" else _dns_query(probe.name, ident)
        port = 0 if probe.kind == "ping" else 53
        # A plain connect(), not loop.sock_connect(): asyncio resolves the address again with
        # getaddrinfo(type=SOCK_RAW), which no resolver supports, so every ping failed. Connecting a
        # datagram or raw socket to a numeric address completes at once and filters replies by source.
        sock.connect((probe.target, port))
        sock.send(packet)
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                reply = await asyncio.wait_for(loop.sock_recv(sock, 4096), remaining)
            except asyncio.TimeoutError:
                return False
            if _answers(probe, family, reply, ident):
                return True
    except OSError:
        return False
    finally:
        sock.close()


def _answers(probe: Probe, family: int, reply: bytes, ident: int) -> bool:
    if probe.kind == "dns":
        return len(reply) >= 12 and struct.unpack_from("!H", reply, 0)[0] == ident and bool(reply[2] & 0x80) \
            and (reply[3] & 0x0F) == 0 and struct.unpack_from("!H", reply, 6)[0] > 0
    offset = (reply[0] & 0x0F) * 4 if family == 4 else 0  # IPv4 raw sockets include the IP header
    if len(reply) < offset + 8:
        return False
    kind, _, _, got_ident = struct.unpack_from("!BBHH", reply, offset)
    return kind == (0 if family == 4 else 129) and got_ident == ident


