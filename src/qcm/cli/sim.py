"""``qcm sim``: run the simulated modem until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, List

from ..errors import UsageError
from .options import integer

MAX_MODULES = 64           # the address pools step through 100.64.0.0/10 a /16 at a time

# Command-line options that set one scenario key each (option -> key).
_KEY_OPTIONS = [
    ("--model", "model"), ("--manufacturer", "manufacturer"), ("--revision", "revision"), ("--imei", "imei"),
    ("--usb", "usb"), ("--sim-state", "sim"), ("--pin", "pin"), ("--mode", "mode"), ("--cfun", "cfun"),
    ("--registration", "registration"), ("--register-after", "register_after_s"), ("--mcc", "mcc"),
    ("--mnc", "mnc"), ("--rat", "rat"), ("--operator", "operator"), ("--latency-ms", "latency_ms"),
    ("--data-format", "data_format"), ("--aggregation", "aggregation"),
]


# What ``qcm sim ctl DIR COMMAND`` takes (tests/unit/test_cli_help.py checks it against the simulator's
# FAULTS, so that a new fault cannot be missing here).
CTL_COMMANDS = [
    ("status", "", "the module's state: SIM, registration, calls, clients, data path counters"),
    ("drop", "[reason=NAME] [family=4|6]", "the network ends the calls (a WDS call-end reason name)"),
    ("deregister", "[seconds=N]", "the network drops the module (for N s)"),
    ("register", "", "the network lets it back"),
    ("reset", "[seconds=N]", "control port, interface and sysfs device vanish and come back after N s (2)"),
    ("mute", "[seconds=N]", "the module stops answering (for N s)"),
    ("unmute", "", "it answers again"),
    ("garbage", "[bytes=N]", "junk on the control port"),
    ("sim-remove", "", "the SIM is pulled out"),
    ("sim-insert", "", "and put back"),
    ("signal", "[rsrp=N] [rsrq=N] [rssi=N] [snr=N]", "new signal readings"),
    ("readdress", "[family=4|6]", "a call gets a new address"),
    ("blackhole", "", "calls stay up but carry nothing until set up again"),
]


def epilog() -> str:
    """qcm sim --help: its ctl commands and scenario keys, besides the usual examples and exit statuses."""
    from dataclasses import fields

    from ..sim.config import SimConfig
    from .help import epilog as common
    keys = sorted([f.name for f in fields(SimConfig) if f.name not in ("apns", "profiles")] + ["cfun"])
    lines = ["ctl commands (qcm sim ctl DIR COMMAND [KEY=VALUE ...] [module=N|all]):"]
    lines += ["  %-11s %-34s %s" % (name, arguments, text) for name, arguments, text in CTL_COMMANDS]
    lines += ["", "scenario keys (a TOML file, --scenario, or --set KEY=VALUE; tables [[apn]], [[profile]]; "
              "meanings in the README):"]
    line = " "
    for key in keys:
        if len(line) + len(key) + 1 > 78:
            lines.append(line)
            line = " "
        line += " " + key
    lines += [line, "", common("qcm sim")]
    return "\n".join(lines)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = epilog()
    parser.add_argument("action", nargs="*", metavar="ctl DIR COMMAND",
                        help="talk to a running simulator: qcm sim ctl DIR status (commands below)")
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
    parser.add_argument("--modules", type=integer(1, MAX_MODULES), default=1, metavar="N",
                        help="simulate N modules in this process (1-%d): USB paths 1-1.2, 1-1.3 ..., control ports "
                        "cdc-wdm0, cdc-wdm1 ..., interfaces wwan0, wwan1 ..., each with its own IMEI, SIM, "
                        "addresses and data path" % MAX_MODULES)
    parser.add_argument("--json", action="store_true", help="qcm sim ctl: print the answer as JSON (as it always "
                        "does; schemas/sim-ctl.schema.json)")


def run(args: argparse.Namespace) -> int:
    if args.action:
        return _ctl(args.action)
    if args.list_scenarios:
        return _list_scenarios()
    if args.dir is None:
        raise UsageError("qcm sim needs --dir DIR (or: qcm sim ctl DIR COMMAND)")
    from ..sim.config import load_scenario, parse_apn_option, scenario_path
    from ..sim.server import check_group, module_overrides, run as serve

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
    path = scenario_path(args.scenario) if args.scenario else None
    config = load_scenario(path, overrides, apns or None)
    more = [load_scenario(path, dict(overrides, **module_overrides(config, index)), apns or None)
            for index in range(1, args.modules)]
    problem = check_group([config, *more]) if more else None
    if problem:
        raise UsageError(problem)
    serve(config, args.dir, args.trace, not args.no_data_path, more, ready=lambda: _exports(args.dir))
    return 0


def _exports(directory: Path) -> None:
    """Once it is ready: the lines that point qcm (and quectel-CM) at this simulator, to paste in a shell."""
    import shlex
    import sys

    root = directory.resolve()
    values = [("QCM_SYSFS", root / "sys"), ("QCM_DEV", root / "dev"), ("QCM_RUN_DIR", root / "run"),
              ("QCM_STATE_DIR", root / "state")]
    sys.stdout.write("# qcm and quectel-CM find the simulated module%s with:\nexport %s\n" % (
        "s" if len(list((root / "sys" / "class" / "net").glob("*"))) > 1 else "",
        " ".join("%s=%s" % (name, shlex.quote(str(value))) for name, value in values)))
    sys.stdout.flush()


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
    json.dump({"schema_version": 1, **reply}, sys.stdout, indent=2)  # schemas/sim-ctl.schema.json
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
