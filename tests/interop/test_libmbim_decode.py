"""Messages our encoder builds, decoded by libmbim itself (libmbim-glib through ctypes), for
every layout of the catalogue and every MBIMEx version where the layout changes; and
byte-exact agreement with messages libmbim's own builders produce."""

import pytest
from hypothesis import HealthCheck, given, settings

from libmbim import available, built_by_libmbim, cases, fields, for_layout, header, printable
from qcm.mbim.catalogue import catalogue
from qcm.mbim.framing import Frame, FrameParser
from qcm.mbim.message import build, decode
from qcm.mbim.render import to_text

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(not available(), reason="libmbim-glib4 is not installed (scripts/setup installs it)")]

CASES = cases(list(catalogue().commands()))
ALIASES = {"SimClass": "SmsClass"}  # libmbim's name for this field of MS Device Caps (v1)
PCO = (13,)  # unnamed IEs libmbim knows how to print


def printed_with(definition, kind, version):
    """MS Basic Connect Extensions VERSION exists from MBIMEx 2.0 on: libmbim prints it only then."""
    return max(version, 2) if definition.key == "version" and definition.service.nick.startswith("ms-") else version


@pytest.mark.parametrize("definition,kind,version", CASES,
                         ids=["%s-%s-%s-v%d" % (c.service.nick, c.key, k, v) for c, k, v in CASES])
def test_libmbim_reads_every_layout(definition, kind, version):
    """Any valid value set: libmbim names the service, the command and every field as we do and
    reads each one without an error."""
    layout = definition.layout(kind, version)

    @settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(for_layout(layout, PCO))
    def check(values):
        raw = build(definition, kind, 5, values, version=version).encode()
        text = printable(raw, printed_with(definition, kind, version))
        assert "Unsupported message" not in text, text
        top = header(text)
        assert top["service"].startswith("'%s'" % definition.service.nick), text
        assert "(0x%08x)" % definition.cid in top["cid"], text
        printed = fields(text)
        ours = [f.name for f in layout.fields]
        assert [ALIASES.get(n, n) if ALIASES.get(n) in printed else n for n in ours] == list(printed), text
        for name, value in printed.items():
            assert not value.startswith("'n/a") and not value.startswith("n/a"), (name, text)
    check()


def view(command, kind, values, version=1, service="basic-connect"):
    definition = catalogue().command(service, command)
    return fields(printable(build(definition, kind, 9, values, version=version).encode(), version))


def test_values_as_libmbim_reads_them():
    config = view("IP Configuration", "response", {
        "session_id": 0, "ipv4_configuration_available": ["address", "gateway", "dns", "mtu"],
        "ipv4_address": [{"on_link_prefix_length": 30, "ipv4_address": "100.64.0.2"}], "ipv4_gateway": "100.64.0.1",
        "ipv4_dns_server": ["198.51.100.53", "198.51.100.54"], "ipv4_mtu": 1500,
        "ipv6_address": [{"on_link_prefix_length": 64, "ipv6_address": "2001:db8:4000::1002"}],
        "ipv6_gateway": "2001:db8:4000::1", "ipv6_dns_server": ["2001:db8:100::53"], "ipv6_mtu": 1500})
    assert config["IPv4ConfigurationAvailable"] == "'address, gateway, dns, mtu'"
    assert config["IPv4Gateway"] == "'100.64.0.1'"
    assert config["IPv4DnsServer"] == "'198.51.100.53, 198.51.100.54'"
    assert config["IPv6Gateway"] == "'2001:db8:4000::1'"
    assert config["IPv4Mtu"] == "'1500'"

    connect = view("Connect", "set", {"session_id": 0, "activation_command": "activate", "access_string": "internet",
                                      "user_name": "alice", "password": "s3cret", "auth_protocol": "chap",
                                      "ip_type": "ipv4v6", "context_type": "internet"})
    assert connect["AccessString"] == "'internet'" and connect["UserName"] == "'alice'"
    assert connect["AuthProtocol"] == "'chap'" and connect["IpType"] == "'ipv4v6'"
    assert connect["ContextType"] == "'7e5e2a7e-4e6f-7272-736b-656e7e5e2a7e'"

    v3 = view("Connect", "response", {"session_id": 0, "activation_state": "activated", "ip_type": "ipv4",
                                      "context_type": "internet", "nw_error": 0, "media_preference": "3gpp",
                                      "access_string": "internet"}, version=3)
    assert v3["ActivationState"] == "'activated'" and v3["MediaPreference"] == "'3gpp'"

    register = view("Register State", "response", {"register_state": "denied", "nw_error": 11,
                                                   "provider_id": "302720", "provider_name": "Rogers"})
    assert register["RegisterState"] == "'denied'" and register["NwError"] == "'plmn-not-allowed'"
    assert register["ProviderName"] == "'Rogers'"

    radio = view("Radio State", "response", {"radio_state": "fcc-locked"}, service="quectel")
    assert radio["RadioState"] == "'fcc-locked'"


BASIC = "a289cc33-bcbb-8b4f-b6b0-133ec2aae6df"
INTERNET = "7e5e2a7e-4e6f-7272-736b-656e7e5e2a7e"
OTHER = "00010203-0405-0607-0809-0a0b0c0d0e0f"

# (our service, command, kind, MBIMEx version, values) and libmbim's builder with its arguments.
BUILDERS = [
    (("basic-connect", "Pin", "set", 1, {"pin_type": "pin1", "pin_operation": "enter", "pin": "123", "new_pin": ""}),
     ("pin_set", 2, 0, "123", "")),
    (("basic-connect", "Connect", "set", 1, {"session_id": 0, "activation_command": "activate", "access_string": "apn",
                                            "user_name": "user", "password": "pass", "compression": "none",
                                            "auth_protocol": "chap", "ip_type": "ipv4-and-ipv6", "context_type": INTERNET}),
     ("connect_set", 0, 1, "apn", "user", "pass", 0, 2, 4, INTERNET)),
    (("basic-connect", "Connect", "set", 3, {"session_id": 0, "activation_command": "activate", "compression": "none",
                                            "auth_protocol": "pap", "ip_type": "ipv4v6", "context_type": INTERNET,
                                            "media_preference": "unknown", "access_string": "internet",
                                            "user_name": "abc", "password": ""}),
     ("ms_basic_connect_v3_connect_set", 0, 1, 0, 1, 3, INTERNET, 0, "internet", "abc", "", None)),
    (("basic-connect", "Connect", "query", 3, {"session_id": 3}), ("ms_basic_connect_v3_connect_query", 3)),
    (("basic-connect", "Connect", "query", 1, {"session_id": 3, "context_type": INTERNET}),
     ("connect_query", 3, 0, 0, 0, INTERNET, 0)),
    (("basic-connect", "IP Configuration", "query", 1, {"session_id": 2}),
     ("ip_configuration_query", 2, 0, 0, 0, None, 0, None, None, None, 0, None, 0, None, 0, 0)),
    (("basic-connect", "Radio State", "set", 1, {"radio_state": "on"}), ("radio_state_set", 1)),
    (("basic-connect", "Packet Service", "set", 1, {"packet_service_action": "attach"}), ("packet_service_set", 0)),
    (("basic-connect", "Register State", "set", 1, {"provider_id": "", "register_action": "automatic", "data_class": 0}),
     ("register_state_set", "", 0, 0)),
    (("ms-basic-connect-extensions", "Version", "query", 2, {"mbim_version": 0x0100, "mbim_extended_version": 0x0300}),
     ("ms_basic_connect_extensions_v2_version_query", 0x0100, 0x0300)),
    (("proxy-control", "Configuration", "set", 1, {"device_path": "/dev/cdc-wdm0", "timeout": 15}),
     ("proxy_control_configuration_set", "/dev/cdc-wdm0", 15)),
    (("quectel", "Radio State", "set", 1, {"radio_state": "on"}), ("quectel_radio_state_set", 1)),
    (("basic-connect", "Device Service Subscribe List", "set", 1,
      {"events": [{"device_service_id": BASIC, "cids": [2, 9, 12]}, {"device_service_id": OTHER, "cids": []}]}),
     ("device_service_subscribe_list_set", 2, [(BASIC, [2, 9, 12]), (OTHER, [])])),
]


@pytest.mark.parametrize("ours,theirs", BUILDERS, ids=["%s-%s-%s-v%d" % row[0][:4] for row in BUILDERS])
def test_byte_exact_with_libmbim_builders(ours, theirs):
    service, command, kind, version, values = ours
    definition = catalogue().command(service, command)
    assert build(definition, kind, 0, values, version=version).encode().hex(" ") == \
        built_by_libmbim(*theirs).hex(" ")


def test_libmbim_and_we_both_hide_personal_data():
    definition = catalogue().command("basic-connect", "Device Caps")
    raw = build(definition, "response", 1, {"device_id": "866758045439136", "firmware_info": "EC25"}).encode()
    assert "866758045439136" not in printable(raw, show_personal=False)
    parser = FrameParser()
    parser.feed(raw)
    (frame,) = parser.events()
    assert isinstance(frame, Frame)
    text = "\n".join(to_text(decode(frame)))
    assert "866758045439136" not in text and "###" in text
