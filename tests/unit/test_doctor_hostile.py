"""The doctor on valid but unusual answers, and on hostile ones (issue 10, items 6, 8 and 9)."""

import pytest

from qcm.at import readings
from qcm.at.parser import AtParser, Response
from qcm.doctor.facts import Facts
from qcm.doctor.rules import diagnose


def answers(**by_command):
    return {command: Response(command, tuple(lines), final) for command, (lines, final) in by_command.items()}


def facts_from_at(pairs):
    return Facts(at={command: Response(command, (line,), "OK") for command, line in pairs})


@pytest.mark.parametrize("stat,state,roaming", [("6", "registered", False), ("7", "registered", True),
                                                ("8", "emergency-only", False), ("9", "registered", False),
                                                ("10", "registered", True), ("11", "limited-service", False),
                                                ("12", "unknown", False), ("²", "unknown", False)])
def test_every_3gpp_registration_stat_without_qmi(stat, state, roaming):
    facts = facts_from_at([("AT+CEREG?", "+CEREG: 0,%s" % stat)])
    network = facts.network()
    assert (network.state, network.roaming) == (state, roaming)
    diagnose(facts)


def test_sms_only_registration_is_a_registration():
    facts = facts_from_at([("AT+CEREG?", "+CEREG: 0,6"), ("AT+CGATT?", "+CGATT: 1"), ("AT+CPIN?", "+CPIN: READY")])
    assert [f.id for f in diagnose(facts)] == []


def test_emergency_only_is_named():
    facts = facts_from_at([("AT+CEREG?", "+CEREG: 0,8"), ("AT+CPIN?", "+CPIN: READY")])
    [finding] = diagnose(facts)
    assert finding.id == "not-registered" and "emergency calls only" in finding.title
    assert "AT+CEREG? answers 0,8 (attached for emergency bearer services only)" in finding.evidence


def test_huge_cme_error_code():
    code = "9" * 5000  # over Python's 4,300-digit limit for int()
    facts = Facts(at=answers(**{"AT+CPIN?": ((), "+CME ERROR: " + code)}))
    assert facts.at["AT+CPIN?"].error_code is None
    diagnose(facts)
    assert Response("AT", (), "+CME ERROR: 10").error_code == 10
    assert Response("AT", (), "+CME ERROR: ١٠").error_code is None


@pytest.mark.parametrize("csq", ["²,99", "٣١,99", "３１,99", "-5,99", "31", "99,99", "", ",", "1" * 5000])
def test_signal_quality_in_any_digits(csq):
    assert readings.csq_dbm(csq) is None or csq == "31"
    facts = facts_from_at([("AT+CEREG?", "+CEREG: 0,1"), ("AT+CSQ", "+CSQ: " + csq)])
    facts.network()
    diagnose(facts)
    assert readings.csq_dbm("31,99") == -51 and readings.csq_dbm(" 0,99") == -113


@pytest.mark.parametrize("qpinc", ['"SC",²,10', '"SC",3,١٠', '"SC",3', '"SC",3,10,1', '"SC",' + "3" * 5000 + ',1'])
def test_pin_tries_in_any_digits(qpinc):
    facts = Facts(at=answers(**{"AT+CPIN?": (("+CPIN: SIM PIN",), "OK"),
                                'AT+QPINC="SC"': (("+QPINC: " + qpinc,), "OK")}))
    [finding] = diagnose(facts)
    assert finding.id == "sim-pin-required" and "(? tries left)" in finding.title
    assert readings.qpinc_tries('"SC",3,10') == (3, 10)


def test_firmware_variant_the_table_does_not_know():
    facts = Facts(revision="EC25TFAR05A07M4G", imsi="262010000000000", sim="ready", operating_mode="online")
    diagnose(facts)  # T (a variant with no region in the table) is not second-guessed


def test_at_parser_refuses_a_second_command_smuggled_in():
    parser = AtParser()
    for command in ("AT\r\nAT+CFUN=0", "AT\nAT+CFUN=0", "AT+CPIN?\x1a", "AT\x1b[2J"):
        with pytest.raises(ValueError):
            parser.command(command, 0.0, 1.0)
    assert parser.deadline() is None
    assert parser.command("AT+QCFG=\"usbnet\"", 0.0, 1.0) == b'AT+QCFG="usbnet"\r'


def test_at_parser_sends_command_line_bytes_as_they_came():
    text = b"AT+COPS=1,0,\"\xff\"".decode("utf-8", "surrogateescape")  # not UTF-8 on the command line
    assert AtParser().command(text, 0.0, 1.0) == b"AT+COPS=1,0,\"\xff\"\r"


def test_a_manager_status_with_unexpected_types_is_read_as_far_as_it_makes_sense():
    from dataclasses import fields

    from qcm.connect.events import Registration
    from qcm.doctor.evidence import _REGISTRATION_TYPES, _read_manager
    assert set(_REGISTRATION_TYPES) == {f.name for f in fields(Registration)}
    facts = Facts()
    _read_manager(facts, {"pid": 1, "revision": 25, "model": ["x"], "sim": {"a": 1},
                          "registration": {"state": "registered", "ps_attached": True, "mcc": "302", "mnc": True,
                                           "operator": 7, "signal_dbm": -90, "new_field": 1}})
    assert facts.revision == "" and facts.sim is None
    assert facts.registration == Registration("registered", True, signal_dbm=-90)
    diagnose(facts)
    facts.network().describe()
