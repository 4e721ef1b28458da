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
    assert set(schemas) == {"list", "status", "doctor", "decode"}
    for name, schema in schemas.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == "urn:qcm:schema:%s:1" % name
    for name in ("status", "doctor"):  # objects carry their version
        assert schemas[name]["properties"]["schema_version"] == {"const": 1}
        assert "schema_version" in schemas[name]["required"]


def test_list_doctor_and_decode_outputs_match_their_schemas(start_sim):
    sim = start_sim("--imei", "861234567890123", "--set", "host_raw_ip=false")
    listed = qcm(sim, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    modules = json.loads(listed.stdout)
    assert len(modules) == 1
    validate("list", modules)

    doctor = qcm(sim, "doctor", "--json", "--timeout", "2")
    assert doctor.returncode in (0, 1), doctor.stderr
    report = json.loads(doctor.stdout)
    validate("doctor", report)
    assert report["schema_version"] == 1 and report["findings"]  # raw_ip N is a finding

    sim.stop()  # the trace now holds the doctor's whole exchange
    decoded = qcm(sim, "decode", "--json", "-f", str(sim.trace))
    frames = json.loads(decoded.stdout)
    assert len(frames) > 10
    validate("decode", frames)
    assert any("result" in f for f in frames)
    assert any(t.get("value") == "###" for f in frames for t in f["tlvs"])  # the IMEI, redacted


def test_decode_errors_match_the_schema(start_sim):
    sim = start_sim()
    result = qcm(sim, "decode", "--json", "01 0c 00 00 02 01 00 01 00 22 00 00 00 ff ff ff ff ff ff")
    items = json.loads(result.stdout)
    assert any("error" in item for item in items)
    validate("decode", items)


def test_schemas_refuse_what_qcm_never_prints():
    module = {"usb_path": "1-1", "usb_id": "2c7c:0125"}  # most fields missing
    with pytest.raises(jsonschema.ValidationError):
        validate("list", [module])
    with pytest.raises(jsonschema.ValidationError):
        validate("decode", [{"service": "WDS"}])
    status = {"schema_version": 1, "bearers": [{"pdn": 1, "family": 4, "netdev": "wwan0", "state": "up"}]}
    with pytest.raises(jsonschema.ValidationError):  # up without an address, and every other field missing
        validate("status", status)
