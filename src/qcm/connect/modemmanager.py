"""``--inhibit-modemmanager``: ask ModemManager to let go of a module for as long as qcm runs.

ModemManager grabs every modem it sees, and two managers on one control port both fail. Instead
of stopping ModemManager for every modem (or fighting it), qcm asks it over D-Bus to inhibit this
one device: ``org.freedesktop.ModemManager1.InhibitDevice(uid, true)``, the call ModemManager
offers for exactly this. The inhibition lasts as long as the caller's bus connection, so qcm keeps
its connection open while it runs, releases the device (``InhibitDevice(uid, false)``) when it
stops, and ModemManager takes the module back by itself if qcm dies.

The uid is the device's ``Device`` property in ModemManager's object for it (the physical
device's sysfs path), found by the module's ports; when ModemManager has no object for it yet,
the sysfs path discovery gave.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional

from ..discovery import Modem
from ..errors import PortBusyError
from ..io.dbus import Bus, BusError, CallError
from ..io.procfs import port_holders
from . import events as ev

__all__ = ["inhibit", "device_uid", "MM_NAME", "MM_PATH"]

log = logging.getLogger(__name__)

MM_NAME = MM_INTERFACE = "org.freedesktop.ModemManager1"
MM_PATH = "/org/freedesktop/ModemManager1"
MODEM_INTERFACE = "org.freedesktop.ModemManager1.Modem"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
NOT_RUNNING = ("org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner")
CALL_TIMEOUT = 10.0        # ModemManager answers once it has released the device's ports
RELEASE_WAIT = 10.0        # for its ports to be closed after the answer


def _ports(modem: Modem) -> List[str]:
    return [p for p in (modem.control, *modem.control_aliases, modem.at_port) if p]


def _held_by_modemmanager(modem: Modem) -> List[str]:
    return sorted({"%s (pid %d)" % (name, pid) for held in port_holders(_ports(modem)).values()
                   for pid, name in held if name == "ModemManager"})


def device_uid(objects: Dict[str, Any], modem: Modem) -> Optional[str]:
    """ModemManager's uid for the module (its modem object's Device), from GetManagedObjects' answer: the
    modem object one of whose ports is one of the module's."""
    names = {os.path.basename(p) for p in _ports(modem)}
    for interfaces in objects.values():
        properties = interfaces.get(MODEM_INTERFACE) if isinstance(interfaces, dict) else None
        if not isinstance(properties, dict):
            continue
        value = {k: getattr(v, "value", v) for k, v in properties.items()}
        ports = {str(p[0]) for p in value.get("Ports") or [] if isinstance(p, (tuple, list)) and p}
        ports.add(str(value.get("PrimaryPort") or ""))
        if ports & names and isinstance(value.get("Device"), str):
            return value["Device"]
    return None


async def inhibit(modem: Modem, report: ev.Reporter, address: Optional[str] = None
                  ) -> Optional[Callable[[], Awaitable[None]]]:
    """Ask ModemManager to let go of ``modem`` and wait until it has closed the ports; the coroutine that
    gives the module back. None when ModemManager does not run (nothing to ask). PortBusyError when it
    holds the module and will not let go."""
    holding = _held_by_modemmanager(modem)
    try:
        bus = await Bus(address).open()
    except BusError as exc:
        if holding:
            raise PortBusyError("%s is held by ModemManager %s, and it cannot be asked to let go: %s" % (
                modem.control, ", ".join(holding), exc), "stop ModemManager, or keep it away from the module "
                "with the udev rule (ID_MM_DEVICE_IGNORE)") from None
        report(ev.Notice("ModemManager cannot be asked to let go (%s); it does not hold %s" % (exc, modem.control)))
        return None
    try:
        uid = await _uid(bus, modem)
        await bus.call(MM_NAME, MM_PATH, MM_INTERFACE, "InhibitDevice", "sb", (uid, True), timeout=CALL_TIMEOUT)
    except CallError as exc:
        await bus.close()
        if exc.name in NOT_RUNNING and not holding:
            report(ev.Notice("ModemManager does not run: nothing to inhibit"))
            return None
        raise PortBusyError("ModemManager would not let go of %s: %s" % (modem.control, exc),
                            "stop ModemManager, or keep it away from the module with the udev rule "
                            "(ID_MM_DEVICE_IGNORE)") from None
    except BaseException:
        await bus.close()
        raise

    watcher = asyncio.ensure_future(_watch(bus, report, modem))

    async def release() -> None:
        watcher.cancel()
        try:
            await bus.call(MM_NAME, MM_PATH, MM_INTERFACE, "InhibitDevice", "sb", (uid, False), timeout=3.0)
            report(ev.Notice("ModemManager may have %s again" % modem.usb_path))
        except BusError as exc:  # it notices our connection closing and gives the device back anyway
            log.debug("uninhibiting %s: %s", uid, exc)
        finally:
            await bus.close()

    report(ev.Notice("ModemManager lets go of %s while qcm runs (inhibited %s)" % (modem.usb_path, uid)))
    deadline = time.monotonic() + RELEASE_WAIT
    while _held_by_modemmanager(modem):
        if time.monotonic() > deadline:
            await release()
            raise PortBusyError("ModemManager agreed to let go of %s but still holds it after %.0f s" % (
                modem.control, RELEASE_WAIT), "stop ModemManager")
        await asyncio.sleep(0.1)
    return release


async def _uid(bus: Bus, modem: Modem) -> str:
    try:
        (objects,) = await bus.call(MM_NAME, MM_PATH, OBJECT_MANAGER, "GetManagedObjects", timeout=CALL_TIMEOUT)
        found = device_uid(objects if isinstance(objects, dict) else {}, modem)
        if found:
            return found
    except CallError as exc:
        if exc.name in NOT_RUNNING:
            raise
        log.debug("GetManagedObjects: %s", exc)
    return os.path.realpath(modem.sysfs_path) if modem.sysfs_path else modem.usb_path


async def _watch(bus: Bus, report: ev.Reporter, modem: Modem) -> None:
    """A bus connection that ends behind our back ends the inhibition: say so (ModemManager may come back)."""
    await bus.closed.wait()
    if bus.lost:
        report(ev.Notice("the D-Bus connection ended (%s): ModemManager may take %s back" % (bus.lost, modem.usb_path),
                         True))
