"""One output path: every line qcm writes for a person goes through ``LineFormatter``.

On a terminal or in a file a line is ``HH:MM:SS.mmm text`` (``warning:`` and ``error:`` named);
under systemd (``$JOURNAL_STREAM`` names our stream) it is ``<N>text`` with the syslog priority
the journal understands and no timestamp (the journal has its own), so ``journalctl -p warning``
shows a rejected call. Text from the modem or the network is escaped (``printable``). Logger
names follow module paths (``qcm.connect.service``); ``--debug`` shows them.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import IO, Optional

from .printable import printable

__all__ = ["LineFormatter", "setup_output", "journal_stream", "priority_prefix", "REPORT"]

REPORT = "qcm.report"  # the logger progress lines go to (``cli/report.py``)

_PRIORITY = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def priority_prefix(level: int) -> str:
    """``<N>``: the syslog priority of a Python log level, as sd-daemon(3) prefixes lines."""
    return "<%d>" % next((priority for threshold, priority in _PRIORITY if level >= threshold), 7)


def journal_stream(stream: IO[str]) -> bool:
    """Whether ``stream`` is connected to the journal (systemd sets JOURNAL_STREAM=dev:inode)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in value.split(":"))
        info = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (info.st_dev, info.st_ino) == (device, inode)


class LineFormatter(logging.Formatter):
    def __init__(self, journal: bool = False, show_names: bool = False) -> None:
        super().__init__()
        self.journal = journal
        self.show_names = show_names

    def format(self, record: logging.LogRecord) -> str:
        text = printable(record.getMessage())
        if record.levelno >= logging.ERROR:
            text = "error: " + text
        elif record.levelno >= logging.WARNING:
            text = "warning: " + text
        if self.show_names and record.name != REPORT:
            text = "%s: %s" % (record.name, text)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if self.journal:
            prefix = priority_prefix(record.levelno)
            return "\n".join(prefix + line for line in text.splitlines() or [""])
        return "%s %s" % (self.stamp(record.created), text)

    @staticmethod
    def stamp(when: float) -> str:
        return time.strftime("%H:%M:%S", time.localtime(when)) + ".%03d" % int((when % 1) * 1000)


def setup_output(stream: Optional[IO[str]] = None, debug: bool = False,
                 formatter: Optional[logging.Formatter] = None) -> logging.Handler:
    """Send every log record of qcm to ``stream`` (stdout) through one formatter; a broken stream
    or a full disk drops the line instead of stopping anything."""
    stream = stream or sys.stdout
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter or LineFormatter(journal_stream(stream), show_names=debug))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    logging.raiseExceptions = False  # a log line that cannot be written is lost, never raised
    return handler
