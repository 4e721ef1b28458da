"""The compiled codec: the fast paths give what the plain reading of a format gives, errors still
name the field, what is kept between frames is bounded and never shared with callers, and the
catalogue makes its enums only when they are used."""

import ipaddress
import json

import pytest

from qcm.qmi.catalogue import CATALOGUE_DIR, CatalogueError, catalogue, load
from qcm.qmi.formats import DecodeError, EncodeError, Enum, parse_format
from qcm.qmi.message import build, build_frame, decode
from qcm.qmi.qmux import Frame, FrameParser, parse_tlvs

ENUMS = {"Color": Enum("Color", {0: "red", 1: "green"}), "Fam.green": Enum("Fam.green", {5: "five"}),
         "Big": Enum("Big", {70000: "huge", 1: "one"})}


def encode(spec, value):
    out = bytearray()
    parse_format(spec, ENUMS).encode(value, out)
    return bytes(out)


def decode_value(spec, data):
    value, end = parse_format(spec, ENUMS).decode(data, 0, len(data))
    assert end == len(data)
    return value


@pytest.mark.parametrize("spec,value,raw", [
    ("{A: u16be, B: u16, C: u16be}", {"a": 1, "b": 2, "c": 3}, b"\x00\x01\x02\x00\x00\x03"),  # byte orders
    ("{A: u8, B: bool, C: ipv4, D: i16}", {"a": 1, "b": True, "c": ipaddress.IPv4Address("192.0.2.1"), "d": -2},
     b"\x01\x01\x01\x02\x00\xc0\xfe\xff"),
    ("{A: u8, S: str8, B: u32}", {"a": 7, "s": "x", "b": 9}, b"\x07\x01x\x09\x00\x00\x00"),
    ("[u8]i16", [-1, 2], b"\x02\xff\xff\x02\x00"), ("[3]u8", [1, 2, 3], b"\x01\x02\x03"),
    ("[u8]{A: u8, B: u16}", [{"a": 1, "b": 2}], b"\x01\x01\x02\x00"),
])
def test_runs_of_numbers_read_and_written_in_one_go_mean_the_same(spec, value, raw):
    assert encode(spec, value) == raw
    assert decode_value(spec, raw) == value


def test_names_in_any_spelling_and_enum_values_still_encode():
    assert encode("{T: u8<Color>, N: u8}", {"t": "GREEN", "n": 1}) == b"\x01\x01"
    color = decode_value("u8<Color>", b"\x01")
    assert encode("{T: u8<Color>, N: u8}", {"t": color, "n": 1}) == b"\x01\x01"
    assert encode("[u8]u8<Color>", ["green", 0]) == b"\x02\x01\x00"


@pytest.mark.parametrize("spec,value,message", [
    ("{A: u8, B: u16}", {"a": 1, "b": 70000}, "70000 does not fit in u16"),
    ("{A: u8, B: u16}", {"a": True, "b": 1}, "u8 expects an integer"),
    ("{A: u8, B: u16}", {"a": 1, "b": "x"}, "u16 expects an integer"),
    ("{A: u8<Color>, B: u8}", {"a": "blue", "b": 1}, "not a value of Color"),
    ("{A: u16<Big>}", {"a": "huge"}, "70000 does not fit in u16"),  # a name whose number does not fit
    ("[u8]u8", [1, True], "u8 expects an integer"), ("[u8]u8", [1, 256], "256 does not fit in u8"),
    ("[2]i8", [1, -200], "-200 does not fit in i8"),
])
def test_the_fast_paths_refuse_what_the_format_refuses(spec, value, message):
    with pytest.raises(EncodeError, match=message):
        encode(spec, value)


@pytest.mark.parametrize("spec,raw,message", [
    ("{A: u8, B: u32}", b"\x01\x02\x03", "u32 needs 4 bytes at offset 1, only 2 left"),
    ("[u8]u16", b"\x02\x01\x00\x02", "u16 needs 2 bytes at offset 3, only 1 left"),
    ("{A: u8, B: str8}", b"\x01\x05ab", "string needs 5 bytes at offset 2, only 2 left"),
])
def test_short_input_names_the_field_that_does_not_fit(spec, raw, message):
    with pytest.raises(DecodeError, match=message):
        parse_format(spec, ENUMS).decode(raw, 0, len(raw))


def test_an_enum_chosen_by_a_later_field_is_not_chosen():
    value = decode_value("{Reason: u8<Fam[Type]>, Type: u8<Color>}", b"\x05\x01")
    assert value["reason"] == 5 and not hasattr(value["reason"], "name")


def test_kept_enum_values_are_bounded_and_right_beyond_the_bound():
    enum = Enum("Wide", {1: "one"})
    fmt = parse_format("u32<Wide>", {"Wide": enum})
    for number in range(1000):
        value, _ = fmt.decode(number.to_bytes(4, "little"), 0, 4)
        assert value == number and value.name == ("one" if number == 1 else "unknown-%d" % number)
    kept = enum.wrapper().__self__  # the memo behind the bound __getitem__
    assert len(kept) <= 256


def test_kept_addresses_are_bounded_and_bad_text_is_refused_every_time():
    fmt = parse_format("ipv4")
    for number in range(600):
        out = bytearray()
        fmt.encode("100.64.%d.%d" % divmod(number, 256), out)
        assert fmt.decode(bytes(out), 0, 4)[0] == ipaddress.IPv4Address("100.64.%d.%d" % divmod(number, 256))
    for _ in range(2):
        with pytest.raises(EncodeError):
            fmt.encode("300.1.1.1", bytearray())


def test_decoded_values_are_the_callers_own():
    settings = catalogue().method("WDS", "Get Current Settings")
    raw = build(settings, "response", 1, 7, {"ipv6_address": {"address": "2001:db8::1", "prefix_length": 64},
                                             "pcscf_domain_name_list": ["a"]})
    first, second = (decode(_frame(raw)) for _ in range(2))
    first.values["ipv6_address"]["prefix_length"] = 0
    first.values["pcscf_domain_name_list"].append("b")
    assert second["ipv6_address"]["prefix_length"] == 64 and second["pcscf_domain_name_list"] == ["a"]


def _frame(raw):
    parser = FrameParser()
    parser.feed(raw)
    return parser.next_event()


@pytest.mark.parametrize("error", [0, 0x5E, 0x0E, 0x5E, 0])
def test_result_tlv_follows_the_error_each_time(error):
    definition = catalogue().method("WDS", "Start Network")
    raw = build(definition, "response", 1, 7, {"packet_data_handle": 5}, error=error)
    assert raw == build_frame(definition, "response", 1, 7, {"packet_data_handle": 5}, error=error).encode()
    message = decode(_frame(raw))
    assert message.result.error == error and message.ok == (error == 0)
    assert message.frame.tlvs[0][0] == 0x02  # the Result TLV first, as libqmi sends it


def test_result_tlv_given_by_the_caller_or_left_out():
    definition = catalogue().method("DMS", "Get Revision")
    given = decode(_frame(build(definition, "response", 1, 7, {"result": {"error_status": 1, "error_code": 3}})))
    assert given.result.error == 3
    assert decode(_frame(build(definition, "response", 1, 7, {"result": None}))).result is None
    with pytest.raises(EncodeError, match="Result"):
        build(definition, "response", 1, 7, error=0x10000)


def test_a_tlv_too_long_for_its_length_field_is_an_encode_error():
    definition = catalogue().method("DMS", "Get Revision")
    with pytest.raises(EncodeError, match="do not fit a TLV"):
        build(definition, "response", 1, 7, {"revision": "x" * 0x10000})


def test_unknown_keys_are_named_even_when_none():
    definition = catalogue().method("DMS", "Get Revision")
    with pytest.raises(EncodeError, match="no TLV named nope"):
        build(definition, "response", 1, 7, {"nope": None})


def test_tlvs_split_from_any_bytes_like_are_bytes():
    area = b"\x01\x02\x00ab\x02\x00\x00"
    for data in (area, bytearray(area), memoryview(area)):
        assert parse_tlvs(data) == ((1, b"ab"), (2, b""))
        assert all(type(value) is bytes for _, value in parse_tlvs(data))
    assert parse_tlvs(b"\x01\x05\x00ab") is None


def test_frames_from_the_parser_and_from_the_constructor_are_the_same():
    frame = Frame(1, 7, "response", 0x1234, 0x20, ((2, b"\0\0\0\0"),), qmux_flags=0x81, compound=True)
    parsed = _frame(frame.encode())
    assert parsed == frame and hash(parsed) == hash(frame) and repr(parsed) == repr(frame)
    with pytest.raises(AttributeError):
        parsed.service = 2


def _catalogue_dir(tmp_path, enums):
    common = json.loads((CATALOGUE_DIR / "common.json").read_text())
    (tmp_path / "common.json").write_text(json.dumps(common))
    (tmp_path / "x.json").write_text(json.dumps({"service": {"name": "X", "id": 99}, "enums": enums, "messages": [
        {"name": "A", "id": 1, "request": [["0x01", "V", "u8<Used>"]], "response": []}]}))
    return tmp_path


def test_enums_are_made_on_first_use_and_validated_on_request(tmp_path):
    directory = _catalogue_dir(tmp_path, {"Used": {"1": "one"}, "Broken": {"1": "same", "2": "SAME"}})
    lazy = load(directory, validate=False)
    assert "Broken" in lazy.enums and len(lazy.enums) == len(set(lazy.enums))
    assert build(lazy.method("X", "A"), "request", 1, 1, {"v": "one"})
    with pytest.raises(CatalogueError, match="duplicate names"):
        lazy.enum("Broken")
    with pytest.raises(CatalogueError, match="duplicate names"):
        load(directory)


def test_an_enum_defined_twice_is_refused_even_without_validation(tmp_path):
    directory = _catalogue_dir(tmp_path, {"QmiService": {"1": "wds"}})
    with pytest.raises(CatalogueError, match="defined twice"):
        load(directory, validate=False)


def test_the_packaged_catalogue_validates():
    validated = load()
    assert len(validated.enums) == len(catalogue().enums)
    for name in catalogue().enums:
        assert validated.enum(name).names == catalogue().enum(name).names


def test_client_requests_are_the_frames_build_makes_and_responses_find_them():
    from qcm.qmi.client import ClientCore, ResponseReceived

    core = ClientCore()
    definition = catalogue().method("WDS", "Start Network")
    pending = core.request(definition, 7, {"apn": "internet"}, now=0.0, timeout=5.0)
    (raw,) = core.frames_to_send()
    assert raw == build(definition, "request", 7, pending.transaction, {"apn": "internet"})
    assert decode(_frame(raw))["apn"] == "internet"
    (event,) = core.receive_data(build(definition, "response", 7, pending.transaction, {"packet_data_handle": 9}))
    assert isinstance(event, ResponseReceived) and event.pending is pending and event.message["packet_data_handle"] == 9
