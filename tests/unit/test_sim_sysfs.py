"""The fake sysfs's writable files behave as sysfs attributes: a write is the new value whatever
the offset (raw_ip, pass_through, bind, unbind), and the file then shows what sysfs shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netns import SRC
from qcm.sim.attributes import parse_bool, written_value


@pytest.mark.parametrize("before,after,value", [
    (b"N\n", b"N\nY\n", "Y"),        # read 2 bytes, then "Y\n" on the same descriptor
    (b"N\n", b"Y\n", "Y"),           # written at offset 0
    (b"N\n", b"Y", "Y"),             # truncated, "Y" without a newline
    (b"N\n", b"NY", "Y"),            # read 1 byte, then "Y"
    (b"N\n", b"Y\x00", "Y"),         # quectel-CM writes "Y\0"
    (b"Y\n", b"Y\nN\n", "N"),
    (b"Y\n", b"Y", "Y"),             # "Y" written over "Y\n" with truncation: still a write of Y
    (b"", b"1-1.2:1.4", "1-1.2:1.4"),
    (b"", b"1-1.2:1.4\n", "1-1.2:1.4"),
])
def test_written_value(before, after, value):
    assert written_value(before, after) == value


def test_nothing_written():
    assert written_value(b"N\n", b"N\n") is None
    assert written_value(b"N\n", b"") is None


@pytest.mark.parametrize("text,value", [("Y", True), ("y", True), ("1", True), ("on", True), ("N", False),
                                        ("0", False), ("off", False), ("maybe", None), ("", None)])
def test_parse_bool(text, value):
    assert parse_bool(text) == value


def status(directory: Path) -> dict:
    reply = subprocess.run([sys.executable, "-m", "qcm", "sim", "ctl", str(directory), "status"], capture_output=True,
                           text=True, timeout=20, env=dict(os.environ, PYTHONPATH=str(SRC)))
    return json.loads(reply.stdout)["status"]


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_raw_ip_takes_a_value_written_after_a_read(start_sim):
    sim = start_sim()
    raw_ip = sim.directory / "sys" / "class" / "net" / "wwan0" / "qmi" / "raw_ip"
    assert status(sim.directory)["host_raw_ip"] is False
    with open(raw_ip, "r+b", buffering=0) as handle:
        assert handle.read(2) == b"N\n"
        handle.write(b"Y\n")
    assert wait_for(lambda: raw_ip.read_bytes() == b"Y\n"), raw_ip.read_bytes()
    assert status(sim.directory)["host_raw_ip"] is True
    with open(raw_ip, "r+b", buffering=0) as handle:
        handle.read(2)
        handle.write(b"maybe\n")  # refused, as the kernel refuses it: the value stays
    assert wait_for(lambda: raw_ip.read_bytes() == b"Y\n"), raw_ip.read_bytes()
    assert status(sim.directory)["host_raw_ip"] is True


def test_unbind_and_bind_take_the_interface_name(start_sim):
    sim = start_sim()
    driver = sim.directory / "sys" / "bus" / "usb" / "drivers" / "qmi_wwan"
    control = Path(sim.control)
    (driver / "unbind").write_text("2-9:1.4")  # not ours: nothing happens
    time.sleep(0.3)
    assert control.exists() and status(sim.directory)["present"]
    with open(driver / "unbind", "ab", buffering=0) as handle:
        handle.write(b"1-1.2:1.4\n")
    assert wait_for(lambda: not status(sim.directory)["present"])
    assert not control.exists() and (driver / "unbind").read_bytes() == b""
    with open(driver / "bind", "ab", buffering=0) as handle:
        handle.write(b"1-1.2:1.4")
    assert wait_for(lambda: status(sim.directory)["present"] and control.exists())
    assert (driver / "bind").read_bytes() == b""


def test_raw_ip_takes_a_value_renamed_into_place_and_later_writes_too(start_sim):
    """A value renamed over the attribute replaces its file: a watch on the old file would lose it
    and every later write (the watch follows the old inode away)."""
    sim = start_sim()
    raw_ip = sim.directory / "sys" / "class" / "net" / "wwan0" / "qmi" / "raw_ip"
    staged = raw_ip.with_name(".raw_ip.new")
    staged.write_bytes(b"Y\n")
    os.rename(staged, raw_ip)
    assert wait_for(lambda: status(sim.directory)["host_raw_ip"] is True)
    with open(raw_ip, "r+b", buffering=0) as handle:  # the attribute is still watched afterwards
        handle.write(b"N\n")
    assert wait_for(lambda: status(sim.directory)["host_raw_ip"] is False)


def test_raw_ip_takes_a_value_while_the_writer_keeps_its_descriptor_open(start_sim):
    sim = start_sim()
    raw_ip = sim.directory / "sys" / "class" / "net" / "wwan0" / "qmi" / "raw_ip"
    with open(raw_ip, "r+b", buffering=0) as handle:
        handle.write(b"Y\n")
        assert wait_for(lambda: status(sim.directory)["host_raw_ip"] is True)  # before the close
        handle.seek(0)
        handle.write(b"Y\n")  # the same value again: taken once, nothing changes
        assert wait_for(lambda: raw_ip.read_bytes() == b"Y\n")
        assert status(sim.directory)["host_raw_ip"] is True
