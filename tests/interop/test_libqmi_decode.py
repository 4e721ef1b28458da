"""Frames our encoder builds, decoded by libqmi itself (libqmi-glib through ctypes)."""

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings

from libqmi import parse, printable
from qcm.qmi.catalogue import INDICATION, REQUEST, RESPONSE, catalogue
from qcm.qmi.message import build
from strategies import for_message

pytestmark = pytest.mark.interop

CASES = [(m, kind) for m in catalogue().messages()
         for kind in ((INDICATION,) if m.is_indication else (REQUEST, RESPONSE))
         if m.service.name != "CTL" or m.id < 0xFF00]


def libqmi_view(definition, kind, values, error=0):
    raw = build(definition, kind, 0 if definition.service.id == 0 else 3, 5, values, error=error)
    return parse(printable(raw))


@pytest.mark.parametrize("definition,kind", CASES, ids=["%s-%s-%s" % (m.service.name, m.key, k) for m, k in CASES])
def test_libqmi_accepts_every_message(definition, kind):
    """Any valid value set: libqmi names the message and every TLV as we do, and reads each one."""
    @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(for_message(definition, kind))
    def check(values):
        header, tlvs = libqmi_view(definition, kind, values)
        assert header["message"].startswith('"%s"' % definition.name) or header["message"].endswith(
            "(0x%04x)" % definition.id), header
        ours = {t.type: t.name for t in definition.tlvs(kind)}
        for name, number, translated in tlvs:
            assert number in ours
            assert "ERROR" not in translated, (name, translated)
    check()


def translated(definition, kind, values, error=0):
    return {name: text for name, _, text in libqmi_view(definition, kind, values, error)[1]}


def test_values_as_libqmi_reads_them():
    c = catalogue()
    start = translated(c.method("WDS", "Start Network"), REQUEST, {
        "apn": "internet", "username": "alice", "password": "s3cret", "authentication_preference": ["pap", "chap"],
        "ip_family_preference": 6, "profile_index_3gpp": 1})
    assert start == {"APN": "internet", "Username": "alice", "Password": "s3cret",
                     "Authentication Preference": "pap, chap", "IP Family Preference": "ipv6",
                     "Profile Index 3GPP": "1"}

    rejected = translated(c.method("WDS", "Start Network"), RESPONSE, {
        "call_end_reason": "gsm-wcdma-unknown-apn", "verbose_call_end_reason": {"type": "3gpp", "reason": 27}},
        error=0x0E)
    assert rejected["Result"] == "FAILURE: CallFailed"
    assert rejected["Call End Reason"] == "gsm-wcdma-unknown-apn"
    assert rejected["Verbose Call End Reason"] == "[ type = '3gpp' reason = '27' ]"

    settings_ = translated(c.method("WDS", "Get Current Settings"), RESPONSE, {
        "ipv4_address": "100.64.0.2", "mtu": 1500, "ip_family": 4})
    # libqmi prints the IPv4 u32 as a number: the same number as ours
    assert settings_["IPv4 Address"] == str(int(ipaddress.IPv4Address("100.64.0.2")))
    assert settings_["MTU"] == "1500"
    assert settings_["IP Family"] == "ipv4"

    serving = translated(c.method("NAS", "Get Serving System"), RESPONSE, {
        "serving_system": {"registration_state": "registered", "cs_attach_state": "attached",
                           "ps_attach_state": "attached", "selected_network": "3gpp", "radio_interfaces": ["lte"]},
        "current_plmn": {"mcc": 302, "mnc": 720, "description": "Rogers"}})
    assert "registration_state = 'registered'" in serving["Serving System"]
    assert serving["Current PLMN"] == "[ mcc = '302' mnc = '720' description = 'Rogers' ]"

    data_format = translated(c.method("WDA", "Set Data Format"), REQUEST, {
        "link_layer_protocol": "raw-ip", "downlink_data_aggregation_protocol": "qmap",
        "endpoint_info": {"endpoint_type": "hsusb", "interface_number": 4}})
    assert data_format["Link Layer Protocol"] == "raw-ip"
    assert data_format["Downlink Data Aggregation Protocol"] == "qmap"
    assert data_format["Endpoint Info"] == "[ endpoint_type = 'hsusb' interface_number = '4' ]"

    pin = translated(c.method("UIM", "Verify PIN"), REQUEST, {
        "session": {"session_type": "card-slot-1", "application_identifier": []},
        "info": {"pin_id": "pin1", "pin_value": "0123"}})
    assert pin["Info"] == "[ pin_id = 'pin1' pin_value = '0123' ]"


def test_libqmi_and_we_both_hide_personal_data():
    from qcm.qmi.message import decode
    from qcm.qmi.qmux import FrameParser
    from qcm.qmi.render import to_text
    definition = catalogue().method("DMS", "Get IDs")
    raw = build(definition, RESPONSE, 1, 1, {"imei": "866758045439136"})
    assert "866758045439136" not in printable(raw, show_personal=False)
    parser = FrameParser()
    parser.feed(raw)
    text = "\n".join(to_text(decode(parser.next_event())))
    assert "866758045439136" not in text and "###" in text
