"""quectel-CM's command line: what users rely on, without its defects."""

import pytest

from qcm.cli.quectel_cm import QuectelLog, parse
from qcm.connect import events as ev
from qcm.errors import UsageError


def test_the_usual_invocations():
    o = parse(["-s", "ltemobile.apn"])
    assert o.apn == "ltemobile.apn" and o.user == "" and o.auth is None
    o = parse(["-4", "-6", "-s", "3gnet", "carl", "1234", "0", "-p", "1234", "-f", "gobinet_log.txt"])
    assert (o.ipv4, o.ipv6, o.apn, o.user, o.password, o.auth, o.pin, o.logfile) == \
        (True, True, "3gnet", "carl", "1234", "none", "1234", "gobinet_log.txt")


def test_defects_fixed():
    assert parse(["-p", "0123"]).pin == "0123"          # leading zero
    assert parse(["-p", "12345678"]).pin == "12345678"  # 8 digits
    assert parse(["-n", "12"]).pdn == 12                 # two digits
    with pytest.raises(UsageError):
        parse(["-p", "123"])


def test_password_defaults_to_chap_like_the_c_tool():
    assert parse(["-s", "apn", "u", "p"]).auth == "chap"


def test_trailing_ampersand_and_unsupported():
    assert parse(["-s", "apn", "&"]).apn == "apn"
    assert parse(["-s", "apn", "-b", "-m", "4"]).unsupported == ["-b (bridge mode)"]
    assert parse(["-p", "qmi-proxy"]).unsupported


def test_m_selects_the_qmap_mux_of_one_pdn():
    options = parse(["-n", "2", "-m", "2", "-s", "corp.example"])
    assert (options.pdn, options.mux, options.apn, options.unsupported) == (2, 2, "corp.example", [])
    for bad in (["-m"], ["-m", "0"], ["-m", "127"], ["-m", "x"]):
        with pytest.raises(UsageError):
            parse(bad)


def test_log_lines_keep_the_familiar_format():
    lines = []
    log = QuectelLog()
    lines += log.lines(ev.ModemFound("d", "1-1.2", "2c7c:0125", "/dev/cdc-wdm0", "wwan0", "qmi_wwan", "6.1", "qmi"))
    lines += log.lines(ev.Registered(ev.Registration("registered", True, mcc=302, mnc=720, rat="lte")))
    lines += log.lines(ev.CallStarted(4, 0x8723E780))
    assert lines[0] == "Find /sys/bus/usb/devices/1-1.2 idVendor=0x2c7c idProduct=0x125"
    assert "Auto find qmichannel = /dev/cdc-wdm0" in lines
    assert "requestRegistrationState2 MCC: 302, MNC: 720, PS: Attached, DataCap: LTE" in lines
    assert "requestSetupDataCall WdsConnectionIPv4Handle: 0x8723e780" in lines
    profile = log.lines(ev.ProfileChecked(1, "apn", "carl", "chap", "ipv4", True))
    assert profile == ["requestSetProfile[1] apn/###/###/2", "requestGetProfile[1] apn/###/###/2"]
