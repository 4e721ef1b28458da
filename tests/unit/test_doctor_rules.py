"""Doctor rules on hand-made facts (pure: no modem needed)."""

from qcm.at.parser import Response
from qcm.connect.events import Registration
from qcm.doctor.facts import Facts
from qcm.doctor.firmware import parse_revision, parse_variant, variant_covers
from qcm.doctor.rules import diagnose


def ids(facts):
    return [f.id for f in diagnose(facts)]


def test_healthy_facts_give_nothing():
    facts = Facts(revision="EC25AFAR05A07M4G", imsi="302720000000000", operating_mode="online", sim="ready",
                  registration=Registration("registered", True, mcc=302, mnc=720), link_layer="raw-ip",
                  host_raw_ip=True)
    assert ids(facts) == []


def test_label_variant_against_firmware_even_when_registered_elsewhere():
    facts = Facts(revision="EC25EFAR06A11M4G", variant_hint="EC25-A", sim="ready", operating_mode="online",
                  registration=Registration("registered", True, mcc=262, mnc=1))
    assert ids(facts) == ["firmware-variant-mismatch"]


def test_global_firmware_is_never_wrong():
    facts = Facts(revision="EG25GGBR07A08M2G", imsi="302720000000000", sim="ready", operating_mode="online",
                  registration=Registration("not-registered-searching", False))
    assert ids(facts) == ["not-registered"]


def test_consequences_are_not_reported_as_causes():
    facts = Facts(sim="absent", operating_mode="online", registration=Registration("not-registered", False))
    assert ids(facts) == ["sim-missing"]


def test_at_only_evidence():
    facts = Facts(at={"AT+CPIN?": Response("AT+CPIN?", (), "+CME ERROR: 10"),
                      "AT+CFUN?": Response("AT+CFUN?", ("+CFUN: 4",), "OK")})
    assert ids(facts) == ["sim-missing", "radio-off"]


def test_raw_ip_both_ways():
    assert ids(Facts(link_layer="802-3", host_raw_ip=True)) == ["raw-ip-mismatch"]
    assert ids(Facts(link_layer="raw-ip", host_raw_ip=None)) == []


def test_firmware_tables():
    assert parse_revision("EC25AFFAR07A08M4G").variant == "AF"
    assert parse_revision("BG96MAR02A07M1G") is None
    assert parse_variant("EG25-G") == ("EG25", "G")
    assert variant_covers("E", "262") and not variant_covers("E", "310") and variant_covers("G", "999")


def modem(**changes):
    from dataclasses import replace

    from qcm.discovery import Modem
    base = Modem(usb_path="1-1.2", vendor_id=0x2C7C, product_id=0x0125, manufacturer="Quectel", product="EC25",
                 model="EC25/EC20", mode="qmi", driver="qmi_wwan", driver_version="6.1.0", interface=4,
                 control="/dev/cdc-wdm0", netdev="wwan0", raw_ip=True, at_port="/dev/ttyUSB2")
    return replace(base, **changes)


def usbnet_answer(value):
    return {'AT+QCFG="usbnet"': Response('AT+QCFG="usbnet"', ('+QCFG: "usbnet",%s' % value,), "OK")}


def test_wanted_mode_is_explained_for_what_was_asked():
    facts = Facts(modem=modem(), wanted_mode="mbim", at=usbnet_answer(0))
    [finding] = diagnose(facts)
    assert finding.title == "the module is in QMI mode, not MBIM"
    assert "cdc_mbim" in finding.explanation and "no QMI port" not in finding.explanation
    assert 'AT+QCFG="usbnet",2' in finding.fix
    ecm = diagnose(Facts(modem=modem(mode="ethernet", driver="cdc_ether", control=None), at=usbnet_answer(1),
                         wanted_mode="qmi"))[0]
    assert "no QMI port" in ecm.explanation and 'AT+QCFG="usbnet",0' in ecm.fix and "qmi_wwan" in ecm.fix


def test_missing_serial_driver_is_named_and_matters_most_on_bg95():
    plain = diagnose(Facts(modem=modem(at_port=None, unbound=(0, 1, 2, 3)), link_layer="raw-ip", host_raw_ip=True))
    assert [(f.id, f.severity) for f in plain] == [("at-port-missing", "warning")]
    assert "echo '2c7c 0125' | sudo tee /sys/bus/usb-serial/drivers/option1/new_id" in plain[0].fix
    bg95 = Facts(modem=modem(product_id=0x0700, at_port=None, unbound=(0, 1, 2), interface=3), revision="BG95M3LAR02A03")
    assert [(f.id, f.severity) for f in diagnose(bg95)] == [("at-port-missing", "error"),
                                                            ("usbnet-mode-mismatch", "error")]
    assert ids(Facts(modem=modem(unbound=(3,)))) == []  # the AT port is there: nothing to say


def test_registered_but_detached_is_not_called_searching():
    facts = Facts(sim="ready", operating_mode="online",
                  registration=Registration("registered", False, mcc=228, mnc=1, operator="Swisscom"))
    [finding] = diagnose(facts)
    assert finding.id == "not-registered" and "not attached for data" in finding.title and "CGATT" in finding.fix


def at(**answers):
    """AT answers by command: a string is the one line before OK, None a bare ERROR."""
    return {command: Response(command, (line,), "OK") if line is not None else Response(command, (), "ERROR")
            for command, line in answers.items()}


def test_a_healthy_bg95_in_ecm_mode_is_left_alone():
    ecm = modem(product_id=0x0700, mode="ethernet", driver="cdc_ether", control=None, netdev="usb0", raw_ip=None)
    facts = Facts(modem=ecm, revision="BG95M3LAR02A03", at={'AT+QCFGEXT="usbnet"': Response(
        'AT+QCFGEXT="usbnet"', ('+QCFGEXT: "usbnet","ecm"',), "OK")})
    assert ids(facts) == []
    facts.wanted_mode = "qmi"  # asked for explicitly: still no QMI data path on a BG95
    assert ids(facts) == ["usbnet-mode-mismatch"]


def test_bg77_is_called_bg77_and_rndis_is_not_mistaken_for_ecm():
    bg77 = Facts(modem=modem(product_id=0x0700), revision="BG77LAR02A04")
    assert "BG77 modules" in diagnose(bg77)[0].title
    rndis = modem(mode="ethernet", driver="rndis_host", control=None, netdev="usb0", raw_ip=None)
    assert ids(Facts(modem=rndis, wanted_mode="rndis", at=usbnet_answer(3))) == []


def test_at_only_registration_counts_2g_and_3g_and_spares_consequences():
    umts = at(**{"AT+CEREG?": "+CEREG: 0,0", "AT+CGREG?": "+CGREG: 0,1", "AT+CREG?": "+CREG: 0,1",
                 "AT+COPS?": '+COPS: 0,0,"Rogers",2', "AT+CGATT?": "+CGATT: 1", "AT+CPIN?": "+CPIN: READY"})
    facts = Facts(at=umts)
    assert ids(facts) == [] and facts.network().describe().startswith("registered on Rogers, UMTS")
    locked = Facts(at=at(**{"AT+CPIN?": "+CPIN: SIM PIN", "AT+QPINC=\"SC\"": '+QPINC: "SC",2,10',
                            "AT+CEREG?": "+CEREG: 0,0"}))
    [pin] = diagnose(locked)
    assert pin.id == "sim-pin-required" and "2 tries left" in pin.title  # and no "not registered" beside it


def test_sim_states_beyond_pin_and_puk():
    assert diagnose(Facts(sim="blocked"))[0].title == "the SIM is permanently blocked (no PUK tries left)"
    assert "network lock" in diagnose(Facts(at=at(**{"AT+CPIN?": "+CPIN: PH-SIM PIN"})))[0].explanation


def test_a_restarting_module_is_not_a_radio_left_off():
    [finding] = diagnose(Facts(operating_mode="reset", sim="ready"))
    assert finding.id == "radio-off" and finding.severity == "info"


def test_bg95_in_qmi_mode_reporting_ps_detached_is_not_a_second_cause():
    facts = Facts(modem=modem(product_id=0x0700, interface=3), revision="BG95M3LAR02A03", sim="ready",
                  operating_mode="online", registration=Registration("registered", False, mcc=228, mnc=1))
    assert ids(facts) == ["usbnet-mode-mismatch"]
