"""What ``qcm connect --once`` leaves behind, so that ``qcm disconnect`` can undo it later.

The call survives the process only while its WDS client stays allocated on the modem, so the
state names those clients and the calls' handles, plus every host change to undo. The file
lives next to the control sockets, in the root-only run directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import NetConfigError
from ..io.files import read_private, write_atomic
from .host import Applied

__all__ = ["CallRecord", "SavedConnection", "StateDamaged", "state_path"]


def state_path(run_dir: Path, netdev: str) -> Path:
    return run_dir / ("%s.json" % netdev)


@dataclass
class CallRecord:
    family: int
    cid: int
    handle: int


@dataclass
class SavedConnection:
    control: str
    netdev: str
    calls: List[CallRecord] = field(default_factory=list)
    applied: Optional[Applied] = None

    def save(self, path: Path) -> None:
        data: Dict[str, Any] = {"control": self.control, "netdev": self.netdev,
                                "calls": [vars(c) for c in self.calls],
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
            saved = cls(_text(data["control"]), _text(data["netdev"]),
                        [CallRecord(_family(c["family"]), _number(c["cid"]), _number(c["handle"]))
                         for c in data.get("calls", [])],
                        Applied.from_json(data["applied"]) if data.get("applied") else None)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateDamaged("the saved state %s is damaged (%s: %s)" % (path, type(exc).__name__, exc),
                               "remove it; if the call is still up, reset the module (qcm usbnet, or unplug it)")
        if saved.netdev != netdev or (saved.applied is not None and saved.applied.netdev != netdev):
            raise StateDamaged("the saved state %s is for %s, not %s" % (path, saved.netdev, netdev), "remove it")
        return saved


class StateDamaged(NetConfigError):
    """A state file that cannot be read back as qcm wrote it."""


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a name, got %r" % (value,))
    return value


def _number(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0xFFFFFFFF:
        raise ValueError("expected a 32-bit number, got %r" % (value,))
    return value


def _family(value: Any) -> int:
    if value not in (4, 6):
        raise ValueError("expected IP family 4 or 6, got %r" % (value,))
    return int(value)
