"""The control socket of a running manager (and of the simulator): one JSON line in, one out.

The socket lives in a root-only directory (mode 0700) and is itself mode 0600, so only root
can ask a manager for its status or tell it to disconnect. The client side is synchronous:
``qcm status`` and ``qcm disconnect`` are short-lived commands.

The server answers every request with one JSON object, ``{"ok": true, ...}`` or ``{"ok":
false, "error": ...}``; malformed requests (not UTF-8, not JSON, not an object, nested too
deep, longer than ``MAX_REQUEST`` bytes) get an error answer, never a traceback. A client has
``READ_DEADLINE`` seconds to send its line; at most ``MAX_CLIENTS`` connections are served at
once, and a new one pushes out the oldest that has not sent its request yet, so idle clients
cannot lock out ``qcm status``.

What the client (``ask``) raises, each with its exit status:

* ``NotRunning`` (3): no socket, or nobody listening on it (left by a killed manager);
* ``PermissionProblem`` (10): the run directory or socket is root-only and we are not root;
* ``ControlBusy`` (11, "port busy"): the manager is there but other clients fill its
  connection queue or its connection slots; as with a busy control port, the cure is to
  wait or to stop whoever floods it;
* ``ControlFailed`` (9, "modem error or timeout"): the manager accepted the connection but
  sent no usable answer in time (stalled, garbled, or its own error): the timeout status.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Optional

from ..errors import ModemError, PermissionProblem, PortBusyError, QcmError, UsageError

if TYPE_CHECKING:  # the server side only: qcm status and qcm disconnect, clients, need no event loop
    import asyncio

__all__ = ["ControlServer", "ask", "socket_path", "prepare_run_dir", "interface_name",
           "NotRunning", "ControlBusy", "ControlFailed", "BadRequest", "parse_request", "parse_reply",
           "encode", "MAX_REQUEST", "MAX_CLIENTS", "READ_DEADLINE"]

log = logging.getLogger(__name__)

Handler = Callable[[Dict[str, Any]], Awaitable[Dict[str, Any]]]

MAX_REQUEST = 4096        # bytes in a request line: real requests are under 200
MAX_DEPTH = 8             # nesting of a request: real requests are flat
MAX_REPLY = 1 << 20       # bytes of an answer the client accepts (a status is about 1 KiB)
READ_DEADLINE = 2.0       # seconds a client has to send its whole request line
WRITE_DEADLINE = 2.0      # seconds a client has to take its answer
HANDLER_DEADLINE = 20.0   # seconds the manager may take to answer (a status reads the modem: 2 s)
CLOSE_GRACE = 1.0         # seconds requests being answered get when the server closes
MAX_CLIENTS = 16          # connections served at once
BACKLOG = 256             # connections the kernel queues before we accept them
CONNECT_DEADLINE = 5.0    # seconds the client retries a full connection queue


class NotRunning(QcmError):
    exit_status = 3


class ControlBusy(PortBusyError):
    """The manager runs, but other clients fill its control socket (exit 11, port busy)."""


class ControlFailed(ModemError):
    """The manager accepted the connection but gave no usable answer in time (exit 9)."""


class BadRequest(ValueError):
    """A request line the server cannot take; the message is sent back to the client."""


# ---------------------------------------------------------------------- the protocol, without I/O

def encode(message: Dict[str, Any]) -> bytes:
    return (json.dumps(message) + "\n").encode()


_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false",
               type(None): "null"}


def parse_request(line: bytes) -> Dict[str, Any]:
    """One request line (without its newline) as a JSON object with a string "command"."""
    if len(line) > MAX_REQUEST:
        raise BadRequest("request longer than %d bytes" % MAX_REQUEST)
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("request is not UTF-8 (byte %d)" % exc.start) from None
    if not text.strip():
        raise BadRequest("empty request")
    if _nesting(text) > MAX_DEPTH:
        raise BadRequest("request nested deeper than %d levels" % MAX_DEPTH)
    try:
        request = json.loads(text)
    except ValueError as exc:  # json.JSONDecodeError, and NaN-like oddities
        raise BadRequest("request is not JSON: %s" % exc) from None
    if not isinstance(request, dict):
        raise BadRequest("request is %s, not a JSON object" % _JSON_KINDS.get(type(request), "not an object"))
    if not isinstance(request.get("command"), str):
        raise BadRequest('request has no "command" string')
    return request


def parse_reply(data: bytes) -> Dict[str, Any]:
    """An answer as a JSON object with "ok"; ValueError for anything else."""
    try:
        reply = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(reply, dict) or "ok" not in reply:
        raise ValueError("not a JSON object with \"ok\"")
    return reply


def _nesting(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON text (brackets inside strings ignored),
    so that json.loads never recurses deep enough to raise RecursionError."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


# ---------------------------------------------------------------------- the server

def socket_path(run_dir: Path, netdev: str) -> Path:
    return run_dir / ("%s.sock" % netdev)


def prepare_run_dir(run_dir: Path) -> None:
    """The run directory: created root-only (every missing parent too), and refused when another
    user could write it (they could plant sockets, state files or links in it)."""
    from .files import ensure_private_dir
    ensure_private_dir(run_dir)


class _Connection:
    """One client: its task (to push it out), and whether its request is in yet."""

    def __init__(self, task: "Optional[asyncio.Task[None]]") -> None:
        self.task = task
        self.waiting_for_request = True
        self.pushed_out = False


class ControlServer:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self.server: Optional[asyncio.AbstractServer] = None
        self.connections: List[_Connection] = []  # oldest first

    async def start(self) -> None:
        import asyncio
        prepare_run_dir(self.path.parent)
        if self.path.exists():
            if _alive(self.path):
                raise PortBusyError("another qcm already manages this interface (%s answers)" % self.path,
                                    "stop it with qcm disconnect first")
            self.path.unlink()  # left by a manager that was killed
        old_umask = os.umask(0o177)
        try:
            self.server = await asyncio.start_unix_server(self.serve, path=str(self.path), backlog=BACKLOG,
                                                          limit=2 * MAX_REQUEST)
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def serve(self, reader: asyncio.StreamReader, writer: Any) -> None:
        """One client: read its line, answer it, close. Returns normally whatever the client sent;
        ``writer`` is an asyncio.StreamWriter (or anything with write, drain, close)."""
        import asyncio
        connection = _Connection(asyncio.current_task())
        if not self._admit(connection):
            self._answer(writer, {"ok": False, "busy": True,
                                  "error": "busy: %d requests are being answered" % MAX_CLIENTS})
            return
        self.connections.append(connection)
        try:
            self._answer(writer, await self._reply_to(reader, connection))
        except asyncio.CancelledError:
            # Cancelled by close() or pushed out: end normally, since asyncio 3.11 logs a client task
            # that ends cancelled as an error with a traceback (its done callback calls exception()).
            if not connection.pushed_out:
                _abort(writer)
                return
            self._answer(writer, {"ok": False, "error": "dropped: %d other clients were waiting; send the request "
                                  "as soon as connected" % MAX_CLIENTS})  # pushed out for a newer client
        finally:
            if connection in self.connections:
                self.connections.remove(connection)

    def _admit(self, connection: _Connection) -> bool:
        """Room for one more: push out the oldest client still silent, or refuse when all are busy."""
        if len(self.connections) < MAX_CLIENTS:
            return True
        idle = next((c for c in self.connections if c.waiting_for_request and not c.pushed_out), None)
        if idle is None or idle.task is None:
            return False
        idle.pushed_out = True
        idle.task.cancel()
        self.connections.remove(idle)
        return True

    async def _reply_to(self, reader: asyncio.StreamReader, connection: _Connection) -> Dict[str, Any]:
        import asyncio
        try:
            try:
                line = await asyncio.wait_for(_read_line(reader), READ_DEADLINE)
            finally:
                connection.waiting_for_request = False
            request = parse_request(line)
        except asyncio.TimeoutError:
            return {"ok": False, "error": "no request line within %.0f s" % READ_DEADLINE}
        except BadRequest as exc:
            log.debug("control: bad request: %s", exc)
            return {"ok": False, "error": "bad request: %s" % exc}
        except OSError:
            return {"ok": False, "error": "connection lost"}
        try:
            reply = await asyncio.wait_for(self.handler(request), HANDLER_DEADLINE)
        except asyncio.TimeoutError:
            log.error("control: %r not answered within %.0f s", request["command"][:40], HANDLER_DEADLINE)
            return {"ok": False, "error": "%r took longer than %.0f s" % (request["command"][:40], HANDLER_DEADLINE)}
        except Exception as exc:  # the handler's bug must cost one answer, not the manager
            log.error("control: %r failed: %s: %s", request["command"][:40], type(exc).__name__, exc)
            return {"ok": False, "error": "%r failed: %s: %s" % (request["command"][:40], type(exc).__name__, exc)}
        if not isinstance(reply, dict):
            log.error("control: %r answered %s, not an object", request["command"][:40], type(reply).__name__)
            return {"ok": False, "error": "%r gave no answer" % request["command"][:40]}
        return reply

    @staticmethod
    def _answer(writer: Any, reply: Dict[str, Any]) -> None:
        """Send the answer and close at once (nothing to await: the socket usually takes it whole);
        a client that leaves part of it unread for WRITE_DEADLINE seconds is cut off."""
        import asyncio
        try:
            try:
                data = encode(reply)
            except (TypeError, ValueError) as exc:  # a handler put something JSON cannot carry
                log.error("control: answer not encodable: %s", exc)
                data = encode({"ok": False, "error": "answer not encodable: %s" % exc})
            writer.write(data)
            transport = getattr(writer, "transport", None)
            if transport is not None and transport.get_write_buffer_size():
                asyncio.get_running_loop().call_later(WRITE_DEADLINE, transport.abort)
            writer.close()
        except (ConnectionError, OSError):
            _abort(writer)

    async def close(self) -> None:
        import asyncio
        if self.server is None:
            return  # never bound (another manager holds the path): not ours to remove
        self.server.close()
        for connection in list(self.connections):
            if connection.waiting_for_request and connection.task is not None:
                connection.task.cancel()
        busy = [c.task for c in self.connections if c.task is not None and c.task is not asyncio.current_task()]
        if busy:  # requests being answered (a disconnect) get their answer out
            await asyncio.wait(busy, timeout=CLOSE_GRACE)
            for task in busy:
                task.cancel()
        await self.server.wait_closed()
        self.server = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    """The request line without its newline, or what came before EOF; BadRequest past MAX_REQUEST."""
    data = b""
    while True:
        chunk = await reader.read(MAX_REQUEST + 1)
        if not chunk:
            return data
        data += chunk
        end = data.find(b"\n")
        if end >= 0:
            data = data[:end]
        if len(data) > MAX_REQUEST:
            raise BadRequest("request longer than %d bytes" % MAX_REQUEST)
        if end >= 0:
            return data


def _abort(writer: Any) -> None:
    transport = getattr(writer, "transport", None)
    if transport is not None:
        transport.abort()
    else:
        writer.close()


def _alive(path: Path) -> bool:
    """Whether a server listens on ``path``; a full queue means it does (it is only busy)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(str(path))
            return True
    except (BlockingIOError, socket.timeout):
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------- the client

def ask(path: Path, request: Dict[str, Any], timeout: float = 30.0) -> Dict[str, Any]:
    """Send one request to a running manager and return its answer (a JSON object with "ok")."""
    deadline = time.monotonic() + timeout
    try:
        os.stat(path)
    except FileNotFoundError:
        raise NotRunning("no qcm manager is running for this interface (%s does not exist)" % path) from None
    except PermissionError:
        raise PermissionProblem("no permission to look at %s" % path, "run as root") from None
    try:
        with _connect(path, min(deadline, time.monotonic() + CONNECT_DEADLINE)) as sock:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            try:
                sock.sendall(encode(request))
            except (BrokenPipeError, ConnectionResetError):
                pass  # it answered (busy, dropped) and hung up before taking the request: read why
            data = _read_reply(sock, path, deadline)
    except PermissionError:
        raise PermissionProblem("no permission to talk to %s" % path, "run as root") from None
    except (ConnectionRefusedError, FileNotFoundError):
        raise NotRunning("no qcm manager answers on %s (it is not running)" % path) from None
    except socket.timeout:
        raise ControlFailed("the qcm manager on %s did not answer within %.0f s" % (path, timeout)) from None
    except OSError as exc:  # reset, broken pipe: it went away mid-request
        raise ControlFailed("the qcm manager on %s hung up: %s" % (path, exc.strerror or exc)) from None
    try:
        reply = parse_reply(data)
    except ValueError:
        raise ControlFailed("the qcm manager on %s answered something that is not a JSON object" % path) from None
    if reply.get("busy"):
        raise ControlBusy("the qcm manager on %s is busy: %s" % (path, reply.get("error")),
                          "try again in a moment")
    return reply


def _connect(path: Path, deadline: float) -> socket.socket:
    """A connected socket; a full connection queue (EAGAIN) is retried until ``deadline``."""
    pause = 0.01
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            sock.connect(str(path))
            return sock
        except OSError as exc:
            sock.close()
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK) or time.monotonic() >= deadline:
                if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    raise ControlBusy("the qcm manager on %s is busy: its connection queue stayed full" % path,
                                      "try again in a moment; something may be flooding it") from None
                raise
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.2)


def _read_reply(sock: socket.socket, path: Path, deadline: float) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            if not data:
                raise ControlFailed("the qcm manager on %s closed the connection without answering" % path)
            break
        data += chunk
        if len(data) > MAX_REPLY:
            raise ControlFailed("the qcm manager on %s answered more than %d bytes" % (path, MAX_REPLY))
    return data


# ---------------------------------------------------------------------- which connection

def interface_name(text: str) -> str:
    """``text`` if the kernel could name an interface so (``-i``); UsageError otherwise."""
    if not text or len(text.encode("utf-8", "surrogateescape")) > 15:
        raise UsageError("an interface name has 1 to 15 bytes (got %d characters)" % len(text))
    if text in (".", "..") or any(c in "/:" or c.isspace() or ord(c) < 32 or 127 <= ord(c) < 160 for c in text):
        raise UsageError("%r is not an interface name (no '/', ':', spaces or control characters)" % text)
    return text
