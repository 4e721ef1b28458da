"""The simulated modem's MBIM side, sans I/O: bytes and the time in, messages out.

``MbimDevice`` answers MBIM on the same ``SimModem`` state the QMI handlers and the AT port
use (SIM and PIN, operating mode, registration, calls), through the same state transitions:
a PIN goes through ``SimModem.try_pin`` (a wrong one costs a try, the last one blocks the
SIM), the radio through ``SimModem.set_mode``, and a data session through the WDS Start
Network handler itself, so the APN, authentication and IP-type rules, the addresses and the
``Call`` records are the ones a QMI dial gets. An MBIM session's calls are kept under the
clients ``("MBIM4", session)`` and ``("MBIM6", session)``.

What changes in the modem state, whoever changed it (a request, the AT port, a fault, the
clock), is announced as INDICATE_STATUS: subscriber ready, radio state, register state,
packet service, and CONNECT deactivated. The server calls ``receive()`` with what the host
wrote and ``advance()`` when ``next_deadline()`` passes or after it changed the modem
itself; both return the messages to hand to the host, one per read.

``fcc_locked`` plays a Lenovo/Dell laptop unit (RM520N-GL 1eac:1007, EM120R-GL): the radio
stays off, Basic Connect RADIO_STATE set on is accepted but leaves SwRadioState off (what
ModemManager reports as "software radio switch is OFF" before running its FCC unlock), and
the Quectel service reads ``fcc-locked`` until Quectel RADIO_STATE set on unlocks it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple, TypeVar

from ..mbim import framing
from ..mbim.catalogue import NOTIFICATION, RESPONSE, CommandDef, catalogue
from ..mbim.framing import Frame, FrameParser, FramingError
from ..mbim.message import Message, build, decode, status_name, version_of
from ..qmi.catalogue import catalogue as qmi_catalogue
from . import handlers as qmi_handlers
from .modem import Request, SimModem, SimQmiError

__all__ = ["MbimDevice", "MbimFailure", "session_clients"]

MAX_SESSIONS = 8
_FAMILY_CLIENT = {4: "MBIM4", 6: "MBIM6"}
_CONTEXT_INTERNET = "internet"
_DATA_CLASSES = {"lte": ["gprs", "edge", "umts", "hsdpa", "hsupa", "lte"],
                 "5gnr": ["gprs", "edge", "umts", "hsdpa", "hsupa", "lte", "5g-nsa", "5g-sa"],
                 "umts": ["gprs", "edge", "umts", "hsdpa", "hsupa"], "gsm": ["gprs", "edge"], "none": []}
_HIGHEST = {"lte": "lte", "5gnr": "5g-sa", "umts": "hsupa", "gsm": "edge", "none": 0}
_REGISTER_STATE = {"home": "home", "roaming": "roaming", "searching": "searching", "denied": "denied",
                   "none": "deregistered"}
_READY_STATE = {"ready": "initialized", "pin": "device-locked", "puk": "device-locked", "blocked": "bad-sim",
                "absent": "sim-not-inserted"}
# Why a WDS Start Network failed (its verbose 3GPP reason) -> the MBIM status a modem answers with.
_REJECT_STATUS = {"unknown-apn": "invalid-access-string", "authentication-failed": "invalid-user-name-pwd"}


def session_clients(session: int) -> Tuple[Tuple[str, int], Tuple[str, int]]:
    """The ``SimModem.calls`` keys of an MBIM session's IPv4 and IPv6 calls."""
    return ((_FAMILY_CLIENT[4], session), (_FAMILY_CLIENT[6], session))


class MbimFailure(Exception):
    """A handler's failure answer: an MBIM status name, and the values of the buffer if any."""

    def __init__(self, status: str, values: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(status)
        self.status = status
        self.values = values


@dataclass(frozen=True)
class _Observed:
    """What the host hears about when it changes: compared before and after every event."""

    ready_state: str
    radio: Tuple[str, str]
    register: Tuple[str, int]
    packet: str
    sessions: Tuple[int, ...]
    addresses: Tuple[Tuple[int, str], ...] = ()  # (session, address) of every call: a readdress shows here


Handler = Callable[["MbimDevice", Message, float], Optional[Dict[str, Any]]]
_HANDLERS: Dict[Tuple[str, str, str], Handler] = {}


HandlerT = TypeVar("HandlerT", bound=Handler)


def _handles(service: str, command: str, kind: str) -> Callable[[HandlerT], HandlerT]:
    def register(fn: HandlerT) -> HandlerT:
        _HANDLERS[(service, command, kind)] = fn
        return fn
    return register


class MbimDevice:
    def __init__(self, modem: SimModem, *, fcc_locked: bool = False, max_version: int = 3,
                 max_control_transfer: int = framing.DEFAULT_MAX_CONTROL_TRANSFER) -> None:
        self.modem = modem
        self.fcc_locked = fcc_locked
        self.max_version = max_version       # the highest MBIMEx version this firmware speaks (1: no VERSION)
        self.device_max_transfer = max_control_transfer
        self.max_transfer = max_control_transfer
        self.version = 1
        self.opened = False
        self.detached_by_host = False
        self.subscriptions: Optional[Dict[bytes, Set[int]]] = None  # None: every notification (until a SET)
        self.signal_thresholds = (0, 0, 0)
        self.requests_served = 0
        self._parser = FrameParser()
        if fcc_locked:
            modem.set_mode("low-power", modem.now)  # a locked radio cannot be on
        self._drain_qmi()
        self._seen = self._observe()

    # ------------------------------------------------------------------ bytes in, bytes out

    def receive(self, data: bytes, now: float) -> List[bytes]:
        """What the host wrote; returns the messages (and fragments) to hand back, in order."""
        self._parser.feed(data, now)
        out: List[Frame] = []
        for event in self._parser.events():
            if isinstance(event, FramingError):
                out += self._framing_error(event)
            else:
                out += self.handle(event, now)
        return self._encode(out)

    def host_changed(self) -> None:
        """Another program opened the port: half a message the last one left is not its. The MBIM
        function itself stays open (cdc-wdm does not tell the device), so sessions survive."""
        self._parser = FrameParser()

    def advance(self, now: float) -> List[bytes]:
        """Timed changes (registration arriving, fragments stopping) and anything changed behind
        the device's back (a fault, the AT port), as notifications."""
        out: List[Frame] = []
        for error in self._parser.expire(now):
            out += self._framing_error(error)
        self.modem.advance(now)
        self._drain_qmi()
        return self._encode(out + self._notifications(set()))

    def next_deadline(self) -> Optional[float]:
        deadlines = [d for d in (self.modem.next_deadline(), self._parser.next_deadline()) if d is not None]
        return min(deadlines, default=None)

    def _encode(self, frames: List[Frame]) -> List[bytes]:
        out: List[bytes] = []
        for frame in frames:
            out.extend(frame.fragments(self.max_transfer))
        return out

    def _framing_error(self, error: FramingError) -> List[Frame]:
        if error.protocol_error is not None and error.transaction:
            return [Frame(framing.FUNCTION_ERROR, error.transaction, status=error.protocol_error)]
        return []

    # ------------------------------------------------------------------ messages

    def handle(self, frame: Frame, now: float) -> List[Frame]:
        """Answer one whole message: its answer first, then the notifications it caused."""
        self.modem.now = now
        self.modem.advance(now)
        self._drain_qmi()
        out = self._notifications(set())  # what happened on the clock before this request
        if frame.type == framing.OPEN:
            self.opened = True
            self.max_transfer = max(framing.MIN_CONTROL_TRANSFER, min(frame.max_control_transfer or
                                                                      self.device_max_transfer, self.device_max_transfer))
            self.version = 1
            self.subscriptions = None
            return out + [Frame(framing.OPEN_DONE, frame.transaction, status=0)]
        if frame.type == framing.CLOSE:
            self.opened = False
            return out + [Frame(framing.CLOSE_DONE, frame.transaction, status=0)]
        if frame.type != framing.COMMAND:
            return out  # HOST_ERROR, or a device-to-host type echoed back: nothing to answer
        if not self.opened:
            return out + [Frame(framing.FUNCTION_ERROR, frame.transaction, status=framing.NOT_OPENED)]
        self.requests_served += 1
        message = decode(frame, self.version)
        definition = message.definition
        handler = _HANDLERS.get((definition.service.nick, definition.key, message.kind or "")) if definition else None
        if definition is None or handler is None:
            return out + [self._done(frame, "no-device-support")]
        if message.problems:
            return out + [self._done(frame, "invalid-parameters")]
        answered: Set[str] = {definition.key} if definition.service.nick == "basic-connect" else set()
        try:
            values = handler(self, message, now) or {}
            response = self._respond(frame, definition, "none", values)
        except MbimFailure as failure:
            response = self._respond(frame, definition, failure.status, failure.values)
        self._drain_qmi()
        return out + [response] + self._notifications(answered)

    def _done(self, frame: Frame, status: str) -> Frame:
        return Frame(framing.COMMAND_DONE, frame.transaction, frame.service, frame.cid,
                     status=int(status_name(0).enum.lookup(status)))

    def _respond(self, frame: Frame, definition: CommandDef, status: str, values: Optional[Mapping[str, Any]]) -> Frame:
        code = int(status_name(0).enum.lookup(status))
        layout = definition.layout(RESPONSE, self.version)
        if values is None or layout is None:
            return self._done(frame, status)
        declared = {f.key for f in layout.visible_fields()}
        return build(definition, RESPONSE, frame.transaction, {k: v for k, v in values.items() if k in declared},
                     version=self.version, status=code)

    # ------------------------------------------------------------------ notifications

    def _observe(self) -> _Observed:
        m = self.modem
        sessions = sorted({client[1] for client in m.calls if client[0] in _FAMILY_CLIENT.values()})
        nw_error = m.config.reject_cause if m.registration == "denied" else 0
        addresses = tuple(sorted((client[1], str(call.ipv4 or call.ipv6)) for client, call in m.calls.items()
                                 if client[0] in _FAMILY_CLIENT.values()))
        return _Observed(m.sim_state, self.radio_state(), (m.registration, nw_error), self.packet_state(),
                         tuple(sessions), addresses)

    def _notifications(self, answered: Set[str]) -> List[Frame]:
        """INDICATE_STATUS for what changed since the last look, except what the request at
        hand just answered itself."""
        before, now = self._seen, self._observe()
        self._seen = now
        if not self.opened:
            return []
        out: List[Frame] = []
        if before.ready_state != now.ready_state and "subscriber_ready_status" not in answered:
            out += self._notify("subscriber_ready_status", self.subscriber_ready_values())
        if before.radio != now.radio and "radio_state" not in answered:
            out += self._notify("radio_state", self.radio_values())
        if before.register != now.register and "register_state" not in answered:
            out += self._notify("register_state", self.register_values())
        if before.packet != now.packet and "packet_service" not in answered:
            out += self._notify("packet_service", self.packet_values())
        if "connect" not in answered:
            for session in sorted(set(before.sessions) - set(now.sessions)):
                out += self._notify("connect", self.context_values(session))
        if "ip_configuration" not in answered and "connect" not in answered:
            for session in sorted(set(before.sessions) & set(now.sessions)):
                if [a for a in before.addresses if a[0] == session] != [a for a in now.addresses if a[0] == session]:
                    out += self._notify("ip_configuration", self.ip_configuration_values(session))  # new addresses
        return out

    def _notify(self, command: str, values: Mapping[str, Any]) -> List[Frame]:
        definition = catalogue().command("basic-connect", command)
        if self.subscriptions is not None and definition.cid not in self.subscriptions.get(
                definition.service.uuid_bytes, set()) and -1 not in self.subscriptions.get(
                definition.service.uuid_bytes, set()):
            return []
        layout = definition.layout(NOTIFICATION, self.version)
        declared = {f.key for f in layout.visible_fields()} if layout is not None else set()
        return [build(definition, NOTIFICATION, 0, {k: v for k, v in values.items() if k in declared},
                      version=self.version)]

    def _drain_qmi(self) -> None:
        """The modem's transitions queue QMI indications for QMI clients; over MBIM there are
        none to hear them, and the changes reach the host as MBIM notifications instead."""
        self.modem.take_pending()

    # ------------------------------------------------------------------ the state as MBIM says it

    def radio_state(self) -> Tuple[str, str]:
        m = self.modem
        hw = "off" if m.config.hardware_restricted else "on"
        sw = "on" if m.mode == "online" and not self.fcc_locked else "off"
        return hw, sw

    def radio_values(self) -> Dict[str, Any]:
        hw, sw = self.radio_state()
        return {"hw_radio_state": hw, "sw_radio_state": sw}

    def subscriber_ready_values(self) -> Dict[str, Any]:
        m = self.modem
        ready = m.sim_state == "ready"
        return {"ready_state": _READY_STATE.get(m.sim_state, "failure"), "flags": ["sim-removability-known", "sim-removable"],
                "subscriber_id": m.config.imsi if ready else "",
                "sim_icc_id": m.config.iccid if m.sim_state != "absent" else "", "ready_info": 0,
                "telephone_numbers": [m.config.msisdn] if ready and m.config.msisdn else []}

    def _provider_id(self) -> str:
        c = self.modem.config
        return "%03d%s" % (c.mcc, "%02d" % c.mnc if c.mnc < 100 else "%03d" % c.mnc)

    def register_values(self) -> Dict[str, Any]:
        m = self.modem
        known = m.registered or m.registration == "denied"
        classes = _DATA_CLASSES.get(m.config.rat, []) if m.registered else []
        return {"nw_error": m.config.reject_cause if m.registration == "denied" else 0,
                "register_state": _REGISTER_STATE[m.registration], "register_mode": "automatic",
                "available_data_classes": classes, "current_cellular_class": ["gsm"] if m.registered else 0,
                "provider_id": self._provider_id() if known else "", "provider_name": m.config.operator if known else "",
                "roaming_text": "", "registration_flag": ["packet-service-automatic-attach"] if m.config.ps_attached else 0,
                "preferred_data_classes": classes}

    def packet_state(self) -> str:
        m = self.modem
        return "attached" if m.registered and m.config.ps_attached and not self.detached_by_host else "detached"

    def packet_values(self) -> Dict[str, Any]:
        attached = self.packet_state() == "attached"
        rat = self.modem.config.rat
        highest = _HIGHEST.get(rat, 0) if attached else 0
        if self.version >= 3 and highest in ("5g-sa", "5g-nsa"):
            highest = "5g"
        c = self.modem.config
        return {"nw_error": 0, "packet_service_state": "attached" if attached else "detached",
                "highest_available_data_class": [highest] if highest else 0, "current_data_class": [highest] if highest else 0,
                "uplink_speed": 50000000 if attached else 0, "downlink_speed": 150000000 if attached else 0,
                "frequency_range": ["1"] if attached and rat == "5gnr" else 0, "data_subclass": 0,
                "tai": {"plmn_mcc": c.mcc, "plmn_mnc": c.mnc, "tac": 0x2D1} if attached else {}}

    def calls_of(self, session: int) -> List[Any]:
        return [self.modem.calls[k] for k in session_clients(session) if k in self.modem.calls]

    def context_values(self, session: int, nw_error: int = 0) -> Dict[str, Any]:
        calls = self.calls_of(session)
        families = {c.family for c in calls}
        ip_type = "ipv4v6" if families == {4, 6} else "ipv4" if families == {4} else "ipv6" if families else "default"
        if not calls and not nw_error and self.modem.last_call_end is not None:
            nw_error = _cause_of(self.modem.last_call_end)
        return {"session_id": session, "activation_state": "activated" if calls else "deactivated",
                "voice_call_state": "none", "ip_type": ip_type, "context_type": _CONTEXT_INTERNET,
                "nw_error": nw_error, "media_preference": "3gpp" if calls else "unknown", "access_string":
                calls[0].apn if calls else "", "unnamed_ies": []}

    def ip_configuration_values(self, session: int) -> Dict[str, Any]:
        return _ip_configuration_values(self, session)

    def require_sim(self) -> None:
        state = self.modem.sim_state
        if state == "absent":
            raise MbimFailure("sim-not-inserted")
        if state in ("pin", "puk"):
            raise MbimFailure("pin-required")
        if state != "ready":
            raise MbimFailure("bad-sim")


def _cause_of(last_call_end: Tuple[str, ...]) -> int:
    """The 3GPP cause of the last call end, when it was one (the NwError MBIM reports)."""
    if len(last_call_end) >= 3 and last_call_end[1] == "3gpp" and last_call_end[2]:
        try:
            return int(qmi_catalogue().enum("WdsVerboseCallEndReason.3gpp").lookup(last_call_end[2]))
        except ValueError:
            return 0
    return 0


# ---------------------------------------------------------------------- Basic Connect

@_handles("basic-connect", "device_caps", "query")
def _device_caps(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    c = d.modem.config
    return {"device_type": "embedded", "cellular_class": ["gsm"], "voice_class": "no-voice", "sim_class": ["removable"],
            "data_class": _DATA_CLASSES.get(c.rat, []) or _DATA_CLASSES["lte"], "sms_caps": ["pdu-receive", "pdu-send"],
            "control_caps": ["reg-manual", "hw-radio-switch"], "max_sessions": MAX_SESSIONS, "custom_data_class": "",
            "device_id": c.imei, "firmware_info": c.revision, "hardware_info": c.model}


@_handles("basic-connect", "subscriber_ready_status", "query")
def _subscriber_ready(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    return d.subscriber_ready_values()


@_handles("basic-connect", "radio_state", "query")
def _radio_query(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    return d.radio_values()


@_handles("basic-connect", "radio_state", "set")
def _radio_set(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    m = d.modem
    wanted = r["radio_state"].name
    if wanted == "on" and not d.fcc_locked:  # a locked radio takes the request and stays off
        if m.config.set_mode_error or m.mode == "offline":
            raise MbimFailure("failure", d.radio_values())
        if m.mode != "online":
            m.set_mode("online", now)
    elif wanted == "off" and m.mode == "online":
        m.set_mode("low-power", now)
    return d.radio_values()


@_handles("basic-connect", "pin", "query")
def _pin_query(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    m = d.modem
    if m.sim_state == "absent":
        raise MbimFailure("sim-not-inserted")
    if m.sim_state == "blocked":
        raise MbimFailure("bad-sim")
    if m.sim_state == "pin":
        return {"pin_type": "pin1", "pin_state": "locked", "remaining_attempts": m.pin_retries}
    if m.sim_state == "puk":
        return {"pin_type": "puk1", "pin_state": "locked", "remaining_attempts": m.puk_retries}
    return {"pin_type": "unknown", "pin_state": "unlocked", "remaining_attempts": 0}


@_handles("basic-connect", "pin", "set")
def _pin_set(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    m = d.modem
    if r["pin_type"].name != "pin1" or r["pin_operation"].name != "enter":
        raise MbimFailure("no-device-support")
    outcome = m.try_pin(r["pin"], now)  # the SIM's own rule: a wrong PIN costs a try, the last blocks it
    if outcome == "UimUninitialized":
        raise MbimFailure("sim-not-inserted")
    if outcome in ("ok", "NoEffect"):
        return {"pin_type": "pin1", "pin_state": "unlocked", "remaining_attempts": m.pin_retries}
    if outcome == "IncorrectPin":
        raise MbimFailure("failure", {"pin_type": "pin1", "pin_state": "locked", "remaining_attempts": m.pin_retries})
    raise MbimFailure("failure", {"pin_type": "puk1", "pin_state": "locked", "remaining_attempts": m.puk_retries})


@_handles("basic-connect", "home_provider", "query")
def _home_provider(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    d.require_sim()
    c = d.modem.config
    return {"provider": {"provider_id": d._provider_id(), "provider_state": ["home"], "provider_name": c.operator,
                         "cellular_class": ["gsm"], "rssi": _rssi_code(c.rssi), "error_rate": 99}}


@_handles("basic-connect", "register_state", "query")
def _register_query(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    return d.register_values()


@_handles("basic-connect", "register_state", "set")
def _register_set(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    if r["register_action"].name != "automatic":
        raise MbimFailure("no-device-support", d.register_values())
    return d.register_values()


@_handles("basic-connect", "packet_service", "query")
def _packet_query(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    return d.packet_values()


@_handles("basic-connect", "packet_service", "set")
def _packet_set(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    m = d.modem
    if r["packet_service_action"].name == "detach":
        d.detached_by_host = True
        for session in sorted({client[1] for client in m.calls if client[0] in _FAMILY_CLIENT.values()}):
            _end_session(d, session, "client-end", ("cm", "client-end"))
        return d.packet_values()
    d.detached_by_host = False
    if not m.online:
        raise MbimFailure("radio-power-off", d.packet_values())
    if not m.registered:
        raise MbimFailure("not-registered", d.packet_values())
    if d.packet_state() != "attached":
        raise MbimFailure("failure", d.packet_values())  # the network will not attach us (ps_attached = false)
    return d.packet_values()


def _rssi_code(dbm: int) -> int:
    """3GPP 27.007 +CSQ scale, which MBIM uses: 0 = -113 dBm or less, 31 = -51 dBm or more."""
    return max(0, min(31, (dbm + 113) // 2))


@_handles("basic-connect", "signal_state", "query")
def _signal_query(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    c = d.modem.config
    registered = d.modem.registered
    interval, rssi_threshold, error_threshold = d.signal_thresholds
    values: Dict[str, Any] = {"rssi": _rssi_code(c.rssi) if registered else 99, "error_rate": 99,
                              "signal_strength_interval": interval, "rssi_threshold": rssi_threshold,
                              "error_rate_threshold": error_threshold, "rsrp_snr": []}
    if registered and c.rat in ("lte", "5gnr"):
        values["rsrp_snr"] = [{"rsrp": max(0, min(126, c.rsrp + 157)), "snr": max(0, min(127, int((c.snr + 23) * 2))),
                               "rsrp_threshold": 0xFFFFFFFF, "snr_threshold": 0xFFFFFFFF,
                               "system_type": ["lte"] if c.rat == "lte" else ["5g-sa"]}]
    return values


@_handles("basic-connect", "signal_state", "set")
def _signal_set(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    d.signal_thresholds = (r["signal_strength_interval"], r["rssi_threshold"], r["error_rate_threshold"])
    return _signal_query(d, r, now)


@_handles("basic-connect", "connect", "query")
def _connect_query(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    session = int(r["session_id"])
    if session >= MAX_SESSIONS:
        raise MbimFailure("invalid-parameters")
    return d.context_values(session)


def _auth_offer(protocol: str) -> Any:
    """MBIM AuthProtocol as the WDS authentication preference the Start Network handler reads."""
    bits = {"none": 0, "pap": 1, "chap": 2, "mschapv2": 2}.get(protocol, 0)
    return qmi_catalogue().enum("WdsAuthentication").wrap(bits)


@_handles("basic-connect", "connect", "set")
def _connect_set(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    m = d.modem
    session = int(r["session_id"])
    if session >= MAX_SESSIONS:
        raise MbimFailure("invalid-parameters")
    if r["activation_command"].name == "deactivate":
        if not d.calls_of(session):
            raise MbimFailure("context-not-activated", d.context_values(session))
        _end_session(d, session, "client-end", ("cm", "client-end"))
        return d.context_values(session)
    if d.calls_of(session):
        return d.context_values(session)  # already up: a second activate changes nothing
    if not m.online:
        raise MbimFailure("radio-power-off", d.context_values(session))
    d.require_sim()
    if not m.registered:
        raise MbimFailure("not-registered", d.context_values(session, m.config.reject_cause))
    if d.packet_state() != "attached":
        raise MbimFailure("packet-service-detached", d.context_values(session))
    ip_type = r["ip_type"].name
    families = [4] if ip_type == "ipv4" else [6] if ip_type == "ipv6" else [4, 6]
    values = {"apn": r["access_string"], "username": r["user_name"], "password": r["password"],
              "authentication_preference": _auth_offer(r["auth_protocol"].name)}
    failures: List[SimQmiError] = []
    start = qmi_handlers.HANDLERS[("WDS", "start_network")]
    for family in families:
        client = (_FAMILY_CLIENT[family], session)
        try:
            start(m, Request(client[0], client[1], dict(values, ip_family_preference=family), now))
        except SimQmiError as failure:
            failures.append(failure)
    if d.calls_of(session):
        return d.context_values(session)
    verbose = failures[0].values.get("verbose_call_end_reason", {}) if failures else {}
    reason = m.last_call_end[2] if m.last_call_end and len(m.last_call_end) > 2 else ""
    cause = int(verbose.get("reason", 0)) if verbose.get("type") == "3gpp" else 0
    raise MbimFailure(_REJECT_STATUS.get(reason, "context-not-activated"), d.context_values(session, cause))


def _end_session(d: MbimDevice, session: int, reason: str, verbose: Tuple[str, str]) -> None:
    for client in session_clients(session):
        d.modem.end_call(client, reason, verbose)  # its QMI indication has no listener: drained


@_handles("basic-connect", "provisioned_contexts", "query")
def _contexts_query(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    auth = {"none": "none", "pap": "pap", "chap": "chap", "pap-or-chap": "chap"}
    return {"provisioned_contexts": [
        {"context_id": index, "context_type": _CONTEXT_INTERNET, "access_string": p["apn"],
         "user_name": p["username"], "password": p["password"], "compression": "none",
         "auth_protocol": auth.get(p["auth"], "none")} for index, p in sorted(d.modem.profiles.items())]}


@_handles("basic-connect", "provisioned_contexts", "set")
def _contexts_set(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    index = int(r["context_id"])
    if not 1 <= index <= 24:
        raise MbimFailure("invalid-parameters")
    profile = d.modem.profiles.setdefault(index, {"apn": "", "pdp_type": "ipv4v6", "name": "", "auth": "none",
                                                  "username": "", "password": ""})
    profile.update({"apn": r["access_string"], "username": r["user_name"], "password": r["password"],
                    "auth": {"pap": "pap", "chap": "chap", "mschapv2": "chap"}.get(r["auth_protocol"].name, "none")})
    return _contexts_query(d, r, now)


@_handles("basic-connect", "ip_configuration", "query")
def _ip_configuration(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    session = int(r["session_id"])
    if session >= MAX_SESSIONS or not d.calls_of(session):
        raise MbimFailure("context-not-activated")
    return d.ip_configuration_values(session)


def _ip_configuration_values(d: MbimDevice, session: int) -> Dict[str, Any]:
    calls = d.calls_of(session)
    c = d.modem.config
    values: Dict[str, Any] = {"session_id": session, "ipv4_configuration_available": 0,
                              "ipv6_configuration_available": 0, "ipv4_mtu": 0, "ipv6_mtu": 0}
    everything = ["address", "gateway", "dns", "mtu"]
    for call in calls:
        if call.ipv4 is not None:
            values.update({"ipv4_configuration_available": everything,
                           "ipv4_address": [{"on_link_prefix_length": call.ipv4.network.prefixlen,
                                             "ipv4_address": call.ipv4.ip}],
                           "ipv4_gateway": call.gateway4,
                           "ipv4_dns_server": [ipaddress.IPv4Address(a) for a in c.dns4], "ipv4_mtu": c.mtu})
        if call.ipv6 is not None:
            values.update({"ipv6_configuration_available": everything,
                           "ipv6_address": [{"on_link_prefix_length": 64, "ipv6_address": call.ipv6.ip}],
                           "ipv6_gateway": call.gateway6,
                           "ipv6_dns_server": [ipaddress.IPv6Address(a) for a in c.dns6], "ipv6_mtu": c.mtu})
    return values


@_handles("basic-connect", "device_services", "query")
def _device_services(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    offered: Dict[str, List[int]] = {}
    for service, command, kind in _HANDLERS:
        cid = catalogue().command(service, command).cid
        offered.setdefault(service, [])
        if cid not in offered[service] and not (command == "version" and d.max_version < 2):
            offered[service].append(cid)
    return {"max_dss_sessions": 0, "device_services": [
        {"device_service_id": catalogue().service(service).uuid, "dss_payload": 0, "max_dss_instances": 0,
         "cids": sorted(cids)} for service, cids in offered.items()]}


@_handles("basic-connect", "device_service_subscribe_list", "set")
def _subscribe(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    wanted: Dict[bytes, Set[int]] = {}
    for event in r["events"]:
        service = bytes.fromhex(str(event["device_service_id"]).replace("-", ""))
        wanted.setdefault(service, set()).update(event["cids"] or [-1])  # no CIDs: all of them
    d.subscriptions = wanted
    return {"events": r["events"]}


@_handles("basic-connect", "packet_statistics", "query")
def _statistics(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    if not any(client[0] in _FAMILY_CLIENT.values() for client in d.modem.calls):
        raise MbimFailure("context-not-activated")
    return {}


# ---------------------------------------------------------------------- MS extensions, Quectel

@_handles("ms-basic-connect-extensions", "device_caps", "query")
def _device_caps_ext(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    values = _device_caps(d, r, now)
    lte = d.modem.config.rat in ("lte", "5gnr")
    values.update({"executor_index": 0, "data_subclass": 0, "wcdma_band_class": 0,
                   "lte_band_class": [1, 3, 7, 20, 28] if lte else [], "nr_band_class": [78] if d.modem.config.rat == "5gnr" else []})
    if d.version >= 3 and "5g-sa" in values["data_class"]:
        values["data_class"] = [c for c in values["data_class"] if not c.startswith("5g")] + ["5g"]
    return values


@_handles("ms-basic-connect-extensions", "version", "query")
def _version(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    if d.max_version < 2:
        raise MbimFailure("no-device-support")
    agreed = min(version_of(r["mbim_extended_version"]), d.max_version)
    d.version = agreed  # from the next message on, device-wide (ModemManager 1.20 NEWS)
    return {"mbim_version": 0x0100, "mbim_extended_version": agreed << 8}


@_handles("quectel", "radio_state", "query")
def _quectel_radio_query(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    return {"radio_state": "fcc-locked" if d.fcc_locked else d.radio_state()[1]}


@_handles("quectel", "radio_state", "set")
def _quectel_radio_set(d: MbimDevice, r: Message, now: float) -> Dict[str, Any]:
    wanted = r["radio_state"].name
    if wanted == "on":
        d.fcc_locked = False  # the vendor unlock
        if d.modem.mode != "online" and not d.modem.config.hardware_restricted and d.modem.mode != "offline":
            d.modem.set_mode("online", now)
    elif wanted == "off" and d.modem.mode == "online":
        d.modem.set_mode("low-power", now)
    return _quectel_radio_query(d, r, now)
