"""Staying connected: every simulated fault ends with the connection restored (or a clear state).

The faults a module shows whatever its control protocol (a call dropped, the network lost, a
reset, a mute modem, garbage, the SIM pulled, a new address) run in both modes: QMI, and MBIM
(``usbnet = "mbim"``). One family dropping alone is QMI's: an MBIM session ends whole."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from qcm.io.control import ask

pytestmark = pytest.mark.root

V4, V6 = "198.51.100.1", "2001:db8:100::1"


class Session:
    def __init__(self, lab, *args):
        self.lab = lab
        self.process = lab.background(lab.qcm_argv(*lab.connect_args(*args)))
        lab.wait_connected(self.process)

    def status(self):
        return ask(self.lab.run_dir / "wwan0.sock", {"command": "status"}, timeout=10)["status"]

    def fault(self, *words):
        result = subprocess.run([sys.executable, "-m", "qcm", "sim", "ctl", str(self.lab.modem_dir), *words],
                                capture_output=True, text=True, timeout=10, env=self.lab.env)
        assert json.loads(result.stdout)["ok"], result.stdout + result.stderr
        return time.monotonic()

    def until(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():
                    return
            except Exception:
                pass
            time.sleep(0.05)
        raise AssertionError("%s not within %.0f s; status: %s\n%s" % (what, timeout, self.safe_status(), self.output()))

    def safe_status(self):
        try:
            return self.status()
        except Exception as exc:
            return "unavailable (%s)" % exc

    def restored(self, timeout, reconnects=None):
        def ok():
            status = self.status()
            return status["state"] == "connected" and (reconnects is None or status["reconnects"] >= reconnects)
        self.until(ok, timeout, "connected again")
        self.until(lambda: self.lab.ping(V4), 10, "IPv4 traffic")

    def output(self):
        return self.lab.output(self.process)

    def stop(self):
        self.process.terminate()
        assert self.process.wait(20) == 0
        return self.lab.output(self.process)


@pytest.fixture
def mode(request):
    """The module's control protocol: QMI unless a test runs in both modes (BOTH_MODES)."""
    return getattr(request, "param", "qmi")


BOTH_MODES = pytest.mark.parametrize("mode", ["qmi", "mbim"], indirect=True)


@pytest.fixture
def session(lab, mode):
    sessions = []

    def start(*sim_args, connect=("-4", "-6", "-s", "internet")):
        usbnet = ("--set", "usbnet=mbim") if mode == "mbim" else ()
        s = Session(lab(*usbnet, *sim_args), *connect)
        sessions.append(s)
        return s

    yield start
    for s in sessions:
        if s.process.poll() is None:
            s.process.terminate()
            s.process.wait(20)


@BOTH_MODES
def test_call_dropped_by_the_network(session):
    s = session()
    s.fault("drop", "reason=gsm-wcdma-regular-deactivation")
    s.restored(10, reconnects=1)
    assert s.lab.ping(V6)
    assert "regular-deactivation" in s.status()["last_error"]


def test_one_family_drops_alone(session):
    s = session()
    v4_address = [c for c in s.status()["bearers"] if c["family"] == 4][0]["address"]
    s.fault("drop", "family=6")
    s.until(lambda: s.lab.ping(V6), 10, "IPv6 back")
    assert [c for c in s.status()["bearers"] if c["family"] == 4][0]["address"] == v4_address  # v4 untouched


@BOTH_MODES
def test_deregistration_and_return(session):
    s = session()
    s.fault("deregister", "seconds=2")
    s.until(lambda: s.status()["state"] != "connected", 5, "noticed the loss")
    s.restored(15, reconnects=1)


@BOTH_MODES
def test_modem_reset_vanishes_and_comes_back(session):
    s = session()
    s.fault("reset", "seconds=1.5")
    s.until(lambda: s.status()["state"] == "waiting-for-modem", 5, "waiting for the module")
    s.restored(20, reconnects=1)
    assert s.lab.ping(V6)


@BOTH_MODES
def test_modem_that_stops_answering_is_recovered_by_the_ladder(session):
    s = session(connect=("-4", "-s", "internet", "--timeout", "1", "--poll-interval", "1"))
    s.fault("mute")
    s.restored(60, reconnects=1)
    out = s.stop()
    assert "connection restored by" in out


@BOTH_MODES
def test_garbage_on_the_control_port_is_survived(session):
    s = session()
    s.fault("garbage", "bytes=300")
    time.sleep(0.3)
    assert s.status()["state"] == "connected" and s.status()["reconnects"] == 0
    assert s.lab.ping(V4)


@BOTH_MODES
def test_sim_removed_gives_a_clear_state_and_reinsertion_restores(session):
    s = session()
    s.fault("sim-remove")
    s.until(lambda: "waiting for a SIM" in s.status()["state"], 15, "waiting for a SIM")
    status = s.status()
    assert "no SIM card" in status["last_error"] and status["sim"] == "absent"
    s.fault("sim-insert")
    s.restored(15, reconnects=1)


def test_signal_change_shows_in_status(session):
    s = session()
    s.fault("signal", "rsrp=-112")
    s.until(lambda: s.status()["registration"]["signal_dbm"] == -112, 5, "new signal")


@BOTH_MODES
def test_address_change_is_followed(session):
    s = session()
    before = [c for c in s.status()["bearers"] if c["family"] == 4][0]["address"]
    s.fault("readdress", "family=4")
    s.until(lambda: [c for c in s.status()["bearers"] if c["family"] == 4][0]["address"] != before, 10,
            "new address")
    s.until(lambda: s.lab.ping(V4), 10, "traffic on the new address")


def test_probes_pass_on_a_working_link_which_is_never_redialled(session):
    # Both families, ping and DNS: a probe that cannot succeed would redial a healthy link forever.
    s = session(connect=("-4", "-6", "-s", "internet", "--probe", "ping:198.51.100.1", "--probe", "ping:" + V6,
                         "--probe", "dns:internet.example@198.51.100.53", "--probe-interval", "0.2",
                         "--probe-failures", "1"))
    time.sleep(3)  # about 15 rounds of probes, each of which would count as a drop if it failed
    status = s.status()
    assert status["state"] == "connected" and status["reconnects"] == 0, status
    assert status["last_error"] == "", status
    assert s.lab.ping(V4) and s.lab.ping(V6)


def test_probe_detects_connected_but_no_traffic(session):
    s = session(connect=("-4", "-s", "internet", "--probe", "ping:198.51.100.1", "--probe-interval", "0.5",
                         "--probe-failures", "2"))
    s.fault("blackhole")
    assert not s.lab.ping(V4)
    s.restored(15, reconnects=1)
    assert "probe failed" in s.status()["last_error"]


@BOTH_MODES
def test_sigterm_stops_within_bounds_even_when_the_modem_is_silent(session):
    s = session(connect=("-4", "-6", "-s", "internet", "--timeout", "2"))
    before = s.lab.snapshot()
    s.fault("mute")
    start = time.monotonic()
    s.process.terminate()
    assert s.process.wait(30) == 0
    assert time.monotonic() - start < 16
    assert not s.lab.ping(V4, count=1)
    assert s.lab.snapshot()["addresses"] != before["addresses"]  # host side removed even so


def test_systemd_notify_and_metrics(lab, tmp_path):
    lab = lab()
    sock_path = str(tmp_path / "notify")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(sock_path)
    listener.settimeout(20)
    metrics = tmp_path / "qcm.prom"
    env = dict(lab.env, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="400000")
    process = subprocess.Popen(lab.qcm_argv(*lab.connect_args("-s", "internet", "--metrics-file", str(metrics))),
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        messages = []
        while not any("READY=1" in m for m in messages):
            messages.append(listener.recv(4096).decode())
        ready = [m for m in messages if "READY=1" in m][0]
        assert "STATUS=connected: IPv4 100.64." in ready
        while sum("WATCHDOG=1" in m for m in messages) < 3:
            messages.append(listener.recv(4096).decode())
        assert "qcm_connected" in metrics.read_text() and 'qcm_call_up{family="ipv4",netdev="wwan0",pdn="1"} 1' in \
            metrics.read_text()
        process.terminate()
        assert process.wait(20) == 0
        while "STOPPING=1" not in messages[-1]:
            messages.append(listener.recv(4096).decode())
    finally:
        if process.poll() is None:
            process.kill()
        listener.close()
        os.unlink(sock_path)


def test_dns_that_cannot_be_written_warns_once_and_never_costs_the_link(lab, tmp_path):
    lab = lab()
    argv = ["connect", "--resolv-conf", str(tmp_path / "no-such-dir" / "resolv.conf"), "--dns", "file",
            "-4", "-s", "internet", "--poll-interval", "1"]
    process = lab.background(lab.qcm_argv(*argv))
    lab.wait_connected(process)
    time.sleep(2.5)
    status = ask(lab.run_dir / "wwan0.sock", {"command": "status"}, timeout=10)["status"]
    assert status["state"] == "connected" and status["reconnects"] == 0, status
    assert lab.ping(V4)
    output = lab.output(process)
    assert output.count("the DNS servers could not be installed") == 1, output
    process.terminate()
    assert process.wait(20) == 0
