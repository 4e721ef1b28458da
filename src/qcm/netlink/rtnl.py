"""Just enough rtnetlink to configure a WWAN interface: links, addresses, routes, rules. No I/O.

Messages are built as bytes and parsed from bytes; ``qcm.io.netlink`` owns the socket. Only
what a connection manager needs is here: set a link up/down and its MTU, add/delete/list
addresses (with IFA_F_NODAD for modem-assigned IPv6 addresses), add/delete/list routes (with
a metric, a gateway, the on-link flag, a table and our own protocol tag), add/delete/list
policy rules (a PDN's source address to its own table), create and delete rmnet links (one per
QMAP mux id on a parent link), and read errors including the kernel's extended-ack text. The
rmnet and rule requests are laid out byte for byte as iproute2's ``ip link add ... type rmnet``
and ``ip rule add`` send them (tests compare them).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Dict, Iterator, Optional, Union

__all__ = [
    "Link", "Address", "Route", "NetlinkError", "Message",
    "link_request", "addr_request", "route_request", "dump_request", "parse_messages", "default_route",
    "parse_link", "parse_address", "parse_route", "RTPROT_QCM",
    "RTM_NEWLINK", "RTM_GETLINK", "RTM_NEWADDR", "RTM_DELADDR", "RTM_GETADDR",
    "RTM_NEWROUTE", "RTM_DELROUTE", "RTM_GETROUTE", "NLMSG_ERROR", "NLMSG_DONE",
    "IFF_UP", "IFA_F_NODAD", "IFA_F_TENTATIVE", "RTNH_F_ONLINK", "RT_TABLE_MAIN",
    "Rule", "rule_request", "parse_rule", "rmnet_link_request", "delete_link_request",
    "RTM_NEWRULE", "RTM_DELRULE", "RTM_GETRULE", "RTM_DELLINK",
    "RMNET_INGRESS_DEAGGREGATION", "RMNET_INGRESS_MAP_COMMANDS", "RMNET_INGRESS_MAP_CKSUMV4",
    "RMNET_EGRESS_MAP_CKSUMV4", "RMNET_INGRESS_MAP_CKSUMV5", "RMNET_EGRESS_MAP_CKSUMV5",
]

# Address families, as Linux numbers them (the socket module belongs to the I/O layer).
AF_UNSPEC, AF_INET, AF_INET6 = 0, 2, 10
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWRULE, RTM_DELRULE, RTM_GETRULE = 32, 33, 34

NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLM_F_DUMP = 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400

IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_OPERSTATE, IFLA_LINKINFO = 3, 4, 5, 16, 18
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFLA_RMNET_MUX_ID, IFLA_RMNET_FLAGS = 1, 2
# rmnet's data format flags (include/uapi/linux/if_link.h, RMNET_FLAGS_*)
RMNET_INGRESS_DEAGGREGATION, RMNET_INGRESS_MAP_COMMANDS = 1 << 0, 1 << 1
RMNET_INGRESS_MAP_CKSUMV4, RMNET_EGRESS_MAP_CKSUMV4 = 1 << 2, 1 << 3
RMNET_INGRESS_MAP_CKSUMV5, RMNET_EGRESS_MAP_CKSUMV5 = 1 << 4, 1 << 5
FRA_SRC, FRA_PRIORITY, FRA_TABLE, FRA_PROTOCOL = 2, 6, 15, 21
FR_ACT_TO_TBL = 1
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 6, 7, 15
NLMSGERR_ATTR_MSG = 1

IFF_UP = 0x1
IFA_F_NODAD, IFA_F_TENTATIVE = 0x02, 0x40
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_HOST = 0, 253, 254
RTNH_F_ONLINK = 0x4
RTPROT_QCM = 113  # tags the routes qcm adds, so a later run can find and remove leftovers

_NLMSG = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBi")
_RTMSG = struct.Struct("=BBBBBBBBI")
_FIB_RULE = struct.Struct("=BBBBBBBBI")   # family, dst_len, src_len, tos, table, res1, res2, action, flags
_NLA = struct.Struct("=HH")

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


class NetlinkError(OSError):
    """The kernel refused a request: errno, and its extended-ack explanation when it gave one."""

    def __init__(self, errno_value: int, text: str = "") -> None:
        message = text or ("netlink error %d" % errno_value)
        super().__init__(errno_value, message)
        self.text = text


@dataclass(frozen=True)
class Message:
    type: int
    flags: int
    seq: int
    payload: bytes


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    flags: int
    mtu: int

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)


@dataclass(frozen=True)
class Address:
    index: int
    family: int
    address: IPAddress
    prefixlen: int
    flags: int = 0
    scope: int = 0

    @property
    def interface(self) -> Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]:
        return ipaddress.ip_interface("%s/%d" % (self.address, self.prefixlen))


@dataclass(frozen=True)
class Route:
    family: int
    dst: Optional[IPAddress]
    dst_len: int
    oif: Optional[int] = None
    gateway: Optional[IPAddress] = None
    metric: int = 0
    table: int = RT_TABLE_MAIN
    protocol: int = 0
    scope: int = RT_SCOPE_UNIVERSE
    type: int = RTN_UNICAST
    flags: int = 0
    attrs: Dict[int, bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_default(self) -> bool:
        return self.dst_len == 0


@dataclass(frozen=True)
class Rule:
    """A policy routing rule: traffic from ``source`` looks up ``table``."""

    family: int
    source: Optional[IPAddress]
    source_len: int
    table: int
    priority: int
    protocol: int = 0
    action: int = FR_ACT_TO_TBL


def _nla(kind: int, value: bytes) -> bytes:
    data = _NLA.pack(4 + len(value), kind) + value
    return data + b"\0" * (-len(data) % 4)


def _message(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    return _NLMSG.pack(16 + len(body), kind, flags, seq, 0) + body


def link_request(seq: int, index: int, up: Optional[bool] = None, mtu: Optional[int] = None) -> bytes:
    flags = IFF_UP if up else 0
    change = IFF_UP if up is not None else 0
    body = _IFINFO.pack(AF_UNSPEC, 0, index, flags, change)
    if mtu is not None:
        body += _nla(IFLA_MTU, struct.pack("=I", mtu))
    return _message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, body)


def addr_request(seq: int, kind: int, index: int, address: IPAddress, prefixlen: int, flags: int = 0) -> bytes:
    family = AF_INET if address.version == 4 else AF_INET6
    body = _IFADDR.pack(family, prefixlen, flags & 0xFF, RT_SCOPE_UNIVERSE, index)
    body += _nla(IFA_LOCAL, address.packed) + _nla(IFA_ADDRESS, address.packed)
    if flags > 0xFF or flags & IFA_F_NODAD:
        body += _nla(IFA_FLAGS, struct.pack("=I", flags))
    nl_flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE | NLM_F_REPLACE if kind == RTM_NEWADDR else 0)
    return _message(kind, nl_flags, seq, body)


def route_request(seq: int, kind: int, route: Route, replace: bool = False) -> bytes:
    body = _RTMSG.pack(route.family, route.dst_len, 0, 0, route.table if route.table < 256 else 252,
                       route.protocol, route.scope, route.type, route.flags)
    if route.dst is not None and route.dst_len:
        body += _nla(RTA_DST, route.dst.packed)
    if route.gateway is not None:
        body += _nla(RTA_GATEWAY, route.gateway.packed)
    if route.oif is not None:
        body += _nla(RTA_OIF, struct.pack("=i", route.oif))
    body += _nla(RTA_PRIORITY, struct.pack("=I", route.metric))
    body += _nla(RTA_TABLE, struct.pack("=I", route.table))
    nl_flags = NLM_F_REQUEST | NLM_F_ACK
    if kind == RTM_NEWROUTE:
        nl_flags |= NLM_F_CREATE | (NLM_F_REPLACE if replace else NLM_F_EXCL)
    return _message(kind, nl_flags, seq, body)


def rmnet_link_request(seq: int, parent: int, name: str, mux_id: int, flags: Optional[int] = None,
                       mask: Optional[int] = None) -> bytes:
    """``ip link add link PARENT name NAME type rmnet mux_id N``: a link carrying QMAP mux ``mux_id``
    of the parent (qmi_wwan in pass-through mode, mhi_net). ``flags`` (RMNET_*) set the data format:
    de-aggregation and the QMAPv4/v5 checksum offloads; iproute2 6.1 cannot send them."""
    if not 1 <= mux_id <= 254:
        raise ValueError("mux id %d: rmnet takes 1-254" % mux_id)
    data = _nla(IFLA_RMNET_MUX_ID, struct.pack("=H", mux_id))
    if flags is not None:
        data += _nla(IFLA_RMNET_FLAGS, struct.pack("=II", flags, flags if mask is None else mask))
    info = _nla(IFLA_INFO_KIND, b"rmnet") + _nla(IFLA_INFO_DATA, data)
    body = _IFINFO.pack(AF_UNSPEC, 0, 0, 0, 0)
    body += _nla(IFLA_LINK, struct.pack("=I", parent)) + _nla(IFLA_IFNAME, name.encode() + b"\0")
    body += _nla(IFLA_LINKINFO, info)
    return _message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE, seq, body)


def delete_link_request(seq: int, index: int) -> bytes:
    return _message(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, seq, _IFINFO.pack(AF_UNSPEC, 0, index, 0, 0))


def rule_request(seq: int, kind: int, rule: Rule) -> bytes:
    """``ip rule add from SOURCE/LEN table T pref P protocol N`` (or ``del``), as iproute2 lays it out:
    a table above 255 goes in FRA_TABLE, with RT_TABLE_UNSPEC in the header."""
    table = rule.table if rule.table < 256 else 0
    body = _FIB_RULE.pack(rule.family, 0, rule.source_len, 0, table, 0, 0, rule.action, 0)
    if rule.source is not None:
        body += _nla(FRA_SRC, rule.source.packed)
    if rule.table >= 256:
        body += _nla(FRA_TABLE, struct.pack("=I", rule.table))
    if rule.priority:
        body += _nla(FRA_PRIORITY, struct.pack("=I", rule.priority))
    if rule.protocol:
        body += _nla(FRA_PROTOCOL, bytes([rule.protocol]))
    nl_flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE | NLM_F_EXCL if kind == RTM_NEWRULE else 0)
    return _message(kind, nl_flags, seq, body)


def dump_request(seq: int, kind: int, family: int = AF_UNSPEC) -> bytes:
    if kind == RTM_GETLINK:
        body = _IFINFO.pack(family, 0, 0, 0, 0)
    elif kind == RTM_GETADDR:
        body = _IFADDR.pack(family, 0, 0, 0, 0)
    elif kind == RTM_GETRULE:
        body = _FIB_RULE.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
    else:
        body = _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
    return _message(kind, NLM_F_REQUEST | NLM_F_DUMP, seq, body)


def parse_messages(data: bytes) -> Iterator[Message]:
    """Split a datagram into messages; NLMSG_ERROR with an errno raises NetlinkError."""
    pos = 0
    while pos + 16 <= len(data):
        length, kind, flags, seq, _ = _NLMSG.unpack_from(data, pos)
        if length < 16 or pos + length > len(data):
            raise NetlinkError(0, "truncated netlink message")
        payload = bytes(data[pos + 16:pos + length])
        pos += (length + 3) & ~3
        if kind == NLMSG_ERROR:
            (error,) = struct.unpack_from("=i", payload, 0)
            if error:
                raise NetlinkError(-error, _extended_ack_text(payload))
        yield Message(kind, flags, seq, payload)


def _extended_ack_text(payload: bytes) -> str:
    # errno + the original header (its payload only when the kernel echoes it), then TLVs.
    if len(payload) < 20:
        return ""
    original_length = struct.unpack_from("=I", payload, 4)[0]
    for start in (4 + 16, 4 + original_length):
        attrs = _attributes(payload, start)
        text = attrs.get(NLMSGERR_ATTR_MSG)
        if text:
            return text.rstrip(b"\0").decode("utf-8", "replace")
    return ""


def _attributes(data: bytes, pos: int) -> Dict[int, bytes]:
    attrs: Dict[int, bytes] = {}
    while pos + 4 <= len(data):
        length, kind = _NLA.unpack_from(data, pos)
        if length < 4 or pos + length > len(data):
            break
        attrs[kind & 0x3FFF] = bytes(data[pos + 4:pos + length])
        pos += (length + 3) & ~3
    return attrs


def _address(family: int, raw: Optional[bytes]) -> Optional[IPAddress]:
    if raw is None:
        return None
    return ipaddress.IPv4Address(raw) if family == AF_INET else ipaddress.IPv6Address(raw)


def parse_link(message: Message) -> Link:
    _, _, index, flags, _ = _IFINFO.unpack_from(message.payload, 0)
    attrs = _attributes(message.payload, _IFINFO.size)
    name = attrs.get(IFLA_IFNAME, b"").rstrip(b"\0").decode()
    mtu = struct.unpack("=I", attrs[IFLA_MTU])[0] if IFLA_MTU in attrs else 0
    return Link(index, name, flags, mtu)


def parse_address(message: Message) -> Address:
    family, prefixlen, flags, scope, index = _IFADDR.unpack_from(message.payload, 0)
    attrs = _attributes(message.payload, _IFADDR.size)
    if IFA_FLAGS in attrs:
        flags = struct.unpack("=I", attrs[IFA_FLAGS])[0]
    address = _address(family, attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS))
    assert address is not None
    return Address(index, family, address, prefixlen, flags, scope)


def parse_route(message: Message) -> Route:
    family, dst_len, _, _, table, protocol, scope, kind, flags = _RTMSG.unpack_from(message.payload, 0)
    attrs = _attributes(message.payload, _RTMSG.size)
    if RTA_TABLE in attrs:
        table = struct.unpack("=I", attrs[RTA_TABLE])[0]
    return Route(
        family=family, dst=_address(family, attrs.get(RTA_DST)), dst_len=dst_len,
        oif=struct.unpack("=i", attrs[RTA_OIF])[0] if RTA_OIF in attrs else None,
        gateway=_address(family, attrs.get(RTA_GATEWAY)),
        metric=struct.unpack("=I", attrs[RTA_PRIORITY])[0] if RTA_PRIORITY in attrs else 0,
        table=table, protocol=protocol, scope=scope, type=kind, flags=flags, attrs=attrs)


def parse_rule(message: Message) -> Rule:
    family, _, src_len, _, table, _, _, action, _ = _FIB_RULE.unpack_from(message.payload, 0)
    attrs = _attributes(message.payload, _FIB_RULE.size)
    if FRA_TABLE in attrs:
        table = struct.unpack("=I", attrs[FRA_TABLE][:4])[0]
    return Rule(family, _address(family, attrs.get(FRA_SRC)), src_len, table,
                struct.unpack("=I", attrs[FRA_PRIORITY][:4])[0] if FRA_PRIORITY in attrs else 0,
                attrs[FRA_PROTOCOL][0] if attrs.get(FRA_PROTOCOL) else 0, action)


def default_route(family: int, oif: int, gateway: Optional[IPAddress], metric: int) -> Route:
    """A default route out of ``oif``; the gateway is on-link (raw-IP links have no neighbours)."""
    return Route(family=family, dst=None, dst_len=0, oif=oif, gateway=gateway, metric=metric,
                 protocol=RTPROT_QCM, flags=RTNH_F_ONLINK if gateway is not None else 0,
                 scope=RT_SCOPE_UNIVERSE)

