"""The host side of the calls: raw_ip, the interface, addresses, routes and DNS, through netlink.

One ``Host`` per network interface. ``Host.sync(bearers)`` makes the host match the calls that
are up on its interface: it adds what is missing, removes what belongs to calls that ended or
changed, and leaves the rest alone, so a family dropping alone, a new address or a redial touch
only what changed. Everything qcm set is recorded in ``Applied`` so ``clear()`` undoes exactly
that (and ``qcm disconnect`` can undo it later from a state file after ``--once``). The default
route gets a metric that does not take over an existing default route unless the user asked for it.

Several PDNs (QMAP mux links): the parent interface (wwan0) carries no address; its ``Host``
agrees on the aggregation (raw IP, and an MTU equal to the downlink aggregation size, which is
also the driver's receive buffer) and makes the mux links. One PDN gets the default routes; every
other PDN's traffic leaves only through its own link: its link has a routing table of its own
(``table``) with a default route, a rule sends what comes from its addresses there, and the
networks named for it (``routes``) are routed through it. Its DNS servers go on its link
(systemd-resolved: not as the default route for names; resolvconf: its own record); editing
resolv.conf has no notion of links, so there only the default PDN's servers are written.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import NetConfigError, NoModemError, PermissionProblem
from ..io.netlink import Netlink, NetlinkError
from ..netlink import rtnl
from ..backends.base import Bearer, HostSide
from .dns import DnsChange, apply_dns, undo_dns
from .options import HostOptions

__all__ = ["HostOptions", "Applied", "Host", "DEFAULT_METRIC", "RULE_PRIORITY", "table_of"]

log = logging.getLogger(__name__)

DEFAULT_METRIC = 700  # below Ethernet and Wi-Fi in preference, as NetworkManager does for WWAN
RULE_PRIORITY = 5200  # a PDN's source rule: before the main table (32766), after the local one (0)
TABLE_BASE = 7100     # PDN n's own routing table is 7100 + n


def table_of(pdn: int) -> int:
    return TABLE_BASE + pdn


@dataclass
class Applied:
    """What qcm changed on the host, to be undone exactly."""

    netdev: str
    addresses: List[List[Any]] = field(default_factory=list)    # [address, prefixlen]
    routes: List[Dict[str, Any]] = field(default_factory=list)  # family, gateway, metric[, table, dst]
    mtu_before: Optional[int] = None
    dns: Optional[DnsChange] = None
    rules: List[Dict[str, Any]] = field(default_factory=list)   # family, source, table, priority
    mux_links: List[List[Any]] = field(default_factory=list)    # [mux id, netdev] made on this parent

    def to_json(self) -> Dict[str, Any]:
        data = {"netdev": self.netdev, "addresses": self.addresses, "routes": self.routes,
                "mtu_before": self.mtu_before, "dns": self.dns.to_json() if self.dns else None}
        if self.rules:
            data["rules"] = self.rules
        if self.mux_links:
            data["mux_links"] = self.mux_links
        return data

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Applied":
        """Read back (and check: it tells root what to remove) what ``to_json`` wrote; ValueError,
        KeyError or TypeError when it is not that."""
        addresses = [[str(ipaddress.ip_address(address)), _bounded(prefixlen, 0, 128)]
                     for address, prefixlen in data.get("addresses", [])]
        routes = [_route_entry(r) for r in data.get("routes", [])]
        rules = [{"family": _bounded(r["family"], 4, 6), "source": str(ipaddress.ip_address(r["source"])),
                  "table": _bounded(r["table"], 1, 0xFFFFFFFF), "priority": _bounded(r["priority"], 0, 0xFFFFFFFF)}
                 for r in data.get("rules", [])]
        links = [[_bounded(mux, 1, 254), _name(name)] for mux, name in data.get("mux_links", [])]
        mtu = data.get("mtu_before")
        return cls(str(data["netdev"]), addresses, routes, _bounded(mtu, 68, 65535) if mtu is not None else None,
                   DnsChange.from_json(data["dns"]) if data.get("dns") else None, rules, links)

    def describe_dns(self) -> str:
        if self.dns is None:
            return "unchanged"
        if self.dns.method == "resolved":
            return "%s via systemd-resolved on %s" % (", ".join(self.dns.servers), self.dns.target)
        return "%s via %s" % (", ".join(self.dns.servers),
                              self.dns.method if self.dns.method == "resolvconf" else self.dns.target)

    def describe_routes(self) -> List[str]:
        return ["%s%s dev %s%s metric %d" % (r.get("dst") or "default", " via %s" % r["gateway"] if r.get("gateway")
                                             else "", self.netdev, " table %d" % r["table"] if r.get("table") else "",
                                             r["metric"]) for r in self.routes] + \
            ["from %s lookup %d" % (r["source"], r["table"]) for r in self.rules]


def _route_entry(r: Dict[str, Any]) -> Dict[str, Any]:
    entry = {"family": _bounded(r["family"], 4, 6), "metric": _bounded(r["metric"], 0, 0xFFFFFFFF),
             "gateway": str(ipaddress.ip_address(r["gateway"])) if r.get("gateway") else None}
    if r.get("table"):
        entry["table"] = _bounded(r["table"], 1, 0xFFFFFFFF)
    if r.get("dst"):
        entry["dst"] = str(ipaddress.ip_network(r["dst"]))
    return entry


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > 15 or "/" in value:
        raise ValueError("%r is not an interface name" % (value,))
    return value


def _bounded(value: Any, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError("%r is not a number from %d to %d" % (value, low, high))
    return value


def _family(version: int) -> int:
    return socket.AF_INET if version == 4 else socket.AF_INET6


def _route(index: int, entry: Dict[str, Any]) -> rtnl.Route:
    gateway = ipaddress.ip_address(entry["gateway"]) if entry.get("gateway") else None
    route = rtnl.default_route(_family(entry["family"]), index, gateway, entry["metric"])
    if entry.get("dst"):
        network = ipaddress.ip_network(entry["dst"])
        route = replace(route, dst=network.network_address, dst_len=network.prefixlen)
    if entry.get("table"):
        route = replace(route, table=entry["table"])
    return route


def _rule(entry: Dict[str, Any]) -> rtnl.Rule:
    source = ipaddress.ip_address(entry["source"])
    return rtnl.Rule(_family(entry["family"]), source, source.max_prefixlen, entry["table"], entry["priority"],
                     rtnl.RTPROT_QCM)


def _key(entry: Dict[str, Any]) -> Tuple[Any, ...]:
    """What makes two route entries the same route (the metric is chosen when it is added)."""
    return (entry["family"], entry.get("dst"), entry.get("table"), entry.get("gateway"))


class Host(HostSide):
    def __init__(self, netdev: str, raw_ip_path: Optional[Path], options: HostOptions = HostOptions(),
                 applied: Optional[Applied] = None) -> None:
        self.netdev = netdev
        self.raw_ip_path = raw_ip_path
        self.options = options
        self.applied = applied or Applied(netdev)
        self.dns_problem = ""       # why the DNS servers could not be installed, if they could not
        self.dns_note = ""          # DNS servers recorded but deliberately not installed, and why
        self.mux: Any = None        # qcm.io.qmap_links.MuxLinks: how this parent makes QMAP mux links

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
            self._write_flag(self.raw_ip_path, value, "raw-IP" if value else "802.3")
        log.info("%s: host framing set to %s", self.netdev, "raw-IP" if value else "802.3")

    def _write_flag(self, path: Path, value: bool, what: str) -> None:
        try:
            path.write_text("Y\n" if value else "N\n")
        except OSError as exc:
            raise NetConfigError("cannot switch %s to %s: %s" % (self.netdev, what, exc.strerror),
                                 "another program may hold the interface up; stop it and retry") from None

    # ---------------------------------------------------------------- QMAP: the parent of the mux links

    def qmap_versions(self) -> Tuple[str, ...]:
        return self.mux.versions if self.mux is not None else ()

    def prepare_aggregation(self, size: int) -> List[str]:
        """Raw IP, an MTU (and so a receive buffer) the size of the downlink aggregation, pass-through
        for rmnet, and the parent up: what the mux links need. qmi_wwan takes a new MTU only in 802.3
        framing, so it is set there and raw IP restored, as ModemManager does; nothing is touched when
        it is already right (another process of the same module set it, and may be passing traffic)."""
        changes: List[str] = []
        pass_through = self.raw_ip_path.with_name("pass_through") if self.raw_ip_path else None
        if pass_through is not None and not pass_through.exists():
            pass_through = None
        try:
            with self._netlink() as nl:
                link = self._link(nl)
                if link.mtu != size:
                    if self.applied.mtu_before is None:
                        self.applied.mtu_before = link.mtu
                    self._set_mtu_through_802_3(nl, link, size)
                    changes.append("MTU %d -> %d" % (link.mtu, size))
                if self.raw_ip() is False:
                    self._down(nl)
                    self._write_flag(self.raw_ip_path, True, "raw-IP")  # type: ignore[arg-type]
                    changes.append("raw-IP")
                if self.mux is not None and self.mux.needs_pass_through and pass_through is not None \
                        and not _flag(pass_through):
                    self._down(nl)
                    self._write_flag(pass_through, True, "pass-through")
                    changes.append("pass-through")
                if not self._link(nl).up:
                    nl.set_link(link.index, up=True)
        except NetlinkError as exc:
            raise NetConfigError("preparing %s for QMAP failed: %s" % (self.netdev, exc.text or exc.strerror)) from None
        return changes

    def _down(self, nl: Netlink) -> None:
        link = self._link(nl)
        if link.up:
            nl.set_link(link.index, up=False)

    def _set_mtu_through_802_3(self, nl: Netlink, link: rtnl.Link, mtu: int) -> None:
        if self.raw_ip() is not True:
            nl.set_link(link.index, mtu=mtu)
            return
        self._down(nl)
        pass_through = self.raw_ip_path.with_name("pass_through")  # type: ignore[union-attr]
        if pass_through.exists() and _flag(pass_through):
            self._write_flag(pass_through, False, "no pass-through")  # raw_ip cannot be cleared under it
        self._write_flag(self.raw_ip_path, False, "802.3")  # type: ignore[arg-type]
        try:
            nl.set_link(link.index, mtu=mtu)
        finally:
            self._write_flag(self.raw_ip_path, True, "raw-IP")  # type: ignore[arg-type]

    async def mux_link(self, mux_id: int, version: str = "qmap") -> str:
        """The interface of QMAP mux ``mux_id`` on this parent, made if needed (and recorded, so that
        ``clear()`` removes it)."""
        if self.mux is None:
            raise NetConfigError("%s cannot carry several PDNs: its driver offers no QMAP links" % self.netdev)
        name = await self.mux.ensure(mux_id, version)
        if self.mux.removable and [mux_id, name] not in self.applied.mux_links:
            self.applied.mux_links.append([mux_id, name])
        return name

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
        """Make addresses, routes, rules, MTU and DNS match the calls that are up on this interface."""
        applied = self.applied
        try:
            with self._netlink() as nl:
                link = self._link(nl)
                if not applied.addresses and not applied.routes:
                    self._remove_leftovers(nl, link.index)
                wanted = {(str(b.settings.address.ip), b.settings.address.network.prefixlen): b for b in bearers}
                routes = self._wanted_routes(bearers)
                rules = self._wanted_rules(bearers)
                for entry in [r for r in applied.rules if r not in rules]:
                    _tolerate_gone(nl.delete_rule, _rule(entry))
                    applied.rules.remove(entry)
                for entry in [r for r in applied.routes if _key(r) not in routes]:
                    _tolerate_gone(nl.delete_route, _route(link.index, entry))
                    applied.routes.remove(entry)
                for address, prefixlen in [a for a in applied.addresses if tuple(a) not in wanted]:
                    _tolerate_gone(nl.delete_address, link.index, ipaddress.ip_address(address), prefixlen)
                    applied.addresses.remove([address, prefixlen])
                self._mtu_and_link(nl, link, bearers)
                for (address, prefixlen), bearer in wanted.items():
                    if [address, prefixlen] not in applied.addresses:
                        self._add_address(nl, link.index, bearer)
                have = {_key(r) for r in applied.routes}
                for key, entry in routes.items():
                    if key not in have:
                        self._add_route(nl, link.index, entry)
                for entry in rules:
                    if entry not in applied.rules:
                        nl.add_rule(_rule(entry))
                        applied.rules.append(entry)
        except NetlinkError as exc:
            raise NetConfigError("configuring %s failed: %s" % (self.netdev, exc.text or exc.strerror)) from None
        self._sync_dns([str(s) for b in sorted(bearers, key=lambda b: b.family) for s in b.settings.dns])
        return applied

    def _wanted_routes(self, bearers: Sequence[Bearer]) -> Dict[Tuple[Any, ...], Dict[str, Any]]:
        """The routes the calls up on this link want, by ``_key`` (metrics are chosen when added)."""
        options = self.options
        wanted: Dict[Tuple[Any, ...], Dict[str, Any]] = {}
        for bearer in bearers:
            gateway = _next_hop(bearer)
            hop = str(gateway) if gateway else None
            entries = []
            if options.default_route:
                entries.append({"family": bearer.family, "gateway": hop})
            if options.table is not None:
                entries.append({"family": bearer.family, "gateway": hop, "table": options.table})
            for network in options.routes:
                if ipaddress.ip_network(network).version == bearer.family:
                    entries.append({"family": bearer.family, "gateway": hop,
                                    "dst": str(ipaddress.ip_network(network))})
            for entry in entries:
                wanted[_key(entry)] = entry
        return wanted

    def _wanted_rules(self, bearers: Sequence[Bearer]) -> List[Dict[str, Any]]:
        if self.options.table is None:
            return []
        return [{"family": b.family, "source": str(b.settings.address.ip), "table": self.options.table,
                 "priority": RULE_PRIORITY} for b in bearers]

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
            applied.dns = apply_dns(self.netdev, servers, self.options.dns, self.options.resolv_conf,
                                    default=self.options.dns_default)
            self.dns_problem = ""
            self.dns_note = "" if applied.dns is not None or not servers or self.options.dns == "none" else \
                "%s recorded for %s, not written to %s (only the default PDN's servers go there)" % (
                    ", ".join(servers), self.netdev, self.options.resolv_conf)
        except (NetConfigError, PermissionProblem) as exc:
            self.dns_problem = str(exc)

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

    def _add_route(self, nl: Netlink, index: int, entry: Dict[str, Any]) -> None:
        entry = dict(entry)
        main_default = not entry.get("table") and not entry.get("dst")
        entry["metric"] = self._metric(nl, _family(entry["family"]), index) if main_default else \
            self.options.metric if self.options.metric is not None else DEFAULT_METRIC
        nl.add_route(_route(index, entry), replace=bool(entry.get("table")))
        self.applied.routes.append(entry)

    def _remove_leftovers(self, nl: Netlink, index: int) -> None:
        """Default routes (and this link's table and rules) an earlier qcm left (killed, or the modem reset)."""
        for route in nl.routes():
            if route.oif == index and route.protocol == rtnl.RTPROT_QCM:
                _tolerate_gone(nl.delete_route, route)
        if self.options.table is not None:
            for rule in nl.rules():
                if rule.table == self.options.table and rule.protocol == rtnl.RTPROT_QCM:
                    _tolerate_gone(nl.delete_rule, rule)

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
                for entry in applied.rules:  # rules outlive their link: remove them whatever happened to it
                    _tolerate_gone(nl.delete_rule, _rule(entry), problems=problems)
                link = nl.link(applied.netdev)
                if link is None:
                    return problems  # the interface vanished, and with it our addresses and routes
                for entry in applied.routes:
                    _tolerate_gone(nl.delete_route, _route(link.index, entry), problems=problems)
                for address, prefixlen in applied.addresses:
                    _tolerate_gone(nl.delete_address, link.index, ipaddress.ip_address(address), prefixlen,
                                   problems=problems)
                others = self._remove_mux_links(applied, problems)
                if others:
                    return problems  # other PDNs of the module (other processes) still use the parent
                if applied.mtu_before:
                    try:
                        if applied.mux_links and self.raw_ip() is True:
                            self._set_mtu_through_802_3(nl, link, applied.mtu_before)
                        else:
                            nl.set_link(link.index, None, applied.mtu_before)
                    except (NetlinkError, NetConfigError) as exc:
                        problems.append("restoring the MTU of %s: %s" % (applied.netdev, exc))
                _tolerate_gone(nl.set_link, link.index, False, problems=problems)
        except OSError as exc:
            problems.append("netlink: %s" % exc)
        return problems

    def _remove_mux_links(self, applied: Applied, problems: List[str]) -> Dict[int, str]:
        """Remove the mux links made here; the links left (other processes') are returned."""
        if self.mux is None:
            return {}
        for mux_id, name in applied.mux_links:
            try:
                self.mux.remove(mux_id)
            except (NetConfigError, PermissionProblem) as exc:
                problems.append(str(exc))
        if not self.mux.removable:
            return {0: "the driver's own links"}  # qmi_wwan_q's links: whoever uses them, the parent stays up
        try:
            return self.mux.links()
        except OSError:
            return {}


def _flag(path: Path) -> bool:
    try:
        return path.read_text().strip().upper().startswith("Y")
    except OSError:
        return False


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
