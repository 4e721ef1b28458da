"""The simulated modem's data path: wwan0 (or usb0), and a carrier network behind it.

The host sees ``wwan0``, a TUN device (IFF_TUN | IFF_NO_PI), exactly what qmi_wwan shows in
raw-IP mode; when the module and the host both use 802-3 framing, or in Ethernet-style modes
(ECM, RNDIS, NCM: ``usb0``), a TAP instead. Behind it the simulator owns a "carrier" network
namespace with a second TUN (``pgw0``, the packet gateway), an internet host at 198.51.100.1
and 2001:db8:100::1 that answers ping, and a DNS server (198.51.100.53, 2001:db8:100::53) that
knows internet.example.

What happens to each packet is decided by ``router.ModuleRouter`` (the module's DHCP server,
router advertisements, ARP and neighbour discovery, NAT, and the rule that packets pass only
while a call is up, for its address, with both ends agreeing on the framing); this module
only reads and writes the file descriptors.

QMAP: a mux link (``qmimuxN`` after a write to ``qmi/add_mux``, or qmi_wwan_q's ``wwan0_N``) is
another raw-IP TUN. What the host sends on it is framed as qmi_wwan's qmimux_start_xmit frames
it (a QMAP v1 header with its mux id), and what the module sends down is de-multiplexed as
qmi_wwan's demuxer does (QMAP v1 headers, by mux id): the bytes between the two really are QMAP.
Each APN's test host (``host4``/``host6``) lives in the carrier network too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..io.netlink import Netlink
from ..qmi import qmap
from . import dns, netns
from .modem import SimModem
from .router import Lan, ModuleRouter, framing

__all__ = ["DataPath"]

log = logging.getLogger("qcm.sim.data")



class DataPath:
    def __init__(self, modem: SimModem, netdev: str, raw_ip_path: Optional[Path], lan: Optional[Lan] = None) -> None:
        self.modem = modem
        self.netdev = netdev
        self.raw_ip_path = raw_ip_path   # None: an Ethernet-style function (always 802-3, no raw_ip)
        self.router = ModuleRouter(modem, lan, modem.config.dhcp_lease_s)
        self.carrier = "qcm-carrier-%d" % os.getpid()
        self.ue_fd: Optional[int] = None
        self.pgw_fd: Optional[int] = None
        self.dns_sockets: List[socket.socket] = []
        self.counters: Counter = Counter()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self.host_raw_ip = modem.config.host_raw_ip
        self.up = False
        self.mux_links: Dict[int, Tuple[str, int]] = {}   # mux id -> (interface, TUN fd)
        self.parent_mux: Optional[int] = None               # qmi_wwan_q with qmap_mode=1: wwan0 is mux 0x81

    @property
    def blackholed(self) -> set:
        return self.router.blackholed

    @blackholed.setter
    def blackholed(self, handles: set) -> None:
        self.router.blackholed = handles

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
        self._update_framing()
        self.ue_fd = netns.open_tun(self.netdev, ethernet=self.router.ethernet)
        self._loop.add_reader(self.ue_fd, self._uplink)
        self.up = True

    def _update_framing(self) -> bool:
        """Work out the framing from raw_ip and the module's data format; True if the host's
        interface must change kind (TUN <-> TAP: the kernel changes qmi_wwan's type likewise)."""
        if self.raw_ip_path is None:
            ethernet, agree = True, True
        else:
            ethernet, agree = framing(self.modem.link_layer, self.host_raw_ip)
        changed = ethernet != self.router.ethernet
        self.router.ethernet, self.router.framing_ok = ethernet, agree
        return changed

    def changed(self) -> None:
        """After a request, an AT command or a raw_ip write: new framing, a call that came up."""
        if self._update_framing() and self.up:
            log.info("%s is now %s", self.netdev, "802-3 (TAP)" if self.router.ethernet else "raw IP (TUN)")
            self.detach()
            self.attach()
        self._to_host(self.router.announcements())

    def detach(self) -> None:
        """wwan0 vanishes, as when the module resets or is unplugged (and its mux links with it)."""
        if self.ue_fd is not None and self._loop is not None:
            self._loop.remove_reader(self.ue_fd)
            os.close(self.ue_fd)
        self.ue_fd = None
        self.up = False
        for mux_id in list(self.mux_links):
            self.remove_mux_link(mux_id)

    # ------------------------------------------------------------ QMAP mux links

    def add_mux_link(self, mux_id: int, name: str) -> None:
        """A mux link appears (qmi_wwan's add_mux, qmi_wwan_q's own links): a raw-IP TUN."""
        assert self._loop is not None
        if mux_id in self.mux_links:
            return
        fd = netns.open_tun(name)
        self._loop.add_reader(fd, self._mux_uplink, mux_id)
        self.mux_links[mux_id] = (name, fd)
        log.info("mux link %s for mux id 0x%02x", name, mux_id)

    def remove_mux_link(self, mux_id: int) -> None:
        link = self.mux_links.pop(mux_id, None)
        if link is not None and self._loop is not None:
            self._loop.remove_reader(link[1])
            os.close(link[1])

    def _mux_uplink(self, mux_id: int) -> None:
        link = self.mux_links.get(mux_id)
        for _ in range(64):
            if link is None or self.mux_links.get(mux_id) != link:
                return
            try:
                packet = os.read(link[1], 65536)
            except (BlockingIOError, OSError):
                return
            self._qmap_up(qmap.encode(mux_id, packet, version=1, align=1))  # as qmimux_start_xmit frames it

    def _qmap_up(self, transfer: bytes) -> None:
        for verdict in self.router.from_host_qmap(transfer):
            if verdict.to_network is not None:
                self._write_counted(self.pgw_fd, verdict.to_network, "up")
            elif verdict.refused:
                self.counters["up-dropped-%s" % verdict.refused] += 1

    def _qmap_down(self, transfer: bytes) -> None:
        """The host driver's side: QMAP v1 headers read by mux id, as qmi_wwan's demuxer reads them."""
        packets, problem = qmap.decode(transfer, 1)
        if problem:
            self.counters["down-dropped-qmap-malformed"] += 1
        for item in packets:
            fd = self.mux_links[item.mux_id][1] if item.mux_id in self.mux_links else (
                self.ue_fd if item.mux_id == self.parent_mux else None)
            if fd is None:
                self.counters["down-dropped-no-mux-link"] += 1
                continue
            self._write_counted(fd, item.payload, "down")

    def _configure_carrier(self) -> None:
        for path in ("net/ipv4/conf/all/rp_filter", "net/ipv4/conf/default/rp_filter"):
            netns.write_sysctl(path, "0")
        with Netlink() as nl:
            lo = nl.link("lo")
            pgw = nl.link("pgw0")
            assert lo is not None and pgw is not None
            nl.set_link(lo.index, up=True)
            nl.set_link(pgw.index, up=True)
            hosts = [h for _, host4, host6 in self.modem.config.apn_hosts for h in (host4, host6) if h]
            for address in dict.fromkeys((dns.INTERNET_V4, dns.INTERNET_V6, *hosts, *self._dns_servers())):
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

    # ------------------------------------------------------------ relay

    def _to_host(self, packets: List[bytes]) -> None:
        for packet in packets:
            if self.ue_fd is None:
                return
            try:
                os.write(self.ue_fd, packet)
                self.counters["to-host-answers"] += 1
            except OSError:
                self.counters["to-host-dropped-write"] += 1

    def _uplink(self) -> None:
        for _ in range(64):
            if self.ue_fd is None:
                return
            try:
                data = os.read(self.ue_fd, 65536)
            except (BlockingIOError, OSError):
                return
            if self.parent_mux is not None and self.router.qmap_version is not None:
                self._qmap_up(qmap.encode(self.parent_mux, data, version=1, align=1))
                continue
            verdict = self.router.from_host(data, time.monotonic())
            latency = self.modem.config.latency_ms / 1000.0
            if verdict.answered and latency > 0 and self._loop is not None:
                self._loop.call_later(latency, self._to_host, verdict.to_host)  # --latency-ms: DHCP too
            else:
                self._to_host(verdict.to_host)
            if verdict.to_network is not None:
                self._write_counted(self.pgw_fd, verdict.to_network, "up")
            elif verdict.refused and not verdict.to_host:
                self.counters["up-dropped-%s" % verdict.refused] += 1

    def _downlink(self) -> None:
        for _ in range(64):
            if self.pgw_fd is None:
                return
            try:
                packet = os.read(self.pgw_fd, 65536)
            except (BlockingIOError, OSError):
                return
            verdict = self.router.from_network(packet)
            if not verdict.to_host:
                self.counters["down-dropped-%s" % (verdict.refused or "no-interface")] += 1
            for frame in verdict.to_host:
                if verdict.qmap:
                    self._qmap_down(frame)
                else:
                    self._write_counted(self.ue_fd, frame, "down")

    def _write_counted(self, fd: Optional[int], packet: bytes, direction: str) -> None:
        if fd is None:
            self.counters["%s-dropped-no-interface" % direction] += 1
            return
        try:
            os.write(fd, packet)
            self.counters["%s-packets" % direction] += 1
            self.counters["%s-bytes" % direction] += len(packet)
        except OSError:
            self.counters["%s-dropped-write" % direction] += 1

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
