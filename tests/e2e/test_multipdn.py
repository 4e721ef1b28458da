"""Several PDNs on one simulated module, end to end: QMAP mux links (qmi_wwan's add_mux, played by
the simulator), each PDN's traffic through its own link and never another's, a PDN that drops
while the others pass traffic, and the namespace left as it was found."""

import json
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

INTERNET4, INTERNET6 = "198.51.100.1", "2001:db8:100::1"
CORP4, CORP6 = "203.0.113.1", "2001:db8:200::1"
IMS6 = "2001:db8:300::1"
IOT4 = "192.0.2.77"

APNS = """
[[apn]]
name = "internet"
[[apn]]
name = "corp.example"
auth = "chap"
username = "alice"
password = "s3cret"
host4 = "%s"
host6 = "%s"
[[apn]]
name = "ims"
ip_types = ["ipv6"]
host6 = "%s"
[[apn]]
name = "iot"
ip_types = ["ipv4"]
host4 = "%s"
""" % (CORP4, CORP6, IMS6, IOT4)


def start(lab_factory, tmp_path: Path):
    scenario = tmp_path / "apns.toml"
    scenario.write_text(APNS)
    return lab_factory("--scenario", str(scenario))


def status(lab):
    reply = lab.qcm("status", "--json")
    assert reply.returncode == 0, reply.stdout + reply.stderr
    return json.loads(reply.stdout)


def addresses(lab, netdev):
    info = json.loads(lab.ns.run(["ip", "-j", "address", "show", "dev", netdev]).stdout)[0]
    return {4 if a["family"] == "inet" else 6: a["local"] for a in info["addr_info"] if a.get("scope") == "global"}


def tx_packets(lab, netdev):
    return int(lab.ns.run(["cat", "/sys/class/net/%s/statistics/tx_packets" % netdev]).stdout)


def ping(lab, target, source=None, count=1):
    argv = ["ping", "-c", str(count), "-W", "2", "-i", "0.2"] + (["-I", source] if source else []) + [target]
    return lab.ns.run(argv, check=False).returncode == 0


def links_of(state):
    return {(b["pdn"], b["family"]): b["netdev"] for b in state["bearers"]}


def test_two_pdns_dual_stack_each_through_its_own_link(lab, tmp_path):
    lab = start(lab, tmp_path)
    before = lab.snapshot()
    env = dict(lab.env, QCM_PDN2_PASSWORD="s3cret")
    process = lab.background(lab.qcm_argv(*lab.connect_args(
        "-4", "-6", "-s", "internet", "--pdn", "2:corp.example,ip=ipv4v6,auth=chap,user=alice")), env=env)
    lab.wait_connected(process)
    state = status(lab)
    links = links_of(state)
    internet, corp = links[(1, 4)], links[(2, 4)]
    assert internet != corp and links[(1, 6)] == internet and links[(2, 6)] == corp
    assert all(b["state"] == "up" for b in state["bearers"]) and state["parent"] == "wwan0"
    sim = lab.sim_status()
    assert sorted((c["apn"], c["family"], c["mux_id"]) for c in sim["calls"]) == [
        ("corp.example", 4, 0x82), ("corp.example", 6, 0x82), ("internet", 4, 0x81), ("internet", 6, 0x81)]
    assert sim["aggregation"] == "qmap" and sim["host_raw_ip"] is True
    mtu = json.loads(lab.ns.run(["ip", "-j", "link", "show", "wwan0"]).stdout)[0]["mtu"]
    assert mtu == sim["qmap"]["dl_size"]   # the parent's MTU (and receive buffer): the answered aggregation size

    # The default PDN reaches the internet; the corporate PDN its own network, from its own addresses.
    assert ping(lab, INTERNET4) and ping(lab, INTERNET6)
    mine = addresses(lab, corp)
    assert ping(lab, CORP4, mine[4]) and ping(lab, CORP6, mine[6])

    # Traffic of one PDN never leaves through another's link.
    corp_tx, internet_tx = tx_packets(lab, corp), tx_packets(lab, internet)
    assert not ping(lab, CORP4)      # no source rule: the main table's default route, the internet PDN,
    assert tx_packets(lab, corp) == corp_tx      # whose network refuses the corporate host
    assert ping(lab, INTERNET4, addresses(lab, internet)[4])
    assert tx_packets(lab, corp) == corp_tx
    assert ping(lab, CORP4, mine[4], count=3)
    assert tx_packets(lab, corp) >= corp_tx + 3 and tx_packets(lab, internet) >= internet_tx + 1
    rules = lab.ns.run(["ip", "rule"]).stdout
    assert "from %s lookup 7102" % mine[4] in rules
    assert "nameserver 198.51.100.53" in lab.resolv.read_text()   # only the default PDN's servers in the file

    process.terminate()
    assert process.wait(20) == 0, lab.output(process)
    assert lab.snapshot() == before
    assert "from %s" % mine[4] not in lab.ns.run(["ip", "rule"]).stdout
    sim = lab.sim_status()
    assert sim["calls"] == [] and sim["clients"] == {} and sim["mux_links"] == {}
    assert json.loads(lab.ns.run(["ip", "-j", "link", "show", "wwan0"]).stdout)[0]["mtu"] == 1500


def test_four_pdns_one_dropped_while_the_others_pass_traffic(lab, tmp_path):
    lab = start(lab, tmp_path)
    env = dict(lab.env, QCM_PDN2_PASSWORD="s3cret")
    process = lab.background(lab.qcm_argv(*lab.connect_args(
        "-4", "-s", "internet", "--pdn", "2:corp.example,ip=ipv4v6,auth=chap,user=alice", "--pdn", "3:ims,ip=ipv6",
        "--pdn", "4:iot,ip=ipv4", "--poll-interval", "1")), env=env)
    lab.wait_connected(process)
    links = links_of(status(lab))
    assert len(set(links.values())) == 4
    corp = addresses(lab, links[(2, 4)])
    ims = links[(3, 6)]
    iot = addresses(lab, links[(4, 4)])
    assert ping(lab, INTERNET4) and ping(lab, CORP6, corp[6]) and ping(lab, IMS6, addresses(lab, ims)[6])
    assert ping(lab, IOT4, iot[4])

    # The network ends the IMS PDN: the others keep passing traffic meanwhile, and it comes back alone.
    pinger = lab.background(["ping", "-c", "40", "-i", "0.1", "-W", "1", "-I", corp[4], CORP4])
    handles = {c["apn"]: c["handle"] for c in lab.sim_status()["calls"] if c["apn"] != "ims"}
    reply = lab.qcm("sim", "ctl", str(lab.modem_dir), "drop", "apn=ims")
    assert reply.returncode == 0, reply.stdout + reply.stderr
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state = status(lab)
        if state["reconnects"] >= 1 and state["state"] == "connected":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the IMS PDN did not come back:\n" + lab.output(process))
    assert pinger.wait(30) == 0, lab.output(pinger)
    assert "40 packets transmitted, 40 received" in lab.output(pinger), lab.output(pinger)  # none lost meanwhile
    assert {c["apn"]: c["handle"] for c in lab.sim_status()["calls"] if c["apn"] != "ims"} == handles
    assert ping(lab, IMS6, addresses(lab, links_of(status(lab))[(3, 6)])[6])
    process.terminate()
    assert process.wait(20) == 0, lab.output(process)
    assert lab.sim_status()["mux_links"] == {}


def test_ipv6_only_pdns(lab, tmp_path):
    lab = start(lab, tmp_path)
    env = dict(lab.env, QCM_PDN2_PASSWORD="s3cret")
    process = lab.background(lab.qcm_argv(*lab.connect_args(
        "-6", "-s", "internet", "--pdn", "2:corp.example,ip=ipv6,auth=chap,user=alice")), env=env)
    lab.wait_connected(process)
    links = links_of(status(lab))
    assert ping(lab, INTERNET6) and not ping(lab, INTERNET4)
    assert ping(lab, CORP6, addresses(lab, links[(2, 6)])[6])
    routes = lab.ns.run(["ip", "-6", "route", "show", "table", "7102"]).stdout
    assert "default dev %s" % links[(2, 6)] in routes
    process.terminate()
    assert process.wait(20) == 0, lab.output(process)
