"""Doctor rules on hand-made facts (pure: no modem needed)."""

from qcm.at.parser import Response
from qcm.connect.events import Registration
from qcm.doctor.evidence import Facts
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
