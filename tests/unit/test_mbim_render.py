"""MBIM summaries, JSON and text with personal data hidden, redacted hex; MBIM told from QMUX."""

import json

from qcm.mbim.catalogue import catalogue
from qcm.mbim.detect import guess_protocol
from qcm.mbim.framing import Frame, FrameParser, FUNCTION_ERROR, OPEN
from qcm.mbim.message import build, decode, decode_stream
from qcm.mbim.render import redacted_hex, summary, to_json, to_text
from qcm.qmi.catalogue import catalogue as qmi_catalogue
from qcm.qmi.message import build as qmi_build

C = catalogue()
IMEI = "866758045439136"
IMSI = "302720123456789"
ICCID = "89302720401234567890"


def ready_status():
    return decode(build(C.command("basic-connect", "Subscriber Ready Status"), "response", 3, {
        "ready_state": "initialized", "subscriber_id": IMSI, "sim_icc_id": ICCID, "telephone_numbers": ["+15550100123"]}))


def utf16_hex(text):
    return text.encode("utf-16-le").hex(" ")


def test_summaries():
    assert summary(decode(Frame(OPEN, 1, max_control_transfer=4096))) == "-> MBIM open transaction 1 max-control-transfer 4096"
    assert summary(ready_status()) == (
        "<- MBIM Basic Connect Subscriber Ready Status response (cid 2) transaction 3 status none")
    assert summary(decode(Frame(FUNCTION_ERROR, 7, status=5))) == "<- MBIM function-error transaction 7 error not-opened"


def test_personal_data_hidden_everywhere_unless_asked():
    message = ready_status()
    for text in ("\n".join(to_text(message)), json.dumps(to_json(message)), redacted_hex(message)):
        for secret in (IMSI, ICCID, "+15550100123"):
            assert secret not in text
        for secret in (IMSI, ICCID):
            assert utf16_hex(secret) not in text
    assert "###" in "\n".join(to_text(message)) and "## ##" in redacted_hex(message)
    shown = "\n".join(to_text(message, show_personal=True))
    assert IMSI in shown and ICCID in shown
    assert utf16_hex(IMSI) in redacted_hex(message, show_personal=True)


def test_pin_user_and_password_hidden():
    pin = decode(build(C.command("basic-connect", "Pin"), "set", 1, {"pin_type": "pin1", "pin": "0123"}))
    assert utf16_hex("0123") not in redacted_hex(pin) and "0123" not in json.dumps(to_json(pin))
    connect = decode(build(C.command("basic-connect", "Connect"), "set", 1, {
        "access_string": "internet", "user_name": "alice", "password": "s3cret"}, version=3), 3)
    text = "\n".join(to_text(connect)) + redacted_hex(connect)
    assert "alice" not in text and "s3cret" not in text and utf16_hex("s3cret") not in text
    assert "internet" in text  # the APN is not personal


def test_enum_meanings_and_names_in_text_and_json():
    register = decode(build(C.command("basic-connect", "Register State"), "notification", 0, {
        "register_state": "denied", "nw_error": 11}))
    text = "\n".join(to_text(register))
    assert "register state: denied (6) - the network denied registration" in text
    assert "plmn-not-allowed" in text and "this mobile network is not allowed" in text
    data = to_json(register)
    assert data["fields"]["register_state"]["name"] == "denied" and data["kind"] == "notification"


def test_qmi_over_mbim_is_decoded_and_redacted_by_the_qmi_catalogue():
    qmux = qmi_build(qmi_catalogue().method("DMS", "Get IDs"), "response", 1, 2, {"imei": IMEI})
    message = decode(build(C.command("qmi", "Msg"), "response", 4, {"qmux": qmux}))
    text = "\n".join(to_text(message))
    assert "Get IDs" in text and IMEI not in text
    assert IMEI.encode().hex(" ") not in redacted_hex(message)
    assert to_json(message)["qmi"]["message"] == "Get IDs"


def test_undecodable_buffer_of_a_personal_layout_is_hidden_in_hex():
    good = build(C.command("basic-connect", "Subscriber Ready Status"), "response", 3, {"subscriber_id": IMSI})
    broken = Frame(good.type, 3, good.service, good.cid, buffer=good.buffer[:8] + b"\xff\xff\x00\x00" + good.buffer[12:])
    message = decode(broken)
    assert message.problems
    assert utf16_hex(IMSI) not in redacted_hex(message)


def test_decode_stream_follows_the_agreed_version():
    version = C.command("ms-basic-connect-extensions", "Version")
    connect = C.command("basic-connect", "Connect")
    stream = (build(version, "response", 1, {"mbim_version": 0x100, "mbim_extended_version": 0x300}).encode()
              + b"junk" + build(connect, "response", 2, {"session_id": 0, "access_string": "internet"}, version=3).encode())
    items = decode_stream(stream)
    assert items[-1].version == 3 and items[-1]["access_string"] == "internet"
    assert any(not hasattr(item, "frame") for item in items)  # the junk, reported
    cut = decode_stream(stream[:-5])
    assert cut[-1].reason == "incomplete message at the end" and len(cut[-1].discarded) == len(stream[:-5]) - len(
        stream[:stream.index(b"junk") + 4])


def test_guess_protocol():
    mbim = build(C.command("basic-connect", "Device Caps"), "query", 1).encode()
    qmux = qmi_build(qmi_catalogue().method("DMS", "Get Revision"), "request", 1, 2)
    assert guess_protocol(mbim) == "mbim"
    assert guess_protocol(qmux) == "qmi"
    assert guess_protocol(b"garbage" + mbim + mbim + b"more") == "mbim"
    assert guess_protocol(qmux + b"\x00" + qmux) == "qmi"
    assert guess_protocol(b"") == "unknown" and guess_protocol(b"\x01\x02\x03") == "unknown"
    open_message = Frame(OPEN, 1, max_control_transfer=4096).encode()  # starts 01 00: not a QMUX frame
    assert guess_protocol(open_message) == "mbim"
    parser = FrameParser()
    parser.feed(open_message)
    assert parser.events()[0].max_control_transfer == 4096
