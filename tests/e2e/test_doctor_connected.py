"""qcm doctor next to a running qcm: the manager holding the control port is not a culprit."""

import json

import pytest

pytestmark = pytest.mark.root


def test_doctor_beside_a_connected_manager_finds_nothing(lab):
    lab = lab()
    manager = lab.background(lab.qcm_argv(*lab.connect_args("-s", "internet")))
    lab.wait_connected(manager)
    result = lab.qcm("doctor", "--json", timeout=30)
    report = json.loads(result.stdout)
    assert report["findings"] == [] and result.returncode == 0, result.stdout
    assert report["summary"]["qcm"] == "pid %d, connected" % manager.pid
    assert report["summary"]["firmware"] == "EC25AFAR05A07M4G" and report["summary"]["sim"] == "ready"
    assert "registered on Rogers" in report["summary"]["network"]
    assert any("a qcm manager holds the control port" in p for p in report["not_examined"])
    assert lab.ping("198.51.100.1")  # the doctor took nothing from the running connection
