"""``qcm status``: what a running manager knows, from its control socket."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List

from .list import environment_roots

# As qcm connect's --run-dir; read here, so that qcm status does not load the connect command's module.
RUN_DIR = environment_roots()["run_dir"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--interface", help="the connection's interface (default: every connection)")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="default /run/qcm, or $QCM_RUN_DIR")
    parser.add_argument("--json", action="store_true", help="print JSON (schemas/status.schema.json)")


def run(args: argparse.Namespace) -> int:
    from ..connect.control_client import ask_about
    from ..io.control import ControlFailed, interface_name

    if args.interface is not None:
        netdev = interface_name(args.interface)
        path, reply = ask_about(args.run_dir, netdev, {"command": "status"}, timeout=10)
        status = reply.get("status")
        if not reply.get("ok") or not isinstance(status, dict):
            raise ControlFailed("the qcm manager on %s gave no status: %s" % (path, _text(reply.get("error", "?"))))
        statuses = [status]
    else:
        statuses = every_status(args.run_dir)
    if args.json:
        if len(statuses) == 1:  # one connection: its status, as qcm status always printed it
            document: Dict[str, Any] = {"schema_version": 1, **statuses[0]}
        else:
            document = {"schema_version": 1, "connections": statuses}
        json.dump(document, sys.stdout, indent=2)  # schemas/status.schema.json
        sys.stdout.write("\n")
    else:
        sys.stdout.write("\n".join("".join(line + "\n" for line in describe(s)) for s in statuses))
    return 0


def every_status(run_dir: Path) -> List[Dict[str, Any]]:
    """The status of every running connection: each qcm connect's, and every one qcm daemon runs."""
    from ..connect.control_client import daemon_connections, local_connections
    from ..io.control import ControlFailed, NotRunning, ask, socket_path

    statuses: List[Dict[str, Any]] = []
    once = []
    for netdev in local_connections(run_dir):
        path = socket_path(run_dir, netdev)
        if not os.path.lexists(path):
            once.append(netdev)  # a --once state: no manager to ask
            continue
        try:
            reply = ask(path, {"command": "status"}, timeout=10)
        except NotRunning:
            continue  # left by a manager that was killed
        if not reply.get("ok") or not isinstance(reply.get("status"), dict):
            raise ControlFailed("the qcm manager on %s gave no status: %s" % (path, _text(reply.get("error", "?"))))
        statuses.append(reply["status"])
    statuses += daemon_connections(run_dir) or []
    if not statuses:
        if once:
            raise NotRunning("no qcm manager is running; %s connected by qcm connect --once (qcm disconnect -i %s "
                             "ends it)" % (" and ".join(once), once[0]))
        raise NotRunning("no qcm connection is running (nothing in %s)" % run_dir)
    return statuses


def describe(status: Dict[str, Any]) -> List[str]:
    """Status as lines for a terminal; whatever the modem or network named is printed escaped."""
    def get(key: str, default: Any = "") -> str:
        return _text(status.get(key, default))

    title = get("netdev", None) if status.get("netdev") else get("name", "?")
    if status.get("name") and status.get("netdev") and status.get("name") != status.get("netdev"):
        title += " (%s)" % get("name")
    lines = ["%s: %s" % (title, get("state", None))]
    if status.get("model"):
        lines.append("  module: %s %s, firmware %s, IMEI %s" % (get("manufacturer"), get("model"), get("revision"),
                                                              _text(status.get("imei") or "?")))
    lines.append("  SIM: %s" % get("sim", "unknown"))
    registration = status.get("registration")
    if isinstance(registration, dict):
        lines.append("  network: %s" % _text(registration.get("text", registration.get("state"))))
    if status.get("control") or status.get("proxy"):
        lines.append("  control port: %s%s" % (get("control", None) if status.get("control") else "?",
                                              ", %s" % get("proxy") if status.get("proxy") else ""))
    if status.get("parent"):
        lines.append("  PDN links on: %s" % get("parent"))
    bearers: Any = status.get("bearers", status.get("calls"))  # "calls" from managers before PDNs
    for bearer in bearers if isinstance(bearers, list) else []:
        if not isinstance(bearer, dict):
            continue
        name = "IPv%s" % _text(bearer.get("family", "?"))
        if bearer.get("pdn", 1) != 1:
            name = "PDN %s %s" % (_text(bearer.get("pdn")), name)
        where = [_text(bearer["netdev"])] if bearer.get("netdev") else []
        if bearer.get("apn"):
            where.append("APN %s" % _text(bearer["apn"]))
        if where:
            name += " (%s)" % ", ".join(where)
        if bearer.get("state") == "up":
            dns: List[Any] = bearer["dns"] if isinstance(bearer.get("dns"), list) else []
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
