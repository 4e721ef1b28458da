"""The simulated modem's QMI side, sans I/O: frames and the time in, frames out.

``SimModem`` holds the state of an EC25-class module (SIM, operating mode, registration,
profiles, data calls, data format, client ids) and answers requests through the handlers in
``handlers.py``, built with the same catalogue the client uses. State changes that a real
modem announces (registration, call up/down, SIM, operating mode) produce indications.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple, Union

from ..qmi.catalogue import INDICATION, REQUEST, RESPONSE, catalogue
from ..qmi.formats import EncodeError, key_of
from ..qmi.message import build_frame, decode
from ..qmi.qmux import CTL, Frame
from .config import SimConfig

__all__ = ["SimModem", "SimQmiError", "Call", "Request", "Indications", "handler", "HANDLERS", "internal_error"]

log = logging.getLogger("qcm.sim")

SERVICE_VERSIONS = {"CTL": (1, 5), "WDS": (1, 67), "DMS": (1, 14), "NAS": (1, 25), "UIM": (1, 46), "WDA": (1, 16)}


class SimQmiError(Exception):
    """A handler's failure answer: a QMI error name and extra response TLVs."""

    def __init__(self, error: str, **values: Any) -> None:
        super().__init__(error)
        self.error = error
        self.values = values


Handler = Callable[["SimModem", "Request"], Optional[Dict[str, Any]]]
HANDLERS: Dict[Tuple[str, str], Handler] = {}


def handler(service: str, message: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[(service, key_of(message))] = fn
        return fn
    return register


FIRST_HANDLE = 0x8723E780  # packet data handles count up from here (the value of a real EC25's first one)


def _subnet(pool: "Union[ipaddress.IPv4Network, ipaddress.IPv6Network]", prefix: int,
            index: int) -> "Union[ipaddress.IPv4Network, ipaddress.IPv6Network]":
    """The ``index``-th /prefix of ``pool`` (wrapping round)."""
    size = 1 << (pool.max_prefixlen - prefix)
    offset = (index % max(1, pool.num_addresses // size)) * size
    return ipaddress.ip_network((int(pool.network_address) + offset, prefix))


@dataclass(frozen=True)
class Request:
    service: str
    client_id: int
    values: Mapping[str, Any]
    now: float

    @property
    def client(self) -> Tuple[str, int]:
        return (self.service, self.client_id)

    def need(self, key: str) -> Any:
        """A TLV the request must carry: without it a modem answers MissingArgument (0x11)."""
        value = self.values.get(key)
        if value is None:
            raise SimQmiError("MissingArgument")
        return value


@dataclass
class Call:
    client: Tuple[str, int]
    handle: int
    family: int                 # 4 or 6
    apn: str
    started: float
    ipv4: Optional[ipaddress.IPv4Interface] = None
    gateway4: Optional[ipaddress.IPv4Address] = None
    ipv6: Optional[ipaddress.IPv6Interface] = None
    gateway6: Optional[ipaddress.IPv6Address] = None
    mux_id: Optional[int] = None  # the QMAP mux its client was bound to (WDS Bind Mux Data Port)


@dataclass
class Indications:
    """What each client asked to hear about (NAS Register Indications, WDS/DMS event reports)."""

    serving_system: bool = True   # on by default in QMI
    system_info: bool = False
    signal_info: bool = False
    dms_operating_mode: bool = False
    uim_card_status: bool = False


@dataclass
class SimModem:
    config: SimConfig
    now: float = 0.0
    mode: str = ""
    sim_state: str = ""
    pin_retries: int = 0
    puk_retries: int = 0
    pin: str = ""
    registration: str = ""
    registered_at: Optional[float] = None
    link_layer: str = ""
    aggregation: str = ""                       # none, qmap or qmapv5 (WDA Set Data Format)
    qmap: Dict[str, int] = field(default_factory=dict)  # the agreed aggregation sizes, as answered
    mux_bindings: Dict[Tuple[str, int], int] = field(default_factory=dict)  # WDS client -> QMAP mux id
    clients: Dict[str, Set[int]] = field(default_factory=dict)
    indications: Dict[Tuple[str, int], Indications] = field(default_factory=dict)
    ip_family: Dict[Tuple[str, int], int] = field(default_factory=dict)
    calls: Dict[Tuple[str, int], Call] = field(default_factory=dict)
    profiles: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    autoconnect: int = 0
    last_call_end: Optional[Tuple[str, ...]] = None   # (reason, verbose type, verbose reason) names
    next_handle: int = FIRST_HANDLE
    requests_served: int = 0
    forced_registration: Optional[str] = None  # a fault: the network drops us ("searching") until released
    address_generation: int = 0                 # bumped by a "readdress" fault

    def __post_init__(self) -> None:
        c = self.config
        self.mode = self.mode or c.mode
        self.sim_state = self.sim_state or c.sim
        self.pin_retries = c.pin_retries
        self.puk_retries = c.puk_retries
        self.pin = c.pin
        self.link_layer = c.data_format
        self.aggregation = c.aggregation
        self.registration = "none"
        for p in c.profiles:
            self.profiles[p.index] = {"apn": p.apn, "pdp_type": p.pdp_type, "name": p.name, "auth": p.auth,
                                      "username": p.username, "password": p.password}
        self._pending: List[Frame] = []
        if self.config.last_call_end:
            self.last_call_end = (self.config.last_call_end, "3gpp", "")
        self._update_registration(self.now)

    # ------------------------------------------------------------------ state

    @property
    def online(self) -> bool:
        return self.mode == "online" and not self.config.hardware_restricted

    @property
    def sim_ready(self) -> bool:
        return self.sim_state == "ready"

    @property
    def registered(self) -> bool:
        return self.registration in ("home", "roaming")

    def wanted_registration(self, now: float) -> str:
        """Where the network puts us: nothing without radio or SIM; searching until the delay passes."""
        if not self.online:
            return "none"
        if not self.sim_ready:
            return "searching" if self.sim_state != "absent" else "none"
        target = self.forced_registration or self.config.registration
        if target in ("home", "roaming") and self.registered_at is not None and now < self.registered_at:
            return "searching"
        return target

    def _update_registration(self, now: float) -> List[Frame]:
        if self.registered_at is None and self.online and self.sim_ready:
            self.registered_at = now + self.config.register_after_s
        wanted = self.wanted_registration(now)
        if wanted == self.registration:
            return []
        old, self.registration = self.registration, wanted
        log.info("registration %s -> %s", old, wanted)
        out = []
        if not self.registered:
            out += self.drop_calls(reason="no-service" if self.online else "client-end", verbose=("3gpp", "regular-deactivation"))
        return out + self.nas_indications()

    def set_mode(self, mode: str, now: float) -> List[Frame]:
        self.mode = mode
        if not self.online:
            self.registered_at = None
        out = self._update_registration(now)
        for (service, cid), wanted in self.indications.items():
            if service == "DMS" and wanted.dms_operating_mode:
                out.append(self.indication("DMS", "Event Report", cid, {"operating_mode": mode}))
        return out

    def set_sim_state(self, state: str, now: float) -> List[Frame]:
        self.sim_state = state
        if not self.sim_ready:
            self.registered_at = None
        out = self._update_registration(now)
        for (service, cid), wanted in self.indications.items():
            if service == "UIM" and wanted.uim_card_status:
                from .handlers import card_status  # the one place that lays the card out
                out.append(self.indication("UIM", "Card Status", cid, {"card_status": card_status(self)}))
        return out

    def try_pin(self, pin: str, now: float) -> str:
        """Check a PIN the way a SIM does: each wrong one costs a try, the last one blocks it.
        Returns "ok" or the QMI error name; indications follow the next response."""
        if self.sim_state == "absent":
            return "UimUninitialized"
        if self.sim_state in ("puk", "blocked"):
            return "PinBlocked"
        if self.sim_state == "ready":
            return "NoEffect"
        if pin != self.pin:
            self.pin_retries = max(0, self.pin_retries - 1)
            if self.pin_retries == 0:
                self.after_response(self.set_sim_state("puk", now))
                return "PinBlocked"
            return "IncorrectPin"
        self.pin_retries = self.config.pin_retries
        self.after_response(self.set_sim_state("ready", now))
        return "ok"

    def advance(self, now: float) -> List[Frame]:
        """Timed events (registration arriving after register_after_s)."""
        self.now = now
        return self._update_registration(now)

    def next_deadline(self) -> Optional[float]:
        if self.registered_at is not None and self.registration != self.wanted_registration(self.registered_at):
            return self.registered_at
        return None

    # ------------------------------------------------------------------ calls

    def allocate_addresses(self, call: Call) -> None:
        """A /30 of the IPv4 pool or a /64 of the IPv6 pool, picked by the call's handle (a readdress
        fault moves it on); worked out, not listed, so that a large pool costs nothing."""
        index = call.handle - FIRST_HANDLE + 7 * self.address_generation
        if call.family == 4:
            net = _subnet(ipaddress.ip_network(self.config.ipv4_pool), 30, index)
            call.ipv4 = ipaddress.IPv4Interface("%s/%d" % (net[2], net.prefixlen))
            call.gateway4 = net[1]  # type: ignore[assignment]
        else:
            net = _subnet(ipaddress.ip_network(self.config.ipv6_pool), 64, index)
            call.ipv6 = ipaddress.IPv6Interface("%s/%d" % (net[0x1000 + 2], 64))
            call.gateway6 = net[1]  # type: ignore[assignment]

    def drop_calls(self, reason: str, verbose: Tuple[str, str] = ("internal", "call-ended"),
                   only: Optional[Tuple[str, int]] = None) -> List[Frame]:
        out = []
        for client, call in list(self.calls.items()):
            if only is not None and client != only:
                continue
            out += self.end_call(client, reason, verbose)
        return out

    def end_call(self, client: Tuple[str, int], reason: str, verbose: Tuple[str, str]) -> List[Frame]:
        call = self.calls.pop(client, None)
        if call is None:
            return []
        log.info("call %#x (IPv%d) ended: %s", call.handle, call.family, reason)
        if client[0] != "WDS":
            self.call_end_values(reason, verbose)
            return []  # a call the AT port started: its end is told there (URCs), not to a QMI client
        values = {"connection_status": {"status": "disconnected", "reconfiguration_required": False},
                  "ip_family": call.family, **self.call_end_values(reason, verbose)}
        return [self.indication("WDS", "Packet Service Status", client[1], values)]

    def call_end_values(self, reason: str, verbose: Tuple[str, str]) -> Dict[str, Any]:
        """The call-end reason TLVs, remembered as the last reason a call ended for."""
        self.last_call_end = (reason,) + tuple(verbose)
        return {"call_end_reason": reason,
                "verbose_call_end_reason": {"type": verbose[0], "reason": _verbose_code(verbose)}}

    # ------------------------------------------------------------------ faults

    def force_registration(self, state: Optional[str], now: float) -> List[Frame]:
        """The network drops the module (``searching``) or lets it back (None)."""
        self.forced_registration = state
        if state is None and self.config.register_after_s:
            self.registered_at = now + self.config.register_after_s
        return self._update_registration(now)

    def readdress(self, family: int) -> List[Frame]:
        """The network gives a call a new address (and says so, with reconfiguration required)."""
        out = []
        self.address_generation += 1
        for client, call in self.calls.items():
            if call.family == family:
                self.allocate_addresses(call)
                if client[0] != "WDS":
                    continue
                out.append(self.indication("WDS", "Packet Service Status", client[1], {
                    "connection_status": {"status": "connected", "reconfiguration_required": True},
                    "ip_family": family}))
        return out

    def reset(self, now: float) -> None:
        """What survives a module reset is its NV (profiles, data format); everything else starts over."""
        self.release_all_clients()
        self.mode = self.config.mode
        self.sim_state = "pin" if self.config.sim == "pin" and self.sim_state != "absent" else self.sim_state
        self.registration = "none"
        self.registered_at = None
        self.forced_registration = None
        self.now = now
        self._update_registration(now)

    def set_signal(self, now: float, **values: Any) -> List[Frame]:
        from dataclasses import replace
        self.config = replace(self.config, **values)
        out = []
        for (service, cid), wanted in self.indications.items():
            if service == "NAS" and wanted.signal_info and self.registered:
                from .handlers import signal_info
                out.append(self.indication("NAS", "Signal Info", cid, signal_info(self)))
        return out

    # ------------------------------------------------------------------ indications

    def indication(self, service: str, name: str, client_id: int, values: Mapping[str, Any]) -> Frame:
        definition = catalogue().indication(service, name)
        return build_frame(definition, INDICATION, client_id, 0, _only_declared(definition, values))

    def nas_indications(self) -> List[Frame]:
        from .handlers import serving_system, system_info  # the layouts live with the Get handlers
        out = []
        for (service, cid), wanted in list(self.indications.items()):
            if service != "NAS":
                continue
            if wanted.serving_system:
                out.append(self.indication("NAS", "Serving System", cid, serving_system(self, indication=True)))
            if wanted.system_info:
                out.append(self.indication("NAS", "System Info", cid, system_info(self, indication=True)))
        return out

    # ------------------------------------------------------------------ requests

    def handle(self, frame: Frame, now: float) -> List[Frame]:
        """Answer one request frame; returns the response followed by any indications it caused."""
        self.now = now
        out = self.advance(now)
        if frame.kind != REQUEST:
            return out
        self.requests_served += 1
        message = decode(frame)
        service = catalogue().service_name(frame.service)
        definition = message.definition
        if definition is None:
            return out + [_error_frame(frame, "InvalidQmiCommand")]
        if frame.service != CTL and frame.client_id not in self.clients.get(service, set()):
            return out + [build_frame(definition, RESPONSE, frame.client_id, frame.transaction,
                                      error=_error_code("InvalidClientId"))]
        fn = HANDLERS.get((service, definition.key))
        name = "%s %s" % (service, definition.name)
        if name in self.config.unanswered:
            return out
        forced = self.config.request_errors.get(name) or ("NotSupported" if fn is None or
                                                          name in self.config.unsupported else None)
        if not forced and message.problems:
            forced = "MalformedMessage"  # a TLV the modem cannot parse as its layout (wrong length...)
        if forced:
            return out + [build_frame(definition, RESPONSE, frame.client_id, frame.transaction,
                                      error=_error_code(forced))]
        assert fn is not None  # no handler: answered NotSupported above
        self._pending = []
        try:
            values = fn(self, Request(service, frame.client_id, message.values, now)) or {}
            error = 0
        except SimQmiError as failure:
            values, error = failure.values, _error_code(failure.error)
        response = build_frame(definition, RESPONSE, frame.client_id, frame.transaction,
                               _only_declared(definition, values, RESPONSE), error=error)
        return out + [response] + self._pending

    def after_response(self, frames: List[Frame]) -> None:
        """Handlers call this for indications that follow their response."""
        self._pending.extend(frames)

    def take_pending(self) -> List[Frame]:
        """Indications caused by something other than a QMI request (an AT command)."""
        frames, self._pending = self._pending, []
        return frames

    def allocate_client(self, service: str) -> int:
        used = self.clients.setdefault(service, set())
        if len(used) >= self.config.max_clients:
            raise SimQmiError("ClientIdsExhausted")
        cid = next(c for c in range(1, 255) if c not in used)
        used.add(cid)
        self.indications[(service, cid)] = Indications()
        return cid

    def release_client(self, service: str, cid: int) -> List[Frame]:
        used = self.clients.get(service, set())
        if cid not in used:
            raise SimQmiError("InvalidClientId")
        used.discard(cid)
        self.indications.pop((service, cid), None)
        self.ip_family.pop((service, cid), None)
        self.mux_bindings.pop((service, cid), None)
        # A call whose client goes away stays up on a real modem only with autoconnect; end it.
        self.calls.pop((service, cid), None)
        return []

    def release_all_clients(self) -> None:
        self.clients.clear()
        self.indications.clear()
        self.ip_family.clear()
        self.mux_bindings.clear()
        self.calls.clear()

    @property
    def qmap_version(self) -> Optional[int]:
        """The QMAP version of the data format, None when packets are not aggregated."""
        return {"qmap": 1, "qmapv5": 5}.get(self.aggregation)

    def held_clients(self) -> Dict[str, int]:
        return {service: len(cids) for service, cids in self.clients.items() if cids}


def _only_declared(definition: Any, values: Mapping[str, Any], kind: str = INDICATION) -> Dict[str, Any]:
    declared = {t.key for t in definition.tlvs(kind)}
    return {k: v for k, v in values.items() if k in declared and v is not None}


def _error_code(name: str) -> int:
    try:
        return catalogue().enum("QmiProtocolError").lookup(name)
    except EncodeError:
        raise ValueError("unknown QMI error %r" % name) from None


def internal_error(frame: Frame) -> Frame:
    """The answer of a modem that hit a bug of its own (the simulator's last resort: it logs and goes on)."""
    return _error_frame(frame, "Internal")


def _error_frame(frame: Frame, error: str) -> Frame:
    """A failure answer to a request the catalogue does not know (only the Result TLV)."""
    out = bytearray()
    catalogue().result.format.encode({"error_status": 1, "error_code": _error_code(error)}, out)
    return Frame(frame.service, frame.client_id, RESPONSE, frame.transaction, frame.message_id,
                 ((0x02, bytes(out)),))


def _verbose_code(verbose: Tuple[str, str]) -> int:
    family, reason = verbose
    return catalogue().enum("WdsVerboseCallEndReason.%s" % family).lookup(reason)
