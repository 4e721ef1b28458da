"""Ethernet-style modes (ECM, RNDIS, NCM): the module as the kernel shows it (cdc_ether, rndis_host,
cdc_ncm; an Ethernet usb0), dialled over its AT port as the firmware expects, with its own router
behind usb0: Debian's udhcpc gets a LAN lease, and traffic goes through the module's NAT."""

from __future__ import annotations

import os
import re
import select
import time
from pathlib import Path
from typing import List

import pytest

from test_udhcpc import udhcpc

pytestmark = [pytest.mark.interop, pytest.mark.root]


class AtClient:
    """A terminal program on the module's AT port: one command at a time, URCs collected."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        self.buffer = b""
        self.urcs: List[str] = []   # unsolicited lines that came with answers
        self.command("ATE0")

    def _lines(self, until: float) -> List[str]:
        while time.monotonic() < until:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, until - time.monotonic()))
            if not ready:
                break
            self.buffer += os.read(self.fd, 4096)
            if b"OK\r\n" in self.buffer or b"ERROR" in self.buffer:
                break
        lines = [line.strip() for line in self.buffer.decode().split("\r\n") if line.strip()]
        self.buffer = b""
        self.urcs += [line for line in lines if line.startswith(("+QNETDEVSTATUS: 1,", "+QIURC"))]
        return [line for line in lines if not line.startswith(("+QNETDEVSTATUS: 1,", "+QIURC"))]

    def command(self, line: str, timeout: float = 5) -> List[str]:
        os.write(self.fd, (line + "\r").encode())
        return self._lines(time.monotonic() + timeout)

    def wait_for(self, text: str, timeout: float = 5) -> List[str]:
        deadline = time.monotonic() + timeout
        seen, self.urcs = self.urcs, []
        while time.monotonic() < deadline and not any(text in line for line in seen):
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                seen += [line.strip() for line in os.read(self.fd, 4096).decode().split("\r\n") if line.strip()]
        return seen

    def close(self) -> None:
        os.close(self.fd)


def lease(lab, interface: str = "usb0") -> str:
    result = udhcpc(lab, interface)
    out = result.stdout + result.stderr
    match = re.search(r"lease of ([0-9.]+) obtained", out)
    assert match, out
    return match.group(1)


@pytest.mark.parametrize("mode,driver", [("ecm", "cdc_ether"), ("rndis", "rndis_host"), ("ncm", "cdc_ncm")])
def test_ec25_in_ethernet_mode_dials_over_at_and_routes_with_nat(lab, mode, driver):
    lab = lab("--set", "usbnet=" + mode)
    sysfs = Path(lab.info["sysfs_root"])
    assert os.path.basename(os.readlink(sysfs / "bus" / "usb" / "devices" / "1-1.2:1.4" / "driver")) == driver
    assert (sysfs / "class" / "net" / "usb0").exists() and lab.info["netdev"] == "usb0"
    lab.ns.run(["ip", "link", "set", "usb0", "up"])
    assert '"link_type":"ether"' in lab.ns.run(["ip", "-j", "link", "show", "usb0"]).stdout
    at = AtClient(lab.info["at_port"])
    try:
        assert lease(lab) == "192.0.2.100"  # the module's LAN answers before any call
        assert at.command("AT+QNETDEVSTATUS=1")[-1] == "ERROR"
        assert at.command("AT+QNETDEVCTL=1,1,1")[-1] == "OK"
        assert any(line.startswith('+QNETDEVSTATUS: 1,1') for line in at.wait_for("+QNETDEVSTATUS"))
        status = at.command("AT+QNETDEVSTATUS=1")
        assert status[0].startswith("+QNETDEVSTATUS: ") and status[-1] == "OK"
        lab.ns.run(["ip", "address", "add", "192.0.2.100/24", "dev", "usb0"])
        lab.ns.run(["ip", "route", "add", "default", "via", "192.0.2.1"])
        assert lab.ping("198.51.100.1"), lab.sim_status()["data_path"]
        address = lab.sim_status()["calls"][0]["address"].split("/")[0]
        assert address.startswith("100.64.")  # the carrier saw the call's address: NAT
        assert at.command("AT+CGPADDR=1")[0].startswith('+CGPADDR: 1,"%s"' % address)
        lab.qcm("sim", "ctl", str(lab.modem_dir), "drop")
        assert any(line.startswith("+QNETDEVSTATUS: 1,0") for line in at.wait_for("+QNETDEVSTATUS"))
        assert not lab.ping("198.51.100.1")
    finally:
        at.close()


def test_bg95_in_ecm_activates_with_qiact(lab):
    lab = lab("--scenario", "seed-002-bg95-qmi", "--set", "usbnet=ecm", "--set", "serial_driver=option",
              "--set", "ps_attached=true")
    lab.ns.run(["ip", "link", "set", "usb0", "up"])
    at = AtClient(lab.info["at_port"])
    try:
        assert at.command("AT+QNETDEVCTL=1,1,1")[-1] == "ERROR"  # not on BG95-class firmware
        assert at.command('AT+QICSGP=1,1,"simplex.iot","","",0')[-1] == "OK"
        assert at.command("AT+QIACT=1")[-1] == "OK"
        assert re.match(r'\+QIACT: 1,1,1,"100\.64\.', at.command("AT+QIACT?")[0])
        address = lease(lab)
        lab.ns.run(["ip", "address", "add", address + "/24", "dev", "usb0"])
        lab.ns.run(["ip", "route", "add", "default", "via", "192.0.2.1"])
        assert lab.ping("198.51.100.1"), lab.sim_status()["data_path"]
        lab.qcm("sim", "ctl", str(lab.modem_dir), "drop")
        assert '+QIURC: "pdpdeact",1' in at.wait_for("pdpdeact")
    finally:
        at.close()


def test_without_nat_the_lease_is_the_call_address(lab):
    lab = lab("--set", "usbnet=ecm", "--set", "nat=false")
    lab.ns.run(["ip", "link", "set", "usb0", "up"])
    at = AtClient(lab.info["at_port"])
    try:
        assert at.command("AT+QCFG=\"nat\"")[0] == '+QCFG: "nat",0'
        assert at.command("AT+CGACT=1,1")[-1] == "OK"
        assert at.command("AT+CGACT?")[0] == "+CGACT: 1,1"
        assert lease(lab) == lab.sim_status()["calls"][0]["address"].split("/")[0]
    finally:
        at.close()
