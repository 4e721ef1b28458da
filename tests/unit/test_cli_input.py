"""Bad input gives one line and exit 2 (usage), never exit 70 and a traceback (issue 10, items 6 and 7)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qcm.cli.connect import parse_apn
from qcm.cli.main import build_parser
from qcm.cli.options import check_at_command, check_pin
from qcm.cli.quectel_cm import parse
from qcm.errors import UsageError

SRC = Path(__file__).resolve().parents[2] / "src"
NOT_A_NUMBER = ["nan", "inf", "-inf", "1e309", "", "abc", "٣", "²", "３"]

# (command and what it needs, option, values refused)
NUMERIC = [
    (["connect"], "--profile", ["0", "256", "-1", "300", "99999999999999999999"] + NOT_A_NUMBER),
    (["connect"], "--metric", ["4294967296", "-1"] + NOT_A_NUMBER),
    (["connect"], "--poll-interval", ["0", "0.5", "-1", "1e6000", "700000"] + NOT_A_NUMBER),
    (["connect"], "--probe-interval", ["0", "0.05"] + NOT_A_NUMBER),
    (["connect"], "--probe-failures", ["0", "1001"] + NOT_A_NUMBER),
    (["connect"], "--register-timeout", ["-1"] + NOT_A_NUMBER),
    (["connect"], "--timeout", ["0", "0.05"] + NOT_A_NUMBER),
    (["at", "ATI"], "--timeout", ["0", "0.01"] + NOT_A_NUMBER),
    (["doctor"], "--timeout", ["0"] + NOT_A_NUMBER),
    (["usbnet"], "--wait", ["-1"] + NOT_A_NUMBER),
]


@pytest.mark.parametrize("command,option,values", NUMERIC, ids=lambda v: v if isinstance(v, str) else None)
def test_numbers_out_of_range_or_not_numbers_are_usage_errors(capsys, command, option, values):
    parser = build_parser()
    for value in values:
        with pytest.raises(SystemExit) as stopped:
            parser.parse_args([*command, "%s=%s" % (option, value)])
        assert stopped.value.code == 2, (option, value)
        error = capsys.readouterr().err.splitlines()[-1]
        assert option.lstrip("-") in error and ("from" in error), error


def test_sensible_values_still_pass():
    args = build_parser().parse_args(["connect", "-n", "255", "--metric", "4294967295", "--poll-interval", "1",
                                      "--probe-interval", "2.5", "--timeout", "0.1", "--register-timeout", "0",
                                      "-i", "wwan0", "--usb-path", "1-1.2", "--imei", "866758045439136"])
    assert (args.profile, args.metric, args.poll_interval, args.timeout) == (255, 4294967295, 1.0, 0.1)


@pytest.mark.parametrize("name", ["a" * 16, "a" * 300, "a/b", "a b", "a:1", ".", "..", "", "wwan\x1b[2J", "é" * 8])
def test_interface_names_the_kernel_refuses(capsys, name):
    for command in (["connect"], ["doctor"], ["disconnect"], ["at", "ATI"], ["usbnet"]):
        with pytest.raises(SystemExit) as stopped:
            build_parser().parse_args([*command, "-i", name])
        assert stopped.value.code == 2
        assert "\x1b" not in capsys.readouterr().err


@pytest.mark.parametrize("option,value", [("--usb-path", "../../devices"), ("--usb-path", "1-"),
                                          ("--metrics-file", "/"), ("--metrics-file", "/tmp/"),
                                          ("--metrics-file", "/tmp/" + "m" * 256), ("--resolv-conf", "/tmp"),
                                          ("--resolv-conf", "/tmp/" + "r" * 300), ("--resolv-conf", ""),
                                          ("--imei", "86675804543913６"), ("--imei", "12")])
def test_module_selectors(option, value):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["connect", option, value])


@pytest.mark.parametrize("pin", ["٠١٢٣", "۰۱۲۳", "０１２３", "¹²³⁴", "१२३४", "12", "123456789", " 1234"])
def test_pins_only_in_ascii_digits(pin):
    with pytest.raises(UsageError, match="4 to 8 digits 0-9"):
        check_pin(pin)
    with pytest.raises(UsageError, match="4 to 8 digits"):
        parse(["-p", pin])
    assert check_pin("0123") == "0123" and parse(["-p", "01234567"]).pin == "01234567"


def test_apn_user_and_password_within_what_the_module_takes():
    assert parse_apn(["a" * 100], None, None, None)[0] == "a" * 100
    for values, user, password, match in ((["a" * 101], None, None, "longer than 100 bytes"),
                                          (["a" * 70000], None, None, "longer than 100 bytes"),
                                          (["inter\nnet"], None, None, "control characters"),
                                          (["apn", "u" * 128], None, None, "user name is longer"),
                                          (["apn"], None, "p" * 128, "password is longer")):
        with pytest.raises(UsageError, match=match) as caught:
            parse_apn(values, user, password, None)
        assert "p" * 128 not in str(caught.value)
    with pytest.raises(UsageError, match="longer than 100"):
        parse(["-s", "a" * 70000])


@pytest.mark.parametrize("argv", [["-n", "300"], ["-n", "0"], ["-n", "٣"], ["-k", "256"], ["-n", "9" * 5000]])
def test_quectel_cm_profile_numbers(argv):
    with pytest.raises(UsageError, match="profile index is a number from 1 to 255"):
        parse(argv)


def test_quectel_cm_interface_name():
    with pytest.raises(UsageError, match="-i: .*network interface name"):
        parse(["-i", "x" * 300])


@pytest.mark.parametrize("command", ["AT\r\nAT+CFUN=0", "AT\rAT+CFUN=0", "AT+CPIN?\x1a", "AT\x00", "AT\x1b", " ",
                                     "AT" + "A" * 3000])
def test_one_at_command_at_a_time(command):
    with pytest.raises(UsageError):
        check_at_command(command)
    assert check_at_command('AT+QCFG="usbnet"') == 'AT+QCFG="usbnet"'


def qcm(*args, program="qcm"):
    module = "qcm" if program == "qcm" else "qcm.cli.quectel_cm"
    code = "import sys; from qcm.cli.quectel_cm import main; sys.exit(main())" if program != "qcm" else None
    argv = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", module, *args]
    env = dict(os.environ, PYTHONPATH=str(SRC), QCM_SYSFS="/nonexistent", QCM_DEV="/nonexistent",
               QCM_RUN_DIR="/nonexistent/run")
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("argv,program", [
    (["decode", "01", "2"], "qcm"),
    (["decode", "0102030"], "qcm"),
    (["at", "AT\r\nAT+CFUN=0"], "qcm"),
    (["connect", "-n", "256", "-s", "internet"], "qcm"),
    (["connect", "--metric", "4294967296"], "qcm"),
    (["connect", "--poll-interval", "0"], "qcm"),
    (["connect", "-s", "a" * 70000], "qcm"),
    (["connect", "-v", "-s", "a" * 300], "qcm"),
    (["connect", "-p", "٠١٢٣"], "qcm"),
    (["connect", "--run-dir", "/tmp/" + "d" * 120], "qcm"),
    (["disconnect", "--run-dir", "/tmp/" + "d" * 300], "qcm"),
    (["sim", "ctl", "/tmp/" + "d" * 300, "status"], "qcm"),
    (["at", "ATI", "--port", "/dev/null"], "qcm"),
    (["at", "ATI", "--port", "/etc/hostname"], "qcm"),
    (["usbnet", "--port", "/nonexistent/ttyUSB2"], "qcm"),
    (["-n", "300"], "quectel-CM"),
    (["-p", "１２３４"], "quectel-CM"),
    (["-s", "a" * 70000], "quectel-CM"),
])
def test_commands_end_in_a_usage_error_before_touching_anything(argv, program):
    result = qcm(*argv, program=program)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(("qcm", "usage", "quectel-CM"))


def test_a_run_directory_from_the_environment_is_checked_too():
    long_dir = "/tmp/" + "r" * 300
    for argv, program in ((["disconnect"], "qcm"), (["doctor"], "qcm"), (["-s", "internet"], "quectel-CM")):
        module = ["-m", "qcm"] if program == "qcm" else ["-c", "import sys; from qcm.cli.quectel_cm import main; "
                                                                 "sys.exit(main())"]
        result = subprocess.run([sys.executable, *module, *argv], capture_output=True, text=True, timeout=60,
                                env=dict(os.environ, PYTHONPATH=str(SRC), QCM_RUN_DIR=long_dir,
                                         QCM_SYSFS="/nonexistent", QCM_DEV="/nonexistent"))
        assert result.returncode == 2 and "longer than 107 bytes" in result.stderr, result.stderr
