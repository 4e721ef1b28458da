"""What the module does with each packet on its network interface, sans I/O.

Between the host and the carrier sits the module's own little router. It answers DHCP (the
call's address, or with NAT in Ethernet-style modes an address of its LAN), router
solicitations (the call's IPv6 prefix and DNS servers), ARP and neighbour solicitations when
the link is 802-3, DNS on its LAN address, and forwards the rest to the network only while a
call is up, for the call's address, and only when both ends agree on the framing.
``ModuleRouter`` gets bytes and the time, and says what goes to the host, what goes to the
network, and why anything was refused; ``datapath.py`` moves the bytes.

In QMAP mode (WDA Set Data Format with QMAP aggregation) the link carries QMAP frames: a packet
passes only on the mux id its call's WDS client was bound to (Bind Mux Data Port), only while
the data format is QMAP over raw IP and the host agrees on raw IP, and only for its call's
address. Each APN is its own network: a call reaches its own APN's test host, never another's.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import List, Optional, Set, Tuple

from ..qmi import qmap
from . import dns
from .dhcp_server import DhcpServer, Offer
from .modem import Call, SimModem
from .packets import (BROADCAST_MAC, ETH_ARP, ETH_IP, ETH_IP6, UDP, Ip, arp_reply, ethernet, parse_arp_request,
                      parse_ethernet, parse_ip, rewrite_ipv4, udp)
from .router6 import (ALL_NODES, ROUTER, is_router_solicitation, neighbour_advertisement, router_advertisement,
                      solicited_target)

__all__ = ["ModuleRouter", "Lan", "MODULE_MAC", "Verdict"]

MODULE_MAC = bytes.fromhex("0250f3000001")   # locally administered: the module's side of the link
_ALL_NODES_MAC = bytes.fromhex("333300000001")


@dataclass(frozen=True)
class Lan:
    """The module's own LAN in Ethernet-style modes with NAT (what a real EC25 puts on 192.168.225.0/24)."""

    network: ipaddress.IPv4Network

    @property
    def router(self) -> ipaddress.IPv4Address:
        return self.network[1]

    @property
    def host(self) -> ipaddress.IPv4Address:
        return self.network[min(100, self.network.num_addresses - 2)]


@dataclass
class Verdict:
    to_host: List[bytes]
    to_network: Optional[bytes] = None
    refused: Optional[str] = None       # why the packet went nowhere (counted by the data path)
    answered: bool = False              # the module's own software answered (DHCP, a solicitation): it takes
                                        # the module's latency, as its AT and QMI answers do
    qmap: bool = False                  # to_host holds QMAP transfers (the host's driver demuxes them)


class ModuleRouter:
    def __init__(self, modem: SimModem, lan: Optional[Lan] = None, lease_time: int = 7200) -> None:
        self.modem = modem
        self.lan = lan
        self.dhcp = DhcpServer(lease_time)
        self.ethernet = False                 # the host's interface is 802-3 (a TAP) rather than raw IP
        self.framing_ok = True                # host and module agree on the framing
        self.host_mac: Optional[bytes] = None
        self.blackholed: Set[int] = set()     # handles of calls that are "up" but carry nothing (a fault)
        self._announced: Set[ipaddress.IPv6Network] = set()

    @property
    def qmap_version(self) -> Optional[int]:
        return self.modem.qmap_version

    def _apn_of_host(self, address: "ipaddress._BaseAddress") -> Optional[str]:
        """The APN whose network holds this test host, if it is one."""
        for name, host4, host6 in self.modem.config.apn_hosts:
            if str(address) in (host4, host6):
                return name.lower()
        return None

    def _other_network(self, call: Call, address: "ipaddress._BaseAddress") -> bool:
        owner = self._apn_of_host(address)
        return owner is not None and owner != call.apn.lower()

    # ------------------------------------------------------------ the calls

    def _call(self, family: int) -> Optional[Call]:
        return next((c for c in self.modem.calls.values() if c.family == family), None)

    def _offer(self) -> Optional[Offer]:
        mtu = self.modem.config.mtu
        if self.lan is not None:
            return Offer(self.lan.host, self.lan.network, self.lan.router, (self.lan.router,), self.lan.router, mtu)
        call = self._call(4)
        if call is None or call.ipv4 is None or call.gateway4 is None:
            return None
        servers = tuple(ipaddress.IPv4Address(a) for a in self.modem.config.dns4)
        return Offer(call.ipv4.ip, call.ipv4.network, call.gateway4, servers, call.gateway4, mtu)

    def _prefix(self) -> Optional[ipaddress.IPv6Network]:
        call = self._call(6)
        return call.ipv6.network if call is not None and call.ipv6 is not None else None

    # ------------------------------------------------------------ host -> module

    def from_host(self, data: bytes, now: float) -> Verdict:
        if not self.framing_ok:
            return Verdict([], refused="framing-mismatch")  # the two ends read each other's bytes as garbage
        if self.qmap_version is not None:
            return Verdict([], refused="not-qmap")  # the module reads QMAP headers: a bare packet is garbage
        packet = data
        if self.ethernet:
            frame = parse_ethernet(data)
            if frame is None:
                return Verdict([], refused="malformed")
            _, source_mac, ethertype, packet = frame
            self.host_mac = source_mac
            if ethertype == ETH_ARP:
                return self._arp(packet)
            if ethertype not in (ETH_IP, ETH_IP6):
                return Verdict([], refused="not-ip")
        ip = parse_ip(packet)
        if ip is None:
            return Verdict([], refused="malformed")
        if ip.version == 4 and ip.protocol == UDP and _port(ip, 2) == 67:
            return self._dhcp(ip, now)
        if self.lan is not None and ip.version == 4 and ip.destination == self.lan.router:
            return self._lan_service(ip)
        source6 = ip.source if isinstance(ip.source, ipaddress.IPv6Address) else None
        if source6 is not None and is_router_solicitation(ip):
            destination = source6 if not source6.is_unspecified else ALL_NODES
            return Verdict([self._to_host_ip(self._advertisement(destination))], answered=True)
        target = solicited_target(ip)
        if source6 is not None and target is not None:
            if self.ethernet and target == ROUTER:
                return Verdict([self._to_host_ip(neighbour_advertisement(ROUTER, source6, MODULE_MAC))])
            return Verdict([], refused="neighbour-discovery")
        return self._forward_up(packet, ip)

    def _arp(self, payload: bytes) -> Verdict:
        request = parse_arp_request(payload)
        if request is None:
            return Verdict([], refused="arp")
        sender_mac, sender_ip, target_ip = request
        offer = self._offer()
        if target_ip == sender_ip or (offer is not None and target_ip == offer.address):
            return Verdict([], refused="arp")  # a probe for the host's own address: nobody else has it
        return Verdict([arp_reply(MODULE_MAC, target_ip, sender_mac, sender_ip)])  # the module routes it all

    def _dhcp(self, ip: Ip, now: float) -> Verdict:
        self.dhcp.expired(now)
        reply = self.dhcp.answer(ip.payload[8:], self._offer(), now)
        if reply is None:
            return Verdict([], refused="dhcp-unanswered")
        server = self._offer()
        assert server is not None
        packet = udp(server.server, reply.destination, 67, 68, reply.payload)
        if not self.ethernet:
            return Verdict([packet], answered=True)
        broadcast = reply.destination == ipaddress.IPv4Address("255.255.255.255")
        destination_mac = BROADCAST_MAC if broadcast else reply.client_mac
        return Verdict([ethernet(destination_mac, MODULE_MAC, ETH_IP, packet)], answered=True)

    def _lan_service(self, ip: Ip) -> Verdict:
        """The module's own LAN address: its DNS proxy (what real modules hand out as DNS in NAT mode)."""
        assert self.lan is not None
        if ip.protocol == UDP and _port(ip, 2) == 53:
            answer = dns.answer(ip.payload[8:])
            if answer is not None:
                return Verdict([self._to_host_ip(udp(self.lan.router, ip.source, 53, _port(ip, 0), answer))])
        return Verdict([], refused="to-module")

    def _forward_up(self, packet: bytes, ip: Ip) -> Verdict:
        call = self._call(ip.version)
        if call is None:
            return Verdict([], refused="no-call")
        if ip.version == 4:
            own = self.lan.host if self.lan is not None else (call.ipv4.ip if call.ipv4 else None)
            if ip.source != own:
                return Verdict([], refused="wrong-address")
            if self.lan is not None and call.ipv4 is not None:
                packet = rewrite_ipv4(packet, source=call.ipv4.ip)  # the module's NAT
        elif call.ipv6 is None or ip.source not in call.ipv6.network:
            return Verdict([], refused="wrong-address")
        if self._other_network(call, ip.destination):
            return Verdict([], refused="other-apn")
        if self._blackholed():
            return Verdict([], refused="blackhole")
        return Verdict([], to_network=packet)

    # ------------------------------------------------------------ QMAP

    def from_host_qmap(self, transfer: bytes) -> List[Verdict]:
        """One transfer of QMAP frames from the host (what qmi_wwan's qmimux links or rmnet send)."""
        if not self.framing_ok or self.qmap_version is None:
            return [Verdict([], refused="framing-mismatch" if not self.framing_ok else "qmap-off")]
        packets, problem = qmap.decode(transfer, self.qmap_version)
        verdicts = [self._mux_up(p) for p in packets if not p.command]
        if problem is not None:
            verdicts.append(Verdict([], refused="qmap-malformed"))
        return verdicts

    def _mux_up(self, item: qmap.QmapPacket) -> Verdict:
        ip = parse_ip(item.payload)
        if ip is None:
            return Verdict([], refused="malformed")
        call = next((c for c in self.modem.calls.values() if c.family == ip.version and c.mux_id == item.mux_id),
                    None)
        if call is None:
            return Verdict([], refused="no-call-on-mux")
        own = call.ipv4.ip if ip.version == 4 and call.ipv4 else None
        if ip.version == 4 and ip.source != own:
            return Verdict([], refused="wrong-address")
        if ip.version == 6 and (call.ipv6 is None or ip.source not in call.ipv6.network):
            return Verdict([], refused="wrong-address")
        if self._other_network(call, ip.destination):
            return Verdict([], refused="other-apn")
        if self._blackholed():
            return Verdict([], refused="blackhole")
        return Verdict([], to_network=item.payload)

    def _to_mux(self, packet: bytes, ip: Ip) -> Verdict:
        """Network -> host in QMAP mode: onto the mux of the call that owns the destination."""
        call = next((c for c in self.modem.calls.values() if c.family == ip.version and (
            (c.ipv4 is not None and ip.destination == c.ipv4.ip)
            or (c.ipv6 is not None and ip.destination in c.ipv6.network))), None)
        if call is None:
            return Verdict([], refused="no-call")
        if call.mux_id is None:
            return Verdict([], refused="unbound-call")
        if self._other_network(call, ip.source):
            return Verdict([], refused="other-apn")
        if self._blackholed():
            return Verdict([], refused="blackhole")
        qmap_version = self.qmap_version or 1
        transfer = qmap.encode(call.mux_id, packet, qmap_version, min_padding=self.modem.config.qmap_min_padding)
        return Verdict([transfer], qmap=True)

    def _blackholed(self) -> bool:
        return bool(self.blackholed) and any(c.handle in self.blackholed for c in self.modem.calls.values())

    # ------------------------------------------------------------ network -> host

    def from_network(self, packet: bytes) -> Verdict:
        if not self.framing_ok:
            return Verdict([], refused="framing-mismatch")
        ip = parse_ip(packet)
        if ip is None:
            return Verdict([], refused="malformed")
        if self.qmap_version is not None:
            return self._to_mux(packet, ip)
        call = self._call(ip.version)
        if call is None:
            return Verdict([], refused="no-call")
        if self._other_network(call, ip.source):
            return Verdict([], refused="other-apn")
        if ip.version == 4:
            if call.ipv4 is None or ip.destination != call.ipv4.ip:
                return Verdict([], refused="wrong-address")
            if self.lan is not None:
                packet = rewrite_ipv4(packet, destination=self.lan.host)
        elif call.ipv6 is None or ip.destination not in call.ipv6.network:
            return Verdict([], refused="wrong-address")
        if self._blackholed():
            return Verdict([], refused="blackhole")
        if self.ethernet and self.host_mac is None:
            return Verdict([], refused="no-neighbour")
        return Verdict([self._to_host_ip(packet)])

    def announcements(self) -> List[bytes]:
        """Unsolicited RAs when an IPv6 call comes up (hosts that gave up soliciting learn the prefix)."""
        prefixes = {c.ipv6.network for c in self.modem.calls.values() if c.ipv6 is not None}
        new = prefixes - self._announced
        self._announced = prefixes
        if not new or not self.framing_ok or self.qmap_version is not None:
            return []  # (in QMAP mode the module announces nothing: hosts are configured over QMI)
        return [self._to_host_ip(self._advertisement(ALL_NODES))]

    # ------------------------------------------------------------ framing

    def _advertisement(self, destination: ipaddress.IPv6Address) -> bytes:
        servers = [ipaddress.IPv6Address(a) for a in self.modem.config.dns6]
        return router_advertisement(destination, self._prefix(), servers, self.modem.config.mtu,
                                    MODULE_MAC if self.ethernet else None)

    def _to_host_ip(self, packet: bytes) -> bytes:
        if not self.ethernet:
            return packet
        ip = parse_ip(packet)
        multicast = ip is not None and ip.destination.is_multicast
        destination = _ALL_NODES_MAC if multicast else (self.host_mac or BROADCAST_MAC)
        return ethernet(destination, MODULE_MAC, ETH_IP6 if packet[0] >> 4 == 6 else ETH_IP, packet)


def _port(ip: Ip, offset: int) -> int:
    """A UDP port of the packet (offset 0: source, 2: destination), 0 if it is too short."""
    if len(ip.payload) < offset + 2:
        return 0
    return int.from_bytes(ip.payload[offset:offset + 2], "big")


def framing(modem_link_layer: str, host_raw_ip: bool) -> Tuple[bool, bool]:
    """(the host's interface is 802-3, both ends agree) for a QMI module. qmi_wwan is 802-3 until
    raw_ip is set, the module frames what its WDA data format says; when they disagree nothing
    passes, whatever the interface looks like, so the simulator keeps its raw-IP TUN then."""
    agree = host_raw_ip == (modem_link_layer == "raw-ip")
    return agree and not host_raw_ip, agree
