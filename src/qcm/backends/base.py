"""The seam between the connection service and a module's control protocol (QMI, later MBIM, AT).

A backend is one module's control channel, in the spirit of python-can's ``BusABC``: the
service asks it to prepare the module (SIM and PIN, radio, data format, profile), to wait for
the network, to start, read and stop bearers, and to try a recovery rung; the backend tells the
service what the modem says unasked, as supervisor events (a call ended, an address changed,
the network or a SIM is back, the control channel is gone). Everything a backend raises is a
``QcmError`` whose recovery class tells the supervisor what to do.

A bearer is one data connection: a PDN (the profile it dials) and an IP family, with its own
network interface and an opaque handle only its backend understands (QMI: the WDS client and
the packet data handle), kept as JSON so that ``connect --once`` can hand it to ``qcm disconnect``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Dict, List, Optional, Tuple

from ..connect.events import Reporter
from ..discovery import Modem
from ..model import IpSettings, ModemIdentity, Registration

__all__ = ["Backend", "BackendContext", "Bearer", "BearerId", "DialPlan", "HostSide", "Emit"]


@dataclass(frozen=True, order=True)
class BearerId:
    pdn: int            # the profile (PDN) it dials
    family: int         # 4 or 6

    def __str__(self) -> str:
        return "IPv%d" % self.family if self.pdn == 1 else "PDN %d IPv%d" % (self.pdn, self.family)


@dataclass
class Bearer:
    id: BearerId
    netdev: str
    settings: IpSettings
    handle: Dict[str, Any]                      # the backend's own: JSON-able
    started: float = field(default_factory=time.monotonic)

    @property
    def family(self) -> int:
        return self.id.family


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
    mbim_proxy: Optional[bool] = None   # MBIM through libmbim's mbim-proxy: True, False, None = when it runs
    ip_config: str = "auto"             # auto: the modem's settings, DHCP where the link is Ethernet; dhcp: always

    @property
    def auth_flags(self) -> List[str]:
        auth = self.auth or ("both" if self.password else "none")
        return {"none": [], "pap": ["pap"], "chap": ["chap"], "both": ["pap", "chap"]}[auth]

    @property
    def pdp_type(self) -> str:
        single: Dict[Tuple[int, ...], str] = {(4,): "ipv4", (6,): "ipv6"}
        return single.get(tuple(sorted(self.families)), "ipv4-or-ipv6")

    @property
    def bearers(self) -> Tuple[BearerId, ...]:
        return tuple(BearerId(self.profile, family) for family in self.families)


class HostSide:
    """What a backend may need from the host: the network interface's framing switch (qmi_wwan's
    ``qmi/raw_ip``), which must match the modem's before any data flows."""

    def raw_ip(self) -> Optional[bool]:
        return None

    def set_raw_ip(self, value: bool) -> None:
        raise NotImplementedError


Emit = Callable[[object], None]  # a supervisor event (qcm.connect.supervisor)


@dataclass
class BackendContext:
    plan: DialPlan
    report: Reporter
    emit: Emit
    host: HostSide = field(default_factory=HostSide)
    pin_guard: Any = None               # qcm.connect.pin_guard.PinGuard (None: remembered by this process only)
    request_timeout: float = 10.0
    show_personal: bool = False
    transport: Any = None               # Modem -> Transport (tests: memory); None: the module's control port


class Backend:
    """One module's control channel. Subclasses implement every method below."""

    name: ClassVar[str] = ""
    modes: ClassVar[Tuple[str, ...]] = ()       # discovery modes served ("qmi", "mbim", "ethernet")

    def __init__(self, modem: Modem, context: BackendContext) -> None:
        self.modem = modem
        self.context = context
        self.identity = ModemIdentity()
        self.registration: Optional[Registration] = None

    async def open(self) -> None:
        """Open the control channel with fresh state (after a reset, or when it stopped answering)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release everything except bearers handed over by ``keep``; never raises."""
        raise NotImplementedError

    @property
    def is_open(self) -> bool:
        raise NotImplementedError

    async def prepare(self) -> None:
        """Identity, SIM and PIN (never retried), radio on, data format agreed with the host, profile."""
        raise NotImplementedError

    async def read_registration(self) -> Registration:
        raise NotImplementedError

    async def wait_registered(self) -> Registration:
        """Until registered and attached for packet data (RegistrationError after the plan's timeout)."""
        raise NotImplementedError

    async def start(self, bearer: BearerId, netdev: str) -> Bearer:
        raise NotImplementedError

    async def settings(self, bearer: Bearer) -> IpSettings:
        raise NotImplementedError

    async def is_up(self, bearer: Bearer) -> bool:
        """Whether the modem still has the call (the safety-net poll)."""
        raise NotImplementedError

    async def stop(self, bearer: Bearer) -> bool:
        """Best effort: the call may already be gone, the modem may not answer. True if confirmed."""
        raise NotImplementedError

    async def radio_cycle(self) -> None:
        """Recovery rung: radio off and on again."""
        raise NotImplementedError

    def keep(self, bearers: List[Bearer]) -> None:
        """``connect --once``: leave these bearers up when closing (their handles say how to stop them)."""
        raise NotImplementedError

    @classmethod
    async def read_imei(cls, modem: Modem) -> str:
        """The module's IMEI, asked briefly (choosing a module by IMEI); "" if it cannot be asked."""
        raise NotImplementedError

    @classmethod
    async def stop_saved(cls, control: str, bearers: List[Tuple[BearerId, Dict[str, Any]]]) -> List[str]:
        """``qcm disconnect``: stop bearers a process that has exited left up; what happened, per bearer."""
        raise NotImplementedError
