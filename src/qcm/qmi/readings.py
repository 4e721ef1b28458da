"""What QMI answers mean, decided once: SIM state, registration, signal, IP settings, data format.

The dial sequence and the doctor read the same answers; interpreting them in one place keeps
them from disagreeing (they once did: DMS PIN status ``not-initialized`` was an error for the
one and "ready" for the other). Pure functions from decoded messages to ``qcm.model`` data.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Any, Dict, Optional, Tuple

from ..errors import ModemError
from ..model import IpSettings, Registration, SimStatus
from .message import Message

__all__ = ["sim_status", "dms_sim_status", "card_state", "registration", "with_reject_cause", "signal_dbm",
           "reject_cause", "ip_settings", "link_layer", "operating_mode", "call_connected"]


# ---------------------------------------------------------------------- SIM

def sim_status(response: Message) -> SimStatus:
    """From UIM Get Card Status (or its Card Status indication)."""
    card, app = _card_and_application(response)
    if card != "present" or app is None:
        return SimStatus("absent", detail=card)
    app_state, pin1 = app["state"].name, app["pin1_state"].name
    if app_state == "illegal" or pin1 == "permanently-blocked":
        state = "blocked"
    elif app_state in ("puk1-or-upin-puk-required", "pin1-blocked") or pin1 == "blocked":
        state = "puk"
    elif app_state == "pin1-or-upin-pin-required":
        state = "pin"
    elif app_state == "ready":
        state = "ready"
    else:
        state = "initializing"  # detected, unknown, personalization...: the card is not ready yet
    return SimStatus(state, app["pin1_retries"], app["puk1_retries"], app_state)


# DMS UIM Get PIN Status (older firmware without UIM): PIN1's status, as libqmi names them.
_DMS_PIN_STATE = {"enabled-verified": "ready", "disabled": "ready", "unblocked": "ready", "changed": "ready",
                  "enabled-not-verified": "pin", "blocked": "puk", "permanently-blocked": "blocked",
                  "not-initialized": "initializing"}


def dms_sim_status(response: Message) -> SimStatus:
    """From DMS UIM Get PIN Status; an absent SIM answers with an error (UimUninitialized, NoSim)."""
    if not response.ok:
        error = response.result.error.name if response.result else ""
        if error in ("UimUninitialized", "NoSim"):
            return SimStatus("absent", detail=error)
        raise ModemError("the modem cannot report the SIM's state: %s" % (
            response.result.describe() if response.result else "no result"))
    pin1 = response["pin1_status"]
    status = pin1["current_status"].name
    return SimStatus(_DMS_PIN_STATE.get(status, "initializing"), pin1["verify_retries_left"],
                     pin1["unblock_retries_left"], status)


def card_state(message: Message) -> str:
    """The first card's state (present, absent, error) from a UIM Card Status response or indication."""
    return _card_and_application(message)[0]


def _card_and_application(response: Message) -> Tuple[str, Optional[Dict[str, Any]]]:
    status = response.get("card_status") or {}
    cards = status.get("cards") or []
    if not cards:
        return "absent", None
    card = cards[0]
    apps = card.get("applications") or []
    usable = [a for a in apps if a["type"].name in ("usim", "sim")] or apps
    return card["card_state"].name, (usable[0] if usable else None)


# ---------------------------------------------------------------------- radio and network

def operating_mode(response: Message) -> Tuple[str, bool]:
    """(mode, held off by a hardware line) from DMS Get Operating Mode."""
    return response["mode"].name, bool(response.get("hardware_restricted_mode"))


def registration(serving: Message, signal: Optional[Message]) -> Registration:
    """From NAS Get Serving System (and Get Signal Info, when it answered)."""
    system = serving["serving_system"]
    radios = [r.name for r in system.get("radio_interfaces", []) if r.name not in ("none", "unknown")]
    plmn = serving.get("current_plmn") or {}
    roaming = serving.get("roaming_indicator")
    return Registration(
        state=system["registration_state"].name,
        ps_attached=system["ps_attach_state"].name == "attached",
        roaming=roaming is not None and roaming.name == "on",
        mcc=plmn.get("mcc"), mnc=plmn.get("mnc"), operator=plmn.get("description", ""),
        rat=radios[0] if radios else "", signal_dbm=signal_dbm(signal) if signal is not None else None)


def with_reject_cause(reading: Registration, info: Optional[Message]) -> Registration:
    cause = reject_cause(info) if info is not None else None
    return replace(reading, reject_cause=cause) if cause is not None else reading


def signal_dbm(signal: Message) -> Optional[int]:
    """RSRP on LTE and 5G, RSSI on WCDMA and GSM."""
    if not signal.ok:
        return None
    for key, field_name in (("lte_signal_strength", "rsrp"), ("5g_signal_strength", "rsrp"),
                            ("wcdma_signal_strength", "rssi")):
        value = signal.get(key)
        if isinstance(value, dict) and field_name in value:
            return int(value[field_name])
    gsm = signal.get("gsm_signal_strength")
    return int(gsm) if isinstance(gsm, int) else None


def reject_cause(info: Message) -> Optional[int]:
    """The network's registration reject cause, from NAS Get System Info."""
    if not info.ok:
        return None
    for key, value in info.values.items():
        if key.endswith("_system_info_v2") and isinstance(value, dict) and value.get("registration_reject_info_valid"):
            return int(value["registration_reject_cause"])
    return None


def link_layer(response: Message) -> str:
    """raw-ip or 802-3 from WDA Get/Set Data Format; "" when the answer does not say."""
    value = response.get("link_layer_protocol") if response.ok else None
    return value.name if value is not None else ""


# ---------------------------------------------------------------------- data calls

def call_connected(response: Message) -> bool:
    """From WDS Get Packet Service Status."""
    return response.ok and response["connection_status"].name == "connected"


def ip_settings(family: int, response: Message) -> IpSettings:
    """A call's settings from WDS Get Current Settings. Nonsense (a non-contiguous mask, prefix 0)
    is refused or narrowed to the address alone, never allowed to become a route to everywhere."""
    try:
        if family == 4:
            address = response.get("ipv4_address")
            mask = response.get("ipv4_gateway_subnet_mask")
            if address is None:
                raise ModemError("the modem gave no IPv4 address for the call")
            prefix = ipaddress.IPv4Network("0.0.0.0/%s" % mask).prefixlen if mask is not None else 32
            interface: Any = ipaddress.IPv4Interface("%s/%d" % (address, prefix or 32))
            gateway = response.get("ipv4_gateway_address")
            dns = [response.get(k) for k in ("primary_ipv4_dns_address", "secondary_ipv4_dns_address")]
        else:
            ipv6 = response.get("ipv6_address")
            if ipv6 is None:
                raise ModemError("the modem gave no IPv6 address for the call")
            prefix = ipv6["prefix_length"]
            interface = ipaddress.IPv6Interface("%s/%d" % (ipv6["address"], prefix if 0 < prefix <= 128 else 128))
            gateway_tlv = response.get("ipv6_gateway_address")
            gateway = gateway_tlv["address"] if gateway_tlv else None
            dns = [response.get(k) for k in ("ipv6_primary_dns_address", "ipv6_secondary_dns_address")]
    except ValueError as exc:
        raise ModemError("the modem gave unusable IPv%d settings: %s" % (family, exc)) from None
    servers = tuple(d for d in dns if d is not None and not d.is_unspecified)
    mtu = response.get("mtu")
    return IpSettings(family, interface, gateway, servers, int(mtu) if mtu else None)
