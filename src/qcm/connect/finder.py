"""Finding the module to manage, waiting for it to appear or to come back, and re-binding its driver.

Which module: the one the user named (interface, control port, USB path or IMEI), or the only
one present (quectel-CM: the first). After a reset or a USB re-enumeration the same module is
the one at the same USB path, or, when it was chosen by IMEI, the one with that IMEI wherever it
was plugged in again.

Waiting is woken by device events (kernel uevents, inotify on /dev and on a fake sysfs: io/hotplug.py)
and then decided by looking at sysfs again; a slow poll stays as the safety net for lost events.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple

from ..backends import BACKENDS, load_backend
from ..discovery import Modem, scan, select
from ..errors import ModemError, NoModemError
from .options import ConnectOptions

if TYPE_CHECKING:
    from ..io.hotplug import HotplugWatch

__all__ = ["Finder"]

log = logging.getLogger(__name__)

SAFETY_POLL = 2.0          # sysfs is looked at this often anyway, should a device event be lost
REBIND_PAUSE = 1.0         # between unbind and bind, as quectel-CM -r waits


class Finder:
    safety_poll: float = SAFETY_POLL

    def __init__(self, options: ConnectOptions, notice: Callable[[str, bool], None]) -> None:
        self.options = options
        self.notice = notice        # a line for the user (text, is it a warning)

    def _watch(self) -> HotplugWatch:
        # Imported when a module is to be waited for: its inotify binding loads ctypes, which a
        # connect to a module that is there never needs (tests/unit/test_import_diet.py).
        from ..io.hotplug import HotplugWatch
        return HotplugWatch(self.options.sysfs, self.options.dev)

    async def find(self, wait: bool) -> Modem:
        options = self.options
        shown = False
        watch: Optional[HotplugWatch] = None
        try:
            while True:
                try:
                    modems = scan(options.sysfs, options.dev)
                    if options.imei:
                        return await self._by_imei(modems)
                    return select(modems, options.interface, options.control, options.usb_path,
                                  require_single=not options.first_found)
                except NoModemError as exc:
                    if not wait:
                        raise
                    if not shown:
                        self.notice("%s; waiting for it to appear" % exc, True)
                        shown = True
                    if watch is None:  # armed before looking again: an arrival meanwhile is not missed
                        watch = self._watch()
                        watch.open()
                        continue
                    await watch.wait(self.safety_poll)
        finally:
            if watch is not None:
                watch.close()

    async def _by_imei(self, modems: List[Modem]) -> Modem:
        candidates = [m for m in modems if m.mode in BACKENDS and m.control]
        for candidate in candidates:
            if await _imei_of(candidate) == self.options.imei:
                return candidate
        raise NoModemError("no module with the IMEI given (--imei) among %d module(s)" % len(candidates))

    async def wait_back(self, gone: Modem, timeout: Optional[float]) -> Modem:
        """The same module with its control port and interface present again."""
        deadline = None if timeout is None else time.monotonic() + timeout
        asked: Dict[Tuple[str, str], str] = {}  # each appearance of a module is asked its IMEI once
        with self._watch() as watch:  # armed before the first look: nothing that happens after it is missed
            while True:
                for modem in scan(self.options.sysfs, self.options.dev):
                    if not (modem.control and modem.netdev and Path(modem.control).exists()):
                        continue
                    if self.options.imei:
                        key = (modem.usb_path, os.path.realpath(modem.control))
                        if key not in asked:
                            asked[key] = await _imei_of(modem)
                        if asked[key] == self.options.imei:
                            return modem
                    elif modem.usb_path == gone.usb_path:
                        return modem
                now = time.monotonic()
                if deadline is not None and now > deadline:
                    raise NoModemError("the module did not come back within %.0f s" % (timeout or 0))
                await watch.wait(self.safety_poll if deadline is None else min(self.safety_poll, deadline - now))

    async def rebind(self, modem: Modem) -> Modem:
        """Unbind and bind the module's network interface driver (a PCIe module's whole function), as
        quectel-CM's -r does, and wait for the module to be back."""
        driver_dir = Path(modem.sysfs_root) / "bus" / modem.bus / "drivers" / modem.driver
        interface = modem.usb_path if modem.bus == "pci" else "%s:1.%d" % (modem.usb_path, modem.interface or 0)
        self.notice("re-binding %s to %s" % (interface, modem.driver), True)
        try:
            (driver_dir / "unbind").write_text(interface)
        except OSError as exc:
            raise ModemError("cannot unbind %s: %s" % (interface, exc.strerror)) from None
        try:
            await asyncio.sleep(REBIND_PAUSE)
        finally:  # even when stopped meanwhile: never leave the module unbound
            try:
                (driver_dir / "bind").write_text(interface)
            except OSError as exc:
                log.warning("cannot bind %s again: %s", interface, exc.strerror)
        return await self.wait_back(modem, timeout=30.0)


async def _imei_of(modem: Modem) -> str:
    """The module's IMEI, or "" if its port cannot be asked (gone, or another program's)."""
    from ..io.procfs import port_holders
    if not modem.control or port_holders([modem.control, *modem.control_aliases]) or modem.mode not in BACKENDS:
        return ""
    return await load_backend(modem.mode).read_imei(modem)
