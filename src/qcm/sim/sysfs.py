"""A fake sysfs and /dev, laid out the way the kernel shows a USB module with qmi_wwan.

Only the entries a connection manager reads are created: the USB device (ids, bus numbers,
interfaces with their class and bound driver), the cdc-wdm control node, the network
interface with ``qmi/raw_ip``, the serial ports, and the class symlinks that point into the
device tree. Links are relative, like the kernel's, so the tree can live anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .config import SimConfig

__all__ = ["Layout", "lay_out", "interfaces", "netdev_name"]

NET_DRIVERS = {"ecm": "cdc_ether", "mbim": "cdc_mbim", "rndis": "rndis_host", "ncm": "cdc_ncm"}  # qmi: the configured driver
NET_CLASSES = {"qmi": ("ff", "ff", "ff"), "mbim": ("02", "0e", "00"), "ecm": ("02", "06", "00"),
               "rndis": ("e0", "01", "03"), "ncm": ("02", "0d", "00")}


def interfaces(config: SimConfig) -> List[Tuple[int, Tuple[str, str, str], str, str]]:
    """(number, class/subclass/protocol, driver, kind) of each USB interface, in the EC2x way:
    serial ports (DM, NMEA, AT, modem) below the network function."""
    layout = [(n, ("ff", "00", "00") if n else ("ff", "ff", "ff"), config.serial_driver, "tty")
              for n in range(config.net_interface)]
    driver = config.driver if config.usbnet == "qmi" else NET_DRIVERS[config.usbnet]
    layout.append((config.net_interface, NET_CLASSES[config.usbnet], driver, config.usbnet))
    return layout


def netdev_name(config: SimConfig) -> str:
    return config.netdev if config.usbnet in ("qmi", "mbim") else "usb0"


@dataclass
class Layout:
    sysfs: Path
    dev: Path
    usb_device: Path
    control_link: Path
    netdev_dir: Path
    raw_ip: Path
    tty_links: Dict[str, Path] = field(default_factory=dict)
    created: List[Path] = field(default_factory=list)
    device_parts: List[Path] = field(default_factory=list)   # what vanishes when the module resets
    driver_dir: Path = Path()

    def remove_device(self) -> None:
        """The module left the bus: its device, class links and /dev nodes go; drivers stay."""
        import shutil
        for path in self.device_parts:
            shutil.rmtree(path, ignore_errors=True)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))


def lay_out(root: Path, config: SimConfig, control_pty: str, tty_ptys: Optional[Dict[int, str]] = None) -> Layout:
    """Create ``root/sys`` and ``root/dev`` for the module described by ``config``."""
    sysfs, dev = root / "sys", root / "dev"
    bus = config.usb_path.split("-")[0]
    usb_device = sysfs / "devices" / "platform" / "soc" / "usb" / ("usb" + bus) / config.usb_path
    _write(usb_device / "idVendor", "%04x\n" % config.vendor_id)
    _write(usb_device / "idProduct", "%04x\n" % config.product_id)
    _write(usb_device / "manufacturer", config.manufacturer + "\n")
    _write(usb_device / "product", "%s LTE module\n" % config.model)
    _write(usb_device / "busnum", bus + "\n")
    _write(usb_device / "devnum", "4\n")
    _write(usb_device / "devpath", config.usb_path.split("-", 1)[1] + "\n")
    _write(usb_device / "bNumInterfaces", "%2d\n" % len(interfaces(config)))
    _write(usb_device / "speed", "480\n")
    _link(sysfs / "bus" / "usb" / "devices" / config.usb_path, usb_device)

    drivers = sysfs / "bus" / "usb" / "drivers"
    tty_links: Dict[str, Path] = {}
    tty_index = 0
    netdev_dir = raw_ip = Path()
    netdev = netdev_name(config)
    for number, (cls, sub, proto), driver, kind in interfaces(config):
        name = "%s:1.%d" % (config.usb_path, number)
        interface = usb_device / name
        _write(interface / "bInterfaceNumber", "%02x\n" % number)
        _write(interface / "bInterfaceClass", cls + "\n")
        _write(interface / "bInterfaceSubClass", sub + "\n")
        _write(interface / "bInterfaceProtocol", proto + "\n")
        _write(interface / "bNumEndpoints", "03\n")
        _link(sysfs / "bus" / "usb" / "devices" / name, interface)
        if not driver:
            continue  # no driver claimed it: no driver link, no tty, no /dev node
        (drivers / driver).mkdir(parents=True, exist_ok=True)
        for control_file in ("bind", "unbind"):  # written to re-bind the driver (recovery)
            if not (drivers / driver / control_file).exists():
                _write(drivers / driver / control_file, "")
        _link(interface / "driver", drivers / driver)
        if kind == "tty":
            tty = "ttyUSB%d" % tty_index
            tty_index += 1
            node = interface / tty / "tty" / tty
            _write(node / "dev", "188:%d\n" % number)
            _link(node / "device", interface / tty)  # the usb-serial port, as the kernel links it
            _link(node / "subsystem", sysfs / "class" / "tty")
            _link(sysfs / "class" / "tty" / tty, node)
            target = (tty_ptys or {}).get(number)
            if target:
                _link_dev(dev / tty, target)
                tty_links[tty] = dev / tty
        else:
            if kind in ("qmi", "mbim"):
                misc = interface / "usbmisc" / config.control
                _write(misc / "dev", "180:0\n")
                _write(misc / "uevent", "MAJOR=180\nMINOR=0\nDEVNAME=%s\n" % config.control)
                # libqmi's and libmbim's AUTO mode read the driver through these two links
                _link(misc / "device", interface)
                _link(misc / "subsystem", sysfs / "class" / "usbmisc")
                _link(sysfs / "class" / "usbmisc" / config.control, misc)
            netdev_dir = interface / "net" / netdev
            raw_ip = netdev_dir / "qmi" / "raw_ip"
            if kind == "qmi":
                _write(raw_ip, "Y\n" if config.host_raw_ip else "N\n")
                _write(netdev_dir / "qmi" / "pass_through", "N\n")
            _write(netdev_dir / "uevent", "DEVTYPE=%s\nINTERFACE=%s\n" % ("wwan" if kind == "qmi" else "", netdev))
            _write(netdev_dir / "type", "1\n")  # ARPHRD_ETHER until the host switches raw_ip on
            _link(netdev_dir / "device", interface)
            _link(netdev_dir / "subsystem", sysfs / "class" / "net")
            _link(sysfs / "class" / "net" / netdev, netdev_dir)
            (sysfs / "module" / driver).mkdir(parents=True, exist_ok=True)
            _write(sysfs / "module" / driver / "version", config.driver_version + "\n")
            _link(drivers / driver / "module", sysfs / "module" / driver)
    control_link = dev / config.control
    if config.usbnet == "qmi":
        _link_dev(control_link, control_pty)
    device_parts = [sysfs / "devices", sysfs / "class", sysfs / "bus" / "usb" / "devices", dev]
    driver = interfaces(config)[-1][2]
    return Layout(sysfs, dev, usb_device, control_link, netdev_dir, raw_ip, tty_links, [sysfs, dev], device_parts,
                  drivers / driver)


def _link_dev(link: Path, target: str) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)  # absolute: the pty lives in the real /dev/pts
