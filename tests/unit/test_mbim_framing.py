"""MBIM framing: any split, fragments in and out of order, garbage, caps; never raises."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcm.mbim import framing
from qcm.mbim.framing import (COMMAND, COMMAND_DONE, FRAGMENT_OUT_OF_SEQUENCE, INDICATE_STATUS, NEED_DATA,
                              TIMEOUT_FRAGMENT, Frame, FrameParser, FramingError, uuid_bytes)

BASIC = uuid_bytes("a289cc33-bcbb-8b4f-b6b0-133ec2aae6df")


def messages():
    return [
        Frame(framing.OPEN, 1, max_control_transfer=4096),
        Frame(framing.OPEN_DONE, 1, status=0),
        Frame(COMMAND, 2, BASIC, 1, command_type=framing.QUERY),
        Frame(COMMAND_DONE, 2, BASIC, 1, status=0, buffer=bytes(range(64))),
        Frame(INDICATE_STATUS, 0, BASIC, 9, buffer=b"\x01\x00\x00\x00" * 5),
        Frame(COMMAND, 3, BASIC, 12, command_type=framing.SET, buffer=b"\xaa" * 300),
        Frame(framing.FUNCTION_ERROR, 4, status=framing.NOT_OPENED),
        Frame(framing.HOST_ERROR, 5, status=3),
        Frame(framing.CLOSE, 6),
        Frame(framing.CLOSE_DONE, 6, status=0),
    ]


def parse(data, **kwargs):
    parser = FrameParser(**kwargs)
    parser.feed(data)
    return parser.events(), parser


def test_every_type_round_trips():
    for frame in messages():
        events, parser = parse(frame.encode())
        assert events == [frame]
        assert parser.buffered == 0


def test_header_layout_is_libmbim_s():
    # libmbim test-message.c: OPEN with MaxControlTransfer 4096, transaction 1
    assert Frame(framing.OPEN, 1, max_control_transfer=4096).encode() == bytes.fromhex(
        "01000000 10000000 01000000 00100000")
    # an empty Basic Connect Device Caps query
    assert Frame(COMMAND, 1, BASIC, 1).encode() == bytes.fromhex(
        "03000000 30000000 01000000 01000000 00000000 a289cc33bcbb8b4fb6b0133ec2aae6df 01000000 00000000 00000000")


def test_any_split_of_a_stream_gives_the_same_messages():
    wanted = messages()
    stream = b"".join(f.encode() for f in wanted[:6]) + b"".join(wanted[5].fragments(128)) + b"".join(
        f.encode() for f in wanted[6:])
    expected = wanted[:6] + [wanted[5]] + wanted[6:]
    for cut in range(1, len(stream)):
        parser = FrameParser()
        got = []
        for piece in (stream[:cut], stream[cut:]):
            parser.feed(piece)
            got += parser.events()
        assert got == expected, cut
    parser = FrameParser()  # and one byte at a time
    got = []
    for byte in stream:
        parser.feed(bytes([byte]))
        got += parser.events()
    assert got == expected


def test_outgoing_fragments_fit_the_transfer_size_and_reassemble():
    frame = Frame(COMMAND_DONE, 7, BASIC, 16, buffer=bytes(range(256)) * 20)
    pieces = frame.fragments(512)
    assert len(pieces) > 1 and all(len(p) <= 512 for p in pieces)
    totals = {int.from_bytes(p[12:16], "little") for p in pieces}
    assert totals == {len(pieces)}
    assert [int.from_bytes(p[16:20], "little") for p in pieces] == list(range(len(pieces)))
    events, _ = parse(b"".join(pieces))
    assert events == [frame]
    assert frame.fragments(4096)[0] == frame.encode() or len(frame.encode()) > 4096
    with pytest.raises(ValueError):
        frame.fragments(32)


def test_fragments_out_of_order_are_reported_and_the_stream_recovers():
    frame = Frame(INDICATE_STATUS, 0, BASIC, 9, buffer=bytes(400))
    pieces = frame.fragments(128)
    assert len(pieces) >= 4
    swapped = [pieces[0], pieces[2], pieces[1]] + pieces[3:]
    after = Frame(COMMAND_DONE, 9, BASIC, 1)
    events, parser = parse(b"".join(swapped) + after.encode())
    errors = [e for e in events if isinstance(e, FramingError)]
    assert errors and errors[0].protocol_error == FRAGMENT_OUT_OF_SEQUENCE
    assert "out of sequence" in errors[0].reason
    assert events[-1] == after
    assert frame not in events


def test_missing_fragments_reported_when_another_message_starts():
    first = Frame(COMMAND_DONE, 3, BASIC, 16, buffer=bytes(300)).fragments(128)
    second = Frame(COMMAND_DONE, 4, BASIC, 16, buffer=bytes(300))
    events, _ = parse(first[0] + first[1] + b"".join(second.fragments(128)))
    assert isinstance(events[0], FramingError) and events[0].transaction == 3
    assert "lost fragments" in events[0].reason
    assert events[1] == second


def test_fragment_without_its_first_is_reported():
    pieces = Frame(COMMAND_DONE, 3, BASIC, 16, buffer=bytes(300)).fragments(128)
    events, _ = parse(pieces[1])
    assert len(events) == 1 and isinstance(events[0], FramingError)
    assert events[0].protocol_error == FRAGMENT_OUT_OF_SEQUENCE


def test_fragments_that_stop_arriving_time_out():
    pieces = Frame(COMMAND_DONE, 3, BASIC, 16, buffer=bytes(300)).fragments(128)
    parser = FrameParser(fragment_timeout=1.25)
    parser.feed(pieces[0], now=10.0)
    assert parser.events() == []
    assert parser.next_deadline() == pytest.approx(11.25)
    assert parser.expire(11.0) == []
    expired = parser.expire(11.3)
    assert len(expired) == 1 and expired[0].protocol_error == TIMEOUT_FRAGMENT and expired[0].transaction == 3
    assert parser.next_deadline() is None


def test_garbage_is_skipped_and_reported():
    good = Frame(COMMAND_DONE, 2, BASIC, 1, buffer=b"\x01\x02\x03\x04")
    events, parser = parse(b"hello" + good.encode() + b"\xff\xfe" + good.encode() + b"\x00\x00")
    frames = [e for e in events if isinstance(e, Frame)]
    errors = [e for e in events if isinstance(e, FramingError)]
    assert frames == [good, good]
    assert b"".join(e.discarded for e in errors) == b"hello\xff\xfe\x00\x00"
    assert parser.buffered == 0


def test_a_bad_length_after_a_type_does_not_stall_the_stream():
    good = Frame(framing.OPEN_DONE, 1, status=0)
    events, _ = parse(bytes.fromhex("03000000 05000000 01000000") + good.encode())
    assert events[-1] == good
    assert any(isinstance(e, FramingError) and "shorter than its header" in e.reason for e in events)
    # an information buffer longer than its message: skipped at once, not waited for
    bad = bytearray(Frame(COMMAND_DONE, 2, BASIC, 1, buffer=b"abcd").encode())
    bad[44:48] = (1000).to_bytes(4, "little")
    events, _ = parse(bytes(bad) + good.encode())
    assert events[-1] == good


def test_size_caps():
    huge = bytes.fromhex("03000080") + (0x7FFFFFFF).to_bytes(4, "little") + bytes(4)
    events, parser = parse(huge, max_message_size=4096)
    assert isinstance(events[0], FramingError) and "oversize" in events[0].reason
    assert parser.buffered < 16
    big = Frame(COMMAND_DONE, 8, BASIC, 16, buffer=bytes(5000))
    events, _ = parse(b"".join(big.fragments(1024)), max_message_size=4096)
    assert isinstance(events[0], FramingError) and "exceeds" in events[0].reason
    assert all(isinstance(e, FramingError) for e in events)  # the rest of it is dropped too, and said so


def test_need_data_until_whole():
    parser = FrameParser()
    data = Frame(COMMAND_DONE, 2, BASIC, 1, buffer=bytes(40)).encode()
    parser.feed(data[:30])
    assert parser.next_event() is NEED_DATA
    parser.feed(data[30:])
    assert isinstance(parser.next_event(), Frame)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(1, 64), max_size=8))
def test_never_raises_and_always_drains(data, cuts):
    parser = FrameParser(max_message_size=2048)
    position = 0
    for cut in cuts + [len(data)]:
        parser.feed(data[position:position + cut], now=float(position))
        position += cut
        for event in parser.events():
            assert isinstance(event, (Frame, FramingError))
    parser.expire(1e9)
    assert parser.buffered <= len(data)
