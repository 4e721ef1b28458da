"""What ``qcm connect`` (and the quectel-CM drop-in) was asked to do, as one value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Tuple

from ..backends.base import DialPlan
from ..io.probe import Probe
from .supervisor import Policy

__all__ = ["ConnectOptions", "DialPlan", "HostOptions"]


@dataclass(frozen=True)
class HostOptions:
    """How the interface is configured: routes, their metric and table, DNS.

    Here, not in host.py: the command line builds it, and host.py (netlink, DNS) need not load
    before the first request to the modem."""
    metric: Optional[int] = None        # explicit metric for our default routes
    take_default: bool = False          # prefer our default route over existing ones
    default_route: bool = True
    dns: str = "auto"                   # auto | resolved | resolvconf | file | none
    resolv_conf: Path = Path("/etc/resolv.conf")
    table: Optional[int] = None         # a PDN that is not the default: its own routing table and source rules
    routes: Tuple[str, ...] = ()        # networks reached through this link (from the main table)
    dns_default: bool = True            # this link's DNS servers answer every name (else only its own domains)


@dataclass(frozen=True)
class ConnectOptions:
    """Everything qcm connect was asked to do."""
    plan: DialPlan = field(default_factory=DialPlan)
    host: HostOptions = field(default_factory=HostOptions)
    interface: Optional[str] = None
    control: Optional[str] = None
    usb_path: Optional[str] = None
    imei: Optional[str] = None
    sysfs: Path = Path("/sys")
    dev: Path = Path("/dev")
    run_dir: Path = Path("/run/qcm")
    state_dir: Optional[Path] = Path("/var/lib/qcm")  # what must survive a reboot (rejected PINs)
    once: bool = False
    request_timeout: float = 10.0
    show_personal: bool = False
    first_found: bool = False           # quectel-CM picks the first module when several are present
    policy: Policy = field(default_factory=Policy)
    poll_interval: float = 60.0         # safety net behind the indications
    probes: Tuple[Probe, ...] = ()
    probe_interval: float = 30.0
    probe_failures: int = 3
    metrics_file: Optional[Path] = None
    rebind_first: bool = False          # quectel-CM -r: re-bind the driver before the first attempt
    inhibit_modemmanager: bool = False  # ask ModemManager (D-Bus InhibitDevice) to let go while we run
    name: Optional[str] = None          # qcm daemon: the connection's name (its configuration, or USB path)
    transport: Any = None               # tests: Modem -> Transport (memory) instead of the module's port
