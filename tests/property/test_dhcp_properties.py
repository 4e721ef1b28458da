"""Properties of our DHCP client's state machine (hypothesis): whatever is lost, NAKed or left
unanswered, it ends up with the server's lease once the network behaves, never holds an address
the server did not give it, never keeps a lease past its end, and never asks in a busy loop."""

from hypothesis import given, settings
from hypothesis import strategies as st

from dhcp_lab import Link
from qcm.dhcp.client import DhcpConfig, LeaseLost, LeaseObtained, State

SETTINGS = settings(max_examples=80, deadline=None)


def check_invariants(link):
    client = link.client
    timer = client.get_timer()
    if client.state != State.STOPPED:
        assert timer is not None and timer >= link.now - 1e-9, (client.state, timer, link.now)
    lease = client.lease
    if lease is not None:
        assert lease.expires_at is None or link.now < lease.expires_at + 1e-9
        if client.state == State.BOUND:
            binding = next(iter(link.server.bindings.values()), None)
            assert binding is not None and binding.address == lease.address.ip


def run_checked(link, until, step=1.0):
    while link.now < until:
        link.run_until(min(until, link.now + step))
        check_invariants(link)


@SETTINGS
@given(up=st.lists(st.booleans(), max_size=25), down=st.lists(st.booleans(), max_size=25),
       seed=st.integers(0, 1000))
def test_lost_packets_only_delay_the_lease(up, down, seed):
    losses = {"up": list(up), "down": list(down)}

    def lose(direction):
        return lambda kind, now: losses[direction].pop(0) if losses[direction] else False
    link = Link(lease_time=3600, seed=seed)
    link.lose_up, link.lose_down = lose("up"), lose("down")
    link.start()
    run_checked(link, 1200, step=5.0)
    assert link.client.state == State.BOUND
    assert str(link.client.lease.address.ip) == "192.0.2.100"
    sends = len(link.sent)
    assert sends <= 2 * (len(up) + len(down)) + 40  # retransmissions back off: no storm


@SETTINGS
@given(naks=st.lists(st.floats(0, 2000), max_size=6), seed=st.integers(0, 1000))
def test_naks_never_leave_an_address_the_server_did_not_give(naks, seed):
    windows = [(t, t + 30) for t in naks]
    link = Link(lease_time=400, config=DhcpConfig(renew_floor=5, nak_pause=1.0), seed=seed)
    link.nak = lambda now: any(a <= now < b for a, b in windows)
    link.start()
    run_checked(link, 2100, step=2.0)
    run_checked(link, 2600, step=5.0)  # the NAKs are over: the client must be bound again
    assert link.client.state == State.BOUND
    assert len(link.of(LeaseObtained)) == 1 + len(link.of(LeaseLost))


@SETTINGS
@given(silent_from=st.floats(0, 900), silent_for=st.floats(0, 1500), lease=st.integers(60, 900),
       seed=st.integers(0, 1000))
def test_a_lease_ends_exactly_when_renewals_go_unanswered_to_its_end(silent_from, silent_for, lease, seed):
    link = Link(lease_time=lease, config=DhcpConfig(renew_floor=2), seed=seed)
    link.start()
    link.lose_up = lambda kind, now: silent_from <= now < silent_from + silent_for
    obtained = [e.lease for e in link.of(LeaseObtained)]
    run_checked(link, 2500, step=1.0)
    for lost in link.of(LeaseLost):
        if "expired" in lost.reason:
            end = lost.lease.expires_at
            # it was silent from the last renewal it could have made up to the end
            assert silent_from <= end and silent_from + silent_for >= lost.lease.renew_at
    if silent_for == 0 or silent_from > 2500:
        assert not link.of(LeaseLost) and obtained


@SETTINGS
@given(lease=st.integers(120, 100000), floor=st.floats(1, 120), seed=st.integers(0, 1000))
def test_renewing_against_a_silent_server_asks_rarely_and_gives_up_at_the_end(lease, floor, seed):
    link = Link(lease_time=lease, config=DhcpConfig(renew_floor=floor), seed=seed)
    link.start()
    first = link.client.lease
    asked = []
    link.lose_up = lambda kind, now: asked.append(now) or True
    link.run_until(first.expires_at + 0.001)
    renewals = [t for t in asked if t < first.expires_at]
    assert renewals and min(renewals) >= first.renew_at - 1e-9
    gaps = [b - a for a, b in zip(renewals, renewals[1:])]
    assert all(g >= min(floor, 1e9) - 1e-6 or abs(b - first.rebind_at) < 1e-6
               for g, b in zip(gaps, renewals[1:]))
    # halving: about log2(lease / floor) requests in each of the two phases, never more than the floor allows
    assert len(renewals) <= 2 * (lease / floor) + 4
    (lost,) = link.of(LeaseLost)
    assert "expired" in lost.reason and link.client.state == State.SELECTING


@SETTINGS
@given(duration=st.floats(10, 3000), seed=st.integers(0, 1000))
def test_nobody_answering_costs_a_few_packets_a_minute(duration, seed):
    link = Link(seed=seed)
    link.offer = None  # no call, no LAN: the module stays silent
    link.start()
    link.run_until(duration)
    assert len(link.sent) <= 6 + duration / 60.0  # 4, 8, 16, 32, 64, 64 ... s apart
