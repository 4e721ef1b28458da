"""``quectel-CM``: the C tool's command line and log format, on qcm's connection manager.

Options mean what they meant (``-s APN [USER PASS [AUTH]]``, ``-p PIN``, ``-4 -6``, ``-i``,
``-n``, ``-f``, ``-v``, ``-k``...), and the log keeps its ``[MM-DD_HH:MM:SS:mmm]`` lines and its
familiar messages, so scripts and habits keep working. Its defects are not kept: PINs with a
leading zero and 5-8 digits work, ``-n 12`` means 12, errors exit non-zero with one line, and
options qcm does not implement say so and exit with status 12 instead of being ignored.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import IO, List, Optional, Sequence

from .. import __version__
from ..connect import events as ev
from ..errors import NotImplementedOption, UsageError
from .list import environment_roots
from .main import run_guarded

__all__ = ["main", "parse", "CompatOptions", "QuectelLog"]

PROG = "quectel-CM"
PROXIES = ("quectel-qmi-proxy", "quectel-mbim-proxy", "qmi-proxy", "mbim-proxy", "quectel-atc-proxy")
AUTH = {"0": "none", "none": "none", "1": "pap", "pap": "pap", "2": "chap", "chap": "chap", "3": "both"}

USAGE = """Usage: quectel-CM [options]   (qcm %s, a drop-in for Quectel's connect manager)
-s [apn [user password auth]]   Set apn/user/password/auth (auth: 0 none, 1 pap, 2 chap, 3 pap or chap)
-p pincode                      Verify the SIM PIN (4-8 digits; used once, never retried)
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
    if not values or not values[0].isdigit():
        raise UsageError("%s needs a number" % option)
    return int(values[0])


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
                options.apn = values[0]
                options.user = values[1] if len(values) > 1 else ""
                options.password = values[2] if len(values) > 2 else ""
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
            elif values[0].isdigit() and 4 <= len(values[0]) <= 8:
                options.pin = values[0]
            else:
                raise UsageError("-p: a SIM PIN has 4 to 8 digits")
        elif letter in "fi":
            values = _values(args, i, 1)
            i += len(values)
            if not values:
                raise UsageError("-%s needs a value" % letter)
            if letter == "f":
                options.logfile = values[0]
            else:
                options.interface = values[0]
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


class QuectelLog:
    """Events rendered as quectel-CM's log lines, on stdout and optionally appended to a file."""

    def __init__(self, stream: IO[str], logfile: Optional[IO[str]] = None, show_personal: bool = False) -> None:
        self.stream = stream
        self.logfile = logfile
        self.show_personal = show_personal

    def line(self, text: str) -> None:
        now = time.time()
        tm = time.localtime(now)
        stamp = "[%02d-%02d_%02d:%02d:%02d:%03d]" % (tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                                                   int((now % 1) * 1000))
        for target in (self.stream, self.logfile):
            if target is not None:
                target.write("%s %s\n" % (stamp, text))
                target.flush()

    def __call__(self, event: ev.Event) -> None:
        for text in self.lines(event):
            self.line(text)

    def lines(self, event: ev.Event) -> List[str]:
        if isinstance(event, ev.ModemFound) and event.mode == "ethernet":
            return self._ethernet_found(event)
        if isinstance(event, ev.ContextActivated):
            return ["AT> %s" % event.command, "requestGetIPAddress %s" % event.address]
        if isinstance(event, ev.DhcpLease):
            return ["udhcpc: lease of %s obtained, lease time %d" % (event.address.split("/")[0], event.lease_time)]
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


    @staticmethod
    def _ethernet_found(event: ev.ModemFound) -> List[str]:
        """ECM, RNDIS and NCM: an Ethernet interface and the AT port that dials it (as quectel-CM's atc.c)."""
        vendor, product = event.usb_id.split(":")
        kind = {"cdc_ether": "ECM", "rndis_host": "RNDIS", "cdc_ncm": "NCM"}.get(event.driver, "ECM")
        return ["Find /sys/bus/usb/devices/%s idVendor=0x%s idProduct=0x%x" % (event.usb_path, vendor,
                                                                            int(product, 16)),
                "Auto find usbnet_adapter = %s" % event.netdev, "AT port = %s" % event.control,
                "netcard driver = %s, driver version = %s" % (event.driver, event.driver_version or "unknown"),
                "Modem works in %s mode" % kind]


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s", stream=sys.stderr)
    return run_guarded(lambda: _run(argv), prog=PROG)


def _run(argv: List[str]) -> int:
    options = parse(argv)
    if options.help:
        sys.stdout.write(USAGE)
        return 0
    if options.unsupported:
        raise NotImplementedOption("not implemented in qcm: %s" % ", ".join(options.unsupported),
                                   "run without it; qcm speaks to qmi_wwan modules directly")
    logfile = open(options.logfile, "a") if options.logfile else None
    try:
        log = QuectelLog(sys.stdout, logfile)
        log.line("QConnectManager_Linux_V1.6.8 compatible: qcm %s" % __version__)
        if options.kill_pdn is not None:
            return _kill(options.kill_pdn, log)
        return _connect(options, log)
    finally:
        if logfile is not None:
            logfile.close()


def _connect(options: CompatOptions, log: QuectelLog) -> int:
    from ..connect.manager import Manager
    from ..connect.options import ConnectOptions, DialPlan

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
