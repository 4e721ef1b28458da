"""``qcm status``: what a running manager knows, from its control socket."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List

from .connect import RUN_DIR, only_connection


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--interface", help="the connection's interface (default: the only one)")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="default /run/qcm, or $QCM_RUN_DIR")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from ..io.control import ask, socket_path

    netdev = args.interface or only_connection(args.run_dir)
    reply = ask(socket_path(args.run_dir, netdev), {"command": "status"}, timeout=10)
    status = reply.get("status", {})
    if args.json:
        json.dump({"schema_version": 1, **status}, sys.stdout, indent=2)  # schemas/status.schema.json
        sys.stdout.write("\n")
    else:
        sys.stdout.write("".join(line + "\n" for line in describe(status)))
    return 0


def describe(status: Dict[str, Any]) -> List[str]:
    lines = ["%s: %s" % (status.get("netdev"), status.get("state"))]
    if status.get("model"):
        lines.append("  module: %s %s, firmware %s, IMEI %s" % (status.get("manufacturer", ""), status.get("model"),
                                                              status.get("revision"), status.get("imei") or "?"))
    lines.append("  SIM: %s" % status.get("sim", "unknown"))
    registration = status.get("registration")
    if registration:
        lines.append("  network: %s" % registration.get("text", registration.get("state")))
    for bearer in status.get("bearers", []):
        name = "IPv%d" % bearer["family"] if bearer.get("pdn", 1) == 1 else "PDN %d IPv%d" % (bearer["pdn"],
                                                                                              bearer["family"])
        if bearer.get("state") == "up":
            lines.append("  %s: up %s gateway %s dns %s" % (name, bearer["address"], bearer.get("gateway") or "-",
                                                           ", ".join(bearer.get("dns") or []) or "-"))
        else:
            lines.append("  %s: %s" % (name, bearer.get("state", "down")))
    lines.append("  up for %.0f s, %d reconnect%s" % (status.get("uptime", 0), status.get("reconnects", 0),
                                                      "" if status.get("reconnects") == 1 else "s"))
    if status.get("last_error"):
        lines.append("  last error: %s" % status["last_error"])
    return lines
