"""One output path: every line qcm writes for a person goes through ``LineFormatter``.

On a terminal or in a file a line is ``HH:MM:SS.mmm text`` (``warning:`` and ``error:`` named;
the quectel-CM drop-in stamps ``[MM-DD_HH:MM:SS:mmm]`` as the C tool does); under systemd
(``$JOURNAL_STREAM`` names our stream) it is ``<N>text`` with the syslog priority the journal
understands and no timestamp (the journal has its own), so ``journalctl -p warning`` shows a
rejected call. Text from the modem or the network is escaped (``printable``). Logger names
follow module paths (``qcm.connect.service``); ``--debug`` shows them. A line that cannot be
written (a full disk, a reader that went away) costs one warning on stderr, never the connection.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import IO, Optional

from .printable import printable

__all__ = ["LineFormatter", "QuectelFormatter", "LineWriter", "LineHandler", "setup_output", "journal_stream",
           "priority_prefix", "REPORT"]

REPORT = "qcm.report"  # the logger progress lines go to (``cli/report.py``, ``cli/quectel_cm.py``)

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
        # Escaped line by line: a message may span lines (a QMI trace), a modem's text may not.
        text = "\n".join(printable(line) for line in record.getMessage().split("\n"))
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


class QuectelFormatter(LineFormatter):
    """quectel-CM's stamp, which scripts that read its log files expect."""

    @staticmethod
    def stamp(when: float) -> str:
        tm = time.localtime(when)
        return "[%02d-%02d_%02d:%02d:%02d:%03d]" % (tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                                                   int((when % 1) * 1000))


class LineWriter:
    """Lines to a stream or a file descriptor that may fail: a full disk, a reader that went away.

    A log is never worth the connection: the first failure is reported once on stderr, then
    lines to a file are still tried (the disk may get space again, and a failing write is
    quick) while a broken stream is pointed at /dev/null, so that its buffered lines cannot
    fail again when the process exits.
    """

    def __init__(self, prog: str, name: str, stream: Optional[IO[str]] = None, fd: Optional[int] = None,
                 errors: Optional[IO[str]] = None) -> None:
        self.prog, self.name, self.stream, self.fd, self.errors = prog, name, stream, fd, errors
        self.warned = False

    def write(self, text: str) -> None:
        try:
            if self.fd is not None:
                os.write(self.fd, text.encode("utf-8", "backslashreplace"))
            elif self.stream is not None:
                self.stream.write(text)
                self.stream.flush()
        except (OSError, ValueError) as exc:
            self._warn(exc)
            if self.stream is not None:
                self._silence(self.stream)

    def _warn(self, exc: Exception) -> None:
        if self.warned:
            return
        self.warned = True
        errors = self.errors or sys.stderr
        try:
            errors.write("%s: warning: cannot write to %s (%s); carrying on without it\n"
                         % (self.prog, self.name, getattr(exc, "strerror", None) or exc))
            errors.flush()
        except (OSError, ValueError):
            pass  # nowhere left to say it

    def _silence(self, stream: IO[str]) -> None:
        self.stream = None
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass


class LineHandler(logging.Handler):
    """Formatted records to a ``LineWriter``."""

    def __init__(self, writer: LineWriter, formatter: logging.Formatter) -> None:
        super().__init__()
        self.writer = writer
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a record whose arguments do not fit its message: a bug, not worth a crash
            line = "%s (unformattable log record)" % record.msg
        self.writer.write(line + "\n")


def setup_output(stream: Optional[IO[str]] = None, debug: bool = False, prog: str = "qcm",
                 formatter: Optional[type] = None) -> None:
    """Send every log record of qcm to ``stream`` (stdout) through one formatter."""
    stream = stream or sys.stdout
    style = formatter or LineFormatter
    name = "standard output" if stream is sys.stdout else "standard error" if stream is sys.stderr else "the output"
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(LineHandler(LineWriter(prog, name, stream), style(journal_stream(stream), show_names=debug)))
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    logging.raiseExceptions = False  # a log line that cannot be written is lost, never raised
