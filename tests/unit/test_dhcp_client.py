"""Our DHCPv4 client's states and timers (RFC 2131), against the simulated module's DHCP server,
with the time and the losses chosen by each test."""

import ipaddress
import random

from dhcp_lab import MAC, Link, offer
from qcm.sim.dhcp_server import Offer
from qcm.dhcp.client import (DhcpClient, DhcpConfig, LeaseLost, LeaseObtained, LeaseRenewed, State, Transition)
from qcm.dhcp.message import ACK, OFFER, OPT, DhcpMessage, decode


def test_discover_offer_request_ack():
    link = Link(lease_time=600)
    link.start()
    assert link.sent == ["DISCOVER", "REQUEST"]
    assert link.client.state == State.BOUND
    (obtained,) = link.of(LeaseObtained)
    lease = obtained.lease
    assert lease.address == ipaddress.ip_interface("192.0.2.100/24") and lease.routers == (ipaddress.ip_address("192.0.2.1"),)
    assert lease.renew_at == 300 and lease.rebind_at == 525 and lease.expires_at == 600  # the server's T1/T2
    settings = lease.settings()
    assert settings.family == 4 and str(settings.gateway) == "192.0.2.1" and settings.mtu == 1500


def test_requests_carry_what_rfc_2131_asks():
    link = Link()
    link.start()
    client = DhcpClient(MAC, DhcpConfig(hostname="router"), random.Random(3))
    client.start(0.0)
    (discover,) = client.datagrams_to_send()
    message = decode(discover.payload)
    assert message.kind_name == "DISCOVER" and message.chaddr == MAC and message.ciaddr == ipaddress.ip_address("0.0.0.0")
    assert message.options[OPT.CLIENT_ID] == b"\x01" + MAC and OPT.ROUTER in message.options[OPT.PARAMETERS]
    assert message.text(OPT.HOSTNAME) == "router" and len(discover.payload) >= 300
    assert str(discover.destination) == "255.255.255.255" and str(discover.source) == "0.0.0.0"


def test_renewal_at_t1_is_unicast_and_keeps_the_address():
    link = Link(lease_time=600)
    link.start()
    link.run_until(299)
    assert link.client.state == State.BOUND and not link.of(LeaseRenewed)
    link.run_until(301)
    (renewed,) = link.of(LeaseRenewed)
    assert not renewed.changed and link.client.state == State.BOUND
    assert link.sent[-1] == "REQUEST"
    assert renewed.lease.expires_at == 300 + 600  # counted from the renewal request
    transitions = [(e.old, e.new) for e in link.of(Transition)]
    assert (State.BOUND, State.RENEWING) in transitions and (State.RENEWING, State.BOUND) in transitions


def test_renewal_destination_is_the_server_then_broadcast_when_rebinding():
    link = Link(lease_time=600, config=DhcpConfig(renew_floor=10))
    link.start()
    link.lose_up = lambda kind, now: True   # the server hears nothing any more
    link.run_until(300)
    assert link.client.state == State.RENEWING and link.destinations[-1] == "192.0.2.1"
    link.run_until(530)
    assert link.client.state == State.REBINDING and link.destinations[-1] == "255.255.255.255"
    assert decode_last_ciaddr(link) == "192.0.2.100"  # still its address while rebinding


def decode_last_ciaddr(link):
    link.client.renew(link.now)  # not bound: does nothing
    return str(link.client.lease.address.ip)


def test_silent_server_renewing_waits_half_the_time_left_down_to_the_floor():
    link = Link(lease_time=3600, config=DhcpConfig(renew_floor=60))
    link.start()
    times = []
    link.lose_up = lambda kind, now: times.append(now) or True
    link.run_until(3600 + 30)
    renewing = [t for t in times if 1800 <= t < 3150]
    # T1 at 1800, then half of what is left until T2 (3150): 675 s, 337 s, ... never sooner than 60 s
    assert renewing[:3] == [1800, 1800 + 675, 1800 + 675 + 337.5]
    assert all(b - a >= 60 - 1e-9 or b == 3150 for a, b in zip(renewing, renewing[1:]))
    (lost,) = link.of(LeaseLost)
    assert "expired" in lost.reason
    assert link.client.state == State.SELECTING and link.sent[-1] == "DISCOVER"  # starting over, at once


def test_nak_on_renewal_loses_the_lease_and_starts_over_after_a_pause():
    link = Link(lease_time=600, config=DhcpConfig(nak_pause=2.0))
    link.start()
    link.nak = lambda now: now >= 300
    link.offer = offer("192.0.2.100")
    link.run_until(300)
    (lost,) = link.of(LeaseLost)
    assert "DHCPNAK" in lost.reason and link.client.state == State.INIT and link.client.lease is None
    link.nak = lambda now: False
    link.run_until(305)
    assert link.client.state == State.BOUND and len(link.of(LeaseObtained)) == 2


def test_new_dns_servers_on_renewal_are_a_changed_lease():
    link = Link(lease_time=600)
    link.start()
    before = link.offer
    link.offer = Offer(before.address, before.network, before.router, (ipaddress.ip_address("192.0.2.53"),),
                       before.server)
    link.run_until(301)
    (renewed,) = link.of(LeaseRenewed)
    assert renewed.changed and renewed.lease.dns == (ipaddress.ip_address("192.0.2.53"),)


def test_a_server_that_forgets_us_for_a_while_costs_nothing():
    link = Link(lease_time=600)
    link.start()
    link.offer = None  # the renewal goes unanswered until it answers again, before the lease ends
    link.run_until(400)
    assert link.client.state == State.RENEWING
    link.offer = offer("192.0.2.100")
    link.run_until(600)
    assert not link.of(LeaseLost) and link.client.state == State.BOUND


def test_lost_discover_and_request_are_retransmitted_with_backoff():
    link = Link(lease_time=600)
    lost = {"DISCOVER": 2, "REQUEST": 1}

    def lose(kind, now):
        if lost.get(kind, 0):
            lost[kind] -= 1
            return True
        return False
    link.lose_up = lose
    link.start()
    link.run_until(60)
    assert link.sent[:5] == ["DISCOVER", "DISCOVER", "DISCOVER", "REQUEST", "REQUEST"]
    assert link.client.state == State.BOUND


def test_retransmission_intervals_double_up_to_64_s_with_jitter():
    client = DhcpClient(MAC, DhcpConfig(), random.Random(7))
    client.start(0.0)
    client.datagrams_to_send()
    times = [0.0]
    while times[-1] < 400:
        now = client.get_timer()
        client.handle_timer(now)
        assert len(client.datagrams_to_send()) == 1
        times.append(now)
    gaps = [b - a for a, b in zip(times, times[1:])]
    for gap, nominal in zip(gaps, [4, 8, 16, 32, 64, 64, 64]):
        assert nominal - 1 <= gap <= nominal + 1


def test_requests_unanswered_four_times_start_over():
    link = Link()
    link.lose_down = lambda kind, now: kind == "ACK"
    link.start()
    link.run_until(200)
    assert link.sent[:6] == ["DISCOVER", "REQUEST", "REQUEST", "REQUEST", "REQUEST", "DISCOVER"]


def test_foreign_and_broken_replies_are_ignored():
    client = DhcpClient(MAC, DhcpConfig(), random.Random(1))
    client.start(0.0)
    (discover,) = client.datagrams_to_send()
    xid = decode(discover.payload).xid
    good = {OPT.MESSAGE_TYPE: bytes([OFFER]), OPT.SERVER_ID: bytes([192, 0, 2, 1])}
    address = ipaddress.ip_address("192.0.2.50")
    for message in (DhcpMessage(2, xid + 1, MAC, good, yiaddr=address),             # another transaction
                    DhcpMessage(2, xid, bytes(6), good, yiaddr=address),              # another client
                    DhcpMessage(1, xid, MAC, good, yiaddr=address),                   # a request, not a reply
                    DhcpMessage(2, xid, MAC, good),                                   # no address offered
                    DhcpMessage(2, xid, MAC, {OPT.MESSAGE_TYPE: bytes([ACK])}, yiaddr=address)):  # ACK unasked
        client.receive(message.encode(), 0.1)
    client.receive(b"\x02" * 400, 0.1)
    client.receive(b"", 0.1)
    assert client.state == State.SELECTING and not client.datagrams_to_send()


def test_release_gives_the_lease_back_and_stops():
    link = Link()
    link.start()
    link.client.release(10.0)
    (release,) = link.client.datagrams_to_send()
    message = decode(release.payload)
    assert message.kind_name == "RELEASE" and str(release.destination) == "192.0.2.1"
    assert str(message.ciaddr) == "192.0.2.100" and link.client.state == State.STOPPED
    assert link.client.get_timer() is None


def test_a_lease_without_end_needs_no_timer():
    client = DhcpClient(MAC, DhcpConfig(), random.Random(1))
    client.start(0.0)
    (discover,) = client.datagrams_to_send()
    xid = decode(discover.payload).xid
    server = bytes([192, 0, 2, 1])
    address = ipaddress.ip_address("192.0.2.7")
    client.receive(DhcpMessage(2, xid, MAC, {OPT.MESSAGE_TYPE: bytes([OFFER]), OPT.SERVER_ID: server},
                               yiaddr=address).encode(), 0.1)
    client.datagrams_to_send()
    client.receive(DhcpMessage(2, xid, MAC, {OPT.MESSAGE_TYPE: bytes([ACK]), OPT.SERVER_ID: server,
                                             OPT.LEASE_TIME: b"\xff\xff\xff\xff"}, yiaddr=address).encode(), 0.2)
    assert client.state == State.BOUND and client.get_timer() is None
    assert client.lease.address == ipaddress.ip_interface("192.0.2.7/32")  # no mask given: the address alone
