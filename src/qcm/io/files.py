"""Files root writes and trusts: never through a link or into a directory another user controls.

qcm runs as root, and some of its paths come from the command line or live in directories a
user may be able to write (``--metrics-file``, ``--resolv-conf``, ``$QCM_RUN_DIR``). A planted
symlink must not make root overwrite or chmod another file, and a planted state file must not
tell root what to undo. So: new files are created with O_EXCL (never opened through a link),
private directories are created 0700 and checked before use, files read back are checked for
their owner and mode, and a path that will be written is resolved one component at a time,
trusting a link only where no other user could have placed it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Tuple

from ..errors import PermissionProblem, UsageError

__all__ = ["write_atomic", "ensure_private_dir", "read_private", "resolve_trusted", "Untrusted"]

MAX_LINKS = 40  # as the kernel's own limit on symlinks followed in one lookup


class Untrusted(PermissionProblem):
    """A file or directory that another user could have planted or changed."""


def _trusted_owner(uid: int) -> bool:
    return uid in (0, os.geteuid())


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write to a new temporary file beside ``path`` (created with O_EXCL, so never through a
    planted link) and rename it over ``path`` (which replaces a link rather than following it).
    Raises OSError (disk full...) after removing the temporary file."""
    fd, temporary = tempfile.mkstemp(prefix=".%s." % path.name, suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents with mode 0700; check that an existing one is a real
    directory of root's (or ours) that nobody else can write."""
    missing = []
    current = path
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        except PermissionError:
            raise PermissionProblem("cannot create %s" % directory, "run qcm as root") from None
        os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
    check_private_dir(path)


def check_private_dir(path: Path) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise Untrusted("%s does not exist" % path) from None
    if not stat.S_ISDIR(info.st_mode):
        raise Untrusted("%s is not a directory (a link or a file is there)" % path,
                        "remove it; qcm creates its run and state directories itself")
    if not _trusted_owner(info.st_uid) or info.st_mode & 0o022:
        raise Untrusted("refusing to use %s: it belongs to uid %d or other users can write it (mode %o)"
                        % (path, info.st_uid, info.st_mode & 0o777),
                        "make it root's and mode 0700, or remove it and let qcm create it")


def read_private(path: Path, limit: int = 1 << 20) -> str:
    """The text of a file that only root (or we) could have written; raises FileNotFoundError (or
    NotADirectoryError) if there is none, ``Untrusted`` if it is a link, not a regular file, someone else's or writable by
    others."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
            raise  # there is no such file
        raise Untrusted("cannot open %s safely: %s" % (path, exc.strerror),
                        "it may be a link another user planted; remove it") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or not _trusted_owner(info.st_uid) or info.st_mode & 0o022:
            raise Untrusted("refusing to trust %s: not a regular file of root's, or writable by others" % path,
                            "remove it")
        return handle.read(limit).decode("utf-8", "replace")


def read_owned_text(path: str, what: str, limit: int, too_big: str, private: bool) -> Tuple[str, int]:
    """The UTF-8 text and the mode of a file the user named (``what``: "configuration", "secrets file"),
    refused in one line when it is a link, not a regular file, not root's (or the caller's), writable by
    group or others, or with ``private`` readable by them. FileNotFoundError when there is none."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if os.path.islink(path):
            raise PermissionProblem("%s %s is a symbolic link; give the file itself" % (what, path)) from None
        raise PermissionProblem("cannot open %s %s: %s" % (what, path, exc.strerror)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PermissionProblem("%s %s is not a regular file" % (what, path))
        if info.st_uid not in (0, os.geteuid()):
            raise PermissionProblem("%s %s belongs to uid %d, not to root: another user could change it"
                                    % (what, path, info.st_uid), "chown root %s" % path)
        if info.st_mode & (0o077 if private else 0o022):
            raise PermissionProblem("%s %s has mode %04o: %s" % (
                what, path, stat.S_IMODE(info.st_mode),
                "group and others may read or change it" if private else "group or others may change it"),
                "chmod 600 %s" % path)
        if info.st_size > limit:
            raise UsageError("%s %s is %d bytes; %s" % (what, path, info.st_size, too_big))
        data = b""
        while len(data) <= limit:
            chunk = os.read(fd, limit + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        raise PermissionProblem("cannot read %s %s: %s" % (what, path, exc.strerror)) from None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8"), stat.S_IMODE(info.st_mode)
    except UnicodeDecodeError:
        raise UsageError("%s %s is not UTF-8 text" % (what, path)) from None


def resolve_trusted(path: Path) -> Path:
    """Where writing ``path`` would land, following only links no other user could have placed.

    Each component is looked at in turn: a directory on the way must be root's (or ours) and not
    writable by others, except a sticky one (/tmp) whose entry we go through is itself root's; a
    link is followed only on those terms. Raises ``Untrusted`` otherwise."""
    pending = list(Path(os.path.abspath(path)).parts[1:])
    current = Path("/")
    links = 0
    while pending:
        name = pending.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            current = current.parent
            continue
        candidate = current / name
        parent = os.stat(current)
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            info = None
        entry_owner = info.st_uid if info is not None else os.geteuid()
        shared = bool(parent.st_mode & 0o022) or not _trusted_owner(parent.st_uid)
        if shared and not (parent.st_mode & stat.S_ISVTX and _trusted_owner(entry_owner)
                           and _trusted_owner(parent.st_uid)):
            raise Untrusted("refusing to write through %s: another user can change %s" % (candidate, current),
                            "use a path in a directory only root can write")
        if info is not None and stat.S_ISLNK(info.st_mode):
            links += 1
            if links > MAX_LINKS or not _trusted_owner(info.st_uid):
                raise Untrusted("refusing to follow the link %s (owner uid %d)" % (candidate, info.st_uid),
                                "replace it with a link or file of root's")
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = Path("/")
            pending = list(Path(target).parts[1 if target.startswith("/") else 0:]) + pending
            continue
        if info is None and pending:
            raise Untrusted("%s does not exist" % candidate)
        current = candidate
    return current
