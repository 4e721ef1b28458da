"""The catalogue loads, is consistent, and names every error a user meets."""

import json

import pytest

from qcm.qmi.catalogue import CatalogueError, catalogue, load
from qcm.qmi.message import describe_error


def test_loads_the_services_a_connection_manager_needs():
    c = catalogue()
    assert {s.name for s in c.services.values()} >= {"CTL", "DMS", "NAS", "WDS", "WDA", "UIM"}
    for service, name in [("CTL", "Allocate CID"), ("CTL", "Set Data Format"), ("DMS", "Get Revision"),
                          ("DMS", "Set Operating Mode"), ("DMS", "UIM Verify PIN"), ("UIM", "Get Card Status"),
                          ("UIM", "Verify PIN"), ("NAS", "Get Serving System"), ("NAS", "Get System Info"),
                          ("NAS", "Get Signal Info"), ("NAS", "Register Indications"), ("WDS", "Start Network"),
                          ("WDS", "Bind Mux Data Port"), ("WDS", "Set Autoconnect Settings"), ("WDA", "Set Data Format")]:
        assert c.method(service, name)
    for service, name in [("NAS", "Serving System"), ("NAS", "System Info"), ("WDS", "Packet Service Status"),
                          ("CTL", "Sync")]:
        assert c.indication(service, name)


def test_every_protocol_error_is_named():
    assert describe_error(0x5E).startswith("QMUXError 0x5e NotSupported: ")
    assert describe_error(0x34).startswith("QMUXError 0x34 DeviceNotReady")
    assert describe_error(0x0F).startswith("QMUXError 0x0f OutOfCall")
    assert describe_error(0x1234) == "QMUXError 0x1234 unknown-4660"


def test_call_end_reasons_have_libqmi_names():
    reasons = catalogue().enum("WdsCallEndReason")
    assert reasons.value_name(1013) == "gsm-wcdma-unknown-apn"
    assert reasons.meaning(1013)
    assert catalogue().enum("WdsVerboseCallEndReason.3gpp").value_name(29) == "authentication-failed"


def test_personal_fields_are_marked():
    c = catalogue()
    assert c.method("WDS", "Start Network").tlv("request", "password").personal
    assert c.method("WDS", "Start Network").tlv("request", "username").personal
    assert not c.method("WDS", "Start Network").tlv("request", "apn").personal
    assert c.method("DMS", "Get IDs").tlv("response", "imei").personal
    assert c.method("DMS", "UIM Get IMSI").tlv("response", "imsi").personal


def write(tmp_path, doc, name="x.json"):
    (tmp_path / name).write_text(json.dumps(doc))


@pytest.mark.parametrize("doc,message", [
    ({"service": {"name": "X", "id": 9}, "messages": [{"name": "A", "id": 1, "request": [["0x01", "V", "u8<Nope>"]]}]},
     "unknown enum"),
    ({"service": {"name": "X", "id": 9}, "messages": [{"name": "A", "id": 1, "request": []},
                                                       {"name": "B", "id": 1, "request": []}]}, "already used"),
    ({"service": {"name": "X", "id": 9}, "messages": [{"name": "A", "id": 1, "request": [["0x01", "V", "u8"],
                                                                                         ["0x01", "W", "u8"]]}]},
     "duplicate TLV"),
    ({"service": {"name": "X", "id": 9}, "messages": [{"name": "A", "id": 1, "request": [["1", "V"]]}]}, "TLV rows"),
])
def test_inconsistent_data_is_refused_at_load(tmp_path, doc, message):
    write(tmp_path, doc)
    with pytest.raises(CatalogueError, match=message):
        load(tmp_path)
