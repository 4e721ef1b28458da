"""Addresses from the link itself, kept up in the background: DHCPv4 and router advertisements
on one interface, on asyncio (the protocols are ``qcm.dhcp``'s, the sockets ``dhcp_socket``'s).

A backend asks ``DynamicIp`` for a family's ``IpSettings`` once the call is up and hands them to
the service like any other; renewals then run here, unattended. What the backend must hear
about comes back through two callbacks: ``changed(family)`` when the host must follow (another
address, router, DNS server or MTU: the service re-reads ``current()``), ``lost(family, why)``
when the lease or the prefix is gone (the bearer is as good as dropped).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Dict, Optional

from ..connect import events as ev
from ..dhcp.client import INFINITE, DhcpClient, DhcpConfig, Lease, LeaseLost, LeaseObtained, LeaseRenewed, Transition
from ..dhcp.frames import dhcp_packet, multicast_mac, parse_dhcp
from ..dhcp.ra import ALL_ROUTERS, PrefixChanged, PrefixLost, PrefixObtained, RouterDiscovery
from ..errors import NetConfigError, PermissionProblem, Recovery
from ..io.netlink import Netlink, NetlinkError
from ..model import IpSettings
from .dhcp_socket import DHCP, ROUTER_ADVERTS, LinkSocket, RaSwitch

__all__ = ["DynamicIp"]

log = logging.getLogger(__name__)


class DynamicIp:
    def __init__(self, netdev: str, report: ev.Reporter, changed: Callable[[int], None],
                 lost: Callable[[int, str], None], config: DhcpConfig = DhcpConfig()) -> None:
        self.netdev = netdev
        self.report = report
        self.changed = changed
        self.lost = lost
        self.config = config
        self.dhcp: Optional[DhcpClient] = None
        self.routers: Optional[RouterDiscovery] = None
        self._sockets: Dict[int, LinkSocket] = {}
        self._timers: Dict[int, asyncio.TimerHandle] = {}
        self._waiters: Dict[int, "asyncio.Future[IpSettings]"] = {}
        self._server_mac: Optional[bytes] = None
        self._ra_switch = RaSwitch(netdev)
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    # ================================================================ what backends call

    def expect(self, family: int) -> None:
        """Before the call comes up: a module announces its prefix as soon as the IPv6 call is up,
        and the kernel must not act on that advertisement (qcm does)."""
        if family == 6:
            self._ra_switch.off()

    async def acquire(self, family: int, timeout: float) -> IpSettings:
        """The family's settings: the current ones, or the first lease / advertisement (within ``timeout``)."""
        current = self.current(family)
        if current is not None:
            return current
        self._loop = asyncio.get_running_loop()
        waiter = self._waiters.get(family)
        if waiter is None or waiter.done():
            waiter = self._loop.create_future()
            self._waiters[family] = waiter
        if family not in self._sockets:
            self._start(family)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except asyncio.TimeoutError:
            what = "DHCP lease" if family == 4 else "router advertisement"
            raise NetConfigError("no %s on %s within %.0f s" % (what, self.netdev, timeout),
                                 "the module's router does not answer: check that the call is up and that host "
                                 "and module agree on the framing (qcm doctor)", Recovery.RESET) from None

    def current(self, family: int) -> Optional[IpSettings]:
        if family == 4:
            lease = self.dhcp.lease if self.dhcp is not None else None
            return lease.settings() if lease is not None else None
        return self.routers.settings if self.routers is not None else None

    @property
    def accept_ra_before(self) -> Optional[str]:
        """What the kernel's ``accept_ra`` was before qcm switched it off (None: not switched)."""
        return self._ra_switch.before

    def stop(self, family: int, release: bool = True, restore: bool = True) -> None:
        """Stop keeping this family (giving a DHCP lease back when ``release``; ``restore``: the
        kernel may act on advertisements again; not while a connection qcm handed over stays)."""
        timer = self._timers.pop(family, None)
        if timer is not None:
            timer.cancel()
        waiter = self._waiters.pop(family, None)
        if waiter is not None and not waiter.done():
            waiter.cancel()
        if family == 4 and self.dhcp is not None:
            if release:
                self.dhcp.release(time.monotonic())
                self._flush(4)
            self.dhcp = None
        if family == 6 and self.routers is not None:
            self.routers.stop()
            self.routers = None
        if family == 6 and restore:
            self._ra_switch.restore()
        sock = self._sockets.pop(family, None)
        if sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()

    def close(self, release: bool = True, restore: bool = True) -> None:
        for family in (4, 6):
            self.stop(family, release, restore)

    # ================================================================ running the protocols

    def _start(self, family: int) -> None:
        assert self._loop is not None
        self._link_up()
        try:
            sock = LinkSocket(self.netdev, DHCP if family == 4 else ROUTER_ADVERTS)
        except PermissionError:
            raise PermissionProblem("listening for DHCP on %s needs root (CAP_NET_RAW)" % self.netdev,
                                    "run qcm with sudo") from None
        except OSError as exc:
            raise NetConfigError("cannot listen on %s: %s" % (self.netdev, exc.strerror or exc),
                                 "the interface may have vanished with the module", Recovery.RESET) from None
        self._sockets[family] = sock
        self._loop.add_reader(sock.fileno(), self._readable, family)
        now = time.monotonic()
        if family == 4:
            self.dhcp = DhcpClient(sock.mac, self.config)
            self.dhcp.start(now)
        else:
            self._ra_switch.off()
            self.routers = RouterDiscovery(sock.mac)
            self.routers.start(now)
        self._after(family)

    def _link_up(self) -> None:
        """The interface must be up before anything can be sent on it (the host code keeps it so)."""
        try:
            with Netlink() as nl:
                link = nl.link(self.netdev)
                if link is None:
                    raise NetConfigError("network interface %s does not exist" % self.netdev,
                                         "the module may have reset or been unplugged", Recovery.RESET)
                if not link.up:
                    nl.set_link(link.index, up=True)
        except PermissionError:
            raise PermissionProblem("configuring network interfaces needs root (CAP_NET_ADMIN)",
                                    "run qcm with sudo") from None
        except NetlinkError as exc:
            raise NetConfigError("cannot bring %s up: %s" % (self.netdev, exc.text or exc.strerror)) from None

    def _readable(self, family: int) -> None:
        sock = self._sockets.get(family)
        if sock is None:
            return
        try:
            packets = sock.receive()
        except OSError as exc:  # the interface went away: the backend hears of it from its own port
            log.warning("%s: %s", self.netdev, exc.strerror or exc)
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())  # a dead socket must not wake the loop again
            return
        now = time.monotonic()
        for packet, mac in packets:
            if family == 4 and self.dhcp is not None:
                received = parse_dhcp(packet)
                if received is None:
                    continue
                if mac is not None:
                    self._server_mac = mac
                self.dhcp.receive(received.payload, now, received.source)  # type: ignore[arg-type]
            elif family == 6 and self.routers is not None:
                self.routers.receive(packet, now)
        self._after(family)

    def _on_timer(self, family: int) -> None:
        self._timers.pop(family, None)
        now = time.monotonic()
        if family == 4 and self.dhcp is not None:
            self.dhcp.handle_timer(now)
        elif family == 6 and self.routers is not None:
            self.routers.handle_timer(now)
        self._after(family)

    def _after(self, family: int) -> None:
        """Send what the protocol wants sent, act on what happened, and re-arm its timer."""
        self._flush(family)
        if family == 4 and self.dhcp is not None:
            for event in self.dhcp.events():
                self._on_dhcp(event)
        elif family == 6 and self.routers is not None:
            for change in self.routers.events():
                self._on_advert(change)
        self._arm(family)

    def _flush(self, family: int) -> None:
        sock = self._sockets.get(family)
        if sock is None:
            return
        try:
            if family == 4 and self.dhcp is not None:
                for out in self.dhcp.datagrams_to_send():
                    unicast = out.destination.packed != b"\xff\xff\xff\xff"
                    sock.send(dhcp_packet(out.payload, out.source, out.destination),
                              self._server_mac if unicast else None)
            elif family == 6 and self.routers is not None:
                for packet in self.routers.packets_to_send():
                    sock.send(packet, multicast_mac(ALL_ROUTERS))
        except OSError as exc:  # a link going down under us: the retransmission timer tries again
            log.warning("%s: sending failed: %s", self.netdev, exc.strerror or exc)

    def _arm(self, family: int) -> None:
        old = self._timers.pop(family, None)
        if old is not None:
            old.cancel()
        machine = self.dhcp if family == 4 else self.routers
        deadline = machine.get_timer() if machine is not None else None
        if deadline is not None and self._loop is not None:
            delay = max(0.0, deadline - time.monotonic())
            self._timers[family] = self._loop.call_later(delay, self._on_timer, family)

    # ================================================================ what happened

    def _on_dhcp(self, event: object) -> None:
        if isinstance(event, Transition):
            log.debug("%s DHCP: %s -> %s (%s)", self.netdev, event.old, event.new, event.why)
        elif isinstance(event, LeaseObtained):
            lease = event.lease
            self.report(_lease_event(self.netdev, lease, False))
            if not self._resolve(4, lease.settings()):
                self.changed(4)  # a lease again after one was lost: the host must follow
        elif isinstance(event, LeaseRenewed):
            lease = event.lease
            self.report(_lease_event(self.netdev, lease, True))
            if event.changed:
                self.changed(4)
        elif isinstance(event, LeaseLost):
            self.report(ev.Notice("%s: %s" % (self.netdev, event.reason), True))
            self.lost(4, event.reason)

    def _on_advert(self, event: object) -> None:
        if isinstance(event, PrefixObtained):
            self.report(ev.Notice("%s: router advertisement from %s: %s" % (
                self.netdev, event.settings.gateway, event.settings.address.network)))
            if not self._resolve(6, event.settings):
                self.changed(6)
        elif isinstance(event, PrefixChanged):
            self.report(ev.Notice("%s: the router announced another prefix: %s" % (
                self.netdev, event.settings.address.network)))
            self.changed(6)
        elif isinstance(event, PrefixLost):
            self.report(ev.Notice("%s: %s" % (self.netdev, event.reason), True))
            self.lost(6, event.reason)

    def _resolve(self, family: int, settings: IpSettings) -> bool:
        """Wake whoever waits for the first settings; False if nobody did (a later change)."""
        waiter = self._waiters.pop(family, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(settings)
            return True
        return False


def _lease_event(netdev: str, lease: Lease, renewed: bool) -> ev.DhcpLease:
    text = "%s: DHCP lease %s from %s %s (%s)" % (
        netdev, lease.address, lease.server, "renewed" if renewed else "obtained",
        "no end" if lease.lease_time == INFINITE else "%d s" % lease.lease_time)
    return ev.DhcpLease(text, netdev=netdev, address=str(lease.address), server=str(lease.server),
                        lease_time=lease.lease_time, renewed=renewed)
