"""What the simulated modem is: every scenario key, its default, and how it is checked.

A scenario is a TOML file of top-level keys (the table below) plus ``[[apn]]`` and
``[[profile]]`` tables; command-line options of ``qcm sim`` override single keys. Unknown keys
and bad values are errors that name the key and the accepted values.
"""

from __future__ import annotations

import ipaddress
import math
import re
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.9/3.10
    import tomli as tomllib

__all__ = ["Apn", "Profile", "SimConfig", "load_scenario", "load_scenario_bytes", "scenario_path", "SCENARIO_DIR", "apply_overrides", "parse_apn_option", "SIM_STATES", "REGISTRATIONS", "MODES", "CFUN_MODES"]

SIM_STATES = ("ready", "pin", "puk", "absent", "blocked")
REGISTRATIONS = ("home", "roaming", "searching", "denied", "none")
MODES = ("online", "low-power", "offline", "factory-test", "persistent-low-power", "mode-only-low-power")
CFUN_MODES = {1: "online", 0: "mode-only-low-power", 4: "low-power", 7: "offline", 5: "factory-test"}
RATS = ("lte", "umts", "gsm", "5gnr", "none")
AUTHS = ("none", "pap", "chap", "pap-or-chap")
IP_TYPES = ("ipv4", "ipv6", "ipv4v6")
DATA_FORMATS = ("raw-ip", "802-3")
USBNET_MODES = ("qmi", "ecm", "mbim", "rndis", "ncm")  # AT+QCFG="usbnet" values 0, 1, 2, 3, 5
ETHERNET_MODES = ("ecm", "rndis", "ncm")  # an Ethernet netdev (usb0) with the module's router behind it
AGGREGATIONS = ("none", "qmap", "qmapv5")
# Where the simulated networks' hosts may live: documentation and shared ranges only, never real ones.
HOST_RANGES = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "100.64.0.0/10", "2001:db8::/32")
FIRST_APN_HOSTS = ("198.51.100.1", "2001:db8:100::1")  # the first APN's internet host (sim/dns.py)
BUSES = ("usb", "pci")


@dataclass(frozen=True)
class Apn:
    """An APN the simulated network accepts, with the authentication it requires."""

    name: str
    auth: str = "none"          # none | pap | chap | pap-or-chap
    username: str = ""
    password: str = ""
    ip_types: Tuple[str, ...] = IP_TYPES
    host4: str = ""             # the test host of this APN's network (the first APN: 198.51.100.1)
    host6: str = ""             # ... and its IPv6 address (the first APN: 2001:db8:100::1)


@dataclass(frozen=True)
class Profile:
    """A 3GPP profile stored in the modem (what AT+CGDCONT lists)."""

    index: int
    apn: str = ""
    pdp_type: str = "ipv4v6"    # ipv4 | ipv6 | ipv4v6
    name: str = ""
    auth: str = "none"
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class SimConfig:
    # identity
    model: str = "EC25"
    manufacturer: str = "Quectel"
    revision: str = "EC25AFAR05A07M4G"   # the EC25-A firmware, matching the default Canadian network
    imei: str = "866758045439136"
    imsi: str = "302720123456789"
    iccid: str = "89302720401234567890"
    msisdn: str = "+15550100123"
    usb: str = "2c7c:0125"
    usb_path: str = "1-1.2"
    driver: str = "qmi_wwan"
    driver_version: str = "6.1.0"
    control: str = "cdc-wdm0"
    netdev: str = "wwan0"
    # SIM
    sim: str = "ready"
    pin: str = "1234"
    puk: str = "12345678"
    pin_retries: int = 3
    puk_retries: int = 10
    # radio
    mode: str = "online"
    hardware_restricted: bool = False
    set_mode_error: str = ""     # a QMI error name Set Operating Mode answers with (e.g. DeviceNotReady)
    # network
    registration: str = "home"
    register_after_s: float = 0.0
    reject_cause: int = 0
    ps_attached: bool = True           # false: registered, but the packet service stays detached
    mcc: int = 302
    mnc: int = 720
    operator: str = "Rogers"
    rat: str = "lte"
    rssi: int = -65
    rsrq: int = -9
    rsrp: int = -95
    snr: float = 12.0
    # data
    apns: Tuple[Apn, ...] = (Apn("internet"),)
    profiles: Tuple[Profile, ...] = (Profile(1, "internet"),)
    data_format: str = "raw-ip"
    link_layers: Tuple[str, ...] = ()  # what the firmware accepts; () = the model's (EC2x/EG2x: raw-ip only)
    host_raw_ip: bool = False          # what the host driver's qmi/raw_ip starts at (the kernel's default: N)
    aggregation: str = "none"          # the data format's aggregation: none, qmap (QMAP v1) or qmapv5
    qmapv5: bool = False               # the firmware offers QMAPv5 (SDX55 and later); else a request gets QMAP v1
    qmap_mode: int = 0                 # qmi_wwan_q's module parameter: its own QMAP links wwan0_1 .. wwan0_N
    qmap_min_padding: int = 0          # the downlink minimum padding WDA Set Data Format answers
    unsupported: Tuple[str, ...] = ()  # "SERVICE Message Name" answered with NotSupported (BG95-style)
    unanswered: Tuple[str, ...] = ()   # "SERVICE Message Name" or AT commands never answered (a slow firmware)
    request_errors: Mapping[str, str] = field(default_factory=dict)  # "SERVICE Message Name" -> QMI error
    last_call_end: str = ""            # a call-end reason the module remembers from before (AT+CEER)
    # USB function and AT side
    usbnet: str = "qmi"                # qmi | ecm | mbim | rndis: what AT+QCFG="usbnet" says and sysfs shows
    usbnet_command: str = "qcfg"       # qcfg (AT+QCFG="usbnet", EC2x) or qcfgext (AT+QCFGEXT, BG95-class)
    net_interface: int = 4             # USB interface of the network function
    at_interface: int = 2              # USB interface of the AT port
    serial_driver: str = "option"      # what drives the serial ports; "" leaves them unbound (no /dev/ttyUSB)
    port_holder: str = ""              # a process by this name holds the control and AT ports (ModemManager)
    firmware_build: str = "01.001.01.001"
    bands: str = "0x260,0x80a,0x0"
    nwscanmode: int = 0
    nwscanseq: str = "0403010502"
    mtu: int = 1500
    ipv4_pool: str = "100.64.0.0/16"
    ipv6_pool: str = "2001:db8:4000::/48"
    dns4: Tuple[str, ...] = ("198.51.100.53", "198.51.100.54")
    dns6: Tuple[str, ...] = ("2001:db8:100::53",)
    max_clients: int = 16
    latency_ms: float = 0.0
    dhcp_lease_s: int = 7200           # the lease the module's DHCP server gives
    lan_subnet: str = "192.0.2.0/24"   # the module's LAN in Ethernet-style modes with NAT (a real EC25: 192.168.225.0/24)
    nat: bool = True                   # Ethernet-style modes: NAT to the LAN (AT+QCFG="nat",1), else the call's address by DHCP
    # MBIM and the WWAN class
    fcc_locked: bool = False           # a Lenovo/Dell laptop unit: radio locked until Quectel's RADIO_STATE set on
    mbim_max_version: int = 3          # the highest MBIMEx version the firmware speaks (1: no MS VERSION at all)
    mbim_max_transfer: int = 4096      # wMaxControlMessage of the MBIM functional descriptor (fragments above it)
    bus: str = "usb"                   # usb, or pci: an M.2 PCIe module under mhi-pci-generic (MBIM only)
    pci_address: str = "0000:01:00.0"  # where a PCIe module sits
    wwan_ports: bool = False           # USB: cdc-wdm also registers its port in the WWAN class (/dev/wwan0mbim0)

    @property
    def accepted_link_layers(self) -> Tuple[str, ...]:
        """Link layers WDA Set Data Format can choose. EC2x/EG2x firmware (MDM9x07) does raw IP only
        and answers a request for 802-3 with raw-ip; the layer a scenario starts in is always one."""
        accepted = self.link_layers or (("raw-ip",) if re.match(r"E[CG]2\d", self.model.upper()) else DATA_FORMATS)
        return accepted if self.data_format in accepted else accepted + (self.data_format,)

    @property
    def apn_hosts(self) -> Tuple[Tuple[str, str, str], ...]:
        """(APN name, host4, host6) of every APN: the first APN's test host is the internet host
        unless it names its own; the others have one only when they name it."""
        return tuple((a.name, a.host4 or (FIRST_APN_HOSTS[0] if i == 0 else ""),
                      a.host6 or (FIRST_APN_HOSTS[1] if i == 0 else "")) for i, a in enumerate(self.apns))

    @property
    def vendor_id(self) -> int:
        return int(self.usb.split(":")[0], 16)

    @property
    def product_id(self) -> int:
        return int(self.usb.split(":")[1], 16)

    def validate(self) -> "SimConfig":
        """Refuse, at load time, every value the simulator cannot serve (one line naming the key
        and what is accepted), so that nothing it accepted crashes it later."""
        _choice("sim", self.sim, SIM_STATES)
        _choice("mode", self.mode, MODES)
        _choice("registration", self.registration, REGISTRATIONS)
        _choice("rat", self.rat, RATS)
        _choice("data_format", self.data_format, DATA_FORMATS)
        for layer in self.link_layers:
            _choice("link_layers", layer, DATA_FORMATS)
        if self.link_layers and self.data_format not in self.link_layers:
            raise UsageError("data_format = %r: not among link_layers (%s)" % (self.data_format, ", ".join(self.link_layers)))
        _choice("aggregation", self.aggregation, AGGREGATIONS)
        _range("qmap_mode", self.qmap_mode, 0, 8)
        _range("qmap_min_padding", self.qmap_min_padding, 0, 32)
        if self.qmap_mode and self.driver != "qmi_wwan_q":
            raise UsageError("qmap_mode = %d: a parameter of Quectel's qmi_wwan_q (driver = \"qmi_wwan_q\")"
                             % self.qmap_mode)
        _choice("usbnet", self.usbnet, USBNET_MODES)
        _choice("usbnet_command", self.usbnet_command, ("qcfg", "qcfgext"))
        _choice("bus", self.bus, BUSES)
        if self.bus == "pci" and self.usbnet != "mbim":
            raise UsageError("bus = \"pci\": a PCIe module under mhi-pci-generic speaks MBIM only (usbnet = \"mbim\")")
        _pattern("pci_address", self.pci_address, r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]",
                 "a PCI address like 0000:01:00.0")
        _range("mbim_max_version", self.mbim_max_version, 1, 3)
        _range("mbim_max_transfer", self.mbim_max_transfer, 64, 65535)
        if not re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}", self.usb):
            raise UsageError("usb = %r: expected vendor:product in hex, like 2c7c:0125" % self.usb)
        _pattern("pin", self.pin, r"[0-9]{4,8}", "a SIM PIN has 4 to 8 digits (0-9)")
        _pattern("puk", self.puk, r"[0-9]{8}", "a PUK has 8 digits (0-9)")
        _pattern("imei", self.imei, r"[0-9]{14,16}", "14 to 16 digits")
        _pattern("imsi", self.imsi, r"[0-9]{5,15}", "5 to 15 digits")
        _pattern("iccid", self.iccid, r"[0-9A-Fa-f]{10,22}", "10 to 22 digits")
        _pattern("msisdn", self.msisdn, r"\+?[0-9]{0,15}", "up to 15 digits, optionally after +")
        _pattern("usb_path", self.usb_path, r"[0-9]{1,3}-[0-9]{1,3}(\.[0-9]{1,3}){0,6}", "like 1-1.2 (bus-port.port)")
        for key in ("control", "netdev", "driver"):
            _pattern(key, getattr(self, key), r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}", "a name of 1 to 15 letters, "
                     "digits, '_', '.' or '-' (it becomes a file name and an interface name)")
        if self.serial_driver:
            _pattern("serial_driver", self.serial_driver, r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}", "a driver name, or \"\"")
        if self.port_holder:
            _pattern("port_holder", self.port_holder, r"[\x20-\x7e]{1,15}", "a process name of 1 to 15 printable characters")
        for key in ("model", "manufacturer", "revision", "operator", "firmware_build", "bands", "nwscanseq",
                    "driver_version"):
            _text(key, getattr(self, key))
        _range("pin_retries", self.pin_retries, 0, 10)
        _range("puk_retries", self.puk_retries, 0, 10)
        _range("reject_cause", self.reject_cause, 0, 255)
        _range("mcc", self.mcc, 0, 999)
        _range("mnc", self.mnc, 0, 999)
        _range("rssi", self.rssi, -128, 0)
        _range("rsrq", self.rsrq, -128, 0)
        _range("rsrp", self.rsrp, -200, 0)
        _range("snr", self.snr, -20.0, 50.0)
        _range("mtu", self.mtu, 576, 9000)
        _range("max_clients", self.max_clients, 1, 254)
        _range("net_interface", self.net_interface, 1, 15)
        _range("at_interface", self.at_interface, 0, self.net_interface - 1)
        _range("nwscanmode", self.nwscanmode, 0, 255)
        _range("latency_ms", self.latency_ms, 0.0, 60000.0)
        _range("register_after_s", self.register_after_s, 0.0, 86400.0)
        _range("dhcp_lease_s", self.dhcp_lease_s, 10, 604800)
        try:
            lan = ipaddress.ip_network(self.lan_subnet)
        except ValueError as exc:
            raise UsageError("lan_subnet: %s" % exc) from None
        if lan.version != 4 or not 16 <= lan.prefixlen <= 29:
            raise UsageError("lan_subnet = %r: expected an IPv4 network from /16 to /29" % self.lan_subnet)
        if self.set_mode_error:
            _qmi_error("set_mode_error", self.set_mode_error)
        for request, error in self.request_errors.items():
            _request_name("request_errors", request)
            _qmi_error("request_errors.%s" % request, error)
        for request in self.unsupported:
            _request_name("unsupported", request)
        for request in self.unanswered:
            if not request.upper().startswith("AT"):
                _request_name("unanswered", request)
        if self.last_call_end:
            _call_end_reason(self.last_call_end)
        if not self.apns:
            raise UsageError("[[apn]]: give at least one APN the network accepts")
        for apn in self.apns:
            _text("apn.name", apn.name, empty=False)
            _choice("apn.auth", apn.auth, AUTHS)
            for ip_type in apn.ip_types:
                _choice("apn.ip_types", ip_type, IP_TYPES)
            for key, version in (("host4", 4), ("host6", 6)):
                if getattr(apn, key):
                    _host_address("[[apn]] %s" % key, getattr(apn, key), version)
        hosts = [h for a in self.apn_hosts for h in a[1:] if h]
        if len(set(hosts)) != len(hosts):
            raise UsageError("[[apn]] host4/host6: each APN's test host needs its own address")
        for profile in self.profiles:
            _range("profile.index", profile.index, 1, 24)
            _choice("profile.pdp_type", profile.pdp_type, IP_TYPES)
            _choice("profile.auth", profile.auth, AUTHS)
        if len({p.index for p in self.profiles}) != len(self.profiles):
            raise UsageError("[[profile]]: each index may appear once")
        for name, version, widest in (("ipv4_pool", 4, 30), ("ipv6_pool", 6, 64)):
            try:
                network = ipaddress.ip_network(getattr(self, name))
            except ValueError as exc:
                raise UsageError("%s: %s" % (name, exc)) from None
            if network.version != version or network.prefixlen > widest:
                raise UsageError("%s = %r: expected an IPv%d network of /%d or larger" % (
                    name, getattr(self, name), version, widest))
        for name, version in (("dns4", 4), ("dns6", 6)):
            addresses = getattr(self, name)
            if len(addresses) > 2:
                raise UsageError("%s: at most two servers (primary and secondary)" % name)
            for address in addresses:
                try:
                    ok = ipaddress.ip_address(address).version == version
                except ValueError:
                    ok = False
                if not ok:
                    raise UsageError("%s: %r is not an IPv%d address" % (name, address, version))
        return self


def _host_address(key: str, value: str, version: int) -> None:
    ranges = [ipaddress.ip_network(r) for r in HOST_RANGES if (":" in r) == (version == 6)]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is None or address.version != version or not any(address in r for r in ranges):
        raise UsageError("%s = %r: expected an IPv%d address in a documentation range (%s)" % (
            key, _short(str(value)), version, ", ".join(str(r) for r in ranges)))


def _pattern(key: str, value: str, pattern: str, accepted: str) -> None:
    if not re.fullmatch(pattern, value):
        raise UsageError("%s = %r: %s" % (key, _short(value), accepted))


def _text(key: str, value: str, empty: bool = True) -> None:
    if (not value and not empty) or len(value) > 255 or "\0" in value:
        raise UsageError("%s = %r: expected %stext of at most 255 characters, without NUL" % (
            key, _short(value), "" if empty else "non-empty "))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("%s = %r: not valid Unicode text" % (key, _short(value))) from None


def _short(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."


def _range(key: str, value: float, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise UsageError("%s = %r: expected a number from %s to %s" % (key, value, low, high))


def _qmi_error(key: str, name: str) -> None:
    from ..qmi.catalogue import catalogue
    if name.lower() not in catalogue().enum("QmiProtocolError").by_name:
        raise UsageError("%s = %r: not a QMI error name (for example %s)" % (
            key, _short(name), ", ".join(["DeviceNotReady", "NotSupported", "OutOfCall", "CallFailed"])))


def _request_name(key: str, name: str) -> None:
    """"SERVICE Message Name", as the catalogue names a request."""
    from ..qmi.catalogue import catalogue
    service, _, message = name.partition(" ")
    try:
        canonical = "%s %s" % (service.upper(), catalogue().method(service, message).name)
    except (KeyError, ValueError, LookupError):
        canonical = ""
    if canonical != name:
        raise UsageError("%s: %r is not a request the simulator knows (\"SERVICE Message Name\", like "
                         "\"WDS Get Profile List\")" % (key, _short(name))) from None


def _call_end_reason(name: str) -> None:
    from ..qmi.catalogue import catalogue
    if name.lower() not in catalogue().enum("WdsCallEndReason").by_name:
        raise UsageError("last_call_end = %r: not a call-end reason name (for example gsm-wcdma-unknown-apn)"
                         % _short(name))


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
        return True
    except ValueError:
        return False


def _choice(key: str, value: str, allowed: Tuple[str, ...]) -> None:
    if value not in allowed:
        raise UsageError("%s = %r: expected one of %s" % (key, value, ", ".join(allowed)))


_SCALAR_KEYS = {f.name: f for f in fields(SimConfig) if f.name not in ("apns", "profiles", "request_errors")}


_SPLIT_ON_COMMAS = ("link_layers", "dns4", "dns6")  # lists that a --set KEY=a,b may give


def _coerce(key: str, value: Any) -> Any:
    """A scenario or command-line value in the type of the key's default, or UsageError."""
    default = getattr(SimConfig, key, None)
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = value.split(",") if key in _SPLIT_ON_COMMAS and value else [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                                  for v in value):
            raise UsageError("%s: expected a list of text values, got %r" % (key, _short(repr(value))))
        return tuple(str(v).strip() for v in value)
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("yes", "true", "1", "no", "false", "0"):
            return value.lower() in ("yes", "true", "1")
        if not isinstance(value, bool):
            raise UsageError("%s: expected true or false, got %r" % (key, _short(repr(value))))
        return value
    if isinstance(default, int):
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]{1,12}\s*", value):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise UsageError("%s: expected a whole number, got %r" % (key, _short(repr(value))))
    if isinstance(default, float):
        if isinstance(value, str) and value.isascii():
            try:
                return float(value)
            except ValueError:
                pass
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise UsageError("%s: expected a number, got %r" % (key, _short(repr(value))))
    if isinstance(value, (list, dict, bool)):
        raise UsageError("%s: expected text, got %r" % (key, _short(repr(value))))
    return str(value)


def _string(where: str, value: Any) -> str:
    if isinstance(value, (list, dict, bool)):
        raise UsageError("%s: expected text, got %r" % (where, _short(repr(value))))
    return str(value)


def _apn(entry: Any) -> Apn:
    allowed = {"name", "auth", "username", "password", "ip_types", "host4", "host6"}
    if not isinstance(entry, dict):
        raise UsageError("[[apn]]: expected tables ([[apn]] with name = ...), got %r" % _short(repr(entry)))
    _known_keys("[[apn]]", entry, allowed)
    if "name" not in entry:
        raise UsageError("[[apn]] needs a name")
    ip_types = entry.get("ip_types", list(IP_TYPES))
    if isinstance(ip_types, str):
        ip_types = [ip_types]
    if not isinstance(ip_types, list) or not all(isinstance(t, str) for t in ip_types):
        raise UsageError("[[apn]] ip_types: expected a list from %s" % ", ".join(IP_TYPES))
    return Apn(_string("[[apn]] name", entry["name"]), _string("[[apn]] auth", entry.get("auth", "none")),
               _string("[[apn]] username", entry.get("username", "")),
               _string("[[apn]] password", entry.get("password", "")), tuple(ip_types),
               _string("[[apn]] host4", entry.get("host4", "")), _string("[[apn]] host6", entry.get("host6", "")))


def _profile(entry: Any) -> Profile:
    allowed = {"index", "apn", "pdp_type", "name", "auth", "username", "password"}
    if not isinstance(entry, dict):
        raise UsageError("[[profile]]: expected tables ([[profile]] with index = ...), got %r" % _short(repr(entry)))
    _known_keys("[[profile]]", entry, allowed)
    if "index" not in entry:
        raise UsageError("[[profile]] needs an index")
    index = entry["index"]
    if isinstance(index, str) and re.fullmatch(r"[0-9]{1,3}", index):
        index = int(index)
    if not isinstance(index, int) or isinstance(index, bool):
        raise UsageError("[[profile]] index: expected a number from 1 to 24, got %r" % _short(repr(index)))
    text = {key: _string("[[profile]] " + key, entry.get(key, default)) for key, default in (
        ("apn", ""), ("pdp_type", "ipv4v6"), ("name", ""), ("auth", "none"), ("username", ""), ("password", ""))}
    return Profile(index, **text)


def _known_keys(where: str, entry: Mapping[str, Any], allowed: Any) -> None:
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise UsageError("%s: unknown key%s %s (known: %s)" % (
            where, "s" if len(unknown) > 1 else "", ", ".join(unknown), ", ".join(sorted(allowed))))


def apply_overrides(config: SimConfig, values: Mapping[str, Any]) -> SimConfig:
    """Set scalar keys (from a scenario or the command line); 'cfun' is an alias of 'mode'."""
    changes: Dict[str, Any] = {}
    for key, value in values.items():
        if key == "cfun":
            try:
                changes["mode"] = CFUN_MODES[int(_coerce("nwscanmode", value))]  # a whole number, however given
            except (KeyError, ValueError, UsageError):
                raise UsageError("cfun = %r: expected one of %s" % (value, ", ".join(map(str, CFUN_MODES)))) from None
            continue
        if key not in _SCALAR_KEYS:
            raise UsageError("unknown scenario key %r (known: %s)" % (key, ", ".join(sorted(list(_SCALAR_KEYS) + ["cfun", "apn", "profile"]))))
        changes[key] = _coerce(key, value)
    return replace(config, **changes)


SCENARIO_DIR = Path(__file__).with_name("scenarios")


def scenario_path(name: str) -> Path:
    """A scenario file, or the name of one shipped with qcm (see qcm sim --list-scenarios)."""
    path = Path(name)
    if path.exists() or path.suffix == ".toml" or "/" in name:
        return path
    return SCENARIO_DIR / (name + ".toml")


def load_scenario(path: Optional[Path], overrides: Optional[Mapping[str, Any]] = None,
                  apns: Optional[List[Apn]] = None) -> SimConfig:
    config = SimConfig()
    if path is not None:
        try:
            with open(path, "rb") as handle:
                data = handle.read(_MAX_SCENARIO + 1)
        except OSError as exc:
            raise UsageError("cannot read scenario %s: %s" % (path, exc.strerror)) from None
        config = _apply_scenario(config, data, "scenario %s" % path)
    if overrides:
        config = apply_overrides(config, overrides)
    if apns:
        config = replace(config, apns=tuple(apns))
    return config.validate()


def load_scenario_bytes(data: bytes, where: str = "scenario") -> SimConfig:
    """A scenario from its TOML text (what ``load_scenario`` reads from a file), validated."""
    return _apply_scenario(SimConfig(), data, where).validate()


_MAX_SCENARIO = 1 << 20  # a scenario is a few hundred bytes; a megabyte is surely not one


def _apply_scenario(config: SimConfig, raw: bytes, where: str) -> SimConfig:
    if len(raw) > _MAX_SCENARIO:
        raise UsageError("%s is over 1 MiB: not a scenario" % where)
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError("%s is not valid TOML: not UTF-8 text" % where) from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError("%s is not valid TOML: %s" % (where, exc)) from None
    except RecursionError:
        raise UsageError("%s is not valid TOML: nested too deeply" % where) from None
    data = dict(data)
    data.pop("description", None)
    data.pop("expect", None)  # the findings qcm doctor should make (read by the tests)
    apn_entries = data.pop("apn", None)
    profile_entries = data.pop("profile", None)
    errors = data.pop("request_errors", None)
    config = apply_overrides(config, data)
    if errors is not None:
        if not isinstance(errors, dict) or not all(isinstance(v, str) for v in errors.values()):
            raise UsageError("request_errors: a table of \"SERVICE Message\" = \"QmiError\"")
        config = replace(config, request_errors={str(k): v for k, v in errors.items()})
    if apn_entries is not None:
        if not isinstance(apn_entries, list):
            raise UsageError("apn: expected [[apn]] tables")
        config = replace(config, apns=tuple(_apn(e) for e in apn_entries))
    if profile_entries is not None:
        if not isinstance(profile_entries, list):
            raise UsageError("profile: expected [[profile]] tables")
        config = replace(config, profiles=tuple(_profile(e) for e in profile_entries))
    return config


def parse_apn_option(text: str) -> Apn:
    """``NAME[,auth=pap,user=U,password=P,ip=ipv4+ipv6,host4=A,host6=B]`` from the command line."""
    name, _, rest = text.partition(",")
    values: Dict[str, Any] = {"name": name}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        key = {"user": "username", "ip": "ip_types"}.get(key, key)
        values[key] = value.split("+") if key == "ip_types" else value
    return _apn(values)

