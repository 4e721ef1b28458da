"""The AT backend against the simulated module's AT port (a pty; no root needed): the dial styles
of EC2x and BG95 firmware, the SIM and its PIN (never sent twice), registration, the call and
its end with AT+CEER's reason, the port vanishing, and stopping a call a past run left up.
The link side (DHCP) is replaced by a stand-in here; the end-to-end tests run the real one."""

import asyncio
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SRC
from qcm.backends import backend_for
from qcm.backends.base import BackendContext, BearerId, DialPlan
from qcm.connect import events as ev
from qcm.connect import supervisor as sv
from qcm.connect.pin_guard import PinGuard
from qcm.discovery import scan
from qcm.errors import CallRejectedError, SimAbsentError, SimError
from qcm.model import IpSettings

V4 = BearerId(1, 4)
LEASE = IpSettings(4, ipaddress.ip_interface("192.0.2.100/24"), ipaddress.ip_address("192.0.2.1"),
                   (ipaddress.ip_address("192.0.2.1"),), 1500)


class StandInIp:
    """What ``DynamicIp`` offers, without sockets."""

    def __init__(self):
        self.stopped, self.expected = [], []

    def expect(self, family):
        self.expected.append(family)

    async def acquire(self, family, timeout):
        if family in self.stopped:
            self.stopped.remove(family)
        return LEASE

    def current(self, family):
        return LEASE if family not in self.stopped else None

    accept_ra_before = None

    def stop(self, family, release=True, restore=True):
        self.stopped.append(family)

    def close(self, release=True, restore=True):
        pass


class Harness:
    def __init__(self, sim, plan, guard=None):
        (self.modem,) = scan(Path(sim.info["sysfs_root"]), Path(sim.info["dev_root"]))
        self.sim = sim
        self.events, self.emitted = [], []
        context = BackendContext(plan, self.events.append, self.emitted.append, pin_guard=guard,
                                 request_timeout=5.0)
        self.backend = backend_for(self.modem)(self.modem, context)

    async def open(self):
        await self.backend.open()
        self.backend.ip = StandInIp()

    async def up(self):
        await self.open()
        await self.backend.prepare()
        await self.backend.wait_registered()
        return await self.backend.start(V4, self.modem.netdev)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


def ctl(sim, *args):
    result = subprocess.run([sys.executable, "-m", "qcm", "sim", "ctl", str(sim.directory), *args], capture_output=True,
                            text=True, timeout=20, env=dict(os.environ, PYTHONPATH=str(SRC)))
    return json.loads(result.stdout)


async def until(predicate, timeout=5.0):
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within %.0f s" % timeout)


def test_ec25_in_ecm_dials_with_qnetdevctl_and_hears_the_network_end_the_call(start_sim):
    sim = start_sim("--set", "usbnet=ecm")

    async def scenario():
        h = Harness(sim, DialPlan(apn="internet"))
        assert h.modem.mode == "ethernet" and h.modem.control == h.modem.at_port
        bearer = await h.up()
        assert h.backend.calls.style == "qnetdevctl"
        (activated,) = h.of(ev.ContextActivated)
        assert activated.command == "AT+QNETDEVCTL=1,1,1" and activated.address.startswith("100.64.")
        assert bearer.settings == LEASE and bearer.handle == {"cid": 1, "style": "qnetdevctl"}
        assert await h.backend.is_up(bearer)
        assert ctl(sim, "status")["status"]["calls"]
        ctl(sim, "drop", "reason=gsm-wcdma-regular-deactivation")
        await until(lambda: h.emitted)
        (dropped,) = h.emitted
        assert isinstance(dropped, sv.CallDropped) and dropped.bearer == V4
        assert "Regular deactivation" in dropped.reason and "context 1" in dropped.reason
        assert not await h.backend.is_up(bearer)
        await h.backend.stop(bearer)
        again = await h.backend.start(V4, "usb0")  # a redial after the drop
        assert await h.backend.is_up(again)
        assert await h.backend.stop(again)
        assert ctl(sim, "status")["status"]["calls"] == []
        await h.backend.close()
    asyncio.run(scenario())


def test_bg95_in_ecm_dials_with_qiact(start_sim):
    sim = start_sim("--scenario", "seed-002-bg95-ecm", "--set", "usbnet=ecm")

    async def scenario():
        h = Harness(sim, DialPlan(apn="simplex.iot", families=(4, 6)))
        bearer = await h.up()
        assert h.backend.calls.style == "qiact" and h.of(ev.ContextActivated)[0].command == "AT+QIACT=1"
        (profile,) = h.of(ev.ProfileChecked)
        assert profile.apn == "simplex.iot" and profile.pdp_type == "ipv4-or-ipv6"
        v6 = await h.backend.start(BearerId(1, 6), "usb0")  # the same context: not activated twice
        assert len(h.of(ev.ContextActivated)) == 1 and h.backend.ip.expected == [4, 6]
        assert await h.backend.stop(bearer) and ctl(sim, "status")["status"]["calls"]  # IPv6 still uses it
        assert await h.backend.stop(v6) and ctl(sim, "status")["status"]["calls"] == []
        await h.backend.close()
    asyncio.run(scenario())


def test_a_rejected_apn_says_why_from_ceer(start_sim):
    sim = start_sim("--set", "usbnet=ecm")

    async def scenario():
        h = Harness(sim, DialPlan(apn="nonsense.apn"))
        with pytest.raises(CallRejectedError, match="Missing or unknown APN"):
            await h.up()
        await h.backend.close()
    asyncio.run(scenario())


def test_pin_is_sent_once_and_a_rejected_one_never_again(start_sim, tmp_path):
    sim = start_sim("--set", "usbnet=ecm", "--sim-state", "pin", "--pin", "0123")
    guard = PinGuard(tmp_path / "pin")

    async def attempt(pin):
        h = Harness(sim, DialPlan(apn="internet", pin=pin), PinGuard(tmp_path / "pin"))
        try:
            await h.open()
            await h.backend.prepare()
        finally:
            await h.backend.close()
        return h

    async def scenario():
        with pytest.raises(SimError, match=r"rejected the PIN \(\+CME ERROR: 16, 2 tries left\)"):
            await attempt("9999")
        assert ctl(sim, "status")["status"]["pin_retries"] == 2
        with pytest.raises(SimError, match="not sending the PIN: this SIM rejected this PIN before"):
            await attempt("9999")
        assert ctl(sim, "status")["status"]["pin_retries"] == 2  # nothing was sent
        h = await attempt("0123")
        assert [e.state for e in h.of(ev.SimReady)] == ["pin-verified"]
        assert ctl(sim, "status")["status"]["sim"] == "ready"
    assert guard.directory is not None
    asyncio.run(scenario())


def test_no_sim_and_a_missing_pin(start_sim):
    absent = start_sim("--set", "usbnet=ecm", "--sim-state", "absent", name="absent")
    locked = start_sim("--set", "usbnet=ecm", "--sim-state", "pin", name="locked")

    async def scenario():
        h = Harness(absent, DialPlan(apn="internet"))
        with pytest.raises(SimAbsentError):
            await h.up()
        await h.backend.close()
        h = Harness(locked, DialPlan(apn="internet"))
        with pytest.raises(SimError, match=r"locked with a PIN \(3 tries left\)"):
            await h.up()
        await h.backend.close()
    asyncio.run(scenario())


def test_radio_turned_on_and_registration_awaited_through_urcs(start_sim):
    sim = start_sim("--set", "usbnet=ecm", "--cfun", "4", "--register-after", "1.5")

    async def scenario():
        h = Harness(sim, DialPlan(apn="internet", register_timeout=20))
        await h.up()
        (radio,) = h.of(ev.RadioOnline)
        assert radio.changed
        assert h.of(ev.Waiting) and h.of(ev.Registered)
        await h.backend.close()
    asyncio.run(scenario())


def test_the_port_vanishing_is_the_modem_lost(start_sim):
    sim = start_sim("--set", "usbnet=ecm")

    async def scenario():
        h = Harness(sim, DialPlan(apn="internet"))
        await h.up()
        ctl(sim, "reset", "seconds=5")
        await until(lambda: any(isinstance(e, sv.ModemLost) for e in h.emitted))
        assert not h.backend.is_open
        await h.backend.close()
    asyncio.run(scenario())


def test_stop_saved_ends_the_call_a_past_run_left_up_and_imei(start_sim):
    sim = start_sim("--set", "usbnet=ecm")

    async def scenario():
        h = Harness(sim, DialPlan(apn="internet"))
        bearer = await h.up()
        h.backend.keep([bearer])
        await h.backend.close()
        assert ctl(sim, "status")["status"]["calls"]  # kept: closing left it up
        cls = type(h.backend)
        details = await cls.stop_saved(h.modem.control, [(bearer.id, dict(bearer.handle))])
        assert details == ["IPv4 call stopped"] and ctl(sim, "status")["status"]["calls"] == []
        assert await cls.read_imei(h.modem) == sim.info["imei"]
    asyncio.run(scenario())
