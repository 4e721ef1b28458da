"""``qcm status``: what a running manager knows, from its control socket."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List

from .connect import RUN_DIR


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--interface", help="the connection's interface (default: the only one)")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="default /run/qcm, or $QCM_RUN_DIR")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from ..io.control import ControlFailed, ask, interface_name, only_connection, socket_path

    netdev = interface_name(args.interface) if args.interface is not None else only_connection(args.run_dir)
    path = socket_path(args.run_dir, netdev)
    reply = ask(path, {"command": "status"}, timeout=10)
    status = reply.get("status")
    if not reply.get("ok") or not isinstance(status, dict):
        raise ControlFailed("the qcm manager on %s gave no status: %s" % (path, _text(reply.get("error", "?"))))
    if args.json:
        json.dump({"schema_version": 1, **status}, sys.stdout, indent=2)  # schemas/status.schema.json
        sys.stdout.write("\n")
    else:
        sys.stdout.write("".join(line + "\n" for line in describe(status)))
    return 0


def describe(status: Dict[str, Any]) -> List[str]:
    """Status as lines for a terminal; whatever the modem or network named is printed escaped."""
    def get(key: str, default: Any = "") -> str:
        return _text(status.get(key, default))

    lines = ["%s: %s" % (get("netdev", None), get("state", None))]
    if status.get("model"):
        lines.append("  module: %s %s, firmware %s, IMEI %s" % (get("manufacturer"), get("model"), get("revision"),
                                                              _text(status.get("imei") or "?")))
    lines.append("  SIM: %s" % get("sim", "unknown"))
    registration = status.get("registration")
    if isinstance(registration, dict):
        lines.append("  network: %s" % _text(registration.get("text", registration.get("state"))))
    bearers = status.get("bearers", status.get("calls"))  # "calls" from managers before PDNs
    for bearer in bearers if isinstance(bearers, list) else []:
        if not isinstance(bearer, dict):
            continue
        name = "IPv%s" % _text(bearer.get("family", "?"))
        if bearer.get("pdn", 1) != 1:
            name = "PDN %s %s" % (_text(bearer.get("pdn")), name)
        if bearer.get("state") == "up":
            dns = bearer.get("dns") if isinstance(bearer.get("dns"), list) else []
            lines.append("  %s: up %s gateway %s dns %s" % (name, _text(bearer.get("address")),
                                                           _text(bearer.get("gateway") or "-"),
                                                           ", ".join(_text(d) for d in dns) or "-"))
        else:
            lines.append("  %s: %s" % (name, _text(bearer.get("state", "down"))))
    uptime, reconnects = status.get("uptime", 0), status.get("reconnects", 0)
    lines.append("  up for %s s, %s reconnect%s" % (
        "%.0f" % uptime if isinstance(uptime, (int, float)) else _text(uptime), _text(reconnects),
        "" if reconnects == 1 else "s"))
    if status.get("last_error"):
        lines.append("  last error: %s" % get("last_error"))
    return lines


def _text(value: Any) -> str:
    """``value`` for a terminal: control characters (escape sequences) shown as \\xNN, not obeyed."""
    text = str(value)
    return "".join(c if c.isprintable() else "\\x%02x" % ord(c) if ord(c) < 256 else "\\u%04x" % ord(c)
                   for c in text)
