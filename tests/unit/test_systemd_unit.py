"""The shipped systemd unit asks for what qcm provides (watchdog, STATUS, restart, bounded stop), runs
the installed qcm, orders itself as a network provider without holding up the boot, and is
sandboxed (systemd-analyze security 5.0 or below) without taking away what qcm needs."""

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "qcm@.service"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(UNIT)
    return parser


def values(section: configparser.SectionProxy, key: str) -> list:
    return section.get(key, "").split()


def test_unit():
    service = unit()["Service"]
    assert service["NotifyAccess"] == "main"  # STATUS lines and the watchdog come from qcm's main process
    assert service["Restart"] == "on-failure" and int(service["WatchdogSec"]) >= 10
    # A restart must never send a rejected PIN again, nor retry what only a person can fix.
    from qcm.errors import NotImplementedOption, PermissionProblem, SimError, UsageError
    prevented = {int(status) for status in service["RestartPreventExitStatus"].split()}
    assert {SimError.exit_status, UsageError.exit_status, PermissionProblem.exit_status,
            NotImplementedOption.exit_status} <= prevented
    assert "--once" not in service["ExecStart"]
    assert int(service["TimeoutStopSec"]) > 15  # qcm's own teardown bound is 15 s
    assert service["RuntimeDirectory"] == "qcm" and service["RuntimeDirectoryMode"] == "0700"
    assert service["RuntimeDirectoryPreserve"] == "yes"  # shared by every instance
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_runs_the_installed_qcm_on_the_raw_instance_name():
    exec_start = unit()["Service"]["ExecStart"]
    assert exec_start.split()[0] == "/usr/bin/qcm"  # where the Debian package puts it
    # %I unescapes '-' to '/': an interface named wwan-lte would become "wwan/lte".
    assert "connect -i %i " in exec_start and "%I" not in exec_start
    assert unit()["Service"]["EnvironmentFile"] == "-/etc/qcm/%i.conf"


def test_network_provider_that_does_not_hold_up_the_boot():
    section, service = unit()["Unit"], unit()["Service"]
    assert "network.target" in values(section, "Before") and "network.target" in values(section, "Wants")
    assert "network-pre.target" in values(section, "After")
    assert "network-pre.target" not in values(section, "Wants")  # pulled in by firewalls, not by providers
    assert "network-online.target" not in values(section, "Before") + values(section, "Wants")
    # Ordered before network.target, a start job that lasts until a connection (Type=notify: READY
    # once connected) would hold up network.target and everything after it for as long as there is
    # no coverage: the service counts as started once qcm runs.
    assert service["Type"] in ("exec", "simple")
    assert service.get("TimeoutStartSec", "") != "infinity"


def test_keeps_what_qcm_needs():
    service = unit()["Service"]
    caps = set(values(service, "CapabilityBoundingSet"))
    assert {"CAP_NET_ADMIN", "CAP_NET_RAW"} <= caps  # netlink configuration; raw ICMP probes
    assert "CAP_SYS_ADMIN" not in caps
    families = set(values(service, "RestrictAddressFamilies"))
    assert {"AF_UNIX", "AF_NETLINK", "AF_INET", "AF_INET6", "AF_PACKET"} <= families
    assert service.get("PrivateDevices", "no") == "no"  # /dev/cdc-wdm*, /dev/ttyUSB*
    assert "DeviceAllow" not in service and service.get("ProtectClock", "no") == "no"  # an implied device ACL
    assert service.get("ProtectKernelTunables", "no") == "no"  # qmi/raw_ip, driver bind/unbind
    assert service.get("PrivateNetwork", "no") == "no"
    writable = [path.lstrip("-") for path in values(service, "ReadWritePaths")]
    assert "/sys/devices" in writable and "/sys/bus/usb/drivers" in writable
    assert "/etc" in writable or "/etc/resolv.conf" in writable
    assert "/run/resolvconf" in writable
    assert service["StateDirectory"] == "qcm"  # /var/lib/qcm: the record of rejected PINs
    assert service["ProtectSystem"] == "strict" and service["NoNewPrivileges"] == "yes"


def analyzer() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        return ""
    probe = subprocess.run([path, "security", "--help"], capture_output=True, text=True, timeout=30)
    return path if "--offline" in probe.stdout else ""


@pytest.mark.skipif(not analyzer(), reason="no systemd-analyze security --offline (systemd 250 or later)")
def test_systemd_analyze_security_score_at_most_5(tmp_path):
    result = subprocess.run([analyzer(), "security", "--offline=yes", "--no-pager", str(UNIT)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert score, result.stdout
    assert float(score.group(1)) <= 5.0, result.stdout
    # A directive systemd does not know would be ignored silently at run time.
    assert not re.search(r"Unknown (key|section)|Failed to parse", result.stderr), result.stderr
