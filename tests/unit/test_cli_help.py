"""The command line as users expect it: --help with each default, examples and the exit statuses; global
options after the command; --json on every command that reports; qcm sim --help with its ctl commands and
scenario keys; a "no module found" that says where qcm looked and how to look elsewhere."""

import argparse
import os
import subprocess
import sys
from dataclasses import fields

import pytest

from conftest import SRC
from qcm.cli.help import HelpFormatter
from qcm.cli.main import build_parser, COMMANDS
from qcm.errors import EXIT_BUG, NoModemError, SimError, UsageError

REPORTING = ("list", "status", "doctor", "decode", "at", "usbnet", "sim")


def qcm(*args, env=None):
    environment = dict(os.environ, PYTHONPATH=str(SRC), **(env or {}))
    return subprocess.run([sys.executable, "-m", "qcm", *args], capture_output=True, text=True, timeout=60,
                          env=environment)


def subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("words", [["--debug", "status"], ["status", "--debug"], ["connect", "-s", "x", "--debug"]])
def test_global_options_before_or_after_the_command(words):
    assert build_parser().parse_args(words).debug is True


def test_without_debug_it_stays_off():
    assert build_parser().parse_args(["status"]).debug is False


def test_debug_after_the_command_shows_the_traceback():
    result = qcm("decode", "zz", "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr  # --debug: the error with its traceback


@pytest.mark.parametrize("name", [c[0] for c in COMMANDS])
def test_help_has_examples_exit_statuses_and_defaults(name):
    text = subparsers()[name].format_help()
    assert "examples:" in text and "qcm %s" % name in text.split("examples:", 1)[1]
    statuses = text.split("exit status:", 1)[1]
    for status in (0, UsageError.exit_status, NoModemError.exit_status, SimError.exit_status, EXIT_BUG):
        assert "\n  %3d  " % status in statuses
    formatter = HelpFormatter("qcm %s" % name)
    for action in subparsers()[name]._actions:
        default = action.default
        if not action.option_strings or action.nargs == 0 or default in (None, False, [], "", argparse.SUPPRESS):
            continue
        assert "default" in formatter._get_help_string(action), "%s %s: default %r not shown" % (
            name, action.option_strings, default)


def test_every_command_that_reports_takes_json():
    for name in REPORTING:
        flags = {s for a in subparsers()[name]._actions for s in a.option_strings}
        assert "--json" in flags, name


def test_sim_help_lists_its_ctl_commands_and_scenario_keys():
    from qcm.cli.sim import CTL_COMMANDS
    from qcm.sim.config import SimConfig
    from qcm.sim.server import FAULTS
    assert [c[0] for c in CTL_COMMANDS] == ["status", *FAULTS]  # a new fault must be told here
    text = subparsers()["sim"].format_help()
    for name in ["status", *FAULTS]:
        assert "\n  %s " % name in text
    keys = text.split("scenario keys", 1)[1].split("examples:", 1)[0]
    for field in fields(SimConfig):
        if field.name not in ("apns", "profiles"):
            assert " %s" % field.name in keys, field.name
    assert "[[apn]]" in keys and "[[profile]]" in keys


def test_no_module_found_says_where_qcm_looked_and_how_to_look_elsewhere(tmp_path):
    listed = qcm("list", "--sysfs", str(tmp_path))
    assert listed.returncode == NoModemError.exit_status
    assert str(tmp_path) in listed.stdout and "--sysfs" in listed.stdout and "QCM_SYSFS" in listed.stdout
    doctor = qcm("doctor", env={"QCM_SYSFS": str(tmp_path)})
    assert doctor.returncode == NoModemError.exit_status
    assert "$QCM_SYSFS" in doctor.stderr and "--sysfs DIR" in doctor.stderr and str(tmp_path) in doctor.stderr
    assert doctor.stderr.count("\n") == 2  # the error and its hint: no traceback
