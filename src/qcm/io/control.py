"""The control socket of a running manager: one JSON line in, one JSON line out.

The socket lives in a root-only directory (mode 0700) and is itself mode 0600, so only root
can ask a manager for its status or tell it to disconnect. The client side is synchronous:
``qcm status`` and ``qcm disconnect`` are short-lived commands.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional

from ..errors import PermissionProblem, PortBusyError, QcmError
from .files import ensure_private_dir

__all__ = ["ControlServer", "ask", "socket_path", "NotRunning"]

log = logging.getLogger(__name__)

Handler = Callable[[Dict[str, Any]], Awaitable[Dict[str, Any]]]


class NotRunning(QcmError):
    exit_status = 3


def socket_path(run_dir: Path, netdev: str) -> Path:
    return run_dir / ("%s.sock" % netdev)


def prepare_run_dir(run_dir: Path) -> None:
    """The run directory: created root-only (every missing parent too), and refused when another
    user could write it (they could plant sockets, state files or links in it)."""
    ensure_private_dir(run_dir)


class ControlServer:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self.server: Optional[asyncio.AbstractServer] = None

    async def start(self) -> None:
        prepare_run_dir(self.path.parent)
        if self.path.exists():
            if _alive(self.path):
                raise PortBusyError("another qcm already manages this interface (%s answers)" % self.path,
                               "stop it with qcm disconnect first")
            self.path.unlink()  # left by a manager that was killed
        old_umask = os.umask(0o177)
        try:
            self.server = await asyncio.start_unix_server(self._client, path=str(self.path))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            try:
                request = json.loads(line.decode() or "{}")
                reply = await self.handler(request)
            except (ValueError, KeyError) as exc:
                reply = {"ok": False, "error": "bad request: %s" % exc}
            writer.write((json.dumps(reply) + "\n").encode())
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        if self.server is None:
            return  # never bound (another manager holds the path): not ours to remove
        self.server.close()
        await self.server.wait_closed()
        self.server = None
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def _alive(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(str(path))
            return True
    except OSError:
        return False


def ask(path: Path, request: Dict[str, Any], timeout: float = 30.0) -> Dict[str, Any]:
    """Send one request to a running manager and return its answer."""
    try:
        if not path.exists():
            raise NotRunning("no qcm manager is running for this interface (%s does not exist)" % path)
    except PermissionError:
        raise PermissionProblem("no permission to look at %s" % path, "run as root") from None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall((json.dumps(request) + "\n").encode())
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except PermissionError:
        raise PermissionProblem("no permission to talk to %s" % path, "run as root") from None
    except (ConnectionRefusedError, FileNotFoundError):
        raise NotRunning("no qcm manager answers on %s (it is not running)" % path) from None
    except socket.timeout:
        raise QcmError("the qcm manager on %s did not answer in %.0f s" % (path, timeout)) from None
    try:
        return json.loads(data.decode())
    except ValueError:
        raise QcmError("the qcm manager on %s answered nonsense" % path) from None
