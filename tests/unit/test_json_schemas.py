"""The --json outputs of qcm list, doctor and decode, produced against the simulator, are what
schemas/ says they are (qcm status, which needs a connection, is checked in tests/e2e); the
schemas are valid JSON Schema and refuse what they should."""

import json
import os
import subprocess
import sys

import jsonschema
import pytest

from conftest import SRC
from json_schemas import load, validate


def qcm(sim, *args):
    env = dict(os.environ, PYTHONPATH=str(SRC), QCM_SYSFS=sim.info["sysfs_root"],
               QCM_DEV=sim.info["dev_root"], QCM_RUN_DIR=str(sim.directory.parent / "run"),
               QCM_STATE_DIR=str(sim.directory.parent / "state"))
    return subprocess.run([sys.executable, "-m", "qcm", *args], capture_output=True, text=True, timeout=60,
                          env=env)


def test_schemas_are_valid_and_versioned():
    schemas = load()
    assert set(schemas) == {"list", "status", "doctor", "decode", "at", "usbnet", "sim-ctl"}
    for name, schema in schemas.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == "urn:qcm:schema:%s:1" % name
        # every output is an object that carries its version (list and decode were bare arrays before)
        assert schema["type"] == "object"
        assert schema["properties"]["schema_version"] == {"const": 1}
        assert "schema_version" in schema["required"]


def test_list_doctor_and_decode_outputs_match_their_schemas(start_sim):
    sim = start_sim("--imei", "861234567890123", "--set", "host_raw_ip=false")
    listed = qcm(sim, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    validate("list", document)
    assert document["schema_version"] == 1 and len(document["modules"]) == 1

    doctor = qcm(sim, "doctor", "--json", "--timeout", "2")
    assert doctor.returncode in (0, 1), doctor.stderr
    report = json.loads(doctor.stdout)
    validate("doctor", report)
    assert report["schema_version"] == 1 and report["findings"]  # raw_ip N is a finding

    sim.stop()  # the trace now holds the doctor's whole exchange
    decoded = qcm(sim, "decode", "--json", "-f", str(sim.trace))
    document = json.loads(decoded.stdout)
    validate("decode", document)
    frames = document["frames"]
    assert len(frames) > 10
    assert any("result" in f for f in frames)
    assert any(t.get("value") == "###" for f in frames for t in f["tlvs"])  # the IMEI, redacted


def test_decode_errors_match_the_schema(start_sim):
    sim = start_sim()
    result = qcm(sim, "decode", "--json", "01 0c 00 00 02 01 00 01 00 22 00 00 00 ff ff ff ff ff ff")
    document = json.loads(result.stdout)
    assert any("error" in item for item in document["frames"])
    validate("decode", document)


def test_schemas_refuse_what_qcm_never_prints():
    module = {"usb_path": "1-1", "usb_id": "2c7c:0125"}  # most fields missing
    with pytest.raises(jsonschema.ValidationError):
        validate("list", {"schema_version": 1, "modules": [module]})
    with pytest.raises(jsonschema.ValidationError):
        validate("decode", {"schema_version": 1, "frames": [{"service": "WDS"}]})
    for name, bare in (("list", []), ("decode", [])):  # the bare arrays of before are no longer what they print
        with pytest.raises(jsonschema.ValidationError):
            validate(name, bare)
    with pytest.raises(jsonschema.ValidationError):  # several connections: each one a whole status
        validate("status", {"schema_version": 1, "connections": [{"netdev": "wwan0"}]})
    status = {"schema_version": 1, "bearers": [{"pdn": 1, "family": 4, "netdev": "wwan0", "state": "up"}]}
    with pytest.raises(jsonschema.ValidationError):  # up without an address, and every other field missing
        validate("status", status)


def test_at_usbnet_and_sim_ctl_outputs_match_their_schemas(start_sim):
    sim = start_sim("--scenario", "usbnet-ecm")
    at = qcm(sim, "at", "--json", "AT+CSQ", "AT+NOSUCH")
    assert at.returncode == 9, at.stderr  # one command failed
    document = json.loads(at.stdout)
    validate("at", document)
    assert [a["ok"] for a in document["answers"]] == [True, False] and document["answers"][0]["lines"]
    shown = qcm(sim, "usbnet", "--json")
    assert shown.returncode == 0, shown.stderr
    validate("usbnet", json.loads(shown.stdout))
    switched = qcm(sim, "usbnet", "--json", "qmi")
    assert switched.returncode == 0, switched.stderr
    document = json.loads(switched.stdout)
    validate("usbnet", document)
    assert document["mode"] == "ecm" and document["switched_to"] == "qmi" and document["back"]["mode"] == "qmi"
    for words in (["status"], ["drop"], ["nosuch"]):
        reply = qcm(sim, "sim", "ctl", str(sim.directory), *words, "--json")
        validate("sim-ctl", json.loads(reply.stdout))


def test_the_status_schema_lists_what_a_multipdn_status_carries():
    """parent (the PDN links' parent interface), proxy (how the control port is shared) and each bearer's apn
    came with several PDNs; the schema allows unlisted keys, so it must name them to document them."""
    from json_schemas import undeclared_status_keys

    document = {"schema_version": 1, "pid": 1, "netdev": "qmimux0", "parent": "wwan0", "proxy": "serving qmi-proxy",
                "bearers": [{"pdn": 2, "family": 4, "netdev": "qmimux1", "apn": "corp.example", "state": "down"}]}
    assert undeclared_status_keys(document) == {"connection": [], "bearer": []}
    definitions = load()["status"]["$defs"]
    assert definitions["connection"]["properties"]["parent"]["type"] == ["string", "null"]
    assert definitions["connection"]["properties"]["proxy"]["type"] == ["string", "null"]
    assert definitions["bearer"]["properties"]["apn"]["type"] == ["string", "null"]
