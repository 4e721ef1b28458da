"""What MBIM answers mean in qcm's model, including the odd answers a faulty modem gives (found by
tests/fuzz/target_mbim_backend.py): they become one-line errors or are ignored, never a crash."""

import pytest

from qcm.backends.mbim import readings
from qcm.errors import ModemError
from qcm.mbim.catalogue import catalogue
from qcm.mbim.message import build, decode

C = catalogue()


def message(command, kind, values, version=1, status=0):
    return decode(build(C.command("basic-connect", command), kind, 1, values, version=version, status=status), version)


def test_registration_from_register_packet_and_signal():
    register = message("Register State", "response", {"register_state": "roaming", "provider_id": "310260",
                                                       "provider_name": "T-Mobile", "available_data_classes": ["lte"]})
    packet = message("Packet Service", "response", {"packet_service_state": "attached",
                                                    "current_data_class": ["5g-sa"]}, version=2)
    signal = message("Signal State", "response", {"rssi": 20, "rsrp_snr": [{"rsrp": 45}]}, version=2)
    r = readings.registration(register, packet, signal)
    assert (r.state, r.roaming, r.mcc, r.mnc, r.rat, r.ps_attached, r.signal_dbm) == (
        "registered", True, 310, 260, "5gnr", True, -112)
    denied = readings.registration(message("Register State", "response", {"register_state": "denied", "nw_error": 11}))
    assert denied.state == "registration-denied" and denied.reject_cause == 11 and not denied.ps_attached


def test_a_provider_id_in_other_digits_is_no_network_code():
    register = message("Register State", "response", {"register_state": "home", "provider_id": "3027\u00b20"})
    r = readings.registration(register)
    assert r.registered and r.mcc is None and r.mnc is None


def test_sim_states_and_tries():
    locked = message("Subscriber Ready Status", "response", {"ready_state": "device-locked"})
    puk = message("Pin", "response", {"pin_type": "puk1", "pin_state": "locked", "remaining_attempts": 9})
    pin = message("Pin", "response", {"pin_type": "pin1", "pin_state": "locked", "remaining_attempts": 2})
    assert readings.sim_status(locked, puk).state == "puk" and readings.sim_status(locked, puk).puk_retries == 9
    assert readings.sim_status(locked, pin).pin_retries == 2
    absent = message("Subscriber Ready Status", "response", {"ready_state": "sim-not-inserted"})
    assert readings.sim_status(absent).state == "absent"


def test_ip_configuration():
    config = message("IP Configuration", "response", {
        "ipv4_address": [{"on_link_prefix_length": 30, "ipv4_address": "100.64.0.2"}], "ipv4_gateway": "100.64.0.1",
        "ipv4_dns_server": ["198.51.100.53"], "ipv4_mtu": 1400})
    v4 = readings.ip_settings(config, 4)
    assert str(v4.address) == "100.64.0.2/30" and str(v4.gateway) == "100.64.0.1" and v4.mtu == 1400
    assert readings.ip_settings(config, 6) is None


def test_an_impossible_prefix_is_a_modem_error_and_an_impossible_mtu_is_ignored():
    config = message("IP Configuration", "response", {
        "ipv4_address": [{"on_link_prefix_length": 1054, "ipv4_address": "100.64.0.2"}], "ipv4_mtu": 70000})
    with pytest.raises(ModemError):
        readings.ip_settings(config, 4)
    sane = message("IP Configuration", "response", {
        "ipv4_address": [{"on_link_prefix_length": 30, "ipv4_address": "100.64.0.2"}], "ipv4_mtu": 70000})
    assert readings.ip_settings(sane, 4).mtu is None
