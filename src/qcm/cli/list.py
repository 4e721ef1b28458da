"""``qcm list``: the cellular modules present, how they are bound, and their ports."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def add_root_options(parser: argparse.ArgumentParser) -> None:
    """Where sysfs and /dev are (the environment variables let scripts point at the simulator)."""
    parser.add_argument("--sysfs", type=Path, default=Path(os.environ.get("QCM_SYSFS", "/sys")),
                        help="sysfs root (default /sys, or $QCM_SYSFS)")
    parser.add_argument("--dev", type=Path, default=Path(os.environ.get("QCM_DEV", "/dev")),
                        help="device root (default /dev, or $QCM_DEV)")


def configure(parser: argparse.ArgumentParser) -> None:
    add_root_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from ..discovery import scan

    modems = scan(args.sysfs, args.dev)
    if args.json:
        json.dump([m.to_json() for m in modems], sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif not modems:
        print("no cellular module found under %s" % args.sysfs)
    else:
        for modem in modems:
            print(modem.describe())
    return 0 if modems else 3
