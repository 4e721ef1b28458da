"""The module's router, sans I/O: DHCP, router advertisements, ARP/ND, NAT and forwarding rules."""

from __future__ import annotations

import ipaddress
import struct

from qcm.qmi.catalogue import catalogue
from qcm.qmi.message import build_frame
from qcm.sim import handlers  # noqa: F401 - registers the handlers
from qcm.sim.config import SimConfig
from qcm.sim.dhcp_server import ACK, DISCOVER, NAK, OFFER, RELEASE, REQUEST, DhcpServer, Offer, build_request, parse_options
from qcm.sim.modem import SimModem
from qcm.sim.packets import ETH_ARP, ETH_IP, checksum, ethernet, parse_ethernet, parse_ip, rewrite_ipv4, udp
from qcm.sim.router import MODULE_MAC, Lan, ModuleRouter
from qcm.sim.router6 import ALL_NODES, router_advertisement

MAC = bytes.fromhex("020000000042")
A = ipaddress.IPv4Address
OFFERED = Offer(A("100.64.0.6"), ipaddress.IPv4Network("100.64.0.4/30"), A("100.64.0.5"), (A("198.51.100.53"),),
                A("100.64.0.5"))


def reply_options(reply):
    return parse_options(reply.payload[240:])


def test_dhcp_discover_offer_request_ack_renew_release():
    server = DhcpServer(lease_time=600)
    offer = server.answer(build_request(DISCOVER, MAC), OFFERED, 0.0)
    assert offer.kind == OFFER and A(offer.payload[16:20]) == OFFERED.address
    options = reply_options(offer)
    assert options[51] == struct.pack("!I", 600) and options[3] == OFFERED.router.packed
    assert options[1] == ipaddress.IPv4Address("255.255.255.252").packed and options[6] == A("198.51.100.53").packed
    ack = server.answer(build_request(REQUEST, MAC, requested=OFFERED.address, server=OFFERED.server), OFFERED, 1.0)
    assert ack.kind == ACK and str(ack.destination) == "255.255.255.255"
    renew = server.answer(build_request(REQUEST, MAC, ciaddr=OFFERED.address), OFFERED, 300.0)
    assert renew.kind == ACK and renew.destination == OFFERED.address  # unicast to the renewing client
    assert server.bindings[MAC].expires == 900.0
    assert server.answer(build_request(RELEASE, MAC, ciaddr=OFFERED.address), OFFERED, 301.0) is None
    assert MAC not in server.bindings


def test_dhcp_naks_an_address_the_module_would_not_give_and_is_silent_without_a_call():
    server = DhcpServer()
    nak = server.answer(build_request(REQUEST, MAC, requested=A("100.64.9.9")), OFFERED, 0.0)
    assert nak.kind == NAK
    assert server.answer(build_request(DISCOVER, MAC), None, 0.0) is None
    assert server.answer(b"\x01garbage", OFFERED, 0.0) is None


def test_router_advertisement_carries_prefix_mtu_and_rdnss():
    packet = router_advertisement(ALL_NODES, ipaddress.IPv6Network("2001:db8:4000:1::/64"),
                                  [ipaddress.IPv6Address("2001:db8:100::53")], 1500)
    ip = parse_ip(packet)
    assert ip.payload[0] == 134 and packet[7] == 255
    assert b"\x20\x01\x0d\xb8\x40\x00\x00\x01" in ip.payload  # the prefix
    assert bytes([25, 3]) in ip.payload and ipaddress.IPv6Address("2001:db8:100::53").packed in ip.payload
    pseudo = ip.source.packed + ip.destination.packed + struct.pack("!IxxxB", len(ip.payload), 58)
    assert checksum(pseudo + ip.payload) == 0


def modem_with_call(family=4, **config):
    modem = SimModem(SimConfig(**config).validate(), now=0.0)
    cid = modem.allocate_client("WDS")
    modem.handle(build_frame(catalogue().method("WDS", "Start Network"), "request", cid, 1,
                             {"apn": "internet", "ip_family_preference": family}), 0.0)
    return modem, next(iter(modem.calls.values()))


def test_router_forwards_only_the_call_address_and_only_when_framing_agrees():
    modem, call = modem_with_call()
    router = ModuleRouter(modem)
    good = udp(call.ipv4.ip, A("198.51.100.1"), 1000, 7, b"x")
    assert router.from_host(good, 0.0).to_network == good
    assert router.from_host(udp(A("100.64.9.9"), A("198.51.100.1"), 1000, 7, b"x"), 0.0).refused == "wrong-address"
    router.framing_ok = False
    assert router.from_host(good, 0.0).refused == "framing-mismatch"
    dhcp = udp(A("0.0.0.0"), A("255.255.255.255"), 68, 67, build_request(DISCOVER, MAC))
    assert router.from_host(dhcp, 0.0).refused == "framing-mismatch"  # seed 001: udhcpc gets nothing
    router.framing_ok = True
    offer = router.from_host(dhcp, 0.0).to_host[0]
    assert parse_ip(offer).source == call.gateway4


def test_router_in_802_3_answers_arp_and_frames_what_it_sends():
    modem, call = modem_with_call(model="BG96")
    router = ModuleRouter(modem)
    router.ethernet = True
    arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_IP, 6, 4, 1, MAC, call.ipv4.ip.packed, b"\0" * 6, call.gateway4.packed)
    reply = router.from_host(ethernet(b"\xff" * 6, MAC, ETH_ARP, arp), 0.0).to_host[0]
    destination, source, kind, body = parse_ethernet(reply)
    assert (destination, source, kind) == (MAC, MODULE_MAC, ETH_ARP) and body[14:18] == call.gateway4.packed
    probe = struct.pack("!HHBBH6s4s6s4s", 1, ETH_IP, 6, 4, 1, MAC, b"\0" * 4, b"\0" * 6, call.ipv4.ip.packed)
    assert router.from_host(ethernet(b"\xff" * 6, MAC, ETH_ARP, probe), 0.0).to_host == []
    down = router.from_network(udp(A("198.51.100.1"), call.ipv4.ip, 7, 1000, b"y")).to_host[0]
    assert parse_ethernet(down)[0] == MAC


def test_lan_mode_leases_its_own_subnet_and_nats_to_the_call():
    modem, call = modem_with_call()
    lan = Lan(ipaddress.IPv4Network("192.0.2.0/24"))
    router = ModuleRouter(modem, lan)
    router.ethernet = True
    discover = udp(A("0.0.0.0"), A("255.255.255.255"), 68, 67, build_request(DISCOVER, MAC))
    offer = router.from_host(ethernet(b"\xff" * 6, MAC, ETH_IP, discover), 0.0).to_host[0]
    assert parse_ip(parse_ethernet(offer)[3]).payload[8 + 16:8 + 20] == A("192.0.2.100").packed
    out = router.from_host(ethernet(MODULE_MAC, MAC, ETH_IP, udp(A("192.0.2.100"), A("198.51.100.1"), 1, 7, b"z")), 0.0)
    sent = parse_ip(out.to_network)
    assert sent.source == call.ipv4.ip and checksum(out.to_network[:20]) == 0
    back = router.from_network(udp(A("198.51.100.1"), call.ipv4.ip, 7, 1, b"w")).to_host[0]
    assert parse_ip(parse_ethernet(back)[3]).destination == A("192.0.2.100")


def test_nat_rewrite_keeps_transport_checksums_valid():
    packet = udp(A("192.0.2.100"), A("198.51.100.1"), 5000, 53, b"hello")
    moved = rewrite_ipv4(packet, source=A("100.64.0.6"))
    ip = parse_ip(moved)
    pseudo = ip.source.packed + ip.destination.packed + struct.pack("!BBH", 0, 17, len(ip.payload))
    assert checksum(pseudo + ip.payload) == 0 and checksum(moved[:20]) == 0
