"""DNS servers of a call: through systemd-resolved when it manages resolv.conf, else resolvconf when
it is installed, else a careful resolv.conf edit.

With resolved (its stub file is /etc/resolv.conf), the servers go on the link with ``resolvectl dns``
and come off with ``resolvectl revert``: replacing the stub file would take name resolution away
from resolved, and resolvconf there is resolved's shim, which only knows real interface names.

A link that is not the default PDN's (several PDNs on one module) keeps its servers to itself:
with resolved they go on its link without being the default route for names (``resolvectl
default-route LINK no``), with resolvconf in their own record; the file has no notion of links,
so they are not written there (the caller records them).

The file edit adds our ``nameserver`` lines, tagged with the interface, above the others;
it writes a temporary file and renames it over the original (falling back to rewriting in
place when resolv.conf is a bind mount, as in containers and ``ip netns exec``). Undoing
removes exactly our tagged lines, so changes others made meanwhile survive. resolvconf is
run with an argument list, never through a shell.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..errors import NetConfigError
from ..io.files import resolve_trusted

__all__ = ["DnsChange", "apply_dns", "undo_dns"]

TAG = "# qcm %s"


@dataclass(frozen=True)
class DnsChange:
    method: str                 # "resolved", "resolvconf" or "file"
    target: str                 # the link (resolved), the resolvconf record name, or the file path
    servers: Sequence[str]
    created: bool = False       # we created the file

    def to_json(self) -> Dict[str, object]:
        data = asdict(self)
        data["servers"] = list(self.servers)
        return data

    @classmethod
    def from_json(cls, data: Dict[str, object]) -> "DnsChange":
        method, servers = data["method"], data["servers"]
        if method not in ("resolved", "resolvconf", "file") or not isinstance(servers, list):
            raise ValueError("not a DNS change: %r" % (data,))
        return cls(str(method), str(data["target"]), tuple(str(ipaddress.ip_address(s)) for s in servers),
                   bool(data.get("created", False)))


def apply_dns(netdev: str, servers: Sequence[str], mode: str = "auto", path: Path = Path("/etc/resolv.conf"),
              resolvconf: Optional[str] = None, resolvectl: Optional[str] = None,
              default: bool = True) -> Optional[DnsChange]:
    """Install ``servers`` for ``netdev``; ``default``: they answer every name (the default PDN's)."""
    if not servers or mode == "none":
        return None
    resolvectl = resolvectl or shutil.which("resolvectl")
    if mode == "resolved" or (mode == "auto" and resolvectl and managed_by_resolved(path)):
        if not resolvectl:
            raise NetConfigError("--dns resolved: the resolvectl program is not installed")
        _run([resolvectl, "dns", netdev, *servers], "")
        _run([resolvectl, "default-route", netdev, "yes" if default else "no"], "")
        return DnsChange("resolved", netdev, tuple(servers))
    resolvconf = resolvconf or shutil.which("resolvconf")
    if mode == "resolvconf" or (mode == "auto" and resolvconf):
        if not resolvconf:
            raise NetConfigError("--dns resolvconf: the resolvconf program is not installed")
        record = "%s.qcm" % netdev
        _run([resolvconf, "-a", record], "".join("nameserver %s\n" % s for s in servers))
        return DnsChange("resolvconf", record, tuple(servers))
    if not default:
        return None  # resolv.conf has no notion of links: another PDN's servers would answer every name
    try:
        target = resolve_trusted(path)  # a link is followed only where no other user could have placed it
    except OSError as exc:  # a name too long, a loop...: a problem of the path given, not a bug
        raise NetConfigError("cannot use %s for DNS: %s" % (path, exc.strerror or exc)) from None
    existed = target.exists()
    lines = _read_lines(target)
    ours = ["nameserver %s %s" % (s, TAG % netdev) for s in servers]
    kept = [line for line in lines if not line.rstrip().endswith(TAG % netdev)]
    _write(target, ours + kept)
    return DnsChange("file", str(target), tuple(servers), created=not existed)


def undo_dns(change: Optional[DnsChange], netdev: str, resolvconf: Optional[str] = None,
             resolvectl: Optional[str] = None) -> None:
    if change is None:
        return
    if change.method in ("resolved", "resolvconf"):
        if change.method == "resolved":
            program, argv = resolvectl or shutil.which("resolvectl"), ["revert", change.target]
        else:
            program, argv = resolvconf or shutil.which("resolvconf"), ["-d", change.target]
        if program:
            _run([program, *argv], "")
        return
    try:
        target = resolve_trusted(Path(change.target))
    except OSError as exc:
        raise NetConfigError("cannot use %s for DNS: %s" % (change.target, exc.strerror or exc)) from None
    if not target.exists():
        return
    lines = _read_lines(target)
    kept = [line for line in lines if not line.rstrip().endswith(TAG % netdev)]
    if change.created and not [line for line in kept if line.strip()]:
        target.unlink()
    elif kept != lines:
        _write(target, kept)


def managed_by_resolved(path: Path) -> bool:
    """Whether resolv.conf is systemd-resolved's (its stub or its list, which say so in their header)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.read(1024)
    except OSError:
        return False
    return "systemd-resolved" in head


def _run(argv: List[str], text: str) -> None:
    try:
        result = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetConfigError("%s failed: %s" % (argv[0], exc)) from None
    if result.returncode != 0:
        raise NetConfigError("%s %s failed: %s" % (argv[0], " ".join(argv[1:]), result.stderr.strip()))


def _read_lines(path: Path) -> List[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise NetConfigError("cannot read %s: %s" % (path, exc.strerror)) from None


def _write(path: Path, lines: List[str]) -> None:
    """Replace the file's content: atomically through a temporary file beside it, or in place when it
    is a mount point (containers, ip netns exec) or its directory takes no new file (a read-only
    /etc whose resolv.conf itself is writable)."""
    text = "".join(line + "\n" for line in lines)
    try:
        try:
            fd, temporary = tempfile.mkstemp(prefix=".resolv.conf.", dir=str(path.parent))
        except OSError as exc:
            if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM) or not path.exists():
                raise
            _rewrite(path, text)
            return
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                mode = path.stat().st_mode & 0o777
            except FileNotFoundError:
                mode = 0o644
            os.chmod(temporary, mode)
            try:
                os.replace(temporary, path)
            except OSError as exc:
                if exc.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM):
                    raise
                _rewrite(path, text)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as exc:
        raise NetConfigError("cannot update %s: %s" % (path, exc.strerror or exc)) from None


def _rewrite(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
