"""The supervisor's decisions, on a fake clock: redial, backoff, ladder, modem loss, stop."""

from qcm.connect import supervisor as sv

BOTH = frozenset({4, 6})


def make(**policy):
    return sv.Supervisor(BOTH, sv.Policy(**policy), random=lambda: 0.5)  # no jitter


def connected(s, now=0.0, families=BOTH):
    s.handle(sv.Connected(families), now)


def test_start_connects_both_families():
    s = make()
    assert s.start(0.0) == [sv.Connect(BOTH, sv.REDIAL)]
    connected(s)
    assert s.state == sv.CONNECTED and s.reconnects == 0


def test_a_drop_is_redialled_at_once_for_that_family_only():
    s = make()
    s.start(0.0)
    connected(s)
    actions = s.handle(sv.CallDropped(6, "network ended it"), 10.0)
    assert actions == [sv.Disconnect(frozenset({6})), sv.Connect(frozenset({6}), sv.REDIAL)]
    assert s.up == {4} and s.last_error == "network ended it"
    connected(s, 10.1, frozenset({6}))
    assert s.state == sv.CONNECTED and s.reconnects == 1


def test_backoff_is_capped_and_the_ladder_climbs_and_restarts():
    s = make(backoff_base=1.0, backoff_cap=8.0)
    s.start(0.0)
    now, delays, rungs = 0.0, [], []
    for _ in range(9):
        s.handle(sv.ConnectFailed("timeout", kind="modem"), now)
        delays.append(round(s.timer() - now, 3))
        now = s.timer()
        rungs.append(s.on_timer(now)[0].rung)
    assert delays == [1, 2, 4, 8, 8, 8, 8, 8, 8]
    assert rungs == [sv.REOPEN, sv.RADIO, sv.REBIND, sv.REDIAL, sv.REOPEN, sv.RADIO, sv.REBIND, sv.REDIAL, sv.REOPEN]


def test_jitter_stays_within_bounds():
    for value in (0.0, 1.0):
        s = sv.Supervisor(BOTH, sv.Policy(backoff_base=10, jitter=0.2), random=lambda v=value: v)
        s.start(0.0)
        s.handle(sv.ConnectFailed("x"), 0.0)
        assert 8.0 <= s.timer() <= 12.0


def test_waiting_for_a_sim_does_not_climb_the_ladder_and_an_insertion_retries_at_once():
    s = make()
    s.start(0.0)
    for now in (0.0, 5.0, 10.0):
        s.handle(sv.ConnectFailed("no SIM", kind="sim", waiting="waiting for a SIM"), now)
    assert s.climbs == 0 and s.waiting == "waiting for a SIM" and s.state == sv.BACKING_OFF
    assert s.handle(sv.SimInserted(), 11.0) == [sv.Connect(BOTH, sv.REDIAL)]


def test_fatal_failures_stop():
    s = make()
    s.start(0.0)
    assert s.handle(sv.ConnectFailed("PIN rejected", fatal=True, status=4), 0.0) == [sv.Disconnect(BOTH), sv.Exit(4)]
    assert s.handle(sv.CallDropped(4), 1.0) == []


def test_modem_lost_and_back():
    s = make()
    s.start(0.0)
    connected(s)
    assert s.handle(sv.ModemLost("gone"), 1.0) == [sv.Disconnect(BOTH, modem_gone=True)]
    assert s.handle(sv.ModemLost("gone again"), 1.1) == []
    assert s.handle(sv.ConnectFailed("stale"), 1.2) == []  # an attempt the loss overtook
    assert s.handle(sv.ModemBack(), 3.0) == [sv.Connect(BOTH, sv.REDIAL)]
    connected(s, 3.5)
    assert s.reconnects == 1


def test_unresponsive_modem_backs_off_then_reopens():
    s = make()
    s.start(0.0)
    connected(s)
    assert s.handle(sv.ModemUnresponsive("timeouts"), 5.0) == [sv.Disconnect(BOTH)]
    assert s.on_timer(s.timer())[0].rung == sv.REOPEN


def test_registration_back_cuts_the_backoff_short():
    s = make(backoff_base=30.0)
    s.start(0.0)
    s.handle(sv.ConnectFailed("no service", kind="registration"), 0.0)
    assert s.handle(sv.Registered(), 2.0) == [sv.Connect(BOTH, sv.REOPEN)]


def test_only_its_cure_cuts_a_wait_short_and_wrong_apns_do_not_climb():
    s = make(backoff_base=30.0)
    s.start(0.0)
    for now in (0.0, 40.0, 80.0):
        s.handle(sv.ConnectFailed("unknown APN", kind="call"), now)
    assert s.climbs == 0 and s.on_timer(s.timer())[0].rung == sv.REDIAL
    s.handle(sv.ConnectFailed("unknown APN", kind="call"), 200.0)
    assert s.handle(sv.SimInserted(), 201.0) == []


def test_a_reset_rung_takes_every_family_down_first():
    s = make()
    s.start(0.0)
    connected(s)
    s.handle(sv.CallDropped(6), 1.0)
    s.handle(sv.ConnectFailed("timeout", kind="modem"), 1.1)
    actions = s.on_timer(s.timer())
    assert actions == [sv.Disconnect(frozenset({4})), sv.Connect(BOTH, sv.REOPEN)]


def test_a_drop_that_overtakes_its_own_connect_is_redialled():
    s = make()
    s.start(0.0)
    s.handle(sv.CallDropped(4, "gone at once"), 0.1)
    actions = s.handle(sv.Connected(BOTH), 0.2)
    assert actions == [sv.Disconnect(frozenset({4})), sv.Connect(frozenset({4}), sv.REDIAL)]
    assert s.up == {6}


def test_a_family_dropping_while_the_other_comes_up_is_redialled():
    s = make()
    s.start(0.0)
    s.handle(sv.CallDropped(6), 0.1)  # not up yet: nothing to do now
    assert s.handle(sv.Connected(frozenset({4})), 0.2) == [sv.Connect(frozenset({6}), sv.REDIAL)]


def test_address_change_and_stop():
    s = make()
    s.start(0.0)
    connected(s)
    assert s.handle(sv.AddressChanged(4), 1.0) == [sv.Refresh(4)]
    assert s.handle(sv.StopRequested(), 2.0) == [sv.Disconnect(BOTH), sv.Exit(0)]
    assert s.state == sv.STOPPING
