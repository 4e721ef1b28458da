"""A private D-Bus bus for tests (Debian's dbus-daemon with a configuration in a temporary directory),
never the host's: started in its own PID namespace, stopped with the test."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import List, Optional

from netns import stop_process

CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%(socket)s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.socket = directory / "bus"
        self.address = "unix:path=%s" % self.socket
        config = directory / "bus.conf"
        config.write_text(CONFIG % {"socket": self.socket})
        self.log = (directory / "dbus-daemon.log").open("w")
        # unshare --fork ignores SIGTERM while it waits for its child; when it is killed, the child gets SIGTERM.
        self.process = subprocess.Popen(["unshare", "-p", "-f", "--kill-child=SIGTERM", "dbus-daemon",
                                         "--config-file=%s" % config, "--nofork", "--nopidfile"],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("dbus-daemon did not start: %s" % (directory / "dbus-daemon.log").read_text())
            time.sleep(0.02)
        self.monitors: List[subprocess.Popen] = []

    def env(self, base: Optional[dict] = None) -> dict:
        return dict(base or os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.address)

    def monitor(self, output: Path, rule: str) -> subprocess.Popen:
        """libdbus's own dbus-monitor, decoding what crosses the bus (the reference decoder)."""
        handle = output.open("w")
        process = subprocess.Popen(["dbus-monitor", "--address", self.address, rule], stdout=handle,
                                   stderr=subprocess.STDOUT)
        self.monitors.append(process)
        time.sleep(0.3)  # it has become a monitor
        return process

    def stop(self) -> None:
        for process in self.monitors:
            stop_process(process, grace=5)
        self.process.kill()
        self.process.wait(10)
        self.log.close()
