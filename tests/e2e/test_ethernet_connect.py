"""qcm connect on Ethernet-style modules (ECM, RNDIS, NCM) end to end: the simulated module in a
namespace, dialled over its AT port, usb0 configured from our DHCP client, traffic through the
module's NAT, renewals without loss, drops survived; seed 002's BG95-M3 from QMI mode to a working
ECM link; quectel-CM in ECM mode; and DHCP on QMI links (--ip-config dhcp, and 802-3 framing)."""

import json
import re
import time

import pytest

pytestmark = pytest.mark.root

V4, V6 = "198.51.100.1", "2001:db8:100::1"


def wait_connected(lab, process, netdev="usb0", timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("qcm exited %s:\n%s" % (process.returncode, lab.output(process)))
        if (lab.run_dir / ("%s.sock" % netdev)).exists():
            reply = lab.qcm("status", "--json", "-i", netdev)
            if reply.returncode == 0 and json.loads(reply.stdout).get("state") == "connected":
                return
        time.sleep(0.05)
    raise AssertionError("not connected in %.0f s:\n%s" % (timeout, lab.output(process)))


def wait_for(predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def connect_once(lab, *args):
    result = lab.qcm(*lab.connect_args("--once", *args))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def disconnect(lab, netdev="usb0"):
    result = lab.qcm("disconnect", "-i", netdev)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("mode", ["ecm", "rndis", "ncm"])
def test_connects_over_at_and_dhcp_in_each_mode(lab, mode):
    lab = lab("--set", "usbnet=" + mode)
    before = lab.snapshot()
    out = connect_once(lab, "-s", "internet")
    assert "DHCP lease 192.0.2.100/24 from 192.0.2.1 obtained" in out and "connected in" in out
    assert lab.ping(V4)
    assert "nameserver 192.0.2.1" in lab.resolv.read_text()  # the module's DNS proxy on its LAN address
    status = lab.sim_status()
    assert status["calls"][0]["address"].startswith("100.64.") and status["data_path"]["up-packets"] >= 1
    disconnect(lab)
    assert not lab.ping(V4)
    assert lab.snapshot() == before and lab.sim_status()["calls"] == []


def test_seed_002_bg95_switched_to_ecm_connects_and_the_doctor_finds_nothing(lab):
    lab = lab("--scenario", "seed-002-bg95-ecm")
    switched = lab.qcm("usbnet", "ecm")
    assert switched.returncode == 0 and "usbnet: qmi -> ecm" in switched.stdout, switched.stdout + switched.stderr
    doctor = lab.qcm("doctor", "--json")
    report = json.loads(doctor.stdout)
    assert report["findings"] == [] and doctor.returncode == 0, doctor.stdout
    before = lab.snapshot()
    out = connect_once(lab, "-s", "simplex.iot")
    assert "AT+QIACT" in lab.sim_log.read_text() or "connected in" in out
    assert lab.ping(V4)
    disconnect(lab)
    assert lab.snapshot() == before


def test_stays_up_through_dhcp_renewals_a_dropped_call_and_a_reset(lab):
    lab = lab("--set", "usbnet=ecm", "--set", "dhcp_lease_s=10")
    before = lab.snapshot()
    manager = lab.background(lab.qcm_argv(*lab.connect_args("-s", "internet", "--poll-interval", "2")))
    wait_connected(lab, manager)
    pinged = lab.ns.run(["ping", "-c", "55", "-i", "0.2", "-W", "1", V4], check=False)
    assert " 0% packet loss" in pinged.stdout, pinged.stdout  # 11 s: renewals at T1, every 5 s
    assert lab.output(manager).count("renewed") >= 2
    lab.qcm("sim", "ctl", str(lab.modem_dir), "drop")
    assert wait_for(lambda: "reconnected" in lab.output(manager)), lab.output(manager)
    assert "Regular deactivation" in lab.output(manager)  # AT+CEER's reason
    assert wait_for(lambda: lab.ping(V4))
    lab.qcm("sim", "ctl", str(lab.modem_dir), "reset", "seconds=1")  # AT port and usb0 vanish and come back
    assert wait_for(lambda: lab.output(manager).count("reconnected") >= 2, timeout=30), lab.output(manager)
    assert wait_for(lambda: lab.ping(V4))
    manager.terminate()
    assert manager.wait(20) == 0
    assert lab.snapshot() == before and lab.sim_status()["calls"] == []


def test_a_wrong_pin_over_at_is_not_retried(lab):
    lab = lab("--set", "usbnet=ecm", "--sim-state", "pin", "--pin", "0123")
    result = lab.qcm(*lab.connect_args("--once", "-s", "internet", "-p", "9999"))
    assert result.returncode == 4 and "rejected the PIN" in result.stderr and "Traceback" not in result.stderr
    again = lab.qcm(*lab.connect_args("--once", "-s", "internet", "-p", "9999"))
    assert again.returncode == 4 and "not sending the PIN" in again.stderr
    assert lab.sim_status()["pin_retries"] == 2
    out = connect_once(lab, "-s", "internet", "-p", "0123")
    assert "unlocked with the PIN" in out and lab.ping(V4)
    disconnect(lab)


def test_quectel_cm_in_ecm_mode_dials_over_at_and_runs_dhcp(lab, tmp_path):
    lab = lab("--set", "usbnet=ecm")
    before = lab.snapshot()
    cm = lab.background(["quectel-CM", "-s", "internet"])
    wait_connected(lab, cm)
    assert lab.ping(V4)
    result = lab.ns.run(["quectel-CM", "-k", "1"], check=False, env=lab.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert cm.wait(20) == 0
    log = lab.output(cm)
    for line in ("] Modem works in ECM mode", "] AT> AT+QNETDEVCTL=1,1,1", "] requestGetSIMStatus SIMStatus: SIM_READY",
                 "] udhcpc: lease of 192.0.2.100 obtained, lease time 7200"):
        assert line in log, log
    assert re.search(r"\] requestGetIPAddress 100\.64\.\d+\.\d+", log)
    assert lab.snapshot() == before


def test_dual_stack_over_ecm_takes_ipv6_from_the_router_advertisement(lab):
    lab = lab("--scenario", "seed-002-bg95-ecm", "--set", "usbnet=ecm")
    out = connect_once(lab, "-4", "-6", "-s", "simplex.iot")
    assert "router advertisement from fe80::1" in out
    addresses = json.loads(lab.ns.run(["ip", "-j", "-6", "address", "show", "dev", "usb0"]).stdout)
    found = [a["local"] for a in addresses[0]["addr_info"] if a.get("scope") == "global"]
    assert len(found) == 1, addresses
    address = found[0]
    call = [c for c in lab.sim_status()["calls"] if ":" in c["address"]][0]["address"]
    prefix = call.split("::")[0]
    assert address.startswith(prefix + ":")  # in the call's /64, from the RA
    assert "nameserver 2001:db8:100::53" in lab.resolv.read_text()  # RDNSS
    # ours, not the kernel's: also after --once handed the connection over (qcm disconnect gives it back)
    assert lab.ns.run(["cat", "/proc/sys/net/ipv6/conf/usb0/accept_ra"]).stdout.strip() == "0"
    assert lab.ping(V4)
    disconnect(lab)
    assert lab.ns.run(["cat", "/proc/sys/net/ipv6/conf/usb0/accept_ra"]).stdout.strip() == "1"


def test_ipv6_traffic_over_ecm(lab):
    lab = lab("--scenario", "seed-002-bg95-ecm", "--set", "usbnet=ecm")
    connect_once(lab, "-4", "-6", "-s", "simplex.iot")
    try:
        assert lab.ping(V6)
    finally:
        disconnect(lab)


def test_qmi_with_ip_config_dhcp(lab):
    lab = lab()
    before = lab.snapshot()
    out = connect_once(lab, "-4", "-6", "--ip-config", "dhcp", "-s", "internet")
    assert "wwan0: DHCP lease 100.64.0.2/30 from 100.64.0.1 obtained" in out
    assert "wwan0: router advertisement from fe80::1" in out
    assert lab.ping(V4) and lab.ping(V6)  # raw IP: no neighbours, the route needs no next hop
    disconnect(lab, "wwan0")
    assert lab.snapshot() == before


def test_qmi_left_in_802_3_gets_its_address_by_dhcp(lab):
    lab = lab("--set", "model=BG96", "--set", "link_layers=802-3", "--set", "data_format=802-3")
    out = connect_once(lab, "-s", "internet")
    assert "data format: modem 802-3, host 802-3" in out and "wwan0: DHCP lease 100.64.0.2/30" in out
    assert lab.ping(V4)
    disconnect(lab, "wwan0")
