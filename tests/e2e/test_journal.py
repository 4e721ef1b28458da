"""What a user (or journalctl) sees of a running qcm: one line format, priorities under systemd."""

import os
import re
import subprocess
import time

import pytest

from netns import stop_process

pytestmark = pytest.mark.root

STAMP = re.compile(r"\d\d:\d\d:\d\d\.\d{3} ")


def run_until(lab, argv, path, env, text, timeout=30):
    with path.open("w") as stream:
        process = subprocess.Popen(lab.qcm_argv(*argv), stdout=stream, stderr=stream, env=env(stream))
    try:
        deadline = time.monotonic() + timeout
        while text not in path.read_text():
            assert process.poll() is None and time.monotonic() < deadline, path.read_text()
            time.sleep(0.05)
    finally:
        stop_process(process)
    return path.read_text().splitlines()


def test_under_systemd_a_rejected_call_is_a_warning_with_its_reason(lab, tmp_path):
    lab = lab()

    def journal(stream):
        info = os.fstat(stream.fileno())
        return dict(lab.env, JOURNAL_STREAM="%d:%d" % (info.st_dev, info.st_ino))

    lines = run_until(lab, lab.connect_args("-s", "no.such.apn"), tmp_path / "journal", journal, "call rejected")
    assert lines and all(re.match(r"<[2-7]>", line) for line in lines), lines
    rejected = [line for line in lines if "call rejected" in line]
    assert rejected[0].startswith("<4>warning: connecting -> backing-off: IPv4 call rejected: ")
    assert "unknown-apn" in rejected[0] and "next attempt in" in rejected[0]


def test_on_a_terminal_every_line_has_one_format(lab, tmp_path):
    lab = lab("--set", "host_raw_ip=false")  # so that the host's framing is switched and logged
    lines = run_until(lab, lab.connect_args("-4", "-6", "-s", "internet"), tmp_path / "out",
                      lambda stream: lab.env, "connected in")
    assert all(STAMP.match(line) for line in lines), lines
    assert any("host framing set to raw-IP" in line for line in lines)
