"""The MBIM catalogue: valid data, personal fields marked, status and NwError named, versions."""

import json

import pytest

from qcm.mbim.catalogue import CATALOGUE_DIR, CatalogueError, catalogue, load
from qcm.mbim.layout import DecodeError, EncodeError, StructFormat, has_personal
from qcm.mbim.message import MbimError, build, decode, describe_status

C = catalogue()


def test_whole_catalogue_validates():
    loaded = load(validate=True)
    names = {(c.service.nick, c.key) for c in loaded.commands()}
    for wanted in ("device_caps", "subscriber_ready_status", "radio_state", "pin", "home_provider", "register_state",
                   "packet_service", "signal_state", "connect", "provisioned_contexts", "ip_configuration",
                   "device_services", "device_service_subscribe_list"):
        assert ("basic-connect", wanted) in names
    for wanted in (("ms-basic-connect-extensions", "version"), ("ms-basic-connect-extensions", "device_caps"),
                   ("quectel", "radio_state"), ("proxy-control", "configuration"), ("proxy-control", "version")):
        assert wanted in names


def test_mbimex_layouts_where_libmbim_has_them():
    assert C.command("basic-connect", "Register State").versions("response") == (1, 2)
    assert C.command("basic-connect", "Packet Service").versions("notification") == (1, 2, 3)
    assert C.command("basic-connect", "Connect").versions("set") == (1, 3)
    assert C.command("ms-basic-connect-extensions", "Device Caps").versions("response") == (1, 3)
    connect = C.command("basic-connect", "Connect")
    assert connect.layout("set", 2) is connect.layout("set", 1) or connect.layout("set", 2).name == connect.layout("set", 1).name
    assert "v3" in connect.layout("set", 3).name


def personal_keys(layout, prefix=""):
    out = set()
    for f in layout.fields:
        if f.format.personal:
            out.add(prefix + f.key)
        elif isinstance(f.format, StructFormat):
            out |= personal_keys(f.format.layout, prefix + f.key + ".")
    return out


def test_personal_fields_are_marked():
    marked = set()
    for command in C.commands():
        for kind in command.kinds:
            for version in (1, 2, 3):
                layout = command.layout(kind, version)
                if layout is not None:
                    marked |= {"%s.%s" % (command.key, k) for k in personal_keys(layout)}
    for wanted in ("device_caps.device_id", "subscriber_ready_status.subscriber_id",
                   "subscriber_ready_status.sim_icc_id", "subscriber_ready_status.telephone_numbers", "pin.pin",
                   "pin.new_pin", "connect.user_name", "connect.password",
                   "provisioned_contexts.provisioned_contexts.user_name", "provisioned_contexts.password"):
        assert wanted in marked, wanted
    assert not has_personal(C.command("basic-connect", "Register State").layout("response").fields[0].format)


def test_status_codes_and_nw_errors_are_named_with_meanings():
    status = C.enum("MbimStatusError")
    for code in (0, 1, 2, 3, 5, 7, 12, 16, 18, 19, 20, 28):
        assert status.names[code] and status.meanings[code]
    nw = C.enum("MbimNwError")
    for code in (27, 29, 33, 50, 51):
        assert nw.meanings[code]
    assert describe_status(18).startswith("status 18 invalid-access-string: ")


def test_failure_response_explains_status_and_nw_error():
    connect = C.command("basic-connect", "Connect")
    frame = build(connect, "response", 4, {"session_id": 0, "activation_state": "deactivated", "nw_error": 27},
                  status=18)
    message = decode(frame)
    assert not message.ok
    with pytest.raises(MbimError) as caught:
        message.raise_for_status()
    assert "invalid-access-string" in str(caught.value) and "missing-or-unknown-apn" in str(caught.value)
    assert caught.value.code == 18
    empty = decode(build(connect, "response", 4, None, status=2))
    assert empty.values == {} and empty.problems == ()


def test_decoding_bad_buffers_reports_instead_of_raising():
    caps = C.command("basic-connect", "Device Caps")
    good = build(caps, "response", 1, {"device_id": "866758045439136"})
    bad = good.__class__(good.type, good.transaction, good.service, good.cid, status=0,
                         buffer=good.buffer[:40] + b"\xff\xff\xff\x7f\x10\x00\x00\x00" + good.buffer[48:])
    message = decode(bad)
    assert message.problems and "DeviceId" in message.problems[0]
    huge_count = C.command("basic-connect", "IP Configuration").layout("response")
    with pytest.raises(DecodeError):
        huge_count.decode(b"\x00" * 12 + b"\xff\xff\xff\xff" + b"\x3c\x00\x00\x00" + b"\x00" * 40)
    unknown = decode(good.__class__(good.type, 1, bytes(16), 1, buffer=b"abcd"))
    assert unknown.definition is None and "undecoded" in unknown.problems[0]


def test_encoding_is_strict():
    connect = C.command("basic-connect", "Connect")
    with pytest.raises(EncodeError):
        build(connect, "set", 1, {"bogus": 1})
    with pytest.raises(EncodeError):
        build(connect, "set", 1, {"session_id": -1})
    with pytest.raises(EncodeError):
        build(connect, "set", 1, {"context_type": "not-a-uuid"})
    services = C.command("basic-connect", "Device Services")
    with pytest.raises(EncodeError):
        build(services, "response", 1, {"device_services_count": 3, "device_services": []})
    with pytest.raises(EncodeError):
        build(C.command("basic-connect", "Device Caps"), "set", 1, {})


def test_bad_catalogue_data_is_refused(tmp_path):
    (tmp_path / "common.json").write_text((CATALOGUE_DIR / "common.json").read_text())
    (tmp_path / "bad.json").write_text(json.dumps({
        "service": {"name": "Bad", "uuid": "00000000-0000-0000-0000-000000000001"},
        "commands": [{"name": "X", "cid": 1, "query": [["A", "u32<NoSuchEnum>"]]}]}))
    with pytest.raises(CatalogueError):
        load(tmp_path)
    (tmp_path / "bad.json").write_text(json.dumps({
        "service": {"name": "Bad", "uuid": "00000000-0000-0000-0000-000000000001"},
        "commands": [{"name": "X", "cid": 1, "query": [["Items", "str[Count]"], ["Count", "u32"]]}]}))
    with pytest.raises(CatalogueError):
        load(tmp_path)
