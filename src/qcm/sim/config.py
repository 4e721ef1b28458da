"""What the simulated modem is: every scenario key, its default, and how it is checked.

A scenario is a TOML file of top-level keys (the table below) plus ``[[apn]]`` and
``[[profile]]`` tables; command-line options of ``qcm sim`` override single keys. Unknown keys
and bad values are errors that name the key and the accepted values.
"""

from __future__ import annotations

import ipaddress
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

__all__ = ["Apn", "Profile", "SimConfig", "load_scenario", "scenario_path", "SCENARIO_DIR", "apply_overrides", "parse_apn_option", "SIM_STATES", "REGISTRATIONS", "MODES", "CFUN_MODES"]

SIM_STATES = ("ready", "pin", "puk", "absent", "blocked")
REGISTRATIONS = ("home", "roaming", "searching", "denied", "none")
MODES = ("online", "low-power", "offline", "factory-test", "persistent-low-power", "mode-only-low-power")
CFUN_MODES = {1: "online", 0: "mode-only-low-power", 4: "low-power", 7: "offline", 5: "factory-test"}
RATS = ("lte", "umts", "gsm", "5gnr", "none")
AUTHS = ("none", "pap", "chap", "pap-or-chap")
IP_TYPES = ("ipv4", "ipv6", "ipv4v6")
DATA_FORMATS = ("raw-ip", "802-3")
USBNET_MODES = ("qmi", "ecm", "mbim", "rndis")  # AT+QCFG="usbnet" values 0, 1, 2, 3
AGGREGATIONS = ("none", "qmap")


@dataclass(frozen=True)
class Apn:
    """An APN the simulated network accepts, with the authentication it requires."""

    name: str
    auth: str = "none"          # none | pap | chap | pap-or-chap
    username: str = ""
    password: str = ""
    ip_types: Tuple[str, ...] = IP_TYPES


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
    aggregation: str = "none"
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

    @property
    def accepted_link_layers(self) -> Tuple[str, ...]:
        """Link layers WDA Set Data Format can choose. EC2x/EG2x firmware (MDM9x07) does raw IP only
        and answers a request for 802-3 with raw-ip; the layer a scenario starts in is always one."""
        accepted = self.link_layers or (("raw-ip",) if re.match(r"E[CG]2\d", self.model.upper()) else DATA_FORMATS)
        return accepted if self.data_format in accepted else accepted + (self.data_format,)

    @property
    def vendor_id(self) -> int:
        return int(self.usb.split(":")[0], 16)

    @property
    def product_id(self) -> int:
        return int(self.usb.split(":")[1], 16)

    def validate(self) -> "SimConfig":
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
        _choice("usbnet", self.usbnet, USBNET_MODES)
        _choice("usbnet_command", self.usbnet_command, ("qcfg", "qcfgext"))
        parts = self.usb.split(":")
        if len(parts) != 2 or not all(len(p) == 4 and _is_hex(p) for p in parts):
            raise UsageError("usb = %r: expected vendor:product in hex, like 2c7c:0125" % self.usb)
        if not (self.pin.isdigit() and 4 <= len(self.pin) <= 8):
            raise UsageError("pin = %r: a SIM PIN has 4 to 8 digits" % self.pin)
        for apn in self.apns:
            _choice("apn.auth", apn.auth, AUTHS)
            for ip_type in apn.ip_types:
                _choice("apn.ip_types", ip_type, IP_TYPES)
        for profile in self.profiles:
            _choice("profile.pdp_type", profile.pdp_type, IP_TYPES)
        for name in ("ipv4_pool", "ipv6_pool"):
            try:
                ipaddress.ip_network(getattr(self, name))
            except ValueError as exc:
                raise UsageError("%s: %s" % (name, exc)) from None
        if self.latency_ms < 0 or self.register_after_s < 0:
            raise UsageError("latency_ms and register_after_s cannot be negative")
        return self


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


def _coerce(key: str, value: Any) -> Any:
    default = getattr(SimConfig, key, None)
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise UsageError("%s: expected a list" % key)
        return tuple(str(v) for v in value)
    if isinstance(default, bool):
        if isinstance(value, str) and value.lower() in ("yes", "true", "1", "no", "false", "0"):
            return value.lower() in ("yes", "true", "1")
        if not isinstance(value, bool):
            raise UsageError("%s: expected true or false, got %r" % (key, value))
        return value
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        try:
            return type(default)(value)
        except (TypeError, ValueError):
            raise UsageError("%s: expected a number, got %r" % (key, value)) from None
    return str(value)


def _apn(entry: Mapping[str, Any]) -> Apn:
    allowed = {"name", "auth", "username", "password", "ip_types"}
    _known_keys("[[apn]]", entry, allowed)
    if "name" not in entry:
        raise UsageError("[[apn]] needs a name")
    ip_types = entry.get("ip_types", IP_TYPES)
    return Apn(str(entry["name"]), str(entry.get("auth", "none")), str(entry.get("username", "")),
               str(entry.get("password", "")), tuple(ip_types))


def _profile(entry: Mapping[str, Any]) -> Profile:
    allowed = {"index", "apn", "pdp_type", "name", "auth", "username", "password"}
    _known_keys("[[profile]]", entry, allowed)
    if "index" not in entry:
        raise UsageError("[[profile]] needs an index")
    return Profile(int(entry["index"]), str(entry.get("apn", "")), str(entry.get("pdp_type", "ipv4v6")),
                   str(entry.get("name", "")), str(entry.get("auth", "none")),
                   str(entry.get("username", "")), str(entry.get("password", "")))


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
                changes["mode"] = CFUN_MODES[int(value)]
            except (KeyError, ValueError):
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
                data = tomllib.load(handle)
        except OSError as exc:
            raise UsageError("cannot read scenario %s: %s" % (path, exc.strerror)) from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError("scenario %s is not valid TOML: %s" % (path, exc)) from None
        data = dict(data)
        data.pop("description", None)
        data.pop("expect", None)  # the findings qcm doctor should make (read by the tests)
        apn_entries = data.pop("apn", None)
        profile_entries = data.pop("profile", None)
        errors = data.pop("request_errors", None)
        config = apply_overrides(config, data)
        if errors is not None:
            if not isinstance(errors, dict):
                raise UsageError("request_errors: a table of \"SERVICE Message\" = \"QmiError\"")
            config = replace(config, request_errors={str(k): str(v) for k, v in errors.items()})
        if apn_entries is not None:
            config = replace(config, apns=tuple(_apn(e) for e in apn_entries))
        if profile_entries is not None:
            config = replace(config, profiles=tuple(_profile(e) for e in profile_entries))
    if overrides:
        config = apply_overrides(config, overrides)
    if apns:
        config = replace(config, apns=tuple(apns))
    return config.validate()


def parse_apn_option(text: str) -> Apn:
    """``NAME[,auth=pap,user=U,password=P,ip=ipv4+ipv6]`` from the command line."""
    name, _, rest = text.partition(",")
    values: Dict[str, Any] = {"name": name}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        key = {"user": "username", "ip": "ip_types"}.get(key, key)
        values[key] = value.split("+") if key == "ip_types" else value
    return _apn(values)

