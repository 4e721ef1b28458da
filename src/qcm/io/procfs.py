"""Who holds a device file: the other processes that have it open, by name and pid (read from /proc)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Tuple, Union

__all__ = ["port_holders"]


def port_holders(paths: List[str], proc: Union[str, Path] = "/proc") -> Dict[str, List[Tuple[int, str]]]:
    """Which processes (other than us) hold these device files open, by name and pid.

    On the way to the first request of every connect: plain strings and os calls, not pathlib,
    and a process's name is read only when it holds one of the files."""
    wanted = {os.path.realpath(p): p for p in paths if p}
    found: Dict[str, List[Tuple[int, str]]] = {}
    me = str(os.getpid())
    proc = str(proc)
    try:
        pids = os.listdir(proc)
    except OSError:
        return found
    for pid in pids:
        if not pid.isdigit() or pid == me:
            continue
        fd_dir = "%s/%s/fd" % (proc, pid)
        try:
            targets = {os.readlink("%s/%s" % (fd_dir, fd)) for fd in os.listdir(fd_dir)}
        except OSError:
            continue  # gone, or not ours to look at
        held = [path for real, path in wanted.items() if real in targets]
        if not held:
            continue
        try:
            with open("%s/%s/comm" % (proc, pid)) as comm:
                name = comm.read().strip()
        except OSError:
            continue
        for path in held:
            found.setdefault(path, []).append((int(pid), name))
    return found
