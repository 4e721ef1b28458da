"""Building and reading the few packet kinds the simulated module's router handles (sans I/O):
Ethernet, ARP, IPv4, IPv6, UDP and ICMPv6 headers with their checksums."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Optional, Union

from ..dhcp.frames import checksum


__all__ = ["checksum", "Ip", "parse_ip", "ipv4", "ipv6", "udp", "icmpv6", "ethernet", "parse_ethernet",
           "arp_reply", "parse_arp_request", "rewrite_ipv4", "ETH_IP", "ETH_IP6", "ETH_ARP", "BROADCAST_MAC"]

ETH_IP, ETH_ARP, ETH_IP6 = 0x0800, 0x0806, 0x86DD
BROADCAST_MAC = b"\xff" * 6
UDP, ICMPV6, TCP, ICMP = 17, 58, 6, 1

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


@dataclass(frozen=True)
class Ip:
    """An IPv4 or IPv6 packet's addresses, protocol and payload."""

    version: int
    source: Address
    destination: Address
    protocol: int
    payload: bytes
    header_length: int


def parse_ip(packet: bytes) -> Optional[Ip]:
    if not packet:
        return None
    version = packet[0] >> 4
    if version == 4 and len(packet) >= 20:
        length = (packet[0] & 0x0F) * 4
        total = struct.unpack_from("!H", packet, 2)[0]
        if length < 20 or total < length or len(packet) < total:
            return None
        return Ip(4, ipaddress.IPv4Address(packet[12:16]), ipaddress.IPv4Address(packet[16:20]), packet[9],
                  packet[length:total], length)
    if version == 6 and len(packet) >= 40:
        size = struct.unpack_from("!H", packet, 4)[0]
        if len(packet) < 40 + size:
            return None
        return Ip(6, ipaddress.IPv6Address(packet[8:24]), ipaddress.IPv6Address(packet[24:40]), packet[6],
                  packet[40:40 + size], 40)
    return None


def ipv4(source: ipaddress.IPv4Address, destination: ipaddress.IPv4Address, protocol: int, payload: bytes,
         ttl: int = 64) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, ttl, protocol, 0,
                         source.packed, destination.packed)
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload


def ipv6(source: ipaddress.IPv6Address, destination: ipaddress.IPv6Address, next_header: int, payload: bytes,
         hop_limit: int = 64) -> bytes:
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), next_header, hop_limit, source.packed,
                       destination.packed) + payload


def _pseudo_header(source: Address, destination: Address, protocol: int, length: int) -> bytes:
    if source.version == 4:
        return source.packed + destination.packed + struct.pack("!BBH", 0, protocol, length)
    return source.packed + destination.packed + struct.pack("!IxxxB", length, protocol)


def udp(source: Address, destination: Address, source_port: int,
        destination_port: int, payload: bytes) -> bytes:
    """A whole IP packet carrying a UDP datagram."""
    segment = struct.pack("!HHHH", source_port, destination_port, 8 + len(payload), 0) + payload
    value = checksum(_pseudo_header(source, destination, UDP, len(segment)) + segment) or 0xFFFF
    segment = segment[:6] + struct.pack("!H", value) + segment[8:]
    if source.version == 4:
        return ipv4(source, destination, UDP, segment)  # type: ignore[arg-type]
    return ipv6(source, destination, UDP, segment)  # type: ignore[arg-type]


def icmpv6(source: ipaddress.IPv6Address, destination: ipaddress.IPv6Address, kind: int, code: int,
           body: bytes) -> bytes:
    """A whole IPv6 packet carrying an ICMPv6 message (hop limit 255, as neighbour discovery needs)."""
    message = struct.pack("!BBH", kind, code, 0) + body
    value = checksum(_pseudo_header(source, destination, ICMPV6, len(message)) + message)
    return ipv6(source, destination, ICMPV6, message[:2] + struct.pack("!H", value) + message[4:], hop_limit=255)


def ethernet(destination: bytes, source: bytes, ethertype: int, payload: bytes) -> bytes:
    return destination + source + struct.pack("!H", ethertype) + payload


def parse_ethernet(frame: bytes) -> Optional["tuple[bytes, bytes, int, bytes]"]:
    """(destination MAC, source MAC, ethertype, payload)"""
    if len(frame) < 14:
        return None
    return frame[0:6], frame[6:12], struct.unpack_from("!H", frame, 12)[0], frame[14:]


def parse_arp_request(payload: bytes) -> Optional["tuple[bytes, ipaddress.IPv4Address, ipaddress.IPv4Address]"]:
    """(sender MAC, sender IP, target IP) of an Ethernet/IPv4 ARP request."""
    if len(payload) < 28:
        return None
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", payload, 0)
    if (htype, ptype, hlen, plen, op) != (1, ETH_IP, 6, 4, 1):
        return None
    return payload[8:14], ipaddress.IPv4Address(payload[14:18]), ipaddress.IPv4Address(payload[24:28])


def arp_reply(our_mac: bytes, our_ip: ipaddress.IPv4Address, their_mac: bytes,
              their_ip: ipaddress.IPv4Address) -> bytes:
    body = struct.pack("!HHBBH6s4s6s4s", 1, ETH_IP, 6, 4, 2, our_mac, our_ip.packed, their_mac, their_ip.packed)
    return ethernet(their_mac, our_mac, ETH_ARP, body)


def rewrite_ipv4(packet: bytes, source: Optional[ipaddress.IPv4Address] = None,
                 destination: Optional[ipaddress.IPv4Address] = None) -> bytes:
    """The packet with a new source or destination (the module's NAT), checksums made right."""
    ip = parse_ip(packet)
    if ip is None or ip.version != 4:
        return packet
    new_source = source or ipaddress.IPv4Address(ip.source)
    new_destination = destination or ipaddress.IPv4Address(ip.destination)
    header = bytearray(packet[:ip.header_length])
    header[12:16], header[16:20] = new_source.packed, new_destination.packed
    header[10:12] = b"\0\0"
    header[10:12] = struct.pack("!H", checksum(bytes(header)))
    payload = bytearray(ip.payload)
    fragment = struct.unpack_from("!H", packet, 6)[0] & 0x1FFF
    offset = {TCP: 16, UDP: 6}.get(ip.protocol)
    if offset is not None and not fragment and len(payload) >= offset + 2:
        if not (ip.protocol == UDP and payload[6:8] == b"\0\0"):  # UDP without a checksum keeps none
            payload[offset:offset + 2] = b"\0\0"
            value = checksum(_pseudo_header(new_source, new_destination, ip.protocol, len(payload)) + bytes(payload))
            payload[offset:offset + 2] = struct.pack("!H", value or (0xFFFF if ip.protocol == UDP else 0))
    return bytes(header) + bytes(payload) + packet[ip.header_length + len(ip.payload):]
