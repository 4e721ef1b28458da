"""The MBIM host core: transaction ids, matching, indications, timeouts, fragments, version."""

from qcm.mbim import framing
from qcm.mbim.catalogue import catalogue
from qcm.mbim.client import (ClientCore, FramingProblem, FunctionErrorReceived, IndicationReceived, RequestTimedOut,
                             ResponseReceived, UnexpectedMessage, VersionAgreed)
from qcm.mbim.framing import Frame, FrameParser
from qcm.mbim.message import build, decode

C = catalogue()
CAPS = C.command("basic-connect", "Device Caps")
CONNECT = C.command("basic-connect", "Connect")


def sent(core):
    parser = FrameParser()
    for piece in core.frames_to_send():
        parser.feed(piece)
    return parser.events()


def test_open_then_command_numbers_transactions_from_one():
    core = ClientCore()
    opening = core.open(now=0.0, timeout=5)
    caps = core.request(CAPS, "query", None, now=0.0, timeout=5)
    frames = sent(core)
    assert [f.transaction for f in frames] == [1, 2]
    assert frames[0].type == framing.OPEN and frames[0].max_control_transfer == 4096
    events = core.receive_data(Frame(framing.OPEN_DONE, 1, status=0).encode(), now=0.1)
    assert isinstance(events[0], ResponseReceived) and events[0].pending is opening and events[0].message.ok
    answer = build(CAPS, "response", 2, {"device_id": "866758045439136", "firmware_info": "EC25"})
    (event,) = core.receive_data(answer.encode(), now=0.2)
    assert isinstance(event, ResponseReceived) and event.pending is caps
    assert event.message["firmware_info"] == "EC25"
    assert core.next_deadline() is None


def test_answers_nobody_waits_for_are_unexpected():
    core = ClientCore()
    core.request(CAPS, "query", None, 0.0, 5)
    core.frames_to_send()
    wrong_cid = build(CONNECT, "response", 1, {"session_id": 0})
    assert isinstance(core.receive_data(wrong_cid.encode(), 0.1)[0], UnexpectedMessage)
    late = build(CAPS, "response", 99, {})
    assert isinstance(core.receive_data(late.encode(), 0.1)[0], UnexpectedMessage)


def test_indications_and_function_errors():
    core = ClientCore()
    pending = core.request(CAPS, "query", None, 0.0, 5)
    notice = build(C.command("basic-connect", "Register State"), "notification", 0, {"register_state": "searching"})
    (event,) = core.receive_data(notice.encode(), 0.1)
    assert isinstance(event, IndicationReceived) and event.message["register_state"].name == "searching"
    error = Frame(framing.FUNCTION_ERROR, pending.transaction, status=framing.NOT_OPENED)
    (event,) = core.receive_data(error.encode(), 0.2)
    assert isinstance(event, FunctionErrorReceived) and event.pending is pending
    assert "not-opened" in str(_raise(event.message))


def _raise(message):
    try:
        message.raise_for_status()
    except Exception as exc:  # MbimError
        return exc
    return None


def test_timeouts_are_events():
    core = ClientCore()
    pending = core.request(CAPS, "query", None, now=10.0, timeout=5)
    assert core.next_deadline() == 15.0
    assert core.expire(14.9) == []
    (event,) = core.expire(15.0)
    assert isinstance(event, RequestTimedOut) and event.pending is pending
    assert core.next_deadline() is None


def test_long_requests_leave_in_fragments_of_the_agreed_size():
    core = ClientCore(max_control_transfer=128)
    core.request(C.command("proxy-control", "Configuration"), "set", {"device_path": "/dev/" + "x" * 300, "timeout": 15},
                 0.0, 5)
    pieces = core.frames_to_send()
    assert len(pieces) > 1 and all(len(p) <= 128 for p in pieces)
    parser = FrameParser()
    parser.feed(b"".join(pieces))
    (frame,) = parser.events()
    assert decode(frame)["device_path"] == "/dev/" + "x" * 300


def test_out_of_sequence_fragments_are_answered_with_host_error():
    core = ClientCore()
    pending = core.request(C.command("basic-connect", "Device Services"), "query", None, 0.0, 5)
    core.frames_to_send()
    big = build(C.command("basic-connect", "Device Services"), "response", pending.transaction, {"device_services": [
        {"device_service_id": "basic-connect", "cids": list(range(1, 200))}]})
    pieces = big.fragments(256)
    events = core.receive_data(pieces[0] + pieces[2], 0.1)
    assert isinstance(events[0], FramingProblem)
    (host_error,) = sent(core)
    assert host_error.type == framing.HOST_ERROR and host_error.status == framing.FRAGMENT_OUT_OF_SEQUENCE
    assert host_error.transaction == pending.transaction


def test_fragments_that_stop_arriving_expire_with_the_requests():
    core = ClientCore()
    pending = core.request(C.command("basic-connect", "Device Services"), "query", None, 0.0, 30)
    core.frames_to_send()
    big = build(C.command("basic-connect", "Device Services"), "response", pending.transaction, {"device_services": [
        {"device_service_id": "basic-connect", "cids": list(range(1, 200))}]})
    assert core.receive_data(big.fragments(256)[0], now=1.0) == []
    assert core.next_deadline() == 1.0 + framing.FRAGMENT_TIMEOUT
    events = core.expire(3.0)
    assert isinstance(events[0], FramingProblem) and events[0].error.protocol_error == framing.TIMEOUT_FRAGMENT


def test_version_agreed_switches_layouts():
    core = ClientCore()
    version = C.command("ms-basic-connect-extensions", "Version")
    pending = core.request(version, "query", {"mbim_version": 0x0100, "mbim_extended_version": 0x0300}, 0.0, 5)
    core.frames_to_send()
    answer = build(version, "response", pending.transaction, {"mbim_version": 0x0100, "mbim_extended_version": 0x0300})
    events = core.receive_data(answer.encode(), 0.1)
    assert isinstance(events[1], VersionAgreed) and events[1].version == 3 and core.version == 3
    core.request(CONNECT, "set", {"session_id": 0, "activation_command": "activate", "access_string": "internet",
                                  "media_preference": "3gpp"}, 0.2, 5)
    (frame,) = sent(core)
    assert decode(frame, 3)["access_string"] == "internet" and decode(frame, 3).problems == ()
    assert decode(frame, 1).values.get("access_string") != "internet"


def test_device_answering_a_lower_version_wins_and_proxy_notice_is_honoured():
    core = ClientCore()
    version = C.command("ms-basic-connect-extensions", "Version")
    pending = core.request(version, "query", {"mbim_version": 0x0100, "mbim_extended_version": 0x0300}, 0.0, 5)
    answer = build(version, "response", pending.transaction, {"mbim_version": 0x0100, "mbim_extended_version": 0x0200})
    core.receive_data(answer.encode(), 0.1)
    assert core.version == 2
    notice = build(C.command("proxy-control", "Version"), "notification", 0,
                   {"mbim_version": 0x0100, "mbim_extended_version": 0x0300})
    events = core.receive_data(notice.encode(), 0.2)
    assert isinstance(events[-1], VersionAgreed) and core.version == 3


def test_transaction_ids_wrap_to_one_and_skip_ids_in_flight():
    core = ClientCore()
    first = core.request(CAPS, "query", None, 0.0, 5)
    core._next_id = 0xFFFFFFFF
    assert core.request(CAPS, "query", None, 0.0, 5).transaction == 0xFFFFFFFF
    assert core.request(CAPS, "query", None, 0.0, 5).transaction == first.transaction + 1
    assert len(core.abandon_all()) == 3
