"""A fake sysfs and /dev, laid out the way the kernel shows a USB module (qmi_wwan, cdc_mbim,
cdc_ether...) or an M.2 PCIe module (mhi-pci-generic and the WWAN class).

Only the entries a connection manager reads are created: the USB device (ids, bus numbers,
interfaces with their class and bound driver, the raw ``descriptors`` libmbim reads
wMaxControlMessage from), the cdc-wdm control node, the network interface with
``qmi/raw_ip``, the serial ports, and the class symlinks that point into the device tree; for
PCIe the PCI function, its WWAN device with the ports ``wwan0mbim0`` and ``wwan0at0`` (each
with its ``type``) and the ``wwan0`` link of mhi_wwan_mbim. With ``wwan_ports`` a USB module's
cdc-wdm port is also registered in the WWAN class, as kernels built with CONFIG_WWAN do: one
port, two names. Links are relative, like the kernel's, so the tree can live anywhere.
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


def control_name(config: SimConfig) -> str:
    """The control port's /dev name: cdc-wdmN on USB, the WWAN port on PCIe."""
    return "wwan0mbim0" if config.bus == "pci" else config.control


def mbim_descriptors(config: SimConfig) -> bytes:
    """The configuration descriptors as the USB device's ``descriptors`` file holds them, with
    the MBIM functional descriptor (signature 0c 24 1b) carrying wMaxControlMessage."""
    device = bytes([18, 1, 0x00, 0x02, 0, 0, 0, 64]) + config.vendor_id.to_bytes(2, "little") + \
        config.product_id.to_bytes(2, "little") + bytes([0x18, 0x03, 1, 2, 3, 1])
    interface = bytes([9, 4, config.net_interface, 0, 1, 0x02, 0x0E, 0x00, 0])
    header = bytes([5, 0x24, 0x00, 0x10, 0x01])
    mbim = bytes([12, 0x24, 0x1B, 0x00, 0x01]) + config.mbim_max_transfer.to_bytes(2, "little") + \
        bytes([32, 128]) + (1500).to_bytes(2, "little") + bytes([0x20])
    body = interface + header + mbim
    configuration = bytes([9, 2]) + (9 + len(body)).to_bytes(2, "little") + bytes([1, 1, 0, 0xA0, 250])
    return device + configuration + body


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
    unbind_name: str = ""                                     # what the driver's unbind file takes

    def add_mux_link(self, name: str, mux_id: int, parent: str) -> None:
        """A virtual netdev carrying one QMAP mux (qmimuxN): its qmap/mux_id, and the parent's upper_ link."""
        virtual = self.sysfs / "devices" / "virtual" / "net" / name
        _write(virtual / "qmap" / "mux_id", "0x%02x\n" % mux_id)
        _write(virtual / "type", "65534\n")  # ARPHRD_NONE
        _link(virtual / "subsystem", self.sysfs / "class" / "net")
        _link(self.sysfs / "class" / "net" / name, virtual)
        _link(self.netdev_dir / ("upper_" + name), virtual)
        _link(virtual / ("lower_" + parent), self.netdev_dir)

    def remove_mux_link(self, name: str) -> None:
        import shutil
        for path in (self.sysfs / "class" / "net" / name, self.netdev_dir / ("upper_" + name)):
            if path.is_symlink():
                path.unlink()
        shutil.rmtree(self.sysfs / "devices" / "virtual" / "net" / name, ignore_errors=True)

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
    if config.bus == "pci":
        return _lay_out_pci(root, config, control_pty, tty_ptys)
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
                if config.wwan_ports:  # CONFIG_WWAN: the same port in the WWAN class too
                    _wwan_port(sysfs, dev, interface / "wwan" / "wwan0", "wwan0%s0" % kind, kind.upper(), control_pty)
            if kind == "mbim":
                _write_bytes(usb_device / "descriptors", mbim_descriptors(config))
            netdev_dir = interface / "net" / netdev
            raw_ip = netdev_dir / "qmi" / "raw_ip"
            if kind == "qmi":
                _write(raw_ip, "Y\n" if config.host_raw_ip else "N\n")
                _write(netdev_dir / "qmi" / "pass_through", "N\n")
                if config.driver == "qmi_wwan":  # QMAP mux links (qmimuxN), since Linux 4.19
                    _write(netdev_dir / "qmi" / "add_mux", "")
                    _write(netdev_dir / "qmi" / "del_mux", "")
                if config.driver == "qmi_wwan_q":  # Quectel's driver: its module parameter, shown per netdev
                    _write(netdev_dir / "qmap_mode", "%d\n" % config.qmap_mode)
            _write(netdev_dir / "uevent", "DEVTYPE=%s\nINTERFACE=%s\n" % ("wwan" if kind in ("qmi", "mbim") else "",
                                                                           netdev))
            _write(netdev_dir / "type", "1\n")  # ARPHRD_ETHER until the host switches raw_ip on
            _link(netdev_dir / "device", interface)
            _link(netdev_dir / "subsystem", sysfs / "class" / "net")
            _link(sysfs / "class" / "net" / netdev, netdev_dir)
            (sysfs / "module" / driver).mkdir(parents=True, exist_ok=True)
            _write(sysfs / "module" / driver / "version", config.driver_version + "\n")
            _link(drivers / driver / "module", sysfs / "module" / driver)
    control_link = dev / config.control
    if config.usbnet in ("qmi", "mbim"):
        _link_dev(control_link, control_pty)
    device_parts = [sysfs / "devices", sysfs / "class", sysfs / "bus" / "usb" / "devices", dev]
    driver = interfaces(config)[-1][2]
    return Layout(sysfs, dev, usb_device, control_link, netdev_dir, raw_ip, tty_links, [sysfs, dev], device_parts,
                  drivers / driver, "%s:1.%d" % (config.usb_path, config.net_interface))


PCI_DRIVER = "mhi-pci-generic"


def _lay_out_pci(root: Path, config: SimConfig, control_pty: str, tty_ptys: Optional[Dict[int, str]]) -> Layout:
    """An M.2 module on PCIe as upstream Linux shows a Quectel RM520N: the PCI function bound to
    mhi-pci-generic, its MHI controller ``mhi0``, the WWAN device ``wwan0`` with its MBIM and AT
    ports (mhi_wwan_ctrl) and the ``wwan0`` network link of mhi_wwan_mbim (link id 0 = session 0)."""
    sysfs, dev = root / "sys", root / "dev"
    function = sysfs / "devices" / "pci0000:00" / "0000:00:1c.0" / config.pci_address
    _write(function / "vendor", "0x%04x\n" % config.vendor_id)
    _write(function / "device", "0x%04x\n" % config.product_id)
    _write(function / "subsystem_vendor", "0x17aa\n")
    _write(function / "subsystem_device", "0x%04x\n" % config.product_id)
    _write(function / "class", "0x0d4000\n")  # wireless controller, as an M.2 WWAN card reports
    _link(sysfs / "bus" / "pci" / "devices" / config.pci_address, function)
    drivers = sysfs / "bus" / "pci" / "drivers"
    for control_file in ("bind", "unbind"):
        if not (drivers / PCI_DRIVER / control_file).exists():
            _write(drivers / PCI_DRIVER / control_file, "")
    _link(function / "driver", drivers / PCI_DRIVER)
    (sysfs / "module" / "mhi_pci_generic").mkdir(parents=True, exist_ok=True)
    _link(drivers / PCI_DRIVER / "module", sysfs / "module" / "mhi_pci_generic")
    wwan = function / "mhi0" / "wwan" / "wwan0"
    _write(wwan / "index", "0\n")
    _link(wwan / "subsystem", sysfs / "class" / "wwan")
    _link(sysfs / "class" / "wwan" / "wwan0", wwan)
    _wwan_port(sysfs, dev, wwan, control_name(config), "MBIM", control_pty)
    tty_links: Dict[str, Path] = {}
    at_pty = (tty_ptys or {}).get(config.at_interface)
    if at_pty:
        _wwan_port(sysfs, dev, wwan, "wwan0at0", "AT", at_pty)
        tty_links["wwan0at0"] = dev / "wwan0at0"
    netdev = netdev_name(config)
    netdev_dir = wwan / "net" / netdev
    _write(netdev_dir / "uevent", "DEVTYPE=wwan\nINTERFACE=%s\n" % netdev)
    _write(netdev_dir / "type", "65534\n")  # ARPHRD_NONE: raw IP
    _link(netdev_dir / "device", wwan)
    _link(netdev_dir / "subsystem", sysfs / "class" / "net")
    _link(sysfs / "class" / "net" / netdev, netdev_dir)
    device_parts = [sysfs / "devices", sysfs / "class", sysfs / "bus" / "pci" / "devices", dev]
    return Layout(sysfs, dev, function, dev / control_name(config), netdev_dir, netdev_dir / "qmi" / "raw_ip",
                  tty_links, [sysfs, dev], device_parts, drivers / PCI_DRIVER, config.pci_address)


def _wwan_port(sysfs: Path, dev: Path, wwan: Path, name: str, kind: str, pty: str) -> None:
    """A port of the WWAN class (drivers/net/wwan/wwan_core.c): ``wwanNmbim0`` with its type."""
    port = wwan / name
    _write(port / "type", kind + "\n")
    _write(port / "dev", "234:%d\n" % len(list(wwan.iterdir())))
    _write(port / "uevent", "MAJOR=234\nDEVNAME=%s\n" % name)
    _link(port / "device", wwan)
    _link(port / "subsystem", sysfs / "class" / "wwan")
    _link(sysfs / "class" / "wwan" / name, port)
    if not (wwan / "index").exists():
        _write(wwan / "index", "0\n")
        _link(wwan / "subsystem", sysfs / "class" / "wwan")
        _link(sysfs / "class" / "wwan" / wwan.name, wwan)
    _link_dev(dev / name, pty)


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _link_dev(link: Path, target: str) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)  # absolute: the pty lives in the real /dev/pts


def device_events(layout: Layout, config: SimConfig, action: str) -> List[Tuple[str, bytes]]:
    """The uevents the kernel sends when this module's devices are added or removed, as (devpath,
    datagram): parents first on "add", children first on "remove". Read from the tree as laid out
    (for "remove": before it goes)."""
    from ..uevent import encode
    events: List[Tuple[str, bytes]] = []
    for directory, subdirectories, _files in os.walk(layout.usb_device):  # links are not followed
        subdirectories.sort()
        path = Path(directory)
        values = _uevent_values(path, layout, config)
        if values is not None:
            devpath = "/" + os.path.relpath(path, layout.sysfs)
            events.append((devpath, encode(action, devpath, values + [("SEQNUM", str(_next_seqnum()))])))
    return events if action == "add" else events[::-1]


_seqnum = [0]


def _next_seqnum() -> int:
    _seqnum[0] += 1
    return _seqnum[0]


def _uevent_values(path: Path, layout: Layout, config: SimConfig) -> Optional[List[Tuple[str, str]]]:
    """The keys of the device at ``path`` (what its ``uevent`` file would show, with SUBSYSTEM), or None
    when ``path`` is not a device (an attribute group such as ``qmi/``)."""
    product = "%x/%x/318" % (config.vendor_id, config.product_id)
    parent = path.parent.name
    if path == layout.usb_device:
        if config.bus == "pci":
            return [("SUBSYSTEM", "pci"), ("DRIVER", PCI_DRIVER), ("PCI_ID", "%04X:%04X" % (
                config.vendor_id, config.product_id)), ("PCI_SLOT_NAME", path.name)]
        busnum, devnum = int(_read_text(path / "busnum") or 0), int(_read_text(path / "devnum") or 0)
        return [("SUBSYSTEM", "usb"), ("MAJOR", "189"), ("MINOR", str((busnum - 1) * 128 + devnum - 1)),
                ("DEVNAME", "bus/usb/%03d/%03d" % (busnum, devnum)), ("DEVTYPE", "usb_device"),
                ("DRIVER", "usb"), ("PRODUCT", product), ("TYPE", "239/2/1"), ("BUSNUM", "%03d" % busnum),
                ("DEVNUM", "%03d" % devnum)]
    if path.parent == layout.usb_device and (path / "bInterfaceNumber").exists():
        classes = "/".join(str(int(_read_text(path / name) or "0", 16)) for name in
                           ("bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol"))
        driver = os.path.basename(os.readlink(path / "driver")) if (path / "driver").is_symlink() else ""
        return [("SUBSYSTEM", "usb"), ("DEVTYPE", "usb_interface")] + ([("DRIVER", driver)] if driver else []) + \
            [("PRODUCT", product), ("TYPE", "239/2/1"), ("INTERFACE", classes)]
    if parent == "usbmisc":
        return [("SUBSYSTEM", "usbmisc"), ("MAJOR", "180"), ("MINOR", "176"), ("DEVNAME", path.name)]
    if parent == "net":
        return [("SUBSYSTEM", "net"), ("INTERFACE", path.name), ("DEVTYPE", "wwan")]
    if parent == "tty" and path.name.startswith("tty"):
        return [("SUBSYSTEM", "tty"), ("MAJOR", "188"), ("DEVNAME", path.name)]
    if path.name.startswith("ttyUSB") and parent != "tty":
        return [("SUBSYSTEM", "usb-serial"), ("DRIVER", config.serial_driver)]
    if parent == "wwan":
        return [("SUBSYSTEM", "wwan"), ("DEVTYPE", "wwan_dev")]
    if path.parent.parent.name == "wwan" and (path / "type").exists():
        return [("SUBSYSTEM", "wwan"), ("MAJOR", "234"), ("DEVNAME", path.name), ("DEVTYPE", "wwan_port")]
    if path.name.startswith("mhi") and parent == layout.usb_device.name:
        return [("SUBSYSTEM", "mhi"), ("DEVTYPE", "mhi_controller")]
    return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
