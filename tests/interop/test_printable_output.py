"""Text from the modem or the network reaches the terminal escaped (issue 10, item 9).

A simulated operator name that sets the terminal's title (ESC ] 0 ; ... BEL) and clears the
screen (ESC [ 2 J) must show as harmless escapes wherever qcm prints it for a person.
"""

import io
import logging
import json
import os
import subprocess
import sys

from conftest import SRC

from qcm.cli.quectel_cm import QuectelLog
from qcm.cli.report import TextReporter
from qcm.log import LineFormatter, QuectelFormatter, setup_output
from qcm.connect import events as ev
from qcm.qmi.catalogue import RESPONSE, catalogue
from qcm.qmi.message import build

HOSTILE = "Evil\x1b]0;owned\x07\x1b[2J\u202eNet"
SHOWN = "Evil\\x1b]0;owned\\x07\\x1b[2J\\u202eNet"


def run_qcm(sim, *args):
    env = dict(os.environ, PYTHONPATH=str(SRC), QCM_SYSFS=sim.info["sysfs_root"], QCM_DEV=sim.info["dev_root"],
               QCM_RUN_DIR=str(sim.directory.parent / "run"))
    return subprocess.run([sys.executable, "-m", "qcm", *args], capture_output=True, timeout=60, env=env)


def assert_escaped(output: bytes):
    assert b"\x1b" not in output and b"\x07" not in output and "\u202e".encode() not in output
    assert SHOWN.encode() in output, output.decode(errors="replace")


def test_doctor_text_escapes_the_operator_name(start_sim):
    sim = start_sim("--operator", HOSTILE)
    result = run_qcm(sim, "doctor")
    assert result.returncode in (0, 1), result.stderr
    assert_escaped(result.stdout)
    raw = run_qcm(sim, "doctor", "--json").stdout  # JSON escapes by itself, and keeps the value exact
    assert b"\x1b" not in raw and HOSTILE in json.loads(raw)["summary"]["network"]


def test_at_answers_are_escaped(start_sim):
    sim = start_sim("--operator", HOSTILE)
    result = run_qcm(sim, "at", "AT+COPS?")
    assert result.returncode == 0, result.stderr
    assert_escaped(result.stdout)


def test_decode_escapes_strings_in_frames():
    serving = {"serving_system": {"registration_state": "registered", "cs_attach_state": "attached",
                                  "ps_attach_state": "attached", "selected_network": "3gpp",
                                  "radio_interfaces": ["lte"]},
               "current_plmn": {"mcc": 302, "mnc": 720, "description": HOSTILE}}
    frame = build(catalogue().method("NAS", "Get Serving System"), RESPONSE, 1, 2, serving)
    result = subprocess.run([sys.executable, "-m", "qcm", "decode", frame.hex(" ")], capture_output=True,
                            timeout=60, env=dict(os.environ, PYTHONPATH=str(SRC)))
    assert result.returncode == 0, result.stderr
    assert_escaped(result.stdout)


def test_progress_lines_escape_modem_text():
    registration = ev.Registration("registered", True, mcc=302, mnc=720, operator=HOSTILE, rat="lte")
    for formatter in (LineFormatter, QuectelFormatter):
        out = io.StringIO()
        setup_output(out, formatter=formatter)
        try:
            TextReporter()(ev.Registered(registration))
            TextReporter()(ev.Identified(ev.ModemIdentity(manufacturer="Q", model=HOSTILE, revision=HOSTILE,
                                                          imei="1")))
            QuectelLog()(ev.Identified(ev.ModemIdentity(manufacturer="Q", model="m", revision=HOSTILE, imei="1")))
        finally:
            logging.getLogger().handlers.clear()
        assert_escaped(out.getvalue().encode())
        assert out.getvalue().count("\n") == 3
