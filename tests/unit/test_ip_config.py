"""What the link's protocols say becomes what the backend must hear: a changed lease or prefix
asks the host to follow, a lost one drops the bearer; the first one wakes whoever waits.
(The sockets are exercised by the end-to-end and udhcpd interop tests.)"""

import asyncio
import ipaddress

from dhcp_lab import Link
from qcm.connect import events as ev
from qcm.dhcp.client import LeaseLost, LeaseObtained, LeaseRenewed
from qcm.dhcp.ra import PrefixChanged, PrefixLost, PrefixObtained
from qcm.io.ip_config import DynamicIp
from qcm.model import IpSettings

V6 = IpSettings(6, ipaddress.ip_interface("2001:db8::2/64"), ipaddress.ip_address("fe80::1"))


def test_lease_and_prefix_events_become_changes_and_losses():
    async def scenario():
        reports, changed, lost = [], [], []
        ip = DynamicIp("usb0", reports.append, changed.append, lambda family, why: lost.append((family, why)))
        link = Link()
        link.start()
        lease = link.of(LeaseObtained)[0].lease
        waiter = asyncio.get_running_loop().create_future()
        ip._waiters[4] = waiter
        ip._on_dhcp(LeaseObtained(lease))
        assert waiter.result() == lease.settings() and changed == []  # the first lease wakes the waiter
        ip._on_dhcp(LeaseRenewed(lease, False))
        assert changed == [] and any(isinstance(r, ev.DhcpLease) and r.renewed for r in reports)
        ip._on_dhcp(LeaseRenewed(lease, True))
        ip._on_dhcp(LeaseObtained(lease))  # a lease again after a loss: the host must follow
        assert changed == [4, 4]
        ip._on_dhcp(LeaseLost(lease, "the lease expired"))
        assert lost == [(4, "the lease expired")]
        ip._on_advert(PrefixObtained(V6))
        ip._on_advert(PrefixChanged(V6))
        ip._on_advert(PrefixLost("withdrawn"))
        assert changed == [4, 4, 6, 6] and lost[-1] == (6, "withdrawn")
    asyncio.run(scenario())


def test_at_backend_maps_them_to_its_live_bearers():
    from qcm.backends.at.backend import AtBackend
    from qcm.backends.base import BackendContext, Bearer, BearerId, DialPlan
    from qcm.connect import supervisor as sv
    from qcm.discovery import Modem

    modem = Modem("1-1", 0x2C7C, 0x0125, "", "", "EC25", "ethernet", "cdc_ether", "", 4, "/dev/ttyUSB2", "usb0", None,
                  "/dev/ttyUSB2")
    emitted = []
    backend = AtBackend(modem, BackendContext(DialPlan(), lambda e: None, emitted.append))
    bearer = Bearer(BearerId(1, 4), "usb0", V6, {"cid": 1, "style": "qnetdevctl"})
    backend.live[bearer.id] = bearer
    backend._address_changed(4)
    backend._address_changed(6)  # no IPv6 bearer: nothing
    backend._address_lost(4, "the lease expired")
    assert emitted == [sv.AddressChanged(BearerId(1, 4)), sv.CallDropped(BearerId(1, 4), "IPv4: the lease expired")]
