"""contrib/systemd/qcm-daemon.service runs qcm daemon as the installed qcm, as qcm@.service runs qcm connect:
a network provider that does not hold up the boot, restarted except after what no restart cures, stopped
within its bound, and sandboxed exactly as qcm@.service (systemd-analyze security 5.0 or below)."""

import configparser
import re
import subprocess
from pathlib import Path

import pytest

from test_systemd_unit import analyzer

SYSTEMD = Path(__file__).resolve().parents[2] / "contrib" / "systemd"
SANDBOX = ("CapabilityBoundingSet", "NoNewPrivileges", "ProtectSystem", "ReadWritePaths", "ProtectHome", "PrivateTmp",
           "PrivateMounts", "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "ProtectHostname",
           "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute",
           "RemoveIPC", "RestrictAddressFamilies", "SystemCallArchitectures", "SystemCallFilter",
           "SystemCallErrorNumber", "UMask", "RuntimeDirectory", "RuntimeDirectoryMode", "RuntimeDirectoryPreserve",
           "StateDirectory", "StateDirectoryMode", "KillMode", "NotifyAccess", "WatchdogSec", "Type")


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(SYSTEMD / name)
    return parser


def test_runs_the_installed_qcm_daemon():
    service = unit("qcm-daemon.service")["Service"]
    assert service["ExecStart"] == "/usr/bin/qcm daemon"
    assert "EnvironmentFile" not in service  # the secrets are in the 0600 configuration files, not in argv
    from qcm.errors import NotImplementedOption, PermissionProblem, UsageError
    prevented = {int(s) for s in service["RestartPreventExitStatus"].split()}
    assert {UsageError.exit_status, PermissionProblem.exit_status, NotImplementedOption.exit_status} <= prevented
    assert service["Restart"] == "on-failure" and int(service["TimeoutStopSec"]) > 15
    assert unit("qcm-daemon.service")["Install"]["WantedBy"] == "multi-user.target"


def test_ordered_and_sandboxed_as_the_per_interface_service():
    daemon, single = unit("qcm-daemon.service"), unit("qcm@.service")
    for key in ("After", "Before", "Wants"):
        assert daemon["Unit"][key] == single["Unit"][key], key
    for key in SANDBOX:
        assert daemon["Service"].get(key) == single["Service"].get(key), key


@pytest.mark.skipif(not analyzer(), reason="no systemd-analyze security --offline (systemd 250 or later)")
def test_systemd_analyze_security_score_at_most_5():
    result = subprocess.run([analyzer(), "security", "--offline=yes", "--no-pager", str(SYSTEMD / "qcm-daemon.service")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert score and float(score.group(1)) <= 5.0, result.stdout
    assert not re.search(r"Unknown (key|section)|Failed to parse", result.stderr), result.stderr
