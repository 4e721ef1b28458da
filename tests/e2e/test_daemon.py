"""qcm daemon and qcm sim --modules end to end: several simulated modules in one simulator process, each
found by what its configuration file names (USB path, IMEI, the SIM's ICCID, or nothing), connected on its
own interface with real routes and pings, listed and controlled through one socket, a reset module waited
for, and everything taken down on SIGTERM."""

import json
import os
import subprocess
import time

import pytest

pytestmark = pytest.mark.root

V4 = "198.51.100.1"


def write_config(directory, name, text, mode=0o600):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ("%s.toml" % name)
    path.write_text(text)
    os.chmod(path, mode)


def daemon_env(lab):
    return dict(lab.env, QCM_CONFIG_DIR=str(lab.tmp / "etc"))


def statuses(lab):
    result = lab.qcm("status", "--json")
    if result.returncode != 0:
        return []
    document = json.loads(result.stdout)
    return document.get("connections", [document])


def wait_for(lab, process, condition, timeout=40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("qcm daemon exited %s:\n%s" % (process.returncode, lab.output(process)))
        found = statuses(lab)
        if condition(found):
            return found
        time.sleep(0.1)
    raise AssertionError("timed out; status: %s\n%s" % (statuses(lab), lab.output(process)))


def all_connected(count):
    return lambda found: len(found) == count and all(s["state"] == "connected" for s in found)


def test_sim_modules_are_distinct_modules(lab):
    lab = lab("--modules", "3")
    info = lab.info
    described = info["modules"]
    assert len(described) == 3 and described[0]["netdev"] == info["netdev"] == "wwan0"
    for key in ("usb_path", "control_link", "netdev", "imei", "at_port", "carrier_netns"):
        values = [m[key] for m in described]
        assert len(set(values)) == 3, (key, values)
    listed = json.loads(lab.qcm("list", "--json").stdout)["modules"]
    assert [(m["usb_path"], os.path.basename(m["control"]), m["netdev"]) for m in listed] == [
        ("1-1.2", "cdc-wdm0", "wwan0"), ("1-1.3", "cdc-wdm1", "wwan1"), ("1-1.4", "cdc-wdm2", "wwan2")]
    assert len({m["at_port"] for m in listed}) == 3
    log = lab.sim_log.read_text()
    assert "export QCM_SYSFS=%s" % (lab.modem_dir.resolve() / "sys") in log  # the lines to paste
    links = {name: os.readlink(lab.modem_dir / "dev" / name) for name in os.listdir(lab.modem_dir / "dev")}
    assert len(set(links.values())) == len(links)  # every port its own pty
    # A fault for one module leaves the others alone.
    reset = subprocess.run([*lab.qcm_argv("sim", "ctl", str(lab.modem_dir), "reset", "seconds=1", "module=1")],
                           capture_output=True, text=True, timeout=20, env=lab.env)
    assert json.loads(reset.stdout)["ok"], reset.stdout
    time.sleep(0.2)
    assert [m["usb_path"] for m in json.loads(lab.qcm("list", "--json").stdout)["modules"]] == ["1-1.2", "1-1.4"]
    time.sleep(1.5)
    after = json.loads(lab.qcm("list", "--json").stdout)["modules"]
    assert [m["usb_path"] for m in after] == ["1-1.2", "1-1.3", "1-1.4"]
    assert [m["at_port"] for m in after] == [m["at_port"] for m in listed]


def test_daemon_gives_each_configuration_its_module(lab):
    lab = lab("--modules", "3")
    modules = lab.info["modules"]
    etc = lab.tmp / "etc"
    # by USB path; by IMEI (asked from each module); by the SIM's ICCID; and one naming none, with its PIN
    write_config(etc, "by-path", 'usb_path = "1-1.3"\napn = "internet"\nroute_metric = 800\n', mode=0o644)
    write_config(etc, "by-imei", 'imei = "%s"\napn = "internet"\nip = "ipv4v6"\n' % modules[2]["imei"])
    write_config(etc, "any", 'apn = "internet"\npin = "1234"\ndns = "file"\nresolv_conf = "%s"\n' % lab.resolv)
    before = lab.snapshot()
    env = daemon_env(lab)
    daemon = lab.background(lab.qcm_argv("daemon", "--metrics-file", str(lab.tmp / "metrics.prom")), env=env)
    found = wait_for(lab, daemon, all_connected(3))
    by_name = {s["name"]: s for s in found}
    assert by_name["by-path"]["usb_path"] == "1-1.3" and by_name["by-path"]["netdev"] == "wwan1"
    assert by_name["by-imei"]["usb_path"] == "1-1.4" and sorted(b["family"] for b in by_name["by-imei"]["bearers"]) == [4, 6]
    assert by_name["any"]["usb_path"] == "1-1.2"
    routes = json.loads(lab.ns.run(["ip", "-j", "route", "show", "default"]).stdout)
    assert {r["dev"]: r["metric"] for r in routes}["wwan1"] == 800
    for netdev in ("wwan0", "wwan1", "wwan2"):
        assert lab.ns.run(["ping", "-c", "1", "-W", "2", "-I", netdev, V4], check=False).returncode == 0, netdev
    one = json.loads(lab.qcm("status", "-i", "wwan2", "--json").stdout)
    assert one["name"] == "by-imei" and one["schema_version"] == 1
    text = lab.qcm("status").stdout
    assert "wwan0 (any): connected" in text and "wwan1 (by-path): connected" in text
    metrics = (lab.tmp / "metrics.prom").read_text()
    assert 'qcm_connected{module="by-path",netdev="wwan1"} 1' in metrics
    # the doctor finds the daemon as the module's manager: not a port held by a stranger
    doctor = json.loads(lab.qcm("doctor", "-i", "wwan1", "--json").stdout)
    assert doctor["summary"]["qcm"].startswith("pid %d, connected" % daemon.pid)
    assert not [f for f in doctor["findings"] if f["severity"] != "info"], doctor["findings"]
    # qcm disconnect -i takes one connection down; the daemon and the others go on
    stopped = lab.qcm("disconnect", "-i", "wwan1")
    assert stopped.returncode == 0, stopped.stderr
    states = {s["name"]: s["state"] for s in statuses(lab)}
    assert states == {"any": "connected", "by-path": "stopped", "by-imei": "connected"}
    assert lab.ns.run(["ping", "-c", "1", "-W", "1", "-I", "wwan1", V4], check=False).returncode != 0
    # a module reset: its connection waits and comes back on the same module
    subprocess.run(lab.qcm_argv("sim", "ctl", str(lab.modem_dir), "reset", "seconds=1", "module=2"), env=lab.env,
                   capture_output=True, timeout=20, check=True)
    found = wait_for(lab, daemon, lambda f: any(s["name"] == "by-imei" and s["state"] == "connected"
                                                and s["reconnects"] == 1 for s in f))
    assert len(found) == 3
    daemon.terminate()
    assert daemon.wait(30) == 0, lab.output(daemon)
    after = lab.snapshot()
    after["addresses"].sort()  # wwan2 was made anew by the reset: the order of interfaces changed
    before["addresses"].sort()
    assert after == before
    assert all(not m["calls"] for m in json.loads(subprocess.run(
        lab.qcm_argv("sim", "ctl", str(lab.modem_dir), "status", "module=all"), env=lab.env, capture_output=True,
        text=True, timeout=20).stdout)["modules"])
    assert not (lab.run_dir / "daemon.sock").exists()


def test_connect_all_and_configuration_errors(lab):
    lab = lab("--modules", "2")
    etc = lab.tmp / "etc"
    write_config(etc, "bad", 'apn = "internet"\npassword = "hunter2"\n', mode=0o640)
    refused = subprocess.run(lab.qcm_argv("daemon"), capture_output=True, text=True, timeout=30, env=daemon_env(lab))
    assert refused.returncode == 10 and "chmod 600" in refused.stderr and "hunter2" not in refused.stderr
    (etc / "bad.toml").unlink()
    empty = subprocess.run(lab.qcm_argv("daemon"), capture_output=True, text=True, timeout=30, env=daemon_env(lab))
    assert empty.returncode == 2 and "no connection configured" in empty.stderr
    every = lab.background(lab.qcm_argv("connect", "--all", "-s", "internet", "--dns", "none"))
    wait_for(lab, every, all_connected(2))
    assert lab.qcm("disconnect").returncode == 2  # two connections: say which
    every.terminate()
    assert every.wait(30) == 0, lab.output(every)


def test_connect_config_finds_its_module_by_the_sims_iccid(lab):
    lab = lab("--modules", "2")
    modules = lab.info["modules"]
    sims = [json.loads(subprocess.run(lab.qcm_argv("sim", "ctl", str(lab.modem_dir), "status", "module=%d" % i),
                                      env=lab.env, capture_output=True, text=True, timeout=20).stdout) for i in (0, 1)]
    assert all(s["ok"] for s in sims)
    iccid = subprocess.run(lab.qcm_argv("at", "--json", "--usb-path", "1-1.3", "AT+QCCID"), env=lab.env,
                           capture_output=True, text=True, timeout=20)
    second = json.loads(iccid.stdout)["answers"][0]["lines"][0].split(":", 1)[1].strip()
    write_config(lab.tmp / "etc", "second", 'iccid = "%s"\napn = "internet"\nip = "ipv6"\n' % second)
    env = daemon_env(lab)
    connected = subprocess.run(lab.qcm_argv(*lab.connect_args("--once", "--config", "second")), env=env,
                               capture_output=True, text=True, timeout=60)
    assert connected.returncode == 0, connected.stdout + connected.stderr
    assert "on wwan1" in connected.stdout and modules[1]["netdev"] == "wwan1"
    assert lab.ns.run(["ping", "-c", "1", "-W", "2", "2001:db8:100::1"], check=False).returncode == 0
    assert lab.qcm("disconnect", "-i", "wwan1").returncode == 0
    unknown = subprocess.run(lab.qcm_argv(*lab.connect_args("--once", "--config", "second", "--iccid",
                                                            "8930272040123456789")), env=env,
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 3 and "ICCID" in unknown.stderr  # the command line's ICCID wins, and is nowhere
