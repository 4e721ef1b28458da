"""One output path: one line format on a terminal, syslog priorities under systemd, escaped text."""

import logging
import os
import re
import sys

from qcm.log import LineFormatter, journal_stream, priority_prefix
from qcm.printable import printable


def record(message, level=logging.INFO, name="qcm.connect.service", exc_info=None):
    return logging.LogRecord(name, level, __file__, 1, message, (), exc_info)


def test_terminal_lines_are_stamped_and_name_warnings():
    formatter = LineFormatter()
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} connected in 0.16 s", formatter.format(record("connected in 0.16 s")))
    assert formatter.format(record("no SIM", logging.WARNING)).endswith(" warning: no SIM")
    assert formatter.format(record("bug", logging.ERROR)).endswith(" error: bug")


def test_journal_lines_carry_the_priority_and_no_stamp():
    formatter = LineFormatter(journal=True)
    assert formatter.format(record("IPv4 call rejected", logging.WARNING)) == "<4>warning: IPv4 call rejected"
    assert formatter.format(record("connected")) == "<6>connected"
    try:
        raise ValueError("boom")
    except ValueError:
        lines = formatter.format(record("internal error", logging.ERROR, exc_info=sys.exc_info())).splitlines()
    assert len(lines) > 2 and all(line.startswith("<3>") for line in lines)  # a traceback stays one priority


def test_modem_text_cannot_drive_the_terminal():
    title = "Evil\x1b]0;owned\x07\x1b[2J\u202eNet"
    line = LineFormatter().format(record("registered on %s" % title))
    assert "\x1b" not in line and "\x07" not in line and "\u202e" not in line
    assert "\\x1b]0;owned\\x07" in line and printable("Überall Telekom ☎") == "Überall Telekom ☎"


def test_journal_stream_is_recognised_by_device_and_inode(tmp_path, monkeypatch):
    with open(tmp_path / "out", "w") as stream:
        info = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", "%d:%d" % (info.st_dev, info.st_ino))
        assert journal_stream(stream)
        monkeypatch.setenv("JOURNAL_STREAM", "%d:%d" % (info.st_dev, info.st_ino + 1))
        assert not journal_stream(stream)


def test_priorities():
    assert [priority_prefix(level) for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR,
                                                 logging.CRITICAL)] == ["<7>", "<6>", "<4>", "<3>", "<2>"]
