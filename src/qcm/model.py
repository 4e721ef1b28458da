"""What qcm knows about a module, whatever protocol told it: identity, SIM, registration, IP settings.

Plain data shared by the control backends (which fill it from QMI, MBIM or AT answers), the
connection service, the doctor and the reports. No I/O.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional, Tuple, Union

__all__ = ["ModemIdentity", "SimStatus", "Registration", "IpSettings", "IPInterface", "IPAddress"]

IPInterface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


@dataclass(frozen=True)
class SimStatus:
    """ready, pin (PIN required), puk (PUK required), blocked (for good), absent, or
    initializing (the card is there but not ready yet: worth waiting for)."""

    state: str
    pin_retries: Optional[int] = None
    puk_retries: Optional[int] = None
    detail: str = ""                # the protocol's own word for the state ("detected", "not-initialized")


@dataclass(frozen=True)
class ModemIdentity:
    manufacturer: str = ""
    model: str = ""
    revision: str = ""
    imei: str = ""


@dataclass(frozen=True)
class Registration:
    state: str                      # registered | not-registered-searching | registration-denied | ...
    ps_attached: bool
    roaming: bool = False
    mcc: Optional[int] = None
    mnc: Optional[int] = None
    operator: str = ""
    rat: str = ""                   # lte, umts, gsm, 5gnr
    reject_cause: Optional[int] = None
    signal_dbm: Optional[int] = None

    @property
    def registered(self) -> bool:
        return self.state == "registered"

    def describe(self) -> str:
        if self.registered:
            text = "registered%s on %s" % (" (roaming)" if self.roaming else "", self.operator or "?")
            if self.mcc is not None:
                text += " (%03d-%02d)" % (self.mcc, self.mnc or 0)
        else:
            text = {"not-registered-searching": "searching for a network",
                    "registration-denied": "registration denied by the network",
                    "not-registered": "not registered and not searching",
                    "emergency-only": "emergency calls only", "limited-service": "restricted service only",
                    }.get(self.state, self.state)
            if self.reject_cause:
                text += " (reject cause %d)" % self.reject_cause
        if self.rat:
            text += ", %s" % self.rat.upper()
        if self.signal_dbm is not None:
            text += ", signal %d dBm" % self.signal_dbm
        text += ", packet service %s" % ("attached" if self.ps_attached else "detached")
        return text


@dataclass(frozen=True)
class IpSettings:
    family: int                     # 4 or 6
    address: IPInterface
    gateway: Optional[IPAddress] = None
    dns: Tuple[IPAddress, ...] = ()
    mtu: Optional[int] = None
