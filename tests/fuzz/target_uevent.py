"""Fuzz target: kernel uevents (src/qcm/uevent.py) as the hotplug watch reads them off its netlink
socket: anything at all may arrive there (udev's own messages, other senders, truncation).

Whatever the bytes, parse() returns a Uevent or None; a Uevent has a known action, a path, string
keys and values, and every property reads; whether it concerns a module is a plain yes or no; a
Uevent re-encoded reads back the same.
"""

from __future__ import annotations

from typing import List

from qcm.uevent import Uevent, concerns_modems, encode, is_port_name, parse

NAME = "uevent"

_USB = "/devices/pci0000:00/0000:00:14.0/usb1/1-1"


def _kernel(*parts: str) -> bytes:
    return b"".join(part.encode() + b"\0" for part in parts)


def seeds() -> List[bytes]:
    return [
        _kernel("add@%s/1-1:1.4" % _USB, "ACTION=add", "DEVPATH=%s/1-1:1.4" % _USB, "SUBSYSTEM=usb",
                "DEVTYPE=usb_interface", "PRODUCT=2c7c/125/318", "TYPE=239/2/1", "INTERFACE=255/255/255",
                "SEQNUM=4512"),
        _kernel("remove@%s" % _USB, "ACTION=remove", "DEVPATH=%s" % _USB, "SUBSYSTEM=usb", "MAJOR=189",
                "MINOR=3", "DEVNAME=bus/usb/001/004", "DEVTYPE=usb_device", "BUSNUM=001", "DEVNUM=004", "SEQNUM=4620"),
        _kernel("add@%s/1-1:1.4/net/wwan0" % _USB, "ACTION=add", "DEVPATH=%s/1-1:1.4/net/wwan0" % _USB,
                "SUBSYSTEM=net", "INTERFACE=wwan0", "IFINDEX=5", "DEVTYPE=wwan", "SEQNUM=4515"),
        _kernel("add@%s/1-1:1.4/usbmisc/cdc-wdm0" % _USB, "ACTION=add",
                "DEVPATH=%s/1-1:1.4/usbmisc/cdc-wdm0" % _USB, "SUBSYSTEM=usbmisc", "MAJOR=180", "MINOR=176",
                "DEVNAME=cdc-wdm0", "SEQNUM=4514"),
        _kernel("add@/devices/pci0000:00/0000:00:1c.0/0000:02:00.0/mhi0/wwan/wwan0/wwan0qmi0", "ACTION=add",
                "SUBSYSTEM=wwan", "MAJOR=234", "MINOR=1", "DEVNAME=wwan0qmi0", "DEVTYPE=wwan_port", "SEQNUM=812"),
        _kernel("move@/devices/virtual/net/wwan1", "ACTION=move", "DEVPATH_OLD=/devices/virtual/net/wwan0",
                "SUBSYSTEM=net", "INTERFACE=wwan1", "SEQNUM=13"),
        b"libudev\0\xfe\xed\xca\xfe" + bytes(32),
    ]


def run(data: bytes) -> None:
    event = parse(data)
    if event is None:
        return
    assert isinstance(event, Uevent) and event.devpath.startswith("/")
    assert all(isinstance(k, str) and isinstance(v, str) and k for k, v in event.values.items())
    assert isinstance(event.subsystem, str) and isinstance(event.devname, str) and isinstance(event.interface, str)
    assert event.seqnum is None or event.seqnum >= 0
    assert concerns_modems(event) in (True, False)
    assert is_port_name(event.devname) in (True, False)
    if "\0" not in event.devpath and all("\0" not in k + v and "=" not in k for k, v in event.values.items()):
        again = parse(encode(event.action, event.devpath, list(event.values.items())))
        if again is not None:  # None only when the re-encoded message outgrows MAX_SIZE (replacement characters)
            ours = {k: v for k, v in event.values.items() if k not in ("ACTION", "DEVPATH")}
            theirs = {k: v for k, v in again.values.items() if k not in ("ACTION", "DEVPATH")}
            assert (again.action, again.devpath, theirs) == (event.action, event.devpath, ours)
