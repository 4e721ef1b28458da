"""qcm and the simulated modem in one process, without root (the way h11 pairs two connections).

The QMI backend talks over one end of a memory pair; the simulator's ``SimModem`` (the same
state and handlers ``qcm sim`` serves on a pty) answers on the other, one message per read.
Discovery reads a fake sysfs laid out by the simulator's own code. The host side only records
what it was asked to configure, since configuring interfaces needs root (the e2e tests do that
against the real kernel).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, List, Optional, Sequence

from qcm.connect import events as ev
from qcm.connect.host import Applied, Host, HostOptions
from qcm.connect.options import ConnectOptions, DialPlan
from qcm.connect.service import ConnectionService, Hooks
from qcm.io.transport import MemoryTransport, memory_pair
from qcm.qmi.qmux import FrameParser, FramingError
from qcm.sim import handlers  # noqa: F401 - registers the request handlers
from qcm.sim.config import SimConfig, apply_overrides, load_scenario_bytes
from qcm.sim.modem import SimModem
from qcm.sim.sysfs import lay_out


class MemoryModem:
    """A ``SimModem`` on the device end of a memory pair, with the simulator's faults at hand."""

    def __init__(self, config: SimConfig) -> None:
        self.modem = SimModem(config, now=time.monotonic())
        self.host_end: Optional[MemoryTransport] = None
        self.device: Optional[MemoryTransport] = None
        self.parser = FrameParser()
        self.muted = False
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._timer: Optional[asyncio.TimerHandle] = None

    def plug(self, modem: Any = None) -> MemoryTransport:
        """A fresh pair (a new USB enumeration); returns the host end for qcm."""
        self.loop = asyncio.get_running_loop()
        if self.device is not None:
            self.device.close()  # the old enumeration's port, if qcm still held it
        self.host_end, self.device = memory_pair()
        self.parser = FrameParser()
        self.device.open(self.loop, self._received, lambda reason: None)
        self._schedule()
        return self.host_end

    def _received(self, data: bytes) -> None:
        self.parser.feed(data)
        for item in self.parser.events():
            if isinstance(item, FramingError) or self.muted:
                continue
            self.send(self.modem.handle(item, time.monotonic()))
        self._schedule()

    def send(self, frames: Sequence[Any]) -> None:
        if self.device is not None and self.device.is_open:
            for frame in frames:
                self.device.write(frame.encode())

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        deadline = self.modem.next_deadline()
        if deadline is not None and self.loop is not None:
            self._timer = self.loop.call_later(max(0.0, deadline - time.monotonic()), self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.send(self.modem.advance(time.monotonic()))
        self._schedule()

    # faults, as ``qcm sim ctl`` has them
    def drop(self, reason: str = "gsm-wcdma-regular-deactivation", apn: Optional[str] = None) -> None:
        if apn is None:
            self.send(self.modem.drop_calls(reason))
            return
        for client, call in list(self.modem.calls.items()):
            if call.apn.lower() == apn.lower():
                self.send(self.modem.end_call(client, reason, ("3gpp", "regular-deactivation")))

    def vanish(self) -> None:
        self.modem.reset(time.monotonic())
        if self.device is not None:
            self.device.vanish()


class RecordingHost(Host):
    """The host side without netlink: what would be configured, recorded. QMAP mux links get the
    names qmi_wwan would give them (qmimux0, qmimux1... in creation order)."""

    made: List[Any] = []   # every host made, in order (reset by MemoryLab)

    def __init__(self, netdev: str, raw_ip_path: Optional[Path], options: HostOptions = HostOptions(),
                 applied: Optional[Applied] = None) -> None:
        super().__init__(netdev, raw_ip_path, options, applied)
        self.synced: List[List[str]] = []
        self.cleared = 0
        self.links: dict = {}
        self.aggregation: List[int] = []
        RecordingHost.made.append(self)

    def qmap_versions(self) -> tuple:
        return ("qmap",) if self.mux is not None else ()

    def prepare_aggregation(self, size: int) -> List[str]:
        self.aggregation.append(size)
        return ["MTU 1500 -> %d" % size]

    async def mux_link(self, mux_id: int, version: str = "qmap") -> str:
        return self.links.setdefault(mux_id, "qmimux%d" % len(self.links))

    def set_raw_ip(self, value: bool) -> None:
        assert self.raw_ip_path is not None
        self.raw_ip_path.write_text("Y\n" if value else "N\n")

    def sync(self, bearers: Sequence[Any]) -> Applied:
        assert all(b.netdev == self.netdev for b in bearers), "%s given bearers of %s" % (
            self.netdev, sorted({b.netdev for b in bearers}))
        self.synced.append(sorted(str(b.settings.address) for b in bearers))
        self.applied.addresses = [[str(b.settings.address.ip), b.settings.address.network.prefixlen] for b in bearers]
        self.applied.routes = [{"family": b.family, "gateway": None, "metric": 700} for b in bearers]
        return self.applied

    def clear(self) -> List[str]:
        self.cleared += 1
        self.applied = Applied(self.netdev)
        return []


class Recorder(Hooks):
    """Events as they are reported, and what the lifecycle would have heard."""

    def __init__(self) -> None:
        self.events: List[ev.Event] = []
        self.ready_text = ""

    def __call__(self, event: ev.Event) -> None:
        self.events.append(event)

    def ready(self, text: str) -> None:
        self.ready_text = text

    def lines(self) -> List[str]:
        from qcm.cli.report import describe_event
        return [line for line in (describe_event(e) for e in self.events) if line]


class MemoryLab:
    def __init__(self, tmp: Path, toml: str = "", **config: Any) -> None:
        self.tmp = tmp
        base = load_scenario_bytes(toml.encode()) if toml else SimConfig()
        self.config = apply_overrides(base, config).validate()
        placeholder = tmp / "pty"
        placeholder.write_text("")
        self.layout = lay_out(tmp / "modem", self.config, str(placeholder))
        self.modem = MemoryModem(self.config)
        self.recorder = Recorder()
        self.service: Optional[ConnectionService] = None
        RecordingHost.made = []

    def options(self, plan: Optional[DialPlan] = None, **values: Any) -> ConnectOptions:
        values.setdefault("request_timeout", 2.0)
        return ConnectOptions(plan=plan or DialPlan(apn="internet"), sysfs=self.layout.sysfs, dev=self.layout.dev,
                              run_dir=self.tmp / "run", state_dir=self.tmp / "state",
                              transport=self.modem.plug, **values)

    def make(self, options: ConnectOptions, **kwargs: Any) -> ConnectionService:
        kwargs.setdefault("make_host", RecordingHost)
        self.service = ConnectionService(options, self.recorder, self.recorder, **kwargs)
        return self.service

    async def run(self, options: ConnectOptions, until: Any = None, timeout: float = 20.0, **kwargs: Any) -> Any:
        """Run a service until it exits (its status) or until ``until(service)`` holds (None), then tear
        it down as the manager would."""
        service = self.make(options, **kwargs)
        task = asyncio.ensure_future(service.run())
        try:
            deadline = time.monotonic() + timeout
            while not task.done():
                if until is not None and until(service):
                    return None
                assert time.monotonic() < deadline, "timed out; reported so far:\n" + "\n".join(self.recorder.lines())
                await asyncio.sleep(0.01)
            return task.result()
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await service.teardown()


def connected(service: ConnectionService) -> bool:
    return str(service.supervisor.state) == "connected"
