"""``qcm disconnect``: stop the manager holding an interface, or undo what ``connect --once`` left."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import List

from ..backends import load_backend
from ..errors import QcmError
from ..io.control import NotRunning, ask, socket_path
from . import events as ev
from .host import Host
from .state import SavedConnection, state_path

__all__ = ["disconnect"]


async def disconnect(netdev: str, run_dir: Path, report: ev.Reporter) -> int:
    try:
        reply = await asyncio.get_running_loop().run_in_executor(
            None, ask, socket_path(run_dir, netdev), {"command": "disconnect"})
        if not reply.get("ok"):
            raise QcmError("the manager refused: %s" % reply.get("error"))
        await _wait_gone(socket_path(run_dir, netdev))
        report(ev.Notice("the manager of %s disconnected" % netdev))
        return 0
    except NotRunning:
        pass
    path = state_path(run_dir, netdev)
    try:
        saved = SavedConnection.load(path, netdev)
    except FileNotFoundError:
        raise NotRunning("no qcm connection on %s (no manager running, no state in %s)" % (netdev, run_dir)) from None
    backend = load_backend(saved.backend)
    details: List[str] = await backend.stop_saved(saved.control, [(b.id, b.handle) for b in saved.bearers])
    if saved.applied is not None:
        details.extend(Host(saved.netdev, None, applied=saved.applied).clear())
        details.append("%s unconfigured" % saved.netdev)
    path.unlink()
    report(ev.Disconnected(details))
    return 0


async def _wait_gone(path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while path.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
