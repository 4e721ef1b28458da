"""``qcm connect`` and ``qcm disconnect``."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ..ascii import parse_int
from ..errors import UsageError
from . import secrets
from .list import add_root_options, environment_roots
from .options import METRIC_RANGE, PROFILE_RANGE, check_apn, check_credential, check_pin, file_path, iccid, \
    imei, integer, interface_name, seconds, socket_directory, usb_path

RUN_DIR = environment_roots()["run_dir"]
AUTH_NAMES = {"0": "none", "none": "none", "1": "pap", "pap": "pap", "2": "chap", "chap": "chap",
              "3": "both", "both": "both", "pap-or-chap": "both"}


def add_modem_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    group = parser.add_argument_group("which module")
    group.add_argument("-i", "--interface", type=interface_name, help="the module's network interface (e.g. wwan0)")
    group.add_argument("--control", help="the module's control port (e.g. /dev/cdc-wdm0)")
    group.add_argument("--usb-path", type=usb_path, help="the module's USB path (e.g. 1-1.2)")
    group.add_argument("--imei", type=imei, help="the module's IMEI")
    add_root_options(parser)
    parser.add_argument("--run-dir", type=socket_directory, default=str(RUN_DIR),
                        help="where control sockets and state live (default /run/qcm, or $QCM_RUN_DIR)")
    return group


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="NAME",
                        help="take the connection's settings from /etc/qcm/NAME.toml ($QCM_CONFIG_DIR/NAME.toml; "
                        "or a path): module, APN, secrets, routes, DNS, probes, extra PDNs (keys in man qcm-connect "
                        "and the README); options given on the command line win")
    parser.add_argument("--all", action="store_true",
                        help="connect every module found (now and later), each on its own interface, with these "
                        "options, in one process with one control socket (as qcm daemon does)")
    parser.add_argument("-s", "--apn", nargs="+", metavar="ARG",
                        help="APN [USER PASSWORD [AUTH]]; AUTH: none, pap, chap, both (or 0-3); the user name and "
                        "password are better given as $QCM_APN_USER / $QCM_APN_PASSWORD or in --secrets FILE")
    parser.add_argument("-u", "--user", help="APN user name (visible to every local user: prefer $QCM_APN_USER)")
    parser.add_argument("--password", help="APN password (visible to every local user: prefer $QCM_APN_PASSWORD)")
    parser.add_argument("--auth", choices=sorted(set(AUTH_NAMES)), help="authentication (default: both when a "
                        "password is given, else none)")
    parser.add_argument("-p", "--pin", help="SIM PIN (4 to 8 digits; used once, never retried; visible to every "
                        "local user: prefer $QCM_PIN or --secrets FILE)")
    parser.add_argument("--secrets", metavar="FILE",
                        help="read pin = ..., user = ..., password = ... from FILE (a regular file of root's, "
                        "mode 0600)")
    parser.add_argument("--retry-rejected-pin", action="store_true",
                        help="send the PIN even though this SIM rejected it before (qcm remembers rejected "
                        "PINs per SIM and refuses to spend another try on them)")
    parser.add_argument("-4", dest="ipv4", action="store_true", help="IPv4 (the default)")
    parser.add_argument("-6", dest="ipv6", action="store_true", help="IPv6 (with -4: dual stack)")
    parser.add_argument("-n", "--profile", type=integer(*PROFILE_RANGE), default=1,
                        help="profile index to use (1-255, default 1)")
    parser.add_argument("--keep-profile", action="store_true",
                        help="do not write the APN into the modem's stored profile")
    parser.add_argument("--pdn", action="append", default=[], metavar="N:APN[,OPTION...]",
                        help="a further PDN on the same module, on its own interface (QMAP; repeatable): profile "
                        "N, APN, then ip=ipv4|ipv6|ipv4v6, auth=none|pap|chap|both, user=U, mux=ID (default "
                        "0x80+N), route=NET[+NET...] (networks reached through it), default (it gets the default "
                        "routes instead of the first PDN); its password comes from $QCM_PDN<N>_PASSWORD (and "
                        "its user name may come from $QCM_PDN<N>_USER), never from the command line")
    which = add_modem_options(parser)
    which.add_argument("--iccid", type=iccid, help="the module whose SIM has this ICCID (asked from each module "
                       "present)")
    routes = parser.add_argument_group("host configuration")
    routes.add_argument("--metric", type=integer(*METRIC_RANGE), help="metric of the default routes (default: "
                        "%d, or above any existing default route)" % 700)
    routes.add_argument("--take-default", action="store_true",
                        help="make our default routes preferred over existing ones")
    routes.add_argument("--no-default-route", action="store_true", help="add no default route")
    routes.add_argument("--dns", choices=["auto", "resolved", "resolvconf", "file", "none"], default="auto",
                        help="how to install DNS servers (auto: systemd-resolved when it manages resolv.conf, "
                        "else resolvconf if installed, else the file)")
    routes.add_argument("--resolv-conf", type=file_path, default=Path("/etc/resolv.conf"),
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
    # A probe is one packet, so sub-second intervals are no busy loop (and fast failover wants them); a
    # poll is a round of QMI requests, and 0 would be 28,000 of them in 6 s.
    keep.add_argument("--probe-interval", type=seconds(0.1), default=30.0,
                      help="seconds between probes (at least 0.1, default 30)")
    keep.add_argument("--probe-failures", type=integer(1, 1000), default=3,
                      help="failed probes in a row that count as a drop (default 3)")
    keep.add_argument("--poll-interval", type=seconds(1), default=60.0,
                      help="seconds between safety-net checks of the calls (default 60; indications come first)")
    keep.add_argument("--rebind", action="store_true",
                      help="re-bind the module's USB driver before the first attempt (quectel-CM -r)")
    keep.add_argument("--metrics-file", type=file_path, metavar="FILE",
                      help="write Prometheus metrics to FILE (for node_exporter's textfile collector)")
    share = parser.add_mutually_exclusive_group()
    share.add_argument("--proxy", dest="proxy", action="store_true", default=None,
                       help="go through the protocol's proxy, started if needed (MBIM: libmbim's mbim-proxy; QMI: "
                       "libqmi's qmi-proxy), so that mbimcli -p, qmicli -p and ModemManager can read the modem "
                       "while qcm holds the call (default: through it when it runs; QMI: otherwise qcm serves "
                       "the qmi-proxy socket itself)")
    share.add_argument("--no-proxy", dest="proxy", action="store_false",
                       help="open the control port directly even when a proxy runs, and serve no proxy socket")
    parser.add_argument("--inhibit-modemmanager", action="store_true",
                        help="when ModemManager holds the module, ask it over D-Bus to let go for as long as qcm "
                        "runs (InhibitDevice), instead of stopping with exit 11")
    parser.add_argument("--register-timeout", type=seconds(0), default=60.0,
                        help="seconds to wait for the network (default 60)")
    parser.add_argument("--timeout", type=seconds(0.1), default=10.0,
                        help="seconds to wait for each modem answer (at least 0.1, default 10)")
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
    return check_apn(apn), check_credential(u, "user name"), check_credential(p, "password"), a


HEX = "0123456789abcdefABCDEF"
PDN_IP_TYPES = {"ipv4": (4,), "ipv6": (6,), "ipv4v6": (4, 6), "4": (4,), "6": (6,), "46": (4, 6)}


def parse_pdn(text: str, environ: Mapping[str, str]) -> Any:
    """``--pdn N:APN[,ip=...,auth=...,user=U,mux=ID,route=NET+NET,default]`` as a ``Pdn``. Its password
    is $QCM_PDN<N>_PASSWORD (a password in the option is refused: ps shows arguments to everyone)."""
    from ..backends.base import Pdn

    index_text, colon, rest = text.partition(":")
    index = parse_int(index_text, *PROFILE_RANGE) if colon else None
    items = rest.split(",")
    if index is None or not items[0]:
        raise UsageError("--pdn %s: expected N:APN[,OPTION...] (like 2:corp.example,ip=ipv4v6)" % text[:40])
    values: Dict[str, Any] = {"index": index, "apn": check_apn(items[0])}
    for item in items[1:]:
        key, equals, value = item.partition("=")
        key = key.strip().lower()
        if key == "default" and not equals:
            values["default"] = True
        elif key == "ip" and value.lower() in PDN_IP_TYPES:
            values["families"] = PDN_IP_TYPES[value.lower()]
        elif key == "auth" and value.lower() in AUTH_NAMES:
            values["auth"] = AUTH_NAMES[value.lower()]
        elif key in ("user", "username"):
            values["username"] = check_credential(value, "user name (--pdn %d)" % index)
        elif key == "mux":
            mux = parse_int(value, 1, 254) if not value.lower().startswith("0x") else (
                int(value[2:], 16) if 1 <= len(value) - 2 <= 2 and all(c in HEX for c in value[2:]) else None)
            if mux is None or not 1 <= mux <= 254:
                raise UsageError("--pdn %d: mux=%s is not a QMAP mux id (1-254, or 0x01-0xfe)" % (index, value[:20]))
            values["mux_id"] = mux
        elif key in ("route", "routes"):
            values["routes"] = tuple(_network(n, index) for n in value.split("+") if n)
        elif key in ("password", "pass"):
            raise UsageError("--pdn %d: a password on the command line is visible to every local user (ps)" % index,
                             "give it as $QCM_PDN%d_PASSWORD" % index)
        else:
            raise UsageError("--pdn %d: %r is not an option (ip=ipv4|ipv6|ipv4v6, auth=none|pap|chap|both, user=U, "
                             "mux=ID, route=NET[+NET...], default)" % (index, item[:40]))
    user = environ.get("QCM_PDN%d_USER" % index) or ""
    if "username" not in values and user:
        values["username"] = check_credential(user, "user name ($QCM_PDN%d_USER)" % index)
    password = environ.get("QCM_PDN%d_PASSWORD" % index) or ""
    values["password"] = check_credential(password, "password ($QCM_PDN%d_PASSWORD)" % index)
    return Pdn(**values)


def _network(text: str, index: int) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise UsageError("--pdn %d: route=%s is not a network (like 10.0.0.0/8 or 2001:db8:200::/48)"
                         % (index, text[:40])) from None


def parse_pdns(texts: Sequence[str], first: int, environ: Mapping[str, str]) -> Tuple[Any, ...]:
    """Every --pdn, checked against each other and the first PDN (profile ``first``): distinct profiles
    and mux ids, at most one default."""
    from ..backends.base import mux_id_of

    pdns = tuple(parse_pdn(text, environ) for text in texts)
    indexes = [first] + [p.index for p in pdns]
    if len(set(indexes)) != len(indexes):
        raise UsageError("--pdn: each PDN needs its own profile index (given: %s)" % ", ".join(map(str, indexes)))
    muxes = [mux_id_of(first)] + [p.mux for p in pdns]
    if len(set(muxes)) != len(muxes):
        raise UsageError("--pdn: each PDN needs its own QMAP mux id (given: %s)" % ", ".join("0x%02x" % m for m in muxes))
    if sum(1 for p in pdns if p.default) > 1:
        raise UsageError("--pdn: only one PDN can have the default routes")
    return pdns


def secret_settings(args: argparse.Namespace, user: str, password: str,
                    environ: Optional[Mapping[str, str]] = None) -> secrets.Secrets:
    """PIN, user name and password: from the command line (with a warning: ps shows them), else from
    --secrets FILE, else from the --config file, else from $QCM_PIN, $QCM_APN_USER and $QCM_APN_PASSWORD."""
    given = secrets.Secrets(check_pin(args.pin, "-p"), user or None, password or None)
    secrets.warn_visible(given, "qcm", sys.stderr, ["--secrets FILE", "--config NAME"])
    from_file = secrets.read_file(args.secrets) if args.secrets else secrets.Secrets()
    from_config = getattr(args, "config_secrets", None) or secrets.Secrets()
    return secrets.merge(given, from_file, from_config,
                         secrets.from_environment(os.environ if environ is None else environ))


def defaults(args: argparse.Namespace) -> Dict[str, Any]:
    """--config NAME: the file's settings, as defaults of this command's options (qcm.cli.main parses the
    command line again on top of them, so that what is given there wins)."""
    if not args.config:
        return {}
    from ..config import load
    return config_defaults(load(args.config))


def config_defaults(config: Any) -> Dict[str, Any]:
    """A configuration (qcm.config.Config) as defaults of qcm connect's options."""
    values = {k: v for k, v in config.options.items() if k not in ("ipv4", "ipv6")}
    families = tuple(f for f, key in ((4, "ipv4"), (6, "ipv6")) if config.options.get(key))
    values.update(config_families=families or None, iccid=config.iccid or None, config_name=config.name,
                  config_pdns=tuple(config.pdns),
                  config_secrets=secrets.Secrets(config.secrets.get("pin"), config.secrets.get("user"),
                                                 config.secrets.get("password")))
    return values


def connect_options(args: argparse.Namespace, environ: Optional[Mapping[str, str]] = None) -> Any:
    """What ``qcm connect`` was asked to do, as ConnectOptions (also for each connection of qcm daemon)."""
    from ..connect.options import ConnectOptions, DialPlan, HostOptions
    from ..io.probe import parse_probe

    apn, user, password, auth = parse_apn(args.apn, args.user, args.password, args.auth)
    secret = secret_settings(args, user, password, environ)
    families = tuple(f for f, on in ((4, args.ipv4 or not args.ipv6), (6, args.ipv6)) if on)
    if not (args.ipv4 or args.ipv6) and getattr(args, "config_families", None):
        families = args.config_families  # -4 / -6 on the command line replace the file's ip
    more = parse_pdns(args.pdn, args.profile, os.environ if environ is None else environ)
    if more and args.ip_config == "dhcp":
        raise UsageError("--ip-config dhcp with --pdn: QMAP mux links are raw IP, configured from the modem's "
                         "settings", "leave out --ip-config dhcp")
    if more and args.once:
        raise UsageError("--once with --pdn: not implemented (several PDNs are held by a running qcm)",
                         "run without --once")
    plan = DialPlan(apn=apn, username=secret.user or "", password=secret.password or "", auth=auth, pin=secret.pin,
                    families=families, profile=args.profile, write_profile=not args.keep_profile,
                    register_timeout=args.register_timeout, retry_rejected_pin=args.retry_rejected_pin,
                    mbim_proxy=args.proxy, ip_config=args.ip_config, more_pdns=more, qmi_proxy=args.proxy)
    host = HostOptions(metric=args.metric, take_default=args.take_default, default_route=not args.no_default_route,
                       dns=args.dns, resolv_conf=args.resolv_conf)
    try:
        probes = tuple(parse_probe(text) for text in args.probe)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    config_pdns = getattr(args, "config_pdns", ())
    if config_pdns:  # (the configuration file's reader, and TOML's, only when there is a file)
        from ..config import with_pdns
        plan = with_pdns(plan, config_pdns)
    if args.inhibit_modemmanager and args.once:
        raise UsageError("--inhibit-modemmanager keeps ModemManager away only while qcm runs; with --once it would "
                         "take the module back as qcm exits", "run qcm connect without --once")
    return ConnectOptions(plan=plan, host=host, interface=args.interface, control=args.control,
                          usb_path=args.usb_path, imei=args.imei, sysfs=args.sysfs, dev=args.dev,
                          run_dir=args.run_dir, state_dir=environment_roots()["state_dir"], once=args.once,
                          request_timeout=args.timeout, show_personal=args.show_personal,
                          poll_interval=args.poll_interval, probes=probes, probe_interval=args.probe_interval,
                          probe_failures=args.probe_failures, metrics_file=args.metrics_file,
                          rebind_first=args.rebind, inhibit_modemmanager=args.inhibit_modemmanager)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from ..connect.manager import Manager
    from ..io.notify import Notifier
    from .report import TextReporter

    if args.all:
        from .daemon import run_all
        return run_all(args)
    options = connect_options(args)
    if args.verbose:
        logging.getLogger("qcm.io.qmi_port.trace").setLevel(logging.DEBUG)
        logging.getLogger().setLevel(logging.DEBUG)
    report = TextReporter(show_personal=args.show_personal)

    async def main() -> int:
        chosen = options
        if args.iccid:  # the finder knows interfaces, ports, USB paths and IMEIs: find the SIM's module first
            from dataclasses import replace

            from ..connect.identify import find_by_iccid
            modem = await find_by_iccid(options, args.iccid, report, wait=not options.once)
            chosen = replace(options, usb_path=modem.usb_path)
        return await Manager(chosen, report, Notifier.from_environment()).run()
    return asyncio.run(main())


def configure_disconnect(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--interface", type=interface_name, default=None,
                        help="the connection's interface (default: the only one)")
    parser.add_argument("--run-dir", type=socket_directory, default=str(RUN_DIR),
                        help="default /run/qcm, or $QCM_RUN_DIR")


def run_disconnect(args: argparse.Namespace) -> int:
    import asyncio

    from ..connect.control_client import all_connections, daemon_connections, daemon_socket
    from ..connect.disconnect import disconnect
    from ..errors import QcmError
    from ..io.control import NotRunning, ask, socket_path
    from .report import TextReporter

    netdev = args.interface
    if netdev is None:
        names = all_connections(args.run_dir)
        if not names:
            raise NotRunning("no qcm connection is running (nothing in %s)" % args.run_dir)
        if len(names) > 1:
            raise UsageError("several connections (%s): say which with -i" % ", ".join(names))
        netdev = names[0]
    report = TextReporter()
    if not os.path.lexists(socket_path(args.run_dir, netdev)):  # not a qcm connect of its own: qcm daemon's?
        ours = [s for s in daemon_connections(args.run_dir) or [] if netdev in (s.get("netdev"), s.get("name"))]
        if ours:
            reply = ask(daemon_socket(args.run_dir), {"command": "disconnect", "netdev": netdev}, timeout=40)
            if not reply.get("ok"):
                raise QcmError("qcm daemon refused: %s" % reply.get("error"))
            report(_notice("qcm daemon disconnected %s" % netdev))
            return 0
    return asyncio.run(disconnect(netdev, args.run_dir, report))


def _notice(text: str) -> Any:
    from ..connect.events import Notice
    return Notice(text)

