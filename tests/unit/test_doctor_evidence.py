"""What the doctor opens and what it leaves alone, with the ports and the manager played (no modem): the
AT port that is a running manager's control port, a control port's other names, mbim-proxy."""

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from qcm.doctor import evidence, mbim_evidence
from qcm.modules import Modem


def modem(**changes):
    base = Modem(usb_path="1-1.2", vendor_id=0x2C7C, product_id=0x0125, manufacturer="Quectel", product="EC25",
                 model="EC25/EC20", mode="qmi", driver="qmi_wwan", driver_version="6.1.0", interface=4,
                 control="/dev/null", netdev="wwan0", raw_ip=True, at_port="/dev/zero")
    return replace(base, **changes)


@pytest.fixture
def opened(monkeypatch):
    """Which ports the doctor opens (none really is), with the holders and the manager given by the test."""
    seen = {"at": 0, "qmi": 0, "mbim": 0, "looked_up": []}
    state = {"holders": {}, "manager": None}

    async def fake_at(facts, path, timeout):
        seen["at"] += 1

    async def fake_qmi(facts, control, timeout):
        seen["qmi"] += 1

    async def fake_mbim(facts, modem, timeout):
        seen["mbim"] += 1

    def holders(paths):
        seen["looked_up"] = list(paths)
        return {p: h for p, h in state["holders"].items() if p in paths}

    monkeypatch.setattr(evidence, "_at", fake_at)
    monkeypatch.setattr(evidence, "_qmi", fake_qmi)
    monkeypatch.setattr(mbim_evidence, "gather", fake_mbim)
    monkeypatch.setattr(evidence, "port_holders", holders)
    monkeypatch.setattr(evidence, "manager_status", lambda run_dir, netdev: state["manager"])
    seen["state"] = state
    return seen


def gather(m):
    return asyncio.run(evidence.gather(m, Path("/nonexistent")))


def test_the_at_port_a_manager_dials_on_is_left_to_it(opened):
    ecm = modem(mode="ethernet", driver="cdc_ether", control="/dev/zero", netdev="usb0", raw_ip=None)
    opened["state"]["manager"] = {"pid": 4242, "state": "connected", "sim": "ready"}
    facts = gather(ecm)
    assert opened["at"] == 0 and "a qcm manager holds the AT port" in facts.at_problem
    opened["state"]["manager"] = None
    gather(ecm)
    assert opened["at"] == 1  # without a manager the doctor asks the AT port itself


def test_a_qmi_modules_at_port_is_still_read_next_to_its_manager(opened):
    opened["state"]["manager"] = {"pid": 4242, "state": "connected"}
    gather(modem())
    assert opened["at"] == 1 and opened["qmi"] == 0  # the control port is the manager's, the AT port is free


def test_the_control_ports_other_names_are_looked_up(opened):
    mbim = modem(mode="mbim", driver="cdc_mbim", control="/dev/null", control_aliases=("/dev/wwan0mbim0",))
    opened["state"]["holders"] = {"/dev/wwan0mbim0": [(77, "ModemManager")]}
    facts = gather(mbim)
    assert "/dev/wwan0mbim0" in opened["looked_up"]
    assert opened["mbim"] == 0 and "held by another process" in facts.qmi_problem


def test_mbim_proxy_is_gone_through_not_reported(opened):
    mbim = modem(mode="mbim", driver="cdc_mbim", control="/dev/null")
    opened["state"]["holders"] = {"/dev/null": [(78, "mbim-proxy")]}
    facts = gather(mbim)
    assert opened["mbim"] == 1 and not facts.qmi_problem


def test_an_fcc_locked_unit_qcm_unlocks_is_named(opened):
    rm520n = modem(mode="mbim", driver="mhi-pci-generic", bus="pci", vendor_id=0x1EAC, product_id=0x1007)
    assert gather(rm520n).fcc_unlock.startswith("RM520N-GL")
    assert gather(modem(mode="mbim", driver="cdc_mbim", vendor_id=0x2C7C, product_id=0x0801)).fcc_unlock == ""


def test_link_state_from_sysfs(tmp_path):
    net = tmp_path / "class" / "net" / "wwan0"
    net.mkdir(parents=True)
    m = modem(sysfs_root=str(tmp_path))
    assert evidence.link_up(m) is None
    (net / "flags").write_text("0x1091\n")
    assert evidence.link_up(m) is True
    (net / "flags").write_text("0x1090\n")
    assert evidence.link_up(m) is False
