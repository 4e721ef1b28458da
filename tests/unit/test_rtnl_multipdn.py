"""rtnetlink for several PDNs: rmnet links and policy rules, byte for byte as iproute2 sends them
(captured with strace in a throwaway namespace), and rules and per-PDN tables against the kernel.

The kernel here has no rmnet: the rmnet request is checked against iproute2's bytes only (iproute2
6.1 cannot send rmnet's data-format flags, so their attribute is checked against its layout in
libqmi's if_link_rmnet.h: two u32, flags then mask)."""

import ipaddress
import re
import shutil
import struct

import pytest

from qcm.netlink import rtnl

pytestmark = pytest.mark.root
needs_strace = pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")


def iproute2_request(ns, *args):
    """The last netlink request `ip ARGS` sends, as bytes (its exit status does not matter)."""
    result = ns.run(["strace", "-qq", "-e", "trace=sendmsg", "-e", "write=all", "ip", *args], check=False)
    dumps, current = [], []
    for line in result.stderr.splitlines():
        match = re.match(r"\s*\|\s*([0-9a-f]{5})\s+((?:[0-9a-f]{2}\s+)+)", line)
        if match:
            if match.group(1) == "00000" and current:
                dumps.append(bytes(current))
                current = []
            current += [int(b, 16) for b in match.group(2).split()]
    if current:
        dumps.append(bytes(current))
    assert dumps, result.stderr
    return dumps[-1]


def with_seq(data: bytes, seq: int) -> bytes:
    return data[:8] + struct.pack("=I", seq) + data[12:]


@needs_strace
def test_rmnet_link_request_is_iproute2s(netns):
    ns = netns()
    ns.run(["ip", "tuntap", "add", "wwan0", "mode", "tun"])
    theirs = iproute2_request(ns, "link", "add", "link", "wwan0", "name", "qmapmux0.1", "type", "rmnet", "mux_id", "129")
    index = int(ns.run(["cat", "/sys/class/net/wwan0/ifindex"]).stdout)
    seq = struct.unpack_from("=I", theirs, 8)[0]
    assert rtnl.rmnet_link_request(seq, index, "qmapmux0.1", 129) == theirs


def test_rmnet_flags_layout():
    flags = rtnl.RMNET_INGRESS_DEAGGREGATION | rtnl.RMNET_INGRESS_MAP_CKSUMV5 | rtnl.RMNET_EGRESS_MAP_CKSUMV5
    request = rtnl.rmnet_link_request(1, 2, "qmapmux0.1", 129, flags)
    assert struct.pack("=HHII", 12, 2, 0x31, 0x31) in request          # IFLA_RMNET_FLAGS {flags, mask}
    assert struct.unpack_from("=I", request, 0)[0] == len(request)
    with pytest.raises(ValueError):
        rtnl.rmnet_link_request(1, 2, "x", 255)


@needs_strace
@pytest.mark.parametrize("family,source,length", [(2, "100.64.0.6", 32), (10, "2001:db8::1", 128)])
def test_rule_request_is_iproute2s(netns, family, source, length):
    ns = netns()
    theirs = iproute2_request(ns, "-6" if family == 10 else "-4", "rule", "add", "from", "%s/%d" % (source, length),
                              "table", "7102", "pref", "5200", "protocol", "113")
    rule = rtnl.Rule(family, ipaddress.ip_address(source), length, 7102, 5200, rtnl.RTPROT_QCM)
    seq = struct.unpack_from("=I", theirs, 8)[0]
    assert rtnl.rule_request(seq, rtnl.RTM_NEWRULE, rule) == theirs


def test_rules_and_a_pdns_table_against_the_kernel(netns):
    ns = netns()
    out = ns.python("""
import ipaddress, socket
from qcm.io.netlink import Netlink
from qcm.netlink import rtnl
from qcm.sim.netns import open_tun
fd = open_tun("qmimux1")
with Netlink() as nl:
    link = nl.link("qmimux1")
    nl.set_link(link.index, up=True)
    nl.add_address(link.index, ipaddress.ip_address("100.64.0.6"), 30)
    route = rtnl.default_route(socket.AF_INET, link.index, ipaddress.ip_address("100.64.0.5"), 700)
    from dataclasses import replace
    nl.add_route(replace(route, table=7102))
    rule = rtnl.Rule(socket.AF_INET, ipaddress.ip_address("100.64.0.6"), 32, 7102, 5200, rtnl.RTPROT_QCM)
    nl.add_rule(rule)
    print([r for r in nl.rules(socket.AF_INET) if r.table == 7102] == [rule])
    print([(r.table, r.oif == link.index) for r in nl.routes(socket.AF_INET) if r.table == 7102 and r.is_default])
    nl.delete_rule(rule)
    print([r for r in nl.rules() if r.table == 7102])
""")
    assert out.split("\n")[:3] == ["True", "[(7102, True)]", "[]"]
