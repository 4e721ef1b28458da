"""qcm doctor and qcm usbnet against the simulator: each shipped scenario yields its findings."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import SRC

SCENARIOS = sorted((SRC / "qcm" / "sim" / "scenarios").glob("*.toml"))


def env_for(sim):
    return dict(os.environ, PYTHONPATH=str(SRC), QCM_SYSFS=sim.info["sysfs_root"], QCM_DEV=sim.info["dev_root"],
                QCM_RUN_DIR=str(sim.directory.parent / "run"), QCM_STATE_DIR=str(sim.directory.parent / "state"))


def qcm(sim, *args, timeout=60):
    return subprocess.run([sys.executable, "-m", "qcm", *args], capture_output=True, text=True, timeout=timeout,
                          env=env_for(sim))


def sim_status(sim):
    return json.loads(qcm(sim, "sim", "ctl", str(sim.directory), "status").stdout)["status"]


def expected(path):
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    with open(path, "rb") as handle:
        return tomllib.load(handle)["expect"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_yields_its_findings(start_sim, scenario):
    sim = start_sim("--scenario", scenario.stem, "--latency-ms", "30")
    start = time.monotonic()
    result = qcm(sim, "doctor", "--json")
    elapsed = time.monotonic() - start
    report = json.loads(result.stdout)
    found = [f["id"] for f in report["findings"]]
    assert found == expected(scenario), json.dumps(report, indent=1)
    problems = [f for f in report["findings"] if f["severity"] in ("error", "warning")]  # info: nothing to do
    assert result.returncode == (1 if problems else 0)
    assert elapsed < 15  # the figure itself (about 0.7 s) is measured by bench/doctor.py
    for finding in report["findings"]:
        assert finding["evidence"] and finding["explanation"] and finding["fix"]


def test_seed_003_names_the_cause_the_expert_found(start_sim):
    sim = start_sim("--scenario", "seed-003-ec25a-eu-firmware")
    text = qcm(sim, "doctor").stdout
    assert "firmware-variant-mismatch" in text and "EC25EFAR06A11M4G" in text and "Canada" in text
    assert "QFlash" in text and "AT+CFUN? answers 7" in text
    assert "if it says EC25-A or EC25-AF, flash that variant's firmware (a revision starting EC25A" in text  # the expert's words
    assert "if it says EC25-E, the module itself is built for another region" in text
    labelled = json.loads(qcm(sim, "doctor", "--json", "--variant", "EC25-A").stdout)
    assert "the module is an EC25-A" in labelled["findings"][0]["evidence"][0]


def test_seed_002_bg95_is_told_to_bind_option_then_use_ecm(start_sim):
    """As in the thread: the serial ports have no driver, QMI answers but has no data path."""
    sim = start_sim("--scenario", "seed-002-bg95-qmi")
    report = json.loads(qcm(sim, "doctor", "--json").stdout)
    found = {f["id"]: f for f in report["findings"]}
    assert "option1/new_id" in found["at-port-missing"]["fix"] and "2c7c 0700" in found["at-port-missing"]["fix"]
    usbnet = found["usbnet-mode-mismatch"]
    assert "BG95" in usbnet["title"] and 'AT+QCFGEXT="usbnet","ecm"' in usbnet["fix"]
    assert "at-port-missing" in usbnet["fix"]
    assert any("0x5e NotSupported" in line for line in found["qmi-request-unsupported"]["evidence"])
    refused = qcm(sim, "usbnet", "ecm")
    assert refused.returncode == 3 and "no AT port" in refused.stderr and "new_id" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_doctor_changes_nothing(start_sim):
    sim = start_sim("--scenario", "sim-pin")
    qcm(sim, "doctor")
    status = sim_status(sim)
    assert status["pin_retries"] == 3 and status["sim"] == "pin" and status["clients"] == {}


def test_port_busy_names_the_holder_and_leaves_it_alone(start_sim, tmp_path):
    sim = start_sim()
    fake = tmp_path / "ModemManager"
    shutil.copy("/bin/sleep", fake)
    with open(sim.control, "rb") as port:
        holder = subprocess.Popen([str(fake), "60"], stdin=port)
    try:
        time.sleep(0.2)
        report = json.loads(qcm(sim, "doctor", "--json").stdout)
        busy = report["findings"][0]
        assert busy["id"] == "port-busy" and "ModemManager (pid %d)" % holder.pid in busy["title"]
        assert "ID_MM_DEVICE_IGNORE" in busy["fix"]
        assert holder.poll() is None  # named, never killed
    finally:
        holder.kill()
        holder.wait()


def test_usbnet_show_and_switch(start_sim):
    sim = start_sim("--scenario", "usbnet-ecm")
    shown = qcm(sim, "usbnet")
    assert shown.returncode == 0 and "usbnet: ecm" in shown.stdout and "cdc_ether" in shown.stdout
    switched = qcm(sim, "usbnet", "qmi")
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert "usbnet: ecm -> qmi" in switched.stdout and "back: " in switched.stdout and "qmi_wwan" in switched.stdout
    listed = json.loads(qcm(sim, "list", "--json").stdout)["modules"]
    assert listed[0]["mode"] == "qmi" and listed[0]["control"]


def test_usbnet_on_bg95_uses_qcfgext(start_sim):
    sim = start_sim("--scenario", "seed-002-bg95-qmi", "--set", "serial_driver=option")  # once option serves it
    refused = qcm(sim, "usbnet", "mbim")
    assert refused.returncode != 0 and 'refused AT+QCFGEXT="usbnet","mbim" (ERROR)' in refused.stderr
    assert "offer only ecm" in refused.stderr and "Traceback" not in refused.stderr
    switched = qcm(sim, "usbnet", "ecm")
    assert switched.returncode == 0 and "usbnet: qmi -> ecm" in switched.stdout and "cdc_ether" in switched.stdout


def test_at_command(start_sim):
    sim = start_sim()
    result = qcm(sim, "at", "AT+CPIN?", "ATI")
    assert result.returncode == 0
    assert result.stdout.splitlines()[:2] == ["+CPIN: READY", "OK"]
    bad = qcm(sim, "at", "AT+NOSUCH")
    assert bad.returncode == 9 and bad.stdout.strip() == "ERROR"


def test_a_second_quectel_cm_is_named_with_where_it_comes_from(start_sim):
    """Seed 003's log shows another quectel-CM (a reconnect service) on /dev/cdc-wdm0."""
    sim = start_sim("--set", "port_holder=quectel-CM")
    report = json.loads(qcm(sim, "doctor", "--json").stdout)
    [busy] = report["findings"]
    pid = int(busy["title"].rsplit("pid ", 1)[1].rstrip(")"))
    assert busy["id"] == "port-busy" and "quectel-CM (pid %d)" % pid in busy["title"]
    assert "reconnect service" in busy["fix"] and len(busy["evidence"]) == 2
    sim.stop()
    assert not os.path.exists("/proc/%d" % pid)  # the simulator ends the holder it started


def test_a_silent_control_port_is_a_finding_not_a_clean_bill(start_sim):
    sim = start_sim()
    qcm(sim, "sim", "ctl", str(sim.directory), "mute", "seconds=60")
    start = time.monotonic()
    result = qcm(sim, "doctor", "--json", "--timeout", "1")
    report = json.loads(result.stdout)
    assert [f["id"] for f in report["findings"]] == ["port-not-answering"] and result.returncode == 1
    assert "cdc-wdm0" in report["findings"][0]["evidence"][0] and "no answer" in report["findings"][0]["evidence"][0]
    assert report["summary"]["radio"] == "online (AT+CFUN 1)"  # the AT port still told its part
    assert time.monotonic() - start < 15


def test_without_permission_it_says_so_instead_of_a_clean_bill(start_sim):
    sim = start_sim()
    for port in (sim.info["control_port"], os.path.realpath(sim.info["at_port"])):
        os.chmod(port, 0)  # the simulator's own ptys; root without capabilities may not open them now
    result = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", sys.executable, "-m", "qcm",
                             "doctor"], capture_output=True, text=True, timeout=60, env=env_for(sim))
    assert result.returncode == 10 and result.stdout == "", result.stdout + result.stderr
    assert "may not open" in result.stderr and "sudo qcm doctor" in result.stderr and "Traceback" not in result.stderr


def test_one_slow_answer_costs_only_itself(start_sim, tmp_path):
    scenario = tmp_path / "slow.toml"
    scenario.write_text((SRC / "qcm/sim/scenarios/healthy-ec25a.toml").read_text()
                        + 'unanswered = ["NAS Get Signal Info", "AT+COPS?"]\n')
    sim = start_sim("--scenario", str(scenario))
    report = json.loads(qcm(sim, "doctor", "--json", "--timeout", "1").stdout)
    assert report["findings"] == [], report
    assert report["summary"]["sim"] == "ready" and report["summary"]["firmware"] == "EC25AFAR05A07M4G"
    assert "registered on Rogers" in report["summary"]["network"]
    assert any("Get Signal Info" in line for line in report["not_examined"])
    assert any("AT+COPS?" in line for line in report["not_examined"])
