"""Packet sockets on one network interface, for DHCP and router discovery.

A DHCP client has no address to send from, so it cannot use the kernel's UDP stack: it speaks
through an ``AF_PACKET`` socket bound to the interface, building the IP (and, on 802-3 links,
the Ethernet) headers itself (``qcm.dhcp.frames``). On Ethernet links (ECM, RNDIS, NCM,
GobiNet, qmi_wwan in 802-3) the socket is ``SOCK_RAW`` and sees whole frames; on raw-IP links
(qmi_wwan's default, a TUN) it is ``SOCK_DGRAM`` and sees IP packets. A classic BPF filter lets
only what we wait for reach user space (DHCP replies to port 68; ICMPv6 router advertisements),
so an open socket costs nothing while data flows. The interface's ``accept_ra`` is switched off
while qcm reads the advertisements itself, and put back afterwards.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import logging
import socket
import struct
from pathlib import Path
from typing import List, Optional, Tuple

from ..dhcp.frames import BROADCAST_MAC, ETH_IP, ETH_IP6, strip_ethernet, with_ethernet

__all__ = ["LinkSocket", "link_address", "RaSwitch", "DHCP", "ROUTER_ADVERTS"]

log = logging.getLogger(__name__)

DHCP, ROUTER_ADVERTS = "dhcp", "router-adverts"
SIOCGIFHWADDR = 0x8927
ARPHRD_ETHER = 1
SO_ATTACH_FILTER = 26
PACKET_OUTGOING = 4

# Classic BPF: (code, jump if true, jump if false, k); "o" is where the IP header starts.
_LDB, _LDH, _LDH_X, _LDX_MSH, _AND, _JEQ, _JSET, _RET = 0x30, 0x28, 0x48, 0xB1, 0x54, 0x15, 0x45, 0x06


def _dhcp_filter(o: int) -> List[Tuple[int, int, int, int]]:
    """IPv4, UDP, not a fragment, to port 68."""
    return [(_LDB, 0, 0, o), (_AND, 0, 0, 0xF0), (_JEQ, 0, 8, 0x40),
            (_LDB, 0, 0, o + 9), (_JEQ, 0, 6, 17),
            (_LDH, 0, 0, o + 6), (_JSET, 4, 0, 0x1FFF),
            (_LDX_MSH, 0, 0, o), (_LDH_X, 0, 0, o + 2), (_JEQ, 0, 1, 68),
            (_RET, 0, 0, 0x40000), (_RET, 0, 0, 0)]


def _advert_filter(o: int) -> List[Tuple[int, int, int, int]]:
    """IPv6, ICMPv6 without extension headers, a router advertisement."""
    return [(_LDB, 0, 0, o), (_AND, 0, 0, 0xF0), (_JEQ, 0, 5, 0x60),
            (_LDB, 0, 0, o + 6), (_JEQ, 0, 3, 58),
            (_LDB, 0, 0, o + 40), (_JEQ, 0, 1, 134),
            (_RET, 0, 0, 0x40000), (_RET, 0, 0, 0)]


def link_address(netdev: str) -> Tuple[bool, bytes]:
    """(whether the interface is Ethernet, its MAC); raw-IP links get a stable made-up MAC, since
    DHCP needs a hardware address to tell clients apart."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            answer = fcntl.ioctl(probe.fileno(), SIOCGIFHWADDR, struct.pack("256s", netdev.encode()[:15]))
        except OSError as exc:
            raise OSError(exc.errno, "%s: %s" % (netdev, exc.strerror)) from None
    family = struct.unpack_from("H", answer, 16)[0]
    if family == ARPHRD_ETHER:
        return True, answer[18:24]
    made_up = bytearray(hashlib.sha256(b"qcm-link:" + netdev.encode()).digest()[:6])
    made_up[0] = (made_up[0] & 0xFC) | 0x02  # locally administered, unicast
    return False, bytes(made_up)


class LinkSocket:
    """One packet socket on ``netdev`` for DHCP or for router advertisements."""

    def __init__(self, netdev: str, purpose: str) -> None:
        self.netdev = netdev
        self.purpose = purpose
        self.ethernet, self.mac = link_address(netdev)
        protocol = ETH_IP if purpose == DHCP else ETH_IP6
        self.protocol = protocol
        kind = socket.SOCK_RAW if self.ethernet else socket.SOCK_DGRAM
        self.sock = socket.socket(socket.AF_PACKET, kind | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
                                  socket.htons(protocol))
        try:
            offset = 14 if self.ethernet else 0
            self._attach((_dhcp_filter if purpose == DHCP else _advert_filter)(offset))
            self.sock.bind((netdev, protocol))
            self._drain()  # what slipped in before the filter was attached
        except OSError:
            self.sock.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def _attach(self, program: List[Tuple[int, int, int, int]]) -> None:
        code = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
        buffer = ctypes.create_string_buffer(code, len(code))
        fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)

    def _drain(self) -> None:
        while True:
            try:
                self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return

    def send(self, packet: bytes, destination_mac: Optional[bytes] = None) -> None:
        """An IP packet out of the interface; on Ethernet to ``destination_mac`` (default: broadcast)."""
        if self.ethernet:
            self.sock.send(with_ethernet(packet, self.mac, destination_mac or BROADCAST_MAC))
        else:
            self.sock.sendto(packet, (self.netdev, self.protocol))

    def receive(self) -> List[Tuple[bytes, Optional[bytes]]]:
        """(IP packet, the sender's MAC on Ethernet links) for everything waiting."""
        out: List[Tuple[bytes, Optional[bytes]]] = []
        for _ in range(64):
            try:
                data, address = self.sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                if exc.errno in (errno.ENETDOWN, errno.ENXIO, errno.ENODEV):
                    raise
                log.debug("%s: %s", self.netdev, exc)
                break
            if len(address) > 2 and address[2] == PACKET_OUTGOING:
                continue  # our own packets, seen on the way out
            if self.ethernet:
                stripped = strip_ethernet(data)
                if stripped is not None:
                    out.append((stripped[1], stripped[0]))
            else:
                out.append((data, None))
        return out


class RaSwitch:
    """The kernel's own use of router advertisements on one interface (``accept_ra``), off while
    qcm reads them itself, and back as it was afterwards."""

    def __init__(self, netdev: str, proc: Path = Path("/proc/sys/net/ipv6/conf")) -> None:
        self.path = proc / netdev / "accept_ra"
        self.before: Optional[str] = None

    def off(self) -> None:
        try:
            before = self.path.read_text().strip()
            if before != "0":
                self.path.write_text("0\n")
                self.before = before
        except OSError as exc:  # IPv6 disabled on the interface, or no /proc: nothing to fight with
            log.debug("accept_ra of %s: %s", self.path.parent.name, exc)

    def restore(self) -> None:
        before, self.before = self.before, None
        if before is not None:
            try:
                self.path.write_text(before + "\n")
            except OSError as exc:  # the interface went away with its setting
                log.debug("accept_ra of %s: %s", self.path.parent.name, exc)
