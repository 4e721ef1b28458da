"""--inhibit-modemmanager against a stand-in ModemManager on a private bus (never the host's): without it
qcm stops with exit 11 and offers it; with it qcm asks InhibitDevice over D-Bus (as libdbus's dbus-monitor
decodes it), connects once the ports are let go, keeps the inhibition while it runs and gives the module
back when it stops, or when it dies."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dbus_lab import PrivateBus
from netns import stop_process

pytestmark = [pytest.mark.root,
              pytest.mark.skipif(not (shutil.which("dbus-daemon") and shutil.which("dbus-monitor")
                                      and shutil.which("busctl")),
                                 reason="needs Debian's dbus (dbus-daemon, dbus-monitor) and systemd's busctl")]

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def bus(tmp_path):
    started = PrivateBus(tmp_path / "dbus")
    yield started
    started.stop()


def start_modemmanager(lab, bus):
    uid = os.path.realpath(lab.modem_dir / "sys" / "bus" / "usb" / "devices" / "1-1.2")
    log = lab.tmp / "mm.log"
    process = lab.background([sys.executable, str(TESTS / "fake_modemmanager.py"), bus.address, uid, str(log),
                              lab.info["control_link"], lab.info["at_port"]])
    deadline = time.monotonic() + 10
    while "ready" not in (log.read_text() if log.exists() else ""):
        assert process.poll() is None and time.monotonic() < deadline, lab.output(process)
        time.sleep(0.05)
    return process, log, uid


def wait_line(log, text, timeout=15):
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def test_qcm_asks_modemmanager_to_let_go_and_gives_the_module_back(lab, bus):
    lab = lab()
    modemmanager, log, uid = start_modemmanager(lab, bus)
    env = bus.env(lab.env)
    refused = subprocess.run(lab.qcm_argv(*lab.connect_args("--once", "-s", "internet")), env=env,
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 11 and "ModemManager (pid" in refused.stderr
    assert "--inhibit-modemmanager" in refused.stderr and "Traceback" not in refused.stderr
    monitor_log = lab.tmp / "monitor.log"
    bus.monitor(monitor_log, "interface='org.freedesktop.ModemManager1'")
    manager = lab.background(lab.qcm_argv(*lab.connect_args("-s", "internet", "--inhibit-modemmanager")), env=env)
    lab.wait_connected(manager)
    wait_line(log, "inhibited %s by :1." % uid)
    # What went over the bus, as libdbus decodes it: InhibitDevice(uid, true) from qcm.
    wait_line(monitor_log, "boolean true")
    call = monitor_log.read_text().split("member=InhibitDevice", 1)[1]
    assert 'string "%s"' % uid in call and "boolean true" in call
    assert lab.ping("198.51.100.1")
    assert "ModemManager lets go of 1-1.2" in lab.output(manager)
    manager.terminate()
    assert manager.wait(30) == 0, lab.output(manager)
    wait_line(log, "released %s" % uid)  # given back on exit, and ModemManager holds the ports again
    assert "boolean false" in monitor_log.read_text()
    holders = json.loads(subprocess.run(lab.qcm_argv("doctor", "--json"), env=env, capture_output=True, text=True,
                                        timeout=60).stdout)
    assert holders["findings"][0]["id"] == "port-busy" and "ModemManager" in holders["findings"][0]["title"]
    stop_process(modemmanager)


def test_a_qcm_that_dies_gives_the_module_back_too(lab, bus):
    lab = lab()
    modemmanager, log, uid = start_modemmanager(lab, bus)
    manager = lab.background(lab.qcm_argv(*lab.connect_args("-s", "internet", "--inhibit-modemmanager")),
                             env=bus.env(lab.env))
    lab.wait_connected(manager)
    wait_line(log, "inhibited")
    manager.send_signal(signal.SIGKILL)  # no teardown at all: the bus tells ModemManager the caller left
    manager.wait(10)
    wait_line(log, "caller gone")
    stop_process(modemmanager)


def test_without_modemmanager_the_option_changes_nothing(lab, bus):
    lab = lab()
    result = subprocess.run(lab.qcm_argv(*lab.connect_args("-s", "internet", "--inhibit-modemmanager", "--once")),
                            env=bus.env(lab.env), capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--once" in result.stderr  # it would hand the module back at once
    manager = lab.background(lab.qcm_argv(*lab.connect_args("-s", "internet", "--inhibit-modemmanager")),
                             env=bus.env(lab.env))
    lab.wait_connected(manager)
    assert "ModemManager does not run: nothing to inhibit" in lab.output(manager)
    manager.terminate()
    assert manager.wait(30) == 0


def test_the_stand_in_speaks_d_bus_as_sd_bus_reads_it(lab, bus):
    """The stand-in (our wire code) against systemd's busctl: the answers qcm relies on decode there too."""
    lab = lab()
    modemmanager, log, uid = start_modemmanager(lab, bus)
    objects = subprocess.run(["busctl", "--address=%s" % bus.address, "--json=short", "call",
                              "org.freedesktop.ModemManager1", "/org/freedesktop/ModemManager1",
                              "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"],
                             capture_output=True, text=True, timeout=20)
    assert objects.returncode == 0, objects.stderr
    modem = json.loads(objects.stdout)["data"][0]["/org/freedesktop/ModemManager1/Modem/0"]
    assert modem["org.freedesktop.ModemManager1.Modem"]["Device"]["data"] == uid
    inhibited = subprocess.run(["busctl", "--address=%s" % bus.address, "call", "org.freedesktop.ModemManager1",
                                "/org/freedesktop/ModemManager1", "org.freedesktop.ModemManager1", "InhibitDevice",
                                "sb", uid, "true"], capture_output=True, text=True, timeout=20)
    assert inhibited.returncode == 0, inhibited.stderr
    wait_line(log, "caller gone")  # busctl left the bus: the inhibition went with it, as qcm's would
    unknown = subprocess.run(["busctl", "--address=%s" % bus.address, "call", "org.freedesktop.ModemManager1",
                              "/org/freedesktop/ModemManager1", "org.freedesktop.ModemManager1", "InhibitDevice",
                              "sb", "/sys/nowhere", "true"], capture_output=True, text=True, timeout=20)
    assert unknown.returncode != 0 and "no device with uid" in unknown.stderr
    stop_process(modemmanager)
