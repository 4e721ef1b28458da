"""Secrets that ps cannot show, and logs that cannot cost the connection (issue 10, items 5 and 7)."""

import os
import subprocess

import pytest

pytestmark = pytest.mark.root

V4 = "198.51.100.1"


def run(lab, argv, extra_env=None, timeout=60):
    return subprocess.run(lab.ns.argv(argv), capture_output=True, text=True, timeout=timeout,
                          env=dict(lab.env, **(extra_env or {})))


def connect_once(lab, *args, extra_env=None):
    import sys
    return run(lab, [sys.executable, "-m", "qcm", *lab.connect_args("--once", *args)], extra_env)


def disconnect(lab):
    result = lab.qcm("disconnect")
    assert result.returncode == 0, result.stdout + result.stderr


def test_pin_and_password_from_the_environment(lab):
    lab = lab("--sim-state", "pin", "--pin", "0123", "--apn", "secure,auth=chap,user=alice,password=s3cret")
    result = connect_once(lab, "-s", "secure", extra_env={"QCM_PIN": "0123", "QCM_APN_USER": "alice",
                                                          "QCM_APN_PASSWORD": "s3cret"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "unlocked with the PIN" in result.stdout and "warning" not in result.stderr
    assert "s3cret" not in result.stdout + result.stderr and "0123" not in result.stdout + result.stderr
    assert lab.ping(V4)
    disconnect(lab)


def test_secrets_file(lab, tmp_path):
    lab = lab("--sim-state", "pin", "--pin", "0123", "--apn", "secure,auth=pap,user=alice,password=s3cret")
    secrets = tmp_path / "wwan0.secrets"
    secrets.write_text("pin = 0123\nuser = alice\npassword = s3cret\n")
    secrets.chmod(0o644)
    refused = connect_once(lab, "-s", "secure", "--secrets", str(secrets))
    assert refused.returncode == 10 and "mode 0644" in refused.stderr and "Traceback" not in refused.stderr
    assert lab.sim_status()["pin_retries"] == 3  # refused before anything was sent
    secrets.chmod(0o600)
    result = connect_once(lab, "-s", "secure", "--secrets", str(secrets), "--auth", "pap",
                          extra_env={"QCM_PIN": "9999"})  # the file is more specific than the environment
    assert result.returncode == 0, result.stdout + result.stderr
    assert "unlocked with the PIN" in result.stdout
    disconnect(lab)


def test_command_line_secrets_still_work_with_a_warning(lab):
    lab = lab("--sim-state", "pin", "--pin", "0123")
    result = connect_once(lab, "-s", "internet", "-p", "0123", extra_env={"QCM_PIN": "9999"})
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = [line for line in result.stderr.splitlines() if "visible to every local user" in line]
    assert len(warnings) == 1 and "$QCM_PIN" in warnings[0]
    disconnect(lab)


def test_quectel_cm_takes_the_environment_too(lab):
    lab = lab("--sim-state", "pin", "--pin", "0123", "--apn", "secure,auth=chap,user=alice,password=s3cret")
    env = dict(lab.env, QCM_PIN="0123", QCM_APN_USER="alice", QCM_APN_PASSWORD="s3cret")
    process = lab.background(["quectel-CM", "-s", "secure"], env=env)
    lab.wait_connected(process)
    assert lab.ping(V4)
    process.terminate()
    assert process.wait(20) == 0
    output = lab.output(process)
    assert "s3cret" not in output and "visible to every local user" not in output


def test_a_full_log_disk_never_costs_the_connection(lab, tmp_path):
    lab = lab()
    process = lab.background(["quectel-CM", "-s", "internet", "-f", "/dev/full"])
    lab.wait_connected(process)
    assert lab.ping(V4)
    process.terminate()
    assert process.wait(20) == 0
    output = lab.output(process)
    assert output.count("cannot write to the log file") == 1, output
    assert "Traceback" not in output


def test_a_stdout_nobody_can_write_never_costs_the_connection(lab, tmp_path):
    lab = lab()
    errors = tmp_path / "stderr.log"
    with open("/dev/full", "w") as full, errors.open("w") as log:
        process = subprocess.Popen(lab.ns.argv(["quectel-CM", "-s", "internet"]), stdout=full, stderr=log,
                                   env=lab.env)
    process.log_path = errors
    lab.processes.append(process)
    lab.wait_connected(process)
    process.terminate()
    assert process.wait(20) == 0
    text = errors.read_text()
    assert text.count("cannot write to standard output") == 1 and "Traceback" not in text, text


@pytest.mark.parametrize("make,status,text", [
    (lambda d: str(d / "missing" / "cm.log"), 2, "does not exist"),
    (lambda d: str(d), 2, "is a directory"),
    (lambda d: (d / "link").symlink_to(d / "target") or str(d / "link"), 10, "symbolic link"),
])
def test_log_file_refused_with_one_line(lab, tmp_path, make, status, text):
    lab = lab()
    directory = tmp_path / "logs"
    directory.mkdir()
    result = run(lab, ["quectel-CM", "-s", "internet", "-f", make(directory)])
    assert result.returncode == status, result.stdout + result.stderr
    assert text in result.stderr and "Traceback" not in result.stderr
    assert not (directory / "target").exists()  # nothing created through the link
    assert lab.sim_status()["clients"] == {}


def test_log_file_created_private(lab, tmp_path):
    lab = lab()
    log = tmp_path / "cm.log"
    process = lab.background(["quectel-CM", "-s", "internet", "-f", str(log)])
    lab.wait_connected(process)
    process.terminate()
    assert process.wait(20) == 0
    assert os.stat(log).st_mode & 0o777 == 0o600


def test_qcm_connect_with_a_stdout_nobody_can_write_stays_connected(lab, tmp_path):
    import sys
    lab = lab()
    errors = tmp_path / "stderr.log"
    argv = [sys.executable, "-m", "qcm", *lab.connect_args("-s", "internet")]
    with open("/dev/full", "w") as full, errors.open("w") as log:
        process = subprocess.Popen(lab.ns.argv(argv), stdout=full, stderr=log, env=lab.env)
    process.log_path = errors
    lab.processes.append(process)
    lab.wait_connected(process)
    assert lab.ping(V4) and process.poll() is None
    process.terminate()
    assert process.wait(20) == 0
    text = errors.read_text()
    assert text.count("cannot write to standard output") == 1 and "Traceback" not in text, text
