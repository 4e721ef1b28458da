"""qcm doctor next to a running qcm: the manager holding the control port is not a culprit, and the
doctor reads the module through the qmi-proxy socket the manager serves (without it, from the
manager's status)."""

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
    assert not any("control port" in p for p in report["not_examined"])  # read through the proxy
    assert lab.ping("198.51.100.1")  # the doctor took nothing from the running connection


def test_doctor_uses_the_managers_status_when_it_serves_no_proxy(lab):
    lab = lab()
    manager = lab.background(lab.qcm_argv(*lab.connect_args("-s", "internet", "--no-proxy")))
    lab.wait_connected(manager)
    report = json.loads(lab.qcm("doctor", "--json", timeout=30).stdout)
    assert report["findings"] == [], report
    assert any("a qcm manager holds the control port" in p for p in report["not_examined"])
    assert lab.ping("198.51.100.1")
