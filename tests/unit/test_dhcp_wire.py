"""DHCP messages, the IP/UDP/ICMPv6 headers around them, and router advertisements: built,
checked and read back; the simulator's module (a different implementation) is the other side."""

import ipaddress
import random
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from qcm.dhcp import frames
from qcm.dhcp.client import DhcpClient, DhcpConfig
from qcm.dhcp.message import OPT, DhcpMessage, decode
from qcm.dhcp.ra import (PrefixChanged, PrefixLost, PrefixObtained, RouterDiscovery, parse_router_advert,
                         solicitation, stable_address)
from qcm.sim import packets, router6
from qcm.sim.dhcp_server import DhcpServer, build_request

MAC = bytes.fromhex("020000000001")
PREFIX = ipaddress.ip_network("2001:db8:4000:1330::/64")
DNS6 = [ipaddress.ip_address("2001:db8:100::53")]


def test_message_round_trip_and_long_options():
    message = DhcpMessage(1, 0x12345678, MAC, {OPT.MESSAGE_TYPE: b"\x01", OPT.HOSTNAME: b"h" * 300},
                          ciaddr=ipaddress.ip_address("192.0.2.9"), secs=7, flags=0x8000)
    back = decode(message.encode())
    assert back == message  # the 300-byte option went out as two (RFC 3396) and came back as one


def test_the_simulators_server_reads_our_requests():
    client = DhcpClient(MAC, DhcpConfig(), random.Random(2))
    client.start(0.0)
    (discover,) = client.datagrams_to_send()
    server = DhcpServer()
    from dhcp_lab import offer
    reply = server.answer(discover.payload, offer(), 0.0)
    assert reply is not None and decode(reply.payload).kind_name == "OFFER"
    assert decode(build_request(1, MAC)).kind_name == "DISCOVER"  # and we read its client's


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_decode_never_raises(data):
    decode(data)
    decode(b"\x02" + bytes(235) + b"\x63\x82\x53\x63" + data)
    frames.parse_dhcp(data)
    frames.parse_icmpv6(data)
    parse_router_advert(data)


def test_dhcp_packets_have_right_checksums_and_are_read_back():
    source, destination = ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("255.255.255.255")
    packet = frames.dhcp_packet(b"hello", source, destination)
    parsed = packets.parse_ip(packet)  # the simulator's reader, a second implementation
    assert parsed.protocol == 17 and parsed.payload[8:] == b"hello" and frames.checksum(packet[:20]) == 0
    reply = packets.udp(ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("192.0.2.100"), 67, 68, b"ack")
    received = frames.parse_dhcp(reply)
    assert received.payload == b"ack" and str(received.source) == "192.0.2.1"
    damaged = bytearray(reply)
    damaged[-1] ^= 0xFF
    assert frames.parse_dhcp(bytes(damaged)) is None          # UDP checksum
    assert frames.parse_dhcp(reply[:10] + b"\0\0" + reply[12:]) is None  # IP header checksum
    assert frames.parse_dhcp(packets.udp(ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("192.0.2.100"),
                                         53, 68, b"x")) is None  # not from the server port


def test_ethernet_framing():
    frame = frames.with_ethernet(b"\x45" + bytes(30), MAC, frames.BROADCAST_MAC)
    assert frame[:6] == b"\xff" * 6 and frame[12:14] == b"\x08\x00"
    assert frames.strip_ethernet(frame) == (MAC, b"\x45" + bytes(30))
    assert frames.strip_ethernet(frame[:10]) is None
    assert frames.multicast_mac(ipaddress.ip_address("ff02::2")) == bytes.fromhex("333300000002")


def advert(prefix=PREFIX, lifetime=1800, dns=DNS6, mac=MAC):
    return router6.router_advertisement(router6.ALL_NODES, prefix, dns, 1480, mac, lifetime)


def test_router_advertisement_from_the_simulated_module():
    ra = parse_router_advert(advert())
    assert ra.router == ipaddress.ip_address("fe80::1") and ra.lifetime == 1800
    assert ra.prefixes == ((PREFIX, 3600),) and ra.mtu == 1480 and ra.dns == tuple(DNS6)
    assert parse_router_advert(advert(prefix=None, lifetime=0)).prefixes == ()


def test_router_advertisements_that_must_be_ignored():
    good = advert()
    hop = bytearray(good)
    hop[7] = 64  # forwarded from elsewhere: RFC 4861 wants 255
    assert parse_router_advert(bytes(hop)) is None
    from_global = packets.icmpv6(ipaddress.ip_address("2001:db8::1"), router6.ALL_NODES, 134, 0, good[44:])
    assert parse_router_advert(from_global) is None
    zero_option = packets.icmpv6(router6.ROUTER, router6.ALL_NODES, 134, 0, good[44:56] + b"\x05\x00" + bytes(6))
    assert parse_router_advert(zero_option) is None


def test_solicitation_is_what_the_module_answers():
    rs = solicitation()
    ip = packets.parse_ip(rs)
    assert router6.is_router_solicitation(ip) and str(ip.source) == "::" and rs[7] == 255
    assert frames.parse_icmpv6(rs) is not None  # checksum right


def test_stable_address_is_stable_and_opaque():
    one = stable_address(PREFIX, MAC)
    assert one == stable_address(PREFIX, MAC) and one.network == PREFIX
    assert one != stable_address(PREFIX, bytes(6)) and MAC[3:] not in one.ip.packed


def test_router_discovery_obtains_refreshes_changes_and_loses():
    rd = RouterDiscovery(MAC, random.Random(1))
    rd.start(0.0)
    assert rd.packets_to_send() == [solicitation()]
    assert 3.6 <= rd.get_timer() <= 4.4
    rd.receive(advert(lifetime=100), 0.5)
    (obtained,) = rd.events()
    assert isinstance(obtained, PrefixObtained)
    settings = obtained.settings
    assert settings.address.network == PREFIX and str(settings.gateway) == "fe80::1" and settings.mtu == 1480
    assert rd.get_timer() == 50.5  # solicit again at half the lifetime
    rd.handle_timer(50.5)
    assert rd.packets_to_send() == [solicitation()]
    rd.receive(advert(lifetime=100), 51.0)
    assert rd.events() == [] and rd.expires_at == 151.0
    other = ipaddress.ip_network("2001:db8:4000:1331::/64")
    rd.receive(advert(prefix=other, lifetime=100), 60.0)
    (changed,) = rd.events()
    assert isinstance(changed, PrefixChanged) and changed.settings.address.network == other
    rd.receive(advert(prefix=None, lifetime=0), 70.0)
    (lost,) = rd.events()
    assert isinstance(lost, PrefixLost) and rd.settings is None


def test_router_discovery_loses_an_advertisement_nobody_renews():
    rd = RouterDiscovery(MAC, random.Random(1))
    rd.start(0.0)
    rd.receive(advert(lifetime=20), 0.0)
    rd.events()
    now = 0.0
    while rd.settings is not None:
        now = rd.get_timer()
        rd.handle_timer(now)
    assert now == 20.0 and isinstance(rd.events()[-1], PrefixLost)
    assert len(rd.packets_to_send()) >= 2  # it kept asking meanwhile


def test_rdnss_with_zero_lifetime_gives_no_servers():
    body = struct.pack("!BBHII", 64, 0, 1800, 0, 0) + struct.pack("!BBBBIII16s", 3, 4, 64, 0xC0, 3600, 1800, 0,
                                                                    PREFIX.network_address.packed)
    body += struct.pack("!BBHI", 25, 3, 0, 0) + DNS6[0].packed
    ra = parse_router_advert(packets.icmpv6(router6.ROUTER, router6.ALL_NODES, 134, 0, body))
    rd = RouterDiscovery(MAC)
    rd.start(0.0)
    rd.receive(packets.icmpv6(router6.ROUTER, router6.ALL_NODES, 134, 0, body), 1.0)
    assert ra.dns_lifetime == 0 and rd.settings.dns == ()
