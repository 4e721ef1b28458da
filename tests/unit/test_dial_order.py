"""What the QMI dial asks before the call and what it leaves until the call is up (issue 15: the call
waits only for what it needs), with the simulated modem in one process."""

import asyncio

from memory_lab import MemoryLab, connected
from qcm.connect import events as ev
from qcm.connect.options import DialPlan
from qcm.qmi.message import decode

BOTH = DialPlan(apn="internet", families=(4, 6))
AFTER_THE_CALL = {("DMS", "Get Revision"), ("DMS", "Get IDs"), ("DMS", "Get Model"), ("DMS", "Get Manufacturer"),
                  ("NAS", "Get Signal Info"), ("NAS", "Register Indications"), ("UIM", "Register Events")}


def recording(lab: MemoryLab) -> list:
    """Every request the modem is sent, as (service, name), in order."""
    requests = []
    handle = lab.modem.modem.handle

    def recorded(frame, now):
        message = decode(frame)
        if message.kind == "request":
            requests.append((message.service_name, message.name))
        return handle(frame, now)
    lab.modem.modem.handle = recorded
    return requests


def before_the_call(requests: list) -> set:
    return set(requests[:requests.index(("WDS", "Start Network"))])


def test_the_call_waits_only_for_what_it_needs_and_the_rest_follows(tmp_path):
    async def scenario():
        lab = MemoryLab(tmp_path)
        requests = recording(lab)
        assert await lab.run(lab.options(BOTH, once=True)) == 0
        return lab, requests
    lab, requests = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert before_the_call(requests) & AFTER_THE_CALL == set()
    assert before_the_call(requests) >= {("WDA", "Get Data Format"), ("UIM", "Get Card Status"),
                                         ("DMS", "Get Operating Mode"), ("NAS", "Get Serving System"),
                                         ("WDS", "Get Profile Settings")}
    assert AFTER_THE_CALL <= set(requests)  # asked once the call was up, answered before --once ends
    identified = [e for e in lab.recorder.events if isinstance(e, ev.Identified)]
    assert identified and identified[0].identity.model == "EC25"


def test_status_still_has_the_module_the_signal_and_hears_the_network(tmp_path):
    async def scenario():
        lab = MemoryLab(tmp_path)
        requests = recording(lab)
        service = lab.make(lab.options(BOTH))
        task = asyncio.ensure_future(service.run())
        deadline = asyncio.get_running_loop().time() + 15
        while not (connected(service) and service.status()["model"]
                   and service.status()["registration"]["signal_dbm"] is not None):
            assert asyncio.get_running_loop().time() < deadline, service.status()
            await asyncio.sleep(0.01)
        status = service.status()
        service.stop("test")
        assert await task == 0
        await service.teardown()
        return status, requests
    status, requests = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert status["model"] == "EC25" and status["revision"]
    assert ("NAS", "Register Indications") in requests and ("UIM", "Register Events") in requests


def test_a_network_not_there_yet_is_heard_of_by_indication(tmp_path):
    """Not registered when the dial looks: the indications are registered before waiting, so the call starts
    when the network comes (the simulator announces it), not at the next poll."""
    async def scenario():
        lab = MemoryLab(tmp_path, register_after_s=0.5)
        requests = recording(lab)
        assert await lab.run(lab.options(BOTH, once=True)) == 0
        return lab, requests
    lab, requests = asyncio.run(asyncio.wait_for(scenario(), 60))
    waiting = before_the_call(requests)
    assert ("NAS", "Register Indications") in waiting and ("NAS", "Get Signal Info") in waiting
    assert any(isinstance(e, ev.Waiting) for e in lab.recorder.events)
