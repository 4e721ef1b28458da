"""Several PDNs on one module, with the QMI backend and the simulated modem in one process (no
root): QMAP data format, a mux link and a mux binding per PDN, each PDN's own APN, profile and
interface, a PDN that drops coming back alone, and the single-PDN plan unchanged."""

import asyncio

from memory_lab import MemoryLab, RecordingHost, connected
from qcm.backends.base import DialPlan, Pdn
from qcm.connect.host import table_of

TWO_APNS = '''
[[apn]]
name = "internet"
[[apn]]
name = "corp.example"
auth = "chap"
username = "alice"
password = "s3cret"
host4 = "203.0.113.1"
host6 = "2001:db8:200::1"
[[apn]]
name = "ims"
[[apn]]
name = "iot"
'''

TWO = DialPlan(apn="internet", families=(4, 6), more_pdns=(
    Pdn(2, "corp.example", "alice", "s3cret", "chap", (4, 6)),))
FOUR = DialPlan(apn="internet", families=(4,), more_pdns=(
    Pdn(2, "corp.example", "alice", "s3cret", "chap", (4, 6)), Pdn(3, "ims", families=(6,)),
    Pdn(4, "iot", families=(4,))))


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 60))


async def until(predicate, timeout=15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


def hosts_by_netdev():
    return {h.netdev: h for h in RecordingHost.made}


def test_two_pdns_each_on_its_own_mux_link_with_its_own_apn(tmp_path):
    async def scenario():
        lab = MemoryLab(tmp_path, toml=TWO_APNS)
        service = lab.make(lab.options(TWO))
        task = asyncio.ensure_future(service.run())
        await until(lambda: connected(service))
        status = service.status()
        modem = lab.modem.modem
        calls = sorted((c.apn, c.family, c.mux_id) for c in modem.calls.values())
        service.stop("test")
        assert await task == 0
        await service.teardown()
        return lab, status, calls, modem

    lab, status, calls, modem = run(scenario())
    assert modem.aggregation == "qmap" and modem.link_layer == "raw-ip"
    assert calls == [("corp.example", 4, 0x82), ("corp.example", 6, 0x82), ("internet", 4, 0x81),
                     ("internet", 6, 0x81)]
    assert modem.profiles[2]["apn"] == "corp.example" and modem.profiles[2]["auth"] == "chap"
    assert [(b["pdn"], b["family"], b["netdev"], b["state"]) for b in status["bearers"]] == [
        (1, 4, "qmimux0", "up"), (1, 6, "qmimux0", "up"), (2, 4, "qmimux1", "up"), (2, 6, "qmimux1", "up")]
    hosts = hosts_by_netdev()
    assert hosts["wwan0"].aggregation == [16384]            # the parent: the answered downlink size as MTU
    assert hosts["qmimux0"].options.default_route and hosts["qmimux0"].options.table is None
    corp = hosts["qmimux1"].options
    assert not corp.default_route and corp.table == table_of(2) and not corp.dns_default
    assert modem.held_clients() == {} and modem.calls == {}
    lines = lab.recorder.lines()
    assert any("QMAP v1" in line for line in lines), lines


def test_four_pdns_come_up_and_one_dropped_comes_back_alone(tmp_path):
    async def scenario():
        lab = MemoryLab(tmp_path, toml=TWO_APNS)
        service = lab.make(lab.options(FOUR))
        task = asyncio.ensure_future(service.run())
        await until(lambda: connected(service))
        modem = lab.modem.modem
        before = {c.apn: c.handle for c in modem.calls.values() if c.family == 4}
        lab.modem.drop(apn="ims")
        await until(lambda: service.supervisor.reconnects == 1 and connected(service))
        after = {c.apn: c.handle for c in modem.calls.values() if c.family == 4}
        ims = [c for c in modem.calls.values() if c.apn == "ims"]
        service.stop("test")
        assert await task == 0
        await service.teardown()
        return lab, before, after, ims

    lab, before, after, ims = run(scenario())
    assert before == after  # the other PDNs' calls were never touched
    assert len(ims) == 1 and ims[0].family == 6 and ims[0].mux_id == 0x83
    assert sorted(hosts_by_netdev()) == ["qmimux0", "qmimux1", "qmimux2", "qmimux3", "wwan0"]


def test_one_pdn_plan_is_unchanged(tmp_path):
    async def scenario():
        lab = MemoryLab(tmp_path)
        service = lab.make(lab.options(DialPlan(apn="internet")))
        task = asyncio.ensure_future(service.run())
        await until(lambda: connected(service))
        status = service.status()
        service.stop("test")
        await task
        await service.teardown()
        return lab, status

    lab, status = run(scenario())
    assert lab.modem.modem.aggregation == "none"
    assert [b["netdev"] for b in status["bearers"]] == ["wwan0"]
    assert list(hosts_by_netdev()) == ["wwan0"] and not RecordingHost.made[0].aggregation


def test_one_pdn_turns_off_qmap_left_by_an_earlier_run(tmp_path):
    async def scenario():
        lab = MemoryLab(tmp_path, aggregation="qmap")
        assert await lab.run(lab.options(DialPlan(apn="internet")), until=connected) is None
        return lab
    assert run(scenario()).modem.modem.aggregation == "none"


def test_several_pdns_on_an_mbim_module_are_refused_in_one_line(tmp_path):
    from qcm.errors import NotImplementedOption
    import pytest

    async def scenario():
        lab = MemoryLab(tmp_path, usbnet="mbim")
        with pytest.raises(NotImplementedOption) as caught:
            await lab.run(lab.options(TWO))
        return caught.value
    error = run(scenario())
    assert error.exit_status == 12 and "QMI modules" in str(error)
