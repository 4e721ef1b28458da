"""The headers around DHCP and router discovery on a link, sans I/O: Ethernet (on 802-3 links),
IPv4 and UDP for DHCP, IPv6 and ICMPv6 for router solicitations and advertisements.

Our packets are built whole (a DHCP client has no address yet, so the kernel's UDP stack
cannot send them); what arrives is checked (lengths, checksums, ports) before anyone reads it.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Optional, Union

from .message import CLIENT_PORT, SERVER_PORT

__all__ = ["checksum", "Received", "dhcp_packet", "parse_dhcp", "icmpv6_packet", "parse_icmpv6", "with_ethernet",
           "strip_ethernet", "ETH_IP", "ETH_IP6", "BROADCAST_MAC", "multicast_mac"]

ETH_IP, ETH_IP6 = 0x0800, 0x86DD
BROADCAST_MAC = b"\xff" * 6
UDP, ICMPV6 = 17, 58
Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def multicast_mac(address: ipaddress.IPv6Address) -> bytes:
    """The Ethernet address an IPv6 multicast group maps to (33:33 and its last 32 bits)."""
    return b"\x33\x33" + address.packed[-4:]


def with_ethernet(packet: bytes, source: bytes, destination: bytes) -> bytes:
    ethertype = ETH_IP6 if packet[:1] and packet[0] >> 4 == 6 else ETH_IP
    return destination + source + struct.pack("!H", ethertype) + packet


def strip_ethernet(frame: bytes) -> Optional["tuple[bytes, bytes]"]:
    """(source MAC, IP packet) of an Ethernet frame carrying IPv4 or IPv6."""
    if len(frame) < 14 or struct.unpack_from("!H", frame, 12)[0] not in (ETH_IP, ETH_IP6):
        return None
    return frame[6:12], frame[14:]


@dataclass(frozen=True)
class Received:
    source: Address
    destination: Address
    payload: bytes              # the UDP payload (DHCP) or the whole ICMPv6 message
    hop_limit: int = 0


# ---------------------------------------------------------------------- IPv4 / UDP (DHCP)

def dhcp_packet(payload: bytes, source: ipaddress.IPv4Address, destination: ipaddress.IPv4Address) -> bytes:
    """An IPv4 packet carrying ``payload`` from port 68 to port 67."""
    segment = struct.pack("!HHHH", CLIENT_PORT, SERVER_PORT, 8 + len(payload), 0) + payload
    pseudo = source.packed + destination.packed + struct.pack("!BBH", 0, UDP, len(segment))
    value = checksum(pseudo + segment) or 0xFFFF
    segment = segment[:6] + struct.pack("!H", value) + segment[8:]
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0x10, 20 + len(segment), 0, 0, 64, UDP, 0, source.packed,
                         destination.packed)
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + segment


def parse_dhcp(packet: bytes) -> Optional[Received]:
    """The payload of a sound IPv4 UDP datagram from port 67 to port 68, else None."""
    if len(packet) < 28 or packet[0] >> 4 != 4:
        return None
    length = (packet[0] & 0x0F) * 4
    total = struct.unpack_from("!H", packet, 2)[0]
    if length < 20 or total < length + 8 or len(packet) < total or packet[9] != UDP:
        return None
    if struct.unpack_from("!H", packet, 6)[0] & 0x3FFF or checksum(packet[:length]) != 0:
        return None  # a fragment, or a damaged header
    source, destination = ipaddress.IPv4Address(packet[12:16]), ipaddress.IPv4Address(packet[16:20])
    segment = packet[length:total]
    sport, dport, size, value = struct.unpack_from("!HHHH", segment)
    if (sport, dport) != (SERVER_PORT, CLIENT_PORT) or not 8 <= size <= len(segment):
        return None
    segment = segment[:size]
    pseudo = source.packed + destination.packed + struct.pack("!BBH", 0, UDP, size)
    if value and checksum(pseudo + segment) != 0:
        return None
    return Received(source, destination, segment[8:], packet[8])


# ---------------------------------------------------------------------- IPv6 / ICMPv6 (router discovery)

def _pseudo6(source: ipaddress.IPv6Address, destination: ipaddress.IPv6Address, length: int) -> bytes:
    return source.packed + destination.packed + struct.pack("!IxxxB", length, ICMPV6)


def icmpv6_packet(source: ipaddress.IPv6Address, destination: ipaddress.IPv6Address, message: bytes) -> bytes:
    """An IPv6 packet (hop limit 255, as neighbour discovery requires) carrying an ICMPv6 message
    whose checksum field is filled in here."""
    value = checksum(_pseudo6(source, destination, len(message)) + message[:2] + b"\0\0" + message[4:])
    message = message[:2] + struct.pack("!H", value) + message[4:]
    return struct.pack("!IHBB16s16s", 0x60000000, len(message), ICMPV6, 255, source.packed,
                       destination.packed) + message


def parse_icmpv6(packet: bytes) -> Optional[Received]:
    """The ICMPv6 message of a sound IPv6 packet (no extension headers), else None."""
    if len(packet) < 44 or packet[0] >> 4 != 6 or packet[6] != ICMPV6:
        return None
    size = struct.unpack_from("!H", packet, 4)[0]
    if len(packet) < 40 + size or size < 4:
        return None
    source, destination = ipaddress.IPv6Address(packet[8:24]), ipaddress.IPv6Address(packet[24:40])
    message = packet[40:40 + size]
    if checksum(_pseudo6(source, destination, size) + message) != 0:
        return None
    return Received(source, destination, message, packet[7])
