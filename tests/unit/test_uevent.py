"""Kernel uevents as the kernel sends them (NETLINK_KOBJECT_UEVENT, group 1): parsed, and told apart
from udev's messages and garbage; whether one may concern a cellular module."""

from __future__ import annotations

import pytest

from qcm.uevent import concerns_modems, encode, is_port_name, parse

USB = "/devices/pci0000:00/0000:00:14.0/usb1/1-1"


def kernel(header: str, *keys: str) -> bytes:
    """A datagram as lib/kobject_uevent.c builds it: the header and each KEY=VALUE, each NUL-ended."""
    return b"".join(part.encode() + b"\0" for part in (header,) + keys)


# Quectel EC25 (2c7c:0125) plugged in and pulled out, and an RM500Q on PCIe, as the kernel reports them.
USB_INTERFACE_ADD = kernel(
    "add@%s/1-1:1.4" % USB, "ACTION=add", "DEVPATH=%s/1-1:1.4" % USB, "SUBSYSTEM=usb", "DEVTYPE=usb_interface",
    "PRODUCT=2c7c/125/318", "TYPE=239/2/1", "INTERFACE=255/255/255",
    "MODALIAS=usb:v2C7Cp0125d0318dcEFdsc02dp01icFFiscFFipFFin04", "SEQNUM=4512")
USB_DEVICE_REMOVE = kernel(
    "remove@%s" % USB, "ACTION=remove", "DEVPATH=%s" % USB, "SUBSYSTEM=usb", "MAJOR=189", "MINOR=3",
    "DEVNAME=bus/usb/001/004", "DEVTYPE=usb_device", "PRODUCT=2c7c/125/318", "TYPE=239/2/1", "BUSNUM=001",
    "DEVNUM=004", "SEQNUM=4620")
NET_ADD = kernel(
    "add@%s/1-1:1.4/net/wwan0" % USB, "ACTION=add", "DEVPATH=%s/1-1:1.4/net/wwan0" % USB, "SUBSYSTEM=net",
    "INTERFACE=wwan0", "IFINDEX=5", "DEVTYPE=wwan", "SEQNUM=4515")
NET_REMOVE = kernel(
    "remove@%s/1-1:1.4/net/wwan0" % USB, "ACTION=remove", "DEVPATH=%s/1-1:1.4/net/wwan0" % USB,
    "SUBSYSTEM=net", "INTERFACE=wwan0", "IFINDEX=5", "DEVTYPE=wwan", "SEQNUM=4601")
CDC_WDM_ADD = kernel(
    "add@%s/1-1:1.4/usbmisc/cdc-wdm0" % USB, "ACTION=add", "DEVPATH=%s/1-1:1.4/usbmisc/cdc-wdm0" % USB,
    "SUBSYSTEM=usbmisc", "MAJOR=180", "MINOR=176", "DEVNAME=cdc-wdm0", "SEQNUM=4514")
PCI = "/devices/pci0000:00/0000:00:1c.0/0000:02:00.0"
WWAN_QMI_ADD = kernel(
    "add@%s/mhi0/wwan/wwan0/wwan0qmi0" % PCI, "ACTION=add", "DEVPATH=%s/mhi0/wwan/wwan0/wwan0qmi0" % PCI,
    "SUBSYSTEM=wwan", "MAJOR=234", "MINOR=1", "DEVNAME=wwan0qmi0", "DEVTYPE=wwan_port", "SEQNUM=812")
BIND = kernel(
    "bind@%s/1-1:1.4" % USB, "ACTION=bind", "DEVPATH=%s/1-1:1.4" % USB, "SUBSYSTEM=usb", "DEVTYPE=usb_interface",
    "DRIVER=qmi_wwan", "PRODUCT=2c7c/125/318", "TYPE=239/2/1", "INTERFACE=255/255/255", "SEQNUM=4516")


def test_usb_interface_add():
    event = parse(USB_INTERFACE_ADD)
    assert event is not None
    assert (event.action, event.devpath, event.subsystem, event.seqnum) == ("add", USB + "/1-1:1.4", "usb", 4512)
    assert event.values["PRODUCT"] == "2c7c/125/318" and event.values["INTERFACE"] == "255/255/255"
    assert event.interface == ""  # INTERFACE names a link only for net devices
    assert concerns_modems(event)


def test_usb_device_remove():
    event = parse(USB_DEVICE_REMOVE)
    assert event is not None and event.action == "remove" and event.devname == "bus/usb/001/004"
    assert concerns_modems(event)


@pytest.mark.parametrize("data,action", [(NET_ADD, "add"), (NET_REMOVE, "remove")])
def test_net_link_of_the_module(data, action):
    event = parse(data)
    assert event is not None and (event.action, event.subsystem, event.interface) == (action, "net", "wwan0")
    assert event.values["DEVTYPE"] == "wwan" and concerns_modems(event)


def test_usbmisc_control_port():
    event = parse(CDC_WDM_ADD)
    assert event is not None and (event.subsystem, event.devname) == ("usbmisc", "cdc-wdm0")
    assert concerns_modems(event)


def test_wwan_port_of_a_pcie_module():
    event = parse(WWAN_QMI_ADD)
    assert event is not None and (event.subsystem, event.devname) == ("wwan", "wwan0qmi0")
    assert concerns_modems(event)


def test_driver_bound():
    event = parse(BIND)
    assert event is not None and event.action == "bind" and event.values["DRIVER"] == "qmi_wwan"
    assert concerns_modems(event)


def test_events_that_leave_modules_as_they_were():
    battery = parse(kernel("change@/devices/LNXSYSTM:00/PNP0C0A:00/power_supply/BAT0", "ACTION=change",
                           "DEVPATH=/devices/LNXSYSTM:00/PNP0C0A:00/power_supply/BAT0", "SUBSYSTEM=power_supply",
                           "POWER_SUPPLY_CAPACITY=80", "SEQNUM=9"))
    assert battery is not None and not concerns_modems(battery)
    block = parse(kernel("add@/devices/virtual/block/loop0", "ACTION=add", "DEVPATH=/devices/virtual/block/loop0",
                         "SUBSYSTEM=block", "DEVNAME=loop0", "DEVTYPE=disk", "SEQNUM=10"))
    assert block is not None and not concerns_modems(block)
    change = parse(kernel("change@%s/1-1:1.4/net/wwan0" % USB, "ACTION=change", "SUBSYSTEM=net", "INTERFACE=wwan0"))
    assert change is not None and not concerns_modems(change)


@pytest.mark.parametrize("data", [
    b"",
    b"libudev\0\xfe\xed\xca\xfe" + bytes(32),                   # udev's re-broadcast (group 2)
    b"add/devices/x\0ACTION=add\0",                             # no @
    b"frobnicate@/devices/x\0",                                 # not an action the kernel has
    b"add@devices/x\0",                                         # not a path below /sys
    kernel("add@/devices/a", "ACTION=remove", "SUBSYSTEM=usb"),  # the header and the keys disagree
    kernel("add@/devices/a", "DEVPATH=/devices/b"),
    b"add@/devices/x\0" + b"K=" + b"v" * 9000,                  # bigger than any uevent
])
def test_not_a_kernel_uevent(data):
    assert parse(data) is None


def test_odd_bytes_and_keys_are_survived():
    event = parse(b"add@/devices/\xff\xfe\0ACTION=add\0NOEQUALS\0=novalue\0SUBSYSTEM=usb\0SEQNUM=x\0\0\0")
    assert event is not None and event.subsystem == "usb" and event.seqnum is None
    assert "NOEQUALS" not in event.values and "" not in event.values


def test_encode_is_what_parse_reads():
    data = encode("add", "/devices/x/usbmisc/cdc-wdm1", [("SUBSYSTEM", "usbmisc"), ("DEVNAME", "cdc-wdm1"),
                                                          ("ACTION", "ignored")])
    assert data == kernel("add@/devices/x/usbmisc/cdc-wdm1", "ACTION=add", "DEVPATH=/devices/x/usbmisc/cdc-wdm1",
                          "SUBSYSTEM=usbmisc", "DEVNAME=cdc-wdm1")
    event = parse(data)
    assert event is not None and event.devname == "cdc-wdm1" and concerns_modems(event)


@pytest.mark.parametrize("name,port", [("cdc-wdm0", True), ("wwan0qmi0", True), ("wwan0mbim0", True),
                                       ("ttyUSB2", True), ("qcqmi0", True), ("sda", False), ("tty1", False),
                                       ("null", False), ("", False)])
def test_port_names(name, port):
    assert is_port_name(name) is port
