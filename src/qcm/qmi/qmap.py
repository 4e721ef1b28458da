"""QMAP (Qualcomm's MAP) framing, sans I/O: how several PDNs share one data link.

Every IP packet gets a 4-byte header naming its mux id; several packets go in one transfer
(aggregation). All integers are big-endian (Linux ``include/linux/if_rmnet.h``, rmnet.rst)::

    byte 0: C/D (0x80: a MAP command) | next header (0x40, QMAPv5) | pad length (0x3f)
    byte 1: mux id (1-254)
    byte 2-3: length of what follows, padding included, the v5 header excluded
    [QMAPv5: 4-byte header: type (bits 7-1; 2 = checksum offload) | next (bit 0); valid (bit 7); 2 reserved]
    IP packet, then pad bytes up to the alignment

qcm itself never frames packets: the kernel does (qmi_wwan's qmimux links, rmnet). The
simulator uses this module as the module's side of the link, so that what passes between host
and module in QMAP mode really is QMAP; the tests check it against the kernel's rules (qmi_wwan's
demuxer skips commands, strips ``pad`` bytes, and drops a frame whose length runs past the end).
``decode`` never raises: bad input gives what could be read and a reason.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

__all__ = ["QmapPacket", "encode", "aggregate", "decode", "COMMAND", "NEXT_HEADER", "PAD_MASK", "CSUM_OFFLOAD",
           "VERSIONS", "version_of"]

_HEADER = struct.Struct(">BBH")
COMMAND = 0x80
NEXT_HEADER = 0x40
PAD_MASK = 0x3F
CSUM_OFFLOAD = 2              # QMAPv5 header type: checksum offload
_V5_HEADER = 4

# WDA aggregation protocol names (the catalogue's WdaDataAggregationProtocol) -> QMAP version.
VERSIONS = {"qmap": 1, "qmapv4": 4, "qmapv5": 5}


def version_of(aggregation: str) -> Optional[int]:
    """The QMAP version of a WDA aggregation protocol name, None if it is no QMAP."""
    return VERSIONS.get(aggregation)


@dataclass(frozen=True)
class QmapPacket:
    mux_id: int
    payload: bytes
    command: bool = False
    checksum_valid: bool = False      # QMAPv5: the module checked (downlink) or should compute (uplink) it


def encode(mux_id: int, packet: bytes, version: int = 1, align: int = 4, min_padding: int = 0,
           checksum: bool = False) -> bytes:
    """One packet with its header (and the v5 header), padded to ``align`` bytes plus ``min_padding``."""
    if not 0 <= mux_id <= 0xFF:
        raise ValueError("mux id %d is not a byte" % mux_id)
    pad = (-len(packet)) % align if align > 1 else 0
    pad += min_padding
    if pad > PAD_MASK:
        raise ValueError("%d bytes of padding do not fit the 6-bit pad field" % pad)
    length = len(packet) + pad
    if length > 0xFFFF:
        raise ValueError("a packet of %d bytes does not fit QMAP's 16-bit length" % len(packet))
    flags = pad | (NEXT_HEADER if version == 5 else 0)
    head = _HEADER.pack(flags, mux_id, length)
    if version == 5:
        head += bytes([CSUM_OFFLOAD << 1, 0x80 if checksum else 0, 0, 0])
    return head + packet + b"\0" * pad


def aggregate(packets: Iterable[Tuple[int, bytes]], version: int = 1, max_size: int = 16384, max_datagrams: int = 32,
              min_padding: int = 0) -> List[bytes]:
    """(mux id, packet) pairs into transfers of at most ``max_size`` bytes and ``max_datagrams`` packets
    each (what the two sides agreed in WDA Set Data Format); a packet bigger than a transfer goes alone."""
    transfers: List[bytes] = []
    current = b""
    count = 0
    for mux_id, packet in packets:
        frame = encode(mux_id, packet, version, min_padding=min_padding)
        if current and (len(current) + len(frame) > max_size or count >= max_datagrams):
            transfers.append(current)
            current, count = b"", 0
        current += frame
        count += 1
    if current:
        transfers.append(current)
    return transfers


def decode(data: bytes, version: int = 1) -> Tuple[List[QmapPacket], Optional[str]]:
    """The packets of one transfer, and why decoding stopped early (None: all of it was read)."""
    packets: List[QmapPacket] = []
    problem: Optional[str] = None
    offset = 0
    while offset < len(data):
        if offset + _HEADER.size > len(data):
            return packets, "%d stray bytes after the last packet" % (len(data) - offset)
        flags, mux_id, length = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        command = bool(flags & COMMAND)
        extra = _V5_HEADER if version == 5 and flags & NEXT_HEADER and not command else 0
        end = start + extra + length
        if end > len(data):
            return packets, "a packet of %d bytes runs past the end of the transfer" % length
        valid = bool(extra and data[start + 1] & 0x80)
        pad = flags & PAD_MASK
        if command:
            packets.append(QmapPacket(mux_id, bytes(data[start:end]), command=True))
        elif length == 0 or pad >= length:
            problem = "a packet with %d bytes of padding in %d skipped" % (pad, length)  # as qmi_wwan does
        else:
            packets.append(QmapPacket(mux_id, bytes(data[start + extra:end - pad]), checksum_valid=valid))
        offset = end
    return packets, problem
