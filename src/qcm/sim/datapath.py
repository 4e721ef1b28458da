"""The simulated modem's data path: a raw-IP TUN as wwan0, and a carrier network behind it.

The host sees ``wwan0``, a TUN device (IFF_TUN | IFF_NO_PI), exactly what qmi_wwan shows in
raw-IP mode. Behind it the simulator owns a "carrier" network namespace with a second TUN
(``pgw0``, the packet gateway), an internet host at 198.51.100.1 and 2001:db8:100::1 that
answers ping, and a DNS server (198.51.100.53, 2001:db8:100::53) that knows internet.example.

Packets are relayed only as a real network would: while a call is up, for the address the
call was given, and only when the host's framing (qmi/raw_ip) matches the modem's.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
from collections import Counter
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from ..io.netlink import Netlink
from . import dns, netns
from .modem import SimModem

__all__ = ["DataPath"]

log = logging.getLogger("qcm.sim.data")



class DataPath:
    def __init__(self, modem: SimModem, netdev: str, raw_ip_path: Optional[Path]) -> None:
        self.modem = modem
        self.netdev = netdev
        self.raw_ip_path = raw_ip_path
        self.carrier = "qcm-carrier-%d" % os.getpid()
        self.ue_fd: Optional[int] = None
        self.pgw_fd: Optional[int] = None
        self.dns_sockets: List[socket.socket] = []
        self.counters: Counter = Counter()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self.host_raw_ip = modem.config.host_raw_ip
        self.blackholed: set = set()   # handles of calls that are "up" but carry nothing (a fault)
        self.up = False

    # ------------------------------------------------------------ set-up

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        netns.create(self.carrier)
        with netns.entered(self.carrier):
            self.pgw_fd = netns.open_tun("pgw0")
            self._configure_carrier()
            for address in self._dns_servers():  # the servers the calls are given: the scenario's
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_DGRAM)
                sock.setblocking(False)
                sock.bind((address, 53))
                self.dns_sockets.append(sock)
        loop.add_reader(self.pgw_fd, self._downlink)
        for sock in self.dns_sockets:
            loop.add_reader(sock.fileno(), self._dns, sock)
        self.attach()

    def _dns_servers(self) -> Tuple[str, ...]:
        return tuple(self.modem.config.dns4) + tuple(self.modem.config.dns6)

    def attach(self) -> None:
        """Create the host's wwan0 (at start, and when a simulated reset brings the module back)."""
        assert self._loop is not None
        self.ue_fd = netns.open_tun(self.netdev)
        self._loop.add_reader(self.ue_fd, self._uplink)
        self.up = True

    def detach(self) -> None:
        """wwan0 vanishes, as when the module resets or is unplugged."""
        if self.ue_fd is not None and self._loop is not None:
            self._loop.remove_reader(self.ue_fd)
            os.close(self.ue_fd)
        self.ue_fd = None
        self.up = False

    def _configure_carrier(self) -> None:
        for path in ("net/ipv4/conf/all/rp_filter", "net/ipv4/conf/default/rp_filter"):
            netns.write_sysctl(path, "0")
        with Netlink() as nl:
            lo = nl.link("lo")
            pgw = nl.link("pgw0")
            assert lo is not None and pgw is not None
            nl.set_link(lo.index, up=True)
            nl.set_link(pgw.index, up=True)
            for address in (dns.INTERNET_V4, dns.INTERNET_V6, *self._dns_servers()):
                ip = ipaddress.ip_address(address)
                nl.add_address(lo.index, ip, 32 if ip.version == 4 else 128, 0x02 if ip.version == 6 else 0)
            from ..netlink.rtnl import Route
            for pool in (self.modem.config.ipv4_pool, self.modem.config.ipv6_pool):
                network = ipaddress.ip_network(pool)
                family = socket.AF_INET if network.version == 4 else socket.AF_INET6
                nl.add_route(Route(family=family, dst=network.network_address, dst_len=network.prefixlen,
                                   oif=pgw.index, scope=0))

    def close(self) -> None:
        self.detach()
        if self._loop is not None and self.pgw_fd is not None:
            self._loop.remove_reader(self.pgw_fd)
            os.close(self.pgw_fd)
            self.pgw_fd = None
        for sock in self.dns_sockets:
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self.dns_sockets = []
        netns.delete(self.carrier)

    # ------------------------------------------------------------ policy

    def _host_raw_ip(self) -> bool:
        """The host's qmi/raw_ip (the server keeps ``host_raw_ip`` current as the file is written)."""
        return True if self.raw_ip_path is None else self.host_raw_ip

    def _call_address_matches(self, packet: bytes, source: bool) -> bool:
        version = packet[0] >> 4
        if version == 4 and len(packet) >= 20:
            address = ipaddress.IPv4Address(packet[12:16] if source else packet[16:20])
            return any(c.ipv4 is not None and c.ipv4.ip == address for c in self.modem.calls.values())
        if version == 6 and len(packet) >= 40:
            address = ipaddress.IPv6Address(packet[8:24] if source else packet[24:40])
            return any(c.ipv6 is not None and address in c.ipv6.network for c in self.modem.calls.values())
        return False

    def _allowed(self, packet: bytes, uplink: bool) -> Optional[str]:
        """None if the network would carry this packet, else why not."""
        if self.modem.link_layer != "raw-ip" or not self._host_raw_ip():
            return "framing-mismatch"  # the host sends raw IP, the modem expects 802.3 (or the reverse)
        if not self.modem.calls:
            return "no-call"
        if not self._call_address_matches(packet, source=uplink):
            return "wrong-address"
        if self.blackholed and any(c.handle in self.blackholed for c in self.modem.calls.values()):
            return "blackhole"
        return None

    # ------------------------------------------------------------ relay

    def _relay(self, source_fd: Optional[int], target: Callable[[], Optional[int]], uplink: bool) -> None:
        if source_fd is None:
            return
        for _ in range(64):
            try:
                packet = os.read(source_fd, 65536)
            except (BlockingIOError, OSError):
                return
            direction = "up" if uplink else "down"
            refused = self._allowed(packet, uplink)
            fd = target()
            if refused or fd is None:
                self.counters["%s-dropped-%s" % (direction, refused or "no-interface")] += 1
                continue
            try:
                os.write(fd, packet)
                self.counters["%s-packets" % direction] += 1
                self.counters["%s-bytes" % direction] += len(packet)
            except OSError:
                self.counters["%s-dropped-write" % direction] += 1

    def _uplink(self) -> None:
        self._relay(self.ue_fd, lambda: self.pgw_fd, uplink=True)

    def _downlink(self) -> None:
        self._relay(self.pgw_fd, lambda: self.ue_fd, uplink=False)

    def _dns(self, sock: socket.socket) -> None:
        try:
            query, peer = sock.recvfrom(4096)
        except OSError:
            return
        reply = dns.answer(query)
        if reply is not None:
            self.counters["dns-answers"] += 1
            try:
                sock.sendto(reply, peer)
            except OSError:
                pass
