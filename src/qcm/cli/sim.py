"""``qcm sim``: run the simulated modem until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, List

from ..errors import UsageError

# Command-line options that set one scenario key each (option -> key).
_KEY_OPTIONS = [
    ("--model", "model"), ("--manufacturer", "manufacturer"), ("--revision", "revision"), ("--imei", "imei"),
    ("--usb", "usb"), ("--sim-state", "sim"), ("--pin", "pin"), ("--mode", "mode"), ("--cfun", "cfun"),
    ("--registration", "registration"), ("--register-after", "register_after_s"), ("--mcc", "mcc"),
    ("--mnc", "mnc"), ("--rat", "rat"), ("--operator", "operator"), ("--latency-ms", "latency_ms"),
    ("--data-format", "data_format"), ("--aggregation", "aggregation"),
]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="*", metavar="ctl DIR COMMAND",
                        help="talk to a running simulator: qcm sim ctl DIR status")
    parser.add_argument("--dir", type=Path,
                        help="directory for the fake sysfs, /dev links and sim.json (created if missing)")
    parser.add_argument("--scenario", help="TOML scenario file (keys in the README), or the name of one "
                        "shipped with qcm")
    parser.add_argument("--list-scenarios", action="store_true", help="list the scenarios shipped with qcm")
    for option, key in _KEY_OPTIONS:
        parser.add_argument(option, dest="key_" + key, metavar=key.upper(), help="scenario key %s" % key)
    parser.add_argument("--apn", action="append", default=[], metavar="NAME[,auth=pap,user=U,password=P]",
                        help="an APN the network accepts (repeatable; replaces the scenario's)")
    parser.add_argument("--trace", type=Path, metavar="FILE",
                        help="append every frame exchanged, as hex, to FILE (for qcm decode; includes personal data)")
    parser.add_argument("--no-data-path", action="store_true",
                        help="do not create wwan0 (a TUN) and the carrier network (both need root)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="set any scenario key")


def run(args: argparse.Namespace) -> int:
    if args.action:
        return _ctl(args.action)
    if args.list_scenarios:
        return _list_scenarios()
    if args.dir is None:
        raise UsageError("qcm sim needs --dir DIR (or: qcm sim ctl DIR COMMAND)")
    from ..sim.config import load_scenario, parse_apn_option, scenario_path
    from ..sim.server import run as serve

    overrides: Dict[str, Any] = {}
    for _, key in _KEY_OPTIONS:
        value = getattr(args, "key_" + key)
        if value is not None:
            overrides[key] = value
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError("--set %s: expected KEY=VALUE" % item)
        overrides[key.strip()] = value.strip()
    apns = [parse_apn_option(text) for text in args.apn]
    config = load_scenario(scenario_path(args.scenario) if args.scenario else None, overrides, apns or None)
    serve(config, args.dir, args.trace, not args.no_data_path)
    return 0


def _ctl(words: List[str]) -> int:
    import json
    import sys

    from ..io.control import ask

    if len(words) < 3 or words[0] != "ctl":
        raise UsageError("usage: qcm sim ctl DIR COMMAND [KEY=VALUE ...]")
    request: Dict[str, Any] = {"command": words[2]}
    for item in words[3:]:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError("%s: expected KEY=VALUE" % item)
        request[key] = value
    from .options import check_socket_path
    reply = ask(check_socket_path(Path(words[1]) / "ctl.sock"), request)
    json.dump(reply, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if reply.get("ok") else 1


def _list_scenarios() -> int:
    import sys

    from ..sim.config import SCENARIO_DIR, tomllib

    for path in sorted(SCENARIO_DIR.glob("*.toml")):
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
        sys.stdout.write("%-32s %s\n" % (path.stem, data.get("description", "")))
    return 0
