"""sysfs attribute semantics for the fake sysfs, sans I/O.

A sysfs attribute takes each write() as the whole new value, whatever the file offset: a tool
that reads ``qmi/raw_ip`` ("N\\n") and writes "Y\\n" on the same descriptor sets Y, where a plain
file would now hold "N\\nY\\n". The simulator's attributes are plain files, so it watches them
and works out what was written from the content before and after, then puts the file back to
what sysfs would show.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["written_value", "parse_bool", "bool_content"]


def written_value(previous: bytes, content: bytes) -> Optional[str]:
    """The value a writer gave, from the file's content before and after its write; None when
    nothing new was written (the same content, or a bare truncation)."""
    if content == previous:
        return None
    common = 0
    limit = min(len(previous), len(content))
    while common < limit and previous[common] == content[common]:
        common += 1
    # Bytes from the first one that changed are the write (a write at offset 0 that kept the
    # first bytes, "Y\\n" over "Y\\n" truncated to "Y", leaves nothing changed: take all of it).
    written = content[common:] if common < len(content) else content
    value = written.replace(b"\0", b"").decode("utf-8", "replace").strip()
    return value or None


def parse_bool(value: str) -> Optional[bool]:
    """The kernel's kstrtobool(): y/Y/1/on true, n/N/0/off false, anything else refused."""
    text = value.strip().lower()
    if text[:1] in ("y", "1") or text == "on":
        return True
    if text[:1] in ("n", "0") or text == "off":
        return False
    return None


def bool_content(value: bool) -> bytes:
    """What reading a boolean attribute shows."""
    return b"Y\n" if value else b"N\n"
