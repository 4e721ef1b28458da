"""Discovery in Ethernet-style modes: the AT port is the module's control port (what the AT
backend dials on), and a module without a serial driver has none."""

from dataclasses import replace

from qcm.backends import backend_for
from qcm.discovery import scan
from qcm.sim.config import SimConfig
from qcm.sim.sysfs import lay_out


def test_in_ecm_rndis_and_ncm_the_at_port_is_the_control_port(tmp_path):
    for mode in ("ecm", "rndis", "ncm"):
        root = tmp_path / mode
        lay_out(root, replace(SimConfig(), usbnet=mode), "/dev/pts/98", {2: "/dev/pts/99"})
        (modem,) = scan(root / "sys", root / "dev")
        assert modem.mode == "ethernet" and modem.netdev == "usb0" and modem.raw_ip is None
        assert modem.control == modem.at_port == str(root / "dev" / "ttyUSB2")
        assert backend_for(modem).__name__ == "AtBackend"
        assert modem.describe().count("ttyUSB2") == 1


def test_without_a_serial_driver_there_is_no_control_port(tmp_path):
    lay_out(tmp_path, replace(SimConfig(), usbnet="ecm", serial_driver=""), "/dev/pts/98")
    (modem,) = scan(tmp_path / "sys", tmp_path / "dev")
    assert modem.mode == "ethernet" and modem.control is None and modem.at_port is None
