"""Secrets off the command line: environment variables and a root-only secrets file."""

import io
import os

import pytest

from qcm.cli import secrets
from qcm.errors import PermissionProblem, UsageError


def write(path, text, mode=0o600):
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def test_environment():
    found = secrets.from_environment({"QCM_PIN": "0123", "QCM_APN_USER": "carl", "QCM_APN_PASSWORD": "s3 cret",
                                      "OTHER": "x"})
    assert found == secrets.Secrets("0123", "carl", "s3 cret")
    assert secrets.from_environment({"QCM_PIN": ""}) == secrets.Secrets()  # empty: unset


@pytest.mark.parametrize("pin", ["٠١٢٣", "１２３４", "12", "123456789", "12a4"])
def test_a_pin_the_sim_cannot_take_is_refused_before_it_costs_a_try(pin):
    with pytest.raises(UsageError, match=r"\$QCM_PIN.*4 to 8 digits"):
        secrets.from_environment({"QCM_PIN": pin})


def test_file(tmp_path):
    path = write(tmp_path / "s", "# the SIM\npin = 0123\n\nuser=carl\npassword = \"  two words \"\n")
    assert secrets.read_file(path) == secrets.Secrets("0123", "carl", "  two words ")
    path = write(tmp_path / "e", "QCM_PIN=4321\nQCM_APN_PASSWORD='x'\n")  # an EnvironmentFile works too
    assert secrets.read_file(path) == secrets.Secrets("4321", None, "x")


def test_file_syntax_errors_never_show_the_value(tmp_path):
    path = write(tmp_path / "s", "pin = 0123\npasword = hunter2\n")
    with pytest.raises(UsageError, match="line 2") as caught:
        secrets.read_file(path)
    assert "hunter2" not in str(caught.value)
    binary = tmp_path / "b"
    binary.write_bytes(b"pin=\xff")
    binary.chmod(0o600)
    with pytest.raises(UsageError, match="not UTF-8"):
        secrets.read_file(str(binary))


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o606])
def test_file_others_may_read_is_refused(tmp_path, mode):
    path = write(tmp_path / "s", "pin = 0123\n", mode)
    with pytest.raises(PermissionProblem, match="mode 0%o" % mode) as caught:
        secrets.read_file(path)
    assert caught.value.exit_status == 10


def test_file_refused_unless_a_regular_file_of_ours(tmp_path):
    target = write(tmp_path / "real", "pin = 0123\n")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(PermissionProblem, match="symbolic link"):
        secrets.read_file(str(tmp_path / "link"))
    with pytest.raises(PermissionProblem, match="does not exist"):
        secrets.read_file(str(tmp_path / "missing"))
    (tmp_path / "dir").mkdir(mode=0o700)
    with pytest.raises(PermissionProblem, match="not a regular file"):
        secrets.read_file(str(tmp_path / "dir"))
    os.mkfifo(tmp_path / "fifo", 0o600)
    with pytest.raises(PermissionProblem, match="not a regular file"):  # and no hang waiting for a writer
        secrets.read_file(str(tmp_path / "fifo"))


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_file_of_another_user_is_refused(tmp_path):
    path = write(tmp_path / "s", "pin = 0123\n")
    os.chown(path, 65534, 65534)
    with pytest.raises(PermissionProblem, match="uid 65534"):
        secrets.read_file(path)


def test_command_line_wins_then_file_then_environment():
    argv = secrets.Secrets(pin="1111")
    merged = secrets.merge(argv, secrets.Secrets("2222", "file-user"), secrets.Secrets("3333", "env", "env-pass"))
    assert merged == secrets.Secrets("1111", "file-user", "env-pass")


def test_one_warning_line_names_what_ps_shows():
    out = io.StringIO()
    secrets.warn_visible(secrets.Secrets(pin="0123", password="pw"), "qcm", out, ["--secrets FILE"])
    line = out.getvalue()
    assert line.count("\n") == 1 and line.startswith("qcm: warning: the PIN and APN password")
    assert "visible to every local user" in line and "$QCM_PIN/$QCM_APN_PASSWORD or --secrets FILE" in line
    assert "0123" not in line and "pw" not in line
    out = io.StringIO()
    secrets.warn_visible(secrets.Secrets(), "qcm", out, [])
    assert out.getvalue() == ""


def test_the_systemd_unit_shows_secrets_in_a_private_environment_file():
    from pathlib import Path
    unit = (Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "qcm@.service").read_text()
    comments = [line for line in unit.splitlines() if line.startswith("#")]
    assert any("install -m 600" in line and "/etc/qcm/wwan0.conf" in line for line in comments)
    assert any(line.strip("# ").startswith("QCM_PIN=") for line in comments)
    assert any(line.strip("# ").startswith("QCM_APN_PASSWORD=") for line in comments)
    options = [line for line in comments if "QCM_OPTIONS=" in line]
    assert options and not any(word in line for line in options for word in (" -p ", "--password", "--pin"))
    assert "EnvironmentFile=-/etc/qcm/%i.conf" in unit
