"""libqmi's own qmicli against the simulator: what it prints must be the simulator's model."""

import re

import pytest

from conftest import qmicli

pytestmark = pytest.mark.interop


def field(output: str, label: str) -> str:
    match = re.search(r"%s:\s*'?([^'\n]*)'?" % re.escape(label), output)
    assert match, "%r not in:\n%s" % (label, output)
    return match.group(1).strip()


def test_device_identity(start_sim):
    sim = start_sim("--revision", "EC25AFAR05A07M4G", "--imei", "861234567890123", "--model", "EC25")
    assert field(qmicli(sim, "--dms-get-revision"), "Revision") == "EC25AFAR05A07M4G"
    ids = qmicli(sim, "--dms-get-ids")
    assert field(ids, "IMEI") == "861234567890123"
    assert sim.info["imei"] == "861234567890123"


@pytest.mark.parametrize("cfun,mode", [("1", "online"), ("4", "low-power"), ("0", "mode-only-low-power"), ("7", "offline")])
def test_operating_mode(start_sim, cfun, mode):
    sim = start_sim("--cfun", cfun)
    out = qmicli(sim, "--dms-get-operating-mode")
    assert field(out, "Mode") == mode
    assert field(out, "HW restricted") == "no"


def test_hardware_restricted(start_sim):
    sim = start_sim("--set", "hardware_restricted=true")
    assert field(qmicli(sim, "--dms-get-operating-mode"), "HW restricted") == "yes"


@pytest.mark.parametrize("state,app_state,pin1", [
    ("ready", "ready", "enabled-verified"),
    ("pin", "pin1-or-upin-pin-required", "enabled-not-verified"),
    ("puk", "puk1-or-upin-puk-required", "blocked"),
])
def test_card_status(start_sim, state, app_state, pin1):
    sim = start_sim("--sim-state", state)
    out = qmicli(sim, "--uim-get-card-status")
    assert field(out, "Card state") == "present"
    assert field(out, "Application state") == app_state
    assert field(out, "PIN1 state") == pin1


def test_card_absent(start_sim):
    sim = start_sim("--sim-state", "absent")
    assert field(qmicli(sim, "--uim-get-card-status"), "Card state") == "absent"


def test_serving_system_registered(start_sim):
    sim = start_sim("--mcc", "228", "--mnc", "1", "--operator", "Swisscom", "--rat", "lte")
    out = qmicli(sim, "--nas-get-serving-system")
    assert field(out, "Registration state") == "registered"
    assert field(out, "PS") == "attached"
    assert field(out, "MCC") == "228"
    assert field(out, "MNC") == "1"
    assert field(out, "Description") == "Swisscom"
    assert "[0]: 'lte'" in out


@pytest.mark.parametrize("registration,state", [("searching", "not-registered-searching"),
                                                ("denied", "registration-denied"), ("none", "not-registered")])
def test_serving_system_unregistered(start_sim, registration, state):
    sim = start_sim("--registration", registration)
    out = qmicli(sim, "--nas-get-serving-system")
    assert field(out, "Registration state") == state
    assert field(out, "PS") == "detached"


def test_roaming(start_sim):
    sim = start_sim("--registration", "roaming")
    out = qmicli(sim, "--nas-get-serving-system")
    assert field(out, "Registration state") == "registered"
    assert field(out, "Roaming status") == "on"


def test_signal_info(start_sim):
    sim = start_sim("--set", "rssi=-71", "--set", "rsrq=-11", "--set", "rsrp=-101", "--set", "snr=7.5")
    out = qmicli(sim, "--nas-get-signal-info")
    assert field(out, "RSSI") == "-71 dBm"
    assert field(out, "RSRQ") == "-11 dB"
    assert field(out, "RSRP") == "-101 dBm"
    assert field(out, "SNR") == "7.5 dB"


def test_data_format_get_and_set(start_sim):
    sim = start_sim("--data-format", "802-3")
    assert field(qmicli(sim, "--wda-get-data-format"), "Link layer protocol") == "802-3"
    out = qmicli(sim, "--wda-set-data-format=link-layer-protocol=raw-ip")
    assert field(out, "Link layer protocol") == "raw-ip"
    assert field(qmicli(sim, "--wda-get-data-format"), "Link layer protocol") == "raw-ip"


def test_ec25_answers_802_3_with_raw_ip(start_sim):
    sim = start_sim()
    out = qmicli(sim, "--wda-set-data-format=link-layer-protocol=802-3")
    assert field(out, "Link layer protocol") == "raw-ip"
    sim = start_sim("--model", "BG96", name="bg96")
    assert field(qmicli(sim, "--wda-set-data-format=link-layer-protocol=802-3"), "Link layer protocol") == "802-3"


def test_qmap_aggregation(start_sim):
    sim = start_sim("--aggregation", "qmap")
    out = qmicli(sim, "--wda-get-data-format")
    assert field(out, "Downlink data aggregation protocol") == "qmap"


def test_call_lifecycle(start_sim):
    sim = start_sim("--apn", "internet")
    assert field(qmicli(sim, "--wds-get-packet-service-status"), "Connection status") == "disconnected"
    out = qmicli(sim, "--wds-start-network=apn=internet,ip-type=4", "--client-no-release-cid")
    handle = field(out, "Packet data handle")
    cid = field(out, "CID")
    assert field(qmicli(sim, "--wds-get-packet-service-status", "--client-cid=" + cid, "--client-no-release-cid"),
                 "Connection status") == "connected"
    settings = qmicli(sim, "--wds-get-current-settings", "--client-cid=" + cid, "--client-no-release-cid")
    assert field(settings, "IPv4 address").startswith("100.64.")
    assert field(settings, "IPv4 subnet mask") == "255.255.255.252"
    assert field(settings, "IPv4 primary DNS") == "198.51.100.53"
    assert field(settings, "MTU") == "1500"
    out = qmicli(sim, "--wds-stop-network=" + handle, "--client-cid=" + cid)
    assert "Network stopped" in out


def test_call_ipv6(start_sim):
    sim = start_sim()
    out = qmicli(sim, "--wds-start-network=apn=internet,ip-type=6", "--client-no-release-cid")
    cid = field(out, "CID")
    settings = qmicli(sim, "--wds-get-current-settings", "--client-cid=" + cid)
    assert field(settings, "IP Family") == "IPv6"
    assert field(settings, "IPv6 address").startswith("2001:db8:4000:")


def test_call_rejected_with_named_reason(start_sim):
    sim = start_sim("--apn", "internet")
    out = qmicli(sim, "--wds-start-network=apn=wrong.apn,ip-type=4", check=False)
    assert "CallFailed" in out
    assert "unknown-apn" in out


def test_authentication(start_sim):
    sim = start_sim("--apn", "secure,auth=chap,user=alice,password=s3cret")
    bad = qmicli(sim, "--wds-start-network=apn=secure,ip-type=4,auth=chap,username=alice,password=nope", check=False)
    assert "authentication-failed" in bad
    good = qmicli(sim, "--wds-start-network=apn=secure,ip-type=4,auth=chap,username=alice,password=s3cret")
    assert "Network started" in good


def test_pin_verify(start_sim):
    sim = start_sim("--sim-state", "pin", "--pin", "0123")
    out = qmicli(sim, "--uim-verify-pin=PIN1,9999", check=False)
    assert "IncorrectPin" in out
    assert field(out, "Verify") == "2"
    qmicli(sim, "--uim-verify-pin=PIN1,0123")
    assert field(qmicli(sim, "--uim-get-card-status"), "Application state") == "ready"


def test_simulator_cleans_up(start_sim):
    sim = start_sim()
    assert (sim.directory / "sys" / "class" / "net" / "wwan0" / "qmi" / "raw_ip").exists()
    assert sim.stop() == 0
    assert not sim.directory.exists()
