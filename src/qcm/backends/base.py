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

__all__ = ["Backend", "BackendContext", "Bearer", "BearerId", "DialPlan", "Pdn", "HostSide", "Emit", "mux_id_of",
           "FIRST_MUX_ID"]

FIRST_MUX_ID = 0x80  # quectel-CM and qmi_wwan_q: PDN n rides QMAP mux id 0x80 + n


@dataclass(frozen=True, order=True)
class BearerId:
    """One call: a PDN (profile) and an IP family."""
    pdn: int            # the profile (PDN) it dials
    family: int         # 4 or 6

    def __str__(self) -> str:
        return "IPv%d" % self.family if self.pdn == 1 else "PDN %d IPv%d" % (self.pdn, self.family)


@dataclass
class Bearer:
    """A call that is up: where, with which settings, and the backend's handle to stop it."""
    id: BearerId
    netdev: str
    settings: IpSettings
    handle: Dict[str, Any]                      # the backend's own: JSON-able
    started: float = field(default_factory=time.monotonic)

    @property
    def family(self) -> int:
        return self.id.family


def mux_id_of(index: int) -> int:
    """The QMAP mux id a PDN uses unless told otherwise: 0x80 + its index, as quectel-CM's -m and
    Quectel's drivers number them (mux ids 1-254 are valid; 0 and 255 are reserved)."""
    return min(FIRST_MUX_ID + index, 254)


@dataclass(frozen=True)
class Pdn:
    """One data connection of a module: the profile it dials with its APN and credentials, the IP
    families, and (when several share the module) the QMAP mux id that carries its packets."""

    index: int = 1                      # the profile index, and BearerId.pdn
    apn: Optional[str] = None
    username: str = ""
    password: str = ""
    auth: Optional[str] = None          # none | pap | chap | both; None: both if a password is given
    families: Tuple[int, ...] = (4,)
    mux_id: Optional[int] = None        # None: 0x80 + index when multiplexed
    default: bool = False               # gets the default routes (else the first PDN does)
    routes: Tuple[str, ...] = ()        # networks reached through this PDN's link (besides its own table)

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
        return tuple(BearerId(self.index, family) for family in self.families)

    @property
    def mux(self) -> int:
        return self.mux_id if self.mux_id is not None else mux_id_of(self.index)


@dataclass(frozen=True)
class DialPlan:
    """What the user asked for. The first PDN is given by the top-level fields (the single-PDN plan
    every command had before); ``more_pdns`` are further PDNs on the same module, each on its own
    QMAP mux and network interface. ``mux_id`` puts even a single PDN on a QMAP mux (quectel-CM -m:
    one process per PDN, sharing the control port through a proxy)."""

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
    more_pdns: Tuple[Pdn, ...] = ()     # further PDNs (qcm connect --pdn)
    mux_id: Optional[int] = None        # the first PDN's QMAP mux id (quectel-CM -m); None: 0x80 + profile
    qmi_proxy: Optional[bool] = None    # QMI through a qmi-proxy: True (start libqmi's if none runs), False
                                        # (open the port, share nothing), None (through one if it runs, else
                                        # open the port and serve the proxy socket for others)
    shared: bool = False                # one process per PDN (quectel-CM -m): the module is shared, not ours

    @property
    def first_pdn(self) -> Pdn:
        return Pdn(self.profile, self.apn, self.username, self.password, self.auth, self.families, self.mux_id,
                   default=not any(p.default for p in self.more_pdns))

    @property
    def pdns(self) -> Tuple[Pdn, ...]:
        return (self.first_pdn,) + self.more_pdns

    def pdn(self, index: int) -> Pdn:
        return next(p for p in self.pdns if p.index == index)

    @property
    def multiplexed(self) -> bool:
        """Whether the module's data goes through QMAP muxes (several PDNs, or a mux id asked for)."""
        return bool(self.more_pdns) or self.mux_id is not None

    @property
    def default_pdn(self) -> int:
        """The PDN that gets the default routes: the one marked default, else the first. A process
        for one PDN of a shared module (quectel-CM -n N -m M) is the default one only for PDN 1."""
        if self.shared:
            return 1
        return next((p.index for p in self.pdns if p.default), self.profile)

    @property
    def auth_flags(self) -> List[str]:
        return self.first_pdn.auth_flags

    @property
    def pdp_type(self) -> str:
        return self.first_pdn.pdp_type

    @property
    def bearers(self) -> Tuple[BearerId, ...]:
        return tuple(b for pdn in self.pdns for b in pdn.bearers)


class HostSide:
    """What a backend may need from the host: the network interface's framing switch (qmi_wwan's
    ``qmi/raw_ip``), which must match the modem's before any data flows; and with several PDNs the
    QMAP side: which QMAP versions the host's links read, the parent's aggregation set-up, and a
    network interface per mux id."""

    def raw_ip(self) -> Optional[bool]:
        return None

    def set_raw_ip(self, value: bool) -> None:
        raise NotImplementedError

    def qmap_versions(self) -> Tuple[str, ...]:
        """WDA aggregation protocols the host's mux links take, best first; () when it has none."""
        return ()

    def prepare_aggregation(self, size: int) -> List[str]:
        """Raw IP, an MTU of the downlink aggregation size, the parent up; what was changed."""
        raise NotImplementedError

    async def mux_link(self, mux_id: int, version: str = "qmap") -> str:
        """The network interface carrying QMAP mux ``mux_id`` (made if needed)."""
        raise NotImplementedError


Emit = Callable[[object], None]  # a supervisor event (qcm.connect.supervisor)


@dataclass
class BackendContext:
    """What a backend is given: the plan, where to report, the host side, the PIN record."""
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

    def _dial(self) -> Any:
        """The protocol's dial sequence (QMI, MBIM and AT backends keep one while the port is open)."""
        raise NotImplementedError

    async def read_registration(self) -> Registration:
        self.registration = await self._dial().read_registration()
        return self.registration

    async def wait_registered(self) -> Registration:
        """Until registered and attached for packet data (RegistrationError after the plan's timeout)."""
        self.registration = await self._dial().wait_registered()
        return self.registration

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
