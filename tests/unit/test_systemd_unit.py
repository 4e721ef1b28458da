"""The shipped systemd unit asks for what qcm provides: notify, watchdog, restart, bounded stop."""

import configparser
from pathlib import Path

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "qcm@.service"


def test_unit():
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(UNIT)
    service = parser["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert service["Restart"] == "on-failure" and int(service["WatchdogSec"]) >= 10
    # A restart must never send a rejected PIN again, nor retry what only a person can fix.
    from qcm.errors import NotImplementedOption, PermissionProblem, SimError, UsageError
    prevented = {int(status) for status in service["RestartPreventExitStatus"].split()}
    assert {SimError.exit_status, UsageError.exit_status, PermissionProblem.exit_status,
            NotImplementedOption.exit_status} <= prevented
    assert "qcm connect -i %I" in service["ExecStart"] and "--once" not in service["ExecStart"]
    assert int(service["TimeoutStopSec"]) > 15  # qcm's own teardown bound is 15 s
    assert service["RuntimeDirectory"] == "qcm" and service["RuntimeDirectoryMode"] == "0700"
    assert service["RuntimeDirectoryPreserve"] == "yes"  # shared by every instance
    assert service["TimeoutStartSec"] == "infinity"  # READY waits for a connection, which may take long
    assert parser["Install"]["WantedBy"] == "multi-user.target"
