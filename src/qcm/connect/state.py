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
from ..io.files import write_atomic
from .host import Applied

__all__ = ["CallRecord", "SavedConnection", "state_path"]


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
    def load(cls, path: Path) -> "SavedConnection":
        data = json.loads(path.read_text())
        return cls(data["control"], data["netdev"], [CallRecord(**c) for c in data.get("calls", [])],
                   Applied.from_json(data["applied"]) if data.get("applied") else None)
