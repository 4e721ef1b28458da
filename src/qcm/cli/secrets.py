"""The SIM PIN and the APN user name and password, from somewhere other users cannot read.

Arguments are world-readable: every local user sees them in ``ps`` and /proc/PID/cmdline.
A process's environment is readable only by its own user, and a file can be made root-only,
so ``qcm connect`` and ``quectel-CM`` take the secrets from ``$QCM_PIN``, ``$QCM_APN_USER`` and
``$QCM_APN_PASSWORD`` (a systemd EnvironmentFile of mode 0600 sets them), and ``qcm connect``
also from ``--secrets FILE``::

    # /etc/qcm/wwan0.secrets, mode 0600, owned by root
    pin = 0123
    user = carl
    password = "two words"

The file is refused unless it is a regular file (not a link: it is opened with O_NOFOLLOW)
owned by root or by the caller, with no permission bits for group or others. Values given on
the command line still win, with a one-line warning that they are visible to everybody.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import IO, Callable, List, Mapping, Optional, Sequence

from ..errors import PermissionProblem, UsageError
from ..io.files import read_owned_text
from .options import check_credential, check_pin

__all__ = ["Secrets", "ENVIRONMENT", "from_environment", "read_file", "parse_file", "merge", "warn_visible"]

ENVIRONMENT = {"pin": "QCM_PIN", "user": "QCM_APN_USER", "password": "QCM_APN_PASSWORD"}
WORDS = {"pin": "PIN", "user": "APN user name", "password": "APN password"}
MAX_FILE_SIZE = 64 * 1024  # a secrets file holds three short lines


@dataclass(frozen=True)
class Secrets:
    """The PIN and the APN credentials, from wherever they were given."""
    pin: Optional[str] = None
    user: Optional[str] = None
    password: Optional[str] = None

    def given(self) -> List[str]:
        """The names of the secrets present (non-empty), in a fixed order."""
        return [f.name for f in fields(self) if getattr(self, f.name)]


def _checked(secrets: Secrets, label: Callable[[str], str]) -> Secrets:
    """The values, if the SIM and the module can take them (``label`` names where each came from)."""
    check_pin(secrets.pin, label("pin"))
    for name in ("user", "password"):
        value = getattr(secrets, name)
        if value is not None:
            check_credential(value, "%s (%s)" % (WORDS[name][4:], label(name)))
    return secrets


def from_environment(environ: Mapping[str, str]) -> Secrets:
    """$QCM_PIN, $QCM_APN_USER, $QCM_APN_PASSWORD; an empty variable counts as unset."""
    found = {name: environ.get(variable) or None for name, variable in ENVIRONMENT.items()}
    return _checked(Secrets(**found), lambda name: "$" + ENVIRONMENT[name])


def parse_file(text: str, path: str) -> Secrets:
    """``key = value`` lines (pin, user, password, or their QCM_ variable names); # comments; a value
    may be quoted to keep surrounding spaces. Values never appear in errors."""
    keys = dict({k: k for k in ENVIRONMENT}, **{v.lower(): k for k, v in ENVIRONMENT.items()})
    found = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip().lower()
        if not sep or key not in keys:
            raise UsageError("%s line %d: expected pin = ..., user = ... or password = ..." % (path, number))
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[keys[key]] = value or None
    return _checked(Secrets(**found), lambda name: "%s: %s" % (path, name))


def read_file(path: str) -> Secrets:
    """The secrets in ``path``, if only root (or the caller) can read or change it."""
    try:
        text, _ = read_owned_text(path, "secrets file", MAX_FILE_SIZE, "it should hold a few short lines",
                                  private=True)
    except FileNotFoundError:
        raise PermissionProblem("secrets file %s does not exist" % path, "create it with: install -m 600 -o root "
                                "/dev/null %s, then write pin = ..., password = ... into it" % path) from None
    return parse_file(text, path)


def merge(command_line: Secrets, *others: Secrets) -> Secrets:
    """Each secret from the command line if given there, else from the first of ``others`` that has it."""
    merged = command_line
    for name in ("pin", "user", "password"):
        if getattr(merged, name):
            continue
        value = next((getattr(s, name) for s in others if getattr(s, name)), getattr(merged, name))
        merged = replace(merged, **{name: value})
    return merged


def warn_visible(command_line: Secrets, prog: str, stream: IO[str], alternatives: Sequence[str]) -> None:
    """One line when secrets came as arguments, saying where they would be safe."""
    names = command_line.given()
    if not names:
        return
    words = [WORDS[n] for n in names]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    stream.write("%s: warning: the %s given on the command line %s visible to every local user (ps); use %s\n" % (
        prog, listed, "is" if len(words) == 1 else "are",
        " or ".join(["$" + "/$".join(ENVIRONMENT[n] for n in names), *alternatives])))
    stream.flush()
