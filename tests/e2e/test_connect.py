"""qcm connect end to end: the simulated modem, a real TUN interface, the kernel's routes, ping."""

import json
import time

import pytest

pytestmark = pytest.mark.root

V4, V6 = "198.51.100.1", "2001:db8:100::1"


def connect_once(lab, *args, timeout=60):
    return lab.qcm(*lab.connect_args("--once", *args), timeout=timeout)


def disconnect(lab):
    result = lab.qcm("disconnect")
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_ipv4(lab):
    lab = lab()
    before = lab.snapshot()
    result = connect_once(lab, "-s", "internet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "connected in" in result.stdout
    assert lab.ping(V4)
    assert "nameserver 198.51.100.53" in lab.resolv.read_text()
    routes = json.loads(lab.ns.run(["ip", "-j", "route", "show", "default"]).stdout)
    assert routes[0]["dev"] == "wwan0" and routes[0]["metric"] == 700
    assert (lab.modem_dir / "sys/class/net/wwan0/qmi/raw_ip").read_text().strip() == "Y"
    disconnect(lab)
    assert not lab.ping(V4)
    assert lab.snapshot() == before
    assert lab.sim_status()["clients"] == {} and lab.sim_status()["calls"] == []


def test_ipv6(lab):
    lab = lab()
    result = connect_once(lab, "-6", "-s", "internet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert lab.ping(V6)
    assert not lab.ping(V4)
    assert "nameserver 2001:db8:100::53" in lab.resolv.read_text()
    disconnect(lab)


def test_dual_stack_foreground_until_sigterm(lab):
    lab = lab()
    before = lab.snapshot()
    process = lab.background(lab.qcm_argv(*lab.connect_args("-4", "-6", "-s", "internet")))
    lab.wait_connected(process)
    assert lab.ping(V4) and lab.ping(V6)
    status = json.loads(lab.qcm("status", "--json").stdout)
    assert sorted(c["family"] for c in status["bearers"]) == [4, 6]
    assert len(lab.sim_status()["calls"]) == 2
    process.terminate()
    assert process.wait(20) == 0
    assert lab.snapshot() == before
    sim = lab.sim_status()
    assert sim["calls"] == [] and sim["clients"] == {}


def test_dns_through_the_namespace_resolv_conf(lab):
    """With ip netns exec, /etc/resolv.conf is a bind mount: qcm must rewrite it in place."""
    lab = lab()
    etc = "/etc/netns/%s" % lab.ns.name
    import os
    import shutil
    os.makedirs(etc)
    try:
        with open(etc + "/resolv.conf", "w") as handle:
            handle.write("nameserver 192.0.2.53\n")
        result = lab.qcm("connect", "--once", "-s", "internet", "--dns", "file")
        assert result.returncode == 0, result.stdout + result.stderr
        resolved = lab.ns.run(["getent", "ahostsv4", "internet.example"], check=False)
        assert V4 in resolved.stdout
        disconnect(lab)
        assert open(etc + "/resolv.conf").read() == "nameserver 192.0.2.53\n"
    finally:
        shutil.rmtree(etc)


def test_sim_pin(lab):
    lab = lab("--sim-state", "pin", "--pin", "0123")
    result = connect_once(lab, "-s", "internet", "-p", "0123")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "unlocked with the PIN" in result.stdout
    assert lab.ping(V4)
    disconnect(lab)


def test_sim_pin_missing(lab):
    lab = lab("--sim-state", "pin")
    result = connect_once(lab, "-s", "internet")
    assert result.returncode == 4
    assert "PIN (3 tries left)" in result.stderr and "-p PIN" in result.stderr
    assert lab.sim_status()["clients"] == {}


def test_wrong_pin_is_not_retried(lab):
    lab = lab("--sim-state", "pin", "--pin", "0123")
    result = connect_once(lab, "-s", "internet", "-p", "9999")
    assert result.returncode == 4
    assert "rejected the PIN" in result.stderr and "2 tries left" in result.stderr
    assert "Traceback" not in result.stderr
    assert lab.sim_status()["pin_retries"] == 2  # exactly one try used
    assert lab.sim_status()["clients"] == {}


def test_a_rejected_pin_is_never_sent_again_by_later_runs(lab):
    # What systemd, procd, cron or seed 003's reconnect loop do: start qcm again, same PIN.
    lab = lab("--sim-state", "pin", "--pin", "0123")
    assert connect_once(lab, "-s", "internet", "-p", "9999").returncode == 4
    for argv in (lab.connect_args("--once", "-s", "internet", "-p", "9999"),
                 lab.connect_args("-s", "internet", "-p", "9999")):
        again = lab.qcm(*argv, timeout=30)
        assert again.returncode == 4, again.stdout + again.stderr
        said = again.stdout + again.stderr
        assert "this SIM rejected this PIN before" in said and "--retry-rejected-pin" in said
        assert "89302720" not in said  # the ICCID is personal data
    quectel = lab.ns.run(["quectel-CM", "-s", "internet", "-p", "9999"], check=False, env=lab.env, timeout=30)
    assert quectel.returncode == 4 and "rejected this PIN before" in quectel.stdout + quectel.stderr
    assert lab.sim_status()["pin_retries"] == 2  # still only the first try spent
    # A different PIN goes out; once the SIM accepts one, the record is cleared.
    assert connect_once(lab, "-s", "internet", "-p", "0123").returncode == 0
    disconnect(lab)
    assert not any((lab.tmp / "state" / "pin").glob("*.json"))


def test_retry_rejected_pin_is_the_users_call(lab):
    lab = lab("--sim-state", "pin", "--pin", "0123")
    assert connect_once(lab, "-s", "internet", "-p", "9999").returncode == 4
    again = connect_once(lab, "-s", "internet", "-p", "9999", "--retry-rejected-pin")
    assert again.returncode == 4 and "1 tries left" in again.stderr


def test_puk_required(lab):
    lab = lab("--sim-state", "puk")
    result = connect_once(lab, "-s", "internet", "-p", "1234")
    assert result.returncode == 4 and "PUK" in result.stderr


@pytest.mark.parametrize("auth,code", [("chap", "2"), ("pap", "1")])
def test_apn_credentials(lab, auth, code):
    lab = lab("--apn", "secure,auth=%s,user=alice,password=s3cret" % auth)
    result = connect_once(lab, "-s", "secure", "alice", "s3cret", code)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    assert lab.ping(V4)
    disconnect(lab)


def test_wrong_credentials_name_the_call_end_reason(lab):
    lab = lab("--apn", "secure,auth=chap,user=alice,password=s3cret")
    result = connect_once(lab, "-s", "secure", "alice", "guess", "chap")
    assert result.returncode == 7
    assert "authentication-failed" in result.stderr
    assert "guess" not in result.stdout + result.stderr
    assert lab.sim_status()["clients"] == {}


def test_unknown_apn(lab):
    lab = lab()
    result = connect_once(lab, "-s", "no.such.apn")
    assert result.returncode == 7
    assert "gsm-wcdma-unknown-apn (1013)" in result.stderr and "check the APN" in result.stderr


def test_registration_arrives_after_a_few_seconds(lab):
    lab = lab("--register-after", "3")
    start = time.monotonic()
    result = connect_once(lab, "-s", "internet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - start >= 2.5
    assert "waiting for the network" in result.stdout and "searching" in result.stdout
    assert lab.ping(V4)
    disconnect(lab)


def test_registration_that_never_comes(lab):
    lab = lab("--registration", "searching")
    result = connect_once(lab, "-s", "internet", "--register-timeout", "2")
    assert result.returncode == 6
    assert "searching for a network" in result.stderr and "antenna" in result.stderr


def test_radio_turned_on_when_low_power(lab):
    lab = lab("--cfun", "4")
    result = connect_once(lab, "-s", "internet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "radio turned on (was low-power)" in result.stdout
    disconnect(lab)


def test_radio_that_refuses(lab):
    lab = lab("--cfun", "0", "--set", "set_mode_error=DeviceNotReady")
    result = connect_once(lab, "-s", "internet")
    assert result.returncode == 5
    assert "DeviceNotReady" in result.stderr and "firmware" in result.stderr


def test_modem_in_802_3_is_switched_to_raw_ip(lab):
    lab = lab("--data-format", "802-3")
    result = connect_once(lab, "-s", "internet")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "switched: modem" in result.stdout
    assert lab.sim_status()["link_layer"] == "raw-ip"
    assert lab.ping(V4)
    disconnect(lab)


def test_no_sim(lab):
    lab = lab("--sim-state", "absent")
    result = connect_once(lab, "-s", "internet")
    assert result.returncode == 4 and "no SIM" in result.stderr


def test_existing_default_route_is_not_stolen(lab):
    lab = lab()
    lab.ns.run(["ip", "link", "add", "eth9", "type", "veth", "peer", "name", "eth9p"])
    lab.ns.run(["ip", "link", "set", "eth9p", "up"])
    lab.ns.run(["ip", "link", "set", "eth9", "up"])
    lab.ns.run(["ip", "address", "add", "192.0.2.10/24", "dev", "eth9"])
    lab.ns.run(["ip", "route", "add", "default", "via", "192.0.2.1", "dev", "eth9", "metric", "800"])
    assert connect_once(lab, "-s", "internet").returncode == 0
    routes = {r["dev"]: r.get("metric", 0) for r in json.loads(lab.ns.run(["ip", "-j", "route", "show",
                                                                           "default"]).stdout)}
    assert routes["eth9"] == 800 and routes["wwan0"] > 800
    disconnect(lab)
    assert connect_once(lab, "-s", "internet", "--take-default").returncode == 0
    routes = {r["dev"]: r.get("metric", 0) for r in json.loads(lab.ns.run(["ip", "-j", "route", "show",
                                                                           "default"]).stdout)}
    assert routes["wwan0"] < 800
    disconnect(lab)


def test_no_modem(lab, tmp_path):
    lab = lab()
    empty = tmp_path / "empty"
    (empty / "bus/usb/devices").mkdir(parents=True)
    result = lab.qcm("connect", "--once", "-s", "internet", "--sysfs", str(empty))
    assert result.returncode == 3 and "no cellular module" in result.stderr


def test_interrupt_while_waiting_releases_everything(lab):
    lab = lab("--registration", "searching")
    before = lab.snapshot()
    process = lab.background(lab.qcm_argv(*lab.connect_args("-s", "internet", "--register-timeout", "60")))
    deadline = time.monotonic() + 20
    while lab.sim_status()["clients"].get("NAS") != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(2)
    assert process.wait(20) == 130
    assert lab.sim_status()["clients"] == {}
    assert lab.snapshot() == before


def test_a_second_manager_is_refused_in_every_mode_and_leaves_the_first_alone(lab):
    lab = lab("--latency-ms", "5")
    first = lab.background(lab.qcm_argv(*lab.connect_args("-4", "-6", "-s", "internet")))
    lab.wait_connected(first)
    before = lab.snapshot()
    requests = lab.sim_status()["requests"]
    attempts = [lab.qcm(*lab.connect_args("-s", "internet"), timeout=30),
                lab.qcm(*lab.connect_args("--once", "-4", "-6", "-s", "internet"), timeout=30),
                lab.ns.run(["quectel-CM", "-4", "-6", "-s", "internet"], check=False, env=lab.env, timeout=30)]
    for second in attempts:
        assert second.returncode == 11, second.stdout + second.stderr
        assert "another qcm (pid %d) already manages wwan0" % first.pid in second.stderr + second.stdout
        assert "Traceback" not in second.stderr
    # None of them said a word to the modem or changed the host.
    assert lab.sim_status()["requests"] == requests
    assert lab.snapshot() == before
    status = lab.qcm("status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["state"] == "connected"
    assert lab.ping(V4) and lab.ping(V6)


def test_a_connection_left_by_once_is_not_dialled_over(lab):
    lab = lab()
    assert connect_once(lab, "-s", "internet").returncode == 0
    again = lab.qcm(*lab.connect_args("-s", "internet"), timeout=30)
    assert again.returncode == 11 and "qcm connect --once is up on wwan0" in again.stderr
    assert lab.ping(V4)
    disconnect(lab)


def test_a_port_held_by_another_program_is_named_and_left_alone(lab):
    lab = lab("--set", "port_holder=ModemManager")
    result = connect_once(lab, "-s", "internet", timeout=30)
    assert result.returncode == 11 and "ModemManager (pid" in result.stderr, result.stderr
