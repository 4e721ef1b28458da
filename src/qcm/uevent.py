"""Kernel uevents, sans I/O: what a NETLINK_KOBJECT_UEVENT datagram says, and whether it can concern a
cellular module.

The kernel sends one datagram per device event to multicast group 1: a header ``ACTION@DEVPATH``
and ``KEY=VALUE`` lines, each ended by a NUL (lib/kobject_uevent.c)::

    add@/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.4/usbmisc/cdc-wdm0\\0ACTION=add\\0
    DEVPATH=/devices/...\\0SUBSYSTEM=usbmisc\\0MAJOR=180\\0MINOR=176\\0DEVNAME=cdc-wdm0\\0SEQNUM=4321\\0

udev re-broadcasts its own, longer messages on group 2 with a ``libudev`` header; those are not
parsed here. A uevent is only a hint that something changed: whoever hears one looks again at
sysfs and /dev (discovery) and trusts what it finds there, never the message itself, so a forged
or lost message costs a look, not a wrong decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

__all__ = ["Uevent", "parse", "encode", "concerns_modems", "is_port_name", "MAX_SIZE"]

MAX_SIZE = 8192             # the kernel's buffer is 2048 bytes of keys (UEVENT_BUFFER_SIZE); be generous
ACTIONS = frozenset({"add", "remove", "change", "move", "online", "offline", "bind", "unbind"})
# The actions after which a module can have come or gone: "change" and "online" leave ports as they were.
_COMINGS_AND_GOINGS = frozenset({"add", "remove", "move", "bind", "unbind"})
# Subsystems a module's parts belong to: the USB device and its interfaces, the PCI function and MHI,
# the control port (usbmisc cdc-wdm, GobiNet's GobiQMI, the WWAN class), serial ports, network links.
_SUBSYSTEMS = frozenset({"usb", "pci", "mhi", "usbmisc", "GobiQMI", "wwan", "tty", "net"})
_PORT_PREFIXES = ("cdc-wdm", "wwan", "ttyUSB", "qcqmi")


@dataclass(frozen=True)
class Uevent:
    action: str                                    # add, remove, bind, unbind, move, change...
    devpath: str                                   # below /sys: /devices/.../usbmisc/cdc-wdm0
    values: Dict[str, str] = field(default_factory=dict)

    @property
    def subsystem(self) -> str:
        return self.values.get("SUBSYSTEM", "")

    @property
    def devname(self) -> str:
        """The /dev node's name (cdc-wdm0, wwan0qmi0, ttyUSB2, bus/usb/001/004), "" without one."""
        return self.values.get("DEVNAME", "")

    @property
    def interface(self) -> str:
        """A network link's name (wwan0), "" for other devices."""
        return self.values.get("INTERFACE", "") if self.subsystem == "net" else ""

    @property
    def seqnum(self) -> Optional[int]:
        text = self.values.get("SEQNUM", "")
        return int(text) if text.isdigit() else None


def parse(data: bytes) -> Optional[Uevent]:
    """The uevent in one datagram; None for anything else (udev's own messages, truncated or garbled
    bytes): the caller then simply looks again, as after any event."""
    if not data or len(data) > MAX_SIZE or data.startswith(b"libudev\0"):
        return None
    parts = data.split(b"\0")
    header = parts[0].decode("utf-8", "replace")
    action, at, devpath = header.partition("@")
    if not at or action not in ACTIONS or not devpath.startswith("/"):
        return None
    values: Dict[str, str] = {}
    for part in parts[1:]:
        key, equals, value = part.decode("utf-8", "replace").partition("=")
        if equals and key:
            values[key] = value
    if values.get("ACTION", action) != action or values.get("DEVPATH", devpath) != devpath:
        return None  # the header and the keys disagree: not the kernel's message
    return Uevent(action, devpath, values)


def encode(action: str, devpath: str, values: Iterable[Tuple[str, str]] = ()) -> bytes:
    """The datagram the kernel sends for an event (the simulator announces its fake devices so)."""
    keys: List[Tuple[str, str]] = [("ACTION", action), ("DEVPATH", devpath)]
    keys += [(key, value) for key, value in values if key not in ("ACTION", "DEVPATH")]
    return b"".join([("%s@%s" % (action, devpath)).encode() + b"\0"] +
                    [("%s=%s" % (key, value)).encode() + b"\0" for key, value in keys])


def concerns_modems(event: Uevent) -> bool:
    """Whether a module may have come or gone with this event (worth looking at sysfs again)."""
    if event.action not in _COMINGS_AND_GOINGS:
        return False
    return event.subsystem in _SUBSYSTEMS or is_port_name(event.devname.rpartition("/")[2])


def is_port_name(name: str) -> bool:
    """Whether a /dev entry can be a module's port: cdc-wdmN, wwanNqmiN and the other WWAN ports,
    ttyUSBN, GobiNet's qcqmiN."""
    return name.startswith(_PORT_PREFIXES)
