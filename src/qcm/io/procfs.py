"""Who holds a device file: the other processes that have it open, by name and pid (read from /proc)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Tuple

__all__ = ["port_holders"]


def port_holders(paths: List[str], proc: Path = Path("/proc")) -> Dict[str, List[Tuple[int, str]]]:
    """Which processes (other than us) hold these device files open, by name and pid."""
    wanted = {os.path.realpath(p): p for p in paths if p}
    found: Dict[str, List[Tuple[int, str]]] = {}
    me = os.getpid()
    for entry in proc.iterdir() if proc.is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            targets = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue  # gone, or not ours to look at
        for real, path in wanted.items():
            if real in targets:
                found.setdefault(path, []).append((int(entry.name), name))
    return found
