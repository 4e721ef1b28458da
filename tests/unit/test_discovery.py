"""Discovery from fake sysfs trees: modes, drivers, ports, raw_ip, and choosing one module."""

import os
from dataclasses import replace

import pytest

from qcm.discovery import mbim_max_control_transfer, scan, select
from qcm.errors import NoModemError, UsageError
from qcm.sim.config import SimConfig
from qcm.sim.sysfs import lay_out


def usb_device(sysfs, path, vendor, product, interfaces):
    """A USB device with interfaces given as (number, driver, {"net": name, "usbmisc": name, "tty": name})."""
    device = sysfs / "devices" / "usb1" / path
    device.mkdir(parents=True)
    (device / "idVendor").write_text("%04x\n" % vendor)
    (device / "idProduct").write_text("%04x\n" % product)
    (device / "manufacturer").write_text("Maker\n")
    (device / "product").write_text("Gadget\n")
    devices = sysfs / "bus" / "usb" / "devices"
    devices.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(device, devices), devices / path)
    for number, driver, children in interfaces:
        interface = device / ("%s:1.%d" % (path, number))
        interface.mkdir()
        (interface / "bInterfaceNumber").write_text("%02x\n" % number)
        if driver:
            (sysfs / "bus/usb/drivers" / driver).mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.relpath(sysfs / "bus/usb/drivers" / driver, interface), interface / "driver")
        for kind, name in children.items():
            if kind == "tty":
                (interface / name).mkdir()
            else:
                (interface / kind / name).mkdir(parents=True)


def test_the_simulators_tree(tmp_path):
    lay_out(tmp_path, SimConfig(), "/dev/pts/99")
    (modem,) = scan(tmp_path / "sys", tmp_path / "dev")
    assert modem.usb_id == "2c7c:0125" and modem.model == "EC25/EC20" and modem.mode == "qmi"
    assert modem.driver == "qmi_wwan" and modem.driver_version == "6.1.0" and modem.interface == 4
    assert modem.control == str(tmp_path / "dev" / "cdc-wdm0") and modem.netdev == "wwan0"
    assert modem.raw_ip is False and modem.at_port == str(tmp_path / "dev" / "ttyUSB2")
    assert [p.role for p in modem.ports].count("tty") == 3


@pytest.mark.parametrize("vendor,driver,mode", [(0x2C7C, "cdc_mbim", "mbim"), (0x2C7C, "cdc_ether", "ethernet"),
                                                (0x1E0E, "rndis_host", "ethernet"), (0x1199, "qmi_wwan", "qmi"),
                                                (0x2C7C, "GobiNet", "qmi")])
def test_modes_from_drivers_and_other_vendors(tmp_path, vendor, driver, mode):
    net = {"net": "usb0"}
    if driver == "cdc_mbim":
        net["usbmisc"] = "cdc-wdm1"
    if driver == "GobiNet":
        net["GobiQMI"] = "qcqmi0"
    usb_device(tmp_path, "2-1", vendor, 0x0700, [(2, "option", {"tty": "ttyUSB2"}), (4, driver, net)])
    (modem,) = scan(tmp_path, tmp_path / "dev")
    assert modem.mode == mode and modem.driver == driver and modem.netdev == "usb0"
    if driver == "GobiNet":
        assert modem.control.endswith("qcqmi0")


def test_a_usb_ethernet_adapter_is_not_a_modem(tmp_path):
    usb_device(tmp_path, "3-1", 0x0BDA, 0x8153, [(0, "cdc_ether", {"net": "eth1"})])
    assert scan(tmp_path, tmp_path) == []


def test_bg95_without_qmi_driver_still_shows_its_ports(tmp_path):
    usb_device(tmp_path, "3-1", 0x2C7C, 0x0700, [(0, None, {}), (2, "option", {"tty": "ttyUSB2"}),
                                                 (3, None, {})])
    (modem,) = scan(tmp_path, tmp_path / "dev")
    assert modem.mode == "none" and modem.model == "BG95/BG77/BG600L" and modem.at_port.endswith("ttyUSB2")


def test_root_hubs_and_interfaces_are_skipped(tmp_path):
    (tmp_path / "bus/usb/devices/usb1").mkdir(parents=True)
    (tmp_path / "bus/usb/devices/1-0:1.0").mkdir(parents=True)
    assert scan(tmp_path, tmp_path) == []


def test_choosing_among_several(tmp_path):
    lay_out(tmp_path / "a", SimConfig(), "/dev/pts/1")
    lay_out(tmp_path / "b", replace(SimConfig(), netdev="wwan1", control="cdc-wdm1", usb_path="2-1"), "/dev/pts/2")
    modems = scan(tmp_path / "a" / "sys", tmp_path / "a" / "dev") + scan(tmp_path / "b" / "sys", tmp_path / "b" / "dev")
    with pytest.raises(UsageError, match="2 modules found"):
        select(modems)
    assert select(modems, interface="wwan1").usb_path == "2-1"
    assert select(modems, usb_path="1-1.2").netdev == "wwan0"
    assert select(modems, control=str(tmp_path / "b" / "dev" / "cdc-wdm1")).netdev == "wwan1"
    assert select(modems, require_single=False).netdev == "wwan0"
    with pytest.raises(NoModemError, match="no module with interface wwan7"):
        select(modems, interface="wwan7")
    with pytest.raises(NoModemError, match="no cellular module found"):
        select([])


# ---------------------------------------------------------------------- MBIM, the WWAN class, PCIe

def wwan_port(sysfs, wwan_dir, name, kind):
    """A WWAN-class port (wwan0mbim0, wwan0at0...) under a WWAN device directory, with its class link."""
    port = wwan_dir / name
    port.mkdir(parents=True)
    (port / "type").write_text(kind + "\n")
    (sysfs / "class" / "wwan").mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(port, sysfs / "class" / "wwan"), sysfs / "class" / "wwan" / name)


def pci_function(sysfs, address, vendor, product, ports, netdevs):
    function = sysfs / "devices" / "pci0000:00" / "0000:00:1c.0" / address
    function.mkdir(parents=True)
    (function / "vendor").write_text("0x%04x\n" % vendor)
    (function / "device").write_text("0x%04x\n" % product)
    (sysfs / "bus/pci/drivers/mhi-pci-generic").mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(sysfs / "bus/pci/drivers/mhi-pci-generic", function), function / "driver")
    wwan = function / "mhi0" / "wwan" / "wwan0"
    for name, kind in ports:
        wwan_port(sysfs, wwan, name, kind)
    (sysfs / "class" / "net").mkdir(parents=True, exist_ok=True)
    for netdev in netdevs:
        place = (wwan / "net" / netdev) if netdev.startswith("wwan") else (function / "mhi0" / "mhi0_IP_HW0" / "net" / netdev)
        place.mkdir(parents=True)
        os.symlink(os.path.relpath(place, sysfs / "class" / "net"), sysfs / "class" / "net" / netdev)


def test_cdc_mbim_with_its_wwan_alias_is_one_module(tmp_path):
    lay_out(tmp_path, replace(SimConfig(), usbnet="mbim", wwan_ports=True, mbim_max_transfer=512), "/dev/pts/99",
            {2: "/dev/pts/98"})
    (modem,) = scan(tmp_path / "sys", tmp_path / "dev")
    assert modem.mode == "mbim" and modem.driver == "cdc_mbim" and modem.netdev == "wwan0" and modem.raw_ip is None
    assert modem.control == str(tmp_path / "dev" / "cdc-wdm0")
    assert modem.control_aliases == (str(tmp_path / "dev" / "wwan0mbim0"),)
    assert select([modem], control="/dev/wwan0mbim0") is modem  # either name finds it
    assert mbim_max_control_transfer(modem) == 512  # wMaxControlMessage from the MBIM functional descriptor


def test_a_usb_port_seen_only_in_the_wwan_class(tmp_path):
    usb_device(tmp_path, "2-1", 0x2C7C, 0x0125, [(4, "cdc_mbim", {"net": "wwan0"})])
    interface = tmp_path / "devices/usb1/2-1/2-1:1.4"
    wwan_port(tmp_path, interface / "wwan" / "wwan0", "wwan0mbim0", "MBIM")
    (modem,) = scan(tmp_path, tmp_path / "dev")
    assert modem.control == str(tmp_path / "dev" / "wwan0mbim0") and modem.control_aliases == ()


def test_pcie_rm520n_speaks_mbim_on_its_wwan_ports(tmp_path):
    pci_function(tmp_path, "0000:01:00.0", 0x1EAC, 0x1007, [("wwan0mbim0", "MBIM"), ("wwan0at0", "AT"),
                                                            ("wwan0qcdm0", "QCDM")], ["wwan0"])
    (modem,) = scan(tmp_path, tmp_path / "dev")
    assert (modem.bus, modem.usb_path, modem.usb_id, modem.model) == ("pci", "0000:01:00.0", "1eac:1007", "RM520N-GL")
    assert modem.mode == "mbim" and modem.driver == "mhi-pci-generic" and modem.netdev == "wwan0"
    assert modem.control == str(tmp_path / "dev" / "wwan0mbim0") and modem.at_port == str(tmp_path / "dev" / "wwan0at0")
    assert mbim_max_control_transfer(modem) == 4096  # no USB descriptors: libmbim's default
    assert "MBIM mode (mhi-pci-generic)" in modem.describe()


def test_pcie_rm500q_class_has_qmi_too_and_its_data_on_mhi_net(tmp_path):
    pci_function(tmp_path, "0000:02:00.0", 0x17CB, 0x0306, [("wwan0mbim0", "MBIM"), ("wwan0qmi0", "QMI"),
                                                            ("wwan0at0", "AT")], ["mhi_hwip0", "mhi_swip0"])
    (modem,) = scan(tmp_path, tmp_path / "dev")
    assert modem.mode == "qmi" and modem.control == str(tmp_path / "dev" / "wwan0qmi0") and modem.netdev == "mhi_hwip0"
    assert modem.model == "Qualcomm SDX55 (RM500Q-GL)"


def test_usb_and_pcie_modules_together(tmp_path):
    lay_out(tmp_path, SimConfig(), "/dev/pts/99")
    pci_function(tmp_path / "sys", "0000:01:00.0", 0x1EAC, 0x1004, [("wwan1mbim0", "MBIM")], ["wwan1"])
    modems = scan(tmp_path / "sys", tmp_path / "dev")
    assert [(m.bus, m.mode) for m in modems] == [("usb", "qmi"), ("pci", "mbim")]
    assert select(modems, interface="wwan1").usb_path == "0000:01:00.0"
