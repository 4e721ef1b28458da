"""A module reset in the lab, end to end: the simulated module vanishes and comes back (its fake sysfs
and /dev entries go and return, with the kernel-style uevents it sends); qcm is back on it at once,
woken by the device events, not by its 2 s safety poll."""

from __future__ import annotations

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
