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
