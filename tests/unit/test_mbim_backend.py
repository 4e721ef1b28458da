"""The MBIM backend against the simulator's MBIM device model, joined in one process by a memory
transport: the dial sequence, PIN, FCC lock, MBIMEx version, rejections, and what the modem says
unasked turned into supervisor events."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any, List

import pytest

from qcm.backends.base import BackendContext, DialPlan
from qcm.backends.mbim.backend import MbimBackend
from qcm.connect import events as ev
from qcm.connect import supervisor as sv
from qcm.connect.pin_guard import PinGuard
from qcm.discovery import Modem
from qcm.errors import CallRejectedError, ModemError, RadioError, Recovery, SimAbsentError, SimError
from qcm.io.mbim_port import MbimPort, MbimRequestError, MbimTimeout
from qcm.io.transport import memory_pair
from qcm.mbim.catalogue import NOTIFICATION, catalogue
from qcm.mbim.framing import FUNCTION_ERROR, NOT_OPENED, Frame
from qcm.mbim.message import build
from qcm.sim.config import Apn, SimConfig
from qcm.sim.mbim_device import MbimDevice
from qcm.sim.modem import SimModem


class Device:
    """The device end of a memory pair, served by the MBIM device model (what qcm sim does on its pty)."""

    def __init__(self, end: Any, mbim: MbimDevice) -> None:
        self.end, self.mbim = end, mbim
        self.received: List[bytes] = []
        self.muted = False

    def start(self) -> None:
        self.end.open(asyncio.get_running_loop(), self.data, lambda reason: None)

    def data(self, data: bytes) -> None:
        self.received.append(data)
        if self.muted:
            return
        for piece in self.mbim.receive(data, time.monotonic()):
            self.end.write(piece)

    def changed(self) -> None:
        """Something changed behind the device's back (a fault): its notifications go out."""
        for piece in self.mbim.advance(time.monotonic()):
            self.end.write(piece)

    def sent(self, command: str, kind: int) -> int:
        """How many COMMANDs of this Basic Connect CID and type (0 query, 1 set) the host sent."""
        cid = catalogue().command("basic-connect", command).cid
        return sum(1 for d in self.received if int.from_bytes(d[0:4], "little") == 3
                   and int.from_bytes(d[36:40], "little") == cid and int.from_bytes(d[40:44], "little") == kind)


MODEM = Modem("1-1.2", 0x2C7C, 0x0125, "Quectel", "EC25", "EC25", "mbim", "cdc_mbim", "", 4, "/dev/cdc-wdm0",
              "wwan0", None, None)


class Rig:
    def __init__(self, plan: DialPlan, modem: Modem = MODEM, fcc_locked: bool = False, max_version: int = 3,
                 pin_guard: Any = None, **config: Any) -> None:
        self.sim = SimModem(replace(SimConfig(), usbnet="mbim", **config), now=time.monotonic())
        host, device = memory_pair()
        self.device = Device(device, MbimDevice(self.sim, fcc_locked=fcc_locked, max_version=max_version))
        self.events: List[Any] = []
        self.emitted: List[Any] = []
        self.context = BackendContext(plan, self.events.append, self.emitted.append, pin_guard=pin_guard,
                                      request_timeout=2.0, transport=lambda modem: host)
        self.backend = MbimBackend(modem, self.context)

    async def open(self) -> MbimBackend:
        self.device.start()
        await self.backend.open()
        return self.backend

    async def connected(self) -> List[Any]:
        backend = await self.open()
        await backend.prepare()
        await backend.wait_registered()
        return list(await asyncio.gather(*(backend.start(b, "wwan0") for b in self.context.plan.bearers)))

    def of(self, kind: type) -> List[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 20))


DUAL = DialPlan(apn="internet", families=(4, 6))


def test_dual_stack_from_one_session_then_disconnect_and_close():
    async def scenario() -> None:
        rig = Rig(DUAL)
        v4, v6 = await rig.connected()
        assert rig.backend.identity.imei == "866758045439136" and rig.backend.registration.operator == "Rogers"
        assert str(v4.settings.address) == str(rig.sim.calls[("MBIM4", 0)].ipv4)
        assert v6.settings.address.ip == rig.sim.calls[("MBIM6", 0)].ipv6.ip and v6.settings.mtu == 1500
        assert rig.device.sent("connect", 1) == 1  # both families from one activation
        assert rig.device.mbim.version == 3  # MBIMEx 3.0 agreed: the v3 layouts were used after it
        assert await rig.backend.is_up(v4)
        assert await asyncio.gather(rig.backend.stop(v4), rig.backend.stop(v6)) == [True, True]
        assert rig.device.sent("connect", 1) == 2 and not rig.sim.calls  # one deactivation for both
        await rig.backend.close()
        assert not rig.device.mbim.opened
        steps = [(e.command, e.kind) for e in rig.of(ev.MbimRequest)]
        assert steps[:3] == [("open", "query"), ("device_caps", "query"), ("device_services", "query")]
        assert ("connect", "set") in steps and ("ip_configuration", "query") in steps
        assert [(s.what, s.old, s.new) for s in rig.of(ev.MbimState) if s.what == "register"] == [
            ("register", "unknown", "home")]
    run(scenario())


def test_once_keeps_the_session_and_the_function_open():
    async def scenario() -> None:
        rig = Rig(DialPlan(apn="internet"))
        bearers = await rig.connected()
        rig.backend.keep(bearers)
        await rig.backend.close()
        assert rig.device.mbim.opened and ("MBIM4", 0) in rig.sim.calls  # no CLOSE, no deactivation
    run(scenario())


def test_firmware_without_mbimex_speaks_mbim_1():
    async def scenario() -> None:
        rig = Rig(DUAL, max_version=1)
        await rig.connected()
        assert rig.backend.port.version == 1 and rig.device.mbim.version == 1
        assert not [e for e in rig.events if isinstance(e, ev.Notice) and "MBIMEx" in e.text]
    run(scenario())


def _proxy_notice(version: int) -> bytes:
    definition = catalogue().command("proxy-control", "version")
    return build(definition, NOTIFICATION, 0, {"mbim_version": 0x0100, "mbim_extended_version": version << 8}).encode()


def test_the_proxys_version_notice_is_honoured_and_not_renegotiated():
    async def scenario() -> None:
        rig = Rig(DUAL)
        backend = await rig.open()
        rig.device.mbim.version = 2  # another client of the proxy agreed 2.0 with the device
        rig.device.end.write(_proxy_notice(2))
        await asyncio.sleep(0.01)
        await backend.prepare()
        assert backend.port.version == 2 and backend.port.proxy_version == 2
        version = catalogue().command("ms-basic-connect-extensions", "version")
        assert not [d for d in rig.device.received if d[20:36] == version.service.uuid_bytes]  # no VERSION sent
    run(scenario())


def test_a_version_qcm_does_not_speak_is_refused_cleanly():
    async def scenario() -> None:
        rig = Rig(DUAL)
        backend = await rig.open()
        rig.device.end.write(_proxy_notice(4))
        await asyncio.sleep(0.01)
        with pytest.raises(ModemError) as caught:
            await backend.prepare()
        assert "MBIMEx 4.0" in str(caught.value) and caught.value.recovery == Recovery.FATAL
    run(scenario())


def test_pin_is_entered_once_and_a_rejected_one_never_again(tmp_path):
    async def scenario() -> None:
        guard = PinGuard(tmp_path / "pin")
        rig = Rig(replace(DUAL, pin="0000"), pin_guard=guard, sim="pin")
        backend = await rig.open()
        with pytest.raises(SimError) as caught:
            await backend.prepare()
        assert "rejected the PIN" in str(caught.value) and rig.sim.pin_retries == 2
        with pytest.raises(SimError) as again:
            await backend.prepare()
        assert "not sending the PIN" in str(again.value) and rig.sim.pin_retries == 2
        assert rig.device.sent("pin", 1) == 1
        right = Rig(replace(DUAL, pin="1234"), pin_guard=PinGuard(tmp_path / "other"), sim="pin")
        await right.connected()
        assert right.sim.sim_state == "ready" and right.of(ev.SimReady)[0].state == "pin-verified"
    run(scenario())


def test_no_pin_given_and_no_sim():
    async def scenario() -> None:
        locked = await Rig(DUAL, sim="pin").open()
        with pytest.raises(SimError) as caught:
            await locked.prepare()
        assert "locked with a PIN (3 tries left)" in str(caught.value)
        absent = await Rig(DUAL, sim="absent").open()
        with pytest.raises(SimAbsentError) as missing:
            await absent.prepare()
        assert "no SIM card" in str(missing.value) and missing.value.recovery == Recovery.WAIT_FOR_SIM
    run(scenario())


PCIE = replace(MODEM, usb_path="0000:01:00.0", vendor_id=0x1EAC, product_id=0x1007, bus="pci",
               control="/dev/wwan0mbim0", driver="mhi-pci-generic")


def test_fcc_locked_unit_known_to_need_it_is_unlocked():
    async def scenario() -> None:
        rig = Rig(DUAL, modem=PCIE, fcc_locked=True)
        await rig.connected()
        assert not rig.device.mbim.fcc_locked and rig.sim.online
        assert any("FCC-locked" in e.text for e in rig.of(ev.Notice))
        assert rig.of(ev.RadioOnline)[0].changed
    run(scenario())


def test_fcc_locked_unit_not_known_is_left_locked():
    async def scenario() -> None:
        rig = Rig(DUAL, modem=replace(PCIE, product_id=0x1008), fcc_locked=True)
        backend = await rig.open()
        with pytest.raises(RadioError) as caught:
            await backend.prepare()
        assert "FCC-locked" in str(caught.value) and "--quectel-set-radio-state=on" in caught.value.hint
        assert caught.value.recovery == Recovery.FATAL and rig.device.mbim.fcc_locked
    run(scenario())


def test_radio_held_by_a_hardware_switch():
    async def scenario() -> None:
        backend = await Rig(DUAL, hardware_restricted=True).open()
        with pytest.raises(RadioError) as caught:
            await backend.prepare()
        assert "hardware switch" in str(caught.value)
    run(scenario())


def test_a_wrong_apn_names_status_and_nw_error():
    async def scenario() -> None:
        rig = Rig(replace(DUAL, apn="nope"))
        backend = await rig.open()
        await backend.prepare()
        await backend.wait_registered()
        with pytest.raises(CallRejectedError) as caught:
            await backend.start(DUAL.bearers[0], "wwan0")
        text = str(caught.value)
        assert "status 18 invalid-access-string" in text and "NwError 27 missing-or-unknown-apn" in text
        assert "call rejected" in text and caught.value.hint.startswith("check the APN")
    run(scenario())


def test_wrong_credentials():
    async def scenario() -> None:
        rig = Rig(replace(DUAL, username="u", password="x", auth="chap"),
                  apns=(Apn("internet", auth="chap", username="u", password="p"),))
        backend = await rig.open()
        await backend.prepare()
        with pytest.raises(CallRejectedError) as caught:
            await backend.start(DUAL.bearers[0], "wwan0")
        assert "invalid-user-name-pwd" in str(caught.value) and "NwError 29" in str(caught.value)
    run(scenario())


def test_waits_for_the_network_and_asks_for_the_attach():
    async def scenario() -> None:
        rig = Rig(DUAL, register_after_s=0.3)
        backend = await rig.open()
        await backend.prepare()
        later = asyncio.get_running_loop().call_later(0.35, rig.device.changed)
        registration = await backend.wait_registered()
        later.cancel()
        assert registration.registered and registration.ps_attached
        assert rig.of(ev.Waiting)
    run(scenario())


def test_notifications_become_supervisor_events():
    async def scenario() -> None:
        rig = Rig(DUAL)
        v4, v6 = await rig.connected()
        now = time.monotonic()
        rig.sim.readdress(4)
        rig.device.changed()
        await asyncio.sleep(0.02)
        assert {e.bearer for e in rig.emitted if isinstance(e, sv.AddressChanged)} == {v4.id, v6.id}
        rig.sim.force_registration("searching", now)
        rig.device.changed()
        await asyncio.sleep(0.02)
        dropped = [e for e in rig.emitted if isinstance(e, sv.CallDropped)]
        assert {e.bearer for e in dropped} == {v4.id, v6.id} and "session 0" in dropped[0].reason
        rig.sim.force_registration(None, now)
        rig.device.changed()
        await asyncio.sleep(0.02)
        assert any(isinstance(e, sv.Registered) for e in rig.emitted)
        rig.sim.set_sim_state("absent", now)
        rig.device.changed()
        await asyncio.sleep(0.02)
        with pytest.raises(SimAbsentError):
            await rig.backend.prepare()
        rig.sim.set_sim_state("ready", now)
        rig.device.changed()
        await asyncio.sleep(0.02)
        assert any(isinstance(e, sv.SimInserted) for e in rig.emitted)
    run(scenario())


def test_the_port_vanishing_is_a_lost_modem():
    async def scenario() -> None:
        rig = Rig(DUAL)
        await rig.connected()
        rig.device.end.vanish()
        await asyncio.sleep(0.01)
        assert any(isinstance(e, sv.ModemLost) for e in rig.emitted)
    run(scenario())


# ---------------------------------------------------------------------- the port itself

def test_open_is_resent_until_the_modem_answers():
    async def scenario() -> None:
        host, device = memory_pair()
        model = MbimDevice(SimModem(SimConfig()))
        seen: List[bytes] = []

        def data(piece: bytes) -> None:
            seen.append(piece)
            if len(seen) > 1:  # a modem still waking up drops the first OPEN
                for reply in model.receive(piece, time.monotonic()):
                    device.write(reply)
        device.open(asyncio.get_running_loop(), data, lambda reason: None)
        port = await MbimPort(host).open()
        await port.open_device(timeout=5.0)
        assert len(seen) == 2 and model.opened
    run(scenario())


def test_a_silent_port_times_out_and_a_lost_function_is_named():
    async def scenario() -> None:
        host, device = memory_pair()
        device.open(asyncio.get_running_loop(), lambda data: None, lambda reason: None)
        port = await MbimPort(host).open()
        with pytest.raises(MbimTimeout) as caught:
            await port.open_device(timeout=0.3)
        assert isinstance(caught.value, TimeoutError) and "OPEN got no answer" in str(caught.value)
        future = port.send(catalogue().command("basic-connect", "device_caps"), "query", None, 5.0)
        transaction = port.core._pending and next(iter(port.core._pending))
        device.write(Frame(FUNCTION_ERROR, transaction, status=NOT_OPENED).encode())
        with pytest.raises(MbimRequestError) as refused:
            await future
        assert "NotOpened" in str(refused.value) or "not-opened" in str(refused.value).lower()
        assert refused.value.recovery == Recovery.RESET
    run(scenario())


def test_a_port_closed_while_opening_fails_open_and_is_not_a_lost_modem():
    """mbim-proxy refusing a client closes the connection during OPEN: that is a failed attempt the
    supervisor backs off from, not a modem that vanished (which it would wait for and retry at once)."""
    async def scenario() -> None:
        host, device = memory_pair()
        device.open(asyncio.get_running_loop(), lambda data: device.vanish("closed by mbim-proxy"), lambda r: None)
        emitted: List[Any] = []
        backend = MbimBackend(MODEM, BackendContext(DUAL, lambda e: None, emitted.append, request_timeout=2.0,
                                                    transport=lambda modem: host))
        with pytest.raises(ModemError):
            await backend.open()
        await asyncio.sleep(0.01)
        assert emitted == []
    run(scenario())
