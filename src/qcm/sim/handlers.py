"""How the simulated modem answers each request it supports (values only: the catalogue encodes).

Each handler gets the modem and the decoded request and returns the response values, or
raises ``SimQmiError`` with the QMI error name a real module answers in that situation.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Dict, Optional

from .modem import Call, HANDLERS, Request, SERVICE_VERSIONS, SimModem, SimQmiError, handler

__all__ = ["HANDLERS", "card_status", "serving_system", "signal_info", "system_info", "start_call"]

_RAT_RADIO = {"lte": "lte", "umts": "umts", "gsm": "gsm", "5gnr": "5gnr", "none": "none"}
_RAT_DATA_CAPABILITY = {"lte": "lte", "umts": "hsdpa-plus", "gsm": "edge", "5gnr": "lte", "none": "none"}
_REGISTRATION_STATE = {"home": "registered", "roaming": "registered", "searching": "not-registered-searching",
                       "denied": "registration-denied", "none": "not-registered"}


# ---------------------------------------------------------------------- CTL

@handler("CTL", "Get Version Info")
def _version_info(m: SimModem, r: Request) -> Dict[str, Any]:
    return {"service_list": [{"service": name.lower(), "major_version": v[0], "minor_version": v[1]}
                             for name, v in SERVICE_VERSIONS.items()]}


@handler("CTL", "Allocate CID")
def _allocate(m: SimModem, r: Request) -> Dict[str, Any]:
    service = r.need("service")
    name = service.name.upper()
    if name not in SERVICE_VERSIONS or name == "CTL":
        raise SimQmiError("InvalidServiceType")
    return {"allocation_info": {"service": service, "cid": m.allocate_client(name)}}


@handler("CTL", "Release CID")
def _release(m: SimModem, r: Request) -> Dict[str, Any]:
    info = r.need("release_info")
    m.release_client(info["service"].name.upper(), info["cid"])
    return {"release_info": info}


@handler("CTL", "Sync")
def _sync(m: SimModem, r: Request) -> None:
    m.release_all_clients()


@handler("CTL", "Set Data Format")
def _ctl_data_format(m: SimModem, r: Request) -> Dict[str, Any]:
    protocol = r.values.get("protocol")
    if protocol is not None:
        m.link_layer = _link_layer_chosen(m, protocol.name)
    return {"protocol": m.link_layer}


def _link_layer_chosen(m: SimModem, wanted: str) -> str:
    """What the firmware sets when asked for ``wanted``: it if it can, else raw IP (EC2x/EG2x answer
    a request for 802-3 with raw-ip, and tools branch on that answer)."""
    accepted = m.config.accepted_link_layers
    if wanted in accepted:
        return wanted
    return "raw-ip" if "raw-ip" in accepted else m.link_layer


# ---------------------------------------------------------------------- DMS

@handler("DMS", "Get Manufacturer")
def _manufacturer(m: SimModem, r: Request) -> Dict[str, Any]:
    return {"manufacturer": m.config.manufacturer}


@handler("DMS", "Get Model")
def _model(m: SimModem, r: Request) -> Dict[str, Any]:
    return {"model": m.config.model}


@handler("DMS", "Get Revision")
def _revision(m: SimModem, r: Request) -> Dict[str, Any]:
    return {"revision": m.config.revision}


@handler("DMS", "Get IDs")
def _ids(m: SimModem, r: Request) -> Dict[str, Any]:
    return {"esn": "0", "imei": m.config.imei, "meid": "", "imei_software_version": "01"}


@handler("DMS", "Get MSISDN")
def _msisdn(m: SimModem, r: Request) -> Dict[str, Any]:
    _need_sim(m)
    return {"msisdn": m.config.msisdn}


@handler("DMS", "Get Capabilities")
def _capabilities(m: SimModem, r: Request) -> Dict[str, Any]:
    return {"info": {"max_tx_channel_rate": 50000000, "max_rx_channel_rate": 150000000,
                     "data_service_capability": "non-simultaneous-cs-ps", "sim_capability": "supported",
                     "radio_interface_list": ["gsm", "umts", "lte"]}}


@handler("DMS", "Get Operating Mode")
def _get_mode(m: SimModem, r: Request) -> Dict[str, Any]:
    values: Dict[str, Any] = {"mode": m.mode, "hardware_restricted_mode": m.config.hardware_restricted}
    if m.mode == "offline":
        values["offline_reason"] = 0
    return values


@handler("DMS", "Set Operating Mode")
def _set_mode(m: SimModem, r: Request) -> None:
    if m.config.set_mode_error:
        raise SimQmiError(m.config.set_mode_error)
    mode = r.need("mode").name
    if m.config.hardware_restricted and mode == "online":
        raise SimQmiError("HardwareRestricted")
    if mode == "reset":
        return
    if mode not in ("online", "low-power", "offline", "persistent-low-power", "factory-test"):
        raise SimQmiError("InvalidTransition")
    if m.mode == "offline" and mode == "online":
        raise SimQmiError("InvalidTransition")  # offline needs a reset first, as on real modules
    m.after_response(m.set_mode(mode, r.now))


@handler("DMS", "Set Event Report")
def _dms_event_report(m: SimModem, r: Request) -> None:
    wanted = m.indications[r.client]
    if "operating_mode_reporting" in r.values:
        wanted.dms_operating_mode = bool(r.values["operating_mode_reporting"])


def _pin_status(m: SimModem) -> Dict[str, Any]:
    status = {"ready": "enabled-verified", "pin": "enabled-not-verified", "puk": "blocked",
              "blocked": "permanently-blocked"}.get(m.sim_state, "not-initialized")
    return {"current_status": status, "verify_retries_left": m.pin_retries, "unblock_retries_left": m.puk_retries}


@handler("DMS", "UIM Get PIN Status")
def _dms_pin_status(m: SimModem, r: Request) -> Dict[str, Any]:
    if m.sim_state == "absent":
        raise SimQmiError("UimUninitialized")
    return {"pin1_status": _pin_status(m)}


@handler("DMS", "UIM Verify PIN")
def _dms_verify(m: SimModem, r: Request) -> Dict[str, Any]:
    info = r.need("info")
    return _verify_pin(m, info["pin"], r.now, lambda left: {"pin_retries_status": left})


@handler("DMS", "UIM Get State")
def _dms_uim_state(m: SimModem, r: Request) -> Dict[str, Any]:
    state = {"ready": "initialization-completed", "absent": "not-present"}.get(m.sim_state, "locked-or-failed")
    return {"state": state}


@handler("DMS", "UIM Get ICCID")
def _iccid(m: SimModem, r: Request) -> Dict[str, Any]:
    if m.sim_state == "absent":
        raise SimQmiError("UimUninitialized")
    return {"iccid": m.config.iccid}


@handler("DMS", "UIM Get IMSI")
def _imsi(m: SimModem, r: Request) -> Dict[str, Any]:
    _need_sim(m)
    return {"imsi": m.config.imsi}


def _need_sim(m: SimModem) -> None:
    if m.sim_state == "absent":
        raise SimQmiError("UimUninitialized")
    if m.sim_state != "ready":
        raise SimQmiError("DeviceNotReady")


def _verify_pin(m: SimModem, pin: str, now: float, retries_tlv: Any) -> Dict[str, Any]:
    outcome = m.try_pin(pin, now)
    if outcome == "ok":
        return {}
    left = {"verify_retries_left": m.pin_retries if outcome != "PinBlocked" or m.pin_retries else 0,
            "unblock_retries_left": m.puk_retries}
    raise SimQmiError(outcome, **(retries_tlv(left) if outcome in ("IncorrectPin", "PinBlocked") else {}))


# ---------------------------------------------------------------------- UIM

def card_status(m: SimModem) -> Dict[str, Any]:
    """The UIM Card Status TLV: one card, one USIM application, in the modem's SIM state."""
    if m.sim_state == "absent":
        return {"index_gw_primary": 0xFFFF, "index_1x_primary": 0xFFFF, "index_gw_secondary": 0xFFFF,
                "index_1x_secondary": 0xFFFF,
                "cards": [{"card_state": "absent", "upin_state": "not-initialized", "upin_retries": 0,
                           "upuk_retries": 0, "error_code": "no-atr-received", "applications": []}]}
    app_state = {"ready": "ready", "pin": "pin1-or-upin-pin-required", "puk": "puk1-or-upin-puk-required",
                 "blocked": "illegal"}[m.sim_state]
    pin_state = {"ready": "enabled-verified", "pin": "enabled-not-verified", "puk": "blocked",
                 "blocked": "permanently-blocked"}[m.sim_state]
    application = {
        "type": "usim", "state": app_state, "personalization_state": "ready", "personalization_feature": 0,
        "personalization_retries": 0, "personalization_unblock_retries": 0,
        "application_identifier_value": list(bytes.fromhex("a0000000871002ff33ff018900000100")),
        "upin_replaces_pin1": False, "pin1_state": pin_state, "pin1_retries": m.pin_retries,
        "puk1_retries": m.puk_retries, "pin2_state": "enabled-not-verified", "pin2_retries": 3, "puk2_retries": 10,
    }
    return {"index_gw_primary": 0x0000, "index_1x_primary": 0xFFFF, "index_gw_secondary": 0xFFFF,
            "index_1x_secondary": 0xFFFF,
            "cards": [{"card_state": "present", "upin_state": "not-initialized", "upin_retries": 0,
                       "upuk_retries": 0, "error_code": 0, "applications": [application]}]}


@handler("UIM", "Get Card Status")
def _card_status(m: SimModem, r: Request) -> Dict[str, Any]:
    return {"card_status": card_status(m)}


@handler("UIM", "Verify PIN")
def _uim_verify(m: SimModem, r: Request) -> Dict[str, Any]:
    info = r.need("info")
    return _verify_pin(m, info["pin_value"], r.now, lambda left: {"retries_remaining": left})


@handler("UIM", "Register Events")
def _uim_register(m: SimModem, r: Request) -> Dict[str, Any]:
    mask = int(r.values.get("event_registration_mask", 0))
    m.indications[r.client].uim_card_status = bool(mask & 1)
    return {"event_registration_mask": mask & 1}


@handler("UIM", "Power Off SIM")
def _power_off(m: SimModem, r: Request) -> None:
    m.after_response(m.set_sim_state("absent", r.now))


@handler("UIM", "Power On SIM")
def _power_on(m: SimModem, r: Request) -> None:
    m.after_response(m.set_sim_state(m.config.sim if m.config.sim != "absent" else "ready", r.now))


# ---------------------------------------------------------------------- NAS

def _plmn(m: SimModem) -> Dict[str, Any]:
    return {"mcc": m.config.mcc, "mnc": m.config.mnc, "description": m.config.operator}


def serving_system(m: SimModem, indication: bool = False) -> Dict[str, Any]:
    registered = m.registered
    rat = m.config.rat if registered else "none"
    values: Dict[str, Any] = {
        "serving_system": {
            "registration_state": _REGISTRATION_STATE[m.registration],
            "cs_attach_state": "attached" if registered else "detached",
            "ps_attach_state": "attached" if registered and m.config.ps_attached else "detached",
            "selected_network": "3gpp" if registered else "unknown",
            "radio_interfaces": [_RAT_RADIO[rat]] if registered else [],
        },
    }
    if registered:
        values.update({
            "roaming_indicator": "on" if m.registration == "roaming" else "off",
            "data_service_capability": [_RAT_DATA_CAPABILITY[rat]],
            "current_plmn": _plmn(m),
            "lac_3gpp": 0x1234, "cid_3gpp": 0x01A2B3C, "lte_tac": 0x2D1,
        })
    elif m.registration == "denied":
        values["current_plmn"] = _plmn(m)
    return values


def _service_status(m: SimModem) -> str:
    if m.registered:
        return "available"
    return "limited" if m.registration == "denied" else "none"


def system_info(m: SimModem, indication: bool = False) -> Dict[str, Any]:
    rat = m.config.rat
    status = {"service_status": _service_status(m), "true_service_status": _service_status(m),
              "preferred_data_path": False}
    registered = m.registered
    detail = {
        "domain_valid": True, "domain": "cs-ps" if registered else "none",
        "service_capability_valid": True, "service_capability": "cs-ps" if registered else "none",
        "roaming_status_valid": True, "roaming_status": "on" if m.registration == "roaming" else "off",
        "forbidden_valid": True, "forbidden": False,
        "lac_valid": registered, "lac": 0x1234 if registered else 0,
        "cid_valid": registered, "cid": 0x01A2B3C if registered else 0,
        "registration_reject_info_valid": m.registration == "denied",
        "registration_reject_domain": "ps" if m.registration == "denied" else "none",
        "registration_reject_cause": m.config.reject_cause,
        "network_id_valid": registered or m.registration == "denied",
        "mcc": "%03d" % m.config.mcc if registered or m.registration == "denied" else "",
        "mnc": ("%02d" % m.config.mnc) if registered or m.registration == "denied" else "",
    }
    values: Dict[str, Any] = {}
    if rat == "lte":
        detail.update({"tac_valid": registered, "tac": 0x2D1 if registered else 0})
        values = {"lte_service_status": status, "lte_system_info_v2": detail}
    elif rat == "umts":
        detail.update({"hs_call_status_valid": False, "hs_call_status": 0, "hs_service_valid": False,
                       "hs_service": 0, "primary_scrambling_code_valid": False, "primary_scrambling_code": 0})
        values = {"wcdma_service_status": status, "wcdma_system_info_v2": detail}
    elif rat == "gsm":
        detail.update({"egprs_support_valid": True, "egprs_support": True, "dtm_support_valid": True,
                       "dtm_support": False})
        values = {"gsm_service_status": status, "gsm_system_info_v2": detail}
    else:
        values = {"lte_service_status": status}
    return values


@handler("NAS", "Get Serving System")
def _get_serving_system(m: SimModem, r: Request) -> Dict[str, Any]:
    return serving_system(m)


@handler("NAS", "Get System Info")
def _get_system_info(m: SimModem, r: Request) -> Dict[str, Any]:
    return system_info(m)


@handler("NAS", "Get Signal Info")
def _signal_info(m: SimModem, r: Request) -> Dict[str, Any]:
    return signal_info(m)


def signal_info(m: SimModem) -> Dict[str, Any]:
    if not m.online or m.config.rat == "none" or m.registration == "none":
        return {}
    c = m.config
    if c.rat == "lte":
        return {"lte_signal_strength": {"rssi": c.rssi, "rsrq": c.rsrq, "rsrp": c.rsrp, "snr": int(c.snr * 10)}}
    if c.rat == "umts":
        return {"wcdma_signal_strength": {"rssi": c.rssi, "ecio": -10}}
    return {"gsm_signal_strength": c.rssi}


@handler("NAS", "Get Signal Strength")
def _signal_strength(m: SimModem, r: Request) -> Dict[str, Any]:
    if not m.online or m.registration == "none":
        raise SimQmiError("NoNetworkFound")
    c = m.config
    values: Dict[str, Any] = {"signal_strength": {"strength": c.rssi, "radio_interface": _RAT_RADIO[c.rat]}}
    if c.rat == "lte":
        values.update({"rsrq": {"rsrq": c.rsrq, "radio_interface": "lte"}, "lte_snr": int(c.snr * 10),
                       "lte_rsrp": c.rsrp})
    return values


@handler("NAS", "Register Indications")
def _register_indications(m: SimModem, r: Request) -> None:
    wanted = m.indications[r.client]
    for key, attribute in (("serving_system_events", "serving_system"), ("system_info", "system_info"),
                           ("signal_info", "signal_info")):
        if key in r.values:
            setattr(wanted, attribute, bool(r.values[key]))


@handler("NAS", "Set Event Report")
def _nas_event_report(m: SimModem, r: Request) -> None:
    return None


@handler("NAS", "Config Signal Info")
def _config_signal_info(m: SimModem, r: Request) -> None:
    return None


@handler("NAS", "Get Home Network")
def _home_network(m: SimModem, r: Request) -> Dict[str, Any]:
    _need_sim(m)
    return {"home_network": {"mcc": m.config.mcc, "mnc": m.config.mnc, "description": m.config.operator}}


# ---------------------------------------------------------------------- WDA

@handler("WDA", "Get Data Format")
def _get_data_format(m: SimModem, r: Request) -> Dict[str, Any]:
    return _data_format(m)


def _data_format(m: SimModem) -> Dict[str, Any]:
    aggregation = m.aggregation if m.aggregation in ("qmap", "qmapv5") else "disabled"
    values: Dict[str, Any] = {
        "qos_format": False, "link_layer_protocol": m.link_layer,
        "uplink_data_aggregation_protocol": aggregation, "downlink_data_aggregation_protocol": aggregation,
        "ndp_signature": 0, "downlink_data_aggregation_max_datagrams": 0, "downlink_data_aggregation_max_size": 0,
    }
    if aggregation != "disabled":
        qmap = m.qmap or QMAP_LIMITS
        values.update({"downlink_data_aggregation_max_datagrams": qmap["dl_datagrams"],
                       "downlink_data_aggregation_max_size": qmap["dl_size"],
                       "uplink_data_aggregation_max_datagrams": qmap["ul_datagrams"],
                       "uplink_data_aggregation_max_size": qmap["ul_size"],
                       "download_minimum_padding": m.config.qmap_min_padding})
    return values


# What the firmware agrees to at most (an EC25 answers 32 datagrams / 16 KiB down, 11 / 8 KiB up;
# SDX55 firmware 32 KiB down): a request for more is answered with these, and the host must use them.
QMAP_LIMITS = {"dl_datagrams": 32, "dl_size": 16384, "ul_datagrams": 11, "ul_size": 8192}


@handler("WDA", "Set Data Format")
def _set_data_format(m: SimModem, r: Request) -> Dict[str, Any]:
    link = r.values.get("link_layer_protocol")
    if link is not None:
        if link.name not in ("raw-ip", "802-3"):
            raise SimQmiError("InvalidDataFormat")
        m.link_layer = _link_layer_chosen(m, link.name)
    for key in ("downlink_data_aggregation_protocol", "uplink_data_aggregation_protocol"):
        value = r.values.get(key)
        if value is not None:
            m.aggregation = _aggregation_chosen(m, value.name)
    if m.aggregation != "none":
        if m.link_layer != "raw-ip":
            raise SimQmiError("InvalidDataFormat")  # QMAP carries IP packets: it needs raw IP
        asked = {"dl_datagrams": r.values.get("downlink_data_aggregation_max_datagrams"),
                 "dl_size": r.values.get("downlink_data_aggregation_max_size"),
                 "ul_datagrams": r.values.get("uplink_data_aggregation_max_datagrams"),
                 "ul_size": r.values.get("uplink_data_aggregation_max_size")}
        m.qmap = {key: min(int(value), QMAP_LIMITS[key]) if value else QMAP_LIMITS[key]
                  for key, value in asked.items()}
    else:
        m.qmap = {}
    return _data_format(m)


def _aggregation_chosen(m: SimModem, wanted: str) -> str:
    """QMAPv5 only where the firmware offers it (SDX55 and later); other QMAP versions get QMAP v1."""
    if wanted == "qmapv5" and m.config.qmapv5:
        return "qmapv5"
    return "qmap" if wanted.startswith("qmap") else "none"


# ---------------------------------------------------------------------- WDS

def _family_of(m: SimModem, r: Request) -> int:
    return m.ip_family.get(r.client, 4)


@handler("WDS", "Set IP Family")
def _set_ip_family(m: SimModem, r: Request) -> None:
    family = int(r.need("preference"))
    if family not in (4, 6, 8):
        raise SimQmiError("InvalidIpFamilyPreference")
    m.ip_family[r.client] = 4 if family == 8 else family


def _reject(m: SimModem, reason: str, verbose_type: str, verbose: str) -> SimQmiError:
    return SimQmiError("CallFailed", **m.call_end_values(reason, (verbose_type, verbose)))


def start_call(m: SimModem, client: Any, family: int, apn_name: str, username: str, password: str,
               offered_auth: Any, now: float) -> Call:
    """Admit a call as the network would (QMI Start Network, and the AT commands that dial), or
    raise SimQmiError CallFailed with the call-end reason a real network gives."""
    if not m.sim_ready or not m.online or not m.registered:
        raise _reject(m, "no-service", "cm", "no-service")
    apn = next((a for a in m.config.apns if a.name.lower() == apn_name.lower()), None)
    if apn is None:
        raise _reject(m, "gsm-wcdma-unknown-apn", "3gpp", "unknown-apn")
    if apn.auth != "none":
        acceptable = {"pap": {"pap"}, "chap": {"chap"}, "pap-or-chap": {"pap", "chap"}}[apn.auth]
        if not (set(offered_auth) & acceptable) or username != apn.username or password != apn.password:
            raise _reject(m, "authentication-failed", "3gpp", "authentication-failed")
    wanted = "ipv4" if family == 4 else "ipv6"
    if wanted not in apn.ip_types and "ipv4v6" not in apn.ip_types:
        raise _reject(m, "gsm-wcdma-unknown-pdp", "3gpp", "ipv4-only-allowed" if family == 6 else "ipv6-only-allowed")
    call = Call(client, m.next_handle, family, apn.name, now, mux_id=m.mux_bindings.get(client))
    m.next_handle = (m.next_handle + 0x1330) & 0xFFFFFFFF
    m.allocate_addresses(call)
    m.calls[client] = call
    return call


@handler("WDS", "Start Network")
def _start_network(m: SimModem, r: Request) -> Dict[str, Any]:
    v = r.values
    if r.client in m.calls:
        raise SimQmiError("NoEffect")
    family = int(v.get("ip_family_preference", _family_of(m, r)))
    family = 4 if family not in (4, 6) else family
    apn_name = v.get("apn")
    profile = None
    if apn_name is None or apn_name == "":
        index = int(v.get("profile_index_3gpp", 1))
        profile = m.profiles.get(index)
        if profile is None:
            raise _reject(m, "unspecified", "internal", "invalid-profile-id")
        apn_name = profile["apn"]
    username = str(v["username"] if v.get("username") is not None else (profile or {}).get("username", ""))
    password = str(v["password"] if v.get("password") is not None else (profile or {}).get("password", ""))
    offered = v.get("authentication_preference")
    offered_names = set(offered.names) if offered is not None else {"pap", "chap"}
    call = start_call(m, r.client, family, apn_name, username, password, offered_names, r.now)
    m.after_response([m.indication("WDS", "Packet Service Status", r.client_id, {
        "connection_status": {"status": "connected", "reconfiguration_required": False}, "ip_family": family})])
    return {"packet_data_handle": call.handle}


@handler("WDS", "Stop Network")
def _stop_network(m: SimModem, r: Request) -> None:
    call = m.calls.get(r.client)
    handle = int(r.need("packet_data_handle"))
    if call is None:
        raise SimQmiError("NoEffect" if handle == 0xFFFFFFFF else "InvalidHandle")
    if handle not in (call.handle, 0xFFFFFFFF):
        raise SimQmiError("InvalidHandle")
    m.after_response(m.end_call(r.client, "client-end", ("cm", "client-end")))


@handler("WDS", "Get Packet Service Status")
def _packet_status(m: SimModem, r: Request) -> Dict[str, Any]:
    return {"connection_status": "connected" if r.client in m.calls else "disconnected"}


@handler("WDS", "Get Current Settings")
def _current_settings(m: SimModem, r: Request) -> Dict[str, Any]:
    call: Optional[Call] = m.calls.get(r.client)
    if call is None:
        raise SimQmiError("OutOfCall")
    values: Dict[str, Any] = {"apn_name": call.apn, "mtu": m.config.mtu, "ip_family": call.family,
                              "pdp_type": "ipv4" if call.family == 4 else "ipv6"}
    if call.ipv4 is not None:
        values.update({
            "ipv4_address": call.ipv4.ip, "ipv4_gateway_address": call.gateway4,
            "ipv4_gateway_subnet_mask": call.ipv4.netmask,
            "primary_ipv4_dns_address": ipaddress.IPv4Address(m.config.dns4[0]) if m.config.dns4 else None,
            "secondary_ipv4_dns_address": ipaddress.IPv4Address(m.config.dns4[1]) if len(m.config.dns4) > 1 else None,
        })
    if call.ipv6 is not None:
        values.update({
            "ipv6_address": {"address": call.ipv6.ip, "prefix_length": 64},
            "ipv6_gateway_address": {"address": call.gateway6, "prefix_length": 64},
            "ipv6_primary_dns_address": ipaddress.IPv6Address(m.config.dns6[0]) if m.config.dns6 else None,
            "ipv6_secondary_dns_address": ipaddress.IPv6Address(m.config.dns6[1]) if len(m.config.dns6) > 1 else None,
        })
    return values


@handler("WDS", "Get Profile List")
def _profile_list(m: SimModem, r: Request) -> Dict[str, Any]:
    return {"profile_list": [{"profile_type": "3gpp", "profile_index": index, "profile_name": p["name"]}
                             for index, p in sorted(m.profiles.items())]}


_PDP = {"ipv4": "ipv4", "ipv6": "ipv6", "ipv4v6": "ipv4-or-ipv6"}
_PDP_BACK = {v: k for k, v in _PDP.items()}


def _profile_values(p: Dict[str, Any], index: int) -> Dict[str, Any]:
    return {"profile_name": p["name"], "pdp_type": _PDP[p["pdp_type"]], "apn_name": p["apn"],
            "username": p["username"], "password": p["password"],
            "authentication": {"none": 0, "pap": 1, "chap": 2, "pap-or-chap": 3}[p["auth"]],
            "pdp_context_number": index}


def _profile_index(m: SimModem, r: Request, key: str) -> int:
    ident = r.need(key)
    index = int(ident["profile_index"])
    if index not in m.profiles:
        raise SimQmiError("ExtendedInternal", extended_error_code="invalid-profile-number")
    return index


@handler("WDS", "Get Profile Settings")
def _profile_settings(m: SimModem, r: Request) -> Dict[str, Any]:
    index = _profile_index(m, r, "profile_id")
    return _profile_values(m.profiles[index], index)


def _update_profile(p: Dict[str, Any], v: Any) -> None:
    if v.get("apn_name") is not None:
        p["apn"] = v["apn_name"]
    if v.get("pdp_type") is not None:
        p["pdp_type"] = _PDP_BACK.get(v["pdp_type"].name, "ipv4v6")
    for key in ("username", "password"):
        if v.get(key) is not None:
            p[key] = v[key]
    if v.get("profile_name") is not None:
        p["name"] = v["profile_name"]
    if v.get("authentication") is not None:
        names = set(v["authentication"].names)
        p["auth"] = "pap-or-chap" if names >= {"pap", "chap"} else "pap" if "pap" in names else \
            "chap" if "chap" in names else "none"


@handler("WDS", "Modify Profile")
def _modify_profile(m: SimModem, r: Request) -> None:
    index = _profile_index(m, r, "profile_identifier")
    _update_profile(m.profiles[index], r.values)


@handler("WDS", "Create Profile")
def _create_profile(m: SimModem, r: Request) -> Dict[str, Any]:
    free = [i for i in range(1, 25) if i not in m.profiles]
    if not free:
        raise SimQmiError("NoFreeProfile")
    index = int(r.values.get("pdp_context_number") or free[0])
    if index in m.profiles:
        index = free[0]
    m.profiles[index] = {"apn": "", "pdp_type": "ipv4v6", "name": "", "auth": "none", "username": "",
                         "password": ""}
    _update_profile(m.profiles[index], r.values)
    return {"profile_identifier": {"profile_type": "3gpp", "profile_index": index}}


@handler("WDS", "Delete Profile")
def _delete_profile(m: SimModem, r: Request) -> None:
    index = _profile_index(m, r, "profile_identifier")
    del m.profiles[index]


@handler("WDS", "Get Default Profile Number")
def _default_profile(m: SimModem, r: Request) -> Dict[str, Any]:
    return {"index": min(m.profiles) if m.profiles else 1}


@handler("WDS", "Get Autoconnect Settings")
def _get_autoconnect(m: SimModem, r: Request) -> Dict[str, Any]:
    return {"status": m.autoconnect, "roaming": 0}


@handler("WDS", "Set Autoconnect Settings")
def _set_autoconnect(m: SimModem, r: Request) -> None:
    m.autoconnect = int(r.need("status"))


@handler("WDS", "Bind Mux Data Port")
def _bind_mux(m: SimModem, r: Request) -> None:
    """Bind this client's calls to a QMAP mux id on the module's data endpoint."""
    if m.aggregation == "none":
        raise SimQmiError("InvalidArgument")
    endpoint = r.values.get("endpoint_info")
    mux_id = int(r.need("mux_id"))
    if endpoint is not None and (getattr(endpoint["endpoint_type"], "name", "") != "hsusb"
                                 or int(endpoint["interface_number"]) != m.config.net_interface):
        raise SimQmiError("InvalidArgument")  # not this module's data endpoint
    if not 1 <= mux_id <= 254:
        raise SimQmiError("InvalidArgument")
    if r.client in m.calls:
        raise SimQmiError("InvalidOperation")  # a call is up on this client: its mux cannot change
    m.mux_bindings[r.client] = mux_id


@handler("WDS", "Indication Register")
def _wds_indication_register(m: SimModem, r: Request) -> None:
    return None


@handler("WDS", "Set Event Report")
def _wds_event_report(m: SimModem, r: Request) -> None:
    return None


@handler("WDS", "Get Current Data Bearer Technology")
def _bearer(m: SimModem, r: Request) -> Dict[str, Any]:
    if r.client not in m.calls:
        raise SimQmiError("OutOfCall")
    return {"current": {"network_type": "3gpp", "rat_mask": 0x20 if m.config.rat == "lte" else 0x01, "so_mask": 0}}


@handler("WDS", "Abort")
def _abort(m: SimModem, r: Request) -> None:
    return None

