"""What ``qcm connect --once`` leaves behind, so that ``qcm disconnect`` can undo it later.

The calls survive the process only while the backend's hold on them does (QMI: the WDS clients
stay allocated on the modem), so the state names the backend, its control port and each
bearer with the backend's handle, plus every host change to undo. The file lives next to the
control sockets, in the root-only run directory, and is checked before it is trusted: it tells
root what to remove.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..backends import BACKENDS
from ..backends.base import Bearer, BearerId
from ..errors import NetConfigError
from ..io.files import read_private, write_atomic
from .host import Applied

__all__ = ["SavedBearer", "SavedConnection", "StateDamaged", "state_path"]

VERSION = 2


def state_path(run_dir: Path, netdev: str) -> Path:
    return run_dir / ("%s.json" % netdev)


class StateDamaged(NetConfigError):
    """A state file that cannot be read back as qcm wrote it."""


@dataclass(frozen=True)
class SavedBearer:
    """A call left up by --once: enough to stop it later."""
    id: BearerId
    netdev: str
    handle: Dict[str, Any]

    @classmethod
    def of(cls, bearer: Bearer) -> "SavedBearer":
        return cls(bearer.id, bearer.netdev, dict(bearer.handle))


@dataclass
class SavedConnection:
    """What --once leaves behind for qcm disconnect: the calls and what was configured."""
    backend: str
    control: str
    netdev: str
    bearers: List[SavedBearer] = field(default_factory=list)
    applied: Optional[Applied] = None

    def save(self, path: Path) -> None:
        data: Dict[str, Any] = {
            "version": VERSION, "backend": self.backend, "control": self.control, "netdev": self.netdev,
            "bearers": [{"pdn": b.id.pdn, "family": b.id.family, "netdev": b.netdev, "handle": b.handle}
                        for b in self.bearers],
            "applied": self.applied.to_json() if self.applied else None}
        try:
            write_atomic(path, json.dumps(data, indent=2) + "\n", 0o600)
        except OSError as exc:
            raise NetConfigError("cannot save the connection state in %s: %s" % (path, exc.strerror),
                                 "the call was stopped again; free some space in %s" % path.parent) from None

    @classmethod
    def load(cls, path: Path, netdev: str) -> "SavedConnection":
        """The state ``connect --once`` saved for ``netdev``; refused unless only root could have
        written it, and with one line (not a traceback) when it is damaged."""
        text = read_private(path)
        try:
            data = json.loads(text)
            if data.get("version") != VERSION or data.get("backend") not in BACKENDS:
                raise ValueError("version %r of backend %r is not one this qcm writes" % (
                    data.get("version"), data.get("backend")))
            saved = cls(data["backend"], _text(data["control"]), _text(data["netdev"]),
                        [SavedBearer(BearerId(_number(b["pdn"], 255), _family(b["family"])), _text(b["netdev"]),
                                     _handle(b["handle"])) for b in data.get("bearers", [])],
                        Applied.from_json(data["applied"]) if data.get("applied") else None)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateDamaged("the saved state %s is damaged (%s: %s)" % (path, type(exc).__name__, exc),
                               "remove it; if the call is still up, reset the module (qcm usbnet, or unplug it)")
        netdevs = {saved.netdev} | {b.netdev for b in saved.bearers} | (
            {saved.applied.netdev} if saved.applied else set())
        if netdevs != {netdev}:
            raise StateDamaged("the saved state %s is for %s, not %s" % (path, ", ".join(sorted(netdevs)), netdev),
                               "remove it")
        return saved


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a name, got %r" % (value,))
    return value


def _number(value: Any, high: int = 0xFFFFFFFF) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
        raise ValueError("expected a number up to %d, got %r" % (high, value))
    return value


def _family(value: Any) -> int:
    if value not in (4, 6):
        raise ValueError("expected IP family 4 or 6, got %r" % (value,))
    return int(value)


def _handle(value: Any) -> Dict[str, Any]:
    """A backend's handle: names to numbers or short names, nothing else."""
    if not isinstance(value, dict):
        raise ValueError("expected a handle, got %r" % (value,))
    return {_text(k): (_number(v) if not isinstance(v, str) else _text(v)) for k, v in value.items()}
