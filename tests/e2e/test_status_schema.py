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
