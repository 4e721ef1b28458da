"""Finding the manager of a connection: a ``qcm connect`` of its own (``RUN_DIR/IFACE.sock``) or the one
``qcm daemon`` of every module (``RUN_DIR/daemon.sock``), for ``qcm status``, ``qcm disconnect`` and
``qcm doctor``. Synchronous, as the short-lived commands that use it are.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..errors import PermissionProblem
from ..io.control import NotRunning, ask, socket_path

__all__ = ["DAEMON", "daemon_socket", "ask_about", "daemon_connections", "local_connections", "all_connections"]

DAEMON = "daemon"          # RUN_DIR/daemon.sock; "daemon" is no name qcm gives an interface's socket
ENDED = ("stopped", "failed")  # a daemon's connection that ended (qcm disconnect, a fatal error) and stays so


def daemon_socket(run_dir: Path) -> Path:
    return socket_path(run_dir, DAEMON)


def ask_about(run_dir: Path, netdev: str, request: Dict[str, Any], timeout: float = 10.0) -> Tuple[Path, Dict[str, Any]]:
    """Send ``request`` to whoever manages ``netdev``: its own manager, else the daemon (which is told
    which connection is meant). NotRunning when neither manages it."""
    own = socket_path(run_dir, netdev)
    try:
        return own, ask(own, request, timeout=timeout)
    except NotRunning:
        pass
    path = daemon_socket(run_dir)
    try:
        reply = ask(path, dict(request, netdev=netdev), timeout=timeout)
    except NotRunning:
        raise NotRunning("no qcm manager is running for %s (neither %s nor %s answers)" % (netdev, own, path)) \
            from None
    if not reply.get("ok") and reply.get("unknown"):
        raise NotRunning("qcm daemon does not manage %s (it manages %s)" % (
            netdev, ", ".join(str(n) for n in reply.get("netdevs") or []) or "no connection"))
    return path, reply


def daemon_connections(run_dir: Path, timeout: float = 10.0) -> Optional[List[Dict[str, Any]]]:
    """The statuses of every connection the daemon runs, or None when no daemon runs."""
    try:
        reply = ask(daemon_socket(run_dir), {"command": "status"}, timeout=timeout)
    except NotRunning:
        return None
    connections = reply.get("connections")
    if not reply.get("ok") or not isinstance(connections, list):
        return None
    return [c for c in connections if isinstance(c, dict)]


def local_connections(run_dir: Path) -> List[str]:
    """Interfaces with a manager of their own (IFACE.sock) or a ``--once`` state (IFACE.json)."""
    try:
        entries = os.listdir(run_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except PermissionError:
        raise PermissionProblem("cannot look into %s, where running connections are: this needs root" % run_dir,
                                "run it as root") from None
    return sorted({name[:-len(suffix)] for name in entries for suffix in (".sock", ".json")
                   if name.endswith(suffix) and len(name) > len(suffix) and name[:-len(suffix)] != DAEMON})


def all_connections(run_dir: Path) -> List[str]:
    """Every interface a qcm manages or left up, whoever it is."""
    names = set(local_connections(run_dir))
    for status in daemon_connections(run_dir) or []:
        if isinstance(status.get("netdev"), str) and status.get("state") not in ENDED:
            names.add(status["netdev"])
    return sorted(names)
