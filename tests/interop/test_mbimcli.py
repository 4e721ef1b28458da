"""Unmodified libmbim tools against the simulator in MBIM mode: mbimcli on the control port given
with -d, mbimcli in AUTO mode with the simulator at the standard paths (/sys, /dev/cdc-wdm0, in a
private mount and PID namespace), and mbimcli -p through libmbim's mbim-proxy next to a qcm that
holds the call through the same proxy.

Every program that may spawn or signal others (mbim-proxy, mbimcli -p, which starts the proxy)
runs in its own PID namespace, and the proxy's abstract socket stays in the test's network
namespace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

pytestmark = [pytest.mark.interop]

HELPER = Path(__file__).with_name("standard_paths.py")
PROXY = "/usr/libexec/mbim-proxy"
V4 = "198.51.100.1"


def mbimcli(port: str, *args: str, timeout: float = 30, check: bool = True) -> str:
    result = subprocess.run(["mbimcli", "-d", port, *args], capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise AssertionError("mbimcli %s failed (%d): %s" % (" ".join(args), result.returncode, output))
    return output


@pytest.fixture
def mbim_sim(start_sim):
    return start_sim("--set", "usbnet=mbim", "--set", "mbim_max_transfer=256")


def test_caps_subscriber_registration_and_packet_service(mbim_sim):
    port = mbim_sim.control
    caps = mbimcli(port, "--query-device-caps")
    assert "Device ID: '866758045439136'" in caps and "Firmware info: 'EC25AFAR05A07M4G'" in caps
    ready = mbimcli(port, "--query-subscriber-ready-status")
    assert "Ready state: 'initialized'" in ready and "Subscriber ID: '302720123456789'" in ready
    register = mbimcli(port, "--query-registration-state")
    assert "Register state: 'home'" in register and "Provider name: 'Rogers'" in register
    attach = mbimcli(port, "--attach-packet-service")
    assert "Packet service state: 'attached'" in attach
    services = mbimcli(port, "--query-device-services")  # over 256 bytes: the answer comes in fragments
    assert "ms-basic-connect-extensions" in services and "quectel" in services


def test_connect_ip_configuration_and_disconnect(mbim_sim):
    port = mbim_sim.control
    connected = mbimcli(port, "--connect=apn=internet,ip-type=ipv4v6", "--no-close")
    assert "Successfully connected" in connected or "connected" in connected.lower(), connected
    config = mbimcli(port, "--query-ip-configuration=0")
    assert "IP [0]: '100.64.0.2/30'" in config and "Gateway: '100.64.0.1'" in config, config
    assert "DNS [0]: '198.51.100.53'" in config and "MTU: '1500'" in config
    assert "2001:db8:4000:" in config
    disconnected = mbimcli(port, "--disconnect=0")
    assert "Successfully disconnected" in disconnected or "disconnected" in disconnected.lower(), disconnected
    assert "ContextNotActivated" in mbimcli(port, "--query-ip-configuration=0", check=False)


def test_a_wrong_apn_is_refused_with_its_status(mbim_sim):
    out = mbimcli(mbim_sim.control, "--connect=apn=nope", check=False)
    assert "InvalidAccessString" in out, out


# ---------------------------------------------------------------------- at the standard paths, and the proxy

@pytest.fixture
def lab_mbim(lab):
    if os.geteuid() != 0:
        pytest.skip("mount and PID namespaces need root")
    return lab("--set", "usbnet=mbim", "--set", "wwan_ports=true")


def at_standard_paths(lab, *commands: List[str], timeout: float = 120) -> str:
    """Commands (one after the other) with the lab's simulator at /sys and /dev/cdc-wdm0, in a private
    mount namespace and a PID namespace (mbim-proxy, if a tool starts it, ends with it)."""
    scratch = lab.tmp / ("scratch%d" % len(list(lab.tmp.glob("scratch*"))))
    scratch.mkdir()
    argv = ["unshare", "-m", "-p", "-f", "--mount-proc", "--propagation", "private", sys.executable, str(HELPER),
            str(lab.modem_dir), str(scratch), "--"]
    for index, command in enumerate(commands):
        argv += (["--then"] if index else []) + list(command)
    result = subprocess.run(lab.ns.argv(argv), capture_output=True, text=True, timeout=timeout, env=lab.env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.mark.root
def test_auto_mode_reads_the_descriptor_and_works(lab_mbim):
    out = at_standard_paths(lab_mbim, ["mbimcli", "-d", "/dev/cdc-wdm0", "--query-device-caps", "-v"],
                            ["mbimcli", "-d", "/dev/cdc-wdm0", "--query-registration-state"],
                            ["mbimcli", "-d", "/dev/wwan0mbim0", "--query-subscriber-ready-status"])
    assert "read max control message size from descriptors file: 4096" in out  # found through /sys
    assert "Device ID: '866758045439136'" in out and "Register state: 'home'" in out
    assert "Ready state: 'initialized'" in out  # the WWAN name is the same port


@pytest.mark.root
def test_mbimcli_through_mbim_proxy_at_the_standard_paths(lab_mbim):
    out = at_standard_paths(lab_mbim, ["mbimcli", "-p", "-d", "/dev/cdc-wdm0", "--query-device-caps"],
                            ["mbimcli", "-p", "-d", "/dev/cdc-wdm0", "--query-packet-service-state"])
    assert "Device ID: '866758045439136'" in out and "Packet service state: 'attached'" in out


def proxy_session(lab, proxy: bool, qcm_args: List[str], mbimcli: List[List[str]]) -> dict:
    """qcm, mbim-proxy and mbimcli -p in one PID namespace (the proxy serves clients of its own
    namespace only), in the lab's network namespace; see proxy_session.py."""
    plan = {"proxy": proxy, "qcm": lab.connect_args(*qcm_args)[1:], "mbimcli": mbimcli, "ping": V4, "timeout": 30}
    result = subprocess.run(lab.ns.argv(["unshare", "-p", "-f", "--mount-proc", sys.executable,
                                         str(Path(__file__).with_name("proxy_session.py")), json.dumps(plan)]),
                            capture_output=True, text=True, timeout=120, env=lab.env)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.root
def test_mbimcli_p_alongside_a_connected_qcm(lab_mbim):
    lab = lab_mbim
    control = str(lab.modem_dir / "dev" / "cdc-wdm0")
    report = proxy_session(lab, True, ["-4", "-s", "internet"],  # the proxy runs: qcm goes through it by itself
                           [["-d", control, "--query-registration-state"], ["-d", control, "--query-ip-configuration=0"],
                            ["-d", control, "--query-signal-state"]])
    assert report["proxy_started"] and report["connected"], report
    assert "sharing %s through mbim-proxy" % control in report["qcm_output"]
    assert [r["status"] for r in report["mbimcli"]] == [0, 0, 0], report["mbimcli"]
    assert "Register state: 'home'" in report["mbimcli"][0]["output"]
    assert "IP [0]: '100.64.0.2/30'" in report["mbimcli"][1]["output"]  # the session qcm holds, seen by another client
    assert report["ping"] and report["still_connected"] and report["qcm_status"] == 0, report["qcm_output"]
    status = lab.sim_status()
    assert status["calls"] == [] and status["mbim"]["version"] == 3  # qcm agreed MBIMEx 3.0 through the proxy


@pytest.mark.root
def test_qcm_starts_the_proxy_when_asked(lab_mbim):
    """--proxy with no proxy running: qcm starts /usr/libexec/mbim-proxy, and mbimcli -p finds it."""
    lab = lab_mbim
    control = str(lab.modem_dir / "dev" / "cdc-wdm0")
    report = proxy_session(lab, False, ["-4", "-s", "internet", "--proxy"], [["-d", control, "--query-device-caps"]])
    assert report["connected"] and report["ping"], report
    assert "started /usr/libexec/mbim-proxy" in report["qcm_output"], report["qcm_output"]
    assert "Device ID: '866758045439136'" in report["mbimcli"][0]["output"], report["mbimcli"]
    assert report["qcm_status"] == 0


@pytest.mark.root
def test_no_proxy_opens_the_port_directly(lab_mbim):
    lab = lab_mbim
    report = proxy_session(lab, True, ["-4", "-s", "internet", "--no-proxy"], [])
    assert report["connected"] and report["ping"] and "through mbim-proxy" not in report["qcm_output"], report
