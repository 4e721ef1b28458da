"""``qcm daemon``'s eye on the modules: which module each connection is for, and starting it when the
module is there.

Every second it looks at the modules present (sysfs). A module no connection has yet is matched
against what the daemon was asked to run: configurations that name their module (interface, USB
path, control port, IMEI, the SIM's ICCID; all that are given must match), then configurations
that name none (each takes one module no other configuration claims, in USB path order); with
``qcm connect --all``, every module with the same options. The IMEI and ICCID are asked once per
appearance of a module, and never from a port another program holds. A matched module gets its
connection, pinned to its USB path: from then on it is that connection's, which follows the
module through resets and re-enumerations as ``qcm connect`` does (it waits for it to come back
at the same USB path), and which is not started again when it ends (a rejected PIN, ``qcm
disconnect``), until the daemon restarts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..backends import BACKENDS
from ..discovery import Modem, scan
from . import events as ev
from .identify import read_iccid, read_imei
from .manager import Manager
from .options import ConnectOptions

__all__ = ["Wanted", "ModuleWatcher"]

log = logging.getLogger(__name__)

SCAN_INTERVAL = 1.0
ASK_AGAIN = 10.0           # seconds before asking again a module that could not tell its IMEI or ICCID


@dataclass
class Wanted:
    """A connection the daemon should run: a configuration's, or (``name`` None) one per module."""

    name: Optional[str]
    options: ConnectOptions
    match: Dict[str, str] = field(default_factory=dict)   # interface, usb_path, control, imei, iccid
    running: bool = False                                   # a configuration's connection was started


class ModuleWatcher:
    def __init__(self, wanted: List[Wanted], reporter: Callable[[str], ev.Reporter], sysfs: Path, dev: Path,
                 interval: float = SCAN_INTERVAL) -> None:
        self.wanted = wanted
        self.reporter = reporter             # connection name -> its Reporter (lines carry the name)
        self.sysfs = sysfs
        self.dev = dev
        self.interval = interval
        self.owner: Dict[str, str] = {}      # USB path -> the connection that has it
        self._identity: Dict[Tuple[str, str, str], Tuple[str, float]] = {}  # (USB path, port, what) -> answer

    def pending(self) -> List[Dict[str, Any]]:
        """Configurations whose module has not appeared yet, as qcm status shows a connection."""
        waiting = []
        for wanted in self.wanted:
            if wanted.name is None or wanted.running:
                continue
            plan = wanted.options.plan
            named = ", ".join("%s %s" % item for item in sorted(wanted.match.items())) or "any module"
            waiting.append({
                "pid": os.getpid(), "name": wanted.name, "netdev": None, "control": None, "usb_path": None,
                "backend": None, "model": "", "manufacturer": "", "revision": "", "imei": "",
                "state": "waiting for its module (%s)" % named, "families": list(plan.families),
                "profile": plan.profile, "apn": plan.apn, "sim": "unknown", "registration": None, "bearers": [],
                "uptime": 0, "reconnects": 0, "last_error": None, "recovery_rung": "redial"})
        return waiting

    async def __call__(self, manager: Manager) -> None:
        manager.pending = self.pending
        while True:
            try:
                await self.look(manager)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad scan must not end the daemon's watch
                log.error("looking for modules: %s: %s", type(exc).__name__, exc, exc_info=True)
            await asyncio.sleep(self.interval)

    async def look(self, manager: Manager) -> None:
        present = [m for m in scan(self.sysfs, self.dev) if m.control and m.netdev and m.mode in BACKENDS]
        free = [m for m in present if m.usb_path not in self.owner]
        if not free:
            return
        keyed = [w for w in self.wanted if w.name is not None and w.match and not w.running]
        keyless = [w for w in self.wanted if w.name is not None and not w.match and not w.running]
        every = [w for w in self.wanted if w.name is None]
        for modem in free:
            chosen = None
            for wanted in keyed:
                if await self._matches(wanted.match, modem):
                    chosen = wanted
                    break
            if chosen is None and keyless and not await self._claimed_by_key(modem):
                chosen = keyless[0]
            if chosen is None and every:
                chosen = every[0]
            if chosen is None:
                continue
            self._start(manager, chosen, modem)
            if chosen in keyed:
                keyed.remove(chosen)
            elif chosen in keyless:
                keyless.remove(chosen)

    async def _claimed_by_key(self, modem: Modem) -> bool:
        """Whether a configuration names this module (even one whose connection runs already: a keyless
        one must not take a module another file means)."""
        for wanted in self.wanted:
            if wanted.name is not None and wanted.match and await self._matches(wanted.match, modem):
                return True
        return False

    def _start(self, manager: Manager, wanted: Wanted, modem: Modem) -> None:
        name = wanted.name or modem.usb_path
        options = replace(wanted.options, usb_path=modem.usb_path, interface=None, control=None, imei=None,
                          first_found=False, name=name)
        self.owner[modem.usb_path] = name
        wanted.running = wanted.name is not None
        log.debug("%s: %s", name, modem.describe())
        manager.add(name, options, self.reporter(name), modem)

    async def _matches(self, match: Dict[str, str], modem: Modem) -> bool:
        if "interface" in match and match["interface"] != modem.netdev:
            return False
        if "usb_path" in match and match["usb_path"] != modem.usb_path:
            return False
        if "control" in match:
            wanted = match["control"]
            names = [p for p in (modem.control, *modem.control_aliases) if p]
            if not any(wanted in (p, os.path.realpath(p)) or os.path.basename(wanted) == os.path.basename(p)
                       for p in names):
                return False
        for what in ("imei", "iccid"):
            if what in match and await self._ask(modem, what) != match[what]:
                return False
        return True

    async def _ask(self, modem: Modem, what: str) -> str:
        """The module's IMEI or ICCID, asked once per appearance; a module that could not tell (its port held,
        starting, no SIM) is asked again after a while."""
        key = (modem.usb_path, os.path.realpath(modem.control or ""), what)
        answer, when = self._identity.get(key, ("", -ASK_AGAIN))
        if not answer and time.monotonic() - when >= ASK_AGAIN:
            answer = await (read_imei(modem) if what == "imei" else read_iccid(modem))
            self._identity[key] = (answer, time.monotonic())
        return answer
