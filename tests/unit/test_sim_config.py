"""Scenario files: documented keys load, wrong ones are refused with the accepted values."""

import pytest

from qcm.errors import UsageError
from qcm.sim.config import Apn, load_scenario, parse_apn_option

SCENARIO = """
description = "EC25-A with EU firmware in Canada"
model = "EC25"
revision = "EC25EFAR06A11M4G"
imei = "866758045439136"
usb = "2c7c:0125"
sim = "pin"
pin = "0042"
cfun = 7
registration = "none"
mcc = 0
mnc = 0
rat = "none"
latency_ms = 30
data_format = "802-3"

[[apn]]
name = "ltemobile.apn"
auth = "chap"
username = "user"
password = "pass"
ip_types = ["ipv4"]

[[profile]]
index = 1
apn = "ltedata.apn"
pdp_type = "ipv4"
"""


def test_scenario_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    config = load_scenario(path)
    assert config.mode == "offline" and config.sim == "pin" and config.pin == "0042"
    assert config.apns == (Apn("ltemobile.apn", "chap", "user", "pass", ("ipv4",)),)
    assert config.profiles[0].apn == "ltedata.apn"
    assert config.latency_ms == 30.0 and config.data_format == "802-3"


def test_overrides_win(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    assert load_scenario(path, {"sim": "ready", "cfun": "1"}).mode == "online"


@pytest.mark.parametrize("text,message", [
    ('modle = "EC25"', "unknown scenario key 'modle'"),
    ('sim = "locked"', "expected one of ready, pin, puk, absent, blocked"),
    ('usb = "2c7c"', "vendor:product"),
    ('pin = "12"', "4 to 8 digits"),
    ('latency_ms = "fast"', "expected a number"),
    ('cfun = 9', "cfun"),
    ('[[apn]]\nauth = "pap"', "needs a name"),
    ('[[apn]]\nname = "x"\nauth = "md5"', "apn.auth"),
    ('model = ', "not valid TOML"),
])
def test_bad_scenarios_are_explained(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_scenario(path)


def test_missing_scenario_file(tmp_path):
    with pytest.raises(UsageError, match="cannot read scenario"):
        load_scenario(tmp_path / "nope.toml")


def test_apn_option():
    assert parse_apn_option("secure,auth=pap,user=a,password=b,ip=ipv4+ipv6") == \
        Apn("secure", "pap", "a", "b", ("ipv4", "ipv6"))


def test_link_layers(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('link_layers = ["raw-ip"]\ndata_format = "802-3"\n')
    with pytest.raises(UsageError, match="data_format = '802-3': not among link_layers"):
        load_scenario(path)
    path.write_text('link_layers = ["raw-ip", "ethernet"]\n')
    with pytest.raises(UsageError, match="link_layers = 'ethernet': expected one of raw-ip, 802-3"):
        load_scenario(path)
    assert load_scenario(None).accepted_link_layers == ("raw-ip",)               # EC25: MDM9x07
    assert load_scenario(None, {"model": "BG96"}).accepted_link_layers == ("raw-ip", "802-3")


# Each of these once crashed the simulator (a traceback at load time, or later when it served the
# value) or was taken silently; each is now refused at load time, naming the key.
REFUSED = [
    (b'model = "\xc7"', "not UTF-8"),
    (b"a = " + b"[" * 5000 + b"]" * 5000, "nested too deeply|not valid TOML"),
    (b'cfun = [1]', "cfun"),
    (b'apn = 5', "apn: expected"),
    (b'apn = ["x"]', r"\[\[apn\]\]: expected tables"),
    (b'[[apn]]\nname = "x"\nip_types = 5', "ip_types"),
    (b'[[profile]]\nindex = "abc"', "index"),
    (b'[[profile]]\nindex = 99', "profile.index"),
    (b'[request_errors]\n"WDS Get Packet Service Status" = "NoSuchError"', "not a QMI error name"),
    (b'[request_errors]\n"WDS Get Pakcet Service Status" = "OutOfCall"', "not a request the simulator knows"),
    (b'[request_errors]\n"WDS Start Network" = 5', "request_errors"),
    (b'unsupported = ["WDS Nothing"]', "unsupported"),
    (b'set_mode_error = "Nope"', "set_mode_error"),
    (b'last_call_end = "sunspots"', "last_call_end"),
    (b'mcc = 3103', "mcc"),
    (b'mnc = -1', "mnc"),
    (b'snr = 4000.0', "snr"),
    (b'snr = nan', "snr"),
    (b'rssi = 300', "rssi"),
    (b'rsrp = -40000', "rsrp"),
    (b'max_clients = 0', "max_clients"),
    (b'latency_ms = nan', "latency_ms"),
    (b'latency_ms = inf', "latency_ms"),
    (b'latency_ms = -5', "latency_ms"),
    (b'register_after_s = -1', "register_after_s"),
    (b'mtu = 0', "mtu"),
    (b'pin_retries = 300', "pin_retries"),
    (b'net_interface = 1000000000', "net_interface"),
    (b'at_interface = 7', "at_interface"),
    (b'usb = "+abc:0125"', "usb"),
    (b'control = "../../etc/passwd"', "control"),
    (b'netdev = "a/b"', "netdev"),
    (b'usb_path = "1-1/../.."', "usb_path"),
    ('pin = "١٢٣٤"'.encode(), "pin"),
    (b'imei = "abc"', "imei"),
    (b'ipv4_pool = "2001:db8::/48"', "ipv4_pool"),
    (b'ipv4_pool = "100.64.0.0/31"', "ipv4_pool"),
    (b'dns4 = ["2001:db8::1"]', "dns4"),
    (b'dns6 = ["x"]', "dns6"),
    (b'model = ["EC25"]', "model"),
    (b'mcc = 1.5', "mcc"),
    (b'mcc = true', "mcc"),
    (b'[[apn]]\nname = ""', "apn.name"),
    (b'port_holder = "a\\u0000b"', "port_holder"),
    (b'link_layers = "ethernet"', "link_layers"),
]


@pytest.mark.parametrize("text,message", REFUSED, ids=[t.decode("utf-8", "replace")[:30] for t, _ in REFUSED])
def test_values_the_simulator_cannot_serve_are_refused_at_load_time(text, message):
    from qcm.sim.config import load_scenario_bytes
    with pytest.raises(UsageError, match=message):
        load_scenario_bytes(text)


def test_command_line_refuses_nan_with_one_line_and_status_2(tmp_path):
    import os
    import subprocess
    import sys

    from netns import SRC
    result = subprocess.run([sys.executable, "-m", "qcm", "sim", "--dir", str(tmp_path / "m"), "--latency-ms", "nan"],
                            capture_output=True, text=True, timeout=30, env=dict(os.environ, PYTHONPATH=str(SRC)))
    assert result.returncode == 2
    assert "latency_ms" in result.stderr and len(result.stderr.strip().splitlines()) <= 2, result.stderr
    assert not (tmp_path / "m").exists()


def test_mbim_and_pcie_keys_are_checked():
    config = load_scenario(None, {"usbnet": "mbim", "bus": "pci", "fcc_locked": "true", "mbim_max_version": "1"})
    assert config.bus == "pci" and config.fcc_locked and config.mbim_max_version == 1
    for overrides, words in (({"bus": "pci"}, "MBIM only"), ({"bus": "isa"}, "bus"),
                             ({"mbim_max_version": "4"}, "mbim_max_version"), ({"mbim_max_transfer": "16"}, "mbim_max_transfer"),
                             ({"pci_address": "01:00.0"}, "pci_address")):
        with pytest.raises(UsageError) as caught:
            load_scenario(None, overrides)
        assert words in str(caught.value)
