"""Waiting for a module wakes on device events, not on the poll: inotify on /dev and on the
simulator's fake sysfs, kernel uevents (sent to group 1 inside a private network namespace), and
the simulator's own uevents for its fake devices. The safety poll is set to an hour in these tests,
so only an event can wake a waiter within their (generous) bounds."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from netns import SRC
from qcm.connect.finder import Finder
from qcm.connect.options import ConnectOptions
from qcm.discovery import scan
from qcm.io.hotplug import HotplugWatch
from qcm.sim.config import SimConfig
from qcm.sim.sysfs import device_events, lay_out
from qcm.uevent import parse

HOUR = 3600.0
BOUND = 20.0  # generous: the machine is shared; an event wakes a waiter in milliseconds


def tree(root: Path, config: SimConfig = SimConfig()):
    root.mkdir(parents=True, exist_ok=True)
    port = root / "pty"  # stands for the simulator's pty: the control port's link must lead somewhere
    port.touch()
    return lay_out(root / "m", config, str(port), {config.at_interface: str(port)})


def finder_for(root: Path) -> Finder:
    finder = Finder(ConnectOptions(sysfs=root / "m" / "sys", dev=root / "m" / "dev"), lambda text, warning: None)
    finder.safety_poll = HOUR
    return finder


@pytest.mark.parametrize("bus", ["usb", "pci"])
def test_wait_back_wakes_when_the_module_returns(tmp_path, bus, monkeypatch):
    import qcm.connect.finder as finder_module
    for name in ("MODEM_POLL", "SAFETY_POLL"):  # whatever the poll is called, it does not wake the finder here
        monkeypatch.setattr(finder_module, name, HOUR, raising=False)
    config = SimConfig(bus=bus)
    layout = tree(tmp_path, config)
    gone = scan(layout.sysfs, layout.dev)[0]

    async def scenario():
        finder = finder_for(tmp_path)
        layout.remove_device()  # the whole fake /dev and the device tree go, as on a simulated reset
        waiting = asyncio.ensure_future(finder.wait_back(gone, timeout=None))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        tree(tmp_path, config)
        return await asyncio.wait_for(waiting, BOUND)

    back = asyncio.run(scenario())
    assert back.usb_path == gone.usb_path and back.control == gone.control


def test_find_wakes_when_a_module_appears(tmp_path):
    (tmp_path / "m" / "sys").mkdir(parents=True)

    async def scenario():
        finder = finder_for(tmp_path)
        finding = asyncio.ensure_future(finder.find(wait=True))
        await asyncio.sleep(0.2)
        assert not finding.done()
        tree(tmp_path)
        return await asyncio.wait_for(finding, BOUND)

    assert asyncio.run(scenario()).netdev == "wwan0"


def test_a_port_in_dev_wakes_and_other_entries_do_not(tmp_path):
    dev = tmp_path / "dev"
    dev.mkdir()

    async def scenario():
        with HotplugWatch(tmp_path / "sys", dev) as watch:
            (dev / "sda").touch()
            (dev / "tty1").touch()
            quiet = await watch.wait(0.3)
            (dev / "cdc-wdm3").symlink_to("/dev/null")
            woken = await watch.wait(BOUND)
            return quiet, woken

    assert asyncio.run(scenario()) == (False, True)


def test_the_watch_follows_a_dev_directory_made_later(tmp_path):
    dev = tmp_path / "later" / "dev"

    async def scenario():
        with HotplugWatch(tmp_path / "sys", dev) as watch:
            dev.mkdir(parents=True)  # a parent's event: woken, and /dev itself watched from now on
            first = await watch.wait(BOUND)
            (dev / "wwan0qmi0").touch()
            second = await watch.wait(BOUND)
            return first, second

    assert asyncio.run(scenario()) == (True, True)


def test_the_simulators_device_events(tmp_path):
    layout = tree(tmp_path)
    added = [parse(datagram) for _devpath, datagram in device_events(layout, SimConfig(), "add")]
    assert all(event is not None for event in added)
    kinds = [(e.subsystem, e.devname or e.interface) for e in added if e is not None]
    assert kinds[0] == ("usb", "bus/usb/001/004")  # the device before its interfaces and their ports
    assert ("usbmisc", "cdc-wdm0") in kinds and ("net", "wwan0") in kinds and ("tty", "ttyUSB2") in kinds
    removed = [parse(datagram) for _devpath, datagram in device_events(layout, SimConfig(), "remove")]
    assert [e.devpath for e in removed if e] == [e.devpath for e in added if e][::-1]
    assert all(e is not None and e.action == "remove" for e in removed)


UEVENT_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from qcm.io.hotplug import HotplugWatch, UeventAnnouncer
    from qcm.uevent import encode

    async def main():
        announcer = UeventAnnouncer()
        assert announcer.enabled, "a private network namespace is one to announce in"
        with HotplugWatch(Path("/sys"), Path(sys.argv[1])) as watch:  # real sysfs: only uevents can wake it
            announcer.announce([("/devices/virtual/block/loop9", encode("add", "/devices/virtual/block/loop9",
                                                                        [("SUBSYSTEM", "block")]))])
            quiet = await watch.wait(0.3)
            path = "/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.4/usbmisc/cdc-wdm0"
            announcer.announce([(path, encode("add", path, [("SUBSYSTEM", "usbmisc"), ("DEVNAME", "cdc-wdm0")]))])
            woken = await watch.wait(20)
        announcer.close()
        print("quiet" if not quiet else "woken by a block device", "woken" if woken else "not woken")

    asyncio.run(main())
""")


@pytest.mark.root
def test_a_kernel_uevent_wakes_the_watch(tmp_path, netns):
    """Sent to group 1 as the kernel does, in a network namespace of our own (never the host's, where
    udev listens)."""
    (tmp_path / "dev").mkdir()
    result = subprocess.run(netns().argv([sys.executable, "-c", UEVENT_SCRIPT, str(tmp_path / "dev")]),
                            capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(SRC)))
    assert result.stdout.split() == ["quiet", "woken"], result.stdout + result.stderr


@pytest.mark.root
def test_no_uevents_announced_outside_a_private_network_namespace():
    """A namespace of unknown origin (not ip netns's) under a private PID namespace, where the host's init
    cannot be seen: no announcing."""
    if os.geteuid() != 0:
        pytest.skip("namespaces need root")
    script = "from qcm.io.hotplug import UeventAnnouncer; print(UeventAnnouncer().enabled)"
    result = subprocess.run(["unshare", "-p", "-f", "--mount-proc", "-n", sys.executable, "-c", script],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(SRC)))
    assert result.stdout.strip() == "False", result.stdout + result.stderr
