"""qcm doctor on modules in MBIM mode: the facts come over MBIM (and the AT port), and the findings
are those of QMI-mode modules: radio off or FCC-locked, SIM states, registration, a rejected APN,
and a module in MBIM mode when QMI was wanted (and the reverse). The doctor only reads: a session
another run left up stays up."""

import json

import pytest

from test_doctor import qcm, sim_status

pytestmark = [pytest.mark.interop]


def doctor(sim, *args):
    result = qcm(sim, "doctor", "--json", *args)
    report = json.loads(result.stdout)
    return {f["id"]: f for f in report["findings"]}, report


def test_fcc_locked_unit(start_sim):
    found, _ = doctor(start_sim("--scenario", "fcc-locked-laptop"))
    assert list(found) == ["radio-off"] and "fcc-locked" in found["radio-off"]["title"]
    radio = found["radio-off"]
    assert "qcm connect sends the unlock itself" in radio["fix"] and "AT+CFUN=1" not in radio["fix"]
    assert radio["evidence"][0].startswith("MBIM radio state: fcc-locked")


@pytest.mark.parametrize("args,finding,words", [
    (("--sim-state", "pin"), "sim-pin-required", "3 tries left"),
    (("--sim-state", "puk"), "sim-puk-required", "10 tries left"),
    (("--sim-state", "absent"), "sim-missing", "no SIM card"),
    (("--cfun", "4"), "radio-off", "low-power"),
    (("--registration", "denied", "--set", "reject_cause=11"), "not-registered", "PLMN not allowed"),
    (("--registration", "searching"), "not-registered", "searching"),
    (("--set", "last_call_end=gsm-wcdma-unknown-apn"), "apn-rejected", "APN"),
])
def test_states_read_over_mbim(start_sim, args, finding, words):
    found, report = doctor(start_sim("--set", "usbnet=mbim", *args))
    assert finding in found, json.dumps(report, indent=1)
    assert words in found[finding]["title"] + " ".join(found[finding]["evidence"]), found[finding]


def test_mbim_mode_when_qmi_was_wanted_and_the_reverse(start_sim):
    mbim = start_sim("--set", "usbnet=mbim", name="mbim")
    found, _ = doctor(mbim)
    assert found == {}  # qcm connect speaks MBIM: nothing to switch
    found, _ = doctor(mbim, "--mode", "qmi")
    assert "the module is in MBIM mode, not QMI" in found["usbnet-mode-mismatch"]["title"]
    qmi = start_sim(name="qmi")
    found, _ = doctor(qmi, "--mode", "mbim")
    assert "the module is in QMI mode, not MBIM" in found["usbnet-mode-mismatch"]["title"]


def test_the_doctor_leaves_the_function_as_it_found_it(start_sim):
    sim = start_sim("--set", "usbnet=mbim")
    doctor(sim)
    assert sim_status(sim)["mbim"]["opened"] is False  # it opened the closed function, and closed it again
