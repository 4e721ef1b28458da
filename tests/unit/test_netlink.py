"""Our rtnetlink code against the real kernel, in a throwaway namespace, checked with pyroute2."""

import pytest

pytestmark = pytest.mark.root

SETUP = """
import ipaddress, socket, json
from qcm.io.netlink import Netlink, NetlinkError
from qcm.netlink import rtnl
from qcm.sim.netns import open_tun
fd = open_tun("wwan0")
nl = Netlink()
link = nl.link("wwan0")
"""


def test_configure_a_tun_like_a_raw_ip_modem_interface(netns):
    ns = netns()
    out = ns.python(SETUP + """
nl.set_link(link.index, up=True, mtu=1430)
nl.add_address(link.index, ipaddress.ip_address("100.64.0.2"), 30)
nl.add_address(link.index, ipaddress.ip_address("2001:db8:4000::2"), 64, rtnl.IFA_F_NODAD)
nl.add_route(rtnl.default_route(socket.AF_INET, link.index, ipaddress.ip_address("100.64.0.1"), 700))
nl.add_route(rtnl.default_route(socket.AF_INET6, link.index, None, 700))
from pyroute2 import IPRoute
with IPRoute() as ip:
    state = ip.link("get", index=link.index)[0]
    addrs = sorted(a.get_attr("IFA_ADDRESS") + "/" + str(a["prefixlen"]) for a in ip.get_addr(index=link.index)
                   if a["scope"] == 0)
    v4 = [r for r in ip.get_default_routes(family=socket.AF_INET)]
    v6 = [r for r in ip.get_default_routes(family=socket.AF_INET6)]
    print(json.dumps({"mtu": state.get_attr("IFLA_MTU"), "up": bool(state["flags"] & 1), "addrs": addrs,
                      "v4": [(r.get_attr("RTA_GATEWAY"), r.get_attr("RTA_PRIORITY"), r["proto"]) for r in v4],
                      "v6": [(r.get_attr("RTA_OIF") == link.index, r.get_attr("RTA_PRIORITY")) for r in v6]}))
mine = [a for a in nl.addresses(link.index) if a.scope == 0]
assert {str(a.interface) for a in mine} == {"100.64.0.2/30", "2001:db8:4000::2/64"}
v6 = [a for a in mine if a.family == socket.AF_INET6][0]
assert not v6.flags & rtnl.IFA_F_TENTATIVE, "nodad: usable at once"
defaults = [r for r in nl.routes() if r.is_default and r.oif == link.index]
assert len(defaults) == 2 and all(r.protocol == rtnl.RTPROT_QCM for r in defaults)
for r in defaults:
    nl.delete_route(r)
nl.delete_address(link.index, ipaddress.ip_address("100.64.0.2"), 30)
assert not [r for r in nl.routes() if r.is_default and r.oif == link.index]
""")
    import json
    state = json.loads(out)
    assert state["mtu"] == 1430 and state["up"]
    assert state["addrs"] == ["100.64.0.2/30", "2001:db8:4000::2/64"]
    assert state["v4"] == [["100.64.0.1", 700, 113]]
    assert state["v6"] == [[True, 700]]


def test_kernel_errors_are_named(netns):
    ns = netns()
    out = ns.python(SETUP + """
nl.add_address(link.index, ipaddress.ip_address("100.64.0.2"), 30)
try:
    nl.add_route(rtnl.default_route(socket.AF_INET, 9999, ipaddress.ip_address("100.64.0.1"), 5))
except NetlinkError as exc:
    print(exc.errno, exc.text or exc.strerror)
""")
    assert out.startswith("19 ")  # ENODEV, with the kernel's own explanation when it gives one
