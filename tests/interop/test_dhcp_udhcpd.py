"""Our DHCP client against an unmodified server: busybox's udhcpd (Debian's busybox, which udhcpc
brings) on the far end of a veth pair between two namespaces. Lease, options, a unicast renewal
answered (udhcpd logs no releases), as a real network carries them (Ethernet, ARP, the kernel)."""

from __future__ import annotations

import json
import subprocess

import pytest

from netns import stop_process

pytestmark = [pytest.mark.interop, pytest.mark.root]

CLIENT = r"""
import asyncio, ipaddress, json, time
from qcm.io.ip_config import DynamicIp
from qcm.io.netlink import Netlink
from qcm.connect import events as ev

async def main():
    seen, changed, lost = [], [], []
    ip = DynamicIp("qd0", seen.append, changed.append, lambda family, why: lost.append(why))
    settings = await ip.acquire(4, 20)
    with Netlink() as nl:  # what qcm's host code does with it: the renewal's answer comes to this address
        nl.add_address(nl.link("qd0").index, settings.address.ip, settings.address.network.prefixlen)
    ip.dhcp.renew(time.monotonic())
    ip._after(4)
    for _ in range(100):
        if any(isinstance(e, ev.DhcpLease) and e.renewed for e in seen):
            break
        await asyncio.sleep(0.05)
    renewed = [e.text for e in seen if isinstance(e, ev.DhcpLease) and e.renewed]
    ip.close(release=True)
    await asyncio.sleep(0.3)
    print(json.dumps({"address": str(settings.address), "gateway": str(settings.gateway),
                      "dns": [str(d) for d in settings.dns], "renewed": renewed, "changed": changed, "lost": lost}))

asyncio.run(main())
"""


def test_our_client_gets_renews_and_releases_a_lease_from_udhcpd(netns, tmp_path):
    client, server = netns("qcmd"), netns("qcmd")
    client.run(["ip", "link", "add", "qd0", "type", "veth", "peer", "name", "qd1"])
    client.run(["ip", "link", "set", "qd1", "netns", server.name])
    server.run(["ip", "address", "add", "192.0.2.1/24", "dev", "qd1"])
    server.run(["ip", "link", "set", "qd1", "up"])
    config = tmp_path / "udhcpd.conf"
    config.write_text("\n".join([
        "start 192.0.2.100", "end 192.0.2.110", "interface qd1", "lease_file %s" % (tmp_path / "leases"),
        "pidfile %s" % (tmp_path / "udhcpd.pid"), "opt subnet 255.255.255.0", "opt router 192.0.2.1",
        "opt dns 192.0.2.53", "opt lease 600", ""]))
    log = (tmp_path / "udhcpd.log").open("w")
    udhcpd = subprocess.Popen(server.argv(["busybox", "udhcpd", "-f", "-a", "100", str(config)]), stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        out = client.python(CLIENT, timeout=60)
    finally:
        stop_process(udhcpd, grace=5)
        log.close()
    result = json.loads(out.strip().splitlines()[-1])
    served = (tmp_path / "udhcpd.log").read_text()
    address = result["address"].split("/")[0]
    assert result["address"].endswith("/24") and 100 <= int(address.split(".")[3]) <= 110, (result, served)
    assert result["gateway"] == "192.0.2.1"
    assert result["dns"] == ["192.0.2.53"]
    assert result["renewed"] and not result["changed"] and not result["lost"], result
    assert "sending OFFER to %s" % address in served and served.count("sending ACK to %s" % address) == 2, served
