"""Our DHCPv4 client, sans I/O: RFC 2131's states and timers, given bytes and the time.

``DhcpClient`` never reads a clock and never touches a socket (the shape of aioquic): the caller
feeds it the payloads of UDP datagrams to port 68 (``receive``) and the time (``handle_timer``
when ``get_timer()`` is due), and takes out what to send (``datagrams_to_send``) and what happened
(``events``: a lease obtained, renewed or changed, a lease lost). The states::

    INIT --discover--> SELECTING --offer/request--> REQUESTING --ack--> BOUND
    BOUND --T1--> RENEWING (unicast to the server) --T2--> REBINDING (broadcast) --expiry--> INIT
    RENEWING, REBINDING --ack--> BOUND;   REQUESTING, RENEWING, REBINDING --nak--> INIT

Retransmissions follow RFC 2131 4.1: 4 s, doubled up to 64 s, each randomised by +-1 s (the
random source is given, so tests are repeatable). In RENEWING and REBINDING the client waits
half the time left until T2 (or expiry), down to a floor (60 s in the RFC), before asking again.
A lease starts when the request that won it was first sent, so its timers never run late.
"""

from __future__ import annotations

import enum
import ipaddress
import random
import struct
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

from ..model import IpSettings
from .message import (ACK, ANY, BROADCAST, DISCOVER, NAK, OFFER, OPT, RELEASE, REQUEST, BOOTREPLY, BOOTREQUEST,
                      DhcpMessage, decode)

__all__ = ["DhcpClient", "DhcpConfig", "Lease", "State", "Transmit", "LeaseObtained", "LeaseRenewed", "LeaseLost",
           "Transition", "Event", "INFINITE"]

INFINITE = 0xFFFFFFFF          # a lease time that never ends
DEFAULT_LEASE = 3600           # if an ACK forgets the lease time (RFC 2131 says it must not)


class State(enum.Enum):
    INIT = "init"
    SELECTING = "selecting"
    REQUESTING = "requesting"
    BOUND = "bound"
    RENEWING = "renewing"
    REBINDING = "rebinding"
    STOPPED = "stopped"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class DhcpConfig:
    first_timeout: float = 4.0       # RFC 2131 4.1: the first retransmission after 4 s ...
    max_timeout: float = 64.0        # ... doubling up to 64 s ...
    jitter: float = 1.0              # ... each randomised by +-1 s
    request_tries: int = 4           # REQUESTs without an answer before starting over from DISCOVER
    renew_floor: float = 60.0        # RFC 2131 4.4.5: never ask again sooner than this while renewing
    nak_pause: float = 1.0           # after a NAK, before discovering again (a NAK storm must not spin)
    hostname: str = ""
    parameters: bytes = bytes([OPT.SUBNET_MASK, OPT.ROUTER, OPT.DNS, OPT.MTU, OPT.LEASE_TIME, OPT.SERVER_ID,
                               OPT.RENEWAL_TIME, OPT.REBINDING_TIME])


@dataclass(frozen=True)
class Lease:
    address: ipaddress.IPv4Interface
    server: ipaddress.IPv4Address
    routers: Tuple[ipaddress.IPv4Address, ...] = ()
    dns: Tuple[ipaddress.IPv4Address, ...] = ()
    mtu: Optional[int] = None
    lease_time: int = DEFAULT_LEASE  # seconds; INFINITE: never ends
    obtained: float = 0.0            # when the request that won it was first sent
    renew_at: Optional[float] = None  # T1, T2 and expiry as absolute times (None: never)
    rebind_at: Optional[float] = None
    expires_at: Optional[float] = None

    def settings(self) -> IpSettings:
        return IpSettings(4, self.address, self.routers[0] if self.routers else None, self.dns, self.mtu)

    def same_configuration(self, other: "Lease") -> bool:
        """Whether the host needs no change going from ``other`` to this lease."""
        return self.settings() == other.settings()


@dataclass(frozen=True)
class Transmit:
    """A DHCP payload to send from port 68 to port 67."""

    payload: bytes
    source: ipaddress.IPv4Address        # 0.0.0.0 until the client holds an address
    destination: ipaddress.IPv4Address   # 255.255.255.255, or the server when renewing
    kind: int


@dataclass(frozen=True)
class LeaseObtained:
    lease: Lease


@dataclass(frozen=True)
class LeaseRenewed:
    lease: Lease
    changed: bool                        # the host must follow (another address, router, DNS or MTU)


@dataclass(frozen=True)
class LeaseLost:
    lease: Lease
    reason: str


@dataclass(frozen=True)
class Transition:
    old: State
    new: State
    why: str


Event = Union[LeaseObtained, LeaseRenewed, LeaseLost, Transition]


@dataclass
class _Exchange:
    """One request and its retransmissions."""

    xid: int
    started: float                       # first transmission (lease times count from here)
    timeout: float                       # the current retransmission interval
    tries: int = 0
    offered: Optional[DhcpMessage] = field(default=None, repr=False)


class DhcpClient:
    def __init__(self, mac: bytes, config: DhcpConfig = DhcpConfig(), rng: Optional[random.Random] = None) -> None:
        self.mac = bytes(mac)
        self.config = config
        self.rng = rng or random.Random()
        self.state = State.STOPPED
        self.lease: Optional[Lease] = None
        self._exchange: Optional[_Exchange] = None
        self._timer: Optional[float] = None
        self._out: List[Transmit] = []
        self._events: List[Event] = []

    # ================================================================ what the caller drives

    def start(self, now: float) -> None:
        """Ask for a lease (again): from INIT, with a fresh DISCOVER."""
        self.lease = None
        self._discover(now, "started")

    def stop(self) -> None:
        """Forget everything and send nothing more (the lease, if any, just runs out)."""
        self._go(State.STOPPED, "stopped")
        self._timer, self._exchange, self.lease = None, None, None

    def release(self, now: float) -> None:
        """Give the lease back (RFC 2131 4.4.6) and stop."""
        lease = self.lease
        if lease is not None and self.state in (State.BOUND, State.RENEWING, State.REBINDING):
            message = self._message(RELEASE, self._new_xid(), now, now, ciaddr=lease.address.ip,
                                    options={OPT.SERVER_ID: lease.server.packed})
            self._out.append(Transmit(message.encode(), lease.address.ip, lease.server, RELEASE))
        self.stop()

    def renew(self, now: float) -> None:
        """Renew now rather than at T1 (what SIGUSR1 asks of udhcpc)."""
        if self.state == State.BOUND:
            self._renewing(now)

    def get_timer(self) -> Optional[float]:
        return self._timer

    def datagrams_to_send(self) -> List[Transmit]:
        out, self._out = self._out, []
        return out

    def events(self) -> List[Event]:
        out, self._events = self._events, []
        return out

    # ================================================================ input

    def receive(self, payload: bytes, now: float, source: Optional[ipaddress.IPv4Address] = None) -> None:
        """A datagram that arrived on port 68 (anything: replies for others and garbage are ignored)."""
        message = decode(payload)
        exchange = self._exchange
        if message is None or message.op != BOOTREPLY or exchange is None or message.xid != exchange.xid \
                or message.chaddr != self.mac:
            return
        server = message.address(OPT.SERVER_ID) or source
        if self.state == State.SELECTING and message.kind == OFFER:
            self._on_offer(message, server, now)
        elif self.state in (State.REQUESTING, State.RENEWING, State.REBINDING):
            if message.kind == ACK:
                self._on_ack(message, server, now)
            elif message.kind == NAK:
                self._on_nak(message, server, now)

    def handle_timer(self, now: float) -> None:
        if self._timer is None or now < self._timer:
            return
        state = self.state
        if state == State.INIT:
            self._discover(now, "starting over")
        elif state == State.SELECTING:
            self._retransmit(now)
        elif state == State.REQUESTING:
            assert self._exchange is not None
            if self._exchange.tries >= self.config.request_tries:
                self._discover(now, "no answer to %d requests" % self._exchange.tries)
            else:
                self._retransmit(now)
        elif state == State.BOUND:
            self._renewing(now)
        elif state == State.RENEWING:
            assert self.lease is not None
            if self.lease.rebind_at is not None and now >= self.lease.rebind_at:
                self._rebinding(now)
            else:
                self._send_renewal(now)
        elif state == State.REBINDING:
            assert self.lease is not None
            if self.lease.expires_at is not None and now >= self.lease.expires_at:
                self._lost(now, "the lease of %s expired without a renewal" % self.lease.address.ip)
            else:
                self._send_renewal(now)

    # ================================================================ the exchanges

    def _discover(self, now: float, why: str) -> None:
        self._go(State.SELECTING, why)
        self._exchange = _Exchange(self._new_xid(), now, self.config.first_timeout)
        self._send_discover(now)

    def _send_discover(self, now: float) -> None:
        exchange = self._exchange
        assert exchange is not None
        message = self._message(DISCOVER, exchange.xid, exchange.started, now)
        self._transmit(message, ANY, BROADCAST, now)

    def _on_offer(self, offer: DhcpMessage, server: Optional[ipaddress.IPv4Address], now: float) -> None:
        if server is None or not _usable(offer.yiaddr):
            return
        exchange = self._exchange
        assert exchange is not None
        # The first good offer wins (RFC 2131 allows waiting for more; a module's LAN has one server).
        exchange.offered = offer
        exchange.tries = 0
        exchange.timeout = self.config.first_timeout
        exchange.started = now
        self._go(State.REQUESTING, "offered %s by %s" % (offer.yiaddr, server))
        self._send_request(now)

    def _send_request(self, now: float) -> None:
        exchange = self._exchange
        assert exchange is not None and exchange.offered is not None
        offer = exchange.offered
        server = offer.address(OPT.SERVER_ID)
        options = {OPT.REQUESTED_ADDRESS: offer.yiaddr.packed}
        if server is not None:
            options[OPT.SERVER_ID] = server.packed
        self._transmit(self._message(REQUEST, exchange.xid, exchange.started, now, options=options), ANY, BROADCAST,
                       now)

    def _renewing(self, now: float) -> None:
        self._go(State.RENEWING, "T1 reached" if self._timer is not None and now >= self._timer else "asked to renew")
        self._exchange = _Exchange(self._new_xid(), now, 0.0)
        self._send_renewal(now)

    def _rebinding(self, now: float) -> None:
        self._go(State.REBINDING, "T2 reached without an answer from %s" % (self.lease.server if self.lease else "?"))
        assert self._exchange is not None
        self._send_renewal(now)

    def _send_renewal(self, now: float) -> None:
        """RENEWING: unicast to the server that gave the lease; REBINDING: broadcast to any server."""
        lease, exchange = self.lease, self._exchange
        assert lease is not None and exchange is not None
        message = self._message(REQUEST, exchange.xid, exchange.started, now, ciaddr=lease.address.ip)
        rebinding = self.state == State.REBINDING
        self._out.append(Transmit(message.encode(), lease.address.ip, BROADCAST if rebinding else lease.server,
                                  REQUEST))
        exchange.tries += 1
        limit = lease.expires_at if rebinding else lease.rebind_at
        if limit is None:  # an infinite lease never needs renewing, but a forced renewal may go unanswered
            self._timer = now + max(self.config.renew_floor, self.config.first_timeout)
            return
        wait = max(self.config.renew_floor, (limit - now) / 2.0)
        self._timer = min(now + wait, limit)

    def _retransmit(self, now: float) -> None:
        exchange = self._exchange
        assert exchange is not None
        exchange.timeout = min(exchange.timeout * 2, self.config.max_timeout)
        if self.state == State.SELECTING:
            self._send_discover(now)
        else:
            self._send_request(now)

    def _transmit(self, message: DhcpMessage, source: ipaddress.IPv4Address, destination: ipaddress.IPv4Address,
                  now: float) -> None:
        exchange = self._exchange
        assert exchange is not None
        self._out.append(Transmit(message.encode(), source, destination, message.kind))
        exchange.tries += 1
        jitter = self.rng.uniform(-self.config.jitter, self.config.jitter)
        self._timer = now + max(0.1, exchange.timeout + jitter)

    # ================================================================ answers

    def _on_ack(self, ack: DhcpMessage, server: Optional[ipaddress.IPv4Address], now: float) -> None:
        exchange = self._exchange
        assert exchange is not None
        if not _usable(ack.yiaddr) or server is None:
            return
        if self.state == State.REQUESTING:
            assert exchange.offered is not None
            if ack.yiaddr != exchange.offered.yiaddr:
                return  # an answer to some other request
        lease = _lease(ack, server, exchange.started)
        previous, self.lease = self.lease, lease
        state = self.state
        self._exchange = None
        self._go(State.BOUND, "%s leased %s for %s" % (server, lease.address, _duration(lease.lease_time)))
        self._timer = lease.renew_at
        if state == State.REQUESTING or previous is None:
            self._events.append(LeaseObtained(lease))
        else:
            self._events.append(LeaseRenewed(lease, not lease.same_configuration(previous)))

    def _on_nak(self, nak: DhcpMessage, server: Optional[ipaddress.IPv4Address], now: float) -> None:
        exchange = self._exchange
        assert exchange is not None
        expected = exchange.offered.address(OPT.SERVER_ID) if exchange.offered is not None else \
            (self.lease.server if self.lease is not None else None)
        if server is not None and expected is not None and server != expected and self.state != State.REBINDING:
            return  # another server's NAK: not about our request
        why = "refused by %s (DHCPNAK%s)" % (server or "the server", ": " + nak.text(OPT.MESSAGE)
                                              if nak.text(OPT.MESSAGE) else "")
        if self.lease is not None and self.state in (State.RENEWING, State.REBINDING):
            self._lost(now, "the renewal of %s was %s" % (self.lease.address.ip, why), pause=True)
        else:
            self._restart(now, "the request was %s" % why)

    def _lost(self, now: float, reason: str, pause: bool = False) -> None:
        lease = self.lease
        assert lease is not None
        self.lease = None
        self._events.append(LeaseLost(lease, reason))
        if pause:
            self._restart(now, reason)
        else:
            self._discover(now, reason)

    def _restart(self, now: float, why: str) -> None:
        """INIT, then DISCOVER after a short randomised pause."""
        self._go(State.INIT, why)
        self._exchange = None
        self._timer = now + self.config.nak_pause * self.rng.uniform(0.5, 1.5)

    # ================================================================ helpers

    def _go(self, state: State, why: str) -> None:
        if state != self.state:
            self._events.append(Transition(self.state, state, why))
            self.state = state

    def _new_xid(self) -> int:
        return self.rng.getrandbits(32)

    def _message(self, kind: int, xid: int, started: float, now: float, ciaddr: ipaddress.IPv4Address = ANY,
                 options: Optional[dict] = None) -> DhcpMessage:
        values = {OPT.MESSAGE_TYPE: bytes([kind]), OPT.CLIENT_ID: b"\x01" + self.mac}
        if kind in (DISCOVER, REQUEST):
            values[OPT.PARAMETERS] = self.config.parameters
            values[OPT.MAX_SIZE] = struct.pack("!H", 1500)
            if self.config.hostname:
                values[OPT.HOSTNAME] = self.config.hostname.encode("ascii", "replace")[:63]
        values.update(options or {})
        secs = min(0xFFFF, int(max(0.0, now - started)))
        return DhcpMessage(BOOTREQUEST, xid, self.mac, values, ciaddr=ciaddr, secs=secs)


def _usable(address: ipaddress.IPv4Address) -> bool:
    return not (address.is_unspecified or address.is_multicast or address.is_loopback or address == BROADCAST
                or address.is_reserved)


def _lease(ack: DhcpMessage, server: ipaddress.IPv4Address, started: float) -> Lease:
    mask = ack.address(OPT.SUBNET_MASK)
    try:
        interface = ipaddress.IPv4Interface("%s/%s" % (ack.yiaddr, mask if mask is not None else "32"))
    except ValueError:  # a mask that is not one (255.0.255.0): the address alone
        interface = ipaddress.IPv4Interface("%s/32" % ack.yiaddr)
    seconds = ack.seconds(OPT.LEASE_TIME)
    seconds = DEFAULT_LEASE if seconds is None or seconds == 0 else seconds
    mtu = ack.number16(OPT.MTU)
    routers = tuple(r for r in ack.addresses(OPT.ROUTER) if _usable(r))
    dns = tuple(d for d in ack.addresses(OPT.DNS) if _usable(d))
    if seconds == INFINITE:
        return Lease(interface, server, routers, dns, mtu if mtu and mtu >= 68 else None, seconds, started)
    t1: Optional[float] = ack.seconds(OPT.RENEWAL_TIME)
    t2: Optional[float] = ack.seconds(OPT.REBINDING_TIME)
    if t2 is None or not 0 < t2 < seconds:
        t2 = seconds * 0.875
    if t1 is None or not 0 < t1 < t2:
        t1 = seconds * 0.5
    return Lease(interface, server, routers, dns, mtu if mtu and mtu >= 68 else None, seconds, started,
                 started + t1, started + t2, started + seconds)


def _duration(seconds: int) -> str:
    return "ever" if seconds == INFINITE else "%d s" % seconds
