"""Cellular modules as qcm knows them: what a module is (``Modem``), which products and drivers
exist, and the one-line fixes that depend on them. Plain data, no I/O: discovery (``discovery.py``)
fills it from sysfs, and the doctor's rules read it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

__all__ = ["Modem", "Port", "KNOWN_MODULES", "MODE_OF_DRIVER", "CELLULAR_VENDORS", "PCI_VENDORS",
           "bind_option_command"]

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
    # PCIe (Linux drivers/bus/mhi/host/pci_generic.c): Quectel's own ids are MBIM only, Qualcomm's
    # reference ids (the RM500Q-GL enumerates as 17cb:0306) have QMI and MBIM ports.
    (0x1EAC, 0x1001): ("EM120R-GL", 0), (0x1EAC, 0x1002): ("EM160R-GL", 0), (0x1EAC, 0x1004): ("RM520N-GL", 0),
    (0x1EAC, 0x1007): ("RM520N-GL", 0), (0x1EAC, 0x100D): ("EM160R-GL", 0), (0x1EAC, 0x2001): ("EM120R-GL", 0),
    (0x17CB, 0x0304): ("Qualcomm SDX24", 0), (0x17CB, 0x0306): ("Qualcomm SDX55 (RM500Q-GL)", 0),
    (0x17CB, 0x0308): ("Qualcomm SDX65", 0),
}
# WWAN port kinds (the suffix of /dev/wwanN<kind>M, drivers/net/wwan/wwan_core.c) and their roles.
PCI_VENDORS = {0x1EAC: "Quectel", 0x17CB: "Qualcomm", 0x105B: "Foxconn"}  # no manufacturer file on PCI


@dataclass(frozen=True)
class Port:
    """A character device of the module: its /dev path, USB interface and role."""

    path: str
    interface: int
    role: str  # "control", "at", "tty", "alias" (a second name of the control port: /dev/wwan0mbim0)


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
    bus: str = "usb"           # usb, or pci (then usb_path is the PCI address)
    control_aliases: Tuple[str, ...] = ()  # the control port's other names (cdc-wdm0 is also wwan0mbim0)

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
