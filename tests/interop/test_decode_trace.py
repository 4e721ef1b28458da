"""`qcm decode` reads what qmicli and the simulator exchanged, frame by frame."""

import json
import subprocess
import sys

import pytest

from conftest import SRC, qmicli

pytestmark = pytest.mark.interop


def qcm(*args, input_text=None):
    return subprocess.run([sys.executable, "-m", "qcm", *args], capture_output=True, text=True, input=input_text,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}, timeout=60)


def test_decode_a_qmicli_session(start_sim):
    sim = start_sim("--imei", "861234567890123")
    qmicli(sim, "--dms-get-ids")
    qmicli(sim, "--nas-get-serving-system")
    qmicli(sim, "--wds-start-network=apn=internet,ip-type=4,username=bob,password=hunter2,auth=pap")
    qmicli(sim, "--wda-get-data-format")
    sim.stop()
    result = qcm("decode", "--json", "-f", str(sim.trace))
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1
    messages = document["frames"]
    names = [(m["service"], m["message"], m["kind"]) for m in messages]
    for expected in [("CTL", "Allocate CID", "request"), ("CTL", "Allocate CID", "response"),
                     ("DMS", "Get IDs", "response"), ("NAS", "Get Serving System", "response"),
                     ("WDS", "Start Network", "request"), ("WDS", "Start Network", "response"),
                     ("WDS", "Packet Service Status", "indication"), ("WDA", "Get Data Format", "response"),
                     ("CTL", "Release CID", "response")]:
        assert expected in names
    assert all("problems" not in m for m in messages)
    dump = json.dumps(messages)
    assert "861234567890123" not in dump and "hunter2" not in dump and "bob" not in dump
    text = qcm("decode", "-f", str(sim.trace), "--show-personal").stdout
    assert "861234567890123" in text and "hunter2" in text
    assert "registration state: registered (1)" in text


def test_decode_pasted_log_lines():
    log = """[06-13_20:35:36:701] >> 01 0c 00 00 02 01 00 05 00 23 00 00 00
    raw data = 01:26:00:80:02:01:02:05:00:23:00:1a:00:02:04:00:01:00:5e:00:01:10:00:45:43:32:35:45:46:41:52:30:36:41:31:31:4d:34:47
    """
    result = qcm("decode", input_text=log)
    assert result.returncode == 0, result.stderr
    assert "DMS request Get Revision" in result.stdout
    assert "QMUXError 0x5e NotSupported" in result.stdout
    assert "EC25EFAR06A11M4G" in result.stdout


def test_decode_reports_garbage_without_traceback():
    result = qcm("decode", "01 0c 00 00 02 01 00 05 00 23 00 00 00 ff ff 01 02")
    assert result.returncode == 1
    assert "Get Revision" in result.stdout and "Traceback" not in result.stderr


def test_decode_without_input_is_a_usage_error():
    result = qcm("decode", "-f", "/nonexistent/file")
    assert result.returncode == 2 and "cannot read" in result.stderr and "Traceback" not in result.stderr
