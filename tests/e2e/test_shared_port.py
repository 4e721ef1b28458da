"""Sharing the QMI port on libqmi's qmi-proxy protocol, end to end, each run in its own network and
PID namespace (``session.py``): qmicli -p reading the modem through qcm's proxy while qcm holds
calls on two PDNs; qcm through libqmi's own qmi-proxy; and the quectel-CM way, one process per PDN
(``-n N -m N``), sharing the port through qmi-proxy, each PDN on its own interface."""

import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

SESSION = Path(__file__).with_name("session.py")
READER = Path(__file__).with_name("read_through_proxy.py")
APNS = """
[[apn]]
name = "internet"
[[apn]]
name = "corp.example"
host4 = "203.0.113.1"
host6 = "2001:db8:200::1"
"""


def run_session(lab, plan, timeout=150):
    argv = lab.ns.argv(["unshare", "-p", "-f", "--mount-proc", sys.executable, str(SESSION), json.dumps(plan)])
    import subprocess
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=lab.env)
    assert result.returncode == 0 and result.stdout.strip(), result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def start(lab_factory, tmp_path):
    scenario = tmp_path / "apns.toml"
    scenario.write_text(APNS)
    return lab_factory("--scenario", str(scenario))


def qmicli(lab, name, *args):
    return ["run", name, ["qmicli", "-p", "--device-open-qmi", "-d", lab.info["control_link"], *args]]


def ping(name, target, source=None):
    return ["run", name, ["ping", "-c", "2", "-i", "0.2", "-W", "2"] + (["-I", source] if source else []) + [target]]


def test_qmicli_reads_the_modem_through_qcms_proxy_while_qcm_holds_two_pdns(lab, tmp_path):
    lab = start(lab, tmp_path)
    qcm = [sys.executable, "-m", "qcm", *lab.connect_args("-4", "-6", "-s", "internet", "--pdn", "2:corp.example,ip=ipv4v6")]
    report = run_session(lab, [
        ["start", "qcm", qcm],
        ["connected", 1, 40],
        qmicli(lab, "ids", "--dms-get-ids"),
        qmicli(lab, "serving", "--nas-get-serving-system"),
        qmicli(lab, "wds", "--wds-get-packet-service-status"),
        ["run", "reader", [sys.executable, str(READER), lab.info["control_link"]]],
        ["status", "status"],
        ping("ping", "198.51.100.1"),
        ["ping_from", "corp", 2, 6, "2001:db8:200::1"],
        ["stop", "qcm"],
    ])
    assert report["connected"] == [True], report
    assert report["corp"]["status"] == 0, report["corp"]
    assert report["ids"]["status"] == 0 and "IMEI" in report["ids"]["output"], report["ids"]
    assert "Registration state: 'registered'" in report["serving"]["output"], report["serving"]
    assert report["wds"]["status"] == 0 and "disconnected" in report["wds"]["output"]  # its own WDS client
    read = json.loads(report["reader"]["output"])      # what qcm status or qcm doctor could read meanwhile
    assert read["model"] == "EC25" and read["through"] == "ProxyClientTransport" and "registered" in read["registration"]
    status = report["status"]["wwan0"]
    assert status["proxy"] == "serving qmi-proxy" and status["state"] == "connected"
    assert report["ping"]["status"] == 0          # qcm's calls kept passing traffic
    assert report["qcm"]["status"] == 0, report["qcm"]["output"]
    assert "serving" in report["qcm"]["output"]
    sim = lab.sim_status()
    assert sim["clients"] == {} and sim["calls"] == []   # qmicli released its clients, qcm its own


def test_qcm_through_libqmi_qmi_proxy(lab, tmp_path):
    lab = start(lab, tmp_path)
    qcm = [sys.executable, "-m", "qcm", *lab.connect_args("-4", "-s", "internet")]
    report = run_session(lab, [
        ["start", "proxy", ["/usr/libexec/qmi-proxy", "--no-exit"]],
        ["run", "wait", ["sh", "-c", "for i in $(seq 50); do grep -q '@qmi-proxy' /proc/net/unix && exit 0; "
                         "sleep 0.1; done; exit 1"]],
        ["start", "qcm", qcm],
        ["connected", 1, 40],
        ["status", "status"],
        qmicli(lab, "serving", "--nas-get-serving-system"),
        ping("ping", "198.51.100.1"),
        ["stop", "qcm"],
    ])
    assert report["wait"]["status"] == 0
    assert report["connected"] == [True], report
    assert report["status"]["wwan0"]["proxy"] == "through qmi-proxy"
    assert "Registration state: 'registered'" in report["serving"]["output"]
    assert report["ping"]["status"] == 0
    assert report["qcm"]["status"] == 0, report["qcm"]["output"]
    assert "sharing" in report["qcm"]["output"] and "through the qmi-proxy" in report["qcm"]["output"]
    assert lab.sim_status()["calls"] == []


def test_two_quectel_cm_processes_one_pdn_each(lab, tmp_path):
    lab = start(lab, tmp_path)
    before = lab.snapshot()
    first = ["quectel-CM", "-4", "-6", "-n", "1", "-m", "1", "-s", "internet"]
    second = ["quectel-CM", "-4", "-n", "2", "-m", "2", "-s", "corp.example"]
    report = run_session(lab, [
        ["start", "pdn1", first],
        ["connected", 1, 40],
        ["start", "pdn2", second],
        ["connected", 2, 40],
        ["status", "status"],
        ping("internet", "198.51.100.1"),
        ping("internet6", "2001:db8:100::1"),
        ["ping_from", "corp", 2, 4, "203.0.113.1"],
        ["ping_from", "corp_default", 1, 4, "203.0.113.1"],
        qmicli(lab, "qmicli", "--nas-get-serving-system"),
        ["run", "k2", ["quectel-CM", "-k", "2"]],
        ["connected", 1, 10],
        ping("still", "198.51.100.1"),
        ["stop", "pdn2"],
        ["stop", "pdn1"],
    ])
    assert report["connected"][:2] == [True, True], json.dumps(report, indent=1)[:4000]
    managers = report["status"]
    assert len(managers) == 2
    by_pdn = {s["profile"]: s for s in managers.values()}
    assert by_pdn[1]["netdev"] != by_pdn[2]["netdev"] and {by_pdn[1]["parent"], by_pdn[2]["parent"]} == {"wwan0"}
    assert {by_pdn[1]["proxy"], by_pdn[2]["proxy"]} == {"through qmi-proxy"}   # libqmi's, started by the first
    assert report["internet"]["status"] == 0 and report["internet6"]["status"] == 0
    assert report["corp"]["status"] == 0 and report["corp"]["source"]      # PDN 2 through its own link
    assert report["corp_default"]["status"] != 0     # PDN 1's link does not reach the corporate network
    assert "registered" in report["qmicli"]["output"]
    assert report["k2"]["status"] == 0 and report["still"]["status"] == 0   # -k 2 ended PDN 2 alone
    assert report["pdn2"]["status"] == 0, report["pdn2"]["output"]
    assert report["pdn1"]["status"] == 0, report["pdn1"]["output"]
    assert "mux id 0x81" in report["pdn1"]["output"] and "mux id 0x82" in report["pdn2"]["output"]
    assert lab.snapshot() == before
    assert lab.sim_status()["calls"] == [] and lab.sim_status()["mux_links"] == {}


def test_second_process_for_the_same_pdn_is_refused(lab, tmp_path):
    lab = start(lab, tmp_path)
    first = ["quectel-CM", "-n", "1", "-m", "1", "-s", "internet"]
    report = run_session(lab, [
        ["start", "pdn1", first],
        ["connected", 1, 40],
        ["run", "again", ["quectel-CM", "-n", "1", "-m", "1", "-s", "internet"]],
        ["run", "whole", [sys.executable, "-m", "qcm", *lab.connect_args("-s", "internet")]],
        ["stop", "pdn1"],
    ])
    assert report["again"]["status"] == 11 and "already dials PDN 1" in report["again"]["output"]
    assert report["whole"]["status"] == 11, report["whole"]["output"]
