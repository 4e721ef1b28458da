"""The dial sequence over MBIM: everything between an opened MBIM function and an IP address.

quectel-CM asks one question after another: device caps, device services, radio on, subscriber
ready, register state, packet service, connect query, connect set, IP configuration. Here the
questions that do not depend on each other go out together (caps with services; then, once the
MBIMEx version is agreed, since it changes layouts, the indication list, the radio, the SIM and
the registration), so connecting takes a handful of round trips. Every bearer of a session
comes from one CONNECT activation (IPv4, IPv6 or both), shared by the bearers that need it.

Every failure becomes an error the user can act on: the SIM's state and tries left, an FCC lock
or a radio switch, the status and NwError by name. What the answers mean is ``readings.py``'.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, Optional, Set, Tuple, cast

from ...connect import events as ev
from ...connect.pin_guard import PinGuard
from ...discovery import Modem
from ...errors import (CallRejectedError, ModemError, RadioError, Recovery, RegistrationError, SimAbsentError,
                       SimError)
from ...io.mbim_port import MbimPort
from ...mbim.catalogue import catalogue
from ...mbim.message import Message, describe_status
from ...model import IpSettings, ModemIdentity, Registration, SimStatus
from ..base import BackendContext, Bearer, BearerId
from . import readings
from .calls import describe_nw_error, session_error
from .readings import name_of
from .unlock import unlock_for

__all__ = ["MbimDial", "SPOKEN_VERSION", "session_of", "INDICATIONS"]

SPOKEN_VERSION = 3          # the highest MBIMEx version whose layouts qcm reads (the catalogue's)
POLL_INTERVAL = 5.0
# Basic Connect indications qcm listens to: subscriber ready, radio, register state, packet
# service, signal, connect (a session ended), IP configuration.
INDICATIONS = (2, 3, 9, 10, 11, 12, 15)
_IP_TYPE = {(4,): "ipv4", (6,): "ipv6", (4, 6): "ipv4v6"}
_AUTH = {(): "none", ("pap",): "pap", ("chap",): "chap", ("chap", "pap"): "chap"}  # MBIM has no "either": CHAP


def session_of(bearer: BearerId) -> int:
    """The MBIM session of a bearer: 0, the untagged one cdc_mbim and mhi_wwan_mbim carry on the
    interface itself (other sessions need VLAN or wwan links, which qcm does not create yet)."""
    return 0


class MbimDial:
    def __init__(self, port: MbimPort, context: BackendContext, modem: Modem) -> None:
        self.port = port
        self.context = context
        self.modem = modem
        self.plan = context.plan
        self.report = context.report
        self.pin_guard: PinGuard = context.pin_guard or PinGuard(None)
        self.identity = ModemIdentity()
        self.registration: Optional[Registration] = None
        self.services: Dict[str, Set[int]] = {}      # service nick -> CIDs the device offers
        self.states: Dict[str, str] = {}             # what -> last state reported (quectel-CM's "A -> B")
        self.sessions: Dict[int, str] = {}           # session -> activation state as last heard
        self.live: Dict[BearerId, Bearer] = {}       # bearers up, to match the modem's notifications
        self.sim_iccid = ""
        self._activating: Dict[int, "asyncio.Future[Message]"] = {}
        self._known: Set[int] = set()                # sessions whose state prepare() has just read
        self._changed: Optional[asyncio.Event] = None  # a register, packet-service or SIM notification came
        self._state_changed = False                  # prepare() entered a PIN or turned the radio on
        port.on_indication(self._on_indication)

    # ---------------------------------------------------------------- plumbing

    async def request(self, command: str, kind: str = "query", values: Optional[Dict[str, Any]] = None,
                      service: str = "basic-connect", timeout: Optional[float] = None, check: bool = True) -> Message:
        return await self.port.request(service, command, kind, values, timeout or self.context.request_timeout, check)

    def _state(self, what: str, new: str) -> None:
        old = self.states.get(what, "unknown")
        self.states[what] = new
        if old != new:
            self.report(ev.MbimState(what, old, new))

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    # ---------------------------------------------------------------- preparation

    async def prepare(self) -> ModemIdentity:
        """Two rounds of questions asked together: what the MBIMEx version does not change (caps,
        services, the VERSION exchange itself, the indication list, radio on), then what it does
        (SIM, registration, packet service, signal, the session), read in the layouts agreed."""
        self._event()
        self._state_changed = False
        self.report(ev.MbimRequest("device_caps"))
        self.report(ev.MbimRequest("device_services"))
        self.report(ev.MbimRequest("radio_state", "set", value=1))
        first = await asyncio.gather(self.request("device_caps"), self.request("device_services"),
                                     self._version_exchange(), self._subscribe(),
                                     self.request("radio_state", "set", {"radio_state": "on"}, check=False),
                                     return_exceptions=True)
        for result in first:
            if isinstance(result, BaseException):
                raise result
        caps, services, version, _, radio = cast(Tuple[Message, Message, Optional[Message], Any, Message],
                                                 tuple(first))
        self.identity = readings.identity(caps, self.modem.manufacturer)
        self.report(ev.MbimDeviceCaps(str(caps.get("device_id", "")), str(caps.get("firmware_info", "")),
                                      str(caps.get("hardware_info", ""))))
        self.report(ev.Identified(self.identity))
        self.services = {}
        for entry in services.get("device_services") or []:
            uuid = entry["device_service_id"]
            nick = getattr(uuid, "name", None) or str(uuid)
            self.services.setdefault(str(nick), set()).update(int(c) for c in entry.get("cids") or [])
        self._check_version(version)
        results = await asyncio.gather(self._radio_on(radio), self._sim_ready(), self.read_registration(),
                                       self._query_session(0), return_exceptions=True)
        for outcome in results:  # the most useful error first: a SIM problem explains the rest
            if isinstance(outcome, SimError):
                raise outcome
        for outcome in results:
            if isinstance(outcome, BaseException):
                raise outcome
        return self.identity

    def offers(self, service: str, cid: int) -> bool:
        return cid in self.services.get(service, set())

    async def _version_exchange(self) -> Optional[Message]:
        """MBIMEx VERSION, offering the highest qcm speaks (libmbim sends it right after OPEN too; a
        device without MS extensions answers no-device-support). Not when mbim-proxy said which
        version is agreed: that is device-wide, never renegotiated under another client's feet."""
        if self.port.proxy_version is not None:
            return None
        return await self.request("version", "query", {"mbim_version": 0x0100,
                                                        "mbim_extended_version": SPOKEN_VERSION << 8},
                                  service="ms-basic-connect-extensions", check=False)

    def _check_version(self, response: Optional[Message]) -> None:
        port = self.port
        if response is not None and not response.ok and self.offers("ms-basic-connect-extensions", 15):
            self.report(ev.Notice("the modem refused the MBIMEx version exchange (%s); speaking MBIM 1.0" % (
                describe_status(int(response.status)) if response.status is not None else "no answer"), True))
        if port.version > SPOKEN_VERSION:
            raise ModemError("%s agreed MBIMEx %d.0 with the modem; qcm speaks MBIM 1.0 to MBIMEx %d.0" % (
                "mbim-proxy says another program" if port.proxy_version else "the modem", port.version,
                SPOKEN_VERSION), "use ModemManager for this modem, or run qcm without the programs that share it",
                Recovery.FATAL)
        if port.version > 1:
            self.report(ev.Notice("MBIMEx %d.0 in force%s" % (port.version, " (agreed by another client of mbim-proxy)"
                                                              if port.proxy_version else "")))

    async def _subscribe(self) -> None:
        """Hear about the SIM, the radio, the network and the sessions as they change (through
        mbim-proxy, it merges this list with its other clients')."""
        basic = catalogue().service("basic-connect").uuid
        await self.request("device_service_subscribe_list", "set", {
            "events": [{"device_service_id": basic, "cids": list(INDICATIONS)}]}, check=False)

    async def _radio_on(self, state: Message) -> None:
        """Radio on, as quectel-CM does every time (``state`` answers the set); an FCC-locked laptop
        unit gets the vendor unlock when its ids are known to need it (as ModemManager's
        fcc-unlock scripts), a radio held by W_DISABLE# a clear error."""
        hardware, software = name_of(state.get("hw_radio_state"), "off"), name_of(state.get("sw_radio_state"), "off")
        self.report(ev.MbimRadioState(hardware, software))
        if hardware == "off":
            raise RadioError("the radio is off: held by a hardware switch (MBIM HwRadioState off)",
                             "check the W_DISABLE# / airplane-mode pin of the module's slot or carrier board")
        if software == "on" and state.ok:
            self.report(ev.RadioOnline("on", False))
            return
        if await self._fcc_unlock():
            state = await self.request("radio_state", "set", {"radio_state": "on"}, check=False)
            software = name_of(state.get("sw_radio_state"), "off")
        if software != "on":
            raise RadioError("the modem keeps its radio off (MBIM SwRadioState off%s)" % (
                ", %s" % describe_status(int(state.status)) if state.status is not None and not state.ok else ""),
                "see qcm doctor: the module may be FCC-locked, or its firmware refuses to turn the radio on")
        self._state_changed = True
        self.report(ev.RadioOnline("off", True))

    async def _fcc_unlock(self) -> bool:
        if not self.offers("quectel", 1):
            return False
        locked = await self.request("radio_state", service="quectel", check=False)
        if name_of(locked.get("radio_state")) != "fcc-locked":
            return False
        model = unlock_for(self.modem.vendor_id, self.modem.product_id)
        if model is None:
            raise RadioError("the radio is FCC-locked (Quectel radio state fcc-locked) and qcm does not know %s as a "
                             "unit whose lock it may lift" % self.modem.usb_id,
                             "the laptop's vendor ships the unlock (ModemManager's fcc-unlock.d scripts); if this "
                             "unit may transmit here: mbimcli -d %s --quectel-set-radio-state=on" % self.modem.control,
                             Recovery.FATAL)
        self.report(ev.Notice("the radio is FCC-locked (a %s laptop unit, %s): sending Quectel's unlock, as "
                              "ModemManager's fcc-unlock script does" % (model, self.modem.usb_id), True))
        await self.request("radio_state", "set", {"radio_state": "on"}, service="quectel")
        return True

    async def _sim_ready(self) -> None:
        self.report(ev.MbimRequest("subscriber_ready_status"))
        ready = await self.request("subscriber_ready_status", check=False)
        if not ready.ok and ready.status is not None and name_of(ready.status) == "sim-not-inserted":
            ready = Message(ready.frame, ready.definition, ready.kind, ready.version, {"ready_state": _ready("sim-not-inserted")})
        state = name_of(ready.get("ready_state"), "unknown")
        self._state("subscriber-ready", state)
        self.sim_iccid = str(ready.get("sim_icc_id", "") or "")
        pin = await self.request("pin", check=False) if state == "device-locked" else None
        await self._unlock(readings.sim_status(ready, pin))

    async def _unlock(self, sim: SimStatus) -> None:
        if sim.state == "ready":
            self.report(ev.SimReady("ready", sim.pin_retries))
        elif sim.state == "absent":
            raise SimAbsentError("no SIM card: the module sees no card (MBIM subscriber state sim-not-inserted)",
                                 "insert a SIM (contacts down, the right way round) and power-cycle the module")
        elif sim.state == "pin":
            await self._verify_pin(sim.pin_retries)
        elif sim.state == "puk":
            raise SimError("the SIM is blocked and needs its PUK (%s tries left)" % _tries(sim.puk_retries),
                           "unblock it in a phone; qcm never enters PUKs, a wrong one can destroy the SIM")
        elif sim.state == "blocked":
            raise SimError("the SIM is unusable (MBIM subscriber state %s)" % sim.detail,
                           "check it in a phone; a permanently blocked SIM needs replacing")
        elif sim.state == "initializing":
            raise SimError("the SIM is not ready yet (%s)" % sim.detail,
                           "wait for it to initialise; if it stays so, check it in a phone", Recovery.RETRY)
        else:  # not-activated, no-profile (eSIM), network-locked
            raise SimError("the SIM cannot be used: MBIM subscriber state %s" % sim.detail,
                           "ask the operator to activate the SIM (or the eSIM profile)")

    async def _verify_pin(self, retries: Optional[int]) -> None:
        pin = self.plan.pin
        if not pin:
            raise SimError("the SIM is locked with a PIN (%s tries left)" % _tries(retries),
                           "run again with -p PIN; qcm never guesses a PIN")
        sim, shown = self._sim_key()
        if self.plan.retry_rejected_pin:
            self.pin_guard.forget(sim)
        self.pin_guard.check(sim, pin, retries, shown)
        self.pin_guard.sending(sim, pin, retries)  # before it goes out: a lost answer still counts
        response: Optional[Message] = None
        lost = ""
        try:
            response = await self.request("pin", "set", {"pin_type": "pin1", "pin_operation": "enter", "pin": pin,
                                                          "new_pin": ""}, check=False)
        except ModemError as exc:
            lost = str(exc)
        if response is None or response.status is None:
            raise SimError("the SIM's answer to the PIN was lost (%s); not sending it again" % (lost or "no status"),
                           "check the PIN, then run qcm again: it sends the PIN again only if the SIM shows "
                           "that it never arrived")
        accepted = response.ok and name_of(response.get("pin_state")) != "locked"
        self.pin_guard.answered(sim, pin, accepted)
        if accepted:
            self._state_changed = True
            self.report(ev.SimReady("pin-verified"))
            await self._wait_sim_ready()
            return
        tries = response.get("remaining_attempts")
        if name_of(response.get("pin_type")).startswith("puk") or tries == 0:
            raise SimError("the SIM rejected the PIN and is now blocked: it needs its PUK",
                           "unblock it in a phone; qcm does not enter PUKs")
        raise SimError("the SIM rejected the PIN (%s, %s tries left); not retrying, now or in later runs" % (
            name_of(response.status), _tries(tries)), "check the PIN; every wrong try uses one up")

    def _sim_key(self) -> Tuple[str, str]:
        """Which SIM this is, for the PIN record: its ICCID (readable while locked), else the IMEI."""
        if self.sim_iccid:
            iccid = self.sim_iccid
            return "iccid:" + iccid, iccid if self.context.show_personal else "ICCID ...%s" % iccid[-4:]
        imei = self.identity.imei
        return "imei:" + imei, "in the module with IMEI %s" % (imei if self.context.show_personal else "###")

    async def _wait_sim_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = await self.request("subscriber_ready_status", check=False)
            if name_of(ready.get("ready_state")) == "initialized":
                self._state("subscriber-ready", "initialized")
                return
            await self._wait_change(0.2)

    # ---------------------------------------------------------------- registration

    async def read_registration(self) -> Registration:
        self.report(ev.MbimRequest("register_state"))
        self.report(ev.MbimRequest("packet_service"))
        register, packet, signal = await asyncio.gather(
            self.request("register_state"), self.request("packet_service", check=False),
            self.request("signal_state", check=False))
        self._state("register", readings.registered_state(register))
        if packet.ok:
            self._state("packet-service", name_of(packet.get("packet_service_state"), "unknown"))
        registration = readings.registration(register, packet, signal)
        self.registration = registration
        return registration

    async def wait_registered(self, timeout: Optional[float] = None) -> Registration:
        """Until registered and attached for packet data (asking for the attach, as quectel-CM does)."""
        timeout = self.plan.register_timeout if timeout is None else timeout
        start = time.monotonic()
        last_shown: Optional[Tuple[str, str, str, bool]] = None
        last_time = 0.0
        attach_asked = False
        registration = self.registration if not self._state_changed else None
        while True:
            self._event().clear()
            if registration is None:
                registration = await self.read_registration()
            if registration.registered and registration.ps_attached:
                self.report(ev.Registered(registration))
                return registration
            if registration.registered and not attach_asked:
                attach_asked = True
                if await self._attach():
                    registration = None
                    continue
            elapsed = time.monotonic() - start
            key = (registration.state, registration.rat, registration.operator, registration.ps_attached)
            if key != last_shown or elapsed - last_time >= 10:
                self.report(ev.Waiting(registration, elapsed))
                last_shown, last_time = key, elapsed
            if elapsed >= timeout:
                raise _registration_error(registration, elapsed)
            await self._wait_change(min(POLL_INTERVAL, timeout - elapsed))
            registration = None

    async def _attach(self) -> bool:
        self.report(ev.MbimRequest("packet_service", "set", value=0))
        response = await self.request("packet_service", "set", {"packet_service_action": "attach"}, check=False)
        if response.ok and name_of(response.get("packet_service_state")) == "attached":
            self._state("packet-service", "attached")
            return True
        if not response.ok:
            self.report(ev.Notice("the modem did not attach for packet data: %s%s" % (
                describe_status(int(response.status)) if response.status is not None else "no answer",
                " (%s)" % describe_nw_error(response.get("nw_error")) if response.get("nw_error") else ""), True))
        return False

    async def _wait_change(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._event().wait(), max(0.05, seconds))
        except asyncio.TimeoutError:
            pass

    # ---------------------------------------------------------------- sessions

    async def start(self, bearer: BearerId, netdev: str) -> Bearer:
        session = session_of(bearer)
        config = await self._activate(session)
        settings = readings.ip_settings(config, bearer.family)
        if settings is None:
            raise CallRejectedError("%s: session %d came up without an IPv%d address" % (bearer, session, bearer.family),
                                    "the network does not offer this IP family here: try -4 only or -6 only")
        self.report(ev.SettingsReceived(settings))
        started = Bearer(bearer, netdev, settings, {"session": session, "proxy": int(self.port.through_proxy)})
        self.live[bearer] = started
        return started

    async def _activate(self, session: int) -> Message:
        """The session up (one CONNECT for every family of the plan) and its IP configuration;
        bearers starting together share one activation."""
        task = self._activating.get(session)
        if task is None or task.done():
            task = asyncio.ensure_future(self._activate_once(session))
            self._activating[session] = task
        return await asyncio.shield(task)

    async def _query_session(self, session: int) -> str:
        """CONNECT query (quectel-CM's mbim_query_connect): what the session is before we dial."""
        self.report(ev.MbimRequest("connect", session=session))
        query = await self.request("connect", "query", {"session_id": session}, check=False)
        state = readings.activation(query) if query.ok else "deactivated"
        self._state("activation", state)
        self.sessions[session] = state
        self._known.add(session)
        return state

    async def _activate_once(self, session: int) -> Message:
        riding = any(session_of(b) == session for b in self.live)  # the other family is up on it
        if not (riding and self.sessions.get(session) == "activated"):
            # prepare() just asked; asked again only for a redial on a prepared modem
            state = self.sessions[session] if session in self._known else await self._query_session(session)
            self._known.discard(session)
            if state == "activated" and not riding:
                # Left up by an earlier run or another program: end it and dial with our settings.
                self.report(ev.Notice("session %d was already up on the modem; restarting it" % session, True))
                await self._deactivate(session)
                state = "deactivated"
            if state != "activated":
                await self._connect(session)
        return await self._ip_configuration(session)

    async def _connect(self, session: int) -> None:
        plan = self.plan
        families = tuple(sorted(set(plan.families)))
        values = {"session_id": session, "activation_command": "activate", "access_string": plan.apn or "",
                  "user_name": plan.username, "password": plan.password, "compression": "none",
                  "auth_protocol": _AUTH.get(tuple(sorted(plan.auth_flags)), "chap"),
                  "ip_type": _IP_TYPE.get(families, "ipv4v6"), "context_type": "internet"}
        self.report(ev.MbimRequest("connect", "set", session=session, value=1))
        response = await self.request("connect", "set", values, timeout=plan.start_timeout, check=False)
        if not response.ok or readings.activation(response) != "activated":
            self.sessions[session] = "deactivated"
            self._state("activation", readings.activation(response) if response.values else "deactivated")
            what = " and ".join("IPv%d" % f for f in families)
            raise session_error(what, response, session)
        self.sessions[session] = "activated"
        self._state("activation", "activated")
        self.report(ev.Notice("session %d activated: APN %s, %s" % (session, plan.apn or "(the network's default)",
                                                                   _IP_TYPE.get(families, "ipv4v6"))))

    async def _ip_configuration(self, session: int) -> Message:
        self.report(ev.MbimRequest("ip_configuration", session=session))
        config = await self.request("ip_configuration", "query", {"session_id": session})
        found = tuple(s for s in (readings.ip_settings(config, 4), readings.ip_settings(config, 6)) if s is not None)
        self.report(ev.MbimIpConfiguration(session, int(config.get("ipv4_configuration_available") or 0),
                                           int(config.get("ipv6_configuration_available") or 0), found))
        return config

    async def settings(self, bearer: BearerId) -> IpSettings:
        config = await self.request("ip_configuration", "query", {"session_id": session_of(bearer)})
        settings = readings.ip_settings(config, bearer.family)
        if settings is None:
            raise ModemError("%s: the session has no IPv%d address any more" % (bearer, bearer.family))
        return settings

    async def session_up(self, bearer: BearerId) -> bool:
        session = session_of(bearer)
        response = await self.request("connect", "query", {"session_id": session}, check=False)
        state = readings.activation(response) if response.ok else "deactivated"
        self.sessions[session] = state
        self.report(ev.CallStatus(bearer.family, state == "activated"))
        return state == "activated"

    async def stop(self, bearer: Bearer) -> bool:
        """Deactivate the bearer's session once no other bearer uses it; True if confirmed."""
        self.live.pop(bearer.id, None)
        session = int(bearer.handle.get("session", 0))
        if any(session_of(b) == session for b in self.live):
            return True  # the other family still rides on this session
        return await self._deactivate(session)

    async def _deactivate(self, session: int, timeout: float = 3.0) -> bool:
        self.report(ev.MbimRequest("connect", "set", session=session, value=0))
        try:
            response = await self.request("connect", "set", {"session_id": session, "activation_command": "deactivate",
                                                             "context_type": "internet"}, timeout=timeout, check=False)
        except ModemError:
            return False
        self.sessions[session] = "deactivated"
        return response.ok or name_of(response.status) == "context-not-activated"

    async def radio_cycle(self) -> None:
        """Radio off and on again (recovery rung)."""
        await self.request("radio_state", "set", {"radio_state": "off"})
        await asyncio.sleep(1.0)
        await self.request("radio_state", "set", {"radio_state": "on"})
        self._state_changed = True

    # ---------------------------------------------------------------- what the modem says unasked

    def _on_indication(self, message: Message) -> None:
        definition = message.definition
        if definition is None or definition.service.nick != "basic-connect" or message.kind != "notification":
            return
        key = definition.key
        if key == "register_state":
            self._state("register", readings.registered_state(message))
        elif key == "packet_service":
            self._state("packet-service", name_of(message.get("packet_service_state"), "unknown"))
        elif key == "subscriber_ready_status":
            self._state("subscriber-ready", name_of(message.get("ready_state"), "unknown"))
        elif key == "connect":
            session = int(message.get("session_id", 0))
            self.sessions[session] = readings.activation(message)
            self._state("activation", self.sessions[session])
        if key in ("register_state", "packet_service", "subscriber_ready_status"):
            self._event().set()


def _ready(name: str) -> Any:
    return catalogue().enum("MbimSubscriberReadyState").wrap(catalogue().enum("MbimSubscriberReadyState").lookup(name))


def _tries(count: Optional[int]) -> str:
    return "?" if count is None else str(count)


def _registration_error(registration: Registration, elapsed: float) -> RegistrationError:
    text = "no packet service after %.0f s: %s" % (elapsed, registration.describe())
    if registration.state == "registration-denied":
        cause = describe_nw_error(registration.reject_cause)
        return RegistrationError(text + (" [%s]" % cause if cause else ""),
                                 "the network refuses this SIM: check that it is activated for data and allowed "
                                 "to roam here", Recovery.WAIT_FOR_NETWORK)
    return RegistrationError(text, "check the antenna, that the module's bands and firmware match this region "
                             "(qcm doctor), and that the SIM is activated; try again outdoors or near a window")
