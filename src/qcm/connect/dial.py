"""The dial sequence over QMI: everything between an open control port and an IP address.

quectel-CM asks about fifteen questions one after another. Here the questions that do not
depend on each other are asked together (all client ids at once; identity, SIM, radio, data
format, profile, registration and IP-family settings at once; both families' calls at once),
so the time to connect is a handful of round trips instead of fifteen.

Every failure becomes an error the user can act on: the SIM's state and retries, the QMI error
by name, the call-end reason by name and meaning.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Tuple

from ..errors import (CallRejectedError, ModemError, QcmError, RadioError, RegistrationError, SimAbsentError,
                      SimError)
from ..qmi.message import Message, QmiError
from . import events as ev
from .events import IpSettings, ModemIdentity, Registration
from .pin_guard import PinGuard
from .session import ClientKey, ModemSession

__all__ = ["DialPlan", "Bearer", "Dialer", "family_role", "registration_of", "reject_cause",
           "sim_state_of"]

log = logging.getLogger("qcm.dial")

# WDS Get Current Settings: PDP type, APN, DNS, IP address, gateway, MTU, domain names, IP family.
REQUESTED_SETTINGS = 0x04 | 0x08 | 0x10 | 0x100 | 0x200 | 0x2000 | 0x4000 | 0x8000
NO_HANDLE = 0xFFFFFFFF
POLL_INTERVAL = 5.0


def family_role(family: int) -> str:
    return "ipv4" if family == 4 else "ipv6"


@dataclass(frozen=True)
class DialPlan:
    """What the user asked for."""

    apn: Optional[str] = None
    username: str = ""
    password: str = ""
    auth: Optional[str] = None          # none | pap | chap | both; None: both if a password is given
    pin: Optional[str] = None
    families: Tuple[int, ...] = (4,)
    profile: int = 1
    write_profile: bool = True
    register_timeout: float = 60.0
    start_timeout: float = 60.0
    retry_rejected_pin: bool = False    # the user vouches for a PIN the SIM rejected before

    @property
    def auth_flags(self) -> List[str]:
        auth = self.auth or ("both" if self.password else "none")
        return {"none": [], "pap": ["pap"], "chap": ["chap"], "both": ["pap", "chap"]}[auth]

    @property
    def pdp_type(self) -> str:
        return {(4,): "ipv4", (6,): "ipv6"}.get(tuple(sorted(self.families)), "ipv4-or-ipv6")


@dataclass
class Bearer:
    """One family's data call: the WDS client that holds it, its handle, its settings."""

    family: int
    cid: int
    handle: int
    settings: IpSettings
    started: float = field(default_factory=time.monotonic)


class HostSide:
    """What the dialer needs from the host: the network interface's raw_ip switch."""

    def raw_ip(self) -> Optional[bool]:
        return None

    def set_raw_ip(self, value: bool) -> None:
        raise NotImplementedError


class Dialer:
    def __init__(self, session: ModemSession, plan: DialPlan, report: ev.Reporter, host: HostSide,
                 pin_guard: Optional[PinGuard] = None) -> None:
        self.session = session
        self.pin_guard = pin_guard or PinGuard(None)
        self.plan = plan
        self.report = report
        self.host = host
        self.identity = ModemIdentity()
        self.registration: Optional[Registration] = None
        self._nas_changed: Optional[asyncio.Event] = None
        self._state_changed = False  # prepare() entered a PIN or turned the radio on
        session.port.on_indication(self._on_indication)

    # ---------------------------------------------------------------- clients

    def client_keys(self) -> List[ClientKey]:
        keys: List[ClientKey] = [("DMS", "main"), ("NAS", "main"), ("UIM", "main"), ("WDA", "main")]
        keys += [("WDS", family_role(f)) for f in self.plan.families]
        return keys

    async def open_clients(self) -> None:
        await self.session.allocate(self.client_keys())
        self.report(ev.ClientsAllocated(tuple((s, r, c) for (s, r), c in self.session.clients.items())))

    # ---------------------------------------------------------------- preparation

    async def prepare(self) -> ModemIdentity:
        """Identity, data format, SIM, radio, profile and IP family, asked together."""
        self._nas_changed = asyncio.Event()
        self._state_changed = False
        results = await asyncio.gather(
            self._identify(), self._agree_data_format(), self._sim_ready(), self._radio_online(),
            self._profile(), self._ip_families(), self._register_indications(),
            self.read_registration(), *(self.call_connected(f) for f in self.plan.families),
            return_exceptions=True)
        # The most useful error first: a SIM problem explains a radio or profile failure.
        for result in results:
            if isinstance(result, SimError):
                raise result
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return self.identity

    async def _identify(self) -> None:
        revision, ids, model, manufacturer = await asyncio.gather(
            self.session.request("DMS", "Get Revision", check=False),
            self.session.request("DMS", "Get IDs", check=False),
            self.session.request("DMS", "Get Model", check=False),
            self.session.request("DMS", "Get Manufacturer", check=False))
        self.identity = ModemIdentity(manufacturer.get("manufacturer", ""), model.get("model", ""),
                                      revision.get("revision", ""), ids.get("imei", ""))
        self.report(ev.Identified(self.identity))

    async def _agree_data_format(self) -> None:
        """Make the modem and the host use the same framing (raw-IP) before any data flows."""
        changed: List[str] = []
        response = await self.session.request("WDA", "Get Data Format", check=False)
        link = response["link_layer_protocol"].name if response.ok and "link_layer_protocol" in response else ""
        if link != "raw-ip":
            result = await self.session.request("WDA", "Set Data Format", {
                "qos_format": False, "link_layer_protocol": "raw-ip",
                "uplink_data_aggregation_protocol": "disabled",
                "downlink_data_aggregation_protocol": "disabled"}, check=False)
            if result.ok and result.get("link_layer_protocol") is not None:
                link = result["link_layer_protocol"].name
                changed.append("modem")
            elif not link:
                link = "raw-ip"  # no WDA on this firmware: modern modules are raw-IP only
                self.report(ev.Notice("the modem cannot report its data format (%s); assuming raw-ip"
                                      % (result.result.describe() if result.result else "no answer"), True))
        want_raw = link != "802-3"
        if self.host.raw_ip() is not None and self.host.raw_ip() != want_raw:
            self.host.set_raw_ip(want_raw)
            changed.append("host")
        self.report(ev.DataFormat(link, self.host.raw_ip(), tuple(changed)))

    async def _sim_ready(self) -> None:
        response = await self.session.request("UIM", "Get Card Status", check=False)
        if not response.ok:
            return await self._sim_ready_dms(response)
        state, pin_retries, puk_retries = sim_state_of(response)
        if state == "absent":
            raise SimAbsentError("no SIM card: the module sees no card, or no usable application on it",
                                 "insert a SIM (contacts down, the right way round) and power-cycle the module")
        if state == "ready":
            self.report(ev.SimReady("ready", pin_retries))
            return
        if state == "puk":
            raise SimError("the SIM is blocked and needs its PUK (%d tries left)" % puk_retries,
                           "unblock it in a phone; qcm never enters PUKs, a wrong one can destroy the SIM")
        if state == "pin":
            await self._verify_pin(pin_retries)
            return
        if state == "blocked":
            raise SimError("the SIM is permanently blocked", "only a new SIM from the operator helps")
        app_state = state
        raise SimError("the SIM is not ready (%s)" % app_state, "wait for it to initialise, or check it in a phone")

    async def _sim_ready_dms(self, failed: Message) -> None:
        """Modules without the UIM service answer the older DMS PIN requests."""
        response = await self.session.request("DMS", "UIM Get PIN Status", check=False)
        if not response.ok:
            code = response.result.error.name if response.result else ""
            if code in ("UimUninitialized", "NoSim"):
                raise SimAbsentError("no SIM card (%s)" % response.result.describe(),  # type: ignore[union-attr]
                               "insert a SIM and power-cycle the module")
            self.report(ev.Notice("cannot read the SIM state (%s); going on" % failed.result.describe(), True))
            return
        pin1 = response["pin1_status"]
        status = pin1["current_status"].name
        if status in ("enabled-verified", "disabled", "unblocked"):
            self.report(ev.SimReady("ready", pin1["verify_retries_left"]))
        elif status == "enabled-not-verified":
            await self._verify_pin(pin1["verify_retries_left"], dms=True)
        elif status == "blocked":
            raise SimError("the SIM is blocked and needs its PUK (%d tries left)" % pin1["unblock_retries_left"],
                           "unblock it in a phone; qcm never enters PUKs")
        else:
            raise SimError("the SIM is %s" % status)

    async def _verify_pin(self, retries: int, dms: bool = False) -> None:
        pin = self.plan.pin
        if not pin:
            raise SimError("the SIM is locked with a PIN (%d tries left)" % retries,
                           "run again with -p PIN; qcm never guesses a PIN")
        sim, shown = await self._sim_key()
        if self.plan.retry_rejected_pin:
            self.pin_guard.forget(sim)
        self.pin_guard.check(sim, pin, retries, shown)
        self.pin_guard.sending(sim, pin, retries)  # before it goes out: a lost answer still counts
        lost = ""
        try:
            if dms:
                response = await self.session.request("DMS", "UIM Verify PIN", {"info": {
                    "pin_id": "pin", "pin": pin}}, check=False)
                left = response.get("pin_retries_status")
            else:
                response = await self.session.request("UIM", "Verify PIN", {
                    "session": {"session_type": "card-slot-1", "application_identifier": []},
                    "info": {"pin_id": "pin1", "pin_value": pin}}, check=False)
                left = response.get("retries_remaining")
        except ModemError as exc:
            response = None
            lost = str(exc)
        if response is None or response.result is None:
            raise SimError("the SIM's answer to the PIN was lost (%s); not sending it again" % (
                lost if response is None else "no result"), "check the PIN, then run qcm again: it sends the PIN "
                "again only if the SIM shows that it never arrived")
        self.pin_guard.answered(sim, pin, response.ok)
        if response.ok:
            self._state_changed = True
            self.report(ev.SimReady("pin-verified"))
            await self._wait_sim_ready()
            return
        tries = left["verify_retries_left"] if left else None
        reason = response.result.error.name
        if reason == "PinBlocked" or tries == 0:
            raise SimError("the SIM rejected the PIN and is now blocked: it needs its PUK",
                           "unblock it in a phone; qcm does not enter PUKs")
        raise SimError("the SIM rejected the PIN (%s, %s tries left); not retrying, now or in later runs" % (
            reason, "?" if tries is None else tries), "check the PIN; every wrong try uses one up")

    async def _sim_key(self) -> Tuple[str, str]:
        """Which SIM this is, for the PIN record: its ICCID (readable without the PIN), else the
        module's IMEI; and how to show it (redacted unless personal data is shown)."""
        response = await self.session.request("DMS", "UIM Get ICCID", check=False)
        iccid = str(response.get("iccid", "")) if response.ok else ""
        if iccid:
            return "iccid:" + iccid, iccid if self.session.port.show_personal else "ICCID ...%s" % iccid[-4:]
        ids = await self.session.request("DMS", "Get IDs", check=False)
        imei = str(ids.get("imei", "")) if ids.ok else ""
        return "imei:" + imei, "in the module with IMEI %s" % (imei if self.session.port.show_personal else "###")

    async def _wait_sim_ready(self, timeout: float = 10.0) -> None:
        """After a PIN the SIM needs a moment before the network side sees it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = await self.session.request("UIM", "Get Card Status", check=False)
            if response.ok and sim_state_of(response)[0] == "ready":
                return
            await asyncio.sleep(0.2)

    async def _radio_online(self) -> None:
        response = await self.session.request("DMS", "Get Operating Mode")
        mode = response["mode"].name
        restricted = bool(response.get("hardware_restricted_mode"))
        if mode == "online" and not restricted:
            self.report(ev.RadioOnline(mode, False))
            return
        if restricted:
            raise RadioError("the radio is off: held by a hardware switch (mode %s, hardware restricted)" % mode,
                             "check the W_DISABLE# / airplane-mode pin of the module's slot or carrier board")
        if mode in ("offline", "shutting-down", "reset"):
            raise RadioError("the radio is %s; it needs a reset to come back" % mode,
                             "power-cycle the module (or AT+CFUN=1,1) and check its firmware")
        result = await self.session.request("DMS", "Set Operating Mode", {"mode": "online"}, check=False)
        if not result.ok:
            raise RadioError("the radio is off (%s) and the modem refused to turn it on: %s" % (
                mode, result.result.describe() if result.result else "no answer"),
                "this often means the firmware does not match the module (see qcm doctor)")
        self._state_changed = True
        self.report(ev.RadioOnline(mode, True))

    async def _profile(self) -> None:
        """Make the stored profile carry the APN and credentials (what quectel-CM's -s does)."""
        plan = self.plan
        if plan.apn is None:
            return
        role = family_role(plan.families[0])
        current = await self.session.request("WDS", "Get Profile Settings", {
            "profile_id": {"profile_type": "3gpp", "profile_index": plan.profile}}, role=role, check=False)
        if not current.ok:
            # BG95-class firmware answers NotSupported: the APN still goes in Start Network.
            self.report(ev.ProfileChecked(plan.profile, plan.apn, plan.username, ",".join(plan.auth_flags) or "none",
                                          plan.pdp_type, False, supported=False))
            return
        wanted = {"apn_name": plan.apn, "username": plan.username, "password": plan.password,
                  "authentication": plan.auth_flags, "pdp_type": plan.pdp_type}
        differs = (current.get("apn_name", "") != plan.apn or current.get("username", "") != plan.username
                   or current.get("password", "") != plan.password
                   or sorted(getattr(current.get("authentication"), "names", [])) != sorted(plan.auth_flags)
                   or getattr(current.get("pdp_type"), "name", "") != plan.pdp_type)
        changed = False
        if differs and plan.write_profile:
            result = await self.session.request("WDS", "Modify Profile", dict(
                wanted, profile_identifier={"profile_type": "3gpp", "profile_index": plan.profile}),
                role=role, check=False)
            changed = result.ok
            if not result.ok:
                self.report(ev.Notice("cannot update profile %d (%s); the APN goes with the call instead"
                                      % (plan.profile, result.result.describe()), True))  # type: ignore[union-attr]
        self.report(ev.ProfileChecked(plan.profile, plan.apn, plan.username, ",".join(plan.auth_flags) or "none",
                                      plan.pdp_type, changed))

    async def _ip_families(self) -> None:
        async def one(family: int) -> None:
            await self.session.request("WDS", "Set IP Family", {"preference": family},
                                       role=family_role(family), check=False)
        await asyncio.gather(*(one(f) for f in self.plan.families))

    async def _register_indications(self) -> None:
        """Hear about registration and SIM changes as they happen instead of polling for them."""
        await asyncio.gather(
            self.session.request("NAS", "Register Indications", {"serving_system_events": True}, check=False),
            self.session.request("UIM", "Register Events", {"event_registration_mask": 1}, check=False))

    def _on_indication(self, message: Message) -> None:
        if message.service_name == "NAS" and self._nas_changed is not None:
            self._nas_changed.set()

    # ---------------------------------------------------------------- registration

    async def read_registration(self) -> Registration:
        serving, signal = await asyncio.gather(self.session.request("NAS", "Get Serving System"),
                                               self.session.request("NAS", "Get Signal Info", check=False))
        registration = registration_of(serving, signal)
        if registration.state == "registration-denied":
            info = await self.session.request("NAS", "Get System Info", check=False)
            cause = reject_cause(info)
            if cause is not None:
                registration = replace(registration, reject_cause=cause)
        self.registration = registration
        return registration

    async def wait_registered(self, timeout: Optional[float] = None) -> Registration:
        """Until registered and attached for packet data, showing what it waits for."""
        timeout = self.plan.register_timeout if timeout is None else timeout
        start = time.monotonic()
        last_shown: Optional[Tuple[str, str, str, bool]] = None
        last_time = 0.0
        # prepare() already read the registration; it still holds unless prepare changed the modem.
        registration = self.registration if not self._state_changed else None
        while True:
            if self._nas_changed is not None:
                self._nas_changed.clear()
            if registration is None:
                registration = await self.read_registration()
            if registration.registered and registration.ps_attached:
                self.report(ev.Registered(registration))
                return registration
            elapsed = time.monotonic() - start
            key = (registration.state, registration.rat, registration.operator, registration.ps_attached)
            if key != last_shown or elapsed - last_time >= 10:
                self.report(ev.Waiting(registration, elapsed))
                last_shown, last_time = key, elapsed
            if elapsed >= timeout:
                raise RegistrationError("no packet service after %.0f s: %s" % (elapsed, registration.describe()),
                                        _registration_hint(registration))
            await self._wait_nas_change(min(POLL_INTERVAL, timeout - elapsed))
            registration = None

    async def _wait_nas_change(self, seconds: float) -> None:
        assert self._nas_changed is not None
        try:
            await asyncio.wait_for(self._nas_changed.wait(), max(0.05, seconds))
        except asyncio.TimeoutError:
            pass

    # ---------------------------------------------------------------- calls

    async def start(self, family: int) -> Bearer:
        role = family_role(family)
        plan = self.plan
        values: Dict[str, Any] = {"ip_family_preference": family, "profile_index_3gpp": plan.profile}
        if plan.apn is not None:
            values.update({"apn": plan.apn, "authentication_preference": plan.auth_flags})
            if plan.username or plan.password:
                values.update({"username": plan.username, "password": plan.password})
        response = await self.session.request("WDS", "Start Network", values, role=role,
                                              timeout=plan.start_timeout, check=False)
        if not response.ok and response.result is not None and response.result.error.name == "NoEffect":
            # A call with these settings is already up (left by an earlier run): end it and dial again.
            self.report(ev.Notice("IPv%d: a call was already up on the modem; restarting it" % family, True))
            await self.session.request("WDS", "Stop Network", {"packet_data_handle": NO_HANDLE,
                                                                "disable_autoconnect": True}, role=role, check=False)
            response = await self.session.request("WDS", "Start Network", values, role=role,
                                                  timeout=plan.start_timeout, check=False)
        if not response.ok:
            raise _call_error(family, response)
        handle = int(response["packet_data_handle"])
        self.report(ev.CallStarted(family, handle))
        settings = await self.settings(family)
        self.report(ev.SettingsReceived(settings))
        return Bearer(family, self.session.cid("WDS", role), handle, settings)

    async def settings(self, family: int) -> IpSettings:
        response = await self.session.request("WDS", "Get Current Settings",
                                              {"requested_settings": REQUESTED_SETTINGS}, role=family_role(family))
        return _settings(family, response)

    async def stop(self, bearer: Bearer) -> bool:
        """Best effort: the call may already be gone, or the modem may not answer any more."""
        try:
            response = await self.session.request("WDS", "Stop Network", {"packet_data_handle": bearer.handle},
                                                  role=family_role(bearer.family), timeout=3.0, check=False)
        except QcmError as exc:
            log.warning("stopping the IPv%d call: %s", bearer.family, exc)
            return False
        return response.ok

    async def radio_cycle(self) -> None:
        """Radio off and on again (recovery rung): low power, then online."""
        await self.session.request("DMS", "Set Operating Mode", {"mode": "low-power"})
        await asyncio.sleep(1.0)
        await self.session.request("DMS", "Set Operating Mode", {"mode": "online"})
        self._state_changed = True

    async def call_connected(self, family: int) -> bool:
        response = await self.session.request("WDS", "Get Packet Service Status", role=family_role(family),
                                              check=False)
        connected = response.ok and response["connection_status"].name == "connected"
        self.report(ev.CallStatus(family, connected))
        return connected


# ---------------------------------------------------------------------- decoding helpers

def sim_state_of(response: Message) -> Tuple[str, Optional[int], Optional[int]]:
    """(state, PIN tries left, PUK tries left) from UIM Card Status; state is ready, pin, puk,
    blocked, absent, or the application's own state name while it initialises."""
    card_state, app = _card_and_application(response)
    if card_state != "present" or app is None:
        return "absent", None, None
    app_state, pin1 = app["state"].name, app["pin1_state"].name
    if app_state == "illegal" or pin1 == "permanently-blocked":
        state = "blocked"
    elif app_state in ("puk1-or-upin-puk-required", "pin1-blocked") or pin1 == "blocked":
        state = "puk"
    elif app_state == "pin1-or-upin-pin-required":
        state = "pin"
    else:
        state = app_state  # ready, detected, ...
    return state, app["pin1_retries"], app["puk1_retries"]


def card_state_of(message: Message) -> str:
    """The first card's state (present, absent, error) from a UIM Card Status response or indication."""
    return _card_and_application(message)[0]


def _card_and_application(response: Message) -> Tuple[str, Optional[Dict[str, Any]]]:
    status = response.get("card_status") or {}
    cards = status.get("cards") or []
    if not cards:
        return "absent", None
    card = cards[0]
    apps = card.get("applications") or []
    usable = [a for a in apps if a["type"].name in ("usim", "sim")] or apps
    return card["card_state"].name, (usable[0] if usable else None)


def registration_of(serving: Message, signal: Optional[Message]) -> Registration:
    system = serving["serving_system"]
    radios = [r.name for r in system.get("radio_interfaces", []) if r.name not in ("none", "unknown")]
    plmn = serving.get("current_plmn") or {}
    roaming = serving.get("roaming_indicator")
    return Registration(
        state=system["registration_state"].name,
        ps_attached=system["ps_attach_state"].name == "attached",
        roaming=roaming is not None and roaming.name == "on",
        mcc=plmn.get("mcc"), mnc=plmn.get("mnc"), operator=plmn.get("description", ""),
        rat=radios[0] if radios else "", signal_dbm=_signal_dbm(signal) if signal is not None else None)


def _signal_dbm(signal: Message) -> Optional[int]:
    if not signal.ok:
        return None
    for key, field_name in (("lte_signal_strength", "rsrp"), ("5g_signal_strength", "rsrp"),
                            ("wcdma_signal_strength", "rssi")):
        value = signal.get(key)
        if isinstance(value, dict) and field_name in value:
            return int(value[field_name])
    gsm = signal.get("gsm_signal_strength")
    return int(gsm) if isinstance(gsm, int) else None


def reject_cause(info: Message) -> Optional[int]:
    if not info.ok:
        return None
    for key, value in info.values.items():
        if key.endswith("_system_info_v2") and isinstance(value, dict) and value.get("registration_reject_info_valid"):
            return int(value["registration_reject_cause"])
    return None


def _registration_hint(registration: Registration) -> str:
    if registration.state == "registration-denied":
        return "the network refuses this SIM: check that it is activated for data and allowed to roam here"
    return ("check the antenna, that the module's bands and firmware match this region (qcm doctor), "
            "and that the SIM is activated; try again outdoors or near a window")


def _settings(family: int, response: Message) -> IpSettings:
    """The call's settings; nonsense from the modem (a non-contiguous mask, prefix 0) is refused or
    narrowed to the address alone, never allowed to become a route to everywhere."""
    try:
        if family == 4:
            address = response.get("ipv4_address")
            mask = response.get("ipv4_gateway_subnet_mask")
            if address is None:
                raise ModemError("the modem gave no IPv4 address for the call")
            prefix = ipaddress.IPv4Network("0.0.0.0/%s" % mask).prefixlen if mask is not None else 32
            interface: Any = ipaddress.IPv4Interface("%s/%d" % (address, prefix or 32))
            gateway = response.get("ipv4_gateway_address")
            dns = [response.get(k) for k in ("primary_ipv4_dns_address", "secondary_ipv4_dns_address")]
        else:
            ipv6 = response.get("ipv6_address")
            if ipv6 is None:
                raise ModemError("the modem gave no IPv6 address for the call")
            prefix = ipv6["prefix_length"]
            interface = ipaddress.IPv6Interface("%s/%d" % (ipv6["address"], prefix if 0 < prefix <= 128 else 128))
            gateway_tlv = response.get("ipv6_gateway_address")
            gateway = gateway_tlv["address"] if gateway_tlv else None
            dns = [response.get(k) for k in ("ipv6_primary_dns_address", "ipv6_secondary_dns_address")]
    except ValueError as exc:
        raise ModemError("the modem gave unusable IPv%d settings: %s" % (family, exc)) from None
    servers = tuple(d for d in dns if d is not None and not d.is_unspecified)
    mtu = response.get("mtu")
    return IpSettings(family, interface, gateway, servers, int(mtu) if mtu else None)


def _call_error(family: int, response: Message) -> Exception:
    result = response.result
    if result is None:
        return ModemError("IPv%d: Start Network answered without a result" % family)
    if result.error.name != "CallFailed":
        return QmiError(response)
    reason = response.get("call_end_reason")
    verbose = response.get("verbose_call_end_reason")
    parts = []
    if reason is not None:
        text = "%s (%d)" % (reason.name, int(reason))
        parts.append(text + (": " + reason.meaning if reason.meaning else ""))
    if verbose is not None:
        detail = verbose["reason"]
        name = getattr(detail, "name", str(int(detail)))
        meaning = getattr(detail, "meaning", "")
        parts.append("[%s %s (%d)%s]" % (verbose["type"].name, name, int(detail), ": " + meaning if meaning else ""))
    message = "IPv%d call rejected: %s" % (family, " ".join(parts) or result.describe())
    return CallRejectedError(message, _call_hint(reason, verbose))


def _call_hint(reason: Any, verbose: Any) -> str:
    names = {getattr(reason, "name", ""), getattr(verbose["reason"], "name", "") if verbose else ""}
    if names & {"gsm-wcdma-unknown-apn", "unknown-apn"}:
        return "check the APN name with your operator (-s APN)"
    if names & {"authentication-failed"}:
        return "check the APN user name and password, and PAP/CHAP (-s APN USER PASS [0|1|2|3])"
    if names & {"gsm-wcdma-option-unsubscribed", "option-unsubscribed", "gsm-wcdma-operator-determined-barring",
                "operator-determined-barring"}:
        return "the SIM's plan does not allow this: ask the operator to enable data for it"
    if names & {"ipv4-only-allowed", "ipv6-only-allowed", "gsm-wcdma-unknown-pdp", "unknown-pdp"}:
        return "the network does not offer this IP family here: try -4 only or -6 only"
    if names & {"no-service", "gsm-wcdma-no-service", "cdma-no-service"}:
        return "the module lost the network: check signal and registration (qcm doctor)"
    return "see qcm doctor for the modem's state"

