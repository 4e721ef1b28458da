"""Fuzz target: the control socket's server, in process, through its real per-client coroutine.

Each input is what one client sends (then its end of the connection closes). Whatever it is,
the server must answer with exactly one line holding a JSON object with "ok", and hold no
connection afterwards. The handler plays a manager and a simulator (status, disconnect, faults
with arguments), and fails the way a buggy handler would, so the error paths run too.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from qcm.io.control import MAX_REQUEST, ControlServer, log

NAME = "control_socket"

_SEEDS = [
    {"command": "status"},
    {"command": "disconnect"},
    {"command": "metrics"},
    {"command": "drop", "reason": "no-service", "family": "4"},
    {"command": "deregister", "seconds": "2.5"},
    {"command": "reset", "seconds": 1},
    {"command": "mute", "seconds": 0.5},
    {"command": "garbage", "bytes": "64"},
    {"command": "signal", "rsrp": "-100", "rsrq": "-12", "rssi": "-70", "snr": "3.5"},
    {"command": "readdress", "family": 6},
    {"command": "boom"},
]


def seeds() -> List[bytes]:
    return [json.dumps(seed).encode() for seed in _SEEDS] + [b'{"command":"status"}\n{"command":"disconnect"}',
                                                             b"[]", b'{"command": "\\u00e9\\ud800"}']


async def _handler(request: Dict[str, Any]) -> Any:
    """Like the manager's and the simulator's handlers: reads arguments with int()/float()."""
    command = request["command"]
    if command == "status":
        return {"ok": True, "status": {"state": "connected", "calls": [{"family": 4, "state": "up"}]}}
    if command in ("disconnect", "metrics", "mute", "readdress"):
        return {"ok": True, "done": command, "seconds": float(request.get("seconds", 0))}
    if command in ("drop", "deregister", "reset", "garbage"):
        return {"ok": True, "done": "%s %d" % (command, int(request.get("family", request.get("bytes", 0))))}
    if command == "signal":
        return {"ok": True, "values": {k: float(request[k]) for k in ("rsrp", "rsrq", "rssi", "snr")}}
    if command == "boom":
        raise RuntimeError("a handler bug")
    if command == "echo":
        return request  # whatever came in (it has no "ok": the client would refuse it, the server sends it)
    return {"ok": False, "error": "unknown command %r" % command[:40]}


class _Writer:
    """What the server writes to one client."""

    def __init__(self) -> None:
        self.data = b""
        self.closed = False
        self.transport = None

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.data += data

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


_loop: Optional[asyncio.AbstractEventLoop] = None
_server = ControlServer(Path("/nonexistent/fuzz.sock"), _handler)  # never started: serve() is used directly


async def _one(data: bytes) -> _Writer:
    reader = asyncio.StreamReader(limit=2 * MAX_REQUEST)
    reader.feed_data(data)
    reader.feed_eof()
    writer = _Writer()
    await _server.serve(reader, writer)
    return writer


def run(data: bytes) -> None:
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
    quiet, log.disabled = log.disabled, True  # a million "handler failed" lines help nobody
    try:
        writer = _loop.run_until_complete(_one(data))
    finally:
        log.disabled = quiet
    assert writer.closed, "the connection was left open"
    assert writer.data.endswith(b"\n") and writer.data.count(b"\n") == 1, "not one answer line: %r" % writer.data[:200]
    reply = json.loads(writer.data)
    assert isinstance(reply, dict), "the answer is not an object: %r" % writer.data[:200]
    assert "ok" in reply or reply.get("command") == "echo", "the answer has no ok: %r" % writer.data[:200]
    if reply.get("ok") is False:
        assert isinstance(reply.get("error"), str) and reply["error"], "an error answer without a reason"
    assert not _server.connections, "the server still holds a connection"


def close() -> None:
    global _loop
    if _loop is not None:
        _loop.close()
        _loop = None
