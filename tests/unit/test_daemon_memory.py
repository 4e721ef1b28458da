"""qcm daemon's lifecycle with simulated modules in one process (no root, no pty): one connection per module,
each to the module its configuration names; one control socket for all of them; a connection that fails or
is disconnected leaves the others alone; a module that appears later gets its connection; SIGTERM tears
every one of them down."""

import asyncio
import signal
import time
from dataclasses import replace
from pathlib import Path

from memory_lab import MemoryModem, Recorder, RecordingHost, connected
from qcm.connect.control_client import DAEMON
from qcm.connect.manager import Manager
from qcm.connect.options import ConnectOptions, DialPlan
from qcm.connect.watcher import ModuleWatcher, Wanted
from qcm.io.control import ask, socket_path
from qcm.sim.config import SimConfig, apply_overrides
from qcm.sim.server import module_overrides
from qcm.sim.sysfs import lay_out


class Modules:
    """Simulated modules on one fake sysfs, each answering on its own memory pair."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.placeholder = tmp / "pty"
        self.placeholder.write_text("")
        self.modems = {}
        self.recorder = Recorder()

    def add(self, index: int, request_errors=None) -> SimConfig:
        base = SimConfig()
        config = apply_overrides(base, module_overrides(base, index)).validate()
        if request_errors:
            config = replace(config, request_errors=request_errors)
        lay_out(self.tmp / "modem", config, str(self.placeholder))
        self.modems[config.usb_path] = MemoryModem(config)
        return config

    def transport(self, modem):
        return self.modems[modem.usb_path].plug(modem)

    def options(self, **values) -> ConnectOptions:
        values.setdefault("request_timeout", 2.0)
        return ConnectOptions(plan=DialPlan(apn="internet", families=(4, 6)), sysfs=self.tmp / "modem" / "sys",
                              dev=self.tmp / "modem" / "dev", run_dir=self.tmp / "run", state_dir=self.tmp / "state",
                              transport=self.transport, **values)


async def until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def daemon(modules: Modules, wanted):
    manager = Manager(None, modules.recorder, run_dir=modules.tmp / "run", metrics_file=modules.tmp / "metrics.prom",
                      make_host=RecordingHost)
    watcher = ModuleWatcher(wanted, lambda name: modules.recorder, modules.options().sysfs, modules.options().dev,
                            interval=0.05)
    return manager, watcher


def ask_daemon(modules: Modules, request):
    loop = asyncio.get_running_loop()
    return loop.run_in_executor(None, ask, socket_path(modules.tmp / "run", DAEMON), request)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 90))


def test_each_configuration_gets_the_module_it_names_and_one_socket_controls_them(tmp_path):
    modules = Modules(tmp_path)
    for index in range(3):
        modules.add(index)
    wanted = [Wanted("a", modules.options()),                                   # names no module: the one left
              Wanted("b", modules.options(), {"usb_path": "1-1.3"}),
              Wanted("c", modules.options(), {"interface": "wwan2"})]

    async def scenario():
        manager, watcher = daemon(modules, wanted)
        task = asyncio.ensure_future(manager.run(watcher))
        await until(lambda: len(manager.connections) == 3 and all(connected(c.service)
                                                                  for c in manager.connections.values()))
        everything = await ask_daemon(modules, {"command": "status"})
        one = await ask_daemon(modules, {"command": "status", "netdev": "wwan1"})
        unknown = await ask_daemon(modules, {"command": "status", "netdev": "wwan9"})
        stopped = await ask_daemon(modules, {"command": "disconnect", "netdev": "wwan1"})
        after = await ask_daemon(modules, {"command": "status"})
        metrics = (await ask_daemon(modules, {"command": "metrics"}))["metrics"]
        manager._on_signal_daemon(signal.SIGTERM)
        status = await task
        return manager, everything, one, unknown, stopped, after, metrics, status

    manager, everything, one, unknown, stopped, after, metrics, status = run(scenario())
    names = {c["name"]: (c["netdev"], c["usb_path"], c["state"]) for c in everything["connections"]}
    assert names == {"a": ("wwan0", "1-1.2", "connected"), "b": ("wwan1", "1-1.3", "connected"),
                     "c": ("wwan2", "1-1.4", "connected")}
    assert one["status"]["name"] == "b" and one["status"]["netdev"] == "wwan1"
    assert not unknown["ok"] and unknown["unknown"] and unknown["netdevs"] == ["wwan0", "wwan1", "wwan2"]
    assert stopped == {"ok": True, "stopped": "wwan1"}
    states = {c["name"]: c["state"] for c in after["connections"]}
    assert states == {"a": "connected", "b": "stopped", "c": "connected"}  # the others went on
    assert 'qcm_connected{module="a",netdev="wwan0"} 1' in metrics
    assert 'qcm_connected{module="b",netdev="wwan1"} 0' in metrics
    assert 'qcm_call_up{family="ipv6",module="c",netdev="wwan2",pdn="1"} 1' in metrics
    assert status == 0 and not socket_path(tmp_path / "run", DAEMON).exists()
    for modem in modules.modems.values():  # every call stopped, every client released
        assert modem.modem.calls == {} and modem.modem.held_clients() == {}
    assert all(c.torn_down for c in manager.connections.values())
    assert (tmp_path / "metrics.prom").read_text().count("qcm_connected{") == 3


def test_a_failing_module_leaves_the_others_and_a_late_one_gets_its_connection(tmp_path):
    modules = Modules(tmp_path)
    modules.add(0)
    modules.add(1, request_errors={"WDS Start Network": "InvalidProfile"})  # no retry can cure it: exit 7

    async def scenario():
        manager, watcher = daemon(modules, [Wanted(None, modules.options())])  # qcm connect --all
        task = asyncio.ensure_future(manager.run(watcher))
        await until(lambda: len(manager.connections) == 2)
        first, failing = manager.connections["1-1.2"], manager.connections["1-1.3"]
        await until(lambda: connected(first.service) and failing.exit_status is not None)
        modules.add(2)  # plugged in while the daemon runs
        await until(lambda: "1-1.4" in manager.connections and connected(manager.connections["1-1.4"].service))
        listed = await ask_daemon(modules, {"command": "status"})
        manager._on_signal_daemon(signal.SIGTERM)
        return await task, failing, listed

    status, failing, listed = run(scenario())
    assert status == 0
    assert failing.exit_status == 7 and failing.failure
    states = {c["name"]: c["state"] for c in listed["connections"]}
    assert states == {"1-1.2": "connected", "1-1.3": "failed", "1-1.4": "connected"}
    failed = next(c for c in listed["connections"] if c["name"] == "1-1.3")
    assert failed["exit_status"] == 7 and failed["last_error"]
    assert any("stopped:" in line and "exit status 7" in line for line in modules.recorder.lines())


def test_a_module_that_resets_is_waited_for_by_its_own_connection(tmp_path):
    modules = Modules(tmp_path)
    modules.add(0)
    modules.add(1)

    async def scenario():
        manager, watcher = daemon(modules, [Wanted(None, modules.options())])
        task = asyncio.ensure_future(manager.run(watcher))
        await until(lambda: len(manager.connections) == 2 and all(connected(c.service)
                                                                  for c in manager.connections.values()))
        second = manager.connections["1-1.3"]
        modules.modems["1-1.3"].vanish()
        await until(lambda: second.service.supervisor.reconnects == 1 and connected(second.service))
        count = len(manager.connections)
        manager._on_signal_daemon(signal.SIGTERM)
        return await task, count, manager

    status, count, manager = run(scenario())
    assert status == 0 and count == 2  # the same connection came back: no second one for the module
    assert manager.connections["1-1.2"].service.supervisor.reconnects == 0


def test_qcm_connect_keeps_one_connection_and_its_own_socket(tmp_path):
    modules = Modules(tmp_path)
    modules.add(0)

    async def scenario():
        manager = Manager(replace(modules.options(), name=None), modules.recorder, make_host=RecordingHost)
        task = asyncio.ensure_future(manager.run())
        await until(lambda: connected(manager.service))
        own = socket_path(tmp_path / "run", "wwan0").exists()
        daemon_socket = socket_path(tmp_path / "run", DAEMON).exists()
        manager._on_signal_single(signal.SIGTERM, task)
        return await task, own, daemon_socket

    status, own, daemon_socket = run(scenario())
    assert status == 0 and own and not daemon_socket


def test_a_configuration_whose_module_is_not_there_is_listed_as_waiting(tmp_path):
    modules = Modules(tmp_path)
    modules.add(0)

    async def scenario():
        manager, watcher = daemon(modules, [Wanted("here", modules.options(), {"usb_path": "1-1.2"}),
                                            Wanted("later", modules.options(), {"imei": "866758045439144"})])
        task = asyncio.ensure_future(manager.run(watcher))
        await until(lambda: "here" in manager.connections and connected(manager.connections["here"].service))
        listed = await ask_daemon(modules, {"command": "status"})
        manager._on_signal_daemon(signal.SIGTERM)
        await task
        return listed

    listed = run(scenario())
    from json_schemas import validate
    validate("status", {"schema_version": 1, "connections": listed["connections"]})
    waiting = next(c for c in listed["connections"] if c["name"] == "later")
    assert waiting["state"] == "waiting for its module (imei 866758045439144)" and waiting["netdev"] is None
