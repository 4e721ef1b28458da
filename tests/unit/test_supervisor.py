"""The supervisor's decisions, on a fake clock: redial, backoff, ladder, modem loss, stop; and its table."""

import random
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from qcm.backends.base import BearerId
from qcm.connect import supervisor as sv
from qcm.errors import Recovery

V4, V6 = BearerId(1, 4), BearerId(1, 6)
BOTH = frozenset({V4, V6})
State = sv.State
README = Path(__file__).resolve().parents[2] / "README.md"


def make(**policy):
    return sv.Supervisor(BOTH, sv.Policy(**policy), random=lambda: 0.5)  # no jitter


def acts(actions):
    """The actions without the log lines."""
    return [a for a in actions if not isinstance(a, sv.Note)]


def notes(actions):
    return [a.text for a in actions if isinstance(a, sv.Note)]


def connected(s, now=0.0, bearers=BOTH):
    return s.handle(sv.Connected(bearers), now)


def test_start_connects_every_bearer():
    s = make()
    assert s.start(0.0) == [sv.Connect(BOTH, sv.REDIAL)]
    assert notes(connected(s)) == ["connecting -> connected: IPv4, IPv6 up"]
    assert s.state == State.CONNECTED and s.reconnects == 0


def test_a_drop_is_redialled_at_once_for_that_bearer_only_and_says_why():
    s = make()
    s.start(0.0)
    connected(s)
    actions = s.handle(sv.CallDropped(V6, "the network ended the IPv6 call: regular-deactivation (2)"), 10.0)
    assert acts(actions) == [sv.Disconnect(frozenset({V6})), sv.Connect(frozenset({V6}), sv.REDIAL)]
    assert notes(actions) == ["connected -> connecting: the network ended the IPv6 call: regular-deactivation (2)"]
    assert s.up == {V4} and "regular-deactivation" in s.last_error
    connected(s, 10.1, frozenset({V6}))
    assert s.state == State.CONNECTED and s.reconnects == 1


def test_backoff_is_capped_and_the_ladder_climbs_and_restarts():
    s = make(backoff_base=1.0, backoff_cap=8.0)
    s.start(0.0)
    now, delays, rungs = 0.0, [], []
    for _ in range(9):
        s.handle(sv.ConnectFailed("timeout", Recovery.RESET), now)
        delays.append(round(s.timer() - now, 3))
        now = s.timer()
        rungs.append(acts(s.on_timer(now))[0].rung)
    assert delays == [1, 2, 4, 8, 8, 8, 8, 8, 8]
    assert rungs == [sv.REOPEN, sv.RADIO, sv.REBIND, sv.REDIAL, sv.REOPEN, sv.RADIO, sv.REBIND, sv.REDIAL, sv.REOPEN]


def test_a_failure_names_its_cause_and_the_wait():
    s = make(backoff_base=4.0)
    s.start(0.0)
    actions = s.handle(sv.ConnectFailed("IPv4 call rejected: unknown-apn (8)", Recovery.RETRY), 0.0)
    assert notes(actions) == ["connecting -> backing-off: IPv4 call rejected: unknown-apn (8); next attempt in 4 s"]


def test_jitter_stays_within_bounds():
    for value in (0.0, 1.0):
        s = sv.Supervisor(BOTH, sv.Policy(backoff_base=10, jitter=0.2), random=lambda v=value: v)
        s.start(0.0)
        s.handle(sv.ConnectFailed("x"), 0.0)
        assert 8.0 <= s.timer() <= 12.0


def test_waiting_for_a_sim_does_not_climb_the_ladder_and_an_insertion_retries_at_once():
    s = make()
    s.start(0.0)
    now = 0.0
    for _ in range(3):
        s.handle(sv.ConnectFailed("no SIM", Recovery.WAIT_FOR_SIM), now)
        now = s.timer()
        assert acts(s.on_timer(now)) == [sv.Connect(BOTH, sv.REDIAL)]
    s.handle(sv.ConnectFailed("no SIM", Recovery.WAIT_FOR_SIM), now)
    assert s.climbs == 0 and s.waiting == "waiting for a SIM" and s.state == State.BACKING_OFF
    assert acts(s.handle(sv.SimInserted(), now + 0.1)) == [sv.Connect(BOTH, sv.REDIAL)]


def test_fatal_failures_stop():
    s = make()
    s.start(0.0)
    actions = s.handle(sv.ConnectFailed("PIN rejected", Recovery.FATAL, status=4), 0.0)
    assert acts(actions) == [sv.Disconnect(BOTH), sv.Exit(4)]
    assert [n for n in actions if isinstance(n, sv.Note)] == [sv.Note("connecting -> stopping: PIN rejected", True)]
    assert s.handle(sv.CallDropped(V4), 1.0) == []


def test_modem_lost_and_back():
    s = make()
    s.start(0.0)
    connected(s)
    assert acts(s.handle(sv.ModemLost("gone"), 1.0)) == [sv.Disconnect(BOTH, modem_gone=True)]
    assert s.handle(sv.ModemLost("gone again"), 1.1) == []
    assert s.handle(sv.ConnectFailed("stale"), 1.2) == []  # an attempt the loss overtook
    assert acts(s.handle(sv.ModemBack(), 3.0)) == [sv.Connect(BOTH, sv.REDIAL)]
    connected(s, 3.5)
    assert s.reconnects == 1


def test_unresponsive_modem_backs_off_then_reopens():
    s = make()
    s.start(0.0)
    connected(s)
    assert acts(s.handle(sv.ModemUnresponsive("timeouts"), 5.0)) == [sv.Disconnect(BOTH)]
    assert acts(s.on_timer(s.timer()))[0].rung == sv.REOPEN


def test_registration_back_cuts_the_backoff_short():
    s = make(backoff_base=30.0)
    s.start(0.0)
    s.handle(sv.ConnectFailed("no service", Recovery.RESET), 0.0)
    assert acts(s.handle(sv.Registered(), 2.0)) == [sv.Connect(BOTH, sv.REOPEN)]


def test_a_denied_registration_waits_for_the_network_without_climbing():
    s = make(backoff_base=30.0)
    s.start(0.0)
    s.handle(sv.ConnectFailed("registration denied", Recovery.WAIT_FOR_NETWORK), 0.0)
    assert s.climbs == 0 and s.waiting == "waiting for the network"
    assert acts(s.handle(sv.Registered(), 2.0)) == [sv.Connect(BOTH, sv.REDIAL)]


def test_only_its_cure_cuts_a_wait_short_and_wrong_apns_do_not_climb():
    s = make(backoff_base=30.0)
    s.start(0.0)
    for now in (0.0, 40.0, 80.0):
        s.handle(sv.ConnectFailed("unknown APN", Recovery.RETRY), now)
        s.on_timer(s.timer())
    s.handle(sv.ConnectFailed("unknown APN", Recovery.RETRY), 200.0)
    assert s.climbs == 0 and acts(s.on_timer(s.timer()))[0].rung == sv.REDIAL
    s.handle(sv.ConnectFailed("unknown APN", Recovery.RETRY), 300.0)
    assert s.handle(sv.SimInserted(), 301.0) == []


def test_a_reset_rung_takes_every_bearer_down_first():
    s = make()
    s.start(0.0)
    connected(s)
    s.handle(sv.CallDropped(V6), 1.0)
    s.handle(sv.ConnectFailed("timeout", Recovery.RESET), 1.1)
    assert acts(s.on_timer(s.timer())) == [sv.Disconnect(frozenset({V4})), sv.Connect(BOTH, sv.REOPEN)]


def test_a_drop_that_overtakes_its_own_connect_is_redialled():
    s = make()
    s.start(0.0)
    s.handle(sv.CallDropped(V4, "gone at once"), 0.1)
    actions = s.handle(sv.Connected(BOTH), 0.2)
    assert acts(actions) == [sv.Disconnect(frozenset({V4})), sv.Connect(frozenset({V4}), sv.REDIAL)]
    assert s.up == {V6}


def test_a_bearer_dropping_while_the_other_comes_up_is_redialled():
    s = make()
    s.start(0.0)
    s.handle(sv.CallDropped(V6), 0.1)  # not up yet: nothing to do now
    assert s.handle(sv.Connected(frozenset({V4})), 0.2) == [sv.Connect(frozenset({V6}), sv.REDIAL)]


def test_address_change_and_stop():
    s = make()
    s.start(0.0)
    connected(s)
    assert s.handle(sv.AddressChanged(V4), 1.0) == [sv.Refresh(V4)]
    assert s.handle(sv.StopRequested("stopped by SIGTERM"), 2.0) == [
        sv.Note("connected -> stopping: stopped by SIGTERM"), sv.Disconnect(BOTH), sv.Exit(0)]
    assert s.state == State.STOPPING


def test_an_event_the_table_does_not_expect_is_logged_not_dropped():
    s = make()
    s.start(0.0)
    connected(s)
    actions = s.handle(sv.ConnectFailed("late"), 1.0)
    assert actions == [sv.Note("supervisor: connect-failed in state connected changes nothing", True)]
    assert s.state == State.CONNECTED


EVENTS = [sv.Connected(BOTH), sv.Connected(frozenset({V4})), sv.ConnectFailed("x", Recovery.RESET),
          sv.ConnectFailed("x", Recovery.WAIT_FOR_SIM), sv.ConnectFailed("x", Recovery.FATAL, 4),
          sv.CallDropped(V4), sv.CallDropped(V6), sv.AddressChanged(V4), sv.ProbeFailed(V6), sv.ModemLost("x"),
          sv.ModemBack(), sv.ModemUnresponsive("x"), sv.Registered(), sv.SimInserted(), sv.TimerExpired(),
          sv.StopRequested("x")]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(range(len(EVENTS))), max_size=40), st.integers(0, 2 ** 32))
def test_any_sequence_of_events_keeps_to_the_table(indices, seed):
    # handle() asserts that every transition is one the table declares; here any order is thrown at it.
    s = sv.Supervisor(BOTH, random=random.Random(seed).random)
    s.start(0.0)
    for step, index in enumerate(indices):
        s.handle(EVENTS[index], float(step * 100))
        assert s.up <= BOTH
        if s.state == State.STOPPING:
            assert s.handle(sv.StopRequested(), 1e9) == []


def diagram_edges():
    """The README's supervisor diagram: lines of ``state --event--> state``."""
    text = README.read_text()
    block = text[text.index("<!-- supervisor-table -->"):text.index("<!-- /supervisor-table -->")]
    edges = set()
    for line in block.splitlines():
        match = re.match(r"\s*([a-z-]+(?:, [a-z-]+)*) --([a-z-]+)--> ([a-z-]+(?:, [a-z-]+)*)\s*$", line)
        if match:
            for source in match.group(1).split(", "):
                for target in match.group(3).split(", "):
                    edges.add((source, match.group(2), target))
    return edges


def test_the_readme_diagram_is_the_table():
    table = {(str(state), sv.event_name(event), str(target))
             for (state, event), (_, targets) in sv.TABLE.items() for target in targets if target != state}
    assert diagram_edges() == table
