"""What MBIM answers mean, in qcm's model (pure: decoded messages in, model values out).

Shared by the MBIM backend and the doctor's MBIM evidence, so both read a register state, a
SIM or an IP configuration the same way. Names are libmbim's (the catalogue's enums).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Iterable, List, Optional, Tuple

from ...errors import ModemError
from ...mbim.message import Message
from ...model import IpSettings, ModemIdentity, Registration, SimStatus

__all__ = ["name_of", "identity", "sim_status", "registration", "ip_settings", "rat_of", "activation",
           "registered_state", "READY_SIM", "signal_dbm"]

# SubscriberReadyState -> qcm's SIM state (model.SimStatus)
READY_SIM = {"initialized": "ready", "sim-not-inserted": "absent", "bad-sim": "blocked", "failure": "blocked",
             "not-activated": "not-activated", "device-locked": "pin", "no-esim-profile": "no-profile",
             "not-initialized": "initializing"}
_REGISTERED = ("home", "roaming", "partner")
_STATE_OF_REGISTER = {"searching": "not-registered-searching", "denied": "registration-denied",
                      "deregistered": "not-registered", "unknown": "not-registered"}


def name_of(value: Any, default: str = "") -> str:
    """An enum value's name (libmbim's), whatever shape it came in."""
    return str(getattr(value, "name", default if value is None else value))


def _flags(value: Any) -> List[str]:
    return list(getattr(value, "names", []) or [])


def identity(caps: Message, manufacturer: str = "") -> ModemIdentity:
    """DEVICE_CAPS: the IMEI is the DeviceId, the firmware the FirmwareInfo; MBIM has no model
    request, so the HardwareInfo ("QUECTEL Mobile Broadband Module", or the model) stands in."""
    return ModemIdentity(manufacturer, str(caps.get("hardware_info", "")), str(caps.get("firmware_info", "")),
                         str(caps.get("device_id", "")))


def sim_status(ready: Message, pin: Optional[Message] = None) -> SimStatus:
    """SUBSCRIBER_READY_STATUS, and the PIN query when the SIM is locked (PIN or PUK, tries left)."""
    state = name_of(ready.get("ready_state"), "unknown")
    sim = READY_SIM.get(state, state)
    if sim != "pin" or pin is None or not pin.ok:
        return SimStatus(sim, detail=state)
    pin_type = name_of(pin.get("pin_type"))
    locked = name_of(pin.get("pin_state")) == "locked"
    tries = pin.get("remaining_attempts")
    if pin_type.startswith("puk"):
        return SimStatus("puk" if tries != 0 else "blocked", puk_retries=tries, detail=state)
    if pin_type.startswith("pin") and locked:
        return SimStatus("pin", pin_retries=tries, detail=state)
    if not locked:
        return SimStatus("ready", detail=state)
    return SimStatus("network-locked", detail="%s (%s)" % (state, pin_type))  # a device or network PIN


def rat_of(classes: Iterable[str]) -> str:
    names = set(classes)
    if names & {"5g", "5g-nsa", "5g-sa"}:
        return "5gnr"
    if "lte" in names:
        return "lte"
    if names & {"umts", "hsdpa", "hsupa"}:
        return "umts"
    if names & {"gprs", "edge"}:
        return "gsm"
    return ""


def signal_dbm(signal: Optional[Message]) -> Optional[int]:
    """RSRP from MBIMEx 2.0's RsrpSnr (LTE/NR, what QMI reports too), else the RSSI code."""
    if signal is None or not signal.ok:
        return None
    for entry in signal.get("rsrp_snr") or []:
        code = entry.get("rsrp")
        if isinstance(code, int) and 0 <= code <= 126:
            return code - 157  # 0: below -156 dBm, 126: -31 dBm or more
    rssi = signal.get("rssi")
    if isinstance(rssi, int) and 0 <= rssi <= 31:
        return -113 + 2 * rssi  # 3GPP 27.007 +CSQ scale
    return None


def registered_state(register: Message) -> str:
    return name_of(register.get("register_state"), "unknown")


def registration(register: Message, packet: Optional[Message] = None, signal: Optional[Message] = None) -> Registration:
    """REGISTER_STATE (+ PACKET_SERVICE + SIGNAL_STATE): the registration qcm reports and waits for."""
    state = registered_state(register)
    attached = packet is not None and packet.ok and name_of(packet.get("packet_service_state")) == "attached"
    provider = str(register.get("provider_id", "") or "")
    mcc = mnc = None
    if provider.isascii() and provider.isdigit() and len(provider) in (5, 6):  # "²" is a digit too
        mcc, mnc = int(provider[:3]), int(provider[3:])
    classes: List[str] = []
    if packet is not None and packet.ok:
        for key in ("highest_available_data_class", "current_data_class"):
            classes += _flags(packet.get(key))
    if not classes:
        classes = _flags(register.get("available_data_classes"))
    nw_error = register.get("nw_error")
    cause = int(nw_error) if state == "denied" and nw_error else None
    return Registration("registered" if state in _REGISTERED else _STATE_OF_REGISTER.get(state, "not-registered"),
                        attached, state in ("roaming", "partner"), mcc, mnc,
                        str(register.get("provider_name", "") or ""), rat_of(classes) if state in _REGISTERED else "",
                        cause, signal_dbm(signal))


def activation(connect: Message) -> str:
    """CONNECT's ActivationState: activated, activating, deactivated, deactivating, unknown."""
    return name_of(connect.get("activation_state"), "unknown")


def ip_settings(config: Message, family: int) -> Optional[IpSettings]:
    """IP_CONFIGURATION for one family, or None when the session has no address of it."""
    key = "ipv%d" % family
    addresses = config.get(key + "_address") or []
    if not addresses:
        return None
    first = addresses[0]
    prefix = first.get("on_link_prefix_length")
    if not isinstance(prefix, int) or not 0 < prefix <= (32 if family == 4 else 128):
        raise ModemError("the modem gave the IPv%d address %s an on-link prefix length of %r"
                         % (family, first.get(key + "_address"), prefix), "its firmware is faulty; reset it")
    address = ipaddress.ip_interface("%s/%d" % (first[key + "_address"], prefix))
    gateway = config.get(key + "_gateway")
    dns: Tuple[Any, ...] = tuple(ipaddress.ip_address(str(a)) for a in config.get(key + "_dns_server") or [])
    mtu = config.get(key + "_mtu")
    if not isinstance(mtu, int) or not (1280 if family == 6 else 576) <= mtu <= 65535:
        mtu = None  # none given, or one no interface can take: the interface keeps its own
    return IpSettings(family, address, ipaddress.ip_address(str(gateway)) if gateway else None, dns, mtu)
