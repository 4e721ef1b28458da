"""The connection service with the QMI backend and the simulated modem in one process: no root,
no pty, no namespace. Dial, drops, every recovery class, --once, and the lifecycle around it."""

import asyncio
import json

import pytest

from memory_lab import MemoryLab, connected
from qcm.connect.manager import Manager
from qcm.connect.options import DialPlan
from qcm.errors import CallRejectedError, Recovery

BOTH = DialPlan(apn="internet", families=(4, 6))
INVALID_PROFILE = '[request_errors]\n"WDS Start Network" = "InvalidProfile"\n'


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


def test_once_dials_both_families_and_hands_the_calls_over(tmp_path):
    async def scenario():
        lab = MemoryLab(tmp_path)
        assert await lab.run(lab.options(BOTH, once=True)) == 0
        return lab
    lab = run(scenario())
    lines = lab.recorder.lines()
    assert any(line.startswith("connected in") for line in lines), lines
    assert lab.modem.modem.held_clients() == {"WDS": 2}  # the calls' clients stay, every other one released
    saved = json.loads((tmp_path / "run" / "wwan0.json").read_text())
    assert [(b["pdn"], b["family"]) for b in saved["bearers"]] == [(1, 4), (1, 6)]
    assert all(set(b["handle"]) == {"cid", "packet_data_handle"} for b in saved["bearers"])
    assert len(lab.modem.modem.calls) == 2


def test_supervised_drop_is_redialled_and_the_teardown_releases_everything(tmp_path):
    async def scenario():
        lab = MemoryLab(tmp_path)
        options = lab.options(BOTH)
        service = lab.make(options)
        task = asyncio.ensure_future(service.run())
        await until(lambda: connected(service))
        lab.modem.drop()
        await until(lambda: service.supervisor.reconnects == 1 and connected(service))
        status = service.status()
        service.stop("test")
        assert await task == 0
        await service.teardown()
        return lab, status
    lab, status = run(scenario())
    assert status["state"] == "connected" and [b["state"] for b in status["bearers"]] == ["up", "up"]
    assert "regular-deactivation" in status["last_error"]
    assert lab.modem.modem.held_clients() == {} and lab.modem.modem.calls == {}
    assert any("connected -> connecting: the network ended the IPv4 call" in line for line in lab.recorder.lines())


async def until(predicate, timeout=15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def test_invalid_profile_on_start_network_is_one_line_and_a_documented_status(tmp_path):
    async def once():
        lab = MemoryLab(tmp_path / "once", toml=INVALID_PROFILE)
        with pytest.raises(CallRejectedError) as caught:
            await lab.run(lab.options(once=True))
        return caught.value

    async def supervised():
        lab = MemoryLab(tmp_path / "supervised", toml=INVALID_PROFILE)
        return await lab.run(lab.options()), lab
    (tmp_path / "once").mkdir()
    (tmp_path / "supervised").mkdir()
    error = run(once())
    assert error.exit_status == 7 and error.recovery == Recovery.FATAL
    assert str(error) == ("IPv4 call refused: QMUXError 0x0a InvalidProfile: the profile index does not exist on "
                          "the modem")
    assert "-n" in error.hint
    status, lab = run(supervised())
    assert status == 7  # stops: no retry can create the profile
    stopping = [line for line in lab.recorder.lines() if "-> stopping" in line]
    assert stopping and "InvalidProfile" in stopping[0] and "hint:" in stopping[0]


@pytest.mark.parametrize("config,plan,state,recovery", [
    ({"sim": "absent"}, {}, "backing-off (waiting for a SIM)", Recovery.WAIT_FOR_SIM),
    ({"registration": "denied", "reject_cause": 15}, {"register_timeout": 0.3}, "backing-off (waiting for the network)",
     Recovery.WAIT_FOR_NETWORK),
    ({"registration": "searching"}, {"register_timeout": 0.3}, "backing-off", Recovery.RESET),
    ({"toml": '[[apn]]\nname = "other"\n'}, {}, "backing-off", Recovery.RETRY),
])
def test_each_recovery_class_is_what_the_supervisor_does(tmp_path, config, plan, state, recovery):
    async def scenario():
        lab = MemoryLab(tmp_path, **config)
        service = lab.make(lab.options(DialPlan(apn="internet", **plan)))
        task = asyncio.ensure_future(service.run())
        try:
            await until(lambda: service.supervisor.failures >= 1)
            return service.status(), service.supervisor
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await service.teardown()
    status, supervisor = run(scenario())
    assert status["state"] == state, status
    assert supervisor.failure_recovery == recovery
    assert supervisor.climbs == (1 if recovery == Recovery.RESET else 0)


def test_a_sim_inserted_while_waiting_connects_at_once(tmp_path):
    async def scenario():
        lab = MemoryLab(tmp_path, sim="absent")
        service = lab.make(lab.options(DialPlan(apn="internet")))
        task = asyncio.ensure_future(service.run())
        await until(lambda: service.supervisor.waiting == "waiting for a SIM")
        lab.modem.send(lab.modem.modem.set_sim_state("ready", 0.0))
        await until(lambda: connected(service), timeout=5)  # long before the backoff would have ended
        service.stop("test")
        await task
        await service.teardown()
    run(scenario())


def test_a_wrong_pin_stops_with_the_sim_status_and_is_remembered(tmp_path):
    async def scenario():
        lab = MemoryLab(tmp_path, sim="pin", pin="1234")
        return await lab.run(lab.options(DialPlan(apn="internet", pin="9999"))), lab
    status, lab = run(scenario())
    assert status == 4 and lab.modem.modem.pin_retries == 2
    assert list((tmp_path / "state" / "pin").glob("*.json"))


def test_the_module_vanishing_and_coming_back_is_redialled(tmp_path):
    async def scenario():
        lab = MemoryLab(tmp_path)
        service = lab.make(lab.options(DialPlan(apn="internet")))
        task = asyncio.ensure_future(service.run())
        await until(lambda: connected(service))
        lab.modem.vanish()
        await until(lambda: service.supervisor.reconnects == 1 and connected(service))
        service.stop("test")
        await task
        await service.teardown()
        return lab
    lab = run(scenario())
    lines = lab.recorder.lines()
    assert any("-> waiting-for-modem: the control port vanished" in line for line in lines), lines
    assert any("waiting-for-modem -> connecting: the module is back" in line for line in lines), lines


def test_the_manager_answers_status_and_disconnect_on_its_control_socket(tmp_path):
    from memory_lab import RecordingHost
    from qcm.io.control import ask

    async def scenario():
        lab = MemoryLab(tmp_path)
        manager = Manager(lab.options(BOTH), lab.recorder, make_host=RecordingHost)
        task = asyncio.ensure_future(manager.run())
        await until(lambda: connected(manager.service))
        loop = asyncio.get_running_loop()
        socket = tmp_path / "run" / "wwan0.sock"
        status = await loop.run_in_executor(None, ask, socket, {"command": "status"})
        metrics = await loop.run_in_executor(None, ask, socket, {"command": "metrics"})
        await loop.run_in_executor(None, ask, socket, {"command": "disconnect"})
        return await task, status, metrics, socket.exists()
    status_code, status, metrics, socket_left = run(scenario())
    assert status_code == 0 and not socket_left
    assert status["status"]["backend"] == "qmi" and status["status"]["model"] == "EC25"
    assert 'qcm_call_up{family="ipv6",netdev="wwan0",pdn="1"} 1' in metrics["metrics"]


def test_a_drop_checks_the_other_bearers_whose_end_went_unheard(tmp_path):
    # The fault storm's case: while the modem did not answer, both calls ended and the news was lost;
    # when IPv4 is found down, IPv6 must not stay "up" until the next poll, a minute later.
    async def scenario():
        lab = MemoryLab(tmp_path)
        service = lab.make(lab.options(BOTH, poll_interval=600.0))
        task = asyncio.ensure_future(service.run())
        await until(lambda: connected(service))
        modem = lab.modem.modem
        v4, v6 = (next(c for c, call in modem.calls.items() if call.family == f) for f in (4, 6))
        modem.end_call(v6, "gsm-wcdma-regular-deactivation", ("internal", "call-ended"))  # unannounced
        lab.modem.send(modem.end_call(v4, "gsm-wcdma-regular-deactivation", ("internal", "call-ended")))
        await until(lambda: len(modem.calls) == 2 and connected(service), timeout=10)
        service.stop("test")
        await task
        await service.teardown()
        return lab
    lab = run(scenario())
    assert any("IPv6 call found down after IPv4 went down" in line for line in lab.recorder.lines())
