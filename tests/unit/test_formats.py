"""The format language: parsing, strict encoding, tolerant decoding."""

import ipaddress

import pytest

from qcm.qmi.formats import (DecodeError, EncodeError, Enum, FormatSyntaxError, IntFormat, StructFormat,
                             parse_format)

ENUMS = {"Color": Enum("Color", {0: "red", 1: "green"}), "Bits": Enum("Bits", {1: "a", 2: "b"}, flags=True),
         "Fam.green": Enum("Fam.green", {5: "five"})}


def encode(spec, value):
    out = bytearray()
    parse_format(spec, ENUMS).encode(value, out)
    return bytes(out)


def decode(spec, data):
    value, end = parse_format(spec, ENUMS).decode(data, 0, len(data))
    assert end == len(data)
    return value


@pytest.mark.parametrize("spec,value,raw", [
    ("u8", 7, b"\x07"), ("u16", 0x1234, b"\x34\x12"), ("u32", 1, b"\1\0\0\0"), ("i8", -1, b"\xff"),
    ("i16", -2, b"\xfe\xff"), ("u16be", 0x1234, b"\x12\x34"), ("bool", True, b"\x01"),
    ("ipv4", ipaddress.IPv4Address("10.0.0.2"), b"\x02\x00\x00\x0a"),
    ("ipv6", ipaddress.IPv6Address("2001:db8::1"), bytes.fromhex("20010db8000000000000000000000001")),
    ("str", "abc", b"abc"), ("str8", "ab", b"\x02ab"), ("str16", "ab", b"\x02\x00ab"), ("str(3)", "01", b"01\x00"),
    ("bytes", b"\x00\x01", b"\x00\x01"), ("[u8]u8", [1, 2], b"\x02\x01\x02"), ("[u16]u8", [9], b"\x01\x00\x09"),
    ("[2]u16", [1, 2], b"\x01\x00\x02\x00"), ("{A: u8, B Name: str8}", {"a": 1, "b_name": "x"}, b"\x01\x01x"),
])
def test_layouts(spec, value, raw):
    assert encode(spec, value) == raw
    assert decode(spec, raw) == value


def test_ipv4_is_little_endian_number_as_libqmi_lays_it_out():
    assert encode("ipv4", "100.64.0.2") == bytes([2, 0, 64, 100])


def test_fixed_string_reads_0xff_padding():
    assert decode("str(3)", b"24\xff") == "24"


def test_enums_named_but_tolerant():
    value = decode("u8<Color>", b"\x01")
    assert value == 1 and value.name == "green"
    unknown = decode("u8<Color>", b"\x09")
    assert unknown == 9 and unknown.name == "unknown-9"
    assert encode("u8<Color>", "green") == b"\x01"
    with pytest.raises(EncodeError, match="not a value of Color"):
        encode("u8<Color>", "blue")


def test_flags():
    value = decode("u8<Bits>", b"\x07")
    assert value.names == ["a", "b", "0x4"]
    assert encode("u8<Bits>", ["a", "b"]) == b"\x03"


def test_enum_chosen_by_sibling():
    value = decode("{Type: u8<Color>, Reason: u8<Fam[Type]>}", b"\x01\x05")
    assert value["reason"].name == "five"
    assert decode("{Type: u8<Color>, Reason: u8<Fam[Type]>}", b"\x00\x05")["reason"] == 5  # no names: a number


@pytest.mark.parametrize("spec,value", [("u8", 256), ("i8", -129), ("u8", "x"), ("u8", True), ("bool", 2),
                                        ("str8", "x" * 256), ("str(2)", "abc"), ("ipv4", "300.1.1.1"),
                                        ("{A: u8}", {"a": 1, "b": 2}), ("{A: u8}", {}), ("[2]u8", [1]),
                                        ("str", b"bytes"), ("bytes", "text")])
def test_strict_encoding(spec, value):
    with pytest.raises(EncodeError):
        encode(spec, value)


@pytest.mark.parametrize("spec,raw", [("u16", b"\x01"), ("str8", b"\x05ab"), ("[u8]u16", b"\x02\x01\x00"),
                                      ("ipv6", b"\x00" * 15), ("{A: u8, B: u32}", b"\x01\x02")])
def test_short_input_is_a_decode_error(spec, raw):
    with pytest.raises(DecodeError):
        parse_format(spec, ENUMS).decode(raw, 0, len(raw))


@pytest.mark.parametrize("spec", ["u7", "{A u8}", "[x]u8", "u8<Nope>", "{A: str, B: u8}", "[u8]str", "u8 u8", "{"])
def test_syntax_errors(spec):
    with pytest.raises(FormatSyntaxError):
        parse_format(spec, ENUMS)


def test_spec_round_trips():
    spec = "{Status: u8<Color>, Names: [u8]str8!, Reason: i16<Fam[Status]>}"
    fmt = parse_format(spec, ENUMS)
    assert fmt.spec() == spec
    assert isinstance(fmt, StructFormat) and fmt.fields[1].format.element.personal  # "!" binds to str8
    assert isinstance(fmt.fields[2].format, IntFormat)
