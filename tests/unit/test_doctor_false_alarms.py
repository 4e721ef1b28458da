"""What the doctor must not call a problem, and what it must explain right (pure rules, hand-made facts):
a call the host ended, a freshly plugged module's raw_ip, Ethernet-style modes qcm connect speaks, a PCIe
module's mode, an FCC-locked unit, mbim-proxy sharing a port."""

from dataclasses import replace

from qcm.at.parser import Response
from qcm.doctor.facts import Facts
from qcm.doctor.rules import diagnose
from qcm.model import Registration
from qcm.modules import Modem

REGISTERED = Registration("registered", True, mcc=302, mnc=720)


def modem(**changes):
    base = Modem(usb_path="1-1.2", vendor_id=0x2C7C, product_id=0x0125, manufacturer="Quectel", product="EC25",
                 model="EC25/EC20", mode="qmi", driver="qmi_wwan", driver_version="6.1.0", interface=4,
                 control="/dev/cdc-wdm0", netdev="wwan0", raw_ip=True, at_port="/dev/ttyUSB2")
    return replace(base, **changes)


def healthy(**changes):
    values = dict(modem=modem(), revision="EC25AFAR05A07M4G", imsi="302720000000000", operating_mode="online",
                  sim="ready", registration=REGISTERED, link_layer="raw-ip", host_raw_ip=True)
    values.update(changes)
    return Facts(**values)


def at(command, *lines, final="OK"):
    return {command: Response(command, tuple(lines), final)}


def by_id(facts):
    return {f.id: f for f in diagnose(facts)}


def test_a_call_the_host_ended_is_not_a_rejected_apn():
    for answer in ('+CEER: "client-end"', '+CEER: "Client end"'):
        assert by_id(healthy(at=at("AT+CEER", answer))) == {}
    assert "apn-rejected" in by_id(healthy(at=at("AT+CEER", '+CEER: "Missing or unknown APN"')))


def test_raw_ip_n_on_a_freshly_plugged_module_is_for_qcm_connect_to_fix():
    fresh = by_id(healthy(host_raw_ip=False, link_up=False))["raw-ip-mismatch"]
    assert fresh.severity == "info" and "qcm connect sets it to Y itself" in fresh.title
    unknown = by_id(healthy(host_raw_ip=False))["raw-ip-mismatch"]  # a sysfs without flags: nothing in use
    assert unknown.severity == "info"
    # In use (udhcpc brought the link up, or a call is up): packets are lost now, seed 001's "no lease".
    assert by_id(healthy(host_raw_ip=False, link_up=True))["raw-ip-mismatch"].severity == "error"
    manager = {"pid": 1, "bearers": [{"pdn": 1, "family": 4, "state": "up"}]}
    assert by_id(healthy(host_raw_ip=False, manager=manager))["raw-ip-mismatch"].severity == "error"
    # The modem in 802.3 with the host in raw IP is never the kernel's default.
    assert by_id(healthy(host_raw_ip=True, link_layer="802-3"))["raw-ip-mismatch"].severity == "error"


def ethernet(driver):
    return modem(mode="ethernet", driver=driver, control="/dev/ttyUSB2", netdev="usb0", raw_ip=None)


def test_ethernet_style_modes_of_an_ec25_are_what_qcm_connect_speaks():
    for driver, setting in (("cdc_ether", 1), ("rndis_host", 3), ("cdc_ncm", None)):
        answer = at('AT+QCFG="usbnet"', '+QCFG: "usbnet",%d' % setting) if setting is not None else {}
        assert "usbnet-mode-mismatch" not in by_id(healthy(modem=ethernet(driver), link_layer=None, at=answer))
    asked = by_id(healthy(modem=ethernet("cdc_ether"), link_layer=None, wanted_mode="qmi",
                          at=at('AT+QCFG="usbnet"', '+QCFG: "usbnet",1')))["usbnet-mode-mismatch"]
    assert "qcm connect speaks QMI, MBIM and AT" in asked.explanation and "ECM mode as well" in asked.explanation
    assert "speaks QMI only" not in asked.explanation
    bg95 = modem(model="BG95", product_id=0x0700, mode="qmi")
    assert "usbnet-mode-mismatch" in by_id(healthy(modem=bg95, revision="BG95M3LAR02A03"))  # no QMI data path


def test_the_qmi_mode_explanation_names_every_protocol_qcm_speaks():
    mbim = by_id(healthy(modem=modem(mode="mbim", driver="cdc_mbim"), wanted_mode="ecm"))["usbnet-mode-mismatch"]
    assert "qcm connect speaks QMI, MBIM and AT" in mbim.explanation
    assert "itself speaks QMI" not in mbim.explanation


def test_a_pcie_module_is_not_told_to_switch_its_usb_mode():
    pcie = modem(bus="pci", usb_path="0000:01:00.0", vendor_id=0x1EAC, product_id=0x1004, mode="mbim",
                 driver="mhi-pci-generic", control="/dev/wwan0mbim0", at_port="/dev/wwan0at0")
    assert by_id(healthy(modem=pcie)) == {}
    finding = by_id(healthy(modem=pcie, wanted_mode="qmi"))["usbnet-mode-mismatch"]
    assert "qcm usbnet" not in finding.fix.split(":")[0] and "qcm usbnet qmi" not in finding.fix
    assert "PCIe" in finding.title and "MBIM" in finding.explanation


def fcc_locked(**changes):
    pcie = modem(bus="pci", usb_path="0000:01:00.0", vendor_id=0x1EAC, product_id=0x1007, mode="mbim",
                 driver="mhi-pci-generic", control="/dev/wwan0mbim0", at_port="/dev/wwan0at0")
    return healthy(modem=pcie, operating_mode="fcc-locked", hardware_restricted=False, registration=None,
                   **changes)


def test_an_fcc_locked_unit_is_told_about_the_lock_and_its_unlock():
    finding = by_id(fcc_locked(fcc_unlock="RM520N-GL (Lenovo)"))["radio-off"]
    assert "fcc-locked" in finding.title and "vendor" in finding.explanation
    assert "--quectel-set-radio-state=on" in finding.fix and "qcm connect sends the unlock itself" in finding.fix
    assert "AT+CFUN=1" not in finding.fix
    assert finding.evidence[0].startswith("MBIM radio state: fcc-locked")
    assert not any("QMI operating mode" in line for line in finding.evidence)
    unknown = by_id(fcc_locked())["radio-off"]
    assert "may transmit" in unknown.fix and "mbimcli -p -d /dev/wwan0mbim0 --quectel-set-radio-state=on" in unknown.fix


def test_low_power_over_mbim_is_named_as_mbim():
    finding = by_id(healthy(modem=modem(mode="mbim", driver="cdc_mbim"), operating_mode="low-power",
                            hardware_restricted=False))["radio-off"]
    assert finding.evidence[0] == "MBIM radio state: low-power, hardware radio switch: on"
    assert "AT+CFUN=1" in finding.fix


def test_mbim_proxy_shares_an_mbim_port():
    mbim = modem(mode="mbim", driver="cdc_mbim", control_aliases=("/dev/wwan0mbim0",))
    facts = healthy(modem=mbim, holders={"/dev/cdc-wdm0": [(42, "mbim-proxy")]})
    assert "port-busy" not in by_id(facts)
    held = healthy(modem=mbim, holders={"/dev/wwan0mbim0": [(42, "mbim-proxy"), (43, "ModemManager")]})
    busy = by_id(held)["port-busy"]
    assert "ModemManager (pid 43)" in busy.title and "mbim-proxy" not in busy.title
    qmi = healthy(holders={"/dev/cdc-wdm0": [(42, "mbim-proxy")]})  # in QMI mode it is just another reader
    assert "port-busy" in by_id(qmi)


def test_qmi_proxy_shares_a_qmi_port():
    assert "port-busy" not in by_id(healthy(holders={"/dev/cdc-wdm0": [(42, "qmi-proxy")]}))
    mbim = modem(mode="mbim", driver="cdc_mbim")
    assert "port-busy" in by_id(healthy(modem=mbim, holders={"/dev/cdc-wdm0": [(42, "qmi-proxy")]}))
