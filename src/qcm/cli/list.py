"""``qcm list``: the cellular modules present, how they are bound, and their ports."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Dict


def environment_roots() -> Dict[str, Path]:
    """sysfs, /dev, the run directory and the state directory: defaults, or $QCM_SYSFS, $QCM_DEV,
    $QCM_RUN_DIR and $QCM_STATE_DIR, which let scripts (and quectel-CM, whose options cannot say
    it) point qcm at the simulator."""
    return {"sysfs": Path(os.environ.get("QCM_SYSFS", "/sys")), "dev": Path(os.environ.get("QCM_DEV", "/dev")),
            "run_dir": Path(os.environ.get("QCM_RUN_DIR", "/run/qcm")),
            "state_dir": Path(os.environ.get("QCM_STATE_DIR", "/var/lib/qcm"))}


def add_root_options(parser: argparse.ArgumentParser) -> None:
    roots = environment_roots()
    parser.add_argument("--sysfs", type=Path, default=roots["sysfs"], help="sysfs root (default /sys, or $QCM_SYSFS)")
    parser.add_argument("--dev", type=Path, default=roots["dev"], help="device root (default /dev, or $QCM_DEV)")


def configure(parser: argparse.ArgumentParser) -> None:
    add_root_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON (schemas/list.schema.json)")


def where_to_look(sysfs: Path) -> str:
    """When no module is found: where qcm looked (and who said so), and how to make it look elsewhere."""
    if os.environ.get("QCM_SYSFS") and Path(os.environ["QCM_SYSFS"]) == Path(sysfs):
        source = "$QCM_SYSFS"
    else:
        source = "the default" if Path(sysfs) == Path("/sys") else "--sysfs"
    return "qcm looked under %s (%s); another tree: --sysfs DIR or QCM_SYSFS=DIR (qcm sim prints the lines for " \
           "its own)" % (sysfs, source)


def run(args: argparse.Namespace) -> int:
    from ..discovery import scan
    from ..printable import printable

    modems = scan(args.sysfs, args.dev)
    if args.json:
        json.dump({"schema_version": 1, "modules": [m.to_json() for m in modems]}, sys.stdout,
                  indent=2)  # schemas/list.schema.json
        sys.stdout.write("\n")
    elif not modems:
        print(printable("no cellular module found; %s" % where_to_look(args.sysfs)))
    else:
        for modem in modems:
            print(printable(modem.describe()))  # USB descriptors are the device's text
    return 0 if modems else 3
