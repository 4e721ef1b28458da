"""One manager per PDN of a shared module (quectel-CM -n N -m M: one process per PDN).

``ModuleLock`` (``io/lock.py``) is an exclusive flock on ``RUN_DIR/NETDEV.lock``: one manager per
module. Processes that each dial one PDN of the same module share it instead: each takes that
file *shared* (so a whole-module manager, which takes it exclusively, cannot start beside them,
nor they beside it) and an exclusive lock of its own PDN, ``RUN_DIR/NETDEV.muxNNN.lock`` (so two
processes cannot dial the same PDN). The kernel drops flocks with their holder: nothing stale.
The PDN's file holds the holder's pid, to name it.
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

__all__ = ["PdnLock"]


def _open(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid not in (0, os.geteuid()):
        os.close(fd)
        raise Untrusted("refusing to use %s: not a regular file of root's" % path, "remove it")
    return fd


def _try_lock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise
        return False
    return True


class PdnLock:
    def __init__(self, run_dir: Path, netdev: str, mux_id: int, pdn: int) -> None:
        self.module_path = run_dir / ("%s.lock" % netdev)
        self.path = run_dir / ("%s.mux%d.lock" % (netdev, mux_id))
        self.netdev, self.mux_id, self.pdn = netdev, mux_id, pdn
        self._fds: list = []

    def acquire(self) -> None:
        ensure_private_dir(self.path.parent)
        module = _open(self.module_path)
        self._fds.append(module)
        try:
            if not _try_lock(module, fcntl.LOCK_SH):
                holder = os.pread(module, 32, 0).decode("ascii", "replace").strip()
                raise PortBusyError("another qcm%s manages all of %s; a PDN of it cannot be dialled beside it" % (
                    " (pid %s)" % holder if holder.isdigit() else "", self.netdev),
                    "dial this PDN there (qcm connect --pdn), or stop it first")
            own = _open(self.path)
            self._fds.append(own)
            if not _try_lock(own, fcntl.LOCK_EX):
                holder = os.pread(own, 32, 0).decode("ascii", "replace").strip()
                raise PortBusyError("another qcm%s already dials PDN %d (mux id 0x%02x) of %s" % (
                    " (pid %s)" % holder if holder.isdigit() else "", self.pdn, self.mux_id, self.netdev),
                    "each PDN of a module takes its own -n and -m")
            os.ftruncate(own, 0)
            os.pwrite(own, b"%d\n" % os.getpid(), 0)
            os.ftruncate(module, 0)  # no whole-module manager holds it now: its old pid would name nobody
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)

    @property
    def held(self) -> Optional[Path]:
        return self.path if self._fds else None
