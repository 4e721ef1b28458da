"""Connection configuration files: ``/etc/qcm/NAME.toml``, one per connection.

``qcm connect --config NAME`` reads one (options given on the command line win over it), and
``qcm daemon`` runs the connections of all of them. ``KEYS`` is the one list of what a file may
say: the README's table and the man page's section are checked against it, so they cannot
drift. A key nobody knows is refused with the list of known ones; every value is checked as the
command line checks it, before anything is sent to a module.

A file may hold the SIM PIN and the APN user name and password. It must then be root's (or the
caller's) with no permission for group and others, and it is refused otherwise (exit 10); any
file must be a regular file that only its owner can change (never a link).
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from .cli.options import METRIC_RANGE, PROFILE_RANGE, check_apn, check_credential, check_pin, file_path, iccid, \
    imei, integer, interface_name, seconds, usb_path
from .errors import PermissionProblem, UsageError
from .io.files import read_owned_text

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["KEYS", "PDN_KEYS", "Key", "Config", "PdnConfig", "config_dir", "config_path", "load", "load_all",
           "parse", "with_pdns", "SECRET_KEYS", "MATCH_KEYS", "MAX_SIZE"]

MAX_SIZE = 64 * 1024                 # a connection's settings are a few dozen lines
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SECRET_KEYS = ("pin", "user", "password")
AUTH = ("none", "pap", "chap", "both")
IP = {"ipv4": (4,), "ipv6": (6,), "ipv4v6": (4, 6)}


def config_dir() -> Path:
    """/etc/qcm, or $QCM_CONFIG_DIR (tests, and systems that keep configuration elsewhere)."""
    return Path(os.environ.get("QCM_CONFIG_DIR", "/etc/qcm"))


# ---------------------------------------------------------------------- what a value may be

def _string(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise UsageError("%s must be a string (in quotes)" % key)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise UsageError("%s contains control characters" % key)
    return value


def _boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise UsageError("%s must be true or false" % key)
    return value


def _typed(check: Callable[[str], Any]) -> Callable[[Any, str], Any]:
    """An argparse type (integer(), seconds(), usb_path...) applied to a TOML value, for one line naming
    the key. Numbers may be written as numbers or as strings; booleans are not numbers."""
    def parse(value: Any, key: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise UsageError("%s must be %s" % (key, "a number" if check.__name__ in ("integer", "seconds")
                                                 else "a string"))
        try:
            return check(str(value))
        except argparse.ArgumentTypeError as exc:
            raise UsageError("%s: %s" % (key, exc)) from None
    return parse


def _choice(*choices: str) -> Callable[[Any, str], str]:
    def parse(value: Any, key: str) -> str:
        if value not in choices:
            raise UsageError("%s must be one of %s (got %s)" % (key, ", ".join(choices), _shown(value)))
        return str(value)
    return parse


def _apn(value: Any, key: str) -> str:
    text = check_apn(_string(value, key))
    assert text is not None
    return text


def _control(value: Any, key: str) -> str:
    text = _string(value, key)
    if not text or len(text) > 255:
        raise UsageError("%s must be a device path such as /dev/cdc-wdm0" % key)
    return text


def _probes(value: Any, key: str) -> List[str]:
    from .io.probe import parse_probe
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError('%s must be a list of strings: ["ping:198.51.100.1", "dns:NAME@SERVER"]' % key)
    for text in value:
        try:
            parse_probe(text)
        except ValueError as exc:
            raise UsageError("%s: %s" % (key, exc)) from None
    return list(value)


def _routes(value: Any, key: str) -> List[str]:
    import ipaddress
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError('%s must be a list of networks: ["192.0.2.0/24"]' % key)
    for text in value:
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise UsageError("%s: %s is not a network (ADDRESS/PREFIX)" % (key, _shown(text))) from None
    return list(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return text[:40] + ("..." if len(text) > 40 else "")


# ---------------------------------------------------------------------- the keys

@dataclass(frozen=True)
class Key:
    name: str
    kind: str                          # what the README and the man page say it is
    help: str
    parse: Callable[[Any, str], Any]   # (TOML value, where) -> the checked value
    dest: Tuple[str, ...] = ()         # the qcm connect option(s) it sets (argparse dest); () for secrets
    to: Callable[[Any], Tuple[Any, ...]] = lambda v: (v,)   # the checked value as the dests' values
    default: str = ""
    group: str = ""


def _key(name: str, kind: str, parse: Callable[[Any, str], Any], help_text: str, default: str = "",
         dest: Optional[Tuple[str, ...]] = None, to: Optional[Callable[[Any], Tuple[Any, ...]]] = None,
         group: str = "") -> Key:
    return Key(name, kind, help_text, parse, (name,) if dest is None else dest, to or (lambda v: (v,)), default,
               group)


_MODULE, _CALL, _HOST, _KEEP = "which module", "the connection", "host configuration", "staying connected"

KEYS: List[Key] = [
    _key("interface", "string", _typed(interface_name), "the module's network interface (wwan0)", group=_MODULE),
    _key("usb_path", "string", _typed(usb_path), "the module's USB path (1-1.2)", group=_MODULE),
    _key("control", "string", _control, "the module's control port (/dev/cdc-wdm0)", group=_MODULE),
    _key("imei", "string", _typed(imei), "the module's IMEI (asked from each module present)", group=_MODULE),
    _key("iccid", "string", _typed(iccid), "the ICCID of the SIM in the module (asked from each module present; "
         "followed by its USB path afterwards)", group=_MODULE),
    _key("apn", "string", _apn, "the APN (at most 100 bytes)", dest=("apn",), to=lambda v: ([v],),
         group=_CALL),
    _key("auth", "string", _choice(*AUTH), "authentication: none, pap, chap or both", "both with a password, "
         "else none", group=_CALL),
    _key("user", "string", lambda v, k: check_credential(_string(v, k), "user name (%s)" % k),
         "APN user name (a secret: the file must then be mode 0600)", dest=(), group=_CALL),
    _key("password", "string", lambda v, k: check_credential(_string(v, k), "password (%s)" % k),
         "APN password (a secret: the file must then be mode 0600)", dest=(), group=_CALL),
    _key("pin", "string", lambda v, k: check_pin(_string(v, k), k), "SIM PIN, 4 to 8 digits, sent once and never "
         "retried (a secret: the file must then be mode 0600)", dest=(), group=_CALL),
    _key("ip", "string", _choice(*IP), "IP families: ipv4, ipv6 or ipv4v6", "ipv4", dest=("ipv4", "ipv6"),
         to=lambda v: (4 in IP[v], 6 in IP[v]), group=_CALL),
    _key("profile", "integer", _typed(integer(*PROFILE_RANGE)), "the modem profile (PDN) to dial, 1-255", "1",
         group=_CALL),
    _key("keep_profile", "boolean", _boolean, "leave the modem's stored profile alone", "false", group=_CALL),
    _key("ip_config", "string", _choice("auto", "dhcp"), "where addresses come from: auto or dhcp", "auto",
         group=_CALL),
    _key("proxy", "boolean", _boolean, "MBIM: through mbim-proxy (true) or the port itself (false)",
         "when mbim-proxy runs", group=_CALL),
    _key("register_timeout", "seconds", _typed(seconds(0)), "how long to wait for the network", "60",
         group=_CALL),
    _key("timeout", "seconds", _typed(seconds(0.1)), "how long to wait for each modem answer", "10", group=_CALL),
    _key("retry_rejected_pin", "boolean", _boolean, "send a PIN this SIM rejected before", "false", group=_CALL),
    _key("inhibit_modemmanager", "boolean", _boolean, "ask ModemManager to let go of the module for as long as "
         "qcm runs (over D-Bus)", "false", group=_CALL),
    _key("route_metric", "integer", _typed(integer(*METRIC_RANGE)), "metric of the default routes",
         "700, or above any existing default route", dest=("metric",), group=_HOST),
    _key("take_default", "boolean", _boolean, "make our default routes preferred over existing ones", "false",
         group=_HOST),
    _key("default_route", "boolean", _boolean, "add default routes", "true", dest=("no_default_route",),
         to=lambda v: (not v,), group=_HOST),
    _key("dns", "string", _choice("auto", "resolved", "resolvconf", "file", "none"),
         "how to install DNS servers: auto, resolved, resolvconf, file or none", "auto", group=_HOST),
    _key("resolv_conf", "string", _typed(file_path), "the resolv.conf to edit (dns = file)", "/etc/resolv.conf",
         group=_HOST),
    _key("probes", "list of strings", _probes, 'traffic checks: ["ping:ADDRESS", "dns:NAME@SERVER"]', "none",
         dest=("probe",), group=_KEEP),
    _key("probe_interval", "seconds", _typed(seconds(0.1)), "seconds between probes", "30", group=_KEEP),
    _key("probe_failures", "integer", _typed(integer(1, 1000)), "failed probes in a row that count as a drop",
         "3", group=_KEEP),
    _key("poll_interval", "seconds", _typed(seconds(1)), "seconds between safety-net checks of the calls", "60",
         group=_KEEP),
    _key("rebind", "boolean", _boolean, "re-bind the USB driver before the first attempt", "false", group=_KEEP),
    _key("metrics_file", "string", _typed(file_path), "Prometheus metrics file (qcm connect; qcm daemon has "
         "--metrics-file for all)", "none", group=_KEEP),
]

PDN_KEYS: List[Key] = [
    _key("profile", "integer", _typed(integer(*PROFILE_RANGE)), "the profile this PDN dials (required, unlike "
         "the connection's)", "required"),
    _key("apn", "string", _apn, "its APN"),
    _key("auth", "string", _choice(*AUTH), "its authentication"),
    _key("user", "string", lambda v, k: check_credential(_string(v, k), "user name (%s)" % k), "its APN user "
         "name (a secret)", dest=()),
    _key("password", "string", lambda v, k: check_credential(_string(v, k), "password (%s)" % k), "its APN "
         "password (a secret)", dest=()),
    _key("ip", "string", _choice(*IP), "its IP families", "ipv4"),
    _key("default", "boolean", _boolean, "its link gets the default routes (else the connection's does)", "false"),
    _key("routes", "list of strings", _routes, "networks reached through its link", "none"),
]

_BY_NAME = {k.name: k for k in KEYS}
_PDN_BY_NAME = {k.name: k for k in PDN_KEYS}
MATCH_KEYS = tuple(k.name for k in KEYS if k.group == _MODULE)


@dataclass(frozen=True)
class PdnConfig:
    profile: int
    apn: Optional[str] = None
    auth: Optional[str] = None
    user: str = ""
    password: str = ""
    families: Tuple[int, ...] = (4,)
    default: bool = False
    routes: Tuple[str, ...] = ()


@dataclass
class Config:
    name: str
    path: Path
    options: Dict[str, Any] = field(default_factory=dict)     # qcm connect's argparse dest -> value
    secrets: Dict[str, str] = field(default_factory=dict)     # pin, user, password
    pdns: List[PdnConfig] = field(default_factory=list)
    iccid: Optional[str] = None

    @property
    def match(self) -> Dict[str, str]:
        """How the file names its module (interface, usb_path, control, imei, iccid); {} for any one."""
        found = {k: self.options[k] for k in ("interface", "usb_path", "control", "imei") if self.options.get(k)}
        if self.iccid:
            found["iccid"] = self.iccid
        return found


# ---------------------------------------------------------------------- reading

def config_path(name: str, directory: Optional[Path] = None) -> Path:
    """``NAME`` in the configuration directory (NAME.toml), or a path given as such."""
    if "/" in name or name.endswith(".toml"):
        return Path(name)
    if not NAME.match(name):
        raise UsageError("%s is not a configuration name (letters, digits, '.', '_', '-'; or give a path)"
                         % _shown(name))
    return (directory or config_dir()) / ("%s.toml" % name)


def load(name: str, directory: Optional[Path] = None) -> Config:
    path = config_path(name, directory)
    text, mode = _read(path)
    return parse(text, path, mode)


def load_all(directory: Optional[Path] = None) -> List[Config]:
    """Every ``*.toml`` in the configuration directory, by name."""
    directory = directory or config_dir()
    try:
        names = sorted(p.name for p in directory.iterdir() if p.name.endswith(".toml"))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise PermissionProblem("cannot read %s: %s" % (directory, exc.strerror), "run as root") from None
    return [load(str(directory / name)) for name in names if not name.startswith(".")]


def _read(path: Path) -> Tuple[str, int]:
    """The text of the file and its mode; refused when it is a link, not a regular file, or someone other
    than root (or us) could change it."""
    try:
        return read_owned_text(str(path), "configuration", MAX_SIZE, "a connection's settings fit in a few lines",
                               private=False)
    except FileNotFoundError:
        raise UsageError("no configuration %s" % path, "create it (see the README's Configuration section, or man "
                         "qcm-connect), or name another with --config NAME or a path") from None


def parse(text: str, path: Path, mode: int = 0o600) -> Config:
    """A configuration from its TOML text; ``mode`` is the file's, to refuse secrets others could read."""
    name = path.name[:-5] if path.name.endswith(".toml") else path.name
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError("%s: not valid TOML: %s" % (path, exc)) from None
    except RecursionError:
        raise UsageError("%s: nested too deep" % path) from None
    config = Config(name, path)
    for key, value in data.items():
        if key == "pdn":
            config.pdns = _pdns(value, path)
            continue
        known = _BY_NAME.get(key)
        if known is None:
            raise UsageError("%s: unknown key %s (known: %s, and [[pdn]] tables)" % (
                path, _shown(key), ", ".join(k.name for k in KEYS)))
        checked = known.parse(value, "%s: %s" % (path, key))
        if key in SECRET_KEYS:
            if checked:
                config.secrets[key] = checked
        elif key == "iccid":
            config.iccid = checked
        else:
            config.options.update(zip(known.dest, known.to(checked)))
    profiles = [config.options.get("profile", 1)] + [p.profile for p in config.pdns]
    if len(set(profiles)) != len(profiles):
        raise UsageError("%s: each [[pdn]] needs a profile of its own (profiles %s)" % (
            path, ", ".join(str(p) for p in profiles)))
    holds_secrets = bool(config.secrets) or any(p.user or p.password for p in config.pdns)
    if holds_secrets and mode & 0o077:
        raise PermissionProblem("configuration %s holds a PIN, user name or password, and has mode %04o: group and "
                                "others may read it" % (path, mode), "chmod 600 %s" % path)
    return config


def _pdns(value: Any, path: Path) -> List[PdnConfig]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise UsageError("%s: pdn must be [[pdn]] tables" % path)
    pdns = []
    for number, table in enumerate(value, 1):
        where = "%s: [[pdn]] %d" % (path, number)
        checked: Dict[str, Any] = {}
        for key, item in table.items():
            known = _PDN_BY_NAME.get(key)
            if known is None:
                raise UsageError("%s: unknown key %s (known: %s)" % (where, _shown(key),
                                                                    ", ".join(k.name for k in PDN_KEYS)))
            checked[key] = known.parse(item, "%s: %s" % (where, key))
        if "profile" not in checked:
            raise UsageError("%s: profile is required (the modem profile this PDN dials)" % where)
        pdns.append(PdnConfig(checked["profile"], checked.get("apn"), checked.get("auth"), checked.get("user", ""),
                              checked.get("password", ""), IP[checked.get("ip", "ipv4")], checked.get("default", False),
                              tuple(checked.get("routes", ()))))
    return pdns


# ---------------------------------------------------------------------- extra PDNs onto the dial plan

def with_pdns(plan: Any, pdns: Any) -> Any:
    """``plan`` (a DialPlan) with the configuration's [[pdn]] tables as its further PDNs."""
    if not pdns:
        return plan
    from dataclasses import replace

    from .backends.base import Pdn
    more = tuple(Pdn(index=p.profile, apn=p.apn, username=p.user, password=p.password, auth=p.auth,
                     families=p.families, default=p.default, routes=p.routes) for p in pdns)
    return replace(plan, more_pdns=tuple(plan.more_pdns) + more)
