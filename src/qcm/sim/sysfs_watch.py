"""Makes the fake sysfs's writable files behave as sysfs attributes (raw_ip, pass_through, bind,
unbind): each write is the new value whatever the offset, the file then shows what sysfs would
show, and the simulator hears the value at once (inotify, no polling).

Each attribute's directory is watched, not the file: a value is taken from whatever changed the
content (a write, IN_MODIFY, with the descriptor still open; its close, IN_CLOSE_WRITE; a file
renamed into place, IN_MOVED_TO, or created anew, IN_CREATE, which replace the file a watch on it
would have followed away). Each event re-reads the file and compares it with what the attribute
shows, so several events for one write take its value once."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from .attributes import bool_content, parse_bool, written_value
from .inotify import IN_CLOSE_WRITE, IN_CREATE, IN_IGNORED, IN_MODIFY, IN_MOVED_TO, IN_Q_OVERFLOW, Inotify

__all__ = ["AttributeWatch"]

_CONTENT_CHANGES = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE

log = logging.getLogger("qcm.sim.sysfs")


@dataclass
class _Attribute:
    path: Path
    boolean: bool                     # a Y/N attribute; else write-only (bind, unbind): shows nothing
    on_value: Callable[[Any], None]   # gets a bool, or the text written
    shown: bytes                      # what the file holds when nobody is writing
    listing: bool = False             # shows a list (qmi/add_mux): a write is the last line written


class AttributeWatch:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.inotify = Inotify()
        self._watches: Dict[Tuple[int, str], _Attribute] = {}  # (directory's watch, file name) -> attribute
        loop.add_reader(self.inotify.fd, self._events)

    def watch_bool(self, path: Path, on_value: Callable[[bool], None]) -> None:
        self._watch(_Attribute(path, True, on_value, b""))

    def watch_action(self, path: Path, on_value: Callable[[str], None]) -> None:
        self._watch(_Attribute(path, False, on_value, b""))

    def watch_listing(self, path: Path, on_value: Callable[[str], None]) -> None:
        """An attribute that takes one value per write and shows a list (qmi/add_mux: the mux ids
        of the links that exist, one ``0xNN`` per line); ``show`` sets what it lists."""
        self._watch(_Attribute(path, False, on_value, b"", listing=True))

    def show(self, path: Path, content: bytes) -> None:
        """What an attribute shows from now on (qmi/add_mux lists the mux links that exist)."""
        for attribute in self._watches.values():
            if attribute.path == path:
                attribute.shown = content
                self._show(attribute)

    def _watch(self, attribute: _Attribute) -> None:
        try:
            attribute.shown = attribute.path.read_bytes()
            wd = self.inotify.add(str(attribute.path.parent), _CONTENT_CHANGES)
        except OSError as exc:
            log.warning("cannot watch %s: %s", attribute.path, exc)
            return
        self._watches[(wd, attribute.path.name)] = attribute

    def value(self, path: Path) -> Optional[bool]:
        """The current value of a boolean attribute being watched."""
        for attribute in self._watches.values():
            if attribute.path == path and attribute.boolean:
                return parse_bool(attribute.shown.decode("ascii", "replace"))
        return None

    def _events(self) -> None:
        changed: List[_Attribute] = []
        for wd, mask, name in self.inotify.read_named():
            if mask & IN_Q_OVERFLOW:  # events were lost: look at every attribute again
                changed += [a for a in self._watches.values() if a not in changed]
                continue
            if mask & IN_IGNORED:  # the directory went (the module left the bus): so did its attributes
                for key in [key for key in self._watches if key[0] == wd]:
                    del self._watches[key]
                continue
            attribute = self._watches.get((wd, name))
            if attribute is not None and attribute not in changed:
                changed.append(attribute)
        for attribute in changed:  # once per batch: the content read now is the latest write
            self._changed(attribute)

    def _changed(self, attribute: _Attribute) -> None:
        try:
            content = attribute.path.read_bytes()
        except OSError:
            return
        if attribute.listing:  # "echo 0x82 > add_mux" truncates: the new value is the last line there
            lines = [line for line in content.decode("utf-8", "replace").splitlines() if line.strip()]
            if not lines or content == attribute.shown:
                return  # truncated, the value not written yet (or nothing new): wait for the write
            text: Optional[str] = lines[-1].strip()
        else:
            text = written_value(attribute.shown, content)
        if text is None:
            if content != attribute.shown:
                self._show(attribute)  # emptied without a value: sysfs ignores that
            return
        if attribute.boolean:
            value = parse_bool(text)
            if value is None:
                log.warning("%s: %r refused (the kernel answers EINVAL)", attribute.path, text)
            else:
                attribute.shown = bool_content(value)
            self._show(attribute)
            if value is not None:
                attribute.on_value(value)
        else:
            self._show(attribute)
            attribute.on_value(text)

    def _show(self, attribute: _Attribute) -> None:
        try:
            if attribute.path.read_bytes() != attribute.shown:
                attribute.path.write_bytes(attribute.shown)
        except OSError:
            pass

    def close(self) -> None:
        self.loop.remove_reader(self.inotify.fd)
        self.inotify.close()
        self._watches.clear()
