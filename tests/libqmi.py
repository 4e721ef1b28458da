"""libqmi-glib through ctypes: the reference implementation decodes frames our encoder built.

The GObject-introspection bindings cannot build a message from raw bytes, so this calls the C
API directly: qmi_message_new_from_raw() on a GByteArray, then qmi_message_get_printable_full().
"""

from __future__ import annotations

import ctypes
import re
from typing import Dict, List, Tuple

_lib = ctypes.CDLL("libqmi-glib.so.5")
_glib = ctypes.CDLL("libglib-2.0.so.0")
_glib.g_byte_array_new.restype = ctypes.c_void_p
_glib.g_byte_array_append.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint]
_glib.g_byte_array_append.restype = ctypes.c_void_p
_glib.g_byte_array_unref.argtypes = [ctypes.c_void_p]
_glib.g_free.argtypes = [ctypes.c_void_p]
_lib.qmi_message_new_from_raw.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
_lib.qmi_message_new_from_raw.restype = ctypes.c_void_p
_lib.qmi_message_get_printable_full.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p]
_lib.qmi_message_get_printable_full.restype = ctypes.c_void_p
_lib.qmi_message_unref.argtypes = [ctypes.c_void_p]
_lib.qmi_utils_set_show_personal_info.argtypes = [ctypes.c_int]


def printable(frame: bytes, show_personal: bool = True) -> str:
    """libqmi's own text rendering of one raw QMUX frame."""
    _lib.qmi_utils_set_show_personal_info(1 if show_personal else 0)
    array = _glib.g_byte_array_new()
    _glib.g_byte_array_append(array, frame, len(frame))
    error = ctypes.c_void_p()
    message = _lib.qmi_message_new_from_raw(array, ctypes.byref(error))
    _glib.g_byte_array_unref(array)
    if not message:
        raise ValueError("libqmi rejected the frame %s" % frame.hex(" "))
    text_pointer = _lib.qmi_message_get_printable_full(message, None, b"")
    text = ctypes.string_at(text_pointer).decode("utf-8", "replace")
    _glib.g_free(text_pointer)
    _lib.qmi_message_unref(message)
    return text


def parse(text: str) -> Tuple[Dict[str, str], List[Tuple[str, int, str]]]:
    """(header fields, [(TLV name, TLV type, translated value)]) from a printable."""
    header: Dict[str, str] = {}
    tlvs: List[Tuple[str, int, str]] = []
    section = ""
    current: Dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() in ("QMUX:", "QMI:", "TLV:"):
            if section == "TLV:" and current:
                tlvs.append(_tlv(current))
            section, current = line.strip(), {}
            continue
        match = re.match(r"\s*(\w+)\s*=\s*(.*)$", line)
        if not match:
            continue
        if section == "TLV:":
            current[match.group(1)] = match.group(2)
        else:
            header[match.group(1)] = match.group(2)
    if section == "TLV:" and current:
        tlvs.append(_tlv(current))
    return header, tlvs


def _tlv(fields: Dict[str, str]) -> Tuple[str, int, str]:
    kind = fields.get("type", "")
    match = re.match(r'"(.*)" \(0x([0-9a-fA-F]+)\)', kind)
    if match:  # a TLV libqmi knows: name and number
        return match.group(1), int(match.group(2), 16), fields.get("translated", "")
    number = re.match(r"0x([0-9a-fA-F]+)", kind)  # one it does not know: number only
    return "", int(number.group(1), 16) if number else -1, fields.get("translated", "")
