"""QMAP framing (qcm.qmi.qmap): what qmi_wwan's qmimux and rmnet put on the wire and read back."""

from hypothesis import given, settings, strategies as st

from qcm.qmi import qmap

IP4 = bytes.fromhex("4500001c000040004001") + bytes(18)   # a 28-byte IPv4 header-only packet
IP6 = bytes.fromhex("6000000000003a40") + bytes(32)


def test_v1_header_as_the_kernel_lays_it_out():
    frame = qmap.encode(0x81, IP4[:27])               # 27 bytes: one byte of padding to 4
    assert frame[:4] == bytes([0x01, 0x81, 0x00, 28])  # pad length 1, mux id, length with the padding
    assert frame[4:31] == IP4[:27] and frame[31:] == b"\0"
    assert qmap.encode(0x82, IP4, align=1)[:4] == bytes([0, 0x82, 0, 28])  # qmimux_start_xmit: no padding


def test_v5_carries_its_checksum_header_outside_the_length():
    frame = qmap.encode(0x81, IP4, version=5, checksum=True)
    assert frame[0] & qmap.NEXT_HEADER and frame[2:4] == (28).to_bytes(2, "big")
    assert frame[4] >> 1 == qmap.CSUM_OFFLOAD and frame[5] & 0x80
    packets, problem = qmap.decode(frame, 5)
    assert problem is None and packets == [qmap.QmapPacket(0x81, IP4, checksum_valid=True)]


def test_aggregation_respects_the_agreed_sizes():
    items = [(0x81, IP4), (0x82, IP6), (0x81, IP6)] * 5
    transfers = qmap.aggregate(items, max_size=100, max_datagrams=2)
    assert all(len(t) <= 100 for t in transfers)
    decoded = [(p.mux_id, p.payload) for t in transfers for p in qmap.decode(t)[0]]
    assert decoded == items
    assert len(qmap.aggregate(items, max_datagrams=32)) == 1


def test_decoding_follows_qmi_wwans_demuxer():
    command = bytes([0x80, 0x81, 0, 4]) + b"\x01\x02\x03\x04"   # a MAP command: skipped by qmimux
    bad_padding = bytes([0x08, 0x81, 0, 4]) + bytes(4)          # pad >= length: skipped
    good = qmap.encode(0x83, IP6)
    packets, problem = qmap.decode(command + bad_padding + good)
    assert [p.mux_id for p in packets if not p.command] == [0x83] and "padding" in problem
    assert [p.command for p in packets] == [True, False]
    truncated = good[:-3]
    assert qmap.decode(truncated) == ([], "a packet of %d bytes runs past the end of the transfer" % len(IP6))
    assert qmap.decode(good + b"\x00\x81")[1] == "2 stray bytes after the last packet"


def test_version_names():
    assert [qmap.version_of(n) for n in ("qmap", "qmapv4", "qmapv5", "disabled")] == [1, 4, 5, None]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([1, 5]))
def test_decode_never_raises(data, version):
    packets, problem = qmap.decode(data, version)
    assert all(isinstance(p.payload, bytes) for p in packets)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 254), st.binary(min_size=1, max_size=300)), max_size=8),
       st.sampled_from([1, 5]), st.integers(0, 8))
def test_round_trip(items, version, padding):
    transfers = qmap.aggregate(items, version=version, min_padding=padding, max_size=512)
    assert [(p.mux_id, p.payload) for t in transfers for p in qmap.decode(t, version)[0]] == items
