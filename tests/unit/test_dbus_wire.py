"""The D-Bus wire protocol without a bus: marshalling every type qcm meets, message framing in any split,
limits on what a peer may send, authentication lines; and the layering rule (no I/O in it). The bus itself
(dbus-daemon, dbus-monitor, busctl) checks our bytes in tests/e2e/test_modemmanager.py."""

import struct

import pytest
from hypothesis import given, settings, strategies as st

from qcm.dbus import wire
from qcm.dbus.wire import Message, MessageParser, Variant, WireError, encode, marshal, split_signature, unmarshal


def test_signatures_split_into_complete_types():
    assert split_signature("sb") == ["s", "b"]
    assert split_signature("a{oa{sa{sv}}}u(ias)") == ["a{oa{sa{sv}}}", "u", "(ias)"]
    for bad in ("a", "(", "()", "a{vs}", "a{sss}", "z", "(i", "a" * 40 + "i"):
        with pytest.raises(WireError):
            split_signature(bad)


def test_marshalling_follows_the_alignment_rules():
    # a string: u32 length, bytes, NUL; then a boolean aligned to 4
    assert marshal("sb", ("ab", True)) == b"\x02\x00\x00\x00ab\x00\x00\x01\x00\x00\x00"
    # an array of structs: the length excludes the padding to the first struct (8)
    data = marshal("a(yu)", ([(1, 2)],))
    assert data[:4] == struct.pack("<I", 8) and data[4:8] == b"\0\0\0\0" and data[8:] == b"\x01\0\0\0\x02\0\0\0"
    assert marshal("v", (Variant("s", "x"),)) == b"\x01s\x00\x00\x01\x00\x00\x00x\x00"
    properties = ({"Device": Variant("s", "/sys/x"), "Ports": Variant("a(su)", [("cdc-wdm0", 2)])}, [])
    assert unmarshal("a{sv}a{ss}", marshal("a{sv}a{ss}", (properties[0], {}))) == (properties[0], {})


values = st.recursive(
    st.one_of(st.tuples(st.just("s"), st.text(alphabet=st.characters(blacklist_characters="\0",
                                                                      blacklist_categories=("Cs",)), max_size=20)),
              st.tuples(st.just("u"), st.integers(0, 2 ** 32 - 1)), st.tuples(st.just("x"), st.integers(-2 ** 63, 2 ** 63 - 1)),
              st.tuples(st.just("b"), st.booleans()), st.tuples(st.just("y"), st.integers(0, 255)),
              st.tuples(st.just("d"), st.floats(allow_nan=False)), st.tuples(st.just("n"), st.integers(-2 ** 15, 2 ** 15 - 1))),
    lambda inner: st.one_of(
        st.tuples(st.just("v"), inner).map(lambda t: ("v", Variant(t[1][0], t[1][1]))),
        inner.flatmap(lambda t: st.lists(st.just(t[1]), max_size=3).map(lambda items: ("a" + t[0], items))),
        st.lists(inner, min_size=1, max_size=3).map(lambda items: ("(%s)" % "".join(i[0] for i in items),
                                                                    tuple(i[1] for i in items)))),
    max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.lists(values, min_size=1, max_size=4), st.integers(0, 7))
def test_every_value_comes_back_as_it_went(items, offset):
    signature = "".join(kind for kind, _ in items)
    body = tuple(value for _, value in items)
    assert unmarshal(signature, marshal(signature, body)) == body
    message = Message(wire.METHOD_RETURN, 9, reply_serial=3, destination=":1.2", signature=signature, body=body)
    data = encode(message)
    parser = MessageParser()
    found = []
    for start in range(0, len(data), offset + 1):  # any split
        found += parser.feed(data[start:start + offset + 1])
    assert len(found) == 1 and found[0].body == body and found[0].reply_serial == 3


def test_a_peer_cannot_make_qcm_allocate_or_recurse_without_bound():
    header = bytearray(encode(Message(wire.SIGNAL, 1, path="/a", interface="a.b", member="C")))
    huge = bytes(header)
    huge = huge[:4] + struct.pack("<I", 1 << 30) + huge[8:]  # a body of a gigabyte
    with pytest.raises(WireError):
        MessageParser().feed(huge)
    with pytest.raises(WireError):
        MessageParser().feed(b"B" + bytes(header[1:]))  # big-endian: not what the bus sends us
    with pytest.raises(WireError):
        unmarshal("au", struct.pack("<I", 1 << 28))  # an array longer than the data
    with pytest.raises(WireError):
        unmarshal("b", struct.pack("<I", 2))  # a boolean that is neither
    with pytest.raises(WireError):
        unmarshal("s", struct.pack("<I", 1) + b"a\x01")  # no NUL after the string
    with pytest.raises(WireError):
        unmarshal("v", b"\x02ii\x00")  # a variant of two types


def test_authentication_lines():
    assert wire.auth_begin(0) == b"\0AUTH EXTERNAL 30\r\n"
    assert wire.auth_begin(1000) == b"\0AUTH EXTERNAL 31303030\r\n"
    assert wire.auth_reply(b"OK 1234deadbeef\r\n") == b"BEGIN\r\n"
    with pytest.raises(wire.AuthRejected):
        wire.auth_reply(b"REJECTED EXTERNAL\r\n")


def test_the_wire_protocol_does_no_io():
    from test_layering import graph, io_reached
    assert io_reached("qcm.dbus.wire", graph()) == {}


def test_modemmanagers_uid_is_found_by_the_modules_ports():
    from qcm.connect.modemmanager import device_uid
    from qcm.modules import Modem
    modem = Modem(usb_path="1-1.2", vendor_id=0x2C7C, product_id=0x0125, manufacturer="", product="", model="",
                  mode="qmi", driver="qmi_wwan", driver_version="", interface=4, control="/dev/cdc-wdm1",
                  netdev="wwan1", raw_ip=True, at_port="/dev/ttyUSB6")
    interface = "org.freedesktop.ModemManager1.Modem"
    objects = {"/m/0": {interface: {"Device": Variant("s", "/sys/a"), "Ports": Variant("a(su)", [("cdc-wdm0", 2)])}},
               "/m/1": {interface: {"Device": Variant("s", "/sys/b"), "PrimaryPort": Variant("s", "cdc-wdm1")}},
               "/m/2": {"org.freedesktop.DBus.Properties": {}}}
    assert device_uid(objects, modem) == "/sys/b"
    assert device_uid({}, modem) is None
