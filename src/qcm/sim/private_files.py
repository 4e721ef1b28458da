"""Files the simulator writes that hold personal data (sim.json, --trace): mode 0600, never through
a link someone planted, never a truncation of a file that is not ours."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import IO

from ..errors import UsageError

__all__ = ["write_private", "open_trace"]


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, mode 0600 (readers see the old or the new file)."""
    temporary = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
    try:
        temporary.unlink()  # a leftover (or a planted link) goes; unlink never follows a link
    except FileNotFoundError:
        pass
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except OSError:
        try:
            temporary.unlink()
        except OSError:
            pass
        raise


def open_trace(path: Path) -> IO[str]:
    """``--trace FILE`` for appending: created 0600, a symbolic link or a non-regular file refused,
    an existing file's group and other permissions removed (it is about to hold PINs)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                     0o600)
    except OSError as exc:
        reason = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        raise UsageError("--trace %s: cannot open it: %s" % (path, reason)) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UsageError("--trace %s: not a regular file" % path)
    if info.st_mode & 0o077:
        os.fchmod(fd, 0o600)
    os.set_blocking(fd, True)
    return os.fdopen(fd, "a", buffering=1)
