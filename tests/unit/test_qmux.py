"""QMUX framing: every split point, garbage anywhere, oversize and truncated frames."""

import pytest

from qcm.qmi.qmux import NEED_DATA, Frame, FrameParser, FramingError

DMS_RESPONSE = Frame(2, 1, "response", 5, 0x0023, ((0x02, b"\0\0\0\0"), (0x01, b"EC25EFAR06A11M4G")))
CTL_REQUEST = Frame(0, 0, "request", 7, 0x0022, ((0x01, b"\x01"),))
WDS_INDICATION = Frame(1, 0xFF, "indication", 0, 0x0022, ((0x01, b"\x02\x00"),))
CTL_EMPTY = Frame(0, 0, "request", 1, 0x0027, ())


def feed_all(parser, data, chunks):
    events = []
    for chunk in chunks:
        parser.feed(data[chunk[0]:chunk[1]])
        events += parser.events()
    return events


@pytest.mark.parametrize("frame", [DMS_RESPONSE, CTL_REQUEST, WDS_INDICATION, CTL_EMPTY])
def test_round_trip(frame):
    parser = FrameParser()
    parser.feed(frame.encode())
    assert parser.next_event() == frame
    assert parser.next_event() is NEED_DATA


def test_known_bytes():
    # CTL Allocate CID request for WDS, as libqmi's test fixture builds it (trid 1)
    raw = bytes.fromhex("010f0000000000012200040001010001")
    parser = FrameParser()
    parser.feed(raw)
    frame = parser.next_event()
    assert frame == Frame(0, 0, "request", 1, 0x0022, ((0x01, b"\x01"),))
    assert frame.encode() == raw


def test_every_split_point_of_two_frames():
    data = DMS_RESPONSE.encode() + CTL_REQUEST.encode()
    for cut in range(len(data) + 1):
        for cut2 in range(cut, len(data) + 1, 7):
            parser = FrameParser()
            events = feed_all(parser, data, [(0, cut), (cut, cut2), (cut2, len(data))])
            assert events == [DMS_RESPONSE, CTL_REQUEST], (cut, cut2)


def test_byte_by_byte():
    data = CTL_EMPTY.encode() + WDS_INDICATION.encode() + DMS_RESPONSE.encode()
    parser = FrameParser()
    events = feed_all(parser, data, [(i, i + 1) for i in range(len(data))])
    assert events == [CTL_EMPTY, WDS_INDICATION, DMS_RESPONSE]


@pytest.mark.parametrize("garbage", [b"\x00", b"\xff\xfe\x7e", b"AT\r\nOK\r\n", b"\x01", b"\x01\x02\x03\x04\x05\x06\x07",
                                     b"\x01\xff\xff\x00\x02\x01\x02\x05\x00\x23\x00\x1a\x00"])
def test_garbage_before_between_after(garbage):
    data = garbage + DMS_RESPONSE.encode() + garbage + CTL_REQUEST.encode() + garbage + WDS_INDICATION.encode()
    parser = FrameParser()
    parser.feed(data)
    events = parser.events()
    frames = [e for e in events if isinstance(e, Frame)]
    errors = [e for e in events if isinstance(e, FramingError)]
    assert frames == [DMS_RESPONSE, CTL_REQUEST, WDS_INDICATION]
    assert errors and sum(len(e.discarded) for e in errors) >= 2 * len(garbage) - 1
    # trailing garbage is either reported or waits as a possible frame start, never raises
    parser.feed(garbage)
    parser.events()


def test_garbage_inside_a_frame_loses_only_that_frame():
    good = DMS_RESPONSE.encode()
    broken = good[:9] + b"\x99\x99" + good[9:]
    parser = FrameParser()
    parser.feed(broken + CTL_REQUEST.encode())
    events = parser.events()
    assert [e for e in events if isinstance(e, Frame)][-1] == CTL_REQUEST
    assert any(isinstance(e, FramingError) for e in events)


def test_oversize_frame_is_refused_without_waiting():
    parser = FrameParser(max_frame_size=256)
    big = Frame(1, 1, "response", 1, 0x2D, ((0x10, b"x" * 400),)).encode()
    parser.feed(big[:20])
    event = parser.next_event()
    assert isinstance(event, FramingError) and "oversize" in event.reason
    parser.feed(big[20:] + CTL_REQUEST.encode())
    assert [e for e in parser.events() if isinstance(e, Frame)] == [CTL_REQUEST]


def test_truncated_tlv_is_reported_and_skipped():
    good = DMS_RESPONSE.encode()
    # claim a TLV longer than the frame holds while the frame lengths stay consistent
    bad = bytearray(good)
    bad[14] = 0x20  # length of the Result TLV
    parser = FrameParser()
    parser.feed(bytes(bad) + CTL_REQUEST.encode())
    events = parser.events()
    assert isinstance(events[0], FramingError) and "TLV" in events[0].reason
    assert events[1] == CTL_REQUEST


def test_lengths_that_disagree():
    good = bytearray(CTL_REQUEST.encode())
    good[10] += 1  # SDU TLV length no longer matches the QMUX length
    parser = FrameParser()
    parser.feed(bytes(good) + DMS_RESPONSE.encode())
    events = parser.events()
    assert isinstance(events[0], FramingError)
    assert events[-1] == DMS_RESPONSE


def test_incomplete_frame_waits():
    data = DMS_RESPONSE.encode()
    parser = FrameParser()
    parser.feed(data[:-1])
    assert parser.next_event() is NEED_DATA
    assert parser.buffered == len(data) - 1
    parser.feed(data[-1:])
    assert parser.next_event() == DMS_RESPONSE


def test_ctl_transaction_is_8_bit():
    with pytest.raises(ValueError):
        Frame(0, 0, "request", 256, 0x22, ()).encode()


def test_compound_and_qmux_flags_preserved():
    frame = Frame(2, 3, "response", 0x1234, 0x23, ((2, b"\0" * 4),), qmux_flags=0x00, compound=True)
    parser = FrameParser()
    parser.feed(frame.encode())
    assert parser.next_event() == frame


def test_random_bytes_never_raise():
    import random
    rng = random.Random(7)
    parser = FrameParser(max_frame_size=1024)
    for _ in range(300):
        parser.feed(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))))
        for event in parser.events():
            assert isinstance(event, (Frame, FramingError))
