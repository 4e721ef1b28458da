"""The rtnetlink socket: sends the requests ``qcm.netlink.rtnl`` builds, returns parsed answers.

Calls are synchronous: the kernel answers a route or address change in microseconds, so a
blocking socket (with a timeout, for safety) is simpler than an event-loop dance.
"""

from __future__ import annotations

import itertools
import socket
from typing import List, Optional

from ..netlink import rtnl
from ..netlink.rtnl import Address, Link, NetlinkError, Route, Rule

__all__ = ["Netlink", "NetlinkError"]

SOL_NETLINK = 270
NETLINK_EXT_ACK = 11


class Netlink:
    def __init__(self, timeout: float = 5.0) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
        self.sock.settimeout(timeout)
        self.sock.bind((0, 0))
        try:
            self.sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)  # error messages in plain words
        except OSError:
            pass
        self._seq = itertools.count(1)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Netlink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _exchange(self, build) -> List[rtnl.Message]:  # type: ignore[no-untyped-def]
        seq = next(self._seq)
        self.sock.send(build(seq))
        answers: List[rtnl.Message] = []
        while True:
            data = self.sock.recv(65536)
            for message in rtnl.parse_messages(data):
                if message.seq != seq:
                    continue
                if message.type in (rtnl.NLMSG_DONE, rtnl.NLMSG_ERROR):
                    return answers
                answers.append(message)

    # ------------------------------------------------------------ links

    def links(self) -> List[Link]:
        return [rtnl.parse_link(m) for m in self._exchange(lambda s: rtnl.dump_request(s, rtnl.RTM_GETLINK))
                if m.type == rtnl.RTM_NEWLINK]

    def link(self, name: str) -> Optional[Link]:
        return next((link for link in self.links() if link.name == name), None)

    def set_link(self, index: int, up: Optional[bool] = None, mtu: Optional[int] = None) -> None:
        self._exchange(lambda s: rtnl.link_request(s, index, up, mtu))

    def add_rmnet(self, parent: int, name: str, mux_id: int, flags: Optional[int] = None) -> None:
        self._exchange(lambda s: rtnl.rmnet_link_request(s, parent, name, mux_id, flags))

    def delete_link(self, index: int) -> None:
        self._exchange(lambda s: rtnl.delete_link_request(s, index))

    # ------------------------------------------------------------ addresses

    def addresses(self, index: Optional[int] = None) -> List[Address]:
        found = [rtnl.parse_address(m) for m in self._exchange(lambda s: rtnl.dump_request(s, rtnl.RTM_GETADDR))
                 if m.type == rtnl.RTM_NEWADDR]
        return [a for a in found if index is None or a.index == index]

    def add_address(self, index: int, address: rtnl.IPAddress, prefixlen: int, flags: int = 0) -> None:
        self._exchange(lambda s: rtnl.addr_request(s, rtnl.RTM_NEWADDR, index, address, prefixlen, flags))

    def delete_address(self, index: int, address: rtnl.IPAddress, prefixlen: int) -> None:
        self._exchange(lambda s: rtnl.addr_request(s, rtnl.RTM_DELADDR, index, address, prefixlen))

    # ------------------------------------------------------------ routes

    def routes(self, family: int = socket.AF_UNSPEC) -> List[Route]:
        return [rtnl.parse_route(m) for m in self._exchange(lambda s: rtnl.dump_request(s, rtnl.RTM_GETROUTE, family))
                if m.type == rtnl.RTM_NEWROUTE]

    def add_route(self, route: Route, replace: bool = False) -> None:
        self._exchange(lambda s: rtnl.route_request(s, rtnl.RTM_NEWROUTE, route, replace))

    def delete_route(self, route: Route) -> None:
        self._exchange(lambda s: rtnl.route_request(s, rtnl.RTM_DELROUTE, route))

    # ------------------------------------------------------------ policy rules

    def rules(self, family: int = socket.AF_UNSPEC) -> List[Rule]:
        return [rtnl.parse_rule(m) for m in self._exchange(lambda s: rtnl.dump_request(s, rtnl.RTM_GETRULE, family))
                if m.type == rtnl.RTM_NEWRULE]

    def add_rule(self, rule: Rule) -> None:
        self._exchange(lambda s: rtnl.rule_request(s, rtnl.RTM_NEWRULE, rule))

    def delete_rule(self, rule: Rule) -> None:
        self._exchange(lambda s: rtnl.rule_request(s, rtnl.RTM_DELRULE, rule))
