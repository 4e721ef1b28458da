"""One connection to a D-Bus bus (the system bus, or the one $DBUS_SYSTEM_BUS_ADDRESS names): the
I/O around ``qcm.dbus.wire``. It authenticates (EXTERNAL), says Hello, calls methods and waits for
their answers, and hands method calls and signals addressed to it to a handler (tests use that to
play ModemanManager). The connection stays open until closed: what ModemManager grants a caller
(an inhibited device) lasts as long as the caller's connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

from ..dbus import wire
from ..dbus.wire import Message, WireError
from ..errors import ModemError, PermissionProblem

__all__ = ["Bus", "BusError", "CallError", "system_bus_address", "parse_address"]

log = logging.getLogger(__name__)

SYSTEM_BUS = "unix:path=/run/dbus/system_bus_socket"
BUS_NAME, BUS_PATH, BUS_INTERFACE = "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus"

Handler = Callable[[Message], Awaitable[Optional[Tuple[str, Tuple[Any, ...]]]]]


class BusError(ModemError):
    """No bus to talk to, or it went away (exit 9, as a manager that does not answer)."""


class CallError(BusError):
    """A method call answered with a D-Bus error."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__("%s: %s" % (name, text) if text else name)
        self.name = name
        self.text = text


def system_bus_address() -> str:
    return os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or SYSTEM_BUS


def parse_address(address: str) -> str:
    """The socket path of the first ``unix:path=`` (or ``unix:abstract=``, as "\\0name") in a bus address."""
    for entry in address.split(";"):
        transport, _, rest = entry.partition(":")
        if transport != "unix":
            continue
        keys = dict(item.partition("=")[::2] for item in rest.split(",") if "=" in item)
        if "path" in keys:
            return _unescape(keys["path"])
        if "abstract" in keys:
            return "\0" + _unescape(keys["abstract"])
    raise BusError("no unix: transport in the bus address %r" % address[:80])


def _unescape(text: str) -> str:
    out, at = bytearray(), 0
    raw = text.encode()
    while at < len(raw):
        if raw[at:at + 1] == b"%" and at + 2 < len(raw):
            out.append(int(raw[at + 1:at + 3], 16))
            at += 3
        else:
            out.append(raw[at])
            at += 1
    return out.decode("utf-8", "surrogateescape")


class Bus:
    def __init__(self, address: Optional[str] = None, handler: Optional[Handler] = None) -> None:
        self.address = address or system_bus_address()
        self.handler = handler           # method calls and signals sent to us; returns (signature, body) or None
        self.unique_name = ""
        self._reader: Optional[asyncio.StreamReader] = None
        self._writer: Optional[asyncio.StreamWriter] = None
        self._serial = 0
        self._pending: Dict[int, "asyncio.Future[Message]"] = {}
        self._task: Optional["asyncio.Task[None]"] = None
        self.closed = asyncio.Event()    # created in a coroutine (Python 3.9 binds events to the running loop)
        self.lost = ""                   # why the connection ended, when it was not closed by us

    async def open(self, timeout: float = 5.0) -> "Bus":
        path = parse_address(self.address)
        try:
            self._reader, self._writer = await asyncio.wait_for(asyncio.open_unix_connection(path), timeout)
        except FileNotFoundError:
            raise BusError("no D-Bus system bus (%s does not exist)" % path.lstrip("\0")) from None
        except PermissionError:
            raise PermissionProblem("no permission to connect to the bus at %s" % path.lstrip("\0"),
                                    "run as root") from None
        except (OSError, asyncio.TimeoutError) as exc:
            raise BusError("cannot connect to the bus at %s: %s" % (path.lstrip("\0"), exc)) from None
        try:
            await asyncio.wait_for(self._authenticate(), timeout)
        except (OSError, asyncio.TimeoutError, WireError, asyncio.IncompleteReadError) as exc:
            self._abort()
            raise BusError("the bus at %s did not let us in: %s" % (path.lstrip("\0"), exc or "no answer")) from None
        self._task = asyncio.ensure_future(self._read_loop())
        try:
            (self.unique_name,) = await self.call(BUS_NAME, BUS_PATH, BUS_INTERFACE, "Hello", timeout=timeout)
        except BaseException:
            await self.close()
            raise
        return self

    async def _authenticate(self) -> None:
        assert self._reader is not None and self._writer is not None
        self._writer.write(wire.auth_begin(os.geteuid()))
        line = await self._reader.readuntil(b"\r\n")
        self._writer.write(wire.auth_reply(line))
        await self._writer.drain()

    # ------------------------------------------------------------------ calls

    def _next_serial(self) -> int:
        self._serial = self._serial % 0xFFFFFFFF + 1
        return self._serial

    def send(self, message: Message) -> int:
        if self._writer is None or self.closed.is_set():
            raise BusError("the bus connection is closed%s" % (": " + self.lost if self.lost else ""))
        message.serial = self._next_serial()
        self._writer.write(wire.encode(message))
        return message.serial

    async def call(self, destination: str, path: str, interface: str, member: str, signature: str = "",
                   body: Tuple[Any, ...] = (), timeout: float = 10.0) -> Tuple[Any, ...]:
        """The method's answer; CallError for an error answer, BusError when none comes in time."""
        message = Message(wire.METHOD_CALL, path=path, interface=interface, member=member, destination=destination,
                          signature=signature, body=body)
        serial = self.send(message)
        waiter: "asyncio.Future[Message]" = asyncio.get_running_loop().create_future()
        self._pending[serial] = waiter
        try:
            reply = await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            raise BusError("%s.%s on %s: no answer within %.0f s" % (interface, member, destination, timeout)) \
                from None
        finally:
            self._pending.pop(serial, None)
        if reply.type == wire.ERROR:
            text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
            raise CallError(reply.error_name or "error", text)
        return reply.body

    # ------------------------------------------------------------------ incoming

    async def _read_loop(self) -> None:
        assert self._reader is not None
        parser = wire.MessageParser()
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    self.lost = "the bus closed the connection"
                    break
                for message in parser.feed(data):
                    await self._dispatch(message)
        except WireError as exc:
            self.lost = "the bus sent what is not D-Bus: %s" % exc
        except OSError as exc:
            self.lost = "the connection to the bus failed: %s" % exc
        finally:
            self._finish()

    async def _dispatch(self, message: Message) -> None:
        if message.type in (wire.METHOD_RETURN, wire.ERROR):
            waiter = self._pending.get(message.reply_serial or 0)
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
            return
        if self.handler is None:
            if message.type == wire.METHOD_CALL and not message.flags & wire.NO_REPLY_EXPECTED:
                self._answer_error(message, "org.freedesktop.DBus.Error.UnknownMethod", "nothing is served here")
            return
        try:
            answer = await self.handler(message)
        except CallError as exc:
            self._answer_error(message, exc.name, exc.text)
            return
        if message.type == wire.METHOD_CALL and not message.flags & wire.NO_REPLY_EXPECTED:
            signature, body = answer or ("", ())
            self.send(Message(wire.METHOD_RETURN, reply_serial=message.serial, destination=message.sender,
                              signature=signature, body=body))

    def _answer_error(self, message: Message, name: str, text: str) -> None:
        self.send(Message(wire.ERROR, reply_serial=message.serial, destination=message.sender, error_name=name,
                          signature="s", body=(text,)))

    def _finish(self) -> None:
        self.closed.set()
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(BusError("the bus connection ended: %s" % (self.lost or "closed")))
        if self.lost:
            log.debug("D-Bus: %s", self.lost)

    # ------------------------------------------------------------------ closing

    def _abort(self) -> None:
        if self._writer is not None:
            self._writer.transport.abort()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        self.closed.set()
