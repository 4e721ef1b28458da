"""Find cellular modules in sysfs: control port, network interface, driver, mode, AT ports.

Reads ``<sysfs>/bus/usb/devices`` the way the kernel lays it out; both roots are parameters
(defaults /sys and /dev) so the simulator and the tests can point at a fake tree. Nothing
here talks to a modem: choosing by IMEI is done by the caller, which can ask each candidate.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from .errors import NoModemError, UsageError

__all__ = ["Modem", "Port", "scan", "select", "KNOWN_MODULES", "MODE_OF_DRIVER", "bind_option_command"]

# Drivers of a module's network function, and the control protocol each implies.
MODE_OF_DRIVER = {
    "qmi_wwan": "qmi", "qmi_wwan_q": "qmi", "GobiNet": "qmi",
    "cdc_mbim": "mbim",
    "cdc_ether": "ethernet", "rndis_host": "ethernet", "cdc_ncm": "ethernet",
}
# Vendors whose USB devices are cellular modules (so a cdc_ether function there is a modem,
# not a USB Ethernet adapter). Qualcomm, Quectel, Sierra, Telit, SIMCom, Fibocom, u-blox, ZTE,
# Huawei, Dell (Foxconn/Quectel inside), Netgear, Meig.
CELLULAR_VENDORS = {0x05C6, 0x2C7C, 0x1199, 0x1BC7, 0x1E0E, 0x2CB7, 0x1546, 0x19D2, 0x12D1, 0x413C, 0x0846,
                    0x2DEE}

# Quectel product ids: model family, and the USB interface of the AT port.
KNOWN_MODULES: Dict[Tuple[int, int], Tuple[str, int]] = {
    (0x2C7C, 0x0121): ("EC21", 2), (0x2C7C, 0x0125): ("EC25/EC20", 2), (0x2C7C, 0x0191): ("EG91", 2),
    (0x2C7C, 0x0195): ("EG95", 2), (0x2C7C, 0x0296): ("BG96", 2), (0x2C7C, 0x0306): ("EG06/EP06/EM06", 2),
    (0x2C7C, 0x030B): ("EG065K", 2), (0x2C7C, 0x0512): ("EG12/EM12/EG18", 2), (0x2C7C, 0x0620): ("EM20", 2),
    (0x2C7C, 0x0800): ("RM500Q/RM502Q/RG500Q", 2), (0x2C7C, 0x0801): ("RM520N/RG520N", 2),
    (0x2C7C, 0x0435): ("AG35", 2), (0x2C7C, 0x0700): ("BG95/BG77/BG600L", 2),
    (0x2C7C, 0x0900): ("RG500U", 4), (0x2C7C, 0x0901): ("EC200U", 2), (0x2C7C, 0x0902): ("EC200D", 2),
    (0x2C7C, 0x6026): ("EC200T", 3), (0x2C7C, 0x6005): ("EC200A", 3), (0x2C7C, 0x6002): ("EC200S", 3),
    (0x2C7C, 0x6001): ("EC100Y", 3), (0x2C7C, 0x6007): ("EG915Q/EG800Q", 3), (0x2C7C, 0x8101): ("RG801H", 2),
    (0x05C6, 0x9215): ("Qualcomm MDM9215 (EC20 R1)", 2),
}


@dataclass(frozen=True)
class Port:
    """A character device of the module: its /dev path, USB interface and role."""

    path: str
    interface: int
    role: str  # "control", "at", "tty"


@dataclass(frozen=True)
class Modem:
    usb_path: str
    vendor_id: int
    product_id: int
    manufacturer: str
    product: str
    model: str
    mode: str                  # qmi | mbim | ethernet | none
    driver: str
    driver_version: str
    interface: Optional[int]   # USB interface number of the network function
    control: Optional[str]     # /dev/cdc-wdm0, /dev/qcqmi0; in Ethernet-style modes the AT port
    netdev: Optional[str]
    raw_ip: Optional[bool]     # qmi_wwan's qmi/raw_ip: True raw-IP, False 802.3, None not applicable
    at_port: Optional[str]
    ports: Tuple[Port, ...] = ()
    at_interface: int = 2      # USB interface of the AT port, from the known layout of the product
    unbound: Tuple[int, ...] = ()  # USB interfaces no driver claimed (serial ports without option, ...)
    sysfs_path: str = ""
    busnum: int = 0
    devnum: int = 0
    sysfs_root: str = "/sys"

    @property
    def usb_id(self) -> str:
        return "%04x:%04x" % (self.vendor_id, self.product_id)

    @property
    def raw_ip_path(self) -> Optional[Path]:
        if self.netdev is None or self.raw_ip is None:
            return None
        return Path(self.sysfs_root) / "class" / "net" / self.netdev / "qmi" / "raw_ip"

    def to_json(self) -> Dict[str, object]:
        data = asdict(self)
        data["usb_id"] = self.usb_id
        data["ports"] = [asdict(p) for p in self.ports]
        return data

    def describe(self) -> str:
        parts = ["%s %s %s %s" % (self.usb_path, self.usb_id, self.manufacturer or "?", self.model),
                 "%s mode (%s%s)" % (self.mode.upper() if self.mode != "ethernet" else "Ethernet-style",
                                     self.driver or "no driver",
                                     " " + self.driver_version if self.driver_version else "")]
        if self.control and self.control != self.at_port:
            parts.append("control %s" % self.control)
        if self.netdev:
            raw = "" if self.raw_ip is None else " raw_ip %s" % ("Y" if self.raw_ip else "N")
            parts.append("net %s%s" % (self.netdev, raw))
        if self.at_port:
            parts.append("AT %s" % self.at_port)
        return ", ".join(parts)


def bind_option_command(modem: Modem) -> str:
    """How to make the kernel's option driver serve a module's serial ports until the next boot."""
    return "sudo modprobe option; echo '%04x %04x' | sudo tee /sys/bus/usb-serial/drivers/option1/new_id" % (
        modem.vendor_id, modem.product_id)


def _read(path: Path, default: str = "") -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return default


def _hex(path: Path) -> int:
    try:
        return int(_read(path, "0"), 16)
    except ValueError:
        return 0


def _driver(interface: Path) -> str:
    link = interface / "driver"
    try:
        return os.path.basename(os.readlink(link))
    except OSError:
        return ""


def _children(path: Path) -> List[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _ttys(interface: Path) -> List[str]:
    names = [n for n in _children(interface) if n.startswith("tty") and n != "tty"]
    names += [n for n in _children(interface / "tty") if n.startswith("tty")]
    return sorted(set(names))


def _nets(interface: Path) -> List[str]:
    """Network interfaces of a USB interface: ``net/usb0``, or ``net:usb0`` on 2.6 kernels (GobiNet)."""
    return _children(interface / "net") or [n[4:] for n in _children(interface) if n.startswith("net:")]


def _control_nodes(interface: Path) -> List[str]:
    """cdc-wdmN (usbmisc, or usb on old kernels) or GobiNet's qcqmiN (GobiQMI, or GobiQMI:qcqmiN on 2.6)."""
    nodes = [n for d in ("usbmisc", "usb", "GobiQMI") for n in _children(interface / d)]
    nodes += [n.split(":", 1)[1] for n in _children(interface) if n.startswith("GobiQMI:")]
    return [n for n in nodes if n.startswith(("cdc-wdm", "qcqmi"))]


def _module_version(sysfs: Path, driver: str) -> str:
    return _read(sysfs / "module" / driver / "version") if driver else ""


def _scan_device(sysfs: Path, dev: Path, device: Path, name: str) -> Optional[Modem]:
    vendor, product_id = _hex(device / "idVendor"), _hex(device / "idProduct")
    interfaces = [n for n in _children(device) if n.startswith(name + ":")]
    net_function: Optional[Tuple[int, str, Path]] = None
    ports: List[Port] = []
    unbound: List[int] = []
    for entry in interfaces:
        interface = device / entry
        try:
            number = int(_read(interface / "bInterfaceNumber", "ff"), 16)
        except ValueError:
            continue
        driver = _driver(interface)
        if not driver:
            unbound.append(number)
        if driver in MODE_OF_DRIVER and (net_function is None or _nets(interface)):
            net_function = (number, driver, interface)
        for node in _control_nodes(interface):
            ports.append(Port(str(dev / node), number, "control"))
        for tty in _ttys(interface):
            ports.append(Port(str(dev / tty), number, "tty"))
    if net_function is None and not (vendor in CELLULAR_VENDORS and ports):
        return None
    if net_function is not None and MODE_OF_DRIVER[net_function[1]] == "ethernet" and vendor not in CELLULAR_VENDORS:
        return None  # a USB Ethernet adapter, not a modem
    model, at_interface = KNOWN_MODULES.get((vendor, product_id), ("", 2))
    at_port = next((p.path for p in ports if p.role == "tty" and p.interface == at_interface), None)
    ports = [Port(p.path, p.interface, "at") if p.path == at_port else p for p in ports]
    number, driver, netdev, raw_ip = None, "", None, None
    if net_function is not None:
        number, driver, interface = net_function
        nets = _nets(interface)
        netdev = nets[0] if nets else None
        if netdev is not None and (interface / "net" / netdev / "qmi" / "raw_ip").exists():
            raw_ip = _read(interface / "net" / netdev / "qmi" / "raw_ip").upper().startswith("Y")
    control = next((p.path for p in ports if p.role == "control"), None)
    mode = MODE_OF_DRIVER.get(driver, "none")
    if mode == "ethernet" and control is None:
        control = at_port  # Ethernet-style modes are controlled (dialled) over the AT port
    return Modem(
        usb_path=name, vendor_id=vendor, product_id=product_id,
        manufacturer=_read(device / "manufacturer"), product=_read(device / "product"),
        model=model or _read(device / "product") or "unknown", mode=mode, driver=driver,
        driver_version=_module_version(sysfs, driver), interface=number, control=control, netdev=netdev,
        raw_ip=raw_ip, at_port=at_port, ports=tuple(ports), at_interface=at_interface, unbound=tuple(sorted(unbound)),
        sysfs_path=str(device),
        busnum=int(_read(device / "busnum", "0") or 0), devnum=int(_read(device / "devnum", "0") or 0),
        sysfs_root=str(sysfs))


def scan(sysfs: Path = Path("/sys"), dev: Path = Path("/dev")) -> List[Modem]:
    """Every USB cellular module present, sorted by USB path."""
    devices = sysfs / "bus" / "usb" / "devices"
    modems = []
    for name in _children(devices):
        if ":" in name or name.startswith("usb"):
            continue  # interfaces and root hubs
        modem = _scan_device(sysfs, dev, devices / name, name)
        if modem is not None:
            modems.append(modem)
    return modems


def select(modems: Iterable[Modem], interface: Optional[str] = None, control: Optional[str] = None,
           usb_path: Optional[str] = None, require_single: bool = True) -> Modem:
    """The one module the user means; a clear error when none or several match."""
    found = list(modems)
    candidates = found
    wanted = []
    if interface:
        candidates = [m for m in candidates if m.netdev == interface]
        wanted.append("interface %s" % interface)
    if control:
        real = os.path.realpath(control)
        candidates = [m for m in candidates if m.control in (control, real)
                      or (m.control and os.path.basename(m.control) == os.path.basename(control))]
        wanted.append("control port %s" % control)
    if usb_path:
        candidates = [m for m in candidates if m.usb_path == usb_path]
        wanted.append("USB path %s" % usb_path)
    if not candidates:
        if not found:
            raise NoModemError("no cellular module found",
                               "check that it is plugged in and powered (lsusb), and that its driver is loaded")
        raise NoModemError("no module with %s; found: %s" % (" and ".join(wanted), "; ".join(m.describe() for m in found)))
    if len(candidates) > 1 and require_single:
        raise UsageError("%d modules found: %s" % (len(candidates), "; ".join(m.describe() for m in candidates)),
                         "choose one with -i INTERFACE, --control PORT, --usb-path PATH or --imei IMEI")
    return candidates[0]

