"""Hypothesis strategies derived from the catalogue's formats: any value the encoder accepts."""

from __future__ import annotations

from typing import Any, Dict

from hypothesis import strategies as st

from qcm.qmi.catalogue import MessageDef
from qcm.qmi.formats import (ArrayFormat, BoolFormat, BytesFormat, Format, IntFormat, Ipv4Format, Ipv6Format,
                             StructFormat, TextFormat)

# Printable ASCII: what modems send, and what libqmi accepts as a string (it rejects control
# characters, and some fields such as the IMEI have a 15-byte maximum).
_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=15)


def for_format(fmt: Format) -> st.SearchStrategy:
    if isinstance(fmt, IntFormat):
        numbers = st.integers(fmt.min, fmt.max)
        if fmt.enum is not None and fmt.enum.names and not fmt.enum.flags:
            known = [v for v in fmt.enum.names if fmt.min <= v <= fmt.max]
            return st.one_of(st.sampled_from(known), numbers) if known else numbers
        return numbers
    if isinstance(fmt, BoolFormat):
        return st.booleans()
    if isinstance(fmt, Ipv4Format):
        return st.ip_addresses(v=4)
    if isinstance(fmt, Ipv6Format):
        return st.ip_addresses(v=6)
    if isinstance(fmt, TextFormat):
        if fmt.fixed is not None:
            return st.text(alphabet="0123456789", min_size=1, max_size=fmt.fixed)  # libqmi rejects empty ones
        return _TEXT
    if isinstance(fmt, BytesFormat):
        return st.binary(max_size=24)
    if isinstance(fmt, StructFormat):
        return st.fixed_dictionaries({f.key: for_format(f.format) for f in fmt.fields})
    if isinstance(fmt, ArrayFormat):
        element = for_format(fmt.element)
        if fmt.fixed is not None:
            return st.lists(element, min_size=fmt.fixed, max_size=fmt.fixed)
        return st.lists(element, max_size=3)
    raise TypeError(fmt)


def for_message(definition: MessageDef, kind: str) -> st.SearchStrategy[Dict[str, Any]]:
    """Some subset of the message's TLVs, each with a valid value (the Result TLV left to build())."""
    tlvs = [t for t in definition.tlvs(kind) if t.key != "result"]
    return st.fixed_dictionaries({}, optional={t.key: for_format(t.format) for t in tlvs})
