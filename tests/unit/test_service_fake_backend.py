"""The connection service driven through the seam by a backend with no protocol behind it: what
any future backend (MBIM, AT) gets from the service for free."""

import asyncio
import ipaddress
import logging
from typing import Any, Dict, List

from memory_lab import MemoryLab, connected
from qcm.backends.base import Backend, Bearer, BearerId
from qcm.connect import supervisor as sv
from qcm.connect.options import DialPlan
from qcm.errors import ModemError, SimError
from qcm.model import IpSettings, Registration


class FakeBackend(Backend):
    name = "fake"
    modes = ("qmi",)
    log: List[str] = []
    failures: List[BaseException] = []     # raised by prepare(), one per attempt, in order

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open = False
        self.registration = Registration("registered", True, operator="Fake")

    async def open(self) -> None:
        self.log.append("open")
        self._open = True

    async def close(self) -> None:
        self._open = False

    @property
    def is_open(self) -> bool:
        return self._open

    async def prepare(self) -> None:
        self.log.append("prepare")
        if self.failures:
            raise self.failures.pop(0)

    async def read_registration(self) -> Registration:
        assert self.registration is not None
        self.log.append("registration")
        return self.registration

    async def wait_registered(self) -> Registration:
        assert self.registration is not None
        return self.registration

    async def start(self, bearer: BearerId, netdev: str) -> Bearer:
        self.log.append("start %s" % bearer)
        address = "100.64.0.2/30" if bearer.family == 4 else "2001:db8:4000::2/64"
        return Bearer(bearer, netdev, IpSettings(bearer.family, ipaddress.ip_interface(address)), {"n": 1})

    async def settings(self, bearer: Bearer) -> IpSettings:
        return bearer.settings

    async def is_up(self, bearer: Bearer) -> bool:
        return True

    async def stop(self, bearer: Bearer) -> bool:
        self.log.append("stop %s" % bearer.id)
        return True

    async def radio_cycle(self) -> None:
        self.log.append("radio")

    def keep(self, bearers: List[Bearer]) -> None:
        self.log.append("keep")

    @classmethod
    async def read_imei(cls, modem: Any) -> str:
        return "0"

    @classmethod
    async def stop_saved(cls, control: str, bearers: List[Any]) -> List[str]:
        return []


def fake(modem: Any) -> type:
    return FakeBackend


async def until(predicate, timeout=15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def scenario(tmp_path, failures: List[BaseException], steps) -> Dict[str, Any]:
    FakeBackend.log, FakeBackend.failures = [], list(failures)

    async def main() -> Dict[str, Any]:
        lab = MemoryLab(tmp_path)
        options = lab.options(DialPlan(apn="internet", families=(4, 6)),
                              policy=sv.Policy(backoff_base=0.01, backoff_cap=0.02, jitter=0.0))
        service = lab.make(options, choose_backend=fake)
        task = asyncio.ensure_future(service.run())
        try:
            await steps(service)
        finally:
            if not task.done():
                service.stop("test")
            status = await asyncio.wait_for(task, 20)
            await service.teardown()
        return {"status": status, "log": FakeBackend.log, "lines": lab.recorder.lines(), "service": service}
    return asyncio.run(main())


def test_a_backend_without_qmi_connects_and_a_drop_it_reports_is_redialled(tmp_path):
    async def steps(service):
        await until(lambda: connected(service))
        service.backend.context.emit(sv.CallDropped(BearerId(1, 6), "the fake network ended the IPv6 call"))
        await until(lambda: service.supervisor.reconnects == 1)
    result = scenario(tmp_path, [], steps)
    assert result["status"] == 0
    assert result["log"][:4] == ["open", "prepare", "start IPv4", "start IPv6"]
    assert result["log"][4:6] == ["stop IPv6", "start IPv6"]  # the other bearer is left alone
    assert any("reconnected" in line and "the fake network ended the IPv6 call" in line for line in result["lines"])


def test_status_reads_the_registration_again_only_when_it_is_old(tmp_path):
    async def steps(service):
        await until(lambda: connected(service))
        FakeBackend.log.clear()
        await service.refresh_registration(max_age=60.0)   # the first: read
        await service.refresh_registration(max_age=60.0)   # read a moment ago: not again
        await service.refresh_registration(max_age=0.0)    # asked for a fresh one: read
    result = scenario(tmp_path, [], steps)
    assert result["log"][:2] == ["registration", "registration"] and "registration" not in result["log"][2:]


def test_only_failures_a_reset_may_cure_climb_the_ladder(tmp_path):
    failures = [ModemError("wedged"), ModemError("wedged"), ModemError("wedged")]

    async def steps(service):
        await until(lambda: connected(service), timeout=20)
    result = scenario(tmp_path, failures, steps)
    assert result["log"].count("open") == 3          # first open, then reopen, then the re-bind's reopen
    assert "radio" in result["log"]
    assert any("re-binding" in line for line in result["lines"])
    assert any("connection restored by re-binding the USB driver" in line for line in result["lines"])


def test_a_fatal_error_stops_with_its_status(tmp_path):
    async def steps(service):
        await until(lambda: service.supervisor.state == sv.State.STOPPING)
    result = scenario(tmp_path, [SimError("the SIM rejected the PIN", "check the PIN")], steps)
    assert result["status"] == 4
    assert any("-> stopping: the SIM rejected the PIN; hint: check the PIN" in line for line in result["lines"])


def test_a_bug_is_logged_once_with_its_traceback_and_the_service_carries_on(tmp_path, caplog):
    async def steps(service):
        await until(lambda: connected(service))
    with caplog.at_level(logging.ERROR):
        result = scenario(tmp_path, [KeyError("oops"), KeyError("oops")], steps)
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and "please report it" in tracebacks[0].getMessage()
    assert result["service"].supervisor.climbs == 0  # a bug is not the modem's fault
