"""``quectel-CM``: the C tool's command line and log format, on qcm's connection manager.

Options mean what they meant (``-s APN [USER PASS [AUTH]]``, ``-p PIN``, ``-4 -6``, ``-i``,
``-n``, ``-f``, ``-v``, ``-k``...), and the log keeps its ``[MM-DD_HH:MM:SS:mmm]`` lines and its
familiar messages, so scripts and habits keep working. Its defects are not kept: PINs with a
leading zero and 5-8 digits work, ``-n 12`` means 12, errors exit non-zero with one line, and
options qcm does not implement say so and exit with status 12 instead of being ignored.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import stat
import sys
import time
from dataclasses import dataclass, field
from typing import IO, List, Mapping, Optional, Sequence

from .. import __version__
from ..ascii import parse_int
from ..connect import events as ev
from ..errors import NotImplementedOption, PermissionProblem, UsageError
from ..printable import printable
from . import secrets
from .list import environment_roots
from .main import run_guarded
from .options import PROFILE_RANGE, check_apn, check_credential, check_pin, check_socket_directory, interface_name

__all__ = ["main", "parse", "CompatOptions", "QuectelLog"]

PROG = "quectel-CM"
PROXIES = ("quectel-qmi-proxy", "quectel-mbim-proxy", "qmi-proxy", "mbim-proxy", "quectel-atc-proxy")
AUTH = {"0": "none", "none": "none", "1": "pap", "pap": "pap", "2": "chap", "chap": "chap", "3": "both"}

USAGE = """Usage: quectel-CM [options]   (qcm %s, a drop-in for Quectel's connect manager)
-s [apn [user password auth]]   Set apn/user/password/auth (auth: 0 none, 1 pap, 2 chap, 3 pap or chap)
-p pincode                      Verify the SIM PIN (4-8 digits; used once, never retried)
                                (ps shows arguments to everyone: prefer $QCM_PIN, $QCM_APN_USER
                                and $QCM_APN_PASSWORD, e.g. from a root-only EnvironmentFile)
-f logfilename                  Also append the log to this file
-i interface                    Use the module with this network interface (default: the first found)
-4                              IPv4 (the default)
-6                              IPv6 (-4 -6: dual stack)
-n pdn                          Profile / PDN index (default 1)
-k pdn                          Stop the quectel-CM started with -n pdn
-v                              Log every QMI message, decoded
-d                              Configure addresses from QMI (always the case in qcm)
-r                              Detach and attach the kernel driver before opening the device
-m, -b, -u, -a, -y, -l          Accepted for compatibility; not implemented (exit status 12)
[Examples]
quectel-CM -s 3gnet
quectel-CM -4 -6 -s internet user pass 2 -p 0123 -f cm.log
""" % __version__


@dataclass
class CompatOptions:
    apn: Optional[str] = None
    user: str = ""
    password: str = ""
    auth: Optional[str] = None
    pin: Optional[str] = None
    logfile: Optional[str] = None
    interface: Optional[str] = None
    ipv4: bool = False
    ipv6: bool = False
    pdn: int = 1
    kill_pdn: Optional[int] = None
    verbose: bool = False
    rebind: bool = False
    unsupported: List[str] = field(default_factory=list)
    help: bool = False


def _values(argv: Sequence[str], i: int, limit: int) -> List[str]:
    """quectel-CM's rule: a value follows only if it exists and does not start with '-'."""
    out: List[str] = []
    while i + len(out) < len(argv) and len(out) < limit and not argv[i + len(out)].startswith("-"):
        out.append(argv[i + len(out)])
    return out


def _number(option: str, values: List[str]) -> int:
    if not values:
        raise UsageError("%s needs a profile index" % option)
    number = parse_int(values[0], *PROFILE_RANGE)
    if number is None:
        raise UsageError("%s %s: a profile index is a number from %d to %d" % (option, printable(values[0][:20]),
                                                                            *PROFILE_RANGE))
    return number


def parse(argv: Sequence[str]) -> CompatOptions:
    args = list(argv)
    if args and args[-1] == "&":  # the C tool drops a literal trailing "&"
        args.pop()
    options = CompatOptions()
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-") or len(arg) < 2:
            raise UsageError("unexpected argument %r" % arg, "see quectel-CM -h")
        letter = arg[1]
        i += 1
        if letter == "s":
            values = _values(args, i, 4)
            i += len(values)
            if values:
                options.apn = check_apn(values[0])
                options.user = check_credential(values[1] if len(values) > 1 else "", "user name")
                options.password = check_credential(values[2] if len(values) > 2 else "", "password")
                if len(values) > 3:
                    if values[3].lower() not in AUTH:
                        raise UsageError("unknown auth %r (0 none, 1 pap, 2 chap, 3 pap or chap)" % values[3])
                    options.auth = AUTH[values[3].lower()]
                elif options.password:
                    options.auth = "chap"  # quectel-CM's default when a password is given
        elif letter == "p":
            values = _values(args, i, 1)
            i += len(values)
            if not values:
                raise UsageError("-p needs a PIN")
            if values[0] in PROXIES:
                options.unsupported.append("-p %s (proxies)" % values[0])
            else:
                options.pin = check_pin(values[0], "-p")
        elif letter in "fi":
            values = _values(args, i, 1)
            i += len(values)
            if not values:
                raise UsageError("-%s needs a value" % letter)
            if letter == "f":
                options.logfile = values[0]
            else:
                try:
                    options.interface = interface_name(values[0])
                except argparse.ArgumentTypeError as exc:
                    raise UsageError("-i: %s" % exc) from None
        elif letter in "nk":
            values = _values(args, i, 1)
            i += len(values)
            number = _number("-" + letter, values)
            if letter == "n":
                options.pdn = number
            else:
                options.kill_pdn = number
        elif letter == "4":
            options.ipv4 = True
        elif letter == "6":
            options.ipv6 = True
        elif letter == "v":
            options.verbose = True
        elif letter == "d":
            pass  # addresses always come from QMI in qcm
        elif letter in "mauyl":
            values = _values(args, i, 1)
            i += len(values)
            what = {"m": "QMAP mux selection", "a": "SDX35 bring-up by APN", "u": "usbmon capture",
                    "y": "SDX35 APN type", "l": "loopback test"}[letter]
            options.unsupported.append("-%s (%s)" % (letter, what))
        elif letter == "r":
            options.rebind = True
        elif letter == "b":
            options.unsupported.append("-b (bridge mode)")
        elif letter == "h":
            options.help = True
        else:
            raise UsageError("unknown option %s" % arg, "see quectel-CM -h")
    return options


def open_logfile(path: str) -> int:
    """-f FILE: appended to, created with mode 0600, never through a symbolic link (as root, a link
    someone planted would make us append to any file) and never into another user's file."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NOCTTY | os.O_NONBLOCK
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PermissionProblem("-f %s is a symbolic link; give the file itself" % path) from None
        if exc.errno == errno.ENOENT:
            raise UsageError("-f %s: the directory %s does not exist" % (path, os.path.dirname(path) or ".")) from None
        if exc.errno == errno.EISDIR:
            raise UsageError("-f %s is a directory; give a file name" % path) from None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise PermissionProblem("-f %s: %s" % (path, exc.strerror)) from None
        raise UsageError("-f %s: %s" % (path, exc.strerror)) from None
    info = os.fstat(fd)
    problem = ""
    if stat.S_ISBLK(info.st_mode):
        problem = "is a block device"
    elif stat.S_ISREG(info.st_mode) and info.st_uid not in (0, os.geteuid()):
        problem = "belongs to uid %d, not to us" % info.st_uid
    elif stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
        problem = "has other hard links"
    if problem:
        os.close(fd)
        raise PermissionProblem("-f %s %s; refusing to append to it" % (path, problem))
    return fd


class QuectelLog:
    """Events rendered as quectel-CM's log lines, on stdout and optionally appended to a file
    (given as a file descriptor from ``open_logfile``).

    Text from the modem is escaped (``printable``): an operator name is no terminal command. A
    line that cannot be written (a full disk, a reader that went away) costs a warning on stderr
    once per target, never the connection (``LineWriter``).
    """

    def __init__(self, stream: Optional[IO[str]], logfile: Optional[int] = None, show_personal: bool = False,
                 errors: Optional[IO[str]] = None) -> None:
        from .report import LineWriter
        self.targets = [LineWriter(PROG, name, stream=stream, fd=fd, errors=errors)
                        for name, stream, fd in (("standard output", stream, None), ("the log file", None, logfile))
                        if stream is not None or fd is not None]
        self.show_personal = show_personal

    def line(self, text: str) -> None:
        now = time.time()
        tm = time.localtime(now)
        stamp = "[%02d-%02d_%02d:%02d:%02d:%03d]" % (tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                                                   int((now % 1) * 1000))
        entry = "%s %s\n" % (stamp, printable(text))
        for target in self.targets:
            target.write(entry)

    def __call__(self, event: ev.Event) -> None:
        for text in self.lines(event):
            self.line(text)

    def lines(self, event: ev.Event) -> List[str]:
        if isinstance(event, ev.ModemFound):
            vendor, product = event.usb_id.split(":")
            return ["Find /sys/bus/usb/devices/%s idVendor=0x%s idProduct=0x%x" % (event.usb_path, vendor,
                                                                                int(product, 16)),
                    "Auto find qmichannel = %s" % event.control, "Auto find usbnet_adapter = %s" % event.netdev,
                    "netcard driver = %s, driver version = %s" % (event.driver, event.driver_version or "unknown"),
                    "Modem works in %s mode" % event.mode.upper()]
        if isinstance(event, ev.ClientsAllocated):
            return ["Get client%s = %d" % (service, cid) for service, _, cid in event.clients]
        if isinstance(event, ev.Identified):
            return ["requestBaseBandVersion %s" % event.identity.revision]
        if isinstance(event, ev.SimReady):
            return ["requestGetSIMStatus SIMStatus: SIM_READY"]
        if isinstance(event, ev.ProfileChecked):
            # quectel-CM prints apn/user/password/auth; the user name and password stay hidden here.
            hidden = "###" if event.username and not self.show_personal else event.username
            summary = "%s/%s/%s/%d" % (event.apn, hidden, "###" if event.username else "",
                                       {"none": 0, "pap": 1, "chap": 2, "pap,chap": 3}.get(event.auth, 0))
            if not event.supported:
                return ["requestGetProfile QMUXResult = 0x1, QMUXError = 0x5e",
                        "the APN goes with the call: %s" % summary]
            out = ["requestSetProfile[%d] %s" % (event.index, summary)] if event.changed else []
            return out + ["requestGetProfile[%d] %s" % (event.index, summary)]
        if isinstance(event, (ev.Waiting, ev.Registered)):
            r = event.registration
            return ["requestRegistrationState2 MCC: %d, MNC: %d, PS: %s, DataCap: %s" % (
                r.mcc or 0, r.mnc or 0, "Attached" if r.ps_attached else "Detached", (r.rat or "UNKNOW").upper())]
        if isinstance(event, ev.CallStatus):
            return ["requestQueryDataCall IPv%dConnectionStatus: %s" % (
                event.family, "CONNECTED" if event.connected else "DISCONNECTED")]
        if isinstance(event, ev.CallStarted):
            return ["requestSetupDataCall WdsConnectionIPv%dHandle: 0x%08x" % (event.family, event.handle)]
        if isinstance(event, ev.HostConfigured):
            out = ["ip link set dev %s up" % event.netdev]
            for settings in event.settings:
                out.append("ip -%d address add %s dev %s" % (settings.family, settings.address, event.netdev))
            out += ["ip route add %s" % route for route in event.routes]
            if event.dns != "unchanged":
                out.append("DNS: %s" % event.dns)
            return out
        if isinstance(event, ev.Disconnecting):
            return ["%s: requestDeactivateDefaultPDP" % event.reason]
        from .report import describe_event
        text = describe_event(event, self.show_personal)
        return [text] if text else []


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s", stream=sys.stderr)
    return run_guarded(lambda: _run(argv), prog=PROG)


def apply_secrets(options: CompatOptions, environ: Mapping[str, str], errors: IO[str]) -> CompatOptions:
    """The PIN, user name and password from the command line (with a warning: ps shows them to every
    local user), else from $QCM_PIN, $QCM_APN_USER and $QCM_APN_PASSWORD."""
    given = secrets.Secrets(options.pin, options.user or None, options.password or None)
    secrets.warn_visible(given, PROG, errors, [])
    merged = secrets.merge(given, secrets.from_environment(environ))
    options.pin, options.user, options.password = merged.pin, merged.user or "", merged.password or ""
    if options.password and options.auth is None:
        options.auth = "chap"  # quectel-CM's default when a password is given
    return options


def _run(argv: List[str]) -> int:
    options = parse(argv)
    if options.help:
        sys.stdout.write(USAGE)
        return 0
    if options.unsupported:
        raise NotImplementedOption("not implemented in qcm: %s" % ", ".join(options.unsupported),
                                   "run without it; qcm speaks to qmi_wwan modules directly")
    check_socket_directory(environment_roots()["run_dir"], "$QCM_RUN_DIR")
    if options.kill_pdn is None:
        apply_secrets(options, os.environ, sys.stderr)
    logfile = open_logfile(options.logfile) if options.logfile else None
    try:
        log = QuectelLog(sys.stdout, logfile)
        log.line("QConnectManager_Linux_V1.6.8 compatible: qcm %s" % __version__)
        if options.kill_pdn is not None:
            return _kill(options.kill_pdn, log)
        return _connect(options, log)
    finally:
        if logfile is not None:
            os.close(logfile)


def _connect(options: CompatOptions, log: QuectelLog) -> int:
    from ..connect.dial import DialPlan
    from ..connect.manager import ConnectOptions, Manager

    families = tuple(f for f, on in ((4, options.ipv4 or not options.ipv6), (6, options.ipv6)) if on)
    plan = DialPlan(apn=options.apn, username=options.user, password=options.password, auth=options.auth,
                    pin=options.pin, families=families, profile=options.pdn)
    connect = ConnectOptions(plan=plan, interface=options.interface, first_found=True,  # type: ignore[arg-type]
                             rebind_first=options.rebind, **environment_roots())
    if options.verbose:
        logging.getLogger("qcm.qmi.trace").setLevel(logging.DEBUG)
    return asyncio.run(Manager(connect, log).run())


def _kill(pdn: int, log: QuectelLog) -> int:
    """-k: ask the manager that dials profile ``pdn`` to disconnect (never a signal to a stranger)."""
    from ..io.control import ask

    run_dir = environment_roots()["run_dir"]
    for path in sorted(run_dir.glob("*.sock")) if run_dir.is_dir() else []:
        try:
            status = ask(path, {"command": "status"}, timeout=5).get("status", {})
        except Exception:  # a stale socket: not ours to worry about here
            continue
        if status.get("profile") == pdn:
            ask(path, {"command": "disconnect"})
            log.line("asked the quectel-CM of %s (-n %d) to stop" % (status.get("netdev"), pdn))
            return 0
    log.line("no running quectel-CM with -n %d" % pdn)
    return 3
