"""Find cellular modules in sysfs: control port, network interface, driver, mode, AT ports.

Reads ``<sysfs>/bus/usb/devices`` and the WWAN class (``<sysfs>/class/wwan``) the way the kernel
lays them out; both roots are parameters (defaults /sys and /dev) so the simulator and the
tests can point at a fake tree. USB modules are found by their interfaces (qmi_wwan, cdc_mbim,
cdc_ether...); M.2 PCIe modules (mhi-pci-generic) by their WWAN ports: ``wwan0mbim0``,
``wwan0at0``, and ``wwan0qmi0`` on Qualcomm-id modules (RM500Q-class), each under the PCI
function. A kernel built with CONFIG_WWAN registers a USB module's cdc-wdm port in the WWAN
class too, so ``/dev/cdc-wdm0`` and ``/dev/wwan0mbim0`` are one port (opening one makes the
other busy): the module is listed once, with the second name as an alias of its control port.
Nothing here talks to a modem: choosing by IMEI is done by the caller, which can ask each candidate.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from .errors import NoModemError, UsageError
from .modules import (CELLULAR_VENDORS, KNOWN_MODULES, MODE_OF_DRIVER, PCI_VENDORS, Modem, Port,
                      bind_option_command)

__all__ = ["Modem", "Port", "scan", "select", "KNOWN_MODULES", "MODE_OF_DRIVER", "bind_option_command",
           "mbim_max_control_transfer"]

_WWAN_ROLES = {"mbim": "control", "qmi": "control", "at": "at"}
_WWAN_PORT = re.compile(r"wwan\d+(at|mbim|qmi|qcdm|firehose|xmmrpc|fastboot|nmea)\d+$")


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
        for port_name, kind in _wwan_ports(interface / "wwan"):  # CONFIG_WWAN: cdc-wdm's port, a second name
            if _WWAN_ROLES.get(kind) == "control":
                ports.append(Port(str(dev / port_name), number, "alias"))
    if net_function is None and not (vendor in CELLULAR_VENDORS and ports):
        return None
    if net_function is not None and MODE_OF_DRIVER[net_function[1]] == "ethernet" and vendor not in CELLULAR_VENDORS:
        return None  # a USB Ethernet adapter, not a modem
    model, at_interface = KNOWN_MODULES.get((vendor, product_id), ("", 2))
    at_port = next((p.path for p in ports if p.role == "tty" and p.interface == at_interface), None)
    ports = [Port(p.path, p.interface, "at") if p.path == at_port else p for p in ports]
    net_number: Optional[int] = None
    driver, netdev, raw_ip = "", None, None
    if net_function is not None:
        net_number, driver, interface = net_function
        nets = _nets(interface)
        netdev = nets[0] if nets else None
        if netdev is not None and (interface / "net" / netdev / "qmi" / "raw_ip").exists():
            raw_ip = _read(interface / "net" / netdev / "qmi" / "raw_ip").upper().startswith("Y")
    control = next((p.path for p in ports if p.role == "control"), None)
    if control is None:  # only the WWAN name: that one is the port
        ports = [Port(p.path, p.interface, "control") if p.role == "alias" else p for p in ports]
        control = next((p.path for p in ports if p.role == "control"), None)
    mode = MODE_OF_DRIVER.get(driver, "none")
    if mode == "ethernet" and control is None:
        control = at_port  # Ethernet-style modes are controlled (dialled) over the AT port
    return Modem(
        usb_path=name, vendor_id=vendor, product_id=product_id,
        manufacturer=_read(device / "manufacturer"), product=_read(device / "product"),
        model=model or _read(device / "product") or "unknown", mode=mode, driver=driver,
        driver_version=_module_version(sysfs, driver), interface=net_number, control=control, netdev=netdev,
        raw_ip=raw_ip, at_port=at_port, ports=tuple(ports), at_interface=at_interface, unbound=tuple(sorted(unbound)),
        sysfs_path=str(device),
        busnum=int(_read(device / "busnum", "0") or 0), devnum=int(_read(device / "devnum", "0") or 0),
        sysfs_root=str(sysfs), control_aliases=tuple(p.path for p in ports if p.role == "alias"))


def _wwan_ports(directory: Path) -> List[Tuple[str, str]]:
    """(name, kind) of the WWAN ports under a WWAN device directory (or a parent of WWAN devices)."""
    found: List[Tuple[str, str]] = []
    for wwan in _children(directory):
        for name in [wwan] + _children(directory / wwan):
            match = _WWAN_PORT.match(name)
            if match:
                found.append((name, match.group(1)))
    return sorted(set(found))


def _pci_function(path: Path) -> Optional[Path]:
    """The PCI function a WWAN port hangs under, or None when it belongs to a USB device."""
    for parent in path.parents:
        if (parent / "idVendor").exists():
            return None  # a USB module's port (scanned with its interfaces)
        if re.match(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$", parent.name) and (parent / "vendor").exists():
            return parent
    return None


def _scan_pci(sysfs: Path, dev: Path) -> List[Modem]:
    """M.2 modules on PCIe, found through their WWAN ports (mhi_wwan_ctrl) and network links."""
    functions: Dict[Path, List[Tuple[str, str]]] = {}
    for name in _children(sysfs / "class" / "wwan"):
        match = _WWAN_PORT.match(name)
        if not match:
            continue
        function = _pci_function(Path(os.path.realpath(sysfs / "class" / "wwan" / name)))
        if function is not None:
            functions.setdefault(function, []).append((name, match.group(1)))
    nets: Dict[Path, List[str]] = {}
    for name in _children(sysfs / "class" / "net"):
        function = _pci_function(Path(os.path.realpath(sysfs / "class" / "net" / name)))
        if function is not None:
            nets.setdefault(function, []).append(name)
    modems = []
    for function, found in sorted(functions.items()):
        vendor, product_id = _hex(function / "vendor"), _hex(function / "device")
        kinds = {kind: str(dev / name) for name, kind in sorted(found)}
        netdevs = nets.get(function, [])
        # Qualcomm-id modules carry data on mhi_net (mhi_hwip0) for QMI; Quectel's on the wwan link for MBIM.
        hwip = next((n for n in netdevs if n.startswith("mhi_hwip")), None)
        control: Optional[str]
        netdev: Optional[str]
        if "qmi" in kinds and hwip:
            mode, control, netdev = "qmi", kinds["qmi"], hwip
        elif "mbim" in kinds:
            mode, control = "mbim", kinds["mbim"]
            netdev = next((n for n in netdevs if n.startswith("wwan")), hwip or (netdevs[0] if netdevs else None))
        else:
            mode, control, netdev = "none", None, hwip
        driver = _driver(function)
        ports = tuple(Port(path, 0, _WWAN_ROLES.get(kind, "tty") if path != control else "control")
                      for kind, path in sorted(kinds.items()))
        model = KNOWN_MODULES.get((vendor, product_id), ("", 0))[0]
        modems.append(Modem(
            usb_path=function.name, vendor_id=vendor, product_id=product_id,
            manufacturer=PCI_VENDORS.get(vendor, ""), product="",
            model=model or "PCIe %04x:%04x" % (vendor, product_id), mode=mode, driver=driver,
            driver_version=_module_version(sysfs, driver.replace("-", "_")), interface=None, control=control,
            netdev=netdev, raw_ip=None, at_port=kinds.get("at"), ports=ports, at_interface=0, sysfs_path=str(function),
            sysfs_root=str(sysfs), bus="pci"))
    return modems


def scan(sysfs: Path = Path("/sys"), dev: Path = Path("/dev")) -> List[Modem]:
    """Every cellular module present: USB ones sorted by USB path, then PCIe ones by address."""
    devices = sysfs / "bus" / "usb" / "devices"
    modems = []
    for name in _children(devices):
        if ":" in name or name.startswith("usb"):
            continue  # interfaces and root hubs
        modem = _scan_device(sysfs, dev, devices / name, name)
        if modem is not None:
            modems.append(modem)
    return modems + _scan_pci(sysfs, dev)


def mbim_max_control_transfer(modem: Modem, default: int = 4096) -> int:
    """wMaxControlMessage from the MBIM functional descriptor in the USB device's raw descriptors
    (what libmbim reads); ``default`` when there is none (PCIe, another driver)."""
    try:
        data = (Path(modem.sysfs_path) / "descriptors").read_bytes() if modem.bus == "usb" else b""
    except OSError:
        return default
    at = data.find(bytes([0x0C, 0x24, 0x1B, 0x00]))  # bLength, CS_INTERFACE, MBIM, bcdMBIMVersion low byte
    if at < 0 or at + 7 > len(data):
        return default
    value = int.from_bytes(data[at + 5:at + 7], "little")
    return value if 64 <= value <= 0xFFFF else default


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
        candidates = [m for m in candidates if any(
            port in (control, real) or os.path.basename(port) == os.path.basename(control)
            for port in (m.control,) + m.control_aliases if port)]
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

