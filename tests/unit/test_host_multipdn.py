"""The host side of several PDNs against the kernel, in a throwaway namespace: a PDN that is not the
default gets its own table and source rules (and none of the main table's default routes), its DNS
servers stay out of resolv.conf, leftovers of a killed run are removed, and the parent's MTU follows
the aggregation size through 802.3 framing (as qmi_wwan wants) and comes back at the end."""

import json

import pytest

pytestmark = pytest.mark.root

SETUP = """
import ipaddress, json, socket
from pathlib import Path
from qcm.backends.base import Bearer, BearerId
from qcm.connect.host import Host, HostOptions, table_of
from qcm.io.netlink import Netlink
from qcm.model import IpSettings
from qcm.netlink import rtnl
from qcm.sim.netns import open_tun

def bearer(pdn, family, address, gateway, netdev):
    interface = ipaddress.ip_interface(address)
    settings = IpSettings(family, interface, ipaddress.ip_address(gateway), (ipaddress.ip_address(
        "198.51.100.53" if family == 4 else "2001:db8:100::53"),), 1500)
    return Bearer(BearerId(pdn, family), netdev, settings, {})

def state():
    with Netlink() as nl:
        return {"rules": sorted((str(r.source), r.table) for r in nl.rules() if r.protocol == rtnl.RTPROT_QCM),
                "main": sorted((r.family, r.oif) for r in nl.routes() if r.is_default and r.table == 254
                               and r.protocol == rtnl.RTPROT_QCM),
                "7102": sorted(r.family for r in nl.routes() if r.table == 7102 and r.is_default)}
"""


def test_a_pdn_that_is_not_the_default_keeps_its_traffic_to_its_own_link(netns, tmp_path):
    ns = netns()
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.0.2.53\n")
    out = ns.python(SETUP + """
fds = [open_tun("qmimux0"), open_tun("qmimux1")]
resolv = Path(%r)
default = Host("qmimux0", None, HostOptions(dns="file", resolv_conf=resolv))
corp = Host("qmimux1", None, HostOptions(dns="file", resolv_conf=resolv, default_route=False, table=table_of(2),
                                         routes=("10.20.0.0/16",), dns_default=False))
default.sync([bearer(1, 4, "100.64.0.2/30", "100.64.0.1", "qmimux0")])
corp.sync([bearer(2, 4, "100.64.0.6/30", "100.64.0.5", "qmimux1"), bearer(2, 6, "2001:db8:4000:1::2/64",
           "2001:db8:4000:1::1", "qmimux1")])
up = state()
with Netlink() as nl:
    corp_routes = sorted(str(r.dst) for r in nl.routes() if r.dst is not None and r.table == 254 and
                         r.protocol == rtnl.RTPROT_QCM)
text = resolv.read_text()
# A killed run leaves its rules: the next one starts by removing them.
again = Host("qmimux1", None, corp.options)
again.sync([bearer(2, 4, "100.64.0.10/30", "100.64.0.9", "qmimux1")])
after_restart = state()
again.clear(); default.clear()
print(json.dumps({"up": up, "routes": corp_routes, "resolv": text, "note": corp.dns_note, "restart": after_restart,
                  "end": state()}))
""" % str(resolv))
    result = json.loads(out.strip().splitlines()[-1])
    up = result["up"]
    assert up["rules"] == [["100.64.0.6", 7102], ["2001:db8:4000:1::2", 7102]]
    assert [family for family, _ in up["main"]] == [2]          # only the default PDN's, IPv4
    assert up["7102"] == [2, 10] and result["routes"] == ["10.20.0.0"]
    assert "nameserver 198.51.100.53" in result["resolv"] and result["resolv"].count("198.51.100.53") == 1
    assert "recorded for qmimux1" in result["note"]
    assert result["restart"]["rules"] == [["100.64.0.10", 7102]]
    assert result["end"] == {"rules": [], "main": [], "7102": []}


def test_the_parents_mtu_follows_the_aggregation_size(netns, tmp_path):
    ns = netns()
    raw_ip = tmp_path / "raw_ip"
    raw_ip.write_text("N\n")
    (tmp_path / "pass_through").write_text("N\n")
    out = ns.python(SETUP + """
fd = open_tun("wwan0")
host = Host("wwan0", Path(%r), HostOptions())
changes = host.prepare_aggregation(16384)
with Netlink() as nl:
    link = nl.link("wwan0")
    during = (link.mtu, link.up, host.raw_ip())
again = host.prepare_aggregation(16384)
host.applied.mux_links.append([0x81, "qmimux0"])   # as if a link had been made here
host.clear()
with Netlink() as nl:
    link = nl.link("wwan0")
print(json.dumps({"changes": changes, "during": during, "again": again, "after": [link.mtu, link.up]}))
""" % str(raw_ip))
    result = json.loads(out.strip().splitlines()[-1])
    assert result["changes"] == ["MTU 1500 -> 16384", "raw-IP"]
    assert result["during"] == [16384, True, True] and result["again"] == []   # nothing touched the second time
    assert result["after"] == [1500, False]
