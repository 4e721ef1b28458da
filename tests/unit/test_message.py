"""Messages: strict build, tolerant decode, redaction in text, JSON and hex."""

import json

import pytest

from qcm.qmi.catalogue import catalogue
from qcm.qmi.formats import EncodeError
from qcm.qmi.message import QmiError, build, decode
from qcm.qmi.qmux import Frame, FrameParser
from qcm.qmi.render import redacted_hex, to_json, to_text


def parse(raw):
    parser = FrameParser()
    parser.feed(raw)
    return decode(parser.next_event())


def test_unknown_value_names_are_errors_when_building():
    with pytest.raises(EncodeError, match="has no TLV named"):
        build(catalogue().method("WDS", "Start Network"), "request", 1, 1, {"apnn": "internet"})


def test_failure_result_raises_with_a_named_error():
    message = parse(build(catalogue().method("WDS", "Get Profile List"), "response", 1, 1, error=0x5E))
    assert not message.ok
    with pytest.raises(QmiError, match="QMUXError 0x5e NotSupported"):
        message.raise_for_result()


def test_unknown_and_malformed_tlvs_are_kept():
    frame = Frame(2, 1, "response", 3, 0x0023, ((2, b"\0\0\0\0"), (1, b"REV"), (0x7A, b"\x01\x02")))
    message = decode(frame)
    assert message["revision"] == "REV"
    assert message.unknown_tlvs() == ((0x7A, b"\x01\x02"),)
    broken = decode(Frame(2, 1, "response", 3, 0x002D, ((2, b"\0\0\0\0"), (0x01, b""))))
    assert "mode" not in broken and broken.problems
    text = "\n".join(to_text(broken))
    assert "!" in text and "raw" in text


def test_unknown_message_still_shows_its_result():
    message = decode(Frame(0x42, 1, "response", 3, 0x0999, ((2, b"\x01\x00\x47\x00"),)))
    assert message.definition is None and message.result.error.name == "InvalidQmiCommand"


def test_personal_data_is_redacted_everywhere_unless_asked():
    definition = catalogue().method("WDS", "Start Network")
    message = parse(build(definition, "request", 4, 9, {"apn": "internet", "username": "alice", "password": "s3cret"}))
    text = "\n".join(to_text(message))
    data = json.dumps(to_json(message))
    hexdump = redacted_hex(message)
    for secret in ("alice", "s3cret"):
        assert secret not in text and secret not in data
    assert "s3cret".encode().hex(" ") not in hexdump and "##" in hexdump
    assert "internet" in text
    assert "s3cret" in "\n".join(to_text(message, show_personal=True))
    assert "s3cret".encode().hex(" ") in redacted_hex(message, show_personal=True)


def test_pin_inside_a_struct_is_redacted():
    definition = catalogue().method("UIM", "Verify PIN")
    message = parse(build(definition, "request", 4, 9, {
        "session": {"session_type": "card-slot-1", "application_identifier": []},
        "info": {"pin_id": "pin1", "pin_value": "0123"}}))
    assert "0123" not in json.dumps(to_json(message))
    assert "pin1" in json.dumps(to_json(message))


def test_a_malformed_personal_tlv_is_not_shown_raw():
    from qcm.qmi.qmux import Frame
    definition = catalogue().method("UIM", "Verify PIN")
    broken = Frame(0x0B, 1, "request", 1, definition.id, ((0x02, b"\x01\x05" + b"1234"),))  # length says 5, has 4
    message = decode(broken)
    assert message.problems
    assert "31323334" not in json.dumps(to_json(message)) and "1234" not in "\n".join(to_text(message))
