"""What the dial sequence reports as it goes, for people (qcm's log, quectel-CM's log format).

Events are plain data; ``cli/report.py`` and ``cli/quectel_cm.py`` turn them into lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

from ..model import IpSettings, ModemIdentity, Registration


@dataclass(frozen=True)
class Event:
    """Something the dial sequence reports (a docstring on every event class: without one, dataclass computes a
    signature at import time, which costs start-up)."""


@dataclass(frozen=True)
class ModemFound(Event):
    """The module discovery chose, and how it is bound."""
    description: str
    usb_path: str
    usb_id: str
    control: str
    netdev: str
    driver: str
    driver_version: str
    mode: str


@dataclass(frozen=True)
class ClientsAllocated(Event):
    """The control clients allocated for this session."""
    clients: Tuple[Tuple[str, str, int], ...]   # (service, role, cid)


@dataclass(frozen=True)
class Identified(Event):
    """The module's manufacturer, model, firmware and IMEI."""
    identity: ModemIdentity


@dataclass(frozen=True)
class DataFormat(Event):
    """The framing the modem and the host agreed on."""
    modem: str                      # the modem's link layer after agreement
    host_raw_ip: Optional[bool]
    changed: Tuple[str, ...] = ()   # what we switched ("modem", "host")


@dataclass(frozen=True)
class SimReady(Event):
    """The SIM is usable (ready, or unlocked by the PIN)."""
    state: str                      # ready, pin-verified
    pin_retries: Optional[int] = None


@dataclass(frozen=True)
class RadioOnline(Event):
    """The radio is on (and whether we turned it on)."""
    previous: str
    changed: bool


@dataclass(frozen=True)
class ProfileChecked(Event):
    """The stored profile a PDN dials with, and whether it was written."""
    index: int
    apn: str
    username: str
    auth: str
    pdp_type: str
    changed: bool
    supported: bool = True


@dataclass(frozen=True)
class Waiting(Event):
    """Not registered for packet data yet: what the network says meanwhile."""
    registration: Registration
    elapsed: float


@dataclass(frozen=True)
class Registered(Event):
    """Registered and attached for packet data."""
    registration: Registration


@dataclass(frozen=True)
class CallStatus(Event):
    """Whether a call of this family was up before we dialled."""
    family: int
    connected: bool


@dataclass(frozen=True)
class CallStarted(Event):
    """The modem started a call (its packet data handle)."""
    family: int
    handle: int


@dataclass(frozen=True)
class SettingsReceived(Event):
    """A call's IP settings, from the modem or the link."""
    settings: IpSettings


@dataclass(frozen=True)
class HostConfigured(Event):
    """An interface configured: addresses, routes, DNS."""
    netdev: str
    settings: Tuple[IpSettings, ...]
    routes: Tuple[str, ...] = ()
    dns: str = ""


@dataclass(frozen=True)
class Connected(Event):
    """Every wanted call is up and configured."""
    netdev: str
    families: Tuple[int, ...]
    seconds: float                  # since start, or since the drop for a reconnection
    again: bool = False
    cause: str = ""                 # for a reconnection: what had taken it down


@dataclass(frozen=True)
class Notice(Event):
    """Anything else worth a line (a warning when ``warning`` is set)."""

    text: str
    warning: bool = False


@dataclass(frozen=True)
class DhcpLease(Notice):
    """A DHCP lease obtained or renewed on the module's interface (``text`` is qcm's line for it)."""

    netdev: str = ""
    address: str = ""           # with its prefix length
    server: str = ""
    lease_time: int = 0
    renewed: bool = False


@dataclass(frozen=True)
class ContextActivated(Event):
    """A PDP context started over AT (Ethernet-style modules): the command and what the modem says
    the call's address is (in NAT mode the host gets a LAN address by DHCP instead)."""

    cid: int
    command: str
    address: str = ""


@dataclass(frozen=True)
class Disconnecting(Event):
    """Ending the connection, and why."""
    reason: str


@dataclass(frozen=True)
class Disconnected(Event):
    """The connection ended; what was undone."""
    details: List[str] = field(default_factory=list)



# ---------------------------------------------------------------- MBIM (quectel-CM logs these steps)


@dataclass(frozen=True)
class MbimRequest(Event):
    """An MBIM request going out: ``open``, or a Basic Connect command by its key (``device_caps``,
    ``radio_state``, ``connect``...), query or set, with the session or the value set if any."""

    command: str
    kind: str = "query"
    session: Optional[int] = None
    value: Optional[int] = None


@dataclass(frozen=True)
class MbimDeviceCaps(Event):
    """MBIM Device Caps: the module's identity."""
    device_id: str          # the IMEI (personal)
    firmware: str
    hardware: str


@dataclass(frozen=True)
class MbimRadioState(Event):
    """MBIM Radio State: hardware and software switches."""
    hardware: str           # on / off
    software: str


@dataclass(frozen=True)
class MbimState(Event):
    """A state the modem reported next to the one known before it, libmbim's names
    (``what``: subscriber-ready, register, packet-service, activation)."""

    what: str
    old: str
    new: str


@dataclass(frozen=True)
class MbimIpConfiguration(Event):
    """MBIM IP Configuration of a session."""
    session: int
    ipv4_available: int     # MBIM flags: 1 address, 2 gateway, 4 DNS, 8 MTU
    ipv6_available: int
    settings: Tuple[IpSettings, ...] = ()


Reporter = Callable[[Event], None]
