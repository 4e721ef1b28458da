"""The simulated module's own answers on the data path (DHCP, router solicitations) take its
latency (--latency-ms), as its AT and QMI answers do; ARP and forwarded traffic do not."""

import ipaddress
import struct

from qcm.dhcp.ra import solicitation
from qcm.sim import handlers  # noqa: F401 - registers the handlers
from qcm.sim.config import SimConfig
from qcm.sim.dhcp_server import DISCOVER, build_request
from qcm.sim.modem import SimModem
from qcm.sim.packets import ETH_ARP, ETH_IP, ETH_IP6, ethernet, udp
from qcm.sim.router import Lan, ModuleRouter

MAC = bytes.fromhex("020000000042")
ANY, ALL = ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("255.255.255.255")


def router():
    r = ModuleRouter(SimModem(SimConfig(), now=0.0), Lan(ipaddress.ip_network("192.0.2.0/24")))
    r.ethernet = True
    return r


def test_dhcp_and_solicitation_answers_are_the_modules_own_arp_is_not():
    r = router()
    dhcp = r.from_host(ethernet(b"\xff" * 6, MAC, ETH_IP, udp(ANY, ALL, 68, 67, build_request(DISCOVER, MAC))), 0.0)
    assert dhcp.to_host and dhcp.answered
    rs = r.from_host(ethernet(b"\x33\x33\x00\x00\x00\x02", MAC, ETH_IP6, solicitation()), 0.0)
    assert rs.to_host and rs.answered
    arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_IP, 6, 4, 1, MAC, bytes([192, 0, 2, 100]), bytes(6),
                      bytes([192, 0, 2, 1]))
    answer = r.from_host(ethernet(b"\xff" * 6, MAC, ETH_ARP, arp), 0.0)
    assert answer.to_host and not answer.answered
