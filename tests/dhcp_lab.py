"""A DHCP client and the simulated module's DHCP server on a make-believe link, with the time and
packet loss in the test's hands (no sockets, no clock): what the state-machine tests run on."""

from __future__ import annotations

import ipaddress
import random
from typing import Callable, List, Optional

from qcm.dhcp.client import DhcpClient, DhcpConfig, Event
from qcm.dhcp.message import decode
from qcm.sim.dhcp_server import DhcpServer, Offer

MAC = bytes.fromhex("020000000001")
LAN = ipaddress.ip_network("192.0.2.0/24")


def offer(address: str = "192.0.2.100") -> Offer:
    return Offer(ipaddress.ip_address(address), LAN, LAN[1], (LAN[1],), LAN[1])  # type: ignore[arg-type]


class Link:
    """Runs the client until a given time, delivering (or dropping) each packet both ways."""

    def __init__(self, lease_time: int = 600, config: Optional[DhcpConfig] = None, seed: int = 1) -> None:
        self.client = DhcpClient(MAC, config or DhcpConfig(), random.Random(seed))
        self.server = DhcpServer(lease_time)
        self.now = 0.0
        self.offer: Optional[Offer] = offer()
        self.events: List[Event] = []
        self.sent: List[str] = []                      # kinds the client sent, in order ("DISCOVER" ...)
        self.destinations: List[str] = []              # and where to
        self.lose_up: Callable[[str, float], bool] = lambda kind, now: False    # drop a client packet?
        self.lose_down: Callable[[str, float], bool] = lambda kind, now: False  # drop a server answer?
        self.nak: Callable[[float], bool] = lambda now: False                    # the server says no

    def _exchange(self) -> None:
        for _ in range(100):  # an answer may make the client send again at once (OFFER -> REQUEST)
            outgoing = self.client.datagrams_to_send()
            if not outgoing:
                break
            self._deliver(outgoing)
        self.events += self.client.events()

    def _deliver(self, outgoing: list) -> None:
        for out in outgoing:
            message = decode(out.payload)
            assert message is not None
            self.sent.append(message.kind_name)
            self.destinations.append(str(out.destination))
            if self.lose_up(message.kind_name, self.now):
                continue
            current = self.offer
            if self.nak(self.now) and current is not None and message.kind_name == "REQUEST":
                current = offer("192.0.2.222")  # the server would now give another address: NAK
            reply = self.server.answer(out.payload, current, self.now)
            if reply is None:
                continue
            answer = decode(reply.payload)
            assert answer is not None
            if self.lose_down(answer.kind_name, self.now):
                continue
            self.client.receive(reply.payload, self.now, current.server if current else None)

    def start(self) -> None:
        self.client.start(self.now)
        self._exchange()

    def run_until(self, until: float, max_steps: int = 10000) -> None:
        same_time = 0
        for _ in range(max_steps):
            self._exchange()
            timer = self.client.get_timer()
            if timer is None or timer > until:
                self.now = until
                return
            same_time = same_time + 1 if timer <= self.now else 0
            if same_time > 50:
                raise AssertionError("the client's timer does not move on (a busy loop) at %s" % self.now)
            self.now = max(self.now, timer)
            self.client.handle_timer(self.now)
        raise AssertionError("the client never stops asking (a busy loop?)")

    def of(self, kind: type) -> List[Event]:
        return [e for e in self.events if isinstance(e, kind)]
