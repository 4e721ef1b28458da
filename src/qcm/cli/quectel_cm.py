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
from dataclasses import dataclass, field
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence

from .. import __version__
from ..ascii import parse_int
from ..connect import events as ev
from ..errors import NotImplementedOption, PermissionProblem, UsageError
from ..log import REPORT, LineHandler, LineWriter, QuectelFormatter, setup_output
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
-m muxid                        QMAP mux 0x80+muxid: one quectel-CM per PDN on one module (each on
                                its own interface, the control port shared through qmi-proxy)
-k pdn                          Stop the quectel-CM started with -n pdn
-v                              Log every QMI message, decoded
-d                              Configure addresses from QMI (always the case in qcm)
-r                              Detach and attach the kernel driver before opening the device
-b, -u, -a, -y, -l              Accepted for compatibility; not implemented (exit status 12)
[Examples]
quectel-CM -s 3gnet
quectel-CM -4 -6 -s internet user pass 2 -p 0123 -f cm.log
quectel-CM -n 1 -m 1 -s internet & quectel-CM -n 2 -m 2 -s corp.example &
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
    mux: Optional[int] = None          # -m N: QMAP mux id 0x80 + N
    kill_pdn: Optional[int] = None
    verbose: bool = False
    rebind: bool = False
    unsupported: List[str] = field(default_factory=list)
    help: bool = False
    mbim_proxy: Optional[bool] = None  # -p mbim-proxy: share the MBIM port through libmbim's proxy


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
            if values[0] == "mbim-proxy":
                options.mbim_proxy = True  # libmbim's proxy, whose protocol quectel-mbim-proxy also speaks
            elif values[0] in PROXIES:
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
        elif letter == "m":
            values = _values(args, i, 1)
            i += len(values)
            mux = parse_int(values[0], 1, 0x7E) if values else None
            if mux is None:
                raise UsageError("-m needs a mux number from 1 to 126 (the mux id is 0x80 + it)")
            options.mux = mux
        elif letter in "auyl":
            values = _values(args, i, 1)
            i += len(values)
            what = {"a": "SDX35 bring-up by APN", "u": "usbmon capture",
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
    """Events rendered as quectel-CM's log lines, through qcm's one output path (``qcm.log``), which
    ``_run`` points at stdout and at the ``-f`` file with quectel-CM's stamp. Text from the modem
    is escaped there; a line that cannot be written costs a warning, never the connection."""

    def __init__(self, show_personal: bool = False) -> None:
        self.show_personal = show_personal
        self.log = logging.getLogger(REPORT)
        self.mode = ""                  # the module's mode, from ModemFound: MBIM logs its own lines
        self.plan: Optional[Any] = None  # the DialPlan, for the lines quectel-CM prints about it in MBIM mode

    def line(self, text: str, level: int = logging.INFO) -> None:
        self.log.log(level, text)

    def __call__(self, event: ev.Event) -> None:
        level = logging.WARNING if isinstance(event, ev.Notice) and event.warning else logging.INFO
        for text in self.lines(event):
            self.line(text, level)

    def lines(self, event: ev.Event) -> List[str]:
        if isinstance(event, ev.ModemFound) and event.mode == "ethernet":
            return _ethernet_found(event)
        if isinstance(event, ev.ContextActivated):
            return ["AT> %s" % event.command, "requestGetIPAddress %s" % event.address]
        if isinstance(event, ev.DhcpLease):
            return ["udhcpc: lease of %s obtained, lease time %d" % (event.address.split("/")[0], event.lease_time)]
        if isinstance(event, ev.ModemFound):
            vendor, product = event.usb_id.split(":")
            self.mode = event.mode
            return ["Find /sys/bus/usb/devices/%s idVendor=0x%s idProduct=0x%x" % (event.usb_path, vendor,
                                                                                int(product, 16)),
                    "Auto find qmichannel = %s" % event.control, "Auto find usbnet_adapter = %s" % event.netdev,
                    "netcard driver = %s, driver version = %s" % (event.driver, event.driver_version or "unknown"),
                    "Modem works in %s mode" % event.mode.upper()] + (self._mbim_plan() if event.mode == "mbim" else [])
        if self.mode == "mbim":
            mbim = self._mbim_lines(event)
            if mbim is not None:
                return mbim
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

    # ---------------------------------------------------------------- MBIM mode (seed 000's log)

    def _mbim_plan(self) -> List[str]:
        plan = self.plan
        if plan is None:
            return []

        def shown(value: Optional[str], personal: bool = False) -> str:
            if not value:
                return "(null)"
            return value if self.show_personal or not personal else "###"
        auth = {"none": 0, "pap": 1, "chap": 2, "both": 3}.get(plan.auth or ("both" if plan.password else "none"), 0)
        ip_type = {(4,): "IPv4", (6,): "IPv6"}.get(tuple(sorted(plan.families)), "IPv4v6")
        return ["apn %s, user %s, passwd %s, auth %d" % (shown(plan.apn), shown(plan.username, True),
                                                        shown(plan.password, True), auth),
                "IP Proto MBIMContextIPType%s" % ip_type]

    def _mbim_lines(self, event: ev.Event) -> Optional[List[str]]:
        """quectel-CM's lines for an MBIM step; [] for QMI-worded events it does not print in
        MBIM mode; None for everything else (the common rendering)."""
        if isinstance(event, ev.MbimRequest):
            return [_MBIM_REQUESTS.get((event.command, event.kind), "mbim_%s_%s()" % (event.command, event.kind)) % {
                "session": event.session or 0, "value": event.value if event.value is not None else 0}]
        if isinstance(event, ev.MbimDeviceCaps):
            return ["DeviceId:     %s" % (event.device_id if self.show_personal else "###"),
                    "FirmwareInfo: %s" % event.firmware, "HardwareInfo: %s" % event.hardware]
        if isinstance(event, ev.MbimRadioState):
            return ["HwRadioState: %d, SwRadioState: %d" % (event.hardware == "on", event.software == "on")]
        if isinstance(event, ev.MbimState):
            what = _MBIM_STATES.get(event.what, event.what)
            old = "not-initialized" if event.what == "subscriber-ready" and event.old == "unknown" else event.old
            return ["%s %s -> %s" % (what, _camel(old), _camel(event.new))]
        if isinstance(event, ev.MbimIpConfiguration):
            return _ip_configuration_lines(event)
        if isinstance(event, (ev.Identified, ev.SimReady, ev.Waiting, ev.Registered, ev.CallStatus, ev.CallStarted,
                              ev.SettingsReceived, ev.ClientsAllocated, ev.ProfileChecked)):
            return []  # QMI-worded lines (requestGetSIMStatus...): the MBIM steps above say it
        return None


# MBIM requests as quectel-CM logs them (its mbim-cm.c function names)
_MBIM_REQUESTS = {
    ("open", "query"): "mbim_open_device()", ("device_caps", "query"): "mbim_device_caps_query()",
    ("device_services", "query"): "mbim_device_services_query()",
    ("radio_state", "set"): "mbim_set_radio_state( %(value)d )",
    ("subscriber_ready_status", "query"): "mbim_subscriber_status_query()",
    ("register_state", "query"): "mbim_register_state_query()",
    ("packet_service", "query"): "mbim_packet_service_query()",
    ("packet_service", "set"): "mbim_packet_service_set(attach)",
    ("connect", "query"): "mbim_query_connect(sessionID=%(session)d)",
    ("connect", "set"): "mbim_set_connect(onoff=%(value)d, sessionID=%(session)d)",
    ("ip_configuration", "query"): "mbim_ip_config(sessionID=%(session)d)",
}
_MBIM_STATES = {"subscriber-ready": "SubscriberReadyState", "register": "RegisterState",
                "packet-service": "PacketServiceState", "activation": "ActivationState"}


def _camel(name: str) -> str:
    """libmbim's "not-initialized" as quectel-CM prints it: "NotInitialized"."""
    return "".join(part.capitalize() for part in name.split("-")) or "Unknown"


def _ip_configuration_lines(event: ev.MbimIpConfiguration) -> List[str]:
    v4 = [s for s in event.settings if s.family == 4]
    v6 = [s for s in event.settings if s.family == 6]
    lines = ["< SessionId = %d" % event.session, "< IPv4ConfigurationAvailable = 0x%x" % event.ipv4_available,
             "< IPv6ConfigurationAvailable = 0x%x" % event.ipv6_available,
             "< IPv4AddressCount = 0x%x" % len(v4), "< IPv4AddressOffset = 0x%x" % (60 if v4 else 0),
             "< IPv6AddressCount = 0x%x" % len(v6), "< IPv6AddressOffset = 0x%x" % (60 + 8 * len(v4) if v6 else 0)]
    for settings in v4 + v6:
        family = settings.family
        lines.append("< IPv%d = %s" % (family, settings.address))
        if settings.gateway:
            lines.append("< gw = %s" % settings.gateway)
        lines += ["< dns%d = %s" % (i + 1, server) for i, server in enumerate(settings.dns)]
        if settings.mtu:
            lines.append("< ipv%d mtu = %d" % (family, settings.mtu))
    return lines


def _ethernet_found(event: ev.ModemFound) -> List[str]:
    """ECM, RNDIS and NCM: an Ethernet interface and the AT port that dials it (as quectel-CM's atc.c)."""
    vendor, product = event.usb_id.split(":")
    kind = {"cdc_ether": "ECM", "rndis_host": "RNDIS", "cdc_ncm": "NCM"}.get(event.driver, "ECM")
    return ["Find /sys/bus/usb/devices/%s idVendor=0x%s idProduct=0x%x" % (event.usb_path, vendor, int(product, 16)),
            "Auto find usbnet_adapter = %s" % event.netdev, "AT port = %s" % event.control,
            "netcard driver = %s, driver version = %s" % (event.driver, event.driver_version or "unknown"),
            "Modem works in %s mode" % kind]


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    setup_output(sys.stdout, prog=PROG, formatter=QuectelFormatter)
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
    to_file = LineHandler(LineWriter(PROG, "the log file", fd=logfile), QuectelFormatter()) if logfile else None
    if to_file is not None:
        logging.getLogger().addHandler(to_file)
    try:
        log = QuectelLog()
        log.line("QConnectManager_Linux_V1.6.8 compatible: qcm %s" % __version__)
        if options.kill_pdn is not None:
            return _kill(options.kill_pdn, log)
        return _connect(options, log)
    finally:
        if to_file is not None:
            logging.getLogger().removeHandler(to_file)
        if logfile is not None:
            os.close(logfile)


def _connect(options: CompatOptions, log: QuectelLog) -> int:
    from ..connect.manager import Manager
    from ..connect.options import ConnectOptions, DialPlan

    families = tuple(f for f, on in ((4, options.ipv4 or not options.ipv6), (6, options.ipv6)) if on)
    mux: Dict[str, Any] = {}
    if options.mux is not None:
        # One process per PDN, as quectel-CM runs them: the module is shared, its port through a qmi-proxy
        # (libqmi's, started if none runs and it is installed: it outlives whichever of them ends first).
        from ..io.qmi_proxy import PROXY_PROGRAM
        mux = {"mux_id": 0x80 + options.mux, "shared": True,
               "qmi_proxy": True if os.access(PROXY_PROGRAM, os.X_OK) else None}
    plan = DialPlan(apn=options.apn, username=options.user, password=options.password, auth=options.auth,
                    pin=options.pin, families=families, profile=options.pdn, mbim_proxy=options.mbim_proxy, **mux)
    roots = environment_roots()
    connect = ConnectOptions(plan=plan, interface=options.interface, first_found=True, rebind_first=options.rebind,
                             sysfs=roots["sysfs"], dev=roots["dev"], run_dir=roots["run_dir"],
                             state_dir=roots["state_dir"])
    log.plan = plan
    if options.verbose:
        logging.getLogger("qcm.io.qmi_port.trace").setLevel(logging.DEBUG)
    return asyncio.run(Manager(connect, log).run())


def _kill(pdn: int, log: QuectelLog) -> int:
    """-k: ask the manager that dials profile ``pdn`` to disconnect (never a signal to a stranger)."""
    from ..io.control import ask

    run_dir = environment_roots()["run_dir"]
    if run_dir.is_dir() and not os.access(run_dir, os.R_OK | os.X_OK):
        raise PermissionProblem("cannot look into %s to find the quectel-CM of -n %d" % (run_dir, pdn),
                                "run it as root")
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
