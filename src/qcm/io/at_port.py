"""An AT port (a ttyUSB of the module, or the simulator's pty) on asyncio.

The protocol is ``qcm.at.parser.AtParser``; this owns the file descriptor (raw mode,
115200 baud), one command in flight at a time, and the command's timeout.
"""

from __future__ import annotations

import asyncio
import logging
import os
import termios
import time
import tty
from typing import Callable, List, Optional

from ..at.parser import AtParser, Response, Timeout, Unsolicited
from ..at.redact import redact_command, redact_line
from ..errors import ModemError, PermissionProblem, UsageError

__all__ = ["AtPort", "AtError", "AtTimeout"]

log = logging.getLogger(__name__)


class AtError(ModemError):
    """An AT command ended in ERROR, +CME ERROR or a timeout."""

    def __init__(self, message: str, response: Optional[Response] = None) -> None:
        super().__init__(message)
        self.response = response


class AtTimeout(AtError, TimeoutError):
    """The module did not finish its answer in time."""


class AtPort:
    def __init__(self, path: str, show_personal: bool = False) -> None:
        self.path = path
        self.show_personal = show_personal
        self.parser = AtParser()
        self.fd: Optional[int] = None
        self._lock: Optional[asyncio.Lock] = None
        self._waiter: "Optional[asyncio.Future[object]]" = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._unsolicited_handlers: List[Callable[[str], None]] = []
        self._lost_handlers: List[Callable[[str], None]] = []

    def on_unsolicited(self, handler: Callable[[str], None]) -> None:
        """Hear every line the modem sends on its own (URCs: +CEREG, +QNETDEVSTATUS, +QIURC ...)."""
        self._unsolicited_handlers.append(handler)

    def on_lost(self, handler: Callable[[str], None]) -> None:
        """Hear once that the port hung up or failed (not when we close it)."""
        self._lost_handlers.append(handler)

    def _notify(self, handlers: List[Callable[[str], None]], text: str) -> None:
        for handler in list(handlers):
            try:
                handler(text)
            except Exception:  # one listener's bug must not break the port
                log.exception("AT port listener failed")

    async def open(self) -> "AtPort":
        loop = asyncio.get_running_loop()
        self._lock = asyncio.Lock()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        except PermissionError:
            raise PermissionProblem("no permission to open the AT port %s" % self.path, "run as root") from None
        except OSError as exc:
            raise ModemError("cannot open the AT port %s: %s" % (self.path, exc.strerror)) from None
        if os.isatty(fd):
            try:
                tty.setraw(fd, termios.TCSANOW)
                attributes = termios.tcgetattr(fd)
                attributes[4] = attributes[5] = termios.B115200
                termios.tcsetattr(fd, termios.TCSANOW, attributes)
                termios.tcflush(fd, termios.TCIFLUSH)  # forget what arrived before us
            except termios.error as exc:
                os.close(fd)
                raise ModemError("cannot set up the AT port %s: %s" % (self.path, exc)) from None
        try:
            loop.add_reader(fd, self._readable)
        except (PermissionError, ValueError):  # a file the event loop cannot watch (/dev/null): no AT port
            os.close(fd)
            raise UsageError("%s is not a serial port the module answers on" % self.path) from None
        self.fd = fd
        return self

    def close(self) -> None:
        if self.fd is not None:
            asyncio.get_running_loop().remove_reader(self.fd)
            os.close(self.fd)
            self.fd = None
        self._finish(ModemError("the AT port %s was closed" % self.path))

    async def command(self, text: str, timeout: float = 5.0, check: bool = True) -> Response:
        """Send one command and wait for its final result; ERROR raises AtError if ``check``."""
        assert self._lock is not None
        async with self._lock:
            if self.fd is None:
                raise ModemError("the AT port %s is not open" % self.path)
            loop = asyncio.get_running_loop()
            data = self.parser.command(text, time.monotonic(), timeout)
            log.debug("AT> %s", text if self.show_personal else redact_command(text))
            self._waiter = loop.create_future()
            self._timer = loop.call_later(timeout, self._expire)
            try:
                os.write(self.fd, data)
            except OSError as exc:
                self._finish(ModemError("writing to %s failed: %s" % (self.path, exc.strerror)))
            result = await self._waiter
        if isinstance(result, Timeout):
            raise AtTimeout("%s: no answer within %.0f s" % (text if self.show_personal else redact_command(text),
                                                            timeout))
        assert isinstance(result, Response)
        for line in result.lines + (result.final,):
            log.debug("AT< %s", line if self.show_personal else redact_line(text, line))
        if check and not result.ok:
            raise AtError("%s answered %s" % (redact_command(text), result.final), result)
        return result

    def _expire(self) -> None:
        for event in self.parser.expire(time.monotonic() + 1e-6):
            self._finish(event)

    def _finish(self, result: object) -> None:
        if isinstance(result, BaseException):
            self.parser.reset()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            if isinstance(result, BaseException):
                waiter.set_exception(result)
            else:
                waiter.set_result(result)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 4096)  # type: ignore[arg-type]
        except BlockingIOError:
            return
        except OSError as exc:
            log.warning("AT port %s: %s", self.path, exc.strerror)
            self.close()
            self._notify(self._lost_handlers, "failed (%s)" % exc.strerror)
            return
        if not data:  # end of file: the tty hung up (the module went away)
            log.warning("AT port %s hung up", self.path)
            self.close()
            self._notify(self._lost_handlers, "hung up")
            return
        for event in self.parser.receive_data(data):
            if isinstance(event, Unsolicited):
                log.debug("AT< (unsolicited) %s", event.line if self.show_personal else redact_line("", event.line))
                self._notify(self._unsolicited_handlers, event.line)
            else:
                self._finish(event)
