"""quectel-CM's log in Ethernet-style modes: the AT dial and the DHCP lease, as the C tool shows them."""

from qcm.cli.quectel_cm import QuectelLog
from qcm.connect import events as ev


def lines(event):
    return QuectelLog().lines(event)


def test_ecm_module_found():
    found = ev.ModemFound("d", "3-1", "2c7c:0700", "/dev/ttyUSB2", "usb0", "cdc_ether", "", "ethernet")
    assert lines(found) == ["Find /sys/bus/usb/devices/3-1 idVendor=0x2c7c idProduct=0x700",
                            "Auto find usbnet_adapter = usb0", "AT port = /dev/ttyUSB2",
                            "netcard driver = cdc_ether, driver version = unknown", "Modem works in ECM mode"]
    rndis = ev.ModemFound("d", "1-1.2", "2c7c:0125", "/dev/ttyUSB2", "usb0", "rndis_host", "", "ethernet")
    assert lines(rndis)[-1] == "Modem works in RNDIS mode"


def test_at_dial_and_dhcp_lines():
    assert lines(ev.ContextActivated(1, "AT+QNETDEVCTL=1,1,1", "10.25.16.79")) == [
        "AT> AT+QNETDEVCTL=1,1,1", "requestGetIPAddress 10.25.16.79"]
    lease = ev.DhcpLease("usb0: ...", netdev="usb0", address="192.0.2.100/24", server="192.0.2.1", lease_time=7200)
    assert lines(lease) == ["udhcpc: lease of 192.0.2.100 obtained, lease time 7200"]
