"""The host side of a call: raw_ip, the interface, addresses, routes and DNS, through netlink.

Everything changed is recorded in ``Applied`` so it can be undone exactly (and, for
``--once``, undone later by ``qcm disconnect`` from a state file). The default route gets a
metric that does not take over an existing default route unless the user asked for it.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..errors import NetConfigError, NoModemError
from ..io.netlink import Netlink, NetlinkError
from ..netlink import rtnl
from .dial import Bearer, HostSide
from .dns import DnsChange, apply_dns, undo_dns

__all__ = ["HostOptions", "Applied", "Host", "DEFAULT_METRIC"]

log = logging.getLogger("qcm.host")

DEFAULT_METRIC = 700  # below Ethernet and Wi-Fi in preference, as NetworkManager does for WWAN


@dataclass(frozen=True)
class HostOptions:
    metric: Optional[int] = None        # explicit metric for our default routes
    take_default: bool = False          # prefer our default route over existing ones
    default_route: bool = True
    dns: str = "auto"                   # auto | resolvconf | file | none
    resolv_conf: Path = Path("/etc/resolv.conf")


@dataclass
class Applied:
    """What qcm changed on the host for one connection."""

    netdev: str
    addresses: List[List[Any]] = field(default_factory=list)    # [address, prefixlen]
    routes: List[Dict[str, Any]] = field(default_factory=list)  # family, gateway, metric
    mtu_before: Optional[int] = None
    dns: Optional[DnsChange] = None

    def to_json(self) -> Dict[str, Any]:
        return {"netdev": self.netdev, "addresses": self.addresses, "routes": self.routes,
                "mtu_before": self.mtu_before, "dns": self.dns.to_json() if self.dns else None}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Applied":
        return cls(data["netdev"], data.get("addresses", []), data.get("routes", []), data.get("mtu_before"),
                   DnsChange.from_json(data["dns"]) if data.get("dns") else None)

    def describe_routes(self) -> List[str]:
        return ["default%s dev %s metric %d" % (" via %s" % r["gateway"] if r.get("gateway") else "", self.netdev,
                                                r["metric"]) for r in self.routes]


class Host(HostSide):
    def __init__(self, netdev: str, raw_ip_path: Optional[Path], options: HostOptions = HostOptions()) -> None:
        self.netdev = netdev
        self.raw_ip_path = raw_ip_path
        self.options = options

    # ---------------------------------------------------------------- framing

    def raw_ip(self) -> Optional[bool]:
        if self.raw_ip_path is None:
            return None
        try:
            return self.raw_ip_path.read_text().strip().upper().startswith("Y")
        except OSError:
            return None

    def set_raw_ip(self, value: bool) -> None:
        """The kernel only accepts a new framing while the interface is down."""
        assert self.raw_ip_path is not None
        with Netlink() as nl:
            link = self._link(nl)
            if link.up:
                nl.set_link(link.index, up=False)
            try:
                self.raw_ip_path.write_text("Y\n" if value else "N\n")
            except OSError as exc:
                raise NetConfigError("cannot switch %s to %s framing: %s" % (
                    self.netdev, "raw-IP" if value else "802.3", exc.strerror),
                    "another program may hold the interface up; stop it and retry") from None
        log.info("%s: host framing set to %s", self.netdev, "raw-IP" if value else "802.3")

    # ---------------------------------------------------------------- configuration

    def _link(self, nl: Netlink) -> rtnl.Link:
        link = nl.link(self.netdev)
        if link is None:
            raise NoModemError("network interface %s does not exist" % self.netdev,
                               "the module may have reset or been unplugged")
        return link

    def configure(self, bearers: Sequence[Bearer]) -> Applied:
        applied = Applied(self.netdev)
        try:
            with Netlink() as nl:
                link = self._link(nl)
                mtus = [b.settings.mtu for b in bearers if b.settings.mtu]
                mtu = min(mtus) if mtus else None
                if any(b.family == 6 for b in bearers) and mtu is not None:
                    mtu = max(mtu, 1280)  # IPv6 needs at least 1280
                if mtu is not None and mtu != link.mtu:
                    applied.mtu_before = link.mtu
                    nl.set_link(link.index, mtu=mtu)
                if not link.up:
                    nl.set_link(link.index, up=True)
                self._remove_leftovers(nl, link.index)
                for bearer in bearers:
                    self._configure_family(nl, link.index, bearer, applied)
        except NetlinkError as exc:
            self.unconfigure(applied)
            raise NetConfigError("configuring %s failed: %s" % (self.netdev, exc.text or exc.strerror)) from None
        servers = [str(s) for b in bearers for s in b.settings.dns]
        try:
            applied.dns = apply_dns(self.netdev, servers, self.options.dns, self.options.resolv_conf)
        except NetConfigError:
            self.unconfigure(applied)
            raise
        return applied

    def _configure_family(self, nl: Netlink, index: int, bearer: Bearer, applied: Applied) -> None:
        settings = bearer.settings
        family = socket.AF_INET if settings.family == 4 else socket.AF_INET6
        # Addresses left from an earlier call of the same family would confuse source selection.
        for old in nl.addresses(index):
            if old.family == family and old.scope == 0 and old.interface != settings.address:
                nl.delete_address(index, old.address, old.prefixlen)
        flags = rtnl.IFA_F_NODAD if settings.family == 6 else 0  # the modem made the address unique
        nl.add_address(index, settings.address.ip, settings.address.network.prefixlen, flags)
        applied.addresses.append([str(settings.address.ip), settings.address.network.prefixlen])
        if not self.options.default_route:
            return
        metric = self._metric(nl, family, index)
        gateway = settings.gateway if settings.family == 4 else None  # v6: the link itself, as the modem expects
        nl.add_route(rtnl.default_route(family, index, gateway, metric))
        applied.routes.append({"family": settings.family, "gateway": str(gateway) if gateway else None,
                               "metric": metric})

    @staticmethod
    def _remove_leftovers(nl: Netlink, index: int) -> None:
        """Default routes an earlier qcm left on this interface (killed, or the modem reset)."""
        for route in nl.routes():
            if route.oif == index and route.protocol == rtnl.RTPROT_QCM:
                nl.delete_route(route)

    def _metric(self, nl: Netlink, family: int, index: int) -> int:
        others = [r.metric for r in nl.routes(family) if r.is_default and r.oif != index
                  and r.table == rtnl.RT_TABLE_MAIN and r.type == 1]
        if self.options.metric is not None:
            return self.options.metric
        if self.options.take_default:
            return max(0, min(others) - 1) if others else 0
        return max([DEFAULT_METRIC] + [m + 1 for m in others])

    def unconfigure(self, applied: Applied) -> List[str]:
        """Undo ``applied``; returns problems (never raises: the interface may be gone)."""
        problems: List[str] = []
        try:
            undo_dns(applied.dns, applied.netdev)
        except NetConfigError as exc:
            problems.append(str(exc))
        try:
            with Netlink() as nl:
                link = nl.link(applied.netdev)
                if link is None:
                    return problems  # the interface vanished, and with it our addresses and routes
                for route in applied.routes:
                    family = socket.AF_INET if route["family"] == 4 else socket.AF_INET6
                    gateway = ipaddress.ip_address(route["gateway"]) if route.get("gateway") else None
                    _ignore_gone(problems, nl.delete_route,
                                 rtnl.default_route(family, link.index, gateway, route["metric"]))
                for address, prefixlen in applied.addresses:
                    _ignore_gone(problems, nl.delete_address, link.index, ipaddress.ip_address(address), prefixlen)
                if applied.mtu_before:
                    _ignore_gone(problems, nl.set_link, link.index, None, applied.mtu_before)
                _ignore_gone(problems, nl.set_link, link.index, False)
        except OSError as exc:
            problems.append("netlink: %s" % exc)
        return problems


def _ignore_gone(problems: List[str], call: Any, *args: Any) -> None:
    try:
        call(*args)
    except NetlinkError as exc:
        if exc.errno not in (errno.ESRCH, errno.ENOENT, errno.EADDRNOTAVAIL, errno.ENODEV):
            problems.append("%s: %s" % (call.__name__, exc.text or exc.strerror))
