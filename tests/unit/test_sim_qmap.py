"""The simulator in QMAP mode: WDA Set Data Format answers, Bind Mux Data Port, packets passing only on
their call's mux and within their APN's network, add_mux/del_mux in the fake sysfs, and the scenario keys."""

from __future__ import annotations

import ipaddress

import pytest

from qcm.errors import UsageError
from qcm.qmi import qmap
from qcm.qmi.catalogue import catalogue
from qcm.qmi.message import build_frame, decode
from qcm.sim import handlers  # noqa: F401 - registers the handlers
from qcm.sim.config import load_scenario_bytes
from qcm.sim.modem import SimModem
from qcm.sim.router import ModuleRouter
from test_sim_sysfs import status, wait_for

SCENARIO = b"""
[[apn]]
name = "internet"
[[apn]]
name = "corp.example"
host4 = "203.0.113.1"
host6 = "2001:db8:200::1"
"""
ENDPOINT = {"endpoint_type": "hsusb", "interface_number": 4}


def ask(modem, service, message, values=None, cid=0):
    frames = modem.handle(build_frame(catalogue().method(service, message), "request", cid, 1, values), 0.0)
    return decode(frames[0])


def client(modem, service="WDS"):
    return int(ask(modem, "CTL", "Allocate CID", {"service": service.lower()})["allocation_info"]["cid"])


def qmap_format(version="qmap", **sizes):
    values = {"link_layer_protocol": "raw-ip", "uplink_data_aggregation_protocol": version,
              "downlink_data_aggregation_protocol": version, "downlink_data_aggregation_max_datagrams": 64,
              "downlink_data_aggregation_max_size": 65536, "endpoint_info": ENDPOINT}
    values.update(sizes)
    return values


def test_set_data_format_answers_what_the_firmware_agreed():
    modem = SimModem(load_scenario_bytes(SCENARIO))
    wda = client(modem, "WDA")
    answer = ask(modem, "WDA", "Set Data Format", qmap_format("qmapv5"), wda)
    assert answer.ok and answer["downlink_data_aggregation_protocol"].name == "qmap"  # no QMAPv5 on an EC25
    assert answer["downlink_data_aggregation_max_size"] == 16384 and answer["downlink_data_aggregation_max_datagrams"] == 32
    assert answer["download_minimum_padding"] == 0 and modem.qmap_version == 1
    offered = SimModem(load_scenario_bytes(b"qmapv5 = true\nqmap_min_padding = 4\n" + SCENARIO))
    answer = ask(offered, "WDA", "Set Data Format", qmap_format("qmapv5"), client(offered, "WDA"))
    assert answer["downlink_data_aggregation_protocol"].name == "qmapv5" and answer["download_minimum_padding"] == 4
    assert ask(modem, "WDA", "Set Data Format", {"link_layer_protocol": "raw-ip",
                                                 "downlink_data_aggregation_protocol": "disabled",
                                                 "uplink_data_aggregation_protocol": "disabled"}, wda).ok
    assert modem.aggregation == "none"


def test_bind_mux_data_port_needs_qmap_and_this_modules_endpoint():
    modem = SimModem(load_scenario_bytes(SCENARIO))
    wds = client(modem)
    bind = {"endpoint_info": ENDPOINT, "mux_id": 0x81, "client_type": "tethered"}
    assert ask(modem, "WDS", "Bind Mux Data Port", bind, wds).result.error.name == "InvalidArgument"  # no QMAP yet
    ask(modem, "WDA", "Set Data Format", qmap_format(), client(modem, "WDA"))
    other = dict(bind, endpoint_info={"endpoint_type": "hsusb", "interface_number": 5})
    assert ask(modem, "WDS", "Bind Mux Data Port", other, wds).result.error.name == "InvalidArgument"
    assert ask(modem, "WDS", "Bind Mux Data Port", bind, wds).ok and modem.mux_bindings == {("WDS", wds): 0x81}
    assert ask(modem, "WDS", "Start Network", {"apn": "internet"}, wds).ok
    assert next(iter(modem.calls.values())).mux_id == 0x81


def packet(source, destination):
    version = ipaddress.ip_address(source).version
    if version == 4:
        head = bytes([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0]) + ipaddress.ip_address(source).packed
        return head + ipaddress.ip_address(destination).packed + bytes(8)
    return bytes([0x60, 0, 0, 0, 0, 8, 58, 64]) + ipaddress.ip_address(source).packed + \
        ipaddress.ip_address(destination).packed + bytes(8)


def test_packets_pass_only_on_their_calls_mux_and_within_their_apns_network():
    modem = SimModem(load_scenario_bytes(SCENARIO))
    ask(modem, "WDA", "Set Data Format", qmap_format(), client(modem, "WDA"))
    calls = {}
    for apn, mux in (("internet", 0x81), ("corp.example", 0x82)):
        wds = client(modem)
        ask(modem, "WDS", "Bind Mux Data Port", {"endpoint_info": ENDPOINT, "mux_id": mux}, wds)
        ask(modem, "WDS", "Start Network", {"apn": apn}, wds)
        calls[apn] = modem.calls[("WDS", wds)]
    router = ModuleRouter(modem)
    internet, corp = calls["internet"].ipv4.ip, calls["corp.example"].ipv4.ip

    def up(mux, source, destination):
        return router.from_host_qmap(qmap.encode(mux, packet(source, destination), align=1))[0]
    assert up(0x82, corp, "203.0.113.1").to_network is not None
    assert up(0x81, corp, "203.0.113.1").refused == "wrong-address"       # on another PDN's mux
    assert up(0x81, internet, "203.0.113.1").refused == "other-apn"       # into another APN's network
    assert up(0x83, corp, "203.0.113.1").refused == "no-call-on-mux"
    assert up(0x81, internet, "198.51.100.1").to_network is not None
    assert router.from_host(packet(internet, "198.51.100.1"), 0.0).refused == "not-qmap"   # bare IP on the link
    down = router.from_network(packet("203.0.113.1", corp))
    assert down.qmap and [p.mux_id for p in qmap.decode(down.to_host[0])[0]] == [0x82]
    assert router.from_network(packet("203.0.113.1", internet)).refused == "other-apn"


def test_apn_hosts_are_documentation_addresses():
    config = load_scenario_bytes(SCENARIO)
    assert config.apn_hosts == (("internet", "198.51.100.1", "2001:db8:100::1"),
                                ("corp.example", "203.0.113.1", "2001:db8:200::1"))
    for bad in (b'[[apn]]\nname = "x"\nhost4 = "8.8.8.8"\n', b'[[apn]]\nname = "x"\nhost6 = "2600::1"\n',
                b'[[apn]]\nname = "x"\nhost4 = "2001:db8::1"\n', b'qmap_mode = 2\n',
                b'[[apn]]\nname = "a"\n[[apn]]\nname = "b"\nhost4 = "198.51.100.1"\n'):
        with pytest.raises(UsageError):
            load_scenario_bytes(bad)


def test_add_mux_makes_a_link_and_del_mux_removes_it(start_sim):
    sim = start_sim("--aggregation", "qmap")
    parent = sim.directory / "sys" / "class" / "net" / "wwan0"
    (parent / "qmi" / "add_mux").write_text("0x81\n")
    assert wait_for(lambda: (parent / "upper_qmimux0").exists())
    link = sim.directory / "sys" / "class" / "net" / "qmimux0"
    assert (link / "qmap" / "mux_id").read_text() == "0x81\n"
    (parent / "qmi" / "add_mux").write_text("130\n")
    assert wait_for(lambda: (parent / "qmi" / "add_mux").read_text() == "0x81\n0x82\n")
    assert status(sim.directory)["mux_links"] == {"0x81": "qmimux0", "0x82": "qmimux1"}
    (parent / "qmi" / "del_mux").write_text("0x81\n")
    assert wait_for(lambda: not link.exists())
    assert status(sim.directory)["mux_links"] == {"0x82": "qmimux1"}


def test_qmi_wwan_q_shows_its_own_links(start_sim):
    sim = start_sim("--set", "driver=qmi_wwan_q", "--set", "qmap_mode=3")
    net = sim.directory / "sys" / "class" / "net"
    assert (net / "wwan0" / "qmap_mode").read_text() == "3\n"
    assert status(sim.directory)["mux_links"] == {"0x81": "wwan0_1", "0x82": "wwan0_2", "0x83": "wwan0_3"}
    assert not (net / "wwan0" / "qmi" / "add_mux").exists()
