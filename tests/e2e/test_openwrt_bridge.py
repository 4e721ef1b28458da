"""The OpenWrt path end to end, with the real qcm on the simulated modem: qcm-netifd runs
``qcm connect`` as netifd's handler asks, and qcm-hook reports through the netifd stand-in and ubus
(tests/openwrt) the addresses, routes and DNS qcm really got, again after the network drops the
call, link down when it is lost, and a SIM needing its PUK as an error that stops the retries."""

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, List

import pytest

pytestmark = pytest.mark.root

ROOT = Path(__file__).resolve().parents[2]
OPENWRT = ROOT / "contrib" / "openwrt"
STANDIN = ROOT / "tests" / "openwrt"


def start(lab, tmp: Path, *qcm_args: str) -> subprocess.Popen:
    (tmp / "netifd").mkdir()
    (tmp / "netifd" / "netifd-proto.sh").write_text((STANDIN / "netifd-proto.sh").read_text())
    env = dict(lab.env, PATH="%s:%s" % (STANDIN, lab.env["PATH"]), NETIFD_MAIN_DIR=str(tmp / "netifd"),
               NETIFD_RECORD=str(tmp / "netifd.record"), UBUS_RECORD=str(tmp / "ubus.record"),
               QCM_NETIFD_INTERFACE="wwan", QCM_NETIFD_DELEGATE="1")
    (tmp / "ubus.record").touch()
    # What the handler asks netifd to run (tests/unit/test_openwrt.py), with this checkout's qcm.
    qcm = [sys.executable, "-m", "qcm", "connect", "--dns", "none", "--no-default-route", *qcm_args]
    argv = [sys.executable, str(OPENWRT / "qcm-netifd"), str(OPENWRT / "qcm-hook"), *qcm]
    return lab.background(lab.ns.argv(argv), env=env)


def messages(tmp: Path) -> List[dict]:
    return [json.loads(line.split("\t")[3]) for line in (tmp / "ubus.record").read_text().splitlines()]


def wait_for(lab, process: subprocess.Popen, what: Callable[[], bool], timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, lab.output(process)
        time.sleep(0.05)


def test_reports_the_connection_at_every_reconnection(lab, tmp_path):
    lab = lab()
    process = start(lab, tmp_path, "-4", "-6", "-s", "internet", "--poll-interval", "5")
    updates = lambda: [m for m in messages(tmp_path) if m["action"] == 0]  # noqa: E731
    wait_for(lab, process, lambda: len(updates()) >= 1)
    up = updates()[0]
    status = json.loads(lab.qcm("status", "--json").stdout)
    addresses = {b["family"]: b for b in status["bearers"]}
    assert up["link-up"] is True and up["ifname"] == "wwan0" and up["interface"] == "wwan"
    assert up["ipaddr"][0]["ipaddr"] + "/" + up["ipaddr"][0]["mask"] == addresses[4]["address"]
    assert up["ip6addr"][0]["ipaddr"] + "/" + up["ip6addr"][0]["mask"] == addresses[6]["address"]
    assert up["routes"][0]["gateway"] == addresses[4]["gateway"] and up["routes"][0]["target"] == "0.0.0.0"
    assert up["dns"] == addresses[4]["dns"] + addresses[6]["dns"]
    # qcm added no default route and left DNS alone: netifd does both from the report.
    routes = json.loads(lab.ns.run(["ip", "-j", "route", "show", "default"]).stdout or "[]")
    assert routes == []

    subprocess.run([sys.executable, "-m", "qcm", "sim", "ctl", str(lab.modem_dir), "drop", "family=4"],
                   check=True, capture_output=True, env=lab.env, timeout=30)
    # IPv4 goes and comes back: an update without it, then one with it again.
    wait_for(lab, process, lambda: len(updates()) >= 3 and updates()[-1]["ipaddr"] != [])
    assert any(m["ipaddr"] == [] and m["ip6addr"] for m in updates()[1:])

    process.terminate()
    assert process.wait(30) == 0, lab.output(process)
    assert updates()[-1]["link-up"] is False
    assert not [m for m in messages(tmp_path) if m["action"] in (3, 4)]


def test_a_sim_needing_its_puk_stops_netifd_retrying(lab, tmp_path):
    lab = lab("--sim-state", "puk")
    process = start(lab, tmp_path, "-s", "internet")
    assert process.wait(60) == 4, lab.output(process)
    errors = [m for m in messages(tmp_path) if m["action"] in (3, 4)]
    assert errors == [{"action": 3, "error": ["SIM_ERROR"], "interface": "wwan"},
                      {"action": 4, "interface": "wwan"}]
