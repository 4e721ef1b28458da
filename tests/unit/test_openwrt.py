"""The OpenWrt netifd handler (contrib/openwrt/qcm.sh), its hook (qcm-hook) and qcm-netifd, run by
/bin/sh (dash) against a recording stand-in for netifd's shell library and ubus (tests/openwrt):
the options it declares, the qcm command netifd is asked to supervise (secrets in its environment,
not its arguments), the addresses, routes and DNS reported at every (re)connection, SIM and PIN
faults that stop netifd's retries."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
OPENWRT = ROOT / "contrib" / "openwrt"
STANDIN = ROOT / "tests" / "openwrt"
SH = shutil.which("dash") or "/bin/sh"


class Netifd:
    """A directory laid out as /lib/netifd: proto/qcm.sh, the stand-in library, the hook."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "netifd"
        (self.dir / "proto").mkdir(parents=True)
        shutil.copy(OPENWRT / "qcm.sh", self.dir / "proto" / "qcm.sh")
        shutil.copy(STANDIN / "netifd-proto.sh", self.dir / "netifd-proto.sh")
        self.record = tmp / "netifd.record"
        self.ubus = tmp / "ubus.record"
        self.record.touch()
        self.ubus.touch()

    def env(self, **extra: str) -> Dict[str, str]:
        return dict(PATH="%s:/usr/bin:/bin" % STANDIN, NETIFD_RECORD=str(self.record),
                    UBUS_RECORD=str(self.ubus), NETIFD_MAIN_DIR=str(self.dir), **extra)

    def handler(self, *args: str, **config: str) -> subprocess.CompletedProcess:
        env = self.env(**{"CFG_" + key: value for key, value in config.items()})
        return subprocess.run([SH, "./qcm.sh", *args], cwd=str(self.dir / "proto"), env=env,
                              capture_output=True, text=True, timeout=30)

    def hook(self, event: str, **variables: str) -> subprocess.CompletedProcess:
        env = self.env(QCM_NETIFD_INTERFACE="wwan", **variables)
        return subprocess.run([SH, str(OPENWRT / "qcm-hook"), event], env=env, capture_output=True, text=True,
                              timeout=30)

    def calls(self) -> List[List[str]]:
        return [line.split("\t") for line in self.record.read_text().splitlines()]

    def messages(self) -> List[dict]:
        """The notify_proto messages ubus was asked to send, decoded."""
        out = []
        for line in self.ubus.read_text().splitlines():
            words = line.split("\t")
            assert words[:3] == ["call", "network.interface", "notify_proto"], words
            out.append(json.loads(words[3]))
        return out


@pytest.fixture
def netifd(tmp_path) -> Netifd:
    return Netifd(tmp_path)


def test_declares_its_options(netifd):
    result = netifd.handler("", "dump")
    assert result.returncode == 0, result.stderr
    calls = netifd.calls()
    declared = {call[1] for call in calls if call[0].startswith("proto_config_add_") and len(call) > 1}
    assert {"apn", "auth", "username", "password", "pincode", "pdptype", "profile", "device",
            "delegate"} <= declared
    assert ["proto_config_add_int", "profile"] in calls
    assert ["proto_config_add_defaults"] in calls  # defaultroute, peerdns, metric
    assert ["add_protocol", "qcm", "available=1", "no_device=1"] in calls


def run_command(netifd: Netifd) -> List[str]:
    (call,) = [c for c in netifd.calls() if c[0] == "proto_run_command"]
    return call[1:]


def test_setup_asks_netifd_to_supervise_qcm(netifd):
    result = netifd.handler("qcm", "setup", "wwan", "{}", "", apn="internet", pdptype="ipv4v6",
                            pincode="0123", username="bob", password="hunter2", auth="chap", profile="3",
                            device="/dev/cdc-wdm0")
    assert result.returncode == 0, result.stderr
    assert run_command(netifd) == ["wwan", "/lib/netifd/qcm-netifd", "/lib/netifd/qcm-hook",
                                   "qcm", "connect", "--dns", "none", "--no-default-route",
                                   "--control", "/dev/cdc-wdm0", "-4", "-6", "-s", "internet",
                                   "--auth", "chap", "-n", "3"]
    exported = [c[1] for c in netifd.calls() if c[0] == "proto_export"]
    assert exported == ["QCM_PIN=0123", "QCM_APN_USER=bob", "QCM_APN_PASSWORD=hunter2",
                        "QCM_NETIFD_INTERFACE=wwan", "QCM_NETIFD_DELEGATE=1"]
    (message,) = netifd.messages()
    assert message["action"] == 1 and message["interface"] == "wwan"
    assert message["command"] == run_command(netifd)[1:] and "QCM_PIN=0123" in message["env"]
    for secret in ("0123", "bob", "hunter2"):  # ps would show the arguments to every local user
        assert secret not in " ".join(message["command"])


@pytest.mark.parametrize("device, options", [
    ("", []), ("1-1.2", ["--usb-path", "1-1.2"]), ("/sys/bus/usb/devices/1-1.2", ["--usb-path", "1-1.2"]),
    ("/sys/devices/platform/soc/usb1/1-1/1-1:1.4/", ["--usb-path", "1-1"]), ("wwan0", ["-i", "wwan0"]),
    ("/sys/class/net/wwan1", ["-i", "wwan1"]), ("/dev/wwan0qmi0", ["--control", "/dev/wwan0qmi0"])])
def test_device_option_picks_the_module(netifd, device, options):
    result = netifd.handler("qcm", "setup", "wwan", "{}", "", device=device)
    assert result.returncode == 0, result.stderr
    command = run_command(netifd)
    start = command.index("--no-default-route") + 1
    assert command[start:start + len(options)] == options
    assert command[start + len(options)] == "-4"  # IPv4 when no pdptype is given


@pytest.mark.parametrize("config, error", [({"pdptype": "ipx"}, "INVALID_PDPTYPE"),
                                           ({"device": "/dev/cdc-wdm0; reboot"}, "INVALID_DEVICE")])
def test_bad_options_stop_the_retries(netifd, config, error):
    result = netifd.handler("qcm", "setup", "wwan", "{}", "", **config)
    assert result.returncode != 0
    calls = netifd.calls()
    assert ["proto_notify_error", "wwan", error] in calls and ["proto_block_restart", "wwan"] in calls
    assert not [c for c in calls if c[0] == "proto_run_command"]


def test_teardown_sends_sigterm(netifd):
    result = netifd.handler("qcm", "teardown", "wwan", "{}", "wwan0")
    assert result.returncode == 0, result.stderr
    assert netifd.calls() == [["proto_kill_command", "wwan", "15"]]
    assert netifd.messages() == [{"action": 2, "signal": 15, "interface": "wwan"}]


UP = dict(QCM_NETDEV="wwan0", QCM_MTU="1500", QCM_IPV4_ADDRESS="100.64.0.2", QCM_IPV4_PREFIXLEN="30",
          QCM_IPV4_GATEWAY="100.64.0.1", QCM_IPV4_DNS="198.51.100.53 198.51.100.54",
          QCM_IPV6_ADDRESS="2001:db8:4000:1::2", QCM_IPV6_PREFIXLEN="64",
          QCM_IPV6_PREFIX="2001:db8:4000:1::/64", QCM_IPV6_GATEWAY="2001:db8:4000:1::1",
          QCM_IPV6_DNS="2001:db8:100::53", QCM_NETIFD_DELEGATE="1")


def test_hook_reports_addresses_routes_and_dns(netifd):
    result = netifd.hook("up", **UP)
    assert result.returncode == 0, result.stderr
    (message,) = netifd.messages()
    assert message["action"] == 0 and message["interface"] == "wwan" and message["ifname"] == "wwan0"
    assert message["link-up"] is True
    assert message["ipaddr"] == [{"ipaddr": "100.64.0.2", "mask": "30"}]
    assert message["ip6addr"] == [{"ipaddr": "2001:db8:4000:1::2", "mask": "64"}]
    assert message["routes"] == [{"target": "0.0.0.0", "netmask": "0", "gateway": "100.64.0.1",
                                  "source": "100.64.0.2"}]
    assert message["routes6"] == [{"target": "::", "netmask": "0", "gateway": "2001:db8:4000:1::1",
                                   "source": "2001:db8:4000:1::2/64"}]
    assert message["ip6prefix"] == ["2001:db8:4000:1::/64"]
    assert message["dns"] == ["198.51.100.53", "198.51.100.54", "2001:db8:100::53"]


def test_hook_reports_one_family_and_no_delegation(netifd):
    up = {k: v for k, v in UP.items() if not k.startswith("QCM_IPV4_")}
    netifd.hook("up", **dict(up, QCM_NETIFD_DELEGATE="0"))
    (message,) = netifd.messages()
    assert message["ipaddr"] == [] and message["routes"] == [] and message["ip6prefix"] == []
    assert message["dns"] == ["2001:db8:100::53"]


def test_hook_reports_a_lost_connection(netifd):
    netifd.hook("down", QCM_NETDEV="wwan0")
    (message,) = netifd.messages()
    assert message["link-up"] is False and message["ifname"] == "wwan0" and message["ipaddr"] == []


@pytest.mark.parametrize("status, error, blocked", [
    ("4", "SIM_ERROR", True), ("2", "INVALID_OPTIONS", True), ("10", "PERMISSION_DENIED", True),
    ("12", "NOT_IMPLEMENTED", True), ("7", "CALL_FAILED", False), ("9", "MODEM_ERROR", False),
    ("3", "NO_DEVICE", False), ("70", "INTERNAL_ERROR", False)])
def test_hook_turns_exit_statuses_into_errors(netifd, status, error, blocked):
    result = netifd.hook("exit", QCM_EXIT_STATUS=status, QCM_ERROR="qcm: the PIN was rejected")
    assert result.returncode == 0, result.stderr
    calls = netifd.calls()
    assert calls[0] == ["proto_notify_error", "wwan", error]
    assert (["proto_block_restart", "wwan"] in calls) == blocked


def test_hook_says_nothing_after_a_clean_stop(netifd):
    netifd.hook("exit", QCM_EXIT_STATUS="0")
    assert netifd.calls() == [] and netifd.messages() == []


# ---------------------------------------------------------------- qcm-netifd

def bearer(family: int, address: str, gateway: str, dns: List[str]) -> dict:
    return {"pdn": 1, "family": family, "netdev": "wwan0", "state": "up", "address": address,
            "gateway": gateway, "dns": dns, "mtu": 1500, "up_for": 1.0}


def bridge(netifd: Netifd, tmp: Path, phases: List[dict], exit_status: int,
           terminate_once_up: bool = False) -> subprocess.CompletedProcess:
    """qcm-netifd running the fake qcm through ``phases``; with ``terminate_once_up``, SIGTERM once the
    hook has reported the connection up (as netifd's proto_kill_command does)."""
    env = netifd.env(QCM_RUN_DIR=str(tmp / "run"), QCM_NETIFD_INTERFACE="wwan", QCM_NETIFD_DELEGATE="1")
    argv = [sys.executable, str(OPENWRT / "qcm-netifd"), str(OPENWRT / "qcm-hook"),
            sys.executable, str(STANDIN / "fake_qcm.py"), json.dumps(phases), str(exit_status)]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        if terminate_once_up:
            deadline = time.monotonic() + 30
            while not [m for m in netifd.messages() if m["action"] == 0] and time.monotonic() < deadline:
                time.sleep(0.02)
            process.terminate()
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(argv, process.returncode, out, "")


def test_bridge_reports_every_reconnection_and_the_exit(netifd, tmp_path):
    first = [bearer(4, "100.64.0.2/30", "100.64.0.1", ["198.51.100.53"])]
    second = [bearer(4, "100.64.0.6/30", "100.64.0.5", ["198.51.100.53"])]
    down = [{"pdn": 1, "family": 4, "netdev": "wwan0", "state": "down"}]
    phases = [{"state": "connecting"}, {"state": "connected", "bearers": first},
              {"state": "connecting", "bearers": down}, {"state": "connected", "bearers": second}]
    result = bridge(netifd, tmp_path, phases, 4)
    assert result.returncode == 4, result.stdout + result.stderr
    assert "qcm: the last words before exit 4" in result.stdout  # qcm's output goes through to netifd
    updates = [m for m in netifd.messages() if m["action"] == 0]
    assert [(m["link-up"], [a["ipaddr"] for a in m["ipaddr"]]) for m in updates] == [
        (True, ["100.64.0.2"]), (False, []), (True, ["100.64.0.6"]), (False, [])]
    assert updates[2]["routes"][0]["gateway"] == "100.64.0.5"
    errors = [m for m in netifd.messages() if m["action"] in (3, 4)]
    assert errors == [{"action": 3, "error": ["SIM_ERROR"], "interface": "wwan"},
                      {"action": 4, "interface": "wwan"}]


def test_bridge_passes_sigterm_to_qcm_and_ends_cleanly(netifd, tmp_path):
    phases = [{"state": "connected", "bearers": [bearer(6, "2001:db8:4000:1::2/64", "2001:db8:4000:1::1",
                                                        ["2001:db8:100::53"])]}]
    result = bridge(netifd, tmp_path, phases, -1, terminate_once_up=True)
    assert result.returncode == 0, result.stdout
    assert "stopped by SIGTERM" in result.stdout
    updates = [m for m in netifd.messages() if m["action"] == 0]
    assert [m["link-up"] for m in updates] == [True, False]
    assert updates[0]["ip6prefix"] == ["2001:db8:4000:1::/64"]
    assert not [m for m in netifd.messages() if m["action"] in (3, 4)]  # a clean stop is no error


def test_bridge_refuses_to_run_without_a_command():
    result = subprocess.run([sys.executable, str(OPENWRT / "qcm-netifd")], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2 and "usage" in result.stderr


def test_scripts_are_posix_shell():
    for script in (OPENWRT / "qcm.sh", OPENWRT / "qcm-hook", STANDIN / "netifd-proto.sh"):
        result = subprocess.run([SH, "-n", str(script)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
    assert os.access(OPENWRT / "qcm-netifd", os.X_OK) and os.access(OPENWRT / "qcm-hook", os.X_OK)
