"""``qcm connect`` and ``qcm disconnect``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import List, Optional

from ..errors import UsageError
from .list import add_root_options, environment_roots

RUN_DIR = environment_roots()["run_dir"]
AUTH_NAMES = {"0": "none", "none": "none", "1": "pap", "pap": "pap", "2": "chap", "chap": "chap",
              "3": "both", "both": "both", "pap-or-chap": "both"}


def add_modem_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("which module")
    group.add_argument("-i", "--interface", help="the module's network interface (e.g. wwan0)")
    group.add_argument("--control", help="the module's control port (e.g. /dev/cdc-wdm0)")
    group.add_argument("--usb-path", help="the module's USB path (e.g. 1-1.2)")
    group.add_argument("--imei", help="the module's IMEI")
    add_root_options(parser)
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR,
                        help="where control sockets and state live (default /run/qcm, or $QCM_RUN_DIR)")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--apn", nargs="+", metavar="ARG",
                        help="APN [USER PASSWORD [AUTH]]; AUTH: none, pap, chap, both (or 0-3)")
    parser.add_argument("-u", "--user", help="APN user name")
    parser.add_argument("--password", help="APN password")
    parser.add_argument("--auth", choices=sorted(set(AUTH_NAMES)), help="authentication (default: both when a "
                        "password is given, else none)")
    parser.add_argument("-p", "--pin", help="SIM PIN (4 to 8 digits; used once, never retried)")
    parser.add_argument("--retry-rejected-pin", action="store_true",
                        help="send the PIN even though this SIM rejected it before (qcm remembers rejected "
                        "PINs per SIM and refuses to spend another try on them)")
    parser.add_argument("-4", dest="ipv4", action="store_true", help="IPv4 (the default)")
    parser.add_argument("-6", dest="ipv6", action="store_true", help="IPv6 (with -4: dual stack)")
    parser.add_argument("-n", "--profile", type=int, default=1, help="profile index to use (default 1)")
    parser.add_argument("--keep-profile", action="store_true",
                        help="do not write the APN into the modem's stored profile")
    add_modem_options(parser)
    routes = parser.add_argument_group("host configuration")
    routes.add_argument("--metric", type=int, help="metric of the default routes (default: %d, or above any "
                        "existing default route)" % 700)
    routes.add_argument("--take-default", action="store_true",
                        help="make our default routes preferred over existing ones")
    routes.add_argument("--no-default-route", action="store_true", help="add no default route")
    routes.add_argument("--dns", choices=["auto", "resolvconf", "file", "none"], default="auto",
                        help="how to install DNS servers (auto: resolvconf if installed, else the file)")
    routes.add_argument("--resolv-conf", type=Path, default=Path("/etc/resolv.conf"),
                        help="resolv.conf to edit (default /etc/resolv.conf)")
    routes.add_argument("--ip-config", choices=["auto", "dhcp"], default="auto",
                        help="where addresses come from: auto (QMI: the modem's settings; Ethernet-style modules, "
                        "GobiNet and 802-3 links: DHCP and router advertisements), dhcp (always DHCP and router "
                        "advertisements on the interface)")
    parser.add_argument("--once", action="store_true",
                        help="exit once connected, leaving the call up (undo with qcm disconnect); "
                        "without it qcm stays, keeps the connection up and restores it when it drops")
    keep = parser.add_argument_group("staying connected")
    keep.add_argument("--probe", action="append", default=[], metavar="ping:ADDR|dns:NAME@SERVER",
                      help="check that traffic passes (repeatable; per IP family of the target); "
                      "failing probes count as a dropped call")
    keep.add_argument("--probe-interval", type=float, default=30.0, help="seconds between probes (default 30)")
    keep.add_argument("--probe-failures", type=int, default=3, help="failed probes in a row that count as a drop")
    keep.add_argument("--poll-interval", type=float, default=60.0,
                      help="seconds between safety-net checks of the calls (default 60; indications come first)")
    keep.add_argument("--rebind", action="store_true",
                      help="re-bind the module's USB driver before the first attempt (quectel-CM -r)")
    keep.add_argument("--metrics-file", type=Path, metavar="FILE",
                      help="write Prometheus metrics to FILE (for node_exporter's textfile collector)")
    parser.add_argument("--register-timeout", type=float, default=60.0,
                        help="seconds to wait for the network (default 60)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each modem answer")
    parser.add_argument("--show-personal", action="store_true", help="show IMEI, PIN and passwords in logs")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every QMI message (decoded)")


def parse_apn(values: Optional[List[str]], user: Optional[str], password: Optional[str],
              auth: Optional[str]) -> tuple:
    apn, u, p, a = None, "", "", None
    if values:
        if len(values) > 4:
            raise UsageError("-s takes APN [USER PASSWORD [AUTH]], got %d values" % len(values))
        apn = values[0]
        u = values[1] if len(values) > 1 else ""
        p = values[2] if len(values) > 2 else ""
        a = values[3] if len(values) > 3 else None
    u = user if user is not None else u
    p = password if password is not None else p
    a = auth if auth is not None else a
    if a is not None:
        if a.lower() not in AUTH_NAMES:
            raise UsageError("unknown authentication %r (use none, pap, chap or both; or 0-3)" % a)
        a = AUTH_NAMES[a.lower()]
    return apn, u, p, a


def check_pin(pin: Optional[str]) -> Optional[str]:
    if pin is not None and not (pin.isdigit() and 4 <= len(pin) <= 8):
        raise UsageError("a SIM PIN has 4 to 8 digits (got %d characters)" % len(pin))
    return pin


def run(args: argparse.Namespace) -> int:
    import asyncio

    from ..connect.manager import Manager
    from ..connect.options import ConnectOptions, DialPlan, HostOptions
    from ..io.notify import Notifier
    from ..io.probe import parse_probe
    from .report import TextReporter

    apn, user, password, auth = parse_apn(args.apn, args.user, args.password, args.auth)
    families = tuple(f for f, on in ((4, args.ipv4 or not args.ipv6), (6, args.ipv6)) if on)
    plan = DialPlan(apn=apn, username=user, password=password, auth=auth, pin=check_pin(args.pin),
                    families=families, profile=args.profile, write_profile=not args.keep_profile,
                    register_timeout=args.register_timeout, retry_rejected_pin=args.retry_rejected_pin,
                    ip_config=args.ip_config)
    host = HostOptions(metric=args.metric, take_default=args.take_default, default_route=not args.no_default_route,
                       dns=args.dns, resolv_conf=args.resolv_conf)
    try:
        probes = tuple(parse_probe(text) for text in args.probe)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    options = ConnectOptions(plan=plan, host=host, interface=args.interface, control=args.control,
                             usb_path=args.usb_path, imei=args.imei, sysfs=args.sysfs, dev=args.dev,
                             run_dir=args.run_dir, state_dir=environment_roots()["state_dir"], once=args.once, request_timeout=args.timeout,
                             show_personal=args.show_personal, poll_interval=args.poll_interval, probes=probes,
                             probe_interval=args.probe_interval, probe_failures=args.probe_failures,
                             metrics_file=args.metrics_file, rebind_first=args.rebind)
    if args.verbose:
        logging.getLogger("qcm.qmi.trace").setLevel(logging.DEBUG)
        logging.getLogger().setLevel(logging.DEBUG)
    manager = Manager(options, TextReporter(show_personal=args.show_personal), Notifier.from_environment())
    return asyncio.run(manager.run())


def configure_disconnect(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--interface", default=None, help="the connection's interface (default: the only one)")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="default /run/qcm, or $QCM_RUN_DIR")


def run_disconnect(args: argparse.Namespace) -> int:
    import asyncio

    from ..connect.disconnect import disconnect
    from .report import TextReporter

    netdev = args.interface or only_connection(args.run_dir)
    return asyncio.run(disconnect(netdev, args.run_dir, TextReporter()))


def only_connection(run_dir: Path) -> str:
    """The interface of the one connection in ``run_dir`` (a manager's socket or a --once state)."""
    names = sorted({p.stem for p in run_dir.glob("*.sock")} | {p.stem for p in run_dir.glob("*.json")}) \
        if run_dir.is_dir() else []
    if len(names) == 1:
        return names[0]
    if not names:
        from ..io.control import NotRunning
        raise NotRunning("no qcm connection is running (nothing in %s)" % run_dir)
    raise UsageError("several connections (%s): say which with -i" % ", ".join(names))
