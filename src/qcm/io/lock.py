"""One manager per module: an flock on ``RUN_DIR/NETDEV.lock``, held for the manager's life.

A second ``qcm connect`` (supervised, ``--once`` or the quectel-CM drop-in) for a module that is
already managed must stop before it touches anything: its failure teardown would otherwise take
down the first one's interface. The kernel drops an flock when its holder dies, so a killed
manager never leaves a stale lock behind. The file holds the holder's pid, to name it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from pathlib import Path
from typing import Optional

from ..errors import PortBusyError
from .files import Untrusted, ensure_private_dir

__all__ = ["ModuleLock"]


class ModuleLock:
    def __init__(self, run_dir: Path, netdev: str) -> None:
        self.path = run_dir / ("%s.lock" % netdev)
        self.netdev = netdev
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        ensure_private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_uid not in (0, os.geteuid()):
                raise Untrusted("refusing to use %s: not a regular file of root's" % self.path, "remove it")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                raise PortBusyError("another qcm%s already manages %s" % (
                    " (pid %s)" % holder if holder.isdigit() else "", self.netdev),
                    "see it with qcm status -i %s; stop it with qcm disconnect -i %s" % (self.netdev, self.netdev)) \
                    from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, b"%d\n" % os.getpid(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        """Let the next manager in. The file stays: removing it would race with one that opened it."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
