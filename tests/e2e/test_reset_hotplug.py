"""A module reset in the lab, end to end: the simulated module vanishes and comes back (its fake sysfs
and /dev entries go and return, with the kernel-style uevents it sends); qcm is back on it at once,
woken by the device events, not by its 2 s safety poll."""

from __future__ import annotations

import sys
import time
from datetime import datetime

import pytest

from qcm.connect.finder import SAFETY_POLL

pytestmark = pytest.mark.root

V4 = "198.51.100.1"


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def logged_at(output: str, text: str, after: int = 0) -> datetime:
    """When qcm logged the first line holding ``text`` from offset ``after`` (its HH:MM:SS.mmm stamp)."""
    index = output.index(text, after)
    line = output[output.rfind("\n", 0, index) + 1:]
    return datetime.strptime(line[:12], "%H:%M:%S.%f")


def test_a_reset_module_is_found_again_by_its_device_events(lab):
    lab = lab()
    manager = lab.background(lab.qcm_argv(*lab.connect_args("-s", "internet", "--debug")))
    lab.wait_connected(manager)
    reset = lab.qcm("sim", "ctl", str(lab.modem_dir), "reset", "seconds=0.3")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert wait_for(lambda: "reconnected" in lab.output(manager)), lab.output(manager)
    output = lab.output(manager)
    gone = output.index("the module went away")
    waited = (logged_at(output, "the module is back", gone) - logged_at(output, "the module went away")).total_seconds()
    # Back 0.3 s after it went; the poll alone would look again only SAFETY_POLL (2 s) after qcm began to wait.
    assert 0.25 < waited < SAFETY_POLL - 0.3, output[gone - 200:]
    assert "qcm.io.hotplug: device event" in output[gone:]
    assert wait_for(lambda: lab.ping(V4))
    manager.terminate()
    assert manager.wait(20) == 0


LISTENER = """
import socket, sys, time
from qcm.io.hotplug import KERNEL_GROUP, NETLINK_KOBJECT_UEVENT
from qcm.uevent import concerns_modems, parse
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_KOBJECT_UEVENT)
sock.bind((0, KERNEL_GROUP))
sock.settimeout(1.0)
print("listening", flush=True)
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    try:
        event = parse(sock.recv(65536))
    except socket.timeout:
        continue
    if event is not None and concerns_modems(event):
        print(event.action, event.subsystem, event.devname or event.interface, flush=True)
"""


def test_the_simulator_announces_a_reset_with_kernel_uevents(lab):
    """What a listener in the lab's namespace hears of a reset: the module's devices removed, then added
    again, children before parents on removal, as the kernel sends them."""
    lab = lab()
    listener = lab.background([sys.executable, "-c", LISTENER, "8"])
    assert wait_for(lambda: "listening" in lab.output(listener), timeout=20), lab.output(listener)
    reset = lab.qcm("sim", "ctl", str(lab.modem_dir), "reset", "seconds=0.3")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert wait_for(lambda: "add usbmisc cdc-wdm0" in lab.output(listener), timeout=20), lab.output(listener)
    heard = lab.output(listener).splitlines()
    for line in ("remove usbmisc cdc-wdm0", "remove net wwan0", "remove usb bus/usb/001/004", "add usb bus/usb/001/004",
                 "add net wwan0", "add usbmisc cdc-wdm0"):
        assert line in heard, heard
    assert heard.index("remove usbmisc cdc-wdm0") < heard.index("remove usb bus/usb/001/004") < \
        heard.index("add usb bus/usb/001/004") < heard.index("add usbmisc cdc-wdm0")
    assert listener.wait(30) == 0
