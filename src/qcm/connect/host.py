"""The host side of the calls: raw_ip, the interface, addresses, routes and DNS, through netlink.

``Host.sync(bearers)`` makes the host match the calls that are up: it adds what is missing,
removes what belongs to calls that ended or changed, and leaves the rest alone, so a family
dropping alone, a new address or a redial touch only what changed. Everything qcm set is
recorded in ``Applied`` so ``clear()`` undoes exactly that (and ``qcm disconnect`` can undo
it later from a state file after ``--once``). The default route gets a metric that does not
take over an existing default route unless the user asked for it.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ..errors import NetConfigError, NoModemError, PermissionProblem
from ..io.netlink import Netlink, NetlinkError
from ..netlink import rtnl
from ..backends.base import Bearer, HostSide
from .dns import DnsChange, apply_dns, undo_dns

__all__ = ["HostOptions", "Applied", "Host", "DEFAULT_METRIC"]

log = logging.getLogger(__name__)

DEFAULT_METRIC = 700  # below Ethernet and Wi-Fi in preference, as NetworkManager does for WWAN


@dataclass(frozen=True)
class HostOptions:
    metric: Optional[int] = None        # explicit metric for our default routes
    take_default: bool = False          # prefer our default route over existing ones
    default_route: bool = True
    dns: str = "auto"                   # auto | resolved | resolvconf | file | none
    resolv_conf: Path = Path("/etc/resolv.conf")


@dataclass
class Applied:
    """What qcm changed on the host, to be undone exactly."""

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
        """Read back (and check: it tells root what to remove) what ``to_json`` wrote; ValueError,
        KeyError or TypeError when it is not that."""
        addresses = [[str(ipaddress.ip_address(address)), _bounded(prefixlen, 0, 128)]
                     for address, prefixlen in data.get("addresses", [])]
        routes = [{"family": _bounded(r["family"], 4, 6), "metric": _bounded(r["metric"], 0, 0xFFFFFFFF),
                   "gateway": str(ipaddress.ip_address(r["gateway"])) if r.get("gateway") else None}
                  for r in data.get("routes", [])]
        mtu = data.get("mtu_before")
        return cls(str(data["netdev"]), addresses, routes, _bounded(mtu, 68, 65535) if mtu is not None else None,
                   DnsChange.from_json(data["dns"]) if data.get("dns") else None)

    def describe_dns(self) -> str:
        if self.dns is None:
            return "unchanged"
        if self.dns.method == "resolved":
            return "%s via systemd-resolved on %s" % (", ".join(self.dns.servers), self.dns.target)
        return "%s via %s" % (", ".join(self.dns.servers),
                              self.dns.method if self.dns.method == "resolvconf" else self.dns.target)

    def describe_routes(self) -> List[str]:
        return ["default%s dev %s metric %d" % (" via %s" % r["gateway"] if r.get("gateway") else "", self.netdev,
                                                r["metric"]) for r in self.routes]


def _bounded(value: Any, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError("%r is not a number from %d to %d" % (value, low, high))
    return value


def _family(version: int) -> int:
    return socket.AF_INET if version == 4 else socket.AF_INET6


def _route(index: int, entry: Dict[str, Any]) -> rtnl.Route:
    gateway = ipaddress.ip_address(entry["gateway"]) if entry.get("gateway") else None
    return rtnl.default_route(_family(entry["family"]), index, gateway, entry["metric"])


class Host(HostSide):
    def __init__(self, netdev: str, raw_ip_path: Optional[Path], options: HostOptions = HostOptions(),
                 applied: Optional[Applied] = None) -> None:
        self.netdev = netdev
        self.raw_ip_path = raw_ip_path
        self.options = options
        self.applied = applied or Applied(netdev)
        self.dns_problem = ""       # why the DNS servers could not be installed, if they could not

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
        with self._netlink() as nl:
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

    # ---------------------------------------------------------------- netlink helpers

    @staticmethod
    def _netlink() -> Netlink:
        try:
            return Netlink()
        except PermissionError:
            raise PermissionProblem("configuring network interfaces needs root (CAP_NET_ADMIN)",
                                    "run qcm with sudo") from None

    def _link(self, nl: Netlink) -> rtnl.Link:
        link = nl.link(self.netdev)
        if link is None:
            raise NoModemError("network interface %s does not exist" % self.netdev,
                               "the module may have reset or been unplugged")
        return link

    # ---------------------------------------------------------------- sync

    def sync(self, bearers: Sequence[Bearer]) -> Applied:
        """Make addresses, routes, MTU and DNS match the calls that are up."""
        applied = self.applied
        try:
            with self._netlink() as nl:
                link = self._link(nl)
                if not applied.addresses and not applied.routes:
                    self._remove_leftovers(nl, link.index)
                wanted = {(str(b.settings.address.ip), b.settings.address.network.prefixlen): b for b in bearers}
                for entry in [r for r in applied.routes if not self._route_wanted(r, bearers)]:
                    _tolerate_gone(nl.delete_route, _route(link.index, entry))
                    applied.routes.remove(entry)
                for address, prefixlen in [a for a in applied.addresses if tuple(a) not in wanted]:
                    _tolerate_gone(nl.delete_address, link.index, ipaddress.ip_address(address), prefixlen)
                    applied.addresses.remove([address, prefixlen])
                self._mtu_and_link(nl, link, bearers)
                for (address, prefixlen), bearer in wanted.items():
                    if [address, prefixlen] not in applied.addresses:
                        self._add_address(nl, link.index, bearer)
                if self.options.default_route:
                    for bearer in bearers:
                        if not any(r["family"] == bearer.family for r in applied.routes):
                            self._add_route(nl, link.index, bearer)
        except NetlinkError as exc:
            raise NetConfigError("configuring %s failed: %s" % (self.netdev, exc.text or exc.strerror)) from None
        self._sync_dns([str(s) for b in sorted(bearers, key=lambda b: b.family) for s in b.settings.dns])
        return applied

    def _sync_dns(self, servers: List[str]) -> None:
        """DNS is worth a warning, not the link: a host whose DNS cannot be written (read-only file,
        refused link) still gets a working connection, and names resolve as they did before."""
        applied = self.applied
        current = list(applied.dns.servers) if applied.dns else []
        if servers == current and not self.dns_problem:
            return
        try:
            undo_dns(applied.dns, self.netdev)
            applied.dns = None
            applied.dns = apply_dns(self.netdev, servers, self.options.dns, self.options.resolv_conf)
            self.dns_problem = ""
        except (NetConfigError, PermissionProblem) as exc:
            self.dns_problem = str(exc)

    @staticmethod
    def _route_wanted(entry: Dict[str, Any], bearers: Sequence[Bearer]) -> bool:
        for bearer in bearers:
            if bearer.family == entry["family"]:
                gateway = _next_hop(bearer)
                return entry.get("gateway") == (str(gateway) if gateway else None)
        return False

    def _mtu_and_link(self, nl: Netlink, link: rtnl.Link, bearers: Sequence[Bearer]) -> None:
        mtus = [b.settings.mtu for b in bearers if b.settings.mtu]
        mtu = min(mtus) if mtus else None
        if any(b.family == 6 for b in bearers) and mtu is not None:
            mtu = max(mtu, 1280)  # IPv6 needs at least 1280
        if mtu is not None and mtu != link.mtu:
            if self.applied.mtu_before is None:
                self.applied.mtu_before = link.mtu
            nl.set_link(link.index, mtu=mtu)
        if bearers and not link.up:
            nl.set_link(link.index, up=True)

    def _add_address(self, nl: Netlink, index: int, bearer: Bearer) -> None:
        settings = bearer.settings
        # Addresses left by an earlier call of the same family would confuse source selection.
        for old in nl.addresses(index):
            if old.family == _family(bearer.family) and old.scope == 0 and old.interface != settings.address:
                nl.delete_address(index, old.address, old.prefixlen)
        flags = rtnl.IFA_F_NODAD if bearer.family == 6 else 0  # the modem made the address unique
        nl.add_address(index, settings.address.ip, settings.address.network.prefixlen, flags)
        self.applied.addresses.append([str(settings.address.ip), settings.address.network.prefixlen])

    def _add_route(self, nl: Netlink, index: int, bearer: Bearer) -> None:
        family = _family(bearer.family)
        gateway = _next_hop(bearer)
        entry = {"family": bearer.family, "gateway": str(gateway) if gateway else None,
                 "metric": self._metric(nl, family, index)}
        nl.add_route(_route(index, entry))
        self.applied.routes.append(entry)

    @staticmethod
    def _remove_leftovers(nl: Netlink, index: int) -> None:
        """Default routes an earlier qcm left on this interface (killed, or the modem reset)."""
        for route in nl.routes():
            if route.oif == index and route.protocol == rtnl.RTPROT_QCM:
                _tolerate_gone(nl.delete_route, route)

    def _metric(self, nl: Netlink, family: int, index: int) -> int:
        if self.options.metric is not None:
            return self.options.metric
        others = [r.metric for r in nl.routes(family) if r.is_default and r.oif != index
                  and r.table == rtnl.RT_TABLE_MAIN and r.type == 1]
        if self.options.take_default:
            return max(0, min(others) - 1) if others else 0
        return max([DEFAULT_METRIC] + [m + 1 for m in others])

    # ---------------------------------------------------------------- undo

    def clear(self) -> List[str]:
        """Undo everything qcm set; returns problems (never raises: the interface may be gone)."""
        applied, self.applied = self.applied, Applied(self.netdev)
        problems: List[str] = []
        try:
            undo_dns(applied.dns, applied.netdev)
        except (NetConfigError, OSError) as exc:
            problems.append(str(exc))
        try:
            with Netlink() as nl:
                link = nl.link(applied.netdev)
                if link is None:
                    return problems  # the interface vanished, and with it our addresses and routes
                for entry in applied.routes:
                    _tolerate_gone(nl.delete_route, _route(link.index, entry), problems=problems)
                for address, prefixlen in applied.addresses:
                    _tolerate_gone(nl.delete_address, link.index, ipaddress.ip_address(address), prefixlen,
                                   problems=problems)
                if applied.mtu_before:
                    _tolerate_gone(nl.set_link, link.index, None, applied.mtu_before, problems=problems)
                _tolerate_gone(nl.set_link, link.index, False, problems=problems)
        except OSError as exc:
            problems.append("netlink: %s" % exc)
        return problems


def _next_hop(bearer: Bearer) -> Any:
    """The default route's gateway: IPv4's, and IPv6's only when it is link-local (a router on an
    Ethernet-style link); the global IPv6 gateway a modem names on a point-to-point raw-IP link is
    reached through the link itself."""
    gateway = bearer.settings.gateway
    if gateway is None or bearer.family == 4:
        return gateway
    return gateway if gateway.is_link_local else None


def _tolerate_gone(call: Any, *args: Any, problems: Optional[List[str]] = None) -> None:
    """Netlink calls on things that may already be gone; other failures are collected or raised."""
    try:
        call(*args)
    except NetlinkError as exc:
        if exc.errno in (errno.ESRCH, errno.ENOENT, errno.EADDRNOTAVAIL, errno.ENODEV):
            return
        if problems is None:
            raise
        problems.append("%s: %s" % (getattr(call, "__name__", "netlink"), exc.text or exc.strerror))
