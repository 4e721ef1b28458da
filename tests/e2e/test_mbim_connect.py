"""qcm connect over MBIM end to end: the simulator in MBIM mode (cdc_mbim on USB, or an RM520N on
PCIe with the WWAN class names), a real TUN interface, the kernel's routes, ping."""

import json

import pytest

pytestmark = pytest.mark.root

V4, V6 = "198.51.100.1", "2001:db8:100::1"


def test_connect_once_and_disconnect(lab):
    lab = lab("--set", "usbnet=mbim", "--latency-ms", "5")
    before = lab.snapshot()
    result = lab.qcm(*lab.connect_args("--once", "-4", "-6", "-s", "internet"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MBIM mode" in result.stdout and "connected in" in result.stdout
    assert lab.ping(V4) and lab.ping(V6)
    assert "nameserver 198.51.100.53" in lab.resolv.read_text()
    assert len(lab.sim_status()["calls"]) == 2  # the session outlives qcm: no MBIM CLOSE for --once
    doctor = lab.qcm("doctor")  # it only reads: no OPEN of the open function, no CLOSE
    assert "sim: ready" in doctor.stdout, doctor.stdout + doctor.stderr
    assert len(lab.sim_status()["calls"]) == 2 and lab.sim_status()["mbim"]["opened"] and lab.ping(V4)
    result = lab.qcm("disconnect")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "session 0 stopped" in result.stdout
    assert not lab.ping(V4)
    assert lab.snapshot() == before
    assert lab.sim_status()["calls"] == []


def test_foreground_until_sigterm(lab):
    lab = lab("--set", "usbnet=mbim")
    before = lab.snapshot()
    process = lab.background(lab.qcm_argv(*lab.connect_args("-4", "-6", "-s", "internet")))
    lab.wait_connected(process)
    assert lab.ping(V4) and lab.ping(V6)
    status = json.loads(lab.qcm("status", "--json").stdout)
    assert status["backend"] == "mbim" and sorted(c["family"] for c in status["bearers"]) == [4, 6]
    assert status["imei"] == "###" and status["registration"]["operator"] == "Rogers"  # personal: hidden
    process.terminate()
    assert process.wait(20) == 0
    assert lab.snapshot() == before
    status = lab.sim_status()
    assert status["calls"] == [] and status["mbim"]["opened"] is False  # deactivated, then MBIM CLOSE


def test_pcie_rm520n_with_wwan_names(lab):
    lab = lab("--scenario", "pcie-rm520n")
    result = lab.qcm("list")
    assert "0000:01:00.0 1eac:1007 Quectel RM520N-GL, MBIM mode (mhi-pci-generic)" in result.stdout, result.stdout
    assert "control %s/dev/wwan0mbim0" % lab.modem_dir in result.stdout
    result = lab.qcm(*lab.connect_args("--once", "-s", "internet", "--imei", "866758045439136"))  # asked over MBIM
    assert result.returncode == 0, result.stdout + result.stderr
    assert lab.ping(V4)
    assert lab.qcm("disconnect").returncode == 0


def test_fcc_locked_laptop_unit_is_unlocked(lab):
    lab = lab("--scenario", "fcc-locked-laptop")
    result = lab.qcm(*lab.connect_args("--once", "-s", "internet"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FCC-locked" in result.stdout and "sending Quectel's unlock" in result.stdout
    assert lab.ping(V4)
    assert lab.qcm("disconnect").returncode == 0


def test_fcc_locked_unit_not_known_is_refused_with_the_way_out(lab):
    lab = lab("--scenario", "fcc-locked-laptop", "--usb", "1eac:1008")
    result = lab.qcm(*lab.connect_args("--once", "-s", "internet"))
    assert result.returncode == 5, result.stdout + result.stderr
    assert "FCC-locked" in result.stderr and "--quectel-set-radio-state=on" in result.stderr


def test_wrong_apn_names_the_status_and_nw_error(lab):
    lab = lab("--set", "usbnet=mbim")
    result = lab.qcm(*lab.connect_args("--once", "-s", "nope"))
    assert result.returncode == 7, result.stdout + result.stderr
    assert "status 18 invalid-access-string" in result.stderr and "NwError 27 missing-or-unknown-apn" in result.stderr
    assert "check the APN name" in result.stderr


def test_pin_entered_once(lab):
    lab = lab("--set", "usbnet=mbim", "--sim-state", "pin")
    result = lab.qcm(*lab.connect_args("--once", "-s", "internet", "-p", "0000"))
    assert result.returncode == 4 and "rejected the PIN" in result.stderr, result.stdout + result.stderr
    assert lab.sim_status()["pin_retries"] == 2
    again = lab.qcm(*lab.connect_args("--once", "-s", "internet", "-p", "0000"))
    assert again.returncode == 4 and "not sending the PIN" in again.stderr, again.stderr
    assert lab.sim_status()["pin_retries"] == 2  # never sent a second time
    right = lab.qcm(*lab.connect_args("--once", "-s", "internet", "-p", "1234"))
    assert right.returncode == 0, right.stdout + right.stderr
    assert lab.qcm("disconnect").returncode == 0


def test_quectel_cm_drop_in_on_an_mbim_module(lab):
    """quectel-CM -s APN connects an MBIM-mode module and logs seed 000's MBIM steps."""
    lab = lab("--set", "usbnet=mbim")
    process = lab.background(["quectel-CM", "-s", "internet"])
    lab.wait_connected(process)
    assert lab.ping(V4)
    process.terminate()
    assert process.wait(20) == 0
    output = lab.output(process)
    for line in ("] Modem works in MBIM mode", "] apn internet, user (null), passwd (null), auth 0",
                 "] IP Proto MBIMContextIPTypeIPv4", "] mbim_open_device()", "] mbim_device_caps_query()",
                 "] mbim_set_radio_state( 1 )", "] SubscriberReadyState NotInitialized -> Initialized",
                 "] RegisterState Unknown -> Home", "] PacketServiceState Unknown -> Attached",
                 "] mbim_query_connect(sessionID=0)", "] mbim_set_connect(onoff=1, sessionID=0)",
                 "] ActivationState Deactivated -> Activated", "] mbim_ip_config(sessionID=0)",
                 "] < IPv4AddressOffset = 0x3c", "] < ipv4 mtu = 1500", "] mbim_set_connect(onoff=0, sessionID=0)"):
        assert line in output, output
    assert "requestSetupDataCall" not in output


def test_a_module_switched_to_mbim_is_connected_over_mbim(lab):
    """qcm usbnet mbim (AT+QCFG="usbnet",2 and a restart): the module comes back as cdc_mbim, and
    the same qcm connect line now speaks MBIM to it."""
    lab = lab()
    switched = lab.qcm("usbnet", "mbim")
    assert switched.returncode == 0 and "MBIM mode (cdc_mbim" in switched.stdout, switched.stdout + switched.stderr
    result = lab.qcm(*lab.connect_args("--once", "-s", "internet"))
    assert result.returncode == 0 and "MBIM mode" in result.stdout, result.stdout + result.stderr
    assert lab.ping(V4)
    assert lab.qcm("disconnect").returncode == 0
