"""Debian's udhcpc (busybox) on the simulated module's interface, as most guides and seed 001's
user run it: it gets the QMI call's address in raw-IP framing, and no lease while the host's
qmi/raw_ip is N (seed 001), exactly as on a real module."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Tuple

import pytest

pytestmark = [pytest.mark.interop, pytest.mark.root]


def start_call(lab, family: int = 4, apn: str = "internet") -> Tuple[str, str]:
    """A call started with qmicli, as a user would; returns (client id, address)."""
    control = lab.info["control_link"]
    out = lab.ns.run(["qmicli", "--device-open-qmi", "-d", control, "--wds-start-network=apn=%s,ip-type=%d" % (apn, family),
                      "--client-no-release-cid"]).stdout
    cid = re.search(r"CID: '(\d+)'", out).group(1)
    settings = lab.ns.run(["qmicli", "--device-open-qmi", "-d", control, "--wds-get-current-settings",
                           "--client-cid=" + cid, "--client-no-release-cid"]).stdout
    address = re.search(r"IPv%d address: ([0-9a-f.:]+)" % family, settings).group(1)
    return cid, address


def set_raw_ip(lab, value: bool) -> None:
    (Path(lab.info["sysfs_root"]) / "class" / "net" / "wwan0" / "qmi" / "raw_ip").write_text("Y\n" if value else "N\n")
    time.sleep(0.2)


def udhcpc(lab, interface: str = "wwan0", tries: int = 3):
    """udhcpc in the foreground, quitting after a lease, in its own PID namespace; its script does
    nothing (never the distribution's default script, which rewrites resolv.conf)."""
    return lab.ns.run(["unshare", "-p", "-f", "--mount-proc", "udhcpc", "-f", "-q", "-n", "-t", str(tries), "-T", "1",
                       "-i", interface, "-s", "/bin/true"], check=False, timeout=30)


def test_udhcpc_gets_the_call_address_in_raw_ip(lab):
    lab = lab()
    set_raw_ip(lab, True)
    _, address = start_call(lab)
    lab.ns.run(["ip", "link", "set", "wwan0", "up"])
    result = udhcpc(lab)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert re.search(r"lease of %s obtained.*lease time 7200" % re.escape(address), out), out


def test_seed_001_no_lease_while_raw_ip_is_n(lab):
    lab = lab("--scenario", "seed-001-bg96-no-lease")
    _, address = start_call(lab, apn="super")
    lab.ns.run(["ip", "link", "set", "wwan0", "up"])
    result = udhcpc(lab, tries=2)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "no lease" in out, out
    assert lab.sim_status()["data_path"].get("up-dropped-framing-mismatch", 0) >= 2
    lab.ns.run(["ip", "link", "set", "wwan0", "down"])
    set_raw_ip(lab, True)  # the fix the doctor gives
    lab.ns.run(["ip", "link", "set", "wwan0", "up"])
    result = udhcpc(lab)
    assert "lease of %s obtained" % address in result.stdout + result.stderr


def test_udhcpc_in_802_3_framing_with_arp_and_traffic(lab):
    """A module whose firmware does 802-3, with qmi/raw_ip N on both sides: Ethernet frames, ARP."""
    lab = lab("--model", "BG96", "--data-format", "802-3")
    _, address = start_call(lab)
    lab.ns.run(["ip", "link", "set", "wwan0", "up"])
    assert lab.ns.run(["ip", "-j", "link", "show", "wwan0"]).stdout.count('"link_type":"ether"') == 1
    result = udhcpc(lab)
    out = result.stdout + result.stderr
    match = re.search(r"lease of %s obtained" % re.escape(address), out)
    assert match, out
    settings = lab.ns.run(["qmicli", "--device-open-qmi", "-d", lab.info["control_link"], "--wds-get-current-settings"],
                          check=False).stdout
    del settings  # the address came from DHCP; the gateway answers ARP as the module's router:
    gateway = str(__import__("ipaddress").ip_address(address) - 1)
    lab.ns.run(["ip", "address", "add", address + "/30", "dev", "wwan0"])
    lab.ns.run(["ip", "route", "add", "default", "via", gateway])
    assert lab.ping("198.51.100.1"), lab.sim_status()["data_path"]


@pytest.mark.parametrize("scenario", [(), ("--model", "BG96", "--data-format", "802-3")], ids=["raw-ip", "802-3"])
def test_router_advertisement_gives_the_call_prefix(lab, scenario):
    lab = lab(*scenario)
    if not scenario:
        set_raw_ip(lab, True)
    _, address = start_call(lab, family=6)
    prefix = address.rsplit(":", 4)[0]  # the call's /64
    lab.ns.run(["sysctl", "-w", "net.ipv6.conf.wwan0.accept_ra=2"])
    lab.ns.run(["ip", "link", "set", "wwan0", "up"])
    deadline = time.monotonic() + 15
    found = ""
    while time.monotonic() < deadline and (prefix not in found or "tentative" in found):  # until DAD is done
        found = lab.ns.run(["ip", "-6", "address", "show", "dev", "wwan0", "scope", "global"]).stdout
        time.sleep(0.2)
    assert prefix in found, (prefix, found, lab.sim_status()["data_path"])
    routes = lab.ns.run(["ip", "-6", "route", "show", "default"]).stdout
    assert "fe80::1" in routes and "wwan0" in routes, routes
    assert lab.ping("2001:db8:100::1"), (lab.sim_status()["data_path"], lab.ns.run(["ip", "-6", "neigh"]).stdout, found)
