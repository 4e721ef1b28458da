"""The dial sequence over QMI: everything between an open control port and an IP address.

quectel-CM asks about fifteen questions one after another. Here the questions that do not
depend on each other are asked together (all client ids at once; identity, SIM, radio, data
format, profile, registration and IP-family settings at once; every bearer's call at once),
so the time to connect is a handful of round trips instead of fifteen.

Every failure becomes an error the user can act on: the SIM's state and retries, the QMI error
by name, the call-end reason by name and meaning. What the answers mean is ``qmi.readings``'.

Several PDNs (QMAP): the data format becomes raw IP with QMAP aggregation (QMAPv5 where both the
module and the host's links take it), the host's parent interface is made ready for it, each
PDN gets its mux link, and every WDS client is bound to its PDN's mux id (Bind Mux Data Port)
before its call starts; each PDN dials with its own profile, APN and credentials.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List, Optional, Tuple

from ...connect import events as ev
from ...connect.pin_guard import PinGuard
from ...errors import (ModemError, NetConfigError, RadioError, Recovery, RegistrationError, SimAbsentError,
                       SimError, UsageError)
from ...model import IpSettings, ModemIdentity, Registration, SimStatus
from ...qmi import readings
from ...qmi.message import Message
from ..base import BackendContext, Bearer, BearerId, Pdn
from .qmap_format import QmapFormat, agreed_format, set_data_format_values
from .calls import call_error
from .session import ClientKey, ModemSession

__all__ = ["QmiDial", "wds_role", "endpoint_of"]

# WDS Get Current Settings: PDP type, APN, DNS, IP address, gateway, MTU, domain names, IP family.
REQUESTED_SETTINGS = 0x04 | 0x08 | 0x10 | 0x100 | 0x200 | 0x2000 | 0x4000 | 0x8000
NO_HANDLE = 0xFFFFFFFF
POLL_INTERVAL = 5.0


def wds_role(bearer: BearerId) -> str:
    """The WDS client that holds a bearer's call: one per bearer, as the modem requires."""
    return str(bearer).lower()


def endpoint_of(modem: Any) -> Dict[str, Any]:
    """The module's data endpoint as WDA and WDS name it: the USB interface of its network function
    (quectel-CM and ModemManager send the same), or the PCIe data channel."""
    if getattr(modem, "bus", "usb") == "pci":
        return {"endpoint_type": "pcie", "interface_number": 4}
    return {"endpoint_type": "hsusb", "interface_number": int(getattr(modem, "interface", None) or 4)}


class QmiDial:
    def __init__(self, session: ModemSession, context: BackendContext, modem: Any = None) -> None:
        self.session = session
        self.modem = modem
        self.context = context
        self.plan = context.plan
        self.report = context.report
        self.pin_guard: PinGuard = context.pin_guard or PinGuard(None)
        self.identity = ModemIdentity()
        self.registration: Optional[Registration] = None
        self._nas_changed: Optional[asyncio.Event] = None
        self._state_changed = False  # prepare() entered a PIN or turned the radio on
        self._after_call_done = False  # after_call() asked what the call did not need
        self._indications = False      # NAS and UIM indications registered
        self.link_layer = ""          # what the host's interface frames after the agreement: raw-ip or 802-3
        self.qmap: Optional[QmapFormat] = None   # the aggregation agreed with the modem (several PDNs)
        self.pdn_links: Dict[int, str] = {}      # PDN index -> the network interface of its mux
        session.port.on_indication(self._on_indication)

    # ---------------------------------------------------------------- clients

    def client_keys(self) -> List[ClientKey]:
        keys: List[ClientKey] = [("DMS", "main"), ("NAS", "main"), ("UIM", "main"), ("WDA", "main")]
        return keys + [("WDS", wds_role(b)) for b in self.plan.bearers]

    async def open_clients(self) -> None:
        await self.session.allocate(self.client_keys())
        self.report(ev.ClientsAllocated(tuple((s, r, c) for (s, r), c in self.session.clients.items())))

    # ---------------------------------------------------------------- preparation

    async def prepare(self) -> ModemIdentity:
        """What the call needs, asked together: data format, SIM, radio, profile, IP family and registration.
        (Whether calls are up already is asked for the first PDN only: quectel-CM's requestQueryDataCall lines;
        a further PDN's call left up by an earlier run shows as NoEffect when it is dialled, and is restarted
        then.) What the call does not need (identity, signal, indications) waits for ``after_call``."""
        self._nas_changed = asyncio.Event()
        self._state_changed = False
        self._after_call_done = False
        results = await asyncio.gather(
            self._agree_data_format(), self._sim_ready(), self._radio_online(),
            self._profile(), self._ip_families(), self._read_serving(),
            *(self.call_connected(b) for b in self.plan.first_pdn.bearers),
            return_exceptions=True)
        # The most useful error first: a SIM problem explains a radio or profile failure.
        for result in results:
            if isinstance(result, SimError):
                raise result
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return self.identity

    async def after_call(self) -> None:
        """Once a call is up, what it did not need: the module's identity (status, the log), the signal, and
        the indications that tell the supervisor of a network or SIM coming back. Once per ``prepare``; a
        failure here costs a line, never the connection."""
        if self._after_call_done:
            return
        self._after_call_done = True
        results = await asyncio.gather(self._identify(), self._register_indications(), self.read_registration(),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                self.report(ev.Notice("after the call: %s" % result, True))
            elif isinstance(result, BaseException):
                raise result

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
        host = self.context.host
        changed: List[str] = []
        if getattr(self.session.port.transport, "driver_sets_data_format", False):
            if self.plan.multiplexed:
                raise UsageError("several PDNs on GobiNet: not implemented (its driver sets QMAP itself, "
                                 "from its qmap_mode parameter)", "use qmi_wwan, or one PDN")
            self.link_layer = "802-3"  # GobiNet: its driver sets the modem's format and shows an Ethernet usbN
            self.report(ev.Notice("data format: set by the %s driver" % "GobiNet"))
            return
        if self.plan.multiplexed:
            await self._agree_qmap()
            return
        current = await self.session.request("WDA", "Get Data Format", check=False)
        link = readings.link_layer(current)
        aggregated = getattr(current.get("downlink_data_aggregation_protocol"), "name", "disabled") != "disabled"
        if link != "raw-ip" or aggregated:  # (QMAP left on by an earlier run with several PDNs: one PDN needs none)
            result = await self.session.request("WDA", "Set Data Format", {
                "qos_format": False, "link_layer_protocol": "raw-ip",
                "uplink_data_aggregation_protocol": "disabled",
                "downlink_data_aggregation_protocol": "disabled"}, check=False)
            if readings.link_layer(result):
                link = readings.link_layer(result)  # what the modem answered is what it uses
                changed.append("modem")
            elif not link:
                link = "raw-ip"  # no WDA on this firmware: modern modules are raw-IP only
                self.report(ev.Notice("the modem cannot report its data format (%s); assuming raw-ip"
                                      % (result.result.describe() if result.result else "no answer"), True))
        want_raw = link != "802-3"
        self.link_layer = "raw-ip" if want_raw else "802-3"
        if host.raw_ip() is not None and host.raw_ip() != want_raw:
            host.set_raw_ip(want_raw)
            changed.append("host")
        self.report(ev.DataFormat(link, host.raw_ip(), tuple(changed)))

    async def _agree_qmap(self) -> None:
        """Raw IP with QMAP aggregation, in the best version both sides take; the modem's answer is what
        is used (sizes included), and the host's parent interface is set to it. A process for one PDN
        of a shared module (quectel-CM -m) keeps a QMAP format another one set, as quectel-CM does:
        setting it again under running calls is not something to risk."""
        host = self.context.host
        versions = host.qmap_versions()
        if not versions:
            raise NetConfigError("the host cannot carry several PDNs on %s: its driver offers no QMAP links"
                                 % getattr(self.modem, "netdev", "this module"),
                                 "use qmi_wwan (Linux 4.19+: qmi/add_mux), qmi_wwan_q or rmnet, or dial one PDN")
        endpoint = endpoint_of(self.modem)
        agreed: Optional[QmapFormat] = None
        # Links whose making does not depend on the QMAP version (qmi_wwan's, qmi_wwan_q's) are made
        # while the modem answers; rmnet's carry the version's checksum flags, so they wait for it.
        links = asyncio.ensure_future(self._make_links(versions[0])) if len(versions) == 1 else None
        try:
            agreed = await self._agree_qmap_format(versions, endpoint)
            if links is None:
                links = asyncio.ensure_future(self._make_links(agreed.version))
            await links
        finally:
            if links is not None and not links.done():
                links.cancel()
        self.qmap = agreed
        self.link_layer = "raw-ip"
        changes = host.prepare_aggregation(agreed.downlink_size)
        self.report(ev.Notice("data format: %s" % agreed.describe()))
        self.report(ev.DataFormat("raw-ip", host.raw_ip(), ("host",) if changes else ()))
        if changes:
            self.report(ev.Notice("%s set for QMAP: %s" % (getattr(self.modem, "netdev", "the interface"),
                                                          ", ".join(changes))))
        await self._bind_muxes(endpoint)

    async def _agree_qmap_format(self, versions: Tuple[str, ...], endpoint: Dict[str, Any]) -> QmapFormat:
        agreed: Optional[QmapFormat] = None
        if self.plan.shared:
            agreed = agreed_format(await self.session.request("WDA", "Get Data Format", check=False), versions)
        refusals: List[str] = []
        for version in versions if agreed is None else ():
            answer = await self.session.request("WDA", "Set Data Format", set_data_format_values(version, endpoint),
                                                check=False)
            if not answer.ok:
                refusals.append("%s: %s" % (version, answer.result.describe() if answer.result else "no answer"))
                continue
            agreed = agreed_format(answer, versions)
            if agreed is not None:
                break
            refusals.append("%s: answered %s" % (version, getattr(answer.get("downlink_data_aggregation_protocol"),
                                                                  "name", "nothing")))
        if agreed is None:
            raise ModemError("the modem did not agree to QMAP aggregation (%s)" % "; ".join(refusals),
                             "several PDNs need QMAP; dial one PDN, or check the firmware (qcm doctor)")
        return agreed

    async def _make_links(self, version: str) -> None:
        """Each PDN's mux link, one after the other: qmi_wwan names its links in the order they are made."""
        for pdn in self.plan.pdns:
            self.pdn_links[pdn.index] = await self.context.host.mux_link(pdn.mux, version)

    async def _bind_muxes(self, endpoint: Dict[str, Any]) -> None:
        """Every WDS client bound to its PDN's mux id, before any call starts."""
        pdns = self.plan.pdns
        await asyncio.gather(*(self.session.request("WDS", "Bind Mux Data Port", {
            "endpoint_info": endpoint, "mux_id": pdn.mux, "client_type": "tethered"}, role=wds_role(bearer))
            for pdn in pdns for bearer in pdn.bearers))
        self.report(ev.Notice("QMAP: %s" % ", ".join("PDN %d mux 0x%02x on %s" % (p.index, p.mux, self.pdn_links[p.index])
                                                    for p in pdns)))

    async def _sim_ready(self) -> None:
        response = await self.session.request("UIM", "Get Card Status", check=False)
        if response.ok:
            sim = readings.sim_status(response)
        else:  # modules without the UIM service answer the older DMS PIN requests
            dms = await self.session.request("DMS", "UIM Get PIN Status", check=False)
            try:
                sim = readings.dms_sim_status(dms)
            except ModemError as exc:
                self.report(ev.Notice("cannot read the SIM state (%s); going on" % exc, True))
                return
        await self._unlock(sim, dms=not response.ok)

    async def _unlock(self, sim: SimStatus, dms: bool) -> None:
        if sim.state == "ready":
            self.report(ev.SimReady("ready", sim.pin_retries))
        elif sim.state == "absent":
            await self._register_indications()  # to hear of a SIM put in (UIM Card Status)
            raise SimAbsentError("no SIM card: the module sees no card, or no usable application on it",
                                 "insert a SIM (contacts down, the right way round) and power-cycle the module")
        elif sim.state == "pin":
            await self._verify_pin(sim.pin_retries, dms)
        elif sim.state == "puk":
            raise SimError("the SIM is blocked and needs its PUK (%s tries left)" % _tries(sim.puk_retries),
                           "unblock it in a phone; qcm never enters PUKs, a wrong one can destroy the SIM")
        elif sim.state == "blocked":
            raise SimError("the SIM is permanently blocked", "only a new SIM from the operator helps")
        else:  # initializing: give it time
            raise SimError("the SIM is not ready yet (%s)" % sim.detail,
                           "wait for it to initialise; if it stays so, check it in a phone", Recovery.RETRY)

    async def _verify_pin(self, retries: Optional[int], dms: bool) -> None:
        pin = self.plan.pin
        if not pin:
            raise SimError("the SIM is locked with a PIN (%s tries left)" % _tries(retries),
                           "run again with -p PIN; qcm never guesses a PIN")
        sim, shown = await self._sim_key()
        if self.plan.retry_rejected_pin:
            self.pin_guard.forget(sim)
        self.pin_guard.check(sim, pin, retries, shown)
        self.pin_guard.sending(sim, pin, retries)  # before it goes out: a lost answer still counts
        response: Optional[Message] = None
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
            lost = str(exc)
        if response is None or response.result is None:
            raise SimError("the SIM's answer to the PIN was lost (%s); not sending it again" % (lost or "no result"),
                           "check the PIN, then run qcm again: it sends the PIN again only if the SIM shows "
                           "that it never arrived")
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
            reason, _tries(tries)), "check the PIN; every wrong try uses one up")

    async def _sim_key(self) -> Tuple[str, str]:
        """Which SIM this is, for the PIN record: its ICCID (readable without the PIN), else the
        module's IMEI; and how to show it (redacted unless personal data is shown)."""
        personal = self.context.show_personal
        response = await self.session.request("DMS", "UIM Get ICCID", check=False)
        iccid = str(response.get("iccid", "")) if response.ok else ""
        if iccid:
            return "iccid:" + iccid, iccid if personal else "ICCID ...%s" % iccid[-4:]
        ids = await self.session.request("DMS", "Get IDs", check=False)
        imei = str(ids.get("imei", "")) if ids.ok else ""
        return "imei:" + imei, "in the module with IMEI %s" % (imei if personal else "###")

    async def _wait_sim_ready(self, timeout: float = 10.0) -> None:
        """After a PIN the SIM needs a moment before the network side sees it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = await self.session.request("UIM", "Get Card Status", check=False)
            if response.ok and readings.sim_status(response).state == "ready":
                return
            await asyncio.sleep(0.2)

    async def _radio_online(self) -> None:
        mode, restricted = readings.operating_mode(await self.session.request("DMS", "Get Operating Mode"))
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
        await asyncio.gather(*(self._pdn_profile(pdn) for pdn in self.plan.pdns if pdn.apn is not None))

    async def _pdn_profile(self, pdn: Pdn) -> None:
        """Make the stored profile carry the APN and credentials (what quectel-CM's -s does)."""
        plan = self.plan
        assert pdn.apn is not None
        role = wds_role(pdn.bearers[0])
        current = await self.session.request("WDS", "Get Profile Settings", {
            "profile_id": {"profile_type": "3gpp", "profile_index": pdn.index}}, role=role, check=False)
        auth = ",".join(pdn.auth_flags) or "none"
        if not current.ok and _error_name(current) != "NotSupported" and plan.write_profile:
            # No such profile (a module ships with few): made, since the call names it by index.
            created = await self.session.request("WDS", "Create Profile", {
                "profile_type": "3gpp", "pdp_context_number": pdn.index, "apn_name": pdn.apn,
                "username": pdn.username, "password": pdn.password, "authentication": pdn.auth_flags,
                "pdp_type": pdn.pdp_type}, role=role, check=False)
            made = (created.get("profile_identifier") or {}).get("profile_index") if created.ok else None
            if made == pdn.index:
                self.report(ev.Notice("profile %d created for %s" % (pdn.index, pdn.apn)))
                self.report(ev.ProfileChecked(pdn.index, pdn.apn, pdn.username, auth, pdn.pdp_type, True))
                return
            self.report(ev.Notice("profile %d does not exist and could not be created (%s); the APN goes with "
                                  "the call" % (pdn.index, created.result.describe() if created.result and not
                                                created.ok else "made as %s" % made), True))
        if not current.ok:
            # BG95-class firmware answers NotSupported: the APN still goes in Start Network.
            self.report(ev.ProfileChecked(pdn.index, pdn.apn, pdn.username, auth, pdn.pdp_type, False,
                                          supported=False))
            return
        differs = (current.get("apn_name", "") != pdn.apn or current.get("username", "") != pdn.username
                   or current.get("password", "") != pdn.password
                   or sorted(getattr(current.get("authentication"), "names", [])) != sorted(pdn.auth_flags)
                   or getattr(current.get("pdp_type"), "name", "") != pdn.pdp_type)
        changed = False
        if differs and plan.write_profile:
            result = await self.session.request("WDS", "Modify Profile", {
                "profile_identifier": {"profile_type": "3gpp", "profile_index": pdn.index},
                "apn_name": pdn.apn, "username": pdn.username, "password": pdn.password,
                "authentication": pdn.auth_flags, "pdp_type": pdn.pdp_type}, role=role, check=False)
            changed = result.ok
            if not result.ok:
                self.report(ev.Notice("cannot update profile %d (%s); the APN goes with the call instead" % (
                    pdn.index, result.result.describe() if result.result else "no answer"), True))
        self.report(ev.ProfileChecked(pdn.index, pdn.apn, pdn.username, auth, pdn.pdp_type, changed))

    async def _ip_families(self) -> None:
        await asyncio.gather(*(self.session.request("WDS", "Set IP Family", {"preference": b.family},
                                                    role=wds_role(b), check=False) for b in self.plan.bearers))

    async def _register_indications(self) -> None:
        """Hear about registration and SIM changes as they happen instead of polling for them."""
        if self._indications:
            return
        self._indications = True
        await asyncio.gather(
            self.session.request("NAS", "Register Indications", {"serving_system_events": True}, check=False),
            self.session.request("UIM", "Register Events", {"event_registration_mask": 1}, check=False))

    def _on_indication(self, message: Message) -> None:
        if message.service_name == "NAS" and self._nas_changed is not None:
            self._nas_changed.set()

    # ---------------------------------------------------------------- registration

    async def _read_serving(self) -> Registration:
        """The registration the call needs: NAS Get Serving System alone (the signal is asked after the call,
        or while waiting for the network)."""
        registration = readings.registration(await self.session.request("NAS", "Get Serving System"), None)
        if registration.registered and registration.ps_attached:
            self.registration = registration
            return registration
        return await self.read_registration()  # not there yet: the whole picture, for the lines that wait

    async def read_registration(self) -> Registration:
        serving, signal = await asyncio.gather(self.session.request("NAS", "Get Serving System"),
                                               self.session.request("NAS", "Get Signal Info", check=False))
        registration = readings.registration(serving, signal)
        if registration.state == "registration-denied":
            info = await self.session.request("NAS", "Get System Info", check=False)
            registration = readings.with_reject_cause(registration, info)
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
            if not self._indications:  # waiting: hear of the network as it comes, then look again at once
                await self._register_indications()
                registration = None
                continue
            elapsed = time.monotonic() - start
            key = (registration.state, registration.rat, registration.operator, registration.ps_attached)
            if key != last_shown or elapsed - last_time >= 10:
                self.report(ev.Waiting(registration, elapsed))
                last_shown, last_time = key, elapsed
            if elapsed >= timeout:
                raise _registration_error(registration, elapsed)
            await self._wait_nas_change(min(POLL_INTERVAL, timeout - elapsed))
            registration = None

    async def _wait_nas_change(self, seconds: float) -> None:
        if self._nas_changed is None:
            self._nas_changed = asyncio.Event()
        try:
            await asyncio.wait_for(self._nas_changed.wait(), max(0.05, seconds))
        except asyncio.TimeoutError:
            pass

    # ---------------------------------------------------------------- calls

    async def start(self, bearer: BearerId, netdev: str) -> Bearer:
        role = wds_role(bearer)
        plan = self.plan
        pdn = plan.pdn(bearer.pdn)
        netdev = self.pdn_links.get(bearer.pdn, netdev)  # its mux link when several PDNs share the module
        values: Dict[str, Any] = {"ip_family_preference": bearer.family, "profile_index_3gpp": bearer.pdn}
        if pdn.apn is not None:
            values.update({"apn": pdn.apn, "authentication_preference": pdn.auth_flags})
            if pdn.username or pdn.password:
                values.update({"username": pdn.username, "password": pdn.password})
        response = await self.session.request("WDS", "Start Network", values, role=role,
                                              timeout=plan.start_timeout, check=False)
        if not response.ok and response.result is not None and response.result.error.name == "NoEffect":
            # A call with these settings is already up (left by an earlier run): end it and dial again.
            self.report(ev.Notice("%s: a call was already up on the modem; restarting it" % bearer, True))
            await self.session.request("WDS", "Stop Network", {"packet_data_handle": NO_HANDLE,
                                                                "disable_autoconnect": True}, role=role, check=False)
            response = await self.session.request("WDS", "Start Network", values, role=role,
                                                  timeout=plan.start_timeout, check=False)
        if not response.ok:
            raise call_error(bearer, response)
        handle = int(response["packet_data_handle"])
        self.report(ev.CallStarted(bearer.family, handle))
        settings = await self.settings(bearer)
        self.report(ev.SettingsReceived(settings))
        return Bearer(bearer, netdev, settings, {"cid": self.session.cid("WDS", role), "packet_data_handle": handle})

    async def settings(self, bearer: BearerId) -> IpSettings:
        response = await self.session.request("WDS", "Get Current Settings",
                                              {"requested_settings": REQUESTED_SETTINGS}, role=wds_role(bearer))
        return readings.ip_settings(bearer.family, response)

    async def stop(self, bearer: Bearer) -> bool:
        try:
            response = await self.session.request("WDS", "Stop Network", {
                "packet_data_handle": bearer.handle["packet_data_handle"]}, role=wds_role(bearer.id), timeout=3.0,
                check=False)
        except ModemError:
            return False
        return response.ok

    async def radio_cycle(self) -> None:
        """Radio off and on again (recovery rung): low power, then online."""
        await self.session.request("DMS", "Set Operating Mode", {"mode": "low-power"})
        await asyncio.sleep(1.0)
        await self.session.request("DMS", "Set Operating Mode", {"mode": "online"})
        self._state_changed = True

    async def call_connected(self, bearer: BearerId) -> bool:
        response = await self.session.request("WDS", "Get Packet Service Status", role=wds_role(bearer), check=False)
        connected = readings.call_connected(response)
        self.report(ev.CallStatus(bearer.family, connected))
        return connected


def _error_name(response: Message) -> str:
    return response.result.error.name if response.result is not None else ""


def _tries(count: Optional[int]) -> str:
    return "?" if count is None else str(count)


def _registration_error(registration: Registration, elapsed: float) -> RegistrationError:
    text = "no packet service after %.0f s: %s" % (elapsed, registration.describe())
    if registration.state == "registration-denied":
        # The network said no: a reset will not change its mind; retry when it says otherwise.
        return RegistrationError(text, "the network refuses this SIM: check that it is activated for data and "
                                 "allowed to roam here", Recovery.WAIT_FOR_NETWORK)
    return RegistrationError(text, "check the antenna, that the module's bands and firmware match this region "
                             "(qcm doctor), and that the SIM is activated; try again outdoors or near a window")

