"""Runs the simulated modem: its QMI control port on a pty, its fake sysfs, and sim.json.

This is the simulator's only I/O layer. ``SimModem`` decides what to answer; this module
reads request bytes, waits the configured per-request latency, writes the answers, fires the
modem's timed events, and cleans up everything it created on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..io.control import ControlServer
from ..qmi.message import decode
from ..qmi.qmux import Frame, FrameParser, FramingError
from ..qmi.render import summary
from . import handlers  # noqa: F401 - registers the request handlers
from . import dns
from .config import SimConfig
from .datapath import INTERNET_V4, INTERNET_V6, DataPath
from .modem import SimModem
from .ptyport import PtyPort
from .sysfs import Layout, lay_out

__all__ = ["Simulator", "run"]

log = logging.getLogger("qcm.sim")


class Simulator:
    def __init__(self, config: SimConfig, directory: Path, trace: Optional[Path] = None,
                 data_path: bool = True) -> None:
        self.config = config
        self.want_data_path = data_path
        self.data_path: Optional[DataPath] = None
        self.trace = trace.open("a", buffering=1) if trace is not None else None
        self.directory = directory
        self.modem = SimModem(config, now=time.monotonic())
        self.parser = FrameParser()
        self.qmi_port = PtyPort("qmi", self._on_qmi_data, self._on_qmi_connect)
        self.layout: Optional[Layout] = None
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._stopped: Optional[asyncio.Event] = None
        self._created_directory = False
        self.control: Optional[ControlServer] = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()  # created inside the loop (Python 3.9 binds events at creation)
        if not self.directory.exists():
            self.directory.mkdir(parents=True)
            self._created_directory = True
        self.layout = lay_out(self.directory, self.config, self.qmi_port.path)
        self.qmi_port.start(self.loop)
        if self.want_data_path:
            if os.geteuid() != 0:
                log.warning("no data path: creating %s and the carrier network needs root", self.config.netdev)
            else:
                self.data_path = DataPath(self.modem, self.config.netdev, self.layout.raw_ip)
                self.data_path.start(self.loop)
        self._schedule_timer()
        self.control = ControlServer(self.directory / "ctl.sock", self._on_control)
        await self.control.start()
        self._write_description()
        log.info("simulated %s %s on %s (%s), sysfs %s", self.config.manufacturer, self.config.model,
                 self.qmi_port.path, self.layout.control_link, self.layout.sysfs)

    def describe(self) -> Dict[str, Any]:
        assert self.layout is not None
        c = self.config
        return {
            "pid": os.getpid(),
            "control_port": self.qmi_port.path,
            "control_link": str(self.layout.control_link),
            "sysfs_root": str(self.layout.sysfs),
            "dev_root": str(self.layout.dev),
            "netdev": c.netdev,
            "model": c.model,
            "manufacturer": c.manufacturer,
            "revision": c.revision,
            "imei": c.imei,
            "usb": c.usb,
            "usb_path": c.usb_path,
            "driver": c.driver,
            "data_path": self.data_path is not None,
            "carrier_netns": self.data_path.carrier if self.data_path else None,
            "internet": [INTERNET_V4, INTERNET_V6],
            "dns": list(c.dns4) + list(c.dns6),
            "dns_name": dns.NAME,
        }

    def _write_description(self) -> None:
        # Written last and atomically: its appearance tells a waiting test the simulator is ready.
        path = self.directory / "sim.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.describe(), indent=2) + "\n")
        os.replace(temporary, path)

    async def wait_closed(self) -> None:
        assert self._stopped is not None
        await self._stopped.wait()

    def stop(self) -> None:
        if self._stopped is not None:
            self._stopped.set()

    # ----------------------------------------------------------------- control (qcm sim ctl)

    async def _on_control(self, request: Dict[str, Any]) -> Dict[str, Any]:
        command = request.get("command")
        if command == "status":
            return {"ok": True, "status": self.status()}
        return {"ok": False, "error": "unknown command %r" % command}

    def status(self) -> Dict[str, Any]:
        m = self.modem
        return {
            "mode": m.mode, "sim": m.sim_state, "pin_retries": m.pin_retries, "puk_retries": m.puk_retries,
            "registration": m.registration, "link_layer": m.link_layer, "clients": m.held_clients(),
            "calls": [{"family": c.family, "cid": c.client[1], "handle": c.handle, "apn": c.apn,
                       "address": str(c.ipv4 or c.ipv6)} for c in m.calls.values()],
            "last_call_end": list(m.last_call_end) if m.last_call_end else None,
            "requests": m.requests_served, "profiles": {str(k): v["apn"] for k, v in m.profiles.items()},
            "data_path": dict(self.data_path.counters) if self.data_path else None,
        }

    def cleanup(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.qmi_port.close()
        if self.data_path is not None:
            self.data_path.close()
        if self.trace is not None:
            self.trace.close()
        for name in ("sim.json", "sim.json.tmp"):
            (self.directory / name).unlink(missing_ok=True)
        if self.layout is not None:
            for path in self.layout.created:
                shutil.rmtree(path, ignore_errors=True)
        if self._created_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    # ----------------------------------------------------------------- QMI

    def _on_qmi_connect(self, connected: bool) -> None:
        if connected:
            self.parser = FrameParser()

    def _on_qmi_data(self, data: bytes) -> None:
        self.parser.feed(data)
        for event in self.parser.events():
            if isinstance(event, FramingError):
                log.warning("control port: %s", event)
                continue
            self._answer(event)

    def _trace(self, direction: str, frames: List[Frame]) -> None:
        # Full bytes, personal data included: --trace is the explicit request for them.
        if self.trace is not None:
            stamp = time.strftime("%H:%M:%S")
            for frame in frames:
                self.trace.write("[%s] %s %s\n" % (stamp, direction, frame.encode().hex(" ")))

    def _answer(self, frame: Frame) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s", summary(decode(frame)))
        self._trace("host->modem", [frame])
        replies = self.modem.handle(frame, time.monotonic())
        self._send_later(replies, self.config.latency_ms / 1000.0)
        self._schedule_timer()

    def _send_later(self, frames: List[Frame], delay: float) -> None:
        if not frames:
            return
        self._trace("modem->host", frames)
        data = b"".join(f.encode() for f in frames)
        assert self.loop is not None
        if delay > 0:
            self.loop.call_later(delay, self.qmi_port.write, data)
        else:
            self.qmi_port.write(data)

    def _schedule_timer(self) -> None:
        assert self.loop is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.modem.next_deadline()
        if deadline is not None:
            delay = max(0.0, deadline - time.monotonic())
            self._timer = self.loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._send_later(self.modem.advance(time.monotonic()), 0)
        self._schedule_timer()


async def _serve(config: SimConfig, directory: Path, trace: Optional[Path], data_path: bool) -> None:
    simulator = Simulator(config, directory, trace, data_path)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, simulator.stop)
    try:
        await simulator.start()
        await simulator.wait_closed()
    finally:
        if simulator.control is not None:
            await simulator.control.close()
        simulator.cleanup()
        log.info("simulator stopped, %d requests served", simulator.modem.requests_served)


def run(config: SimConfig, directory: Path, trace: Optional[Path] = None, data_path: bool = True) -> None:
    asyncio.run(_serve(config, directory, trace, data_path))
