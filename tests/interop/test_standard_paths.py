"""Unmodified libqmi tools in AUTO mode against the simulator at the standard paths: qmicli without
--device-open-qmi, qmicli through libqmi's qmi-proxy, and qmi-network start/stop.

Each runs in the test's network namespace (qmi-proxy's abstract socket stays there), a private
mount namespace where the simulator's sysfs is /sys and its port /dev/cdc-wdm0, and a PID
namespace (qmi-proxy and anything else a tool leaves behind ends with it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]

HELPER = Path(__file__).with_name("standard_paths.py")


@pytest.fixture
def modem(lab):
    if os.geteuid() != 0:
        pytest.skip("mount and PID namespaces need root")
    return lab()


def at_standard_paths(lab, *commands: List[str], files: List[str] = (), timeout: float = 120) -> str:
    """Run commands (one after the other) with the lab's simulator at /sys and /dev/cdc-wdm0."""
    scratch = lab.tmp / ("scratch%d" % len(list(lab.tmp.glob("scratch*"))))
    scratch.mkdir()
    argv = ["unshare", "-m", "-p", "-f", "--mount-proc", "--propagation", "private", sys.executable, str(HELPER),
            str(lab.modem_dir), str(scratch), *files, "--"]
    for index, command in enumerate(commands):
        argv += (["--then"] if index else []) + list(command)
    result = subprocess.run(lab.ns.argv(argv), capture_output=True, text=True, timeout=timeout, env=lab.env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def test_qmicli_auto_mode(modem):
    out = at_standard_paths(modem, ["qmicli", "-d", "/dev/cdc-wdm0", "--dms-get-revision"],
                            ["qmicli", "-d", "/dev/cdc-wdm0", "--get-expected-data-format"])
    assert "Revision: 'EC25AFAR05A07M4G'" in out
    assert "802-3" in out  # qmi/raw_ip reads N: libqmi found the interface through the device link


def test_qmicli_through_qmi_proxy(modem):
    out = at_standard_paths(modem, ["qmicli", "-p", "-d", "/dev/cdc-wdm0", "--nas-get-serving-system"],
                            ["qmicli", "-p", "-d", "/dev/cdc-wdm0", "--dms-get-ids"])
    assert "Registration state: 'registered'" in out and "IMEI" in out


def test_qmi_network_start_and_stop(modem):
    out = at_standard_paths(modem, ["qmi-network", "--profile=/tmp/qmi-network.conf", "/dev/cdc-wdm0", "start"],
                            ["qmi-network", "--profile=/tmp/qmi-network.conf", "/dev/cdc-wdm0", "status"],
                            files=["/tmp/qmi-network.conf=APN=internet\\n"])
    assert "Network started successfully" in out and "Status: connected" in out, out
    status = modem.sim_status()
    assert len(status["calls"]) == 1 and status["host_raw_ip"] is True  # qmi-network matched the host to raw-ip
    # stop needs the state file start left in that namespace's /tmp: start again and stop in one go
    out = at_standard_paths(modem, ["qmi-network", "--profile=/tmp/qmi-network.conf", "/dev/cdc-wdm0", "start"],
                            ["qmi-network", "--profile=/tmp/qmi-network.conf", "/dev/cdc-wdm0", "stop"],
                            files=["/tmp/qmi-network.conf=APN=internet\\n"])
    assert "Network stopped successfully" in out, out
