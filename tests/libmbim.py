"""libmbim-glib through ctypes (the reference that decodes our frames), and hypothesis
strategies for any value set the MBIM catalogue's layouts accept.

libmbim is loaded on first use, so the property tests that only need the strategies run
where libmbim-glib4 is not installed. The C API used: mbim_message_new() on the raw bytes,
then mbim_message_get_printable_full() with the MBIMEx version in force (libmbim >= 1.28).
"""

from __future__ import annotations

import ctypes
import re
from typing import Any, Dict, List, Optional, Tuple

from hypothesis import strategies as st

from qcm.mbim.catalogue import CommandDef
from qcm.mbim.layout import (AddressFormat, BytesFormat, Format, IntFormat, Layout, StructFormat, TextFormat,
                             TlvFormat, TlvListFormat, TLV_WCHAR_STR, U32ListFormat, UuidFormat)

_lib: Optional[ctypes.CDLL] = None
_glib: Optional[ctypes.CDLL] = None


def _load() -> ctypes.CDLL:
    global _lib, _glib
    if _lib is None:
        lib = ctypes.CDLL("libmbim-glib.so.4")
        glib = ctypes.CDLL("libglib-2.0.so.0")
        lib.mbim_message_new.argtypes = [ctypes.c_char_p, ctypes.c_uint32]
        lib.mbim_message_new.restype = ctypes.c_void_p
        lib.mbim_message_get_printable_full.argtypes = [ctypes.c_void_p, ctypes.c_uint8, ctypes.c_uint8,
                                                        ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
        lib.mbim_message_get_printable_full.restype = ctypes.c_void_p
        lib.mbim_message_unref.argtypes = [ctypes.c_void_p]
        lib.mbim_utils_set_show_personal_info.argtypes = [ctypes.c_int]
        glib.g_free.argtypes = [ctypes.c_void_p]
        _lib, _glib = lib, glib
    return _lib


class _Entry(ctypes.Structure):  # MbimEventEntry
    _fields_ = [("uuid", ctypes.c_ubyte * 16), ("count", ctypes.c_uint32), ("cids", ctypes.POINTER(ctypes.c_uint32))]


def _uuid(text: str) -> Any:
    return (ctypes.c_ubyte * 16)(*bytes.fromhex(text.replace("-", "")))


def _raw(handle: int) -> bytes:
    lib = _load()
    lib.mbim_message_get_raw.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32), ctypes.c_void_p]
    lib.mbim_message_get_raw.restype = ctypes.c_void_p
    size = ctypes.c_uint32()
    data = ctypes.string_at(lib.mbim_message_get_raw(handle, ctypes.byref(size), None), size.value)
    lib.mbim_message_unref(handle)
    return data


def built_by_libmbim(name: str, *args: Any) -> bytes:
    """A message built by libmbim's own generated builder ``mbim_message_<name>_new`` (transaction 0).
    UUID arguments are given as text, string arguments as str, event lists as [(uuid, [cids])]."""
    lib = _load()
    function = getattr(lib, "mbim_message_%s_new" % name)
    function.restype = ctypes.c_void_p
    converted: List[Any] = []
    keep: List[Any] = []
    for arg in args:
        if isinstance(arg, str) and re.match(r"^[0-9a-f]{8}-", arg):
            value = _uuid(arg)
            keep.append(value)
            converted.append(ctypes.byref(value))
        elif isinstance(arg, str):
            converted.append(ctypes.c_char_p(arg.encode()))
        elif isinstance(arg, list):  # MbimEventEntry array, NULL-terminated
            entries = [_Entry(_uuid(u), len(cids), (ctypes.c_uint32 * len(cids))(*cids) if cids else None)
                       for u, cids in arg]
            array = (ctypes.POINTER(_Entry) * (len(entries) + 1))(*[ctypes.pointer(e) for e in entries], None)
            keep.extend([entries, array])
            converted.append(array)
        elif arg is None:
            converted.append(ctypes.c_void_p(None))
        else:
            converted.append(ctypes.c_uint32(arg))
    handle = function(*converted, None)
    if not handle:
        raise ValueError("libmbim could not build %s" % name)
    return _raw(handle)


def available() -> bool:
    try:
        _load()
    except OSError:
        return False
    return True


def printable(message: bytes, version: int = 1, show_personal: bool = True) -> str:
    """libmbim's own text rendering of one whole MBIM message, under MBIMEx ``version``."""
    lib = _load()
    lib.mbim_utils_set_show_personal_info(1 if show_personal else 0)
    handle = lib.mbim_message_new(message, len(message))
    if not handle:
        raise ValueError("libmbim rejected %s" % message.hex(" "))
    text_pointer = lib.mbim_message_get_printable_full(handle, version, 0, b"", 0, None)
    text = ctypes.string_at(text_pointer).decode("utf-8", "replace") if text_pointer else ""
    if text_pointer:
        _glib.g_free(text_pointer)  # type: ignore[union-attr]
    lib.mbim_message_unref(handle)
    return text


def fields(text: str) -> Dict[str, str]:
    """The top-level fields of a printable: {name: value as printed}."""
    out: Dict[str, str] = {}
    if "Fields:" not in text:
        return out
    for line in text.split("Fields:", 1)[1].splitlines():
        match = re.match(r"^  (\w+) = (.*)$", line)
        if match:
            out[match.group(1)] = match.group(2)
    return out


def header(text: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for line in text.split("Fields:", 1)[0].splitlines():
        match = re.match(r"^\s+([\w ]+?)\s*= (.*)$", line)
        if match:
            out[match.group(1).strip()] = match.group(2)
    return out


# --------------------------------------------------------------------------- strategies

# Text a modem sends: printable ASCII and a few non-ASCII letters (UTF-16 without surrogates).
_TEXT = st.text(alphabet=st.sampled_from([chr(c) for c in range(0x20, 0x7F)] + list("éüñ中")), max_size=12)


def for_format(fmt: Format, tlv_types: Tuple[int, ...] = ()) -> st.SearchStrategy:
    if isinstance(fmt, IntFormat):
        numbers = st.integers(0, fmt.max)
        if fmt.enum is not None and fmt.enum.names and not fmt.enum.flags:
            return st.one_of(st.sampled_from(sorted(fmt.enum.names)), numbers)
        if fmt.enum is not None and fmt.enum.flags:
            bits = sorted(b for b in fmt.enum.names if b)
            return st.sets(st.sampled_from(bits), max_size=3).map(sum) if bits else numbers
        return numbers
    if isinstance(fmt, UuidFormat):
        return st.one_of(st.sampled_from(sorted(fmt.names)), st.uuids().map(str))
    if isinstance(fmt, AddressFormat):
        address = st.ip_addresses(v=fmt.version)
        if fmt.count:
            return st.lists(address, max_size=3)
        return st.one_of(st.none(), address) if fmt.ref else address
    if isinstance(fmt, TextFormat):
        return st.lists(_TEXT, max_size=3) if fmt.count else _TEXT
    if isinstance(fmt, U32ListFormat):
        return st.lists(st.integers(0, 0xFFFFFFFF), max_size=4)
    if isinstance(fmt, BytesFormat):
        return st.binary(max_size=24)
    if isinstance(fmt, TlvFormat):
        return _TEXT if fmt.tlv_type == TLV_WCHAR_STR else st.lists(st.integers(0, 0xFFFF), max_size=4)
    if isinstance(fmt, TlvListFormat):
        kinds = st.sampled_from(tlv_types) if tlv_types else st.integers(0, 0xFFFF)
        return st.lists(st.fixed_dictionaries({"type": kinds, "data": st.binary(max_size=9)}), max_size=2)
    if isinstance(fmt, StructFormat):
        element = for_layout(fmt.layout)
        return element if fmt.mode == "inline" else st.lists(element, max_size=3)
    raise TypeError(fmt)


def for_layout(layout: Layout, tlv_types: Tuple[int, ...] = ()) -> st.SearchStrategy[Dict[str, Any]]:
    """A value for every field the caller gives (derived counts are filled by the encoder)."""
    return st.fixed_dictionaries({f.key: for_format(f.format, tlv_types) for f in layout.visible_fields()})


def cases(commands: List[CommandDef]) -> List[Tuple[CommandDef, str, int]]:
    """Every distinct layout: (command, kind, MBIMEx version where it changes)."""
    out = []
    for command in commands:
        for kind in command.kinds:
            for version in command.versions(kind) or (1,):
                if command.layout(kind, version) is not None:
                    out.append((command, kind, version))
    return out
