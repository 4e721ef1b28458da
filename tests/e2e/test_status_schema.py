"""qcm status --json, from a running manager on the simulator, is what schemas/status.schema.json says:
connected (both families up), and while it still waits for the network (bearers down)."""

import json
import time

import pytest

from json_schemas import validate

pytestmark = pytest.mark.root


def status(lab):
    result = lab.qcm("status", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_status_while_connected_matches_the_schema(lab):
    lab = lab()
    process = lab.background(lab.qcm_argv(*lab.connect_args("-4", "-6", "-s", "internet")))
    lab.wait_connected(process)
    report = status(lab)
    validate("status", report)
    assert report["schema_version"] == 1
    assert [b["state"] for b in report["bearers"]] == ["up", "up"]


def test_status_while_waiting_matches_the_schema(lab):
    lab = lab("--registration", "searching")
    process = lab.background(lab.qcm_argv(*lab.connect_args("-s", "internet")))
    deadline = time.monotonic() + 30
    while not (lab.run_dir / "wwan0.sock").exists():
        assert process.poll() is None and time.monotonic() < deadline, lab.output(process)
        time.sleep(0.05)
    report = status(lab)
    validate("status", report)
    assert report["state"] != "connected" and all(b["state"] == "down" for b in report["bearers"])


def test_status_of_several_pdns_matches_the_schema_and_names_every_key(lab, tmp_path):
    """A real multi-PDN status: every key it carries is one the schema lists, and the human output names each
    bearer's link and APN and how the control port is shared."""
    from json_schemas import undeclared_status_keys

    scenario = tmp_path / "apns.toml"
    scenario.write_text('[[apn]]\nname = "internet"\n[[apn]]\nname = "corp.example"\nhost4 = "203.0.113.1"\n')
    lab = lab("--scenario", str(scenario))
    process = lab.background(lab.qcm_argv(*lab.connect_args("-4", "-s", "internet", "--pdn", "2:corp.example,ip=ipv4")))
    lab.wait_connected(process)
    report = status(lab)
    validate("status", report)
    assert report["parent"] == "wwan0" and report["proxy"] == "serving qmi-proxy"
    assert sorted(b["apn"] for b in report["bearers"]) == ["corp.example", "internet"]
    assert undeclared_status_keys(report) == {"connection": [], "bearer": []}
    text = lab.qcm("status")
    assert text.returncode == 0, text.stderr
    links = {b["apn"]: b["netdev"] for b in report["bearers"]}
    assert "  IPv4 (%s, APN internet): up " % links["internet"] in text.stdout
    assert "  PDN 2 IPv4 (%s, APN corp.example): up " % links["corp.example"] in text.stdout
    assert "serving qmi-proxy" in text.stdout and "  PDN links on: wwan0" in text.stdout
