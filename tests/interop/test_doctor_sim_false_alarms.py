"""The doctor against the simulator, where it used to raise false alarms: a call the host ended, a
freshly plugged module's raw_ip, an EC25 in ECM mode."""

import json

from test_doctor import qcm


def doctor(sim, *args):
    result = qcm(sim, "doctor", "--json", *args)
    return result.returncode, {f["id"]: f for f in json.loads(result.stdout)["findings"]}


def test_a_call_the_host_ended_is_no_rejection(start_sim):
    status, found = doctor(start_sim("--scenario", "healthy-ec25a", "--set", "last_call_end=client-end"))
    assert found == {} and status == 0


def test_raw_ip_n_is_info_until_the_interface_is_in_use(start_sim):
    sim = start_sim("--scenario", "seed-001-bg96-no-lease")
    status, found = doctor(sim)
    assert list(found) == ["raw-ip-mismatch"] and found["raw-ip-mismatch"]["severity"] == "info" and status == 0
    # udhcpc brings wwan0 up (IFF_UP) and waits for a lease that cannot come: seed 001 as posted.
    flags = sim.directory / "sys" / "class" / "net" / "wwan0" / "flags"
    flags.write_text("0x1003\n")
    status, found = doctor(sim)
    assert found["raw-ip-mismatch"]["severity"] == "error" and status == 1
    assert "wwan0 is up" in found["raw-ip-mismatch"]["evidence"]


def test_an_ec25_in_ecm_mode_is_what_qcm_connect_speaks(start_sim):
    sim = start_sim("--scenario", "usbnet-ecm")
    status, found = doctor(sim)
    assert found == {} and status == 0
    status, found = doctor(sim, "--mode", "qmi")
    assert "the module is in ECM mode, not QMI" in found["usbnet-mode-mismatch"]["title"] and status == 1
